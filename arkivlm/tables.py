"""Schemas of the tables that pass between stages, and the one way a stage ends.

Every document-level stage produces one DataFrame with a `drop_reason` column (null = kept);
`finish_stage` writes the kept rows, the dropped rows (CONTRACT: id, source, path, stage, reason,
duplicate_of) and the stats, and refuses to finish when the counts do not reconcile.
"""

from __future__ import annotations

import hashlib

DOCUMENT_FIELDS = [
    ("id", "string"), ("source", "string"), ("modality", "string"), ("rights", "string"),
    ("format", "string"), ("path", "string"), ("record", "int"), ("text", "string"),
    ("title", "string"), ("date", "string"), ("page", "int"), ("ocr_conf", "double"),
    ("start_s", "double"), ("end_s", "double"),
]
DOCUMENT_DDL = ", ".join(f"{name} {kind}" for name, kind in DOCUMENT_FIELDS)
DROPPED_COLUMNS = ["id", "source", "modality", "path", "stage", "reason", "detail", "duplicate_of"]


def document_id(source: str, path: str, record: int, content: str) -> str:
    """Stable, content-derived: the same file and text give the same id on every run."""
    h = hashlib.blake2b(digest_size=10)
    for part in (source, path, str(record), content):
        h.update(part.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


INT_COLUMNS = ("record", "page", "lid_paragraphs_removed")


def with_int_columns(pdf):
    """pandas turns nullable int columns into floats on the way through Python; put them back
    so the Arrow batch matches the Spark schema."""
    for col in INT_COLUMNS:
        if col in pdf:
            pdf[col] = pdf[col].astype("Int32")
    return pdf


class StatsMismatch(RuntimeError):
    pass


def stage_stats(stage: str, docs_in: int, reason_counts: dict, **extra) -> dict:
    dropped = {r: int(n) for r, n in sorted((r, n) for r, n in reason_counts.items() if r is not None)}
    docs_out = int(reason_counts.get(None, 0))
    if docs_in != docs_out + sum(dropped.values()):
        raise StatsMismatch(f"{stage}: docs_in {docs_in} != docs_out {docs_out} + dropped {sum(dropped.values())}")
    return {"stage": stage, "docs_in": docs_in, "docs_out": docs_out, "dropped": dropped, **extra}


def finish_stage(df, *, stage: str, docs_in: int, out_docs: str, out_dropped: str, out_stats: str,
                 extra_stats: dict | None = None, drop_columns: tuple[str, ...] = (), sort_output: bool = False,
                 dropped_extra: tuple[str, ...] = ()) -> dict:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from arkivlm.io import write_json, write_parquet

    df = df.persist(StorageLevel.MEMORY_AND_DISK)
    counts = {row["drop_reason"]: row["count"] for row in df.groupBy("drop_reason").count().collect()}
    stats = stage_stats(stage, docs_in, counts, **(extra_stats or {}))
    kept = df.where(F.col("drop_reason").isNull()).drop("drop_reason", "drop_detail", "duplicate_of", *drop_columns)
    if sort_output:
        kept = kept.sortWithinPartitions("id")
    write_parquet(kept, out_docs)
    dropped = df.where(F.col("drop_reason").isNotNull())
    for col in ("drop_detail", "duplicate_of"):
        if col not in dropped.columns:
            dropped = dropped.withColumn(col, F.lit(None).cast("string"))
    write_parquet(
        dropped.select("id", "source", "modality", "path", F.lit(stage).alias("stage"), F.col("drop_reason").alias("reason"),
                       F.col("drop_detail").alias("detail"), "duplicate_of", *dropped_extra).coalesce(1).sortWithinPartitions("id"),
        out_dropped)
    write_json(stats, out_stats)
    df.unpersist()
    return stats
