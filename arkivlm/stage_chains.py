"""Stages that run one after another in one Spark application.

Starting a Spark application (JVM, Python workers, their imports) costs seconds that do not
shrink with the data, so the workflow runs the document stages as two chains:

- `filter`: clean -> lines -> langid -> quality -> pii (row by row, apart from clean's boilerplate count);
- `corpus`: dedup -> decontaminate -> split.

Each stage inside a chain is the same code as the stage run on its own (`python -m arkivlm
langid`, ...) and writes the same outputs: its document table under `interim/`, its dropped
documents under `dropped/` and its stats; only the SparkSession is shared. The exception: below
`spark.row_stage_checkpoints_min_docs` documents, lines, langid, quality and pii run as one pass
(arkivlm.row_stages), with the same dropped documents, stats and audit, and only pii's table.

The filter chain keeps completed work: when a stage finishes, a fingerprint of its settings, its
input table and the package's code is written beside its table (`_arkivlm_stage.json`, with its
stats and audit). A later run of the chain reuses every stage whose fingerprint still matches,
so a crash in pii after hours, or a changed pii threshold, does not redo clean, lines, langid
and quality (in one pass: the four are reused or run again together, clean is kept).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from pathlib import Path

FILTER_STAGES = ("clean", "lines", "langid", "quality", "pii")
CORPUS_STAGES = ("dedup", "decontaminate", "split")

log = logging.getLogger(__name__)


def stage_paths(stage: str, interim: str, dropped: str, stats: str) -> dict:
    return {"docs": str(Path(interim) / stage), "dropped": str(Path(dropped) / stage),
            "stats": str(Path(stats) / f"{stage}.json")}


def _timed(stage: str, call):
    t0 = time.perf_counter()
    result = call()
    result["seconds"] = round(time.perf_counter() - t0, 2)
    log.info("%s: %s in, %s out, %.1f s", stage, result.get("docs_in"), result.get("docs_out"), result["seconds"])
    return result


STAGE_MARKER = "_arkivlm_stage.json"  # Spark and Arrow skip files starting with "_" when reading a table


def code_fingerprint() -> str:
    """A hash of the package's source: changed code never reuses a table the old code wrote."""
    h = hashlib.sha256()
    root = Path(__file__).parent
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def table_fingerprint(path: str) -> str:
    """Names and sizes of a table's files: a rewritten table has new file names (Spark writes a
    random id into each), so this changes whenever the table is written again."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in sorted(os.walk(path)):
        dirnames.sort()
        for name in sorted(filenames):
            h.update(f"{os.path.relpath(os.path.join(dirpath, name), path)}\0{os.path.getsize(os.path.join(dirpath, name))}\0".encode())
    return h.hexdigest()


def stage_fingerprint(stage: str, settings: dict, in_docs: str, code: str) -> str:
    blob = json.dumps({"stage": stage, "settings": settings, "input": table_fingerprint(in_docs), "code": code}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()


def reusable(p: dict, fingerprint: str, extra_tables: tuple[str, ...] = ()) -> dict | None:
    """The marker of a stage that completed with this fingerprint, or None."""
    marker = Path(p["docs"]) / STAGE_MARKER
    if not marker.exists() or not all(os.path.isdir(t) for t in (p["dropped"], *extra_tables)):
        return None
    m = json.loads(marker.read_text())
    return m if m.get("fingerprint") == fingerprint else None


def completed_outputs(stage: str, p: dict) -> dict:
    """The stats and audit a stage just wrote, as its marker keeps them."""
    return {"stats": json.loads(Path(p["stats"]).read_text()),
            "audit": json.loads((Path(p["stats"]).parent / "audit" / f"{stage}.json").read_text())}


def restore_outputs(stage: str, p: dict, done: dict) -> dict:
    """A reused stage's stats and audit written back from its marker (`completed_outputs`); its result."""
    from arkivlm.io import write_json

    write_json(done["stats"], p["stats"])
    write_json(done["audit"], Path(p["stats"]).parent / "audit" / f"{stage}.json")
    return {**done["stats"], "seconds": 0.0, "reused": True}


def run_filter(spark, settings: dict, allow_rights: list[str], in_docs: str, interim: str, dropped: str,
               stats: str, checkpoint_min_docs: int | None = None) -> dict:
    """clean, lines, langid, quality and pii over `in_docs`; `settings` holds each stage's config
    section. Stages completed earlier with the same fingerprint are reused, not run again.

    When clean keeps fewer than `checkpoint_min_docs` documents (default: the `spark` section's
    `row_stage_checkpoints_min_docs`), lines, langid, quality and pii run as one pass
    (arkivlm.row_stages) and are reused or run again together; from that many, each writes its
    table, a checkpoint that a rerun after a failure in a later stage starts from."""
    from arkivlm import clean, langid, lines, pii, quality
    from arkivlm.io import write_json

    if checkpoint_min_docs is None:
        from arkivlm.spark import resolve_settings

        checkpoint_min_docs = int(resolve_settings()["row_stage_checkpoints_min_docs"])
    code = code_fingerprint()
    results, previous = {}, in_docs
    for stage in FILTER_STAGES:
        if stage == "lines" and results["clean"]["docs_out"] < checkpoint_min_docs:
            results.update(run_row_stages_fused(spark, settings, previous, interim, dropped, stats, code,
                                                results["clean"]["docs_out"]))
            break
        p = stage_paths(stage, interim, dropped, stats)
        s = settings.get(stage, {})
        removed = str(Path(interim).parent / "lines_removed")
        extra_tables = (removed,) if stage == "lines" else ()
        fingerprint = stage_fingerprint(stage, {"settings": s, "allow_rights": allow_rights if stage == "clean" else None},
                                        previous, code)
        done = reusable(p, fingerprint, extra_tables)
        if done:
            results[stage] = restore_outputs(stage, p, done)
            log.info("%s: reused (settings, input and code unchanged since it completed)", stage)
            previous = p["docs"]
            continue
        if stage == "clean":
            call = lambda: clean.run(spark, s, allow_rights, previous, p["docs"], p["dropped"], p["stats"])
        elif stage == "lines":
            call = lambda: lines.run(spark, s, previous, p["docs"], p["dropped"], p["stats"], removed)
        else:
            module = {"langid": langid, "quality": quality, "pii": pii}[stage]
            call = lambda: module.run(spark, s, previous, p["docs"], p["dropped"], p["stats"])
        results[stage] = _timed(stage, call)
        write_json({"fingerprint": fingerprint, **completed_outputs(stage, p)}, Path(p["docs"]) / STAGE_MARKER)
        previous = p["docs"]
    return summary("filter", results)


def run_row_stages_fused(spark, settings: dict, in_docs: str, interim: str, dropped: str, stats: str, code: str,
                         docs_in: int) -> dict:
    """lines, langid, quality and pii in one pass (arkivlm.row_stages), or all four reused: their
    one fingerprint and their stats and audit are kept beside pii's table."""
    from arkivlm import row_stages
    from arkivlm.io import write_json

    paths = {stage: stage_paths(stage, interim, dropped, stats) for stage in row_stages.ROW_STAGES}
    removed = str(Path(interim).parent / "lines_removed")
    fingerprint = stage_fingerprint("+".join(row_stages.ROW_STAGES),
                                    {s: settings.get(s, {}) for s in row_stages.ROW_STAGES}, in_docs, code)
    done = reusable(paths["pii"], fingerprint, (removed, *(p["dropped"] for p in paths.values())))
    if done:
        results = {stage: restore_outputs(stage, p, done["stages"][stage]) for stage, p in paths.items()}
        log.info("lines, langid, quality, pii: reused (settings, input and code unchanged since they completed)")
        return results
    t0 = time.perf_counter()
    results = row_stages.run(spark, settings, in_docs, interim, dropped, stats, removed, docs_in)
    log.info("row_stages: lines, langid, quality and pii in one pass, %s in, %s out, %.1f s", docs_in,
             results["pii"]["docs_out"], time.perf_counter() - t0)
    write_json({"fingerprint": fingerprint, "stages": {stage: completed_outputs(stage, p) for stage, p in paths.items()}},
               Path(paths["pii"]["docs"]) / STAGE_MARKER)
    return results


def run_corpus(spark, settings: dict, in_docs: str, interim: str, dropped: str, stats: str,
               out_train: str, out_validation: str, task_texts: str | None = None) -> dict:
    """dedup, decontamination against the tasks' texts (`task_texts`, arkivlm.decontaminate), then
    the train/validation split of what is left."""
    from arkivlm import decontaminate, dedup, split

    p = stage_paths("dedup", interim, dropped, stats)
    results = {"dedup": _timed("dedup", lambda: dedup.run(spark, settings.get("dedup", {}), in_docs, p["docs"],
                                                          p["dropped"], p["stats"]))}
    d = stage_paths("decontaminate", interim, dropped, stats)
    results["decontaminate"] = _timed("decontaminate", lambda: decontaminate.run(
        spark, settings.get("decontamination", {}), task_texts, p["docs"], d["docs"], d["dropped"], d["stats"]))
    results["corpus"] = _timed("corpus", lambda: split.run(spark, settings.get("split", {}),
                                                           decontaminate.output_table(d["docs"]), out_train,
                                                           out_validation, str(Path(stats) / "corpus.json")))
    return summary("corpus", results)


def summary(chain: str, results: dict) -> dict:
    first, last = next(iter(results.values())), list(results.values())[-1]
    return {"stage": chain, "docs_in": first["docs_in"], "docs_out": last["docs_out"],
            "stages": {name: {"docs_in": r["docs_in"], "docs_out": r["docs_out"], "seconds": r["seconds"],
                              "reused": r.get("reused", False)}
                       for name, r in results.items()}}
