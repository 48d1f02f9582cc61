"""The corpus stage (ingest -> filter -> corpus, through Snakemake, all cores) against the plain
single-process script (bench/plain_corpus.py), on the generated subtitle archive at several scales.

Wall time is the whole command, Snakemake and Spark start-up included; peak memory is the largest
sum of RSS over the command's process tree (JVM, Python workers, Snakemake), sampled every 0.2 s.

    python -m bench.corpus [--scales 1,4,16,64] [--repeats 3,3,1,1] [--plain-scales 1,4,16] [--data DIR]

The plain script runs only at `--plain-scales` (at 64x it would take about 18 minutes more, and its
single process is not what scales); the project runs at every scale.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import yaml

from bench import subtitle_corpus

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / "bench" / ".data" / "subtitles"


def measure(cmd: list[str], cwd: Path, log: Path) -> tuple[float, int]:
    """(wall seconds, peak RSS bytes of the process tree) of a command; fails loudly."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    with open(log, "w") as out:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env=env)
        root, peak = psutil.Process(proc.pid), 0
        while proc.poll() is None:
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            peak = max(peak, total)
            time.sleep(0.2)
        wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}); see {log}")
    return wall, peak


def stage_seconds(results: Path) -> dict:
    """Seconds per stage from the logs: `ingest: done in`, and the chains' per-stage lines."""
    out = {}
    for log in sorted((results / "logs").glob("*.log")):
        text = log.read_text(errors="replace")
        for m in re.finditer(r"arkivlm\.stage_chains: (\w+): .*?, ([\d.]+) s$", text, re.M):
            out[m.group(1)] = float(m.group(2))
        if m := re.search(r"^(\w+): done in ([\d.]+)s$", text, re.M):
            out[f"{m.group(1)} (application)"] = float(m.group(2))
    return out


def project_run(data: Path, scale: int, work: Path) -> dict:
    results = work / "results"
    shutil.rmtree(results, ignore_errors=True)
    cfg = {"results": str(results), "sources": subtitle_corpus.sources(data, scale), "release": {"allow_rights": ["public"]},
           "spark": {"master": "local[*]", "driver_memory": "4g", "shuffle_partitions": 4}}
    cfg_path = work / f"config_{scale}x.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    wall, peak = measure(["snakemake", "--cores", "all", "--configfile", str(cfg_path), "-q", "--", "corpus"],
                         REPO, work / f"project_{scale}x.log")
    stats = {p.stem: json.loads(p.read_text()) for p in (results / "stats").glob("*.json")}
    return {"wall_s": wall, "peak_rss_mb": peak / 2**20, "stages": stage_seconds(results),
            "files": stats["ingest"]["files_in"], "kept": stats["corpus"]["docs_out"],
            "not_swedish": sum(stats["langid"]["dropped"].values()),
            "duplicates": sum(stats["dedup"]["dropped"].values())}


def plain_run(data: Path, scale: int, work: Path) -> dict:
    log = work / f"plain_{scale}x.log"
    wall, peak = measure([sys.executable, "-m", "bench.plain_corpus", "--root", str(data), "--scale", str(scale),
                          "--out", str(work / f"plain_{scale}x.parquet")], REPO, log)
    counts = json.loads(log.read_text().strip().splitlines()[-1])
    return {"wall_s": wall, "peak_rss_mb": peak / 2**20, "files": counts["files"], "kept": counts["kept"],
            "not_swedish": counts["not_swedish"], "duplicates": counts["duplicates"]}


def run(scales=(1, 4, 16, 64), repeats=(3, 3, 1, 1), data: Path = DEFAULT_DATA, plain_scales=(1, 4, 16)) -> dict:
    words = subtitle_corpus.ensure(data, max(scales))
    out = {"files_per_shard": subtitle_corpus.FILES_PER_SHARD, "scales": {}}
    with tempfile.TemporaryDirectory(prefix="arkivlm-bench-") as tmp:
        work = Path(tmp)
        for scale, n in zip(scales, repeats):
            runs = {"project": [], "plain": []}
            for i in range(n):
                print(f"bench corpus: {scale}x, run {i + 1}/{n}", file=sys.stderr)
                if scale in plain_scales:
                    runs["plain"].append(plain_run(data, scale, work))
                runs["project"].append(project_run(data, scale, work))
            med = {k: {"wall_s": statistics.median(r["wall_s"] for r in v),
                       "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in v), "last": v[-1],
                       "walls": [round(r["wall_s"], 1) for r in v]} for k, v in runs.items() if v}
            med["words"] = sum(words[s] for s in range(scale))
            med["ratio"] = med["project"]["wall_s"] / med["plain"]["wall_s"] if "plain" in med else None
            out["scales"][scale] = med
    return out


def markdown(r: dict) -> str:
    sc = r["scales"]
    rows = []
    for scale, m in sc.items():
        p, q = m["project"], m.get("plain")
        plain = f"{q['wall_s']:.1f} ({', '.join(map(str, q['walls']))})" if q else "not run"
        ratio = f"**{m['ratio']:.2f}**" if m.get("ratio") else "-"
        rows.append(f"| {scale}x | {p['last']['files']:,} | {m['words'] / 1e6:.1f} M | {plain} | "
                    f"{p['wall_s']:.1f} ({', '.join(map(str, p['walls']))}) | {ratio} | {q['peak_rss_mb']:.0f} | {p['peak_rss_mb']:.0f} |"
                    if q else f"| {scale}x | {p['last']['files']:,} | {m['words'] / 1e6:.1f} M | {plain} | "
                    f"{p['wall_s']:.1f} ({', '.join(map(str, p['walls']))}) | {ratio} | - | {p['peak_rss_mb']:.0f} |")
    first = next(iter(sc))
    scaling = [f"| {s}x | {m['project']['wall_s'] / sc[first]['project']['wall_s']:.2f} | "
               + (f"{m['plain']['wall_s'] / sc[first]['plain']['wall_s']:.2f} |" if "plain" in m else "- |")
               for s, m in sc.items()]
    stage_names = sorted({k for m in sc.values() for k in m["project"]["last"]["stages"]})
    stages = ["| stage | " + " | ".join(f"{s}x" for s in sc) + " |", "|---|" + "---|" * len(sc)]
    for name in stage_names:
        stages.append(f"| {name} | " + " | ".join(f"{m['project']['last']['stages'].get(name, float('nan')):.1f}" for m in sc.values()) + " |")
    def kept(run):
        return f"{run['last']['kept']:,} / {run['last']['not_swedish']:,} / {run['last']['duplicates']:,}" if run else "not run"

    outcome = [f"| {s}x | {kept(m.get('plain'))} | {kept(m['project'])} |" for s, m in sc.items()]
    return "\n".join([
        "## Corpus stage against a plain script (bench/corpus.py)",
        "",
        f"Generated broadcast subtitles (bench/subtitle_corpus.py): {r['files_per_shard']:,} SRT/WebVTT files per 1x, "
        "with reruns (exact and edited), Norwegian/Danish/English episodes and series boilerplate. "
        "*Plain script*: one process, `srt`/`webvtt-py`, fastText lid.176, datasketch `MinHash.update_batch` "
        "over character 5-grams and `MinHashLSH` (0.8), Parquet out (bench/plain_corpus.py). *Project*: "
        "`snakemake --cores all ... corpus` from a fresh results directory (ingest, clean, langid, quality, pii, "
        "dedup, split; three Spark applications). Seconds of wall time, median (all runs in brackets); peak "
        "memory is the largest RSS sum of the process tree.",
        "",
        "| scale | files | words | plain script s | project s | project / script | script peak MB | project peak MB |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Scaling of wall time (relative to 1x; linear would be 4, 16 and 64):",
        "",
        "| scale | project | plain script |", "|---|---|---|", *scaling,
        "",
        "Where the project's time goes (last run, seconds; `(application)` is the whole Spark application of "
        "that rule, start-up included):",
        "",
        *stages,
        "",
        "What each kept (kept / not Swedish / duplicates). The project also cleans cues (series intros and "
        "credits out; episodes that are nothing but boilerplate are dropped as empty), filters quality, "
        "redacts PII, and verifies every near-duplicate pair:",
        "",
        "| scale | plain script | project |", "|---|---|---|", *outcome,
        "",
    ])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--scales", default="1,4,16,64")
    p.add_argument("--repeats", default="3,3,1,1")
    p.add_argument("--plain-scales", default="1,4,16")
    p.add_argument("--data", default=str(DEFAULT_DATA))
    args = p.parse_args(argv)
    r = run(tuple(int(x) for x in args.scales.split(",")), tuple(int(x) for x in args.repeats.split(",")), Path(args.data),
            tuple(int(x) for x in args.plain_scales.split(",")))
    print(json.dumps(r, indent=1, default=str))
    print(markdown(r))


if __name__ == "__main__":
    main()
