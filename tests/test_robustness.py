"""Hostile input, clear errors, rerun scope, crash safety and determinism."""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from arkivlm import ingest
from tests import hostile
from tests.conftest import REPO, e2e_config, run_snakemake, snakemake_env, write_config


@pytest.fixture(scope="module")
def hostile_ingest(spark, tmp_path_factory):
    base = tmp_path_factory.mktemp("hostile")
    root, outside = base / "archive", base / "outside"
    root.mkdir(), outside.mkdir()
    expected = hostile.write(root, outside)
    out = base / "results"
    cwd = os.getcwd()
    os.chdir(base)  # a file name that a shell would execute must not create anything here
    try:
        stats = ingest.run(spark, hostile.sources(root), {}, str(out / "docs"), str(out / "quarantine"), str(out / "stats.json"))
    finally:
        os.chdir(cwd)
    return root, base, expected, stats, out


def test_every_hostile_file_is_read_or_quarantined_with_a_reason(hostile_ingest):
    root, _, expected, stats, out = hostile_ingest
    docs = pd.read_parquet(out / "docs")
    quarantine = pd.read_parquet(out / "quarantine")
    read_paths = {str(Path(p).relative_to(root)) for p in docs.path}
    reasons = {str(Path(p).relative_to(root)): r for p, r in zip(quarantine.path, quarantine.reason)}
    for name, (outcome, fragment) in expected.items():
        if outcome == "read":
            assert name in read_paths, (name, reasons.get(name))
        else:
            assert name in reasons and fragment in reasons[name], (name, reasons.get(name))
    assert stats["files_in"] == stats["files_ok"] + stats["files_quarantined"] == len(read_paths) + len(reasons)
    read = [t[:100] for t in docs.text.dropna()] + [" ".join(c)[:100] for c in docs.cues.dropna()]  # cue documents: their cues
    assert not any("loop/" in p for p in docs.path) and "hemlig" not in " ".join(read)


def test_hostile_text_is_kept_exactly(hostile_ingest):
    root, _, _, _, out = hostile_ingest
    docs = pd.read_parquet(out / "docs").set_index("path")
    for name in ("cp1252.txt", "latin1.txt", "utf16_bom.txt"):
        assert docs.loc[str(root / "txt" / name), "text"] == hostile.SWEDISH
    assert len(docs.loc[str(root / "txt" / "one_line_30mb.txt"), "text"].encode()) == 30_000_000
    assert docs.loc[str(root / "srt" / "reversed.srt"), "cues"].tolist() == ["Baklänges tid.", "Sen."]
    assert docs.loc[str(root / "srt" / "reversed.srt"), "text"] is None  # a cue document's text is its cues


def test_file_names_are_never_executed(hostile_ingest):
    root, base, _, _, out = hostile_ingest
    docs = pd.read_parquet(out / "docs")
    assert docs.path.str.contains(r"\$\(touch PWNED\)", regex=True).any()
    assert not list(base.rglob("PWNED*")) and not Path("PWNED").exists()


def test_hostile_names_through_snakemake_shell(tmp_path):
    """Source paths and names reach the shell only quoted: a glob with `$(...)`, `;` and quotes runs."""
    evil = tmp_path / "arkiv $(touch PWNED3); echo x 'q'"
    (evil / "a").mkdir(parents=True)
    (evil / "a" / "doc.txt").write_text(hostile.SWEDISH)
    cfg = {"results": str(tmp_path / "results"), "spark": {"master": "local[2]", "shuffle_partitions": 2},
           "sources": [{"name": "evil", "modality": "text", "format": "txt", "path": str(evil / "**" / "*.txt"), "rights": "public"}]}
    run_snakemake(tmp_path, "ingest", "--configfile", write_config(tmp_path, cfg))
    assert json.loads((tmp_path / "results" / "stats" / "ingest.json").read_text())["files_ok"] == 1
    assert not list(tmp_path.rglob("PWNED3")) and not (REPO / "PWNED3").exists()


# --- clear errors, before any job ------------------------------------------------------------------

def dry_run_error(tmp_path, cfg, env=None):
    import yaml

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
           "--cores", "1", "-n", "--configfile", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env or os.environ.copy(), timeout=300)
    assert proc.returncode != 0
    return proc.stdout + proc.stderr


def good_config(tmp_path):
    (tmp_path / "a").mkdir(exist_ok=True)
    (tmp_path / "a" / "x.txt").write_text("hej")
    return {"results": str(tmp_path / "results"),
            "sources": [{"name": "a", "modality": "text", "format": "txt", "path": str(tmp_path / "a" / "*.txt"), "rights": "public"}]}


def test_missing_java(tmp_path):
    bin_without_java = tmp_path / "bin"
    bin_without_java.mkdir()
    for directory in os.environ["PATH"].split(":"):
        for tool in (Path(directory).iterdir() if Path(directory).is_dir() else []):
            target = bin_without_java / tool.name
            if not tool.name.startswith("java") and not target.exists():
                target.symlink_to(tool)
    env = {k: v for k, v in os.environ.items() if k != "JAVA_HOME"}
    env["PATH"] = f"{Path(sys.executable).parent}:{bin_without_java}"
    out = dry_run_error(tmp_path, good_config(tmp_path), env)
    assert "Spark needs Java 17" in out and "apt-get install openjdk-17-jre-headless" in out


def test_glob_matching_nothing(tmp_path):
    cfg = good_config(tmp_path)
    cfg["sources"][0]["path"] = str(tmp_path / "a" / "*.srt")
    assert "sources[0].path" in dry_run_error(tmp_path, cfg)


def test_unknown_format(tmp_path):
    cfg = good_config(tmp_path)
    cfg["sources"][0]["format"] = "docx"
    out = dry_run_error(tmp_path, cfg)
    assert "docx" in out and "format" in out


def test_unknown_driver_jit(tmp_path):
    cfg = good_config(tmp_path)
    cfg["spark"] = {"driver_jit": "c2"}
    out = dry_run_error(tmp_path, cfg)
    assert "driver_jit" in out and "c2" in out


def test_unknown_local_fs_permissions(tmp_path):
    cfg = good_config(tmp_path)
    cfg["spark"] = {"local_fs_permissions": "posix"}
    out = dry_run_error(tmp_path, cfg)
    assert "local_fs_permissions" in out and "posix" in out


def test_preset_of_the_other_family(tmp_path):
    cfg = good_config(tmp_path)
    cfg["models"] = [{"name": "bert_huge", "type": "masked", "preset": "7b"}]
    out = dry_run_error(tmp_path, cfg)
    assert "models[0].preset" in out and "1b" in out


def test_package_members_on_a_warc_source(tmp_path):
    cfg = good_config(tmp_path)
    (tmp_path / "a" / "crawl.warc.gz").write_bytes(b"")
    cfg["sources"][0].update(format="warc", path=str(tmp_path / "a" / "*.warc.gz"), package_members="**/*.warc")
    assert "sources[0].package_members" in dry_run_error(tmp_path, cfg)


@pytest.mark.parametrize("results", ["file/results", "/proc/arkivlm-results"])
def test_unwritable_results(tmp_path, results):
    (tmp_path / "file").write_text("not a directory")
    cfg = good_config(tmp_path)
    cfg["results"] = str(tmp_path / results) if not results.startswith("/") else results
    assert "config key results" in dry_run_error(tmp_path, cfg)


# --- rerun scope -----------------------------------------------------------------------------------

def planned_jobs(proc) -> set[str]:
    out = proc.stdout + proc.stderr
    return {line.split()[1].rstrip(":") for line in out.splitlines() if line.startswith(("rule ", "localrule "))}


@pytest.mark.slow
def test_changed_threshold_reruns_only_downstream(full_run):
    import yaml

    work, path = full_run
    cfg = yaml.safe_load(Path(path).read_text())
    cfg["quality"] = {"gopher": {"min_words": 60}}
    jobs = planned_jobs(run_snakemake(work, "-n", "--configfile", write_config(work, cfg, "changed.yaml")))
    assert {"filter", "corpus"} <= jobs
    assert not {"ingest", "sample_archive"} & jobs
    cfg = yaml.safe_load(Path(path).read_text())
    cfg["dedup"] = {"min_jaccard": 0.85}
    jobs = planned_jobs(run_snakemake(work, "-n", "--configfile", write_config(work, cfg, "changed_dedup.yaml")))
    assert "corpus" in jobs and not {"ingest", "filter", "sample_archive"} & jobs
    # how Spark runs is not what it computes: more driver memory after an out-of-memory error, other
    # partitions, batches or scratch space rerun nothing
    cfg = yaml.safe_load(Path(path).read_text())
    cfg["spark"] = {**cfg.get("spark", {}), "driver_memory": "3g", "shuffle_partitions": 3, "arrow_batch_mb": 16,
                    "local_dir": str(work / "scratch"), "executor_cores": 4, "master": "local[2]"}
    assert not planned_jobs(run_snakemake(work, "-n", "--configfile", write_config(work, cfg, "changed_spark.yaml")))
    forced = planned_jobs(run_snakemake(work, "-n", "--forcerun", "corpus", "--configfile", path))
    assert "corpus" in forced and "tokenizer" in forced and not {"ingest", "filter"} & forced


# --- crash safety and determinism ------------------------------------------------------------------

def corpus_rows(results: Path) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(results / "corpus" / s).assign(split=s) for s in ("train", "validation")]) \
        .sort_values("id").reset_index(drop=True)


def kill_when(workdir: Path, cfgpath: str, marker: str, extra_delay: float) -> None:
    """Start the workflow and SIGKILL its whole process group once `marker` exists (+ a delay)."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
           "--cores", "2", "corpus", "--rerun-incomplete", "--configfile", cfgpath]
    proc = subprocess.Popen(cmd, cwd=workdir, env=snakemake_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 600
    while not (workdir / marker).exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    time.sleep(extra_delay)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


@pytest.mark.slow
def test_sigkill_mid_stage_then_rerun_gives_the_same_corpus(full_run, tmp_path):
    ref_work, _ = full_run
    rng = random.Random(int(time.time()))
    cfgpath = write_config(tmp_path, e2e_config())
    # Snakemake and its stage killed inside ingest (Spark running), then inside dedup; after each
    # kill the lock it left is removed, as a user would (`--unlock`), and the run resumed.
    kill_when(tmp_path, cfgpath, "results/logs/ingest.log", rng.uniform(4, 9))
    assert not (tmp_path / "results" / "stats" / "corpus.json").exists()
    run_snakemake(tmp_path, "--unlock", "--configfile", cfgpath)
    kill_when(tmp_path, cfgpath, "results/logs/corpus.log", rng.uniform(3, 8))
    assert (tmp_path / "results" / "stats" / "pii.json").exists()  # it got as far as dedup
    run_snakemake(tmp_path, "--unlock", "--configfile", cfgpath)
    run_snakemake(tmp_path, "corpus", "--rerun-incomplete", "--configfile", cfgpath)
    assert corpus_rows(tmp_path / "results").equals(corpus_rows(ref_work / "results"))
    leftovers = [p for p in (tmp_path / "results").rglob(".*tmp-*")]
    assert not leftovers, leftovers


@pytest.mark.slow
def test_pretrain_killed_resumes_from_last_ckpt(full_run, tmp_path):
    """SIGKILL during training; the rerun resumes from last.ckpt and ends at max_steps."""
    import shutil

    ref_work, path = full_run
    for sub in ("packed", "tokenizer", "data_card.md"):
        src = ref_work / "results" / sub
        (shutil.copytree if src.is_dir() else shutil.copyfile)(src, tmp_path / sub)
    model = json.dumps({"name": "gpt", "type": "causal"})
    settings = json.dumps({**e2e_config()["train"], "max_steps": 40, "checkpoint_every_steps": 5})
    cmd = [sys.executable, "-m", "arkivlm", "pretrain", "--model", model, "--settings", settings, "--packed",
           str(tmp_path / "packed" / "causal"), "--tokenizer", str(tmp_path / "tokenizer"), "--out", str(tmp_path / "gpt")]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    last = tmp_path / "gpt" / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while not last.exists() and time.time() < deadline:
        time.sleep(0.1)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    import torch

    step_at_kill = torch.load(last, map_location="cpu", weights_only=False)["global_step"]
    assert 0 < step_at_kill < 40
    subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    summary = json.loads((tmp_path / "gpt" / "train_summary.json").read_text())
    assert summary["steps"] == 40
