"""The corpus stages (ingest -> filter -> corpus through Snakemake, as bench/corpus.py runs them) at
several scales of the generated subtitle archive, one run each, for how wall time and peak memory
grow with the archive: `python -m bench.corpus_scales [--scales 1,4,16,64] [--plain-scales 16]`.
Writes its own section of bench/RESULTS.md beside bench/corpus.py's."""

from __future__ import annotations

import argparse
import json
import sys

from bench import corpus
from bench.run import HERE, merge


def markdown(r: dict) -> str:
    rows = []
    for scale, m in r["scales"].items():
        p, q = m["project"], m.get("plain")
        rows.append(f"| {scale}x | {p['last']['files']:,} | {m['words'] / 1e6:.1f} M | {p['wall_s']:.1f} | {p['peak_rss_mb']:.0f} | "
                    + (f"{q['wall_s']:.1f} | {q['peak_rss_mb']:.0f} |" if q else "not run | - |"))
    stage_names = sorted({k for m in r["scales"].values() for k in m["project"]["last"]["stages"]})
    stages = ["| stage | " + " | ".join(f"{s}x" for s in r["scales"]) + " |", "|---|" + "---|" * len(r["scales"])]
    for name in stage_names:
        stages.append(f"| {name} | " + " | ".join(f"{m['project']['last']['stages'].get(name, float('nan')):.1f}"
                                                for m in r["scales"].values()) + " |")
    return "\n".join([
        "## Corpus stages by scale (bench/corpus_scales.py)",
        "",
        "The same runs as bench/corpus.py (`snakemake --cores all ... corpus` from a fresh results directory, "
        "local[*] on this machine's 2 cores, driver 4 GB), one run per scale. Peak memory is the largest RSS sum of "
        "the process tree (Snakemake, the driver JVM with its executor threads, Python workers).",
        "",
        "| scale | files | words | project s | project peak MB | plain script s | plain peak MB |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Seconds per stage (`(application)`: the whole Spark application of that rule):",
        "",
        *stages,
        "",
    ])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scales", default="1,4,16,64")
    p.add_argument("--plain-scales", default="16")
    args = p.parse_args(argv)
    scales = tuple(int(x) for x in args.scales.split(","))
    r = corpus.run(scales=scales, repeats=tuple(1 for _ in scales), plain_scales=tuple(int(x) for x in args.plain_scales.split(",") if x),
                   datatrove_scales=())
    (HERE / "corpus_scales_results.json").write_text(json.dumps(r, indent=1, default=str))
    out = HERE / "RESULTS.md"
    out.write_text(merge(out.read_text(), [markdown(r)]))
    print(markdown(r), file=sys.stderr)


if __name__ == "__main__":
    main()
