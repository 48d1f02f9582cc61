"""The sbatch options profiles/meluxina produces, rendered by the real Snakemake Slurm executor
plugin against stand-ins for sbatch/squeue/sacctmgr that record what they are asked."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.conftest import REPO

FAKE = {
    "sbatch": 'echo "$@" >> "$ARKIVLM_SBATCH_LOG"; echo $((RANDOM + 1000))',
    "squeue": "exit 0",
    "sacctmgr": "echo p200123",
    "sshare": "echo p200123",
    "sinfo": "exit 0",
    "scontrol": "exit 0",
}


def fake_slurm(bin_dir: Path) -> Path:
    """`bin_dir` holding the stand-ins of FAKE, to put first on PATH."""
    bin_dir.mkdir()
    for name, body in FAKE.items():
        (bin_dir / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
        (bin_dir / name).chmod(0o755)
    return bin_dir


def render(tmp_path: Path, rules=("ingest", "pretrain_model"), targets=("ingest", "results/models/gpt_big/train_summary.json"),
           extra_config=None, existing_dirs=(), min_jobs=2, models=None) -> list[str]:
    """The sbatch command lines of the first round of jobs the profile submits for `targets`."""
    bin_dir = fake_slurm(tmp_path / "bin")
    (tmp_path / "archive").mkdir()
    (tmp_path / "archive" / "a.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nHej\n")
    cfg = {"results": "results", "spark": {"nodes": 4}, **(extra_config or {}),
           "sources": [{"name": "tv", "modality": "subtitle", "format": "srt", "path": "archive/*.srt", "rights": "public"}],
           "models": models or [{"name": "gpt_big", "type": "causal", "preset": "125m", "train": {"num_nodes": 16}}]}
    # the pretraining job's inputs exist, so it is submitted in the same round as ingest
    res = tmp_path / "results"
    (res / "packed" / "causal").mkdir(parents=True)
    (res / "tokenizer").mkdir()
    (res / "tokenizer" / "tokenizer.json").write_text("{}")
    (res / "data_card.md").write_text("# Data card")
    (res / "mixture").mkdir()
    for model in models or [{"name": "gpt_big"}]:
        (res / "mixture" / f"{model['name']}.plan.json").write_text("{}")
    for d in existing_dirs:
        (res / d).mkdir(parents=True, exist_ok=True)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    log = tmp_path / "sbatch.log"
    env = {**os.environ, "PATH": f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}", "ARKIVLM_SBATCH_LOG": str(log),
           "MELUXINA_ACCOUNT": "p200123", "MELUXINA_QOS": "default"}
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--profile", str(REPO / "profiles" / "meluxina"),
           "--directory", str(tmp_path), "--configfile", str(tmp_path / "c.yaml"), "--rerun-triggers", "mtime",
           "--allowed-rules", *rules, "--", *targets]
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) >= min_jobs:
            break
        time.sleep(0.5)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    out = proc.communicate(timeout=60)[0]
    lines = log.read_text().splitlines() if log.exists() else []
    assert len(lines) >= min_jobs, out[-4000:]
    return lines


def by_rule(lines: list[str]) -> dict[str, str]:
    return {re.search(r"--comment rule_([a-z_]+?)(?:_wildcards\S*)? ", line).group(1): line for line in lines}


def test_sixteen_node_pretraining_and_four_node_spark_stage(tmp_path):
    sb = by_rule(render(tmp_path))
    pre, spark = sb["pretrain_model"], sb["ingest"]
    # every job: the project account and QoS from the environment
    for line in (pre, spark):
        assert "-A p200123" in line and "--qos=default" in line and "--hint=nomultithread" in line and "--exclusive" in line
    # pretraining: gpu partition, 16 whole nodes, 4 tasks per node (one per A100), 16 CPUs each, SIGUSR1 90 s before the end
    assert "-p gpu" in pre and "--nodes=16" in pre and "--ntasks-per-node=4" in pre
    assert "--gres=gpu:4" in pre and "--cpus-per-task=16" in pre and "--signal=SIGUSR1@90" in pre
    assert "-t 1440" in pre  # the 125m preset's job time (profiles/meluxina/workflow.yaml, pretrain_jobs)
    # Spark stage: cpu partition, 4 whole nodes of 2 x 64 cores
    assert "-p cpu" in spark and "--nodes=4" in spark and "--ntasks-per-node=2" in spark and "--cpus-per-task=64" in spark
    assert "--gres" not in spark and "--mem 480000" in spark


def test_the_users_config_wins_over_the_profile(tmp_path):
    """profiles/meluxina/workflow.yaml gives defaults (4 Spark nodes, 4 GPU nodes per model); a
    user's spark.nodes and train.num_nodes are never replaced by them."""
    sb = by_rule(render(tmp_path, extra_config={"spark": {"nodes": 2}, "train": {"num_nodes": 3}},
                        models=[{"name": "gpt_big", "type": "causal", "preset": "125m"}]))
    assert "--nodes=2" in sb["ingest"], sb["ingest"]
    assert "--nodes=3" in sb["pretrain_model"] and "--ntasks-per-node=4" in sb["pretrain_model"], sb["pretrain_model"]


def test_training_tasks_follow_the_devices_setting(tmp_path):
    """Lightning under Slurm needs as many tasks per node as `devices`: one device, one task (sbatch's
    default for --nodes without a task count; the Slurm plugin refuses an MPI job of one task per
    node), not a GPU node's four."""
    sb = by_rule(render(tmp_path, models=[{"name": "gpt_big", "type": "causal", "preset": "125m",
                                           "train": {"num_nodes": 2, "devices": 1}}]))
    line = sb["pretrain_model"]
    assert "--nodes=2" in line and "--ntasks" not in line and "--gres=gpu:4" in line, line


def test_preset_jobs_are_sized_by_the_profile(tmp_path):
    """A 7b model without a node count of its own: the profile's 16 GPU nodes and 48 h for the
    preset, and the FSDP settings the preset needs reach the training command."""
    sb = by_rule(render(tmp_path, models=[{"name": "gpt_big", "type": "causal", "preset": "7b"}]))
    line = sb["pretrain_model"]
    assert "--nodes=16" in line and "--ntasks-per-node=4" in line and "-t 2880" in line, line


def test_ablation_variants_train_in_parallel_gpu_jobs(tmp_path):
    """`snakemake ablation` on MeluXina: every variant's model is its own GPU job, all submitted at once."""
    variants = ["full", "unfiltered", "no_langid", "no_quality", "no_lines", "no_dedup"]
    lines = render(tmp_path, rules=("ablation_pretrain",),
                   targets=[f"results/ablation/models/{v}/seed_7/train_summary.json" for v in variants],
                   extra_config={"ablation": {"train": {"num_nodes": 2}, "seeds": [7]}},
                   existing_dirs=[f"ablation/data/{v}" for v in variants], min_jobs=len(variants))
    assert len(lines) == len(variants)
    for v in variants:
        line = next(l for l in lines if f"--comment rule_ablation_pretrain_wildcards_{v}_7 " in l)
        assert "-p gpu" in line and "--gres=gpu:4" in line and "--nodes=2" in line and "--ntasks-per-node=4" in line
        assert "--signal=SIGUSR1@90" in line and "-A p200123" in line
