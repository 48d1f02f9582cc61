"""Running stages inside a Slurm allocation (MeluXina).

    python -m arkivlm.slurm tasks -- python -m arkivlm pretrain ...
        In a Slurm batch job, run the command as the job's tasks through `srun` (Lightning then
        sees SLURMEnvironment: nodes x tasks-per-node ranks, and the tasks receive the job's
        signals). Anywhere else, run it as it is.

    python -m arkivlm.slurm spark -- python -m arkivlm ingest ...
        With `spark.master: slurm`, inside a batch job: start a Spark standalone master on this
        node and one worker per node of the allocation (`srun --overlap`), with executors sized
        from the node's cores and `spark.worker_memory` (arkivlm.spark.executor_sizing), run the
        stage against it, and tear the cluster down, also when the stage fails. With any other
        master, or outside Slurm, run the command as it is (local[*] stays local[*]).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path


def in_batch_allocation() -> bool:
    return "SLURM_JOB_ID" in os.environ and "SLURM_STEP_ID" not in os.environ


def allocation() -> dict:
    """Nodes, tasks and CPUs of this job, from `scontrol`: Snakemake's Slurm jobstep executor
    hands the rule only SLURM_JOB_ID, not the allocation's other SLURM_* variables."""
    out = subprocess.run(["scontrol", "show", "job", "--oneliner", os.environ["SLURM_JOB_ID"]], capture_output=True,
                         text=True, check=True).stdout
    fields = dict(f.split("=", 1) for f in out.split() if "=" in f)
    nodes, tasks, cpus = int(fields["NumNodes"]), int(fields["NumTasks"]), int(fields["NumCPUs"])
    return {"nodes": nodes, "tasks": tasks, "tasks_per_node": max(1, tasks // nodes), "cpus_per_node": max(1, cpus // nodes)}


def run_tasks(cmd: list[str]) -> int:
    # Always a job step, even for one task: `--signal=SIGUSR1@90` reaches job steps, not the batch shell.
    if in_batch_allocation():
        a = allocation()
        cmd = ["srun", "--kill-on-bad-exit=1", "--export=ALL", f"--nodes={a['nodes']}", f"--ntasks={a['tasks']}",
               f"--ntasks-per-node={a['tasks_per_node']}", *cmd]
    return subprocess.call(cmd)


def spark_home() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent


def wait_for_workers(ui_port: int, expected: int, timeout: float = 180) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=5) as r:
                alive = [w for w in json.load(r).get("workers", []) if w.get("state") == "ALIVE"]
            if len(alive) >= expected:
                return
        except OSError:
            pass
        time.sleep(1)
    raise RuntimeError(f"Spark: {expected} worker(s) did not register with the master within {timeout:.0f}s")


def master_command(host: str, port: int, ui_port: int) -> list[str]:
    return [str(spark_home() / "bin" / "spark-class"), "org.apache.spark.deploy.master.Master", "--host", host,
            "--port", str(port), "--webui-port", str(ui_port)]


def worker_command(url: str, cores: int, memory_mb: int, ui_port: int) -> list[str]:
    return [str(spark_home() / "bin" / "spark-class"), "org.apache.spark.deploy.worker.Worker", url, "--cores", str(cores),
            "--memory", f"{memory_mb}m", "--webui-port", str(ui_port)]


def cluster_env(settings: dict, sizing: dict, url: str) -> dict:
    """The environment of the master, the workers and the stage: the stage's SparkSession connects to
    `url` with the executors sized for the nodes (arkivlm.spark.get_session reads both)."""
    from arkivlm.spark import CONF_ENV, local_dir

    return {**os.environ, "SPARK_HOME": str(spark_home()), "PYSPARK_PYTHON": sys.executable,
            "SPARK_LOCAL_DIRS": local_dir(settings), "ARKIVLM_SPARK_MASTER": url, CONF_ENV: json.dumps(sizing["conf"])}


def stop(procs: list) -> None:
    for p in reversed(procs):
        try:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=30)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def run_spark(cmd: list[str], master: str | None = None, worker_memory: str | None = None, port: int = 7077,
              ui_port: int = 8080) -> int:
    """`master`/`worker_memory` default to the workflow's `spark` section (from the environment)."""
    from arkivlm.spark import executor_sizing, parse_memory_mb, resolve_settings

    settings = resolve_settings({k: v for k, v in (("master", master), ("worker_memory", worker_memory)) if v})
    if settings["master"] != "slurm" or not in_batch_allocation():
        return subprocess.call(cmd)
    host = socket.gethostname()
    a = allocation()
    nodes, cores = a["nodes"], min(a["cpus_per_node"], os.cpu_count() or a["cpus_per_node"])
    sizing = executor_sizing(cores, parse_memory_mb(settings["worker_memory"]), settings)
    url = f"spark://{host}:{port}"
    env = cluster_env(settings, sizing, url)
    procs = []
    try:
        procs.append(subprocess.Popen(master_command(host, port, ui_port), env=env, start_new_session=True))
        procs.append(subprocess.Popen(["srun", "--overlap", f"--nodes={nodes}", "--ntasks-per-node=1", f"--ntasks={nodes}",
                                       "--kill-on-bad-exit=0", *worker_command(url, cores, sizing["worker_memory_mb"], ui_port + 1)],
                                      env=env, start_new_session=True))
        wait_for_workers(ui_port, nodes)
        print(f"arkivlm.slurm: Spark standalone cluster at {url} with {nodes} worker(s) of {cores} cores, "
              f"{sizing['executors_per_node']} executor(s) each: {sizing['conf']}", file=sys.stderr)
        return subprocess.call(cmd, env=env)
    finally:
        stop(procs)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        sys.exit("usage: python -m arkivlm.slurm {tasks|spark} [--master M] [--worker-memory 8g] -- COMMAND ...")
    split = argv.index("--")
    p = argparse.ArgumentParser(prog="python -m arkivlm.slurm")
    p.add_argument("mode", choices=["tasks", "spark"])
    p.add_argument("--master", default=None, help="default: spark.master of the workflow (from the environment)")
    p.add_argument("--worker-memory", default=None, help="default: spark.worker_memory of the workflow")
    args = p.parse_args(argv[:split])
    cmd = argv[split + 1:]
    sys.exit(run_tasks(cmd) if args.mode == "tasks" else run_spark(cmd, args.master, args.worker_memory))


if __name__ == "__main__":
    main()
