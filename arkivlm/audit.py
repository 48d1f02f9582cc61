"""Examples a person can read: per stage and reason, a few dropped documents (and removed lines)
next to kept documents of the same source, so a reviewer can judge a filter's precision.

The examples ride on aggregations the stages run anyway (`finish_stage`'s count per reason and
decade, the lines stage's count per source and reason): within each group a few hash buckets of
the id each give the row with the smallest hash (`min_by`), so no extra Spark job is needed, the
same examples come back on every run, and the driver holds a bounded number of rows whatever the
size of the archive (groups x buckets, never documents).
"""

from __future__ import annotations

EXCERPT_CHARS = 600
BUCKETS = 3


def bucket_column():
    from pyspark.sql import functions as F

    return F.pmod(F.xxhash64("id"), F.lit(BUCKETS)).alias("_bucket")


def excerpt(column):
    """The first EXCERPT_CHARS characters of a string column ("" for null). Spark's substring counts
    a string's characters to its end, a pass over every document's whole text in each stage's
    stats; the first EXCERPT_CHARS characters lie within its first 4 x EXCERPT_CHARS bytes of
    UTF-8, so only those are cut out as bytes and counted."""
    from pyspark.sql import functions as F

    head = F.substring(F.coalesce(column, F.lit("")).cast("binary"), 1, 4 * EXCERPT_CHARS).cast("string")
    return F.substring(head, 1, EXCERPT_CHARS)


def example_column(*fields: str):
    """The row of the group with the smallest id hash, as a struct of `fields` (text as an excerpt)."""
    from pyspark.sql import functions as F

    cols = [excerpt(F.col(f)).alias(f) if f == "text" else F.col(f)
            for f in fields]
    return F.min_by(F.struct(*cols), F.xxhash64("id")).alias("_example")


def collect(rows, per_group: int, key) -> dict:
    """{key: [example, ...]} from aggregated rows, at most `per_group` each, in id order."""
    out: dict = {}
    for r in rows:
        if r["_example"] is not None:
            out.setdefault(key(r), []).append(r["_example"].asDict())
    return {k: sorted(v, key=lambda e: e["id"])[:per_group] for k, v in sorted(out.items())}


WITHHELD = {"rights_not_released": "(text withheld: the source's rights are not released)"}


def document(stage: str, dropped: dict, kept: dict, removed_lines: dict | None = None) -> dict:
    """The audit file of a stage; `kept` is reduced to the sources that have examples. Documents
    held back for their rights never show their text, not even in the report."""
    for reason, note in WITHHELD.items():
        for example in dropped.get(reason, []):
            example["text"] = note
    sources = {e["source"] for v in dropped.values() for e in v} | \
        {e["source"] for v in (removed_lines or {}).values() for e in v}
    return {"stage": stage, "dropped": dropped, "removed_lines": removed_lines or {},
            "kept": {s: v[:2] for s, v in kept.items() if s in sources}}
