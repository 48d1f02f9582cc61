"""The Spark stages on the generated sample archive, in one real SparkSession."""

import json

import pandas as pd
import pytest

from arkivlm import clean, ingest, langid, split
from tests.conftest import sample_config


@pytest.fixture(scope="module")
def pipeline(spark, small_sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("stages")
    cfg = sample_config(small_sample, out)
    p = {k: str(out / k) for k in ("ingest", "quarantine", "clean", "dropped_clean", "langid", "dropped_langid",
                                    "train", "validation")}
    stats = {
        "ingest": ingest.run(spark, cfg["sources"], {}, p["ingest"], p["quarantine"], str(out / "ingest.json")),
        "clean": clean.run(spark, {}, ["public"], p["ingest"], p["clean"], p["dropped_clean"], str(out / "clean.json")),
        "langid": langid.run(spark, {}, p["clean"], p["langid"], p["dropped_langid"], str(out / "langid.json")),
        "corpus": split.run(spark, {"validation_fraction": 0.2}, p["langid"], p["train"], p["validation"], str(out / "corpus.json")),
    }
    return cfg, p, stats, out


def test_every_file_counted_and_broken_files_quarantined(pipeline, small_sample):
    cfg, p, stats, _ = pipeline
    files = sum(len(ingest.list_source_files(s)) for s in cfg["sources"])
    st = stats["ingest"]
    assert st["files_in"] == files == st["files_ok"] + st["files_quarantined"]
    manifest = json.loads((small_sample / "MANIFEST.json").read_text())["planted"]
    broken = {str(small_sample / rel) for key, rels in manifest.items() if key.startswith("broken_") and key != "broken_jsonl_record"
              for rel in rels}
    q = pd.read_parquet(p["quarantine"])
    assert set(q[q.record.isna()].path) == broken
    assert q.reason.notna().all() and (q.reason.str.len() > 5).all()
    assert st["records_quarantined"] == 1 and q[q.record.notna()].reason.str.contains("invalid JSON").all()


def test_ingest_table_has_metadata_and_stable_ids(pipeline, spark, tmp_path):
    cfg, p, _, _ = pipeline
    docs = pd.read_parquet(p["ingest"])
    assert docs.id.is_unique
    alto = docs[docs.format == "alto"]
    assert alto.ocr_conf.between(0, 1).all() and alto.page.notna().all() and alto.date.notna().all()
    subs = docs[docs.modality == "subtitle"]
    assert (subs.end_s > subs.start_s).all() and subs.cues.notna().all()
    again = tmp_path / "again"
    ingest.run(spark, cfg["sources"], {}, str(again / "docs"), str(again / "q"), str(again / "s.json"))
    assert sorted(pd.read_parquet(again / "docs").id) == sorted(docs.id)


def test_counts_reconcile_at_every_stage(pipeline):
    _, _, stats, out = pipeline
    for name, st in stats.items():
        on_disk = json.loads((out / f"{name}.json").read_text())
        assert on_disk["docs_in"] == on_disk["docs_out"] + sum(on_disk["dropped"].values()), name
    assert stats["clean"]["docs_in"] == stats["ingest"]["docs_out"]
    assert stats["langid"]["docs_in"] == stats["clean"]["docs_out"]
    assert stats["corpus"]["docs_in"] == stats["langid"]["docs_out"]


def test_dropped_tables_follow_the_contract(pipeline):
    _, p, stats, _ = pipeline
    for stage in ("clean", "langid"):
        d = pd.read_parquet(p[f"dropped_{stage}"])
        assert {"id", "source", "path", "stage", "reason", "duplicate_of"} <= set(d.columns)
        assert (d.stage == stage).all() and len(d) == sum(stats[stage]["dropped"].values())
    held = pd.read_parquet(p["dropped_clean"])
    assert set(held[held.reason == "rights_not_released"].source) == {"tidningar_nya"}
    assert stats["clean"]["rights_held_back"] == {"tidningar_nya": int((held.reason == "rights_not_released").sum())}


def test_language_decoys_dropped_and_swedish_kept(pipeline, small_sample):
    _, p, _, _ = pipeline
    manifest = json.loads((small_sample / "MANIFEST.json").read_text())["planted"]
    dropped = pd.read_parquet(p["dropped_langid"])
    by_path = dict(zip(dropped.path, dropped.reason))
    for lang, key in (("da", "danish"), ("no", "norwegian"), ("en", "english")):
        for rel in manifest.get(key, []):
            assert by_path.get(str(small_sample / rel), "").startswith("not_swedish"), rel
    kept = pd.read_parquet(p["langid"])
    mixed = kept[kept.path.isin([str(small_sample / r) for r in manifest.get("swedish_with_danish_ad", [])])]
    assert len(mixed) and (mixed.lid_paragraphs_removed >= 1).all()
    assert (kept.lang_score >= 0.5).all()


def test_corpus_is_clean_text_split_by_id(pipeline):
    _, p, stats, _ = pipeline
    train, val = pd.read_parquet(p["train"]), pd.read_parquet(p["validation"])
    both = pd.concat([train, val])
    assert set(train.id).isdisjoint(val.id) and len(both) == stats["corpus"]["docs_out"]
    assert {"id", "source", "modality", "rights", "path", "text"} <= set(train.columns)
    assert not both.text.str.contains(r"\d\d:\d\d:\d\d[,.]\d\d\d|-->|<i>|<v |\{\\an", regex=True).any()
    assert set(both.rights) == {"public"}
    assert set(val.modality) == {"text", "transcript", "subtitle"}
