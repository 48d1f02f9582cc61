"""Quality stage: run the filters of `arkivlm.filters` over every document, in Spark.

Kept documents get a `quality_score` (OCR confidence x plausible-token share x p(sv)), which the
dedup stage uses to keep the best copy of each cluster.
"""

from __future__ import annotations

from arkivlm.filters.quality import build_filters, check_document, merged_settings, quality_score, text_stats
from arkivlm.tables import with_int_columns


def quality_partition(batches, settings: dict):

    filters = build_filters(settings)
    for pdf in batches:
        reasons, scores = [], []
        for doc in pdf.to_dict("records"):
            stats = text_stats(doc["text"])
            reasons.append(check_document(filters, doc, stats))
            scores.append(quality_score(doc, stats))
        out = pdf.assign(quality_score=scores, drop_reason=reasons, drop_detail=None)
        yield with_int_columns(out)


def transform(docs, settings: dict):
    """`docs` with a quality score and a `drop_reason` (lazily): the stage without its outputs."""
    from pyspark.sql.types import DoubleType, StringType, StructField, StructType

    schema = StructType(docs.schema.fields + [StructField("quality_score", DoubleType()),
                                              StructField("drop_reason", StringType()), StructField("drop_detail", StringType())])
    return docs.mapInPandas(lambda it: quality_partition(it, settings), schema)


def run(spark, settings: dict, in_docs: str, out_docs: str, out_dropped: str, out_stats: str) -> dict:
    docs = spark.read.parquet(in_docs)
    docs_in = docs.count()
    return finish(transform(docs, settings), settings, docs_in, out_docs, out_dropped, out_stats)


def finish(result, settings: dict, docs_in: int, out_docs: str | None, out_dropped: str, out_stats: str,
           persist: bool = True) -> dict:
    """The stage's outputs from `result` (what `transform` gives); `persist`, `out_docs=None`: as in
    `arkivlm.tables.finish_stage`."""
    from arkivlm.tables import finish_stage

    return finish_stage(result, stage="quality", docs_in=docs_in, out_docs=out_docs, out_dropped=out_dropped,
                        out_stats=out_stats, extra_stats={"settings": merged_settings(settings)}, persist=persist)
