"""Decontaminate: documents of the corpus that share a word n-gram with a downstream task's text are
dropped, or have the shared spans cut out, before the train/validation split (docs/decontamination.md).

Words are runs of `\\w` characters, lower-cased, so case and punctuation do not hide a copy. A task
item shorter than `ngram` words is matched as a whole (its own length is the n-gram); items under
`min_words` are too short to tell a copy from a common phrase and are counted, not matched.

Memory is bounded by the tasks, never by the corpus: the driver turns the task texts into a sorted
array of 64-bit n-gram hashes, which every Python worker probes while it streams the corpus, a
batch at a time; only the hits leave the workers, and they are joined in Spark with the table of
(hash, task) to name the task a document overlaps.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np

DEFAULTS = {"tasks": None, "ngram": 13, "min_words": 8, "action": "drop"}
BROADCAST_MATCHES = 2_000_000  # overlapping documents up to which their matches are broadcast (ids and spans: ~100 B each)
WORD = re.compile(r"\w+")
_MULTIPLIER = np.uint64(0x100000001B3)  # FNV-1a's 64-bit prime: the polynomial of the n-gram hash


def settings_with_defaults(settings: dict | None) -> dict:
    return {**DEFAULTS, **(settings or {})}


def words(text: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The lower-cased words of `text` and each one's start and end character."""
    found = list(WORD.finditer(text.lower())) if text else []
    return ([m.group() for m in found], np.fromiter((m.start() for m in found), np.int64, len(found)),
            np.fromiter((m.end() for m in found), np.int64, len(found)))


class WordHashes:
    """64-bit hashes of words (blake2b), remembered: a partition's words repeat (Zipf)."""

    def __init__(self):
        self.known: dict[str, int] = {}

    def __call__(self, ws: list[str]) -> np.ndarray:
        out = np.empty(len(ws), np.uint64)
        known = self.known
        for i, w in enumerate(ws):
            h = known.get(w)
            if h is None:
                h = known[w] = int.from_bytes(hashlib.blake2b(w.encode(), digest_size=8).digest(), "little")
            out[i] = h
        if len(known) > 2_000_000:
            known.clear()
        return out


def ngram_hashes(word_hashes: np.ndarray, n: int) -> np.ndarray:
    """The hash of each run of `n` words (a polynomial of the word hashes, mod 2^64, with `n` mixed in)."""
    count = len(word_hashes) - n + 1
    if count <= 0:
        return np.empty(0, np.uint64)
    h = np.full(count, np.uint64(n), np.uint64)
    with np.errstate(over="ignore"):
        for j in range(n):
            h = h * _MULTIPLIER + word_hashes[j:j + count]
    return h


def task_ngrams(task_texts: dict[str, list[str]], ngram: int, min_words: int) -> tuple[dict, dict, list[int]]:
    """{task: sorted unique n-gram hashes}, per-task counts (texts: every choice of every item; n-grams; texts too short) and the
    n-gram lengths in use (`ngram`, and the lengths of shorter items)."""
    hasher, hashes, counts, lengths = WordHashes(), {}, {}, set()
    for task, texts in sorted(task_texts.items()):
        parts, short = [], 0
        for text in texts:
            ws = words(text)[0]
            if len(ws) < min_words:
                short += 1
                continue
            lengths.add(min(ngram, len(ws)))
            parts.append(ngram_hashes(hasher(ws), min(ngram, len(ws))))
        hashes[task] = np.unique(np.concatenate(parts)) if parts else np.empty(0, np.uint64)
        counts[task] = {"texts": len(texts), "texts_too_short": short, "ngrams": len(hashes[task])}
    return hashes, counts, sorted(lengths)


def read_task_texts(path: str | None) -> dict[str, list[str]]:
    """The task texts file (`python -m arkivlm task-texts`): one JSON object per line, {task, text}."""
    out: dict[str, list[str]] = {}
    if not path:
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                out.setdefault(row["task"], []).append(row["text"])
    return out


def write_task_texts(task_texts: dict[str, list[str]], path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(f"{path}.tmp")
    tmp.write_text("".join(json.dumps({"task": t, "text": x}, ensure_ascii=False) + "\n"
                           for t, texts in sorted(task_texts.items()) for x in texts), encoding="utf-8")
    tmp.replace(path)


def hits_partition(batches, probe: np.ndarray, lengths: list[int]):
    """(id, hash, start, end) of every n-gram of each document whose hash is in `probe` (sorted)."""
    import pandas as pd

    hasher = WordHashes()
    for pdf in batches:
        ids, hs, starts, ends = [], [], [], []
        for doc_id, text in zip(pdf["id"], pdf["text"]):
            ws, first, last = words(text)
            if not ws:
                continue
            wh = hasher(ws)
            for n in lengths:
                h = ngram_hashes(wh, n)
                if not len(h):
                    continue
                at = np.minimum(np.searchsorted(probe, h), len(probe) - 1)
                found = np.flatnonzero(probe[at] == h)
                if len(found):
                    ids += [doc_id] * len(found)
                    hs.append(h[found].view(np.int64))
                    starts.append(first[found])
                    ends.append(last[found + n - 1])
        if ids:
            yield pd.DataFrame({"id": ids, "hash": np.concatenate(hs), "start": np.concatenate(starts),
                                "end": np.concatenate(ends)})


def cut_spans(text: str, spans: list[tuple[int, int]]) -> tuple[str, int]:
    """`text` without the (merged) spans, the cut closed with one space or the line break it held;
    and the characters removed."""
    merged: list[list[int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    pieces, at, removed = [], 0, 0
    for s, e in merged:
        pieces.append(text[at:s].rstrip(" \t"))
        pieces.append("\n" if "\n" in text[s:e] else " ")
        removed += e - s
        at = e
    pieces.append(text[at:].lstrip(" \t"))
    return "".join(pieces).strip(), removed


def cut_partition(batches, action: str):
    """Each document's `drop_reason` (its first task, `contains:<task>`) and, for `remove_spans`, its text
    with the matched spans cut out (dropped only when no word is left). `transform` decides `drop`
    in the JVM with the same result."""
    for pdf in batches:
        reasons, details, texts, removed = [], [], [], []
        for text, tasks, spans in zip(pdf["text"], pdf["_tasks"], pdf["_spans"]):
            if tasks is None or len(tasks) == 0:
                reasons.append(None), details.append(None), texts.append(text), removed.append(0)
                continue
            tasks = sorted(set(tasks))
            detail = ",".join(tasks)
            if action == "remove_spans":
                cut, n = cut_spans(text, [(int(s["start"]), int(s["end"])) for s in spans])
                if WORD.search(cut):
                    reasons.append(None), details.append(None), texts.append(cut), removed.append(n)
                    continue
            reasons.append(f"contains:{tasks[0]}"), details.append(detail), texts.append(text), removed.append(0)
        yield pdf.drop(columns=["_tasks", "_spans"]).assign(text=texts, drop_reason=reasons, drop_detail=details,
                                                            _chars_removed=removed)


def transform(spark, docs, settings: dict, task_texts_path: str | None):
    """`docs` with a `drop_reason` (and, for remove_spans, the spans cut out; `_chars_removed`),
    lazily; and the per-task counts, whose `docs` are filled in when `count_tasks` is called."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F
    from pyspark.sql.types import LongType, StringType, StructField, StructType

    from arkivlm.tables import with_int_columns

    s = settings_with_defaults(settings)
    if s["action"] not in ("drop", "remove_spans"):
        raise ValueError(f"decontamination.action: {s['action']!r} is not drop or remove_spans")
    hashes, per_task, lengths = task_ngrams(read_task_texts(task_texts_path), int(s["ngram"]), int(s["min_words"]))
    probe = np.unique(np.concatenate(list(hashes.values()))) if hashes else np.empty(0, np.uint64)
    if len(probe):
        hit_schema = StructType([StructField("id", StringType()), StructField("hash", LongType()),
                                 StructField("start", LongType()), StructField("end", LongType())])
        broadcast = spark.sparkContext.broadcast(probe)
        hits = docs.select("id", "text").mapInPandas(lambda it: hits_partition(it, broadcast.value, lengths), hit_schema)
        task_table = spark.createDataFrame(
            [(int(h), task) for task, hs in hashes.items() for h in hs.view(np.int64)], "hash long, task string")
        matches = hits.join(F.broadcast(task_table) if len(probe) < 5_000_000 else task_table, "hash") \
            .groupBy("id").agg(F.array_sort(F.collect_set("task")).alias("_tasks"),
                               F.array_sort(F.collect_set(F.struct("start", "end"))).alias("_spans"))
    else:
        matches = spark.createDataFrame([], "id string, _tasks array<string>, _spans array<struct<start:long,end:long>>")
    # the matches are few (one row per overlapping document): kept, counted once, and sent to every
    # task of the final pass, so the documents' text is never shuffled
    matches = matches.persist(StorageLevel.MEMORY_AND_DISK_DESER)
    n_matches = matches.count()
    schema = StructType(docs.schema.fields + [StructField("drop_reason", StringType()),
                                              StructField("drop_detail", StringType()),
                                              StructField("_chars_removed", LongType())])
    joined = docs.join(F.broadcast(matches) if n_matches <= BROADCAST_MATCHES else matches, "id", "left")
    if n_matches and s["action"] == "remove_spans":
        result = joined.mapInPandas(lambda it: (with_int_columns(p) for p in cut_partition(it, s["action"])), schema)
    else:  # drop, or nothing overlaps: decided in the JVM, the text not passed through Python again
        result = joined.select(*docs.columns,
                               F.when(F.col("_tasks").isNotNull(), F.concat(F.lit("contains:"), F.col("_tasks")[0]))
                               .alias("drop_reason"),
                               F.array_join("_tasks", ",").alias("drop_detail"), F.lit(0).cast("long").alias("_chars_removed"))

    def count_tasks() -> dict:
        """Per task: documents overlapping it (a document can overlap several tasks)."""
        if n_matches:
            for row in matches.select(F.explode("_tasks").alias("task")).groupBy("task").count().collect():
                per_task[row["task"]]["docs"] = int(row["count"])
        for counts in per_task.values():
            counts.setdefault("docs", 0)
        return dict(sorted(per_task.items()))

    return result, count_tasks, matches


def kept(spark, docs, settings: dict, task_texts_path: str | None):
    """`docs` as the stage would leave them (the ablation's variants of the corpus)."""
    from pyspark.sql import functions as F

    result, _count, _matches = transform(spark, docs, settings, task_texts_path)
    return result.where(F.col("drop_reason").isNull()).drop("drop_reason", "drop_detail", "_chars_removed")


UNCHANGED_MARKER = "_arkivlm_unchanged.json"  # Spark and Arrow skip files starting with "_"


def output_table(out_docs: str) -> str:
    """The table the next stage reads: `out_docs`, or the stage's input where nothing overlapped."""
    marker = Path(out_docs) / UNCHANGED_MARKER
    return json.loads(marker.read_text())["table"] if marker.exists() else out_docs


def run(spark, settings: dict, task_texts_path: str | None, in_docs: str, out_docs: str, out_dropped: str,
        out_stats: str) -> dict:
    """The stage. Where no document overlaps a task (or there are no tasks), the input is not copied:
    `out_docs` holds only a marker naming it, and `output_table` gives the split that table."""
    import shutil

    from pyspark.sql import functions as F

    from arkivlm.tables import finish_stage

    docs = spark.read.parquet(in_docs)
    docs_in = docs.count()
    s = settings_with_defaults(settings)
    result, count_tasks, matches = transform(spark, docs, s, task_texts_path)
    unchanged = matches.count() == 0
    extra = {"settings": {k: s[k] for k in ("ngram", "min_words", "action")}, "tasks": count_tasks(),
             "unchanged": unchanged}
    stats = finish_stage(result, stage="decontaminate", docs_in=docs_in, out_docs=None if unchanged else out_docs,
                         out_dropped=out_dropped, out_stats=out_stats, extra_stats=extra, drop_columns=("_chars_removed",),
                         sums={"chars_removed": F.col("_chars_removed"),
                               "docs_cut": (F.col("_chars_removed") > 0).cast("long")},
                         sort_output=True, persist=not unchanged)
    if unchanged:
        shutil.rmtree(out_docs, ignore_errors=True)
        Path(out_docs).mkdir(parents=True)
        (Path(out_docs) / UNCHANGED_MARKER).write_text(json.dumps({"table": str(Path(in_docs).resolve())}) + "\n")
    matches.unpersist()
    return stats


def main_task_texts(paths: list[str], out: str) -> dict:
    """Every item's text of the task files `paths` (all splits), for the stage (lm-eval renders them)."""
    from arkivlm.eval_tasks import task_texts

    texts = task_texts(paths) if paths else {}
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_task_texts(texts, out)
    return {task: len(t) for task, t in texts.items()}
