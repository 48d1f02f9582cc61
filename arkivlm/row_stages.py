"""lines -> langid -> quality -> pii as one pass over the documents.

Each of the four stages looks at one document at a time, so a Python worker can take a batch of
documents through all four, handing each stage's kept rows straight to the next: one trip of the
text between the JVM and Python instead of four, and one cached table instead of four written,
read back and cached again. The result holds every document once, with the stage that dropped it
(`_stage`, null when kept) and each stage's own columns; each stage's outputs (dropped documents,
removed lines, stats, audit) are then written from a view of it by the stage's own `finish`, and
only pii's kept documents become a table.

Each stage's code is its own partition function (`lines.lines_partition`, ...), fed one batch at a
time; `python -m arkivlm <stage>` still runs a stage on its own, and the filter chain runs the
stages one by one, each writing its table, when a table is large enough for those tables to be
worth keeping as checkpoints (arkivlm.stage_chains).
"""

from __future__ import annotations

ROW_STAGES = ("lines", "langid", "quality", "pii")
STAGE_COLUMN = "_stage"
DROP_COLUMNS = ("drop_reason", "drop_detail")


class _Feed:
    """An endless iterator over whatever batch was put in last: lets a stage's partition function,
    written over an iterator of batches, be called one batch at a time."""

    def __init__(self):
        self.batch = None

    def __iter__(self):
        while True:
            yield self.batch


def stage_code(stage: str):
    """(transform, partition function, the columns its kept table leaves out) of a row stage: the
    transform runs it in Spark by itself, the partition function over one batch at a time in the
    one pass; both take the stage's config section as it is."""
    from arkivlm import langid, lines, pii, quality

    code = {
        "lines": (lines.transform, lines.lines_partition, lines.EXTRA_COLUMNS),
        "langid": (langid.transform, langid.langid_partition, ()),
        "quality": (quality.transform, quality.quality_partition, ()),
        "pii": (pii.transform, pii.pii_partition, tuple(f"pii_{k}" for k in pii.PII_TYPES)),
    }
    if stage not in code:
        raise ValueError(f"no row stage {stage!r}")
    return code[stage]


def stage_transform(df, stage: str, settings: dict):
    """(one row stage's result of `df`, lazily; the columns of it that the stage's kept table leaves out)."""
    transform, _, extra = stage_code(stage)
    return transform(df, settings), extra


def stage_results(docs, settings: dict) -> tuple[dict, dict]:
    """({stage: the stage's result (lazily)}, {stage: the columns it gets}) when each stage runs on
    the kept rows of the one before: only their schemas are used, to build the fused table, each
    stage's view of it, and each partition function's input."""
    results, inputs, kept = {}, {}, docs
    for stage in ROW_STAGES:
        inputs[stage] = kept.columns
        out, extra = stage_transform(kept, stage, settings.get(stage, {}))
        results[stage] = out
        kept = out.drop(*DROP_COLUMNS, *extra)
    return results, inputs


def fused_schema(results: dict):
    """Every column any stage's result has (pii's, then the lines stage's own), and `_stage`."""
    from pyspark.sql.types import StringType, StructField, StructType

    fields, seen = [], set()
    for stage in ("pii", "lines"):
        for f in results[stage].schema.fields:
            if f.name not in seen and f.name not in DROP_COLUMNS:
                fields.append(f)
                seen.add(f.name)
    return StructType(fields + [StructField(n, StringType()) for n in (*DROP_COLUMNS, STAGE_COLUMN)])


def fused_partition(batches, settings: dict, input_columns: dict, schema):
    """Batches of clean's documents -> every document once: dropped by a stage (its reason, and the
    document as that stage left it) or kept by all four (as pii left it); with the lines stage's
    columns for every document. `input_columns`: {stage: the columns its partition function gets}."""
    import pandas as pd
    from pyspark.sql.types import IntegerType, LongType

    from arkivlm import lines
    from arkivlm.python_workers import set_aside_survivors

    set_aside_survivors()
    feeds = {stage: _Feed() for stage in ROW_STAGES}
    steps = {stage: stage_code(stage)[1](feeds[stage], settings.get(stage, {})) for stage in ROW_STAGES}
    names = [f.name for f in schema.fields]
    ints = {f.name: "Int64" if isinstance(f.dataType, LongType) else "Int32"
            for f in schema.fields if isinstance(f.dataType, (IntegerType, LongType))}
    for pdf in batches:
        live = pdf.reset_index(drop=True)
        parts, line_columns = [], None
        for stage in ROW_STAGES:
            if not len(live):
                break
            feeds[stage].batch = live[input_columns[stage]]
            out = next(steps[stage])
            if stage == "lines":
                line_columns = out[list(lines.EXTRA_COLUMNS)]
                out = out.drop(columns=list(lines.EXTRA_COLUMNS))
            dropped = out["drop_reason"].notna()
            if dropped.any():
                parts.append(out[dropped].assign(**{STAGE_COLUMN: stage}))
            live = out[~dropped].drop(columns=list(DROP_COLUMNS))
        parts.append(live.assign(**{STAGE_COLUMN: None, "drop_reason": None, "drop_detail": None}))
        merged = pd.concat(parts, sort=False)
        if line_columns is not None:
            merged = merged.join(line_columns)
        merged = merged.sort_index().reindex(columns=names)
        for name, dtype in ints.items():
            merged[name] = merged[name].astype(dtype)
        yield merged.reset_index(drop=True)


def run(spark, settings: dict, in_docs: str, interim: str, dropped: str, stats: str, removed: str,
        docs_in: int) -> dict:
    """The four stages over `in_docs` (clean's table, `docs_in` rows) in one pass; each stage's
    dropped documents and stats as when run alone, pii's kept documents under `interim`/pii.
    Returns {stage: its stats, with `seconds` (the pass itself counts towards lines)}."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from pyspark import StorageLevel, inheritable_thread_target
    from pyspark.sql import functions as F

    from arkivlm import langid, lines, pii, quality
    from arkivlm.stage_chains import stage_paths
    from arkivlm.tables import DOCUMENT_FIELDS, StatsMismatch, empty_if_null

    langid.load_model({**langid.DEFAULTS, **settings.get("langid", {})}["model"])  # fail here, on the driver
    docs = spark.read.parquet(in_docs)
    if "line_conf" not in docs.columns:
        docs = docs.withColumn("line_conf", F.lit(None).cast("array<double>"))
    docs = docs.select(*[n for n, _ in DOCUMENT_FIELDS], empty_if_null("line_conf", "array<double>"))
    results, inputs = stage_results(docs, settings)
    schema = fused_schema(results)
    fused = docs.mapInPandas(lambda it: fused_partition(it, settings, inputs, schema), schema) \
        .persist(StorageLevel.MEMORY_AND_DISK_DESER)
    t0 = time.perf_counter()
    # the pass itself, once: one count per dropping stage gives each stage its documents in
    dropped_by = {r[STAGE_COLUMN]: int(r["count"]) for r in fused.groupBy(STAGE_COLUMN).count().collect()}
    if sum(dropped_by.values()) != docs_in:
        raise StatsMismatch(f"row stages: {docs_in} documents in, {sum(dropped_by.values())} in the pass's table")
    pass_seconds = time.perf_counter() - t0
    docs_in_of, n_in = {}, docs_in
    for stage in ROW_STAGES:
        docs_in_of[stage] = n_in
        n_in -= dropped_by.get(stage, 0)
    modules = {"lines": lines, "langid": langid, "quality": quality, "pii": pii}

    def finish(i: int, stage: str) -> dict:
        here = F.col(STAGE_COLUMN) == stage
        view = fused.where(F.col(STAGE_COLUMN).isNull() | F.col(STAGE_COLUMN).isin(*ROW_STAGES[i:])).select(
            *[F.when(here, F.col(c)).alias(c) if c in DROP_COLUMNS else F.col(c) for c in results[stage].columns])
        p = stage_paths(stage, interim, dropped, stats)
        args = (view, settings.get(stage, {}), docs_in_of[stage], p["docs"] if stage == "pii" else None, p["dropped"], p["stats"])
        t0 = time.perf_counter()
        st = modules[stage].finish(*args, removed, persist=False) if stage == "lines" else \
            modules[stage].finish(*args, persist=False)
        return {**st, "seconds": round(time.perf_counter() - t0 + (pass_seconds if stage == "lines" else 0), 2)}

    # The four finishes read the cached table and write apart, so they run as concurrent Spark jobs:
    # each is a few short jobs whose planning on the driver would otherwise come one after another.
    with ThreadPoolExecutor(len(ROW_STAGES), thread_name_prefix="row-stage-finish") as pool:
        futures = [pool.submit(inheritable_thread_target(finish), i, stage) for i, stage in enumerate(ROW_STAGES)]
        out = {stage: f.result() for stage, f in zip(ROW_STAGES, futures)}
    fused.unpersist()
    return out
