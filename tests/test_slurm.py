"""The MeluXina profile against a real single-node Slurm (tests/slurm/start_slurm.sh, started by
`make test` / `make slurm-test` as root): the sample workflow end to end, and a training job that
runs out of time, checkpoints on SIGUSR1, is requeued and finishes."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, e2e_config, snakemake_env

pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    os.environ.get("ARKIVLM_SLURM_TEST") != "1",
    reason="needs the test Slurm: run as root through `make test` or `make slurm-test` (ARKIVLM_SLURM_TEST=1)")]

OVERLAYS = "[profiles/meluxina/workflow.yaml, tests/slurm/overlay.yaml]"


def slurm_env():
    return {**snakemake_env(), "MELUXINA_ACCOUNT": "", "MELUXINA_QOS": ""}


def jobs_since(first_id: int) -> list[dict]:
    out = subprocess.run(["scontrol", "show", "job", "--oneliner"], capture_output=True, text=True).stdout
    jobs = []
    for line in out.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if int(fields.get("JobId", 0)) >= first_id:
            jobs.append(fields)
    return jobs


def last_job_id() -> int:
    out = subprocess.run(["squeue", "-h", "--states=all", "-o", "%i"], capture_output=True, text=True).stdout.split()
    return max([int(x) for x in out if x.isdigit()] or [0])


def test_sample_workflow_through_the_meluxina_profile(tmp_path):
    cfg = e2e_config()
    cfg["results"] = "results"
    del cfg["spark"]  # how Spark runs comes from the profile and this machine's overlay (the user's config would win)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    first = last_job_id() + 1
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--profile", str(REPO / "profiles" / "meluxina"),
           "--directory", str(tmp_path), "--configfile", str(tmp_path / "c.yaml"), "--config", f"overlay={OVERLAYS}",
           "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "5", "--latency-wait", "10",
           "--jobs", "4"]
    proc = subprocess.run(cmd, cwd=REPO, env=slurm_env(), capture_output=True, text=True, timeout=1500)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    res = tmp_path / "results"
    assert list((res / "corpus" / "train").glob("*.parquet")) and (res / "eval" / "gpt_tiny" / "metrics.json").exists()
    jobs = jobs_since(first)
    by_partition = {j["Partition"] for j in jobs}
    assert {"cpu", "gpu"} <= by_partition, by_partition
    pretrain = [j for j in jobs if "rule_pretrain_model" in j.get("Comment", "")]
    assert len(pretrain) == 2
    for j in pretrain:
        assert j["Partition"] == "gpu" and j["TresPerNode"] == "gres:gpu:4" and j["NumTasks"] == "2" and j["JobState"] == "COMPLETED"
    spark = [j for j in jobs if "rule_corpus" in j.get("Comment", "")]
    assert spark and spark[0]["Partition"] == "cpu" and spark[0]["JobState"] == "COMPLETED"
    assert "Spark standalone cluster at spark://" in (res / "logs" / "corpus.log").read_text()
    summary = json.loads((res / "models" / "gpt_tiny" / "train_summary.json").read_text())
    assert summary["steps"] == cfg["train"]["max_steps"]


def packed_corpus(root: Path) -> None:
    import random

    import pandas as pd

    from arkivlm import pack, tokenizer
    from arkivlm.sample import text as T

    rng = random.Random(0)
    rows = [{"id": f"{i:04d}", "modality": "text", "text": "\n\n".join(T.article(rng)[1:])} for i in range(300)]
    for split, part in (("train", rows[:280]), ("validation", rows[280:])):
        (root / "corpus" / split).mkdir(parents=True)
        pd.DataFrame(part).to_parquet(root / "corpus" / split / "part-0.parquet")
    tokenizer.train(str(root / "corpus/train"), str(root / "corpus/validation"), str(root / "tokenizer"), str(root / "tok.json"),
                    {"causal": {"vocab_size": 1000}, "masked": {"vocab_size": 1000}})
    pack.run(str(root / "tokenizer/tokenizer.json"), "causal", str(root / "corpus/train"), str(root / "corpus/validation"),
             str(root / "packed"))


def training_job(tmp_path: Path, max_steps: int) -> str:
    """The batch command of a one-rank CPU training run on `packed_corpus(tmp_path)`."""
    model = json.dumps({"name": "gpt", "type": "causal"})
    settings = json.dumps({**e2e_config()["train"], "max_steps": max_steps, "checkpoint_every_steps": 100000,
                           "val_every_steps": 100000, "accelerator": "cpu", "devices": 1, "log_every_steps": 50})
    return (f"{sys.executable} -m arkivlm.slurm tasks -- {sys.executable} -m arkivlm pretrain --model '{model}' "
            f"--settings '{settings}' --packed {tmp_path / 'packed'} --tokenizer {tmp_path / 'tokenizer'} "
            f"--out {tmp_path / 'gpt'}")


def submit_training(tmp_path: Path, inner: str, *options: str) -> str:
    submit = subprocess.run(["sbatch", "--parsable", "-p", "gpu", "--gres=gpu:4", "--nodes=1", "--ntasks-per-node=1",
                             "--cpus-per-task=1", *options, "--requeue", "--open-mode=append", "-o", str(tmp_path / "job.log"),
                             "-D", str(REPO), "--wrap", inner], capture_output=True, text=True, env=slurm_env(), check=True)
    return submit.stdout.strip().split(";")[0]


def job_state(job: str) -> dict:
    out = subprocess.run(["scontrol", "show", "job", "--oneliner", job], capture_output=True, text=True).stdout
    return dict(f.split("=", 1) for f in out.split() if "=" in f)


def wait_for_end(job: str, timeout: float, poll: float) -> dict:
    deadline = time.time() + timeout
    state = {}
    while time.time() < deadline:
        state = job_state(job)
        if state.get("JobState") in ("COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"):
            break
        time.sleep(poll)
    return state


def signal_step(job: str, after_s: float) -> None:
    """SIGUSR1 to the job's steps `after_s` seconds after its training step (job.0) started, as
    Slurm's `--signal=SIGUSR1@90` sends it."""
    deadline = time.time() + 300
    while time.time() < deadline:
        steps = subprocess.run(["squeue", "-h", "-s", "-j", job, "-o", "%i"], capture_output=True, text=True).stdout.split()
        if f"{job}.0" in steps:
            break
        time.sleep(0.2)
    time.sleep(after_s)
    subprocess.run(["scancel", "--signal=USR1", job], check=True)


def test_preempted_training_is_requeued_and_resumes(tmp_path):
    """A run of 9000 steps (about 40 s of training here) gets the requeue signal 20 s into its
    training step: it checkpoints at the next step, is requeued by Slurm and finishes in the next
    run. The test sends the signal itself: Slurm's own `--signal=SIGUSR1@90` is checked about once a
    minute and may come up to 60 s early, so with a short time limit it can open at a run's start
    (a fresh clone once met it there on every run: each requeued run trained one step), and with
    a long one the test would take minutes. The signal at the start of a run and at its exit are
    tested in test_requeue_signal and below. One rank; the multi-rank launch is tested by the
    workflow test."""
    packed_corpus(tmp_path)
    job = submit_training(tmp_path, training_job(tmp_path, 9000), "-t", "10")
    signal_step(job, 20)
    state = wait_for_end(job, 900, 3)
    log = (tmp_path / "job.log").read_text() if (tmp_path / "job.log").exists() else ""
    if state.get("JobState") != "COMPLETED":  # never leave a job requeuing itself behind a failed test
        subprocess.run(["scancel", job])
    assert state.get("JobState") == "COMPLETED", (state, log[-3000:])
    assert int(state["Restarts"]) == 1, state
    import re

    cut_at = [int(n) for n in re.findall(r"pretrain: step (\d+): hpc_ckpt_\d+\.ckpt written", log)]
    assert len(cut_at) == 1 and 0 < cut_at[0] < 9000, cut_at
    summary = json.loads((tmp_path / "gpt" / "train_summary.json").read_text())
    assert summary["steps"] == 9000
    assert list((tmp_path / "gpt" / "checkpoints").glob("hpc_ckpt_*.ckpt"))  # written on SIGUSR1
    versions = sorted((tmp_path / "gpt" / "logs" / "csv").glob("version_*/metrics.csv"))
    assert len(versions) >= 2
    import pandas as pd

    resumed = pd.read_csv(versions[-1]).dropna(subset=["train_loss"])
    assert resumed.step.min() > 0  # the requeued run continued, it did not start over



def test_requeue_signal_in_the_first_second_on_a_loaded_machine_requeues_and_resumes(tmp_path):
    """SIGUSR1 one second after the training step starts, while a CPU burner keeps every core
    busy: Python is still importing. The signal is recorded by `python -m arkivlm`'s first line and
    acted on after the first training step: a checkpoint, `scontrol requeue`, and the requeued run
    (no signal this time) finishes the run."""
    packed_corpus(tmp_path)
    inner = training_job(tmp_path, 200)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(os.cpu_count() or 2)]
    try:
        job = submit_training(tmp_path, inner, "-t", "10")
        signal_step(job, 1)
        state = wait_for_end(job, 1200, 2)
    finally:
        for b in burners:
            b.kill()
    log = (tmp_path / "job.log").read_text() if (tmp_path / "job.log").exists() else ""
    if state.get("JobState") != "COMPLETED":
        subprocess.run(["scancel", job])
    assert state.get("JobState") == "COMPLETED", (state, log[-3000:])
    assert int(state["Restarts"]) == 1, state  # one signal, one requeue
    assert list((tmp_path / "gpt" / "checkpoints").glob("hpc_ckpt_*.ckpt"))
    assert json.loads((tmp_path / "gpt" / "train_summary.json").read_text())["steps"] == 200
