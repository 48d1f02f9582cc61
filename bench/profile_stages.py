"""Where the corpus stages spend their Python time: each stage's partition function, run in one
process under cProfile on the table that stage read in a finished workflow run.

    python -m bench.profile_stages RESULTS_DIR [--stage clean] [--top 25]

(Spark's own costs, JVM start, scheduling, Parquet and shuffles, are not in these figures: they
are the stage's wall time minus its Python time.)
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import time

import pyarrow.parquet as pq


def batches(path: str, rows: int = 2000, columns=None):
    table = pq.read_table(path, columns=columns)
    for start in range(0, table.num_rows, rows):
        yield table.slice(start, rows).to_pandas()


def stage_calls(results: str) -> dict:
    from arkivlm import clean, dedup, langid, pii, quality
    from arkivlm.readers import READERS
    from arkivlm.tables import DOCUMENT_FIELDS

    fields = [n for n, _ in DOCUMENT_FIELDS]

    def ingest():
        import pandas as pd

        rows = pq.read_table(f"{results}/interim/ingest", columns=["path", "format"]).to_pandas()
        for path, fmt in zip(rows["path"], rows["format"]):
            with open(path, "rb") as fh:
                list(READERS[fmt].read(fh.read(), path))
        return pd.DataFrame()

    def clean_prepare():
        for _ in clean.prepare_partition(batches(f"{results}/interim/ingest"), {"txt"}, {"subtitle", "transcript"}):
            pass

    return {
        "ingest (readers)": ingest,
        "clean (cue parsing)": clean_prepare,
        "langid": lambda: [0 for _ in langid.langid_partition(batches(f"{results}/interim/clean", columns=fields), {})],
        "quality": lambda: [0 for _ in quality.quality_partition(batches(f"{results}/interim/langid"), {})],
        "pii": lambda: [0 for _ in pii.pii_partition(batches(f"{results}/interim/quality"))],
        "dedup (signatures)": lambda: [0 for _ in dedup.signature_partition(
            batches(f"{results}/interim/pii", columns=["id", "text"]), dedup.DEFAULTS)],
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("results")
    p.add_argument("--stage", default=None, help="only stages whose name starts with this")
    p.add_argument("--top", type=int, default=15)
    args = p.parse_args(argv)
    for name, call in stage_calls(args.results).items():
        if args.stage and not name.startswith(args.stage):
            continue
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.runcall(call)
        wall = time.perf_counter() - t0
        out = io.StringIO()
        pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(args.top)
        print(f"=== {name}: {wall:.2f} s under the profiler\n{out.getvalue()}")


if __name__ == "__main__":
    main()
