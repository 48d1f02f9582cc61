"""Listing a source of 100,000 files in nested directories: the driver's walk (the listing before
the parallel one: `iter_source_paths` on the driver, the inventory shipped through
`createDataFrame`) against `ingest.list_files` (the top of the tree on the driver, its directories
walked by the executors), each to a materialised DataFrame of the same rows.

    python -m bench.listing [--files 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def build(root: Path, files: int) -> None:
    for i in range(files):
        d = root / f"{i // 10000:02d}" / f"{i // 100 % 100:02d}"
        if i % 100 == 0:
            d.mkdir(parents=True)
        (d / f"{i:06d}.txt").write_text("x")


def main(argv: list[str] | None = None) -> dict:
    import pandas as pd

    from arkivlm import ingest
    from arkivlm.spark import get_session

    p = argparse.ArgumentParser()
    p.add_argument("--files", type=int, default=100_000)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    spark = get_session({"master": "local[*]", "shuffle_partitions": 4}, app_name="arkivlm-bench-listing")
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory(prefix="arkivlm-listing-") as tmp:
        os.chdir(tmp)
        build(Path(tmp) / "arkiv", args.files)
        src = {"name": "s", "modality": "text", "rights": "public", "format": "txt", "path": "arkiv/**/*.txt"}

        def driver_walk():
            rows = [(src["name"], src["modality"], src["rights"], src["format"], False, path, os.path.abspath(path),
                     os.path.abspath("arkiv")) for path in ingest.list_source_files(src)]
            return spark.createDataFrame(pd.DataFrame(rows, columns=[c.split()[0] for c in ingest.LISTING_DDL.split(", ")]),
                                         ingest.LISTING_DDL)

        def parallel():
            return ingest.list_files(spark, [src])

        out = {}
        for name, make in (("driver walk", driver_walk), ("parallel listing", parallel)) * args.repeats:
            t0 = time.perf_counter()
            n = make().groupBy("source").count().collect()[0]["count"]
            out.setdefault(name, []).append(time.perf_counter() - t0)
            assert n == args.files, n
        os.chdir(cwd)
    spark.stop()
    result = {k: {"median_s": round(statistics.median(v), 2), "runs": [round(x, 2) for x in v]} for k, v in out.items()}
    result["files"], result["repeats"] = args.files, args.repeats
    print(result)
    return result


def markdown(r: dict) -> str:
    walk, par = r["driver walk"], r["parallel listing"]
    runs = lambda m: f"{m['median_s']:.2f} ({', '.join(f'{x:.2f}' for x in m['runs'])})"
    return "\n".join([
        f"## Listing {r['files']:,} files in nested directories (bench/listing.py)",
        "",
        "100 x 100 directories of 10 files each, local disk with a warm page cache, `local[*]` on this machine's cores. "
        f"Each arm ends in a counted DataFrame of the same rows. The arms alternate, {r['repeats']} runs each (the first "
        "run of each pays the Python workers' start); seconds, median (runs):",
        "",
        "| arm | s |",
        "|---|---|",
        f"| driver walk (`iter_source_paths` on the driver, inventory through `createDataFrame`) | {runs(walk)} |",
        f"| parallel listing (`ingest.list_files`: top of the tree on the driver, directories walked by executor tasks, "
        f"frames to the JVM through Arrow) | {runs(par)} |",
        "",
        f"Parallel / driver walk: **{par['median_s'] / walk['median_s']:.2f}**. On Lustre every directory is a metadata "
        "round trip, which the parallel listing spreads over every executor core; that was not measured here.",
        "",
    ])


if __name__ == "__main__":
    main()
