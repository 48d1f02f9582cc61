"""Decontamination (arkivlm.decontaminate) in a real SparkSession: task items copied verbatim, in
other case and punctuation, or embedded in a longer document are found; a document that only
shares common phrases is kept; both actions; the counts reconcile."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from arkivlm import decontaminate as D

REPO = Path(__file__).resolve().parents[1]
FILLER = ("Vädret i går var kallt och blåsigt längs hela kusten, men på eftermiddagen sken solen över staden. "
          "Många människor tog tillfället i akt att promenera i parken, där de första blommorna redan syntes. ") * 3


def bundled(name: str) -> list[dict]:
    return [json.loads(x) for x in (REPO / "tasks" / "sv" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def items():
    pairs, cloze = bundled("sv_word_order"), bundled("sv_cloze")
    task_texts = {"sv_word_order": [t for p in pairs for t in (p["good"], p["bad"])],
                  "sv_cloze": [f"{c['context']} {ch}" for c in cloze for ch in c["choices"]]}
    return pairs, cloze, task_texts


def documents(pairs, cloze) -> dict[str, str]:
    whole = f"{cloze[0]['context']} {cloze[0]['choices'][cloze[0]['answer']]}"
    phrases = [" ".join(p["good"].split()[:5]) for p in pairs[10:16]]  # five words each: a shared phrase, no copy
    return {
        "verbatim": whole,
        "case_punctuation": pairs[1]["good"].upper().replace(",", "").replace(".", " !"),
        "embedded": FILLER + pairs[2]["good"] + " " + FILLER,
        "near_miss": FILLER + " ".join(f"{p} och sedan inget mer." for p in phrases),
        "clean": FILLER,
        "two_tasks": pairs[3]["good"] + "\n" + f"{cloze[4]['context']} {cloze[4]['choices'][cloze[4]['answer']]}",
    }


def write_docs(spark, texts: dict[str, str], path: Path) -> str:
    from arkivlm.tables import DOCUMENT_DDL

    rows = [{"id": f"doc-{name}", "source": "bocker", "modality": "text", "rights": "public", "format": "txt",
             "path": f"bocker/{name}.txt", "text": text} for name, text in texts.items()]
    df = spark.createDataFrame(pd.DataFrame(rows)[[c for c in ("id", "source", "modality", "rights", "format", "path", "text")]])
    full = df.selectExpr(*[f"CAST({c} AS {t})" if c in df.columns else f"CAST(NULL AS {t}) AS {c}"
                           for c, t in (f.split() for f in DOCUMENT_DDL.split(", "))])
    full.write.parquet(str(path))
    return str(path)


def run_stage(spark, tmp_path, texts, task_texts, **settings):
    docs = write_docs(spark, texts, tmp_path / "in")
    tt = tmp_path / "task_texts.jsonl"
    D.write_task_texts(task_texts, str(tt))
    stats = D.run(spark, settings, str(tt), docs, str(tmp_path / "out"), str(tmp_path / "dropped"),
                  str(tmp_path / "stats.json"))
    kept = pd.read_parquet(D.output_table(str(tmp_path / "out"))).set_index("id")
    dropped = pd.read_parquet(tmp_path / "dropped").set_index("id")
    assert stats == json.loads((tmp_path / "stats.json").read_text())
    assert stats["docs_in"] == stats["docs_out"] + sum(stats["dropped"].values()) == len(texts)
    assert len(kept) == stats["docs_out"] and len(dropped) == sum(stats["dropped"].values())
    return stats, kept, dropped


def test_copies_in_any_case_punctuation_or_context_are_dropped_and_shared_phrases_kept(spark, tmp_path, items):
    pairs, cloze, task_texts = items
    stats, kept, dropped = run_stage(spark, tmp_path, documents(pairs, cloze), task_texts)
    assert set(dropped.index) == {"doc-verbatim", "doc-case_punctuation", "doc-embedded", "doc-two_tasks"}
    assert set(kept.index) == {"doc-near_miss", "doc-clean"}
    assert dropped.loc["doc-verbatim", "reason"] == "contains:sv_cloze"
    assert dropped.loc["doc-embedded", "reason"] == "contains:sv_word_order"
    assert dropped.loc["doc-two_tasks", "detail"] == "sv_cloze,sv_word_order"
    assert set(dropped["stage"]) == {"decontaminate"}
    assert stats["dropped"] == {"contains:sv_cloze": 2, "contains:sv_word_order": 2}
    assert stats["tasks"]["sv_word_order"]["docs"] == 3 and stats["tasks"]["sv_cloze"]["docs"] == 2
    assert stats["tasks"]["sv_cloze"]["texts"] == 4 * len(cloze)
    assert kept.loc["doc-near_miss", "text"] == documents(pairs, cloze)["near_miss"]


def test_remove_spans_cuts_the_overlap_and_keeps_the_rest(spark, tmp_path, items):
    pairs, cloze, task_texts = items
    texts = documents(pairs, cloze)
    stats, kept, dropped = run_stage(spark, tmp_path, texts, task_texts, action="remove_spans")
    assert set(dropped.index) == {"doc-verbatim", "doc-case_punctuation", "doc-two_tasks"}  # nothing left of them
    embedded = kept.loc["doc-embedded", "text"]
    assert pairs[2]["good"].rstrip(".") not in embedded and "Vädret i går" in embedded
    assert len(embedded) < len(texts["embedded"]) - len(pairs[2]["good"]) + 5
    assert stats["docs_cut"] == 1 and stats["chars_removed"] >= len(pairs[2]["good"]) - 1
    assert kept.loc["doc-clean", "text"] == texts["clean"]


def test_short_items_match_whole_and_items_under_min_words_are_counted_not_matched(spark, tmp_path):
    task_texts = {"short": ["Nio ord långa meningen om kungens resa till Paris", "För kort mening här"]}
    texts = {"nine": "I går stod det att läsa: nio ord långa meningen om kungens resa till Paris, sade han.",
             "four": FILLER + "För kort mening här.", "other": FILLER}
    stats, _kept, dropped = run_stage(spark, tmp_path, texts, task_texts)
    assert list(dropped.index) == ["doc-nine"]
    assert stats["tasks"]["short"] == {"texts": 2, "texts_too_short": 1, "ngrams": 1, "docs": 1}


def test_without_tasks_every_document_passes_unchanged_and_is_not_copied(spark, tmp_path):
    texts = {"a": FILLER, "b": "Ett annat dokument om vädret."}
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "part-stale.parquet").write_text("a table of an earlier run")
    stats, kept, _dropped = run_stage(spark, tmp_path, texts, {})
    assert stats["dropped"] == {} and stats["tasks"] == {} and stats["unchanged"] and kept.loc["doc-b", "text"] == texts["b"]
    assert [p.name for p in (tmp_path / "out").iterdir()] == [D.UNCHANGED_MARKER]  # the split reads the input
    assert D.output_table(str(tmp_path / "out")) == str((tmp_path / "in").resolve())


def test_ngram_hashes_ignore_case_and_punctuation():
    hasher = D.WordHashes()
    a = D.ngram_hashes(hasher(D.words("Han gick hem, och sedan åt han.")[0]), 3)
    b = D.ngram_hashes(hasher(D.words("HAN GICK HEM OCH SEDAN ÅT HAN")[0]), 3)
    assert len(a) == 5 and (a == b).all() and len(set(a.tolist())) == 5
    assert not set(D.ngram_hashes(hasher(D.words("han gick hem")[0]), 2).tolist()) & set(a.tolist())


def test_cut_spans_merges_overlaps_and_closes_the_gap():
    text = "Ett två tre fyra fem sex sju"
    assert D.cut_spans(text, [(4, 11), (8, 16)]) == ("Ett fem sex sju", 12)
    assert D.cut_spans("rad ett\nrad två", [(4, 11)]) == ("rad\ntvå", 7)
