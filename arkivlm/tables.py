"""Schemas of the tables that pass between stages, and the one way a stage ends.

Every document-level stage produces one DataFrame with a `drop_reason` column (null = kept);
`finish_stage` writes the kept rows, the dropped rows (CONTRACT: id, source, path, stage, reason,
duplicate_of) and the stats, and refuses to finish when the counts do not reconcile.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

DOCUMENT_FIELDS = [
    ("id", "string"), ("source", "string"), ("modality", "string"), ("rights", "string"),
    ("format", "string"), ("path", "string"), ("record", "int"), ("text", "string"),
    ("title", "string"), ("date", "string"), ("page", "int"), ("ocr_conf", "double"),
    ("start_s", "double"), ("end_s", "double"), ("ocr", "boolean"), ("url", "string"),
]
DOCUMENT_DDL = ", ".join(f"{name} {kind}" for name, kind in DOCUMENT_FIELDS)
DROPPED_COLUMNS = ["id", "source", "modality", "path", "stage", "reason", "detail", "duplicate_of"]


def empty_if_null(column: str, kind: str):
    """`column` (an array of `kind`) with an empty array where it is null, for a column that goes to a
    Python worker: Spark measures an Arrow batch for Python after every row, and measuring a list
    column fills its offsets from its last non-null row, so a run of null arrays costs the square
    of its length (a tenth of the JVM's time in the filter application on the newsreels)."""
    from pyspark.sql import functions as F

    return F.coalesce(F.col(column), F.array().cast(kind)).alias(column)


def null_if_empty(column: str):
    """`empty_if_null` undone: null where the array is empty."""
    from pyspark.sql import functions as F

    return F.when(F.size(F.col(column)) > 0, F.col(column)).alias(column)


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


def decade_column():
    """The decade of a document's ISO `date` (e.g. "1910s"), "undated" where it has none."""
    from pyspark.sql import functions as F

    year = F.substring(F.col("date"), 1, 4)
    return F.when(year.rlike("^[0-9]{4}$"), F.concat(F.substring(year, 1, 3), F.lit("0s"))).otherwise(F.lit("undated"))


WORD_CHUNK = 1 << 20


_JAVA_SPACES_AS_SPACE = bytes.maketrans(b"\t\n\x0b\x0c\r", b"     ")


def count_words(text: str | None) -> int:
    """Runs of non-space characters (Java's \\s: space, tab, newline, vertical tab, form feed,
    carriage return), counted a megabyte at a time in UTF-8: every byte of a multi-byte character
    is above 0x7f, so Java's six spaces are the only space bytes; their runs are folded to one space
    and counted, and no word becomes an object."""
    if not text:
        return 0
    n, joined = 0, False
    for start in range(0, len(text), WORD_CHUNK):
        piece = text[start:start + WORD_CHUNK].encode("utf-8", "surrogatepass").translate(_JAVA_SPACES_AS_SPACE)
        while b"  " in piece:
            piece = piece.replace(b"  ", b" ")
        starts_word, ends_word = piece[:1] != b" ", piece[-1:] != b" "
        n += piece.count(b" ") - 1 + starts_word + ends_word  # words: spaces between them, plus one
        if joined and starts_word:
            n -= 1  # the word running over the chunk boundary was counted on both sides
        joined = ends_word
    return n


def word_count_column(col: str = "text"):
    """Each document's `count_words`, in Python: Spark's regexps and split() turn a book into a Java
    String (or an object per word) on an executor's heap."""
    return text_counts_column(col).getField("words")


def text_counts_column(col: str = "text"):
    """Each document's length in characters (as Spark's `length` counts: code points) and its
    `count_words`, as a struct (chars, words), from one trip of the text to Python: Spark's own
    `length` walks every byte of it again in the JVM (12% of the corpus application's JVM samples
    on the real newsreels at 16x)."""
    import pandas as pd
    from pyspark.sql import functions as F

    def counts(texts: pd.Series) -> pd.DataFrame:
        return pd.DataFrame({"chars": pd.array([None if t is None else len(t) for t in texts], dtype="Int64"),
                             "words": pd.array([count_words(t) for t in texts], dtype="Int64")})

    counts.__annotations__ = {"texts": pd.Series, "return": pd.DataFrame}  # this module's annotations are strings
    return F.pandas_udf(counts, "chars long, words long")(F.col(col))


def source_decade_counts(df, words: str | None = None) -> tuple[dict, dict]:
    """({source: {docs, words}}, {decade: {docs, words}}) of `df`, in one pass; `words`: a column
    of `df` already holding each document's word count (else counted from its text)."""
    from pyspark.sql import functions as F

    decade = decade_column() if "date" in df.columns else F.lit("undated")
    rows = df.groupBy("source", decade.alias("decade")).agg(
        F.count("*").alias("docs"), F.sum(F.col(words) if words else word_count_column()).alias("words")).collect()
    by_source: dict = {}
    by_decade: dict = {}
    for r in rows:
        for key, out in ((r["source"], by_source), (r["decade"], by_decade)):
            c = out.setdefault(key, {"docs": 0, "words": 0})
            c["docs"] += int(r["docs"])
            c["words"] += int(r["words"] or 0)
    return dict(sorted(by_source.items())), dict(sorted(by_decade.items()))


def sorted_partitions(df, rows: int, key: str, order: tuple[str, ...], rows_per_file: int = 1_000_000):
    """`df` (of `rows` rows) as about one partition per `rows_per_file`, hashed by `key` and sorted by
    `order` within each: a table of any size is written by many tasks, in the same order every run."""
    return df.repartition(max(1, -(-rows // rows_per_file)), key).sortWithinPartitions(*order)


def histogram(df, value, edges: list[float], by: tuple = ()) -> dict:
    """Counts of the column expression `value` in the equal-width bins of `edges` (values outside
    fall into the end bins), one list per value of the `by` columns ("all" without): a figure's
    data computed where the rows are, a few numbers in the stats."""
    from pyspark.sql import functions as F

    lo, hi, n = float(edges[0]), float(edges[-1]), len(edges) - 1
    width = (hi - lo) / n
    binned = F.least(F.greatest(F.floor((value - F.lit(lo)) / F.lit(width)), F.lit(0)), F.lit(n - 1)).cast("int")
    valid = value.isNotNull() & ~F.isnan(value.cast("double"))
    counts: dict = {}
    for r in df.where(valid).groupBy(*by, binned.alias("_bin")).count().collect():
        key = "/".join(str(r[c]) for c in by) if by else "all"
        counts.setdefault(key, [0] * n)[int(r["_bin"])] += int(r["count"])
    return {"edges": [round(float(e), 6) for e in edges], "counts": dict(sorted(counts.items()))}


def linear_edges(lo: float, hi: float, bins: int) -> list[float]:
    return [lo + (hi - lo) * i / bins for i in range(bins + 1)]


def is_true(value) -> bool:
    """A nullable boolean cell from Arrow (True, False, None, NaN or pandas' NA) as a bool."""
    try:
        return bool(bool(value) and value == value)
    except TypeError:  # pandas' NA
        return False


class StatsMismatch(RuntimeError):
    pass


def stage_stats(stage: str, docs_in: int, reason_counts: dict, **extra) -> dict:
    dropped = {r: int(n) for r, n in sorted((r, n) for r, n in reason_counts.items() if r is not None)}
    docs_out = int(reason_counts.get(None, 0))
    if docs_in != docs_out + sum(dropped.values()):
        raise StatsMismatch(f"{stage}: docs_in {docs_in} != docs_out {docs_out} + dropped {sum(dropped.values())}")
    return {"stage": stage, "docs_in": docs_in, "docs_out": docs_out, "dropped": dropped, **extra}


def stats_and_dropped(df, stage: str, docs_in: int, out_dropped: str, extra_stats: dict | None,
                      dropped_extra: tuple[str, ...], removed_lines: dict | None, sums: dict | None,
                      histograms: dict | None) -> tuple[dict, dict]:
    """finish_stage's stats and audit examples of `df`; writes its dropped table."""
    from pyspark.sql import functions as F

    from arkivlm import audit
    from arkivlm.io import write_parquet

    # One pass: documents per reason, documents in and out per decade, and the audit's examples
    # (dropped: per reason; kept: per source). Words per decade are counted at ingest and in the corpus.
    kept_source = F.when(F.col("drop_reason").isNull(), F.col("source")).alias("_kept_source")
    dropped_source = F.when(F.col("drop_reason").isNotNull(), F.col("source")).alias("_dropped_source")
    sums = sums or {}
    decade = decade_column() if "date" in df.columns else F.lit("undated")
    # the text cut to its excerpt before the aggregation: a sort-based aggregation copies whole rows,
    # and a row holding a book is a copy of the book on an executor's heap
    excerpts = df.withColumn("text", audit.excerpt(F.col("text")))
    rows = excerpts.groupBy("drop_reason", decade.alias("decade"), kept_source, dropped_source, audit.bucket_column()).agg(
        F.count("*").alias("docs"), F.min("id").alias("_first_id"), audit.example_column("id", "source", "path", "text"),
        *[F.sum(col).alias(f"_sum_{i}") for i, col in enumerate(sums.values())]).collect()
    counts: dict = {}
    per_decade: dict = {}
    by_source: dict = {}
    first_id: dict = {}
    for r in rows:
        counts[r["drop_reason"]] = counts.get(r["drop_reason"], 0) + int(r["docs"])
        if r["drop_reason"] is not None:
            reasons = by_source.setdefault(r["_dropped_source"], {})
            reasons[r["drop_reason"]] = reasons.get(r["drop_reason"], 0) + int(r["docs"])
            first_id[r["drop_reason"]] = min(first_id.get(r["drop_reason"], r["_first_id"]), r["_first_id"])
        d = per_decade.setdefault(r["decade"], {"docs_in": 0, "docs_out": 0})
        d["docs_in"] += int(r["docs"])
        if r["drop_reason"] is None:
            d["docs_out"] += int(r["docs"])
    totals: dict = {}
    for i, name in enumerate(sums):  # "a/b" -> totals["a"]["b"]
        *outer, key = name.split("/")
        holder = totals
        for part in outer:
            holder = holder.setdefault(part, {})
        holder[key] = int(sum(r[f"_sum_{i}"] or 0 for r in rows))
    stats = stage_stats(stage, docs_in, counts, **(extra_stats or {}), **totals)
    stats["per_decade"] = dict(sorted(per_decade.items()))
    stats["dropped_by_source"] = {src: dict(sorted(r.items())) for src, r in sorted(by_source.items())}
    stats["first_dropped_id"] = dict(sorted(first_id.items()))
    fate = F.when(F.col("drop_reason").isNull(), "kept").otherwise("dropped")
    stats["histograms"] = {name: histogram(df.withColumn("_fate", fate), F.col(col), edges, by=("_fate",))
                           for name, (col, edges) in (histograms or {}).items()}
    dropped = df.where(F.col("drop_reason").isNotNull())
    for col in ("drop_detail", "duplicate_of"):
        if col not in dropped.columns:
            dropped = dropped.withColumn(col, F.lit(None).cast("string"))
    write_parquet(sorted_partitions(
        dropped.select("id", "source", "modality", "path", F.lit(stage).alias("stage"), F.col("drop_reason").alias("reason"),
                       F.col("drop_detail").alias("detail"), "duplicate_of", *dropped_extra),
        sum(stats["dropped"].values()), "id", ("id",)), out_dropped)
    examples = audit.document(
        stage, audit.collect([r for r in rows if r["drop_reason"] is not None], 3, lambda r: r["drop_reason"]),
        audit.collect([r for r in rows if r["drop_reason"] is None], 2, lambda r: r["_kept_source"]), removed_lines)
    return stats, examples


def finish_stage(df, *, stage: str, docs_in: int, out_docs: str | None, out_dropped: str, out_stats: str,
                 extra_stats: dict | None = None, drop_columns: tuple[str, ...] = (), sort_output: bool = False,
                 dropped_extra: tuple[str, ...] = (), removed_lines: dict | None = None, sums: dict | None = None,
                 histograms: dict | None = None, persist: bool = True) -> dict:
    """Also writes `audit/<stage>.json` beside the stats: a few examples per drop reason, and the
    `removed_lines` examples a stage passes in (arkivlm.audit). `sums`: name -> column, summed over
    all documents in the same pass and written to the stats under that name (`a/b`: stats[a][b]).
    `histograms`: name -> (column, edges), counted for kept and dropped documents (the report's
    figures are drawn from the stats alone, never from the tables). `persist=False` for a `df`
    that is cheap to compute again (a Parquet read and a join), or a view of a table the caller has
    persisted (arkivlm.row_stages): its text is then not cached again. `out_docs=None`: no table of
    the kept rows (a stage whose kept rows go on to the next stage in the same pass)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from arkivlm.io import parquet_written_meanwhile, write_json

    # Deserialized, as Spark's own default for tables: PySpark's MEMORY_AND_DISK would also Java-
    # serialize each cached batch into heap buffers first, a second copy of a book on a 1 GiB heap.
    if persist:
        df = df.persist(StorageLevel.MEMORY_AND_DISK_DESER)
    kept = df.where(F.col("drop_reason").isNull()).drop("drop_reason", "drop_detail", "duplicate_of", *drop_columns)
    if sort_output:
        kept = kept.sortWithinPartitions("id")
    with parquet_written_meanwhile(kept, out_docs):
        stats, examples = stats_and_dropped(df, stage, docs_in, out_dropped, extra_stats, dropped_extra, removed_lines,
                                            sums, histograms)
    write_json(examples, Path(out_stats).parent / "audit" / f"{stage}.json")
    write_json(stats, out_stats)
    if persist:
        df.unpersist()
    return stats
