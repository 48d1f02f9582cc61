"""The workflow through Snakemake itself: config validation, and end-to-end runs."""

import json

import pandas as pd
import pytest
import yaml

from tests.conftest import REPO, run_snakemake, sample_config
from tests.realworld_srt import write_folder


def write_config(tmp_path, cfg):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return str(path)


def test_misspelled_key_fails_before_any_job_naming_the_key(tmp_path, small_sample):
    cfg = sample_config(small_sample, tmp_path / "results")
    cfg["langid"] = {"treshold": 0.7}
    proc = run_snakemake(tmp_path, "corpus", "--configfile", write_config(tmp_path, cfg), check=False)
    assert proc.returncode != 0
    assert "treshold" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_unknown_format_and_empty_glob_fail_early(tmp_path, small_sample):
    cfg = sample_config(small_sample, tmp_path / "results")
    cfg["sources"][0]["format"] = "pdf"
    proc = run_snakemake(tmp_path, "-n", "--configfile", write_config(tmp_path, cfg), check=False)
    assert proc.returncode != 0 and "pdf" in proc.stdout + proc.stderr
    cfg = sample_config(small_sample, tmp_path / "results")
    cfg["sources"][2]["path"] = str(tmp_path / "nowhere/*.txt")
    proc = run_snakemake(tmp_path, "-n", "--configfile", write_config(tmp_path, cfg), check=False)
    assert proc.returncode != 0 and "sources[2].path" in proc.stdout + proc.stderr


def test_lint_is_clean():
    proc = run_snakemake(REPO, "--lint")
    assert "Congratulations" in proc.stdout + proc.stderr


@pytest.mark.slow
def test_sample_workflow_end_to_end(tmp_path):
    cfg = yaml.safe_load((REPO / "config.yaml").read_text())
    cfg["results"] = "results"
    cfg["sample_archive"] = {"path": "archive/sample", "seed": 5, "scale": 0.25}
    cfg["spark"] = {"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "2g"}
    run_snakemake(tmp_path, "corpus", "--configfile", write_config(tmp_path, cfg))
    res = tmp_path / "results"
    for stage in ("ingest", "clean", "langid", "corpus"):
        st = json.loads((res / "stats" / f"{stage}.json").read_text())
        assert st["docs_in"] == st["docs_out"] + sum(st["dropped"].values())
    train = pd.read_parquet(res / "corpus" / "train")
    assert len(train) > 100 and len(list((res / "corpus" / "validation").glob("*.parquet")))
    assert list((res / "quarantine").glob("*.parquet")) and list((res / "dropped").glob("*/*.parquet"))
    again = run_snakemake(tmp_path, "corpus", "-n", "--configfile", write_config(tmp_path, cfg))
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_thousands_of_real_world_srt_files(tmp_path):
    planted = write_folder(tmp_path / "srt", 2000)
    cfg = {"results": str(tmp_path / "results"),
           "sources": [{"name": "tv", "modality": "subtitle", "format": "srt", "path": str(tmp_path / "srt/**/*.srt"),
                        "rights": "public"}],
           "spark": {"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "2g"}}
    run_snakemake(tmp_path, "corpus", "--configfile", write_config(tmp_path, cfg))
    stats = {s: json.loads((tmp_path / "results/stats" / f"{s}.json").read_text()) for s in ("ingest", "clean", "langid", "corpus")}
    assert stats["ingest"]["files_in"] == planted["files"]
    assert stats["ingest"]["files_quarantined"] == planted["broken"]
    for st in stats.values():
        assert st["docs_in"] == st["docs_out"] + sum(st["dropped"].values())
    corpus = pd.concat([pd.read_parquet(tmp_path / "results/corpus" / s) for s in ("train", "validation")])
    assert len(corpus) == stats["corpus"]["docs_out"] > 1500
    text = corpus.text
    assert not text.str.contains(r"\d\d:\d\d:\d\d|-->|<font|\{\\an|&amp;|\[SKRATT\]|♪", regex=True).any()
    assert not text.str.contains(r"(^|\n)\d+(\n|$)", regex=True).any()
