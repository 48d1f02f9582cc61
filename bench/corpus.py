"""The corpus stages (ingest -> filter -> corpus, through Snakemake, all cores) against two peers on
the same files: the plain single-process script (bench/plain_corpus.py) and Hugging Face's
datatrove (bench/datatrove_corpus.py, in its own venv), on two archives at several scales:

- `subtitles`: the generated broadcast subtitle archive (bench/subtitle_corpus.py);
- `newsreels`: the real SRT files of journal-digital and word-shuffled replicas (bench/newsreel_corpus.py).

Wall time is the whole command, Snakemake and Spark start-up included; peak memory is the largest
sum of RSS over the command's process tree (JVM, Python workers, Snakemake), sampled every 0.2 s.

    python -m bench.corpus [--archive subtitles] [--scales 1,4,16,64] [--repeats 3,3,1,1]
                           [--plain-scales 1,4,16] [--datatrove-scales 1,4,16] [--data DIR]

The peers run only at their scales (the plain script's single process at 64x would take about 18
minutes more); the project runs at every scale.
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

import pandas as pd
import psutil
import yaml

from bench import newsreel_corpus, subtitle_corpus

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO / "bench" / ".data" / "subtitles"
ARCHIVES = {"subtitles": (subtitle_corpus, DEFAULT_DATA), "newsreels": (newsreel_corpus, REPO / "bench" / ".data" / "newsreels")}
DATATROVE_PYTHON = REPO / "bench" / ".venv-datatrove" / "bin" / "python"


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


def project_config(archive: str, data: Path, scale: int, results: Path) -> dict:
    sources = ARCHIVES[archive][0].sources(data, scale)
    cfg = {"results": str(results), "sources": sources, "release": {"allow_rights": ["public"]},
           "spark": {"master": "local[*]", "driver_memory": "4g", "shuffle_partitions": 4}}
    if archive == "newsreels":  # as configs/journal_digital.yaml: intertitle cards are short
        cfg["quality"] = {"gopher": {"min_words_by_source": {s["name"]: 10 for s in sources if s["ocr"]}}}
    return cfg


def archive_paths(archive: str, data: Path, scale: int) -> list[str]:
    """The files of the archive at `scale`, relative to `data`, sorted."""
    import glob

    return sorted(os.path.relpath(p, data) for src in ARCHIVES[archive][0].sources(data, scale)
                  for p in glob.glob(src["path"], recursive=True))


def warm_page_cache(archive: str, data: Path, scale: int) -> None:
    """Read every file of the archive at `scale` once, untimed, before each run: the first tool to
    meet the replicas of a scale would otherwise also time the disk (on this machine about 40 s of
    the project's ingest at 16x of the subtitle archive, cold against warm)."""
    for rel in archive_paths(archive, data, scale):
        with open(data / rel, "rb") as fh:
            while fh.read(1 << 20):
                pass


def kept_by_label(archive: str, data: Path, scale: int, kept_paths) -> dict | None:
    """{planted label: {planted, kept}} of the generated subtitle archive (None for other archives)."""
    if archive != "subtitles":
        return None
    labels = subtitle_corpus.labels(data, scale)
    out: dict = {}
    for label in labels.values():
        out.setdefault(label, {"planted": 0, "kept": 0})["planted"] += 1
    for path in kept_paths:
        label = labels.get(os.path.relpath(path, data) if os.path.isabs(path) else path)
        if label:
            out[label]["kept"] += 1
    return dict(sorted(out.items()))


def project_run(data: Path, scale: int, work: Path, archive: str = "subtitles") -> dict:
    results = work / "results"
    shutil.rmtree(results, ignore_errors=True)
    cfg = project_config(archive, data, scale, results)
    cfg_path = work / f"config_{scale}x.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    wall, peak = measure(["snakemake", "--cores", "all", "--configfile", str(cfg_path), "-q", "--", "corpus"],
                         REPO, work / f"project_{scale}x.log")
    stats = {p.stem: json.loads(p.read_text()) for p in (results / "stats").glob("*.json")}
    return {"wall_s": wall, "peak_rss_mb": peak / 2**20, "stages": stage_seconds(results),
            "files": stats["ingest"]["files_in"], "kept": stats["corpus"]["docs_out"],
            "after_language": stats["langid"]["docs_out"], "after_quality": stats["quality"]["docs_out"],
            "not_swedish": sum(stats["langid"]["dropped"].values()),
            "duplicates": sum(stats["dedup"]["dropped"].values()),
            "words": sum(v.get("words", 0) for v in stats["ingest"]["per_source"].values()),
            "kept_by_label": kept_by_label(archive, data, scale, [p for split in ("train", "validation") for p in
                                                                  pd.read_parquet(results / "corpus" / split, columns=["path"]).path])}


def plain_run(data: Path, scale: int, work: Path, archive: str = "subtitles") -> dict:
    log = work / f"plain_{scale}x.log"
    wall, peak = measure([sys.executable, "-m", "bench.plain_corpus", "--root", str(data), "--scale", str(scale),
                          "--archive", archive, "--out", str(work / f"plain_{scale}x.parquet")], REPO, log)
    counts = json.loads(log.read_text().strip().splitlines()[-1])
    return {"wall_s": wall, "peak_rss_mb": peak / 2**20, "files": counts["files"], "kept": counts["kept"],
            "after_language": counts["files"] - counts["unreadable"] - counts["not_swedish"], "after_quality": None,
            "not_swedish": counts["not_swedish"], "duplicates": counts["duplicates"],
            "kept_by_label": kept_by_label(archive, data, scale, pd.read_parquet(work / f"plain_{scale}x.parquet", columns=["path"]).path)}


def datatrove_run(data: Path, scale: int, work: Path, archive: str = "subtitles") -> dict:
    """datatrove's pipeline (bench/datatrove_corpus.py) in its own venv, as many workers as cores;
    thresholds as the project's where both have one (Swedish stop words, minimum words)."""
    from arkivlm.filters.quality import DEFAULTS, SWEDISH_STOP_WORDS
    from arkivlm.langid import default_model_path

    if not DATATROVE_PYTHON.exists():
        raise RuntimeError(f"{DATATROVE_PYTHON} missing: make bench-venv-datatrove")
    gopher = DEFAULTS["gopher"]
    spec = {"root": str(data), "paths": archive_paths(archive, data, scale), "lid_model": default_model_path(),
            "stop_words": sorted(SWEDISH_STOP_WORDS), "workers": os.cpu_count(),
            # one minimum for all documents: the project's 30 for subtitles; on the newsreels its smaller
            # one (10, intertitle cards) so that datatrove is not stricter than the project anywhere
            "min_doc_words": 10 if archive == "newsreels" else gopher["min_words_by_modality"]["subtitle"]}
    (work / "datatrove_spec.json").write_text(json.dumps(spec))
    log = work / f"datatrove_{scale}x.log"
    wall, peak = measure([str(DATATROVE_PYTHON), str(REPO / "bench" / "datatrove_corpus.py"), "--spec", str(work / "datatrove_spec.json"),
                          "--work", str(work / "datatrove")], REPO, log)
    counts = json.loads(next(line for line in reversed(log.read_text().splitlines()) if line.startswith("{")))
    kept_ids = pd.read_parquet(work / "datatrove" / "output", columns=["id"]).id
    shutil.rmtree(work / "datatrove", ignore_errors=True)
    return {"wall_s": wall, "peak_rss_mb": peak / 2**20, **counts, "kept_by_label": kept_by_label(archive, data, scale, kept_ids)}


PEERS = {"plain": plain_run, "datatrove": datatrove_run, "project": project_run}


def snakemake_start_seconds() -> float:
    """Seconds `snakemake --version` takes (best of two): part of every project run. Where Slurm's
    tools are installed but no controller answers, Snakemake's Slurm executor plugin waits 10 s on
    `scontrol show config` at every start (`make bench` starts the test Slurm first for that reason)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"}
    best = float("inf")
    for _ in range(2):
        t0 = time.perf_counter()
        subprocess.run(["snakemake", "--version"], cwd=REPO, env=env, check=True, capture_output=True)
        best = min(best, time.perf_counter() - t0)
    return best


def run(scales=(1, 4, 16, 64), repeats=(3, 3, 1, 1), data: Path | None = None, plain_scales=(1, 4, 16),
        datatrove_scales=(1, 4, 16), archive: str = "subtitles") -> dict:
    module, default_data = ARCHIVES[archive]
    data = Path(data or default_data)
    module.ensure(data, max(scales))
    out = {"archive": archive, "scales": {}, "snakemake_start_s": snakemake_start_seconds()}
    if out["snakemake_start_s"] > 3:
        print(f"bench corpus: warning: `snakemake --version` takes {out['snakemake_start_s']:.1f} s here (a Slurm "
              "client without a controller? run `make slurm` as root); every project run includes it", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="arkivlm-bench-") as tmp:
        work = Path(tmp)
        for scale, n in zip(scales, repeats):
            runs = {"plain": [], "datatrove": [], "project": []}
            for i in range(n):  # the three alternate, so that a busy moment does not favour one
                print(f"bench corpus: {archive} {scale}x, run {i + 1}/{n}", file=sys.stderr)
                for peer, fn in PEERS.items():
                    if peer == "project" or scale in {"plain": plain_scales, "datatrove": datatrove_scales}[peer]:
                        warm_page_cache(archive, data, scale)
                        runs[peer].append(fn(data, scale, work, archive))
            med = {k: {"wall_s": statistics.median(r["wall_s"] for r in v),
                       "peak_rss_mb": statistics.median(r["peak_rss_mb"] for r in v), "last": v[-1],
                       "walls": [round(r["wall_s"], 1) for r in v]} for k, v in runs.items() if v}
            med["words"] = runs["project"][-1]["words"]
            for peer in ("plain", "datatrove"):
                med[f"over_{peer}"] = med["project"]["wall_s"] / med[peer]["wall_s"] if peer in med else None
            out["scales"][scale] = med
    return out


TITLES = {"subtitles": "generated broadcast subtitles (bench/subtitle_corpus.py)",
          "newsreels": "real newsreel SRT files (journal-digital, bench/newsreel_corpus.py)"}


def markdown(r: dict) -> str:
    sc, archive = r["scales"], r["archive"]

    def wall(m, peer):
        q = m.get(peer)
        return f"{q['wall_s']:.1f} ({', '.join(map(str, q['walls']))})" if q else "not run"

    def ratio(m, peer):
        return f"**{m[f'over_{peer}']:.2f}**" if m.get(f"over_{peer}") else "-"

    def peak(m, peer):
        return f"{m[peer]['peak_rss_mb']:.0f}" if peer in m else "-"

    rows = [f"| {s}x | {m['project']['last']['files']:,} | {m['words'] / 1e6:.1f} M | {wall(m, 'plain')} | {wall(m, 'datatrove')} | "
            f"{wall(m, 'project')} | {ratio(m, 'plain')} | {ratio(m, 'datatrove')} | "
            f"{peak(m, 'plain')} / {peak(m, 'datatrove')} / {peak(m, 'project')} |" for s, m in sc.items()]
    stage_names = sorted({k for m in sc.values() for k in m["project"]["last"]["stages"]})
    stages = ["| stage | " + " | ".join(f"{s}x" for s in sc) + " |", "|---|" + "---|" * len(sc)]
    for name in stage_names:
        stages.append(f"| {name} | " + " | ".join(f"{m['project']['last']['stages'].get(name, float('nan')):.1f}" for m in sc.values()) + " |")

    def kept(m, peer):
        if peer not in m:
            return "not run"
        last = m[peer]["last"]
        quality = f"{last['after_quality']:,}" if last.get("after_quality") is not None else "(none)"
        return f"{last['after_language']:,} / {quality} / {last['kept']:,}"

    outcome = [f"| {s}x | {kept(m, 'plain')} | {kept(m, 'datatrove')} | {kept(m, 'project')} |" for s, m in sc.items()]
    by_label = []
    groups = {"Norwegian episodes": ("no",), "Danish episodes": ("da",), "English episodes": ("en",),
              "Swedish episodes (an original, its reruns and edited reruns)": ("original", "rerun", "edited")}
    for s, m in sc.items():
        if not m["project"]["last"].get("kept_by_label"):
            continue
        for title, labels in groups.items():
            planted = m["project"]["last"]["kept_by_label"]
            should = 0 if labels[0] != "original" else planted["original"]["planted"]
            kept = [f"{sum(m[p]['last']['kept_by_label'][label]['kept'] for label in labels):,}" if p in m else "-"
                    for p in ("plain", "datatrove", "project")]
            by_label.append(f"| {s}x | {title} | {sum(planted[label]['planted'] for label in labels):,} | {should:,} | "
                            + " | ".join(kept) + " |")
    if by_label:
        by_label = ["", "Kept per planted label. A foreign episode should not be kept; of an original Swedish episode "
                    "and its exact and edited reruns, one copy should be (the originals' count, less what a quality "
                    "filter drops; which copy is kept differs by tool):", "",
                    "| scale | planted | files | should be kept | plain kept | datatrove kept | project kept |",
                    "|---|---|---|---|---|---|---|", *by_label]
    return "\n".join([
        f"## Corpus stages against two peers: {archive} (bench/corpus.py)",
        "",
        f"The {TITLES[archive]}. *Plain script*: one process, `srt`/`webvtt-py`, fastText lid.176, datasketch "
        "`MinHash.update_batch` over character 5-grams and `MinHashLSH` (0.8), Parquet out (bench/plain_corpus.py). "
        "*datatrove*: its reader base with `srt`/`webvtt-py`, `LanguageFilter` (lid.176, Swedish at 0.65), "
        "`GopherRepetitionFilter` and `GopherQualityFilter` (swe, the project's Swedish stop words and minimum words), "
        "its four-stage MinHash dedup, `LocalPipelineExecutor` with a worker per core (bench/datatrove_corpus.py, own venv). "
        "*Project*: `snakemake --cores all ... corpus` from a fresh results directory (ingest, clean, lines, langid, "
        "quality, pii, dedup, split), Snakemake's own start included (`snakemake --version`: "
        f"{r.get('snakemake_start_s', float('nan')):.1f} s). Seconds of wall time, median (all runs in brackets, the "
        "three alternated, the archive's files read once, untimed, before each run so that none times the disk); "
        "peak memory is the largest RSS sum of the process tree.",
        "",
        "| scale | files | words | plain s | datatrove s | project s | project / plain | project / datatrove | peak MB plain / datatrove / project |",
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Where the project's time goes (last run, seconds; `(application)` is the whole Spark application of "
        "that rule, start-up included):",
        "",
        *stages,
        "",
        "What each kept: documents after language ID / after quality filters / after dedup (the plain script "
        "has no quality filter). The project also cleans cues and lines and redacts PII:",
        "",
        "| scale | plain script | datatrove | project |", "|---|---|---|---|", *outcome,
        *by_label,
        "",
    ])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--archive", default="subtitles", choices=sorted(ARCHIVES))
    p.add_argument("--scales", default="1,4,16")
    p.add_argument("--repeats", default="3,3,1")
    p.add_argument("--plain-scales", default="1,4,16")
    p.add_argument("--datatrove-scales", default="1,4,16")
    p.add_argument("--data", default=None)
    args = p.parse_args(argv)

    def ints(text):
        return tuple(int(x) for x in text.split(",") if x)

    r = run(ints(args.scales), ints(args.repeats), args.data, ints(args.plain_scales), ints(args.datatrove_scales), args.archive)
    print(json.dumps(r, indent=1, default=str))
    print(markdown(r))


if __name__ == "__main__":
    main()
