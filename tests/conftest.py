import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"


@pytest.fixture(scope="session")
def spark():
    """One real SparkSession for the whole test session."""
    from arkivlm import local_fs
    from arkivlm.spark import get_session

    local_fs.build()  # `make test` built it (make spark-classes); built here where it did not
    session = get_session({"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "2g"}, app_name="arkivlm-tests")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def small_sample(tmp_path_factory):
    from arkivlm.sample.archive import generate

    root = tmp_path_factory.mktemp("sample") / "archive"
    generate(root, seed=7, scale=0.25)
    return root


def snakemake_env() -> dict:
    """The environment of a workflow run: this venv's `python` first on PATH, as `make` has it."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def run_snakemake(workdir: Path, *args: str, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    """Run the repository's workflow from `workdir` (its own .snakemake, results and config)."""
    env = snakemake_env()
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", *args]
    proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def with_repo_tasks(cfg: dict) -> dict:
    """config.yaml's task paths (relative to the repository) made absolute, for a run elsewhere."""
    cfg["evaluate"]["tasks"] = [str(REPO / p) for p in cfg["evaluate"]["tasks"]]
    if cfg.get("sample_archive", {}).get("plant_tasks"):
        cfg["sample_archive"]["plant_tasks"] = str(REPO / cfg["sample_archive"]["plant_tasks"])
    return cfg


def sample_config(archive: Path, results: Path, **overrides) -> dict:
    """config.yaml's sources, pointed at `archive`."""
    import yaml

    cfg = with_repo_tasks(yaml.safe_load((REPO / "config.yaml").read_text()))
    cfg.pop("sample_archive")
    cfg["results"] = str(results)
    for src in cfg["sources"]:
        src["path"] = src["path"].replace("archive/sample", str(archive))
    cfg["spark"] = {"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "2g"}
    cfg.update(overrides)
    return cfg


def write_config(workdir: Path, cfg: dict, name: str = "config.yaml") -> str:
    import yaml

    path = workdir / name
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return str(path)


def e2e_config() -> dict:
    """config.yaml with a small generated sample and tiny models: the whole DAG in a few minutes."""
    import yaml

    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["sample_archive"] = {"path": "archive/sample", "seed": 5, "scale": 0.25, "journal_digital": {"years": [1915]},
                             "plant_tasks": "tasks/sv"}
    with_repo_tasks(cfg)
    cfg["spark"] = {"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "2g"}
    cfg["train"] = TINY_TRAIN
    cfg["split"] = {"validation_fraction": 0.15}
    cfg["tokenizer"] = {"causal": {"vocab_size": 1000}, "masked": {"vocab_size": 1000}}
    cfg["ablation"] = {"mixtures": {"speech_half": {"groups": [{"name": "speech", "where": {"modality": ["transcript"]},
                                                               "weight": 0.5}]}}}  # one seed
    return cfg


TINY_TRAIN = {"max_steps": 12, "batch_size": 4, "block_size": 32, "warmup_steps": 2, "val_every_steps": 6,
              "checkpoint_every_steps": 6, "log_every_steps": 2,
              "model_overrides": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128}}


@pytest.fixture(scope="session")
def full_run(tmp_path_factory):
    """The whole DAG on a small generated sample, through Snakemake, then the ablation target, then
    the report of both."""
    work = tmp_path_factory.mktemp("e2e")
    path = write_config(work, e2e_config())
    run_snakemake(work, "--configfile", path)
    run_snakemake(work, "ablation", "--configfile", path)
    run_snakemake(work, "all", "ablation", "--report", "results/report.html", "--configfile", path)
    return work, path


