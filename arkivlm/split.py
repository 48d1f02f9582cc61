"""Split: the corpus as train/validation, decided by document id, so the same document always
lands on the same side. The bucket comes from the id itself (a hash of the content), which is
uniform within every modality; files are hash-partitioned and sorted by id, so two runs write
the same rows in the same order."""

from __future__ import annotations

DEFAULTS = {"validation_fraction": 0.05, "docs_per_file": 50000}
CORPUS_COLUMNS = ["id", "source", "modality", "rights", "format", "path", "url", "record", "title", "date", "page",
                  "ocr_conf", "start_s", "end_s", "ocr", "lang_score", "text"]


def validation_bucket(col_id, fraction: float):
    from pyspark.sql import functions as F

    return (F.conv(F.substring(col_id, 1, 8), 16, 10).cast("long") % 100000) < int(round(fraction * 100000))


def run(spark, settings: dict, in_docs: str, out_train: str, out_validation: str, out_stats: str) -> dict:
    """The statistics come from a narrow table (one row of lengths and counts per document, cached);
    the text is read from Parquet for each split's write and never cached (a cached column batch
    holding a book is several copies of it on an executor's heap)."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from arkivlm.io import parquet_written_meanwhile, write_json
    from arkivlm.tables import histogram, linear_edges, source_decade_counts, text_counts_column

    settings = {**DEFAULTS, **(settings or {})}
    docs = spark.read.parquet(in_docs)
    cols = [c for c in CORPUS_COLUMNS if c in docs.columns] + [c for c in docs.columns if c not in CORPUS_COLUMNS]
    in_validation = validation_bucket(F.col("id"), settings["validation_fraction"])
    narrow = docs.select("source", "modality", *(["date"] if "date" in docs.columns else []),
                         F.when(in_validation, "validation").otherwise("train").alias("split"),
                         text_counts_column().alias("n")) \
        .select("*", "n.chars", "n.words").drop("n").persist(StorageLevel.MEMORY_AND_DISK_DESER)
    counts = narrow.groupBy("split", "modality").agg(F.count("*").alias("docs"), F.sum("chars").alias("chars")).collect()
    per_split: dict = {}
    for r in counts:
        per_split.setdefault(r["split"], {})[r["modality"]] = {"docs": int(r["docs"]), "chars": int(r["chars"] or 0)}
    total = sum(v["docs"] for m in per_split.values() for v in m.values())
    parts = {}
    for split, where in (("train", ~in_validation), ("validation", in_validation)):
        n = sum(v["docs"] for v in per_split.get(split, {}).values())
        parts[split] = docs.select(*cols).where(where).repartition(max(1, -(-n // settings["docs_per_file"])), "id") \
            .sortWithinPartitions("id")
    stats = {"stage": "corpus", "docs_in": total, "docs_out": total, "dropped": {}, "splits": per_split,
             "validation_fraction": settings["validation_fraction"]}
    with parquet_written_meanwhile(parts["train"], out_train), parquet_written_meanwhile(parts["validation"], out_validation):
        stats["per_source"], stats["per_decade"] = source_decade_counts(narrow, words="words")
        # the report's figure of document lengths, drawn from these counts
        log_chars = F.log10(F.greatest(F.col("chars"), F.lit(1)).cast("double"))
        stats["histograms"] = {"log10_chars": histogram(narrow, log_chars, linear_edges(0.0, 8.0, 40), by=("modality",))}
    write_json(stats, out_stats)
    narrow.unpersist()
    return stats
