"""Stages that run one after another in one Spark application.

Starting a Spark application (JVM, Python workers, their imports) costs seconds that do not
shrink with the data, so the workflow runs the document stages as two chains:

- `filter`: clean -> lines -> langid -> quality -> pii (row by row, apart from clean's boilerplate count);
- `corpus`: dedup -> split.

Each stage inside a chain is the same code as the stage run on its own (`python -m arkivlm
langid`, ...) and writes the same outputs: its document table under `interim/`, its dropped
documents under `dropped/` and its stats; only the SparkSession is shared.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

FILTER_STAGES = ("clean", "lines", "langid", "quality", "pii")
CORPUS_STAGES = ("dedup", "split")

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


def run_filter(spark, settings: dict, allow_rights: list[str], in_docs: str, interim: str, dropped: str,
               stats: str) -> dict:
    """clean, lines, langid, quality and pii over `in_docs`; `settings` holds each stage's config section."""
    from arkivlm import clean, langid, lines, pii, quality

    results, previous = {}, in_docs
    for stage in FILTER_STAGES:
        p = stage_paths(stage, interim, dropped, stats)
        s = settings.get(stage, {})
        if stage == "clean":
            call = lambda: clean.run(spark, s, allow_rights, previous, p["docs"], p["dropped"], p["stats"])
        elif stage == "lines":
            removed = str(Path(interim).parent / "lines_removed")
            call = lambda: lines.run(spark, s, previous, p["docs"], p["dropped"], p["stats"], removed)
        else:
            module = {"langid": langid, "quality": quality, "pii": pii}[stage]
            call = lambda: module.run(spark, s, previous, p["docs"], p["dropped"], p["stats"])
        results[stage] = _timed(stage, call)
        previous = p["docs"]
    return summary("filter", results)


def run_corpus(spark, settings: dict, in_docs: str, interim: str, dropped: str, stats: str,
               out_train: str, out_validation: str) -> dict:
    """dedup, then the train/validation split of what dedup kept."""
    from arkivlm import dedup, split

    p = stage_paths("dedup", interim, dropped, stats)
    results = {"dedup": _timed("dedup", lambda: dedup.run(spark, settings.get("dedup", {}), in_docs, p["docs"],
                                                          p["dropped"], p["stats"]))}
    results["corpus"] = _timed("corpus", lambda: split.run(spark, settings.get("split", {}), p["docs"], out_train,
                                                           out_validation, str(Path(stats) / "corpus.json")))
    return summary("corpus", results)


def summary(chain: str, results: dict) -> dict:
    first, last = next(iter(results.values())), list(results.values())[-1]
    return {"stage": chain, "docs_in": first["docs_in"], "docs_out": last["docs_out"],
            "stages": {name: {"docs_in": r["docs_in"], "docs_out": r["docs_out"], "seconds": r["seconds"]}
                       for name, r in results.items()}}
