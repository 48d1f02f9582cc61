"""`make bench`: every benchmark, side by side, into bench/RESULTS.md (not part of the tests).

    python -m bench.run [--only minhash,dedup]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def machine() -> str:
    import numpy
    import pyspark

    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
    return (f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, numpy {numpy.__version__}, "
            f"pyspark {pyspark.__version__}")


def bench_minhash() -> str:
    from bench import minhash

    r = minhash.run()
    rows = "".join(f"| {minhash.ARMS[arm]} | {rate} |\n" for arm, rate in r["docs_per_s"].items())
    return ("## MinHash signatures (one core)\n\n"
            f"{r['docs']} generated Swedish articles, mean key {r['mean_key_chars']} characters, character 5-grams, "
            "128 permutations, from key string to LSH band hashes, median of 3 runs. Every arm builds its "
            "permutations once; the project arm is the dedup stage's own call.\n\n"
            "| code | docs/s |\n|---|---|\n" + rows + "\n"
            f"The project signs {r['project_over_best_datasketch']}x as many documents per second as datasketch at its best; "
            f"rensa's batch call is {r['rensa_batch_over_project']}x the project.\n")


def bench_corpus() -> str:
    """The corpus stages against the plain script and datatrove, on the generated subtitles and on
    the real newsreels, at 1x, 4x and 16x."""
    from bench import corpus

    sections = []
    for archive in ("subtitles", "newsreels"):
        r = corpus.run(scales=(1, 4, 16), repeats=(3, 3, 1), archive=archive)
        (HERE / f"corpus_results_{archive}.json").write_text(json.dumps(r, indent=1, default=str))
        sections.append(corpus.markdown(r))
    return "\n".join(sections)


def bench_dedup() -> str:
    from arkivlm.spark import get_session
    from bench import near_duplicates as nd

    spark = get_session({"master": "local[*]", "shuffle_partitions": 4}, app_name="arkivlm-bench")
    docs = nd.build(n_groups=300, seed=3)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        scores, stats = nd.run_dedup(spark, docs, tmp)
        wall = time.perf_counter() - t0
    spark.stop()
    base = nd.word_ngram_baseline(docs)
    kinds = {}
    for d in docs:
        kinds[d["kind"]] = kinds.get(d["kind"], 0) + 1
    return ("## Near-duplicate benchmark (dedup stage)\n\n"
            f"{len(docs)} documents in 300 groups ({', '.join(f'{k}: {v}' for k, v in sorted(kinds.items()))}); "
            "OCR reprints have 1-3% character confusions and hyphenated line breaks, crops lose 3-12% at each end, "
            "siblings are distinct documents from the same sentence templates.\n\n"
            f"| precision | recall | F1 | true pairs | predicted pairs | candidate pairs | verified pairs | wall |\n|---|---|---|---|---|---|---|---|\n"
            f"| {scores['precision']} | {scores['recall']} | {scores['f1']} | {scores['true_pairs']} | "
            f"{scores['predicted_pairs']} | {stats['candidate_pairs']} | {stats['verified_pairs']} | {wall:.1f} s |\n\n"
            f"For comparison, word 5-gram Jaccard >= 0.8 (the usual MinHash recipe, computed exactly): precision "
            f"{base['precision']}, recall {base['recall']}, F1 {base['f1']}.\n")


def bench_training() -> str:
    from bench import training

    r = training.run()
    t, tr = r["tokenizer"], r["training"]
    return ("## Tokenizer stage and training step\n\n"
            f"Tokenizer: the whole stage (byte-level BPE for the causal models and WordPiece for the masked, vocabulary "
            f"8000 each) on {t['chars']:,} characters of generated Swedish, median of 3.\n\n"
            "| | seconds |\n|---|---|\n"
            f"| `tokenizers` called directly on a list of texts: the same two trainings (BPE, WordPiece with its own trainer) | {t['raw_s']} |\n"
            f"| arkivlm tokenizer stage (both streamed from Parquet, saved with HF files, fertility of each on validation) | {t['stage_s']} |\n\n"
            f"Ratio: **{t['ratio']}x** (target at most 1.25x).\n\n"
            f"Training: tiny Llama-style model, the config's run: {tr['steps']} steps of {tr['batch']} x {tr['block']} tokens, "
            f"validation ({tr['val_blocks']} blocks) and checkpoints every {tr['val_every']} steps, timed from step {tr['warm']} "
            f"to the end, CPU fp32, median of {tr['repeats']} runs of each, alternated.\n\n"
            "| | tokens/s |\n|---|---|\n"
            f"| the workflow's Trainer (`pretrain.build_trainer`: checkpoints, validation, TensorBoard + CSV logs, throughput and LR monitors) | {tr['lightning_tokens_per_s']} |\n"
            f"| plain PyTorch loop: same model, blocks, optimizer, schedule and clipping; same validation and checkpoint writes, a CSV log | {tr['plain_tokens_per_s']} |\n\n"
            f"Lightning overhead: **{tr['overhead_pct']}%** (target at most 5%).\n")


def bench_lines() -> str:
    """configs/journal_digital.yaml (the whole journal-digital package) up to the corpus: lines removed
    per source and reason, the filter stages' times, and the hand-labelled line sample."""
    import yaml

    from bench import line_labels

    work = HERE / "out" / "journal_digital"
    cfg = yaml.safe_load((HERE.parent / "configs" / "journal_digital.yaml").read_text())
    root = cfg["sample_archive"]["path"]
    cfg["results"], cfg["sample_archive"]["path"] = str(work / "results"), str(work / "archive")
    for src in cfg["sources"]:
        src["path"] = src["path"].replace(root, str(work / "archive"), 1)
    work.mkdir(parents=True, exist_ok=True)
    (work / "config.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    subprocess.run([sys.executable, "-m", "snakemake", "corpus", "--cores", "all", "--forceall", "--configfile",
                    str(work / "config.yaml")], cwd=HERE.parent, check=True, capture_output=True)
    res = work / "results"
    stats = {s: json.loads((res / "stats" / f"{s}.json").read_text()) for s in ("ingest", "lines", "corpus")}
    chain = next(json.loads(l) for l in (res / "logs" / "filter.log").read_text().splitlines() if l.startswith('{"stage": "filter"'))
    out = ["## Line-level cleaning on real archive text (configs/journal_digital.yaml)\n",
           "The whole `journal-digital` package: 6,871 SRT files of Swedish newsreels 1907-1966 (speech transcripts, "
           "and OCR'd intertitles marked `ocr: true`).\n",
           "| source | lines | removed | by reason (largest) |", "|---|---|---|---|"]
    for source, st in stats["lines"]["per_source"].items():
        n = sum(st["lines_removed"].values())
        top = ", ".join(f"{r} {c:,}" for r, c in sorted(st["lines_removed"].items(), key=lambda x: -x[1])[:4])
        out.append(f"| {source} | {st['lines_in']:,} | {n:,} ({n / max(1, st['lines_in']):.1%}) | {top} |")
    out += ["", "| source | documents read | words read | documents in corpus | words in corpus |", "|---|---|---|---|---|"]
    for source, st in stats["ingest"]["per_source"].items():
        c = stats["corpus"]["per_source"].get(source, {"docs": 0, "words": 0})
        out.append(f"| {source} | {st['docs']:,} | {st['words']:,} | {c['docs']:,} | {c['words']:,} |")
    out += ["", "Filter stages (one Spark application, 2 cores): " +
            ", ".join(f"{k} {v['seconds']} s" for k, v in chain["stages"].items()) +
            f"; {sum(v['seconds'] for v in chain['stages'].values()):.1f} s in all.", "",
            "Hand-labelled samples of the intertitles' OCR lines (S Swedish, G garbage, F another language; "
            "`python -m bench.line_labels <results>`). bench/labels/intertitle_lines.tsv, 300 random lines, on which "
            "the line thresholds were chosen:", "", line_labels.markdown(str(res)),
            "bench/labels/intertitle_lines_heldout.tsv, 150 more random lines labelled after the thresholds were "
            "settled (never used to tune them):", "", line_labels.markdown(str(res), line_labels.HELDOUT)]
    return "\n".join(out)


def bench_ablation() -> str:
    """`snakemake ablation` on configs/journal_digital.yaml (real newsreel text) and on the sample
    (config.yaml); reuses their results directories when they are up to date."""
    from arkivlm import ablation

    out = ["## Ablation: the same model on each variant of the corpus (snakemake ablation)\n"]
    for label, args in (("journal-digital (configs/journal_digital.yaml, real text)", ["--configfile", "configs/journal_digital.yaml"]),
                        ("the sample archive (config.yaml: generated text and a 3-year journal-digital slice)", [])):
        subprocess.run([sys.executable, "-m", "snakemake", "ablation", "--cores", "all", *args], cwd=HERE.parent, check=True,
                       capture_output=True)
        import yaml

        cfg = yaml.safe_load((HERE.parent / (args[1] if args else "config.yaml")).read_text())
        summary = json.loads((HERE.parent / cfg["results"] / "ablation" / "summary.json").read_text())
        section = ablation.markdown_section(summary).split("\n", 2)[2]  # without its heading
        seeds = ["| variant | " + " | ".join(f"seed {s}" for s in next(iter(summary["variants"].values()))["seeds"]) + " |",
                 "|---|" + "---|" * len(next(iter(summary["variants"].values()))["seeds"])]
        for name, v in summary["variants"].items():
            seeds.append(f"| {name} | " + " | ".join(f"{x['heldout_perplexity']:.2f}" for x in v["seeds"].values()) + " |")
        out += [f"### {label}\n", section, "Held-out perplexity per seed:\n", *seeds, ""]
    return "\n".join(out)


def bench_gpu() -> str:
    """The GPU section from the committed results of bench/gpu_throughput.py (measured where a GPU was lent)."""
    from bench import gpu_throughput

    return gpu_throughput.markdown(str(HERE / "gpu_throughput_h200.jsonl"))


def bench_scales() -> str:
    from bench import corpus_scales

    corpus_scales.main([])
    return next(sec for sec in ("## " + p for p in (HERE / "RESULTS.md").read_text().split("\n## ")[1:])
                if sec.startswith("## Corpus stages by scale"))


def bench_listing() -> str:
    from bench import listing

    return listing.markdown(listing.main(["--repeats", "5"]))


def bench_block_lid() -> str:
    import contextlib
    import io

    from bench import block_lid

    with contextlib.redirect_stdout(io.StringIO()):
        result = block_lid.main([])
    return block_lid.markdown(result)


def bench_mixture() -> str:
    from bench import mixture_sampler

    return mixture_sampler.markdown(mixture_sampler.main([]))


def bench_containers() -> str:
    """The stress test of the archive's containers, run for its figures."""
    subprocess.run([sys.executable, "-m", "pytest", "-q", "tests/test_stress_containers.py"], cwd=HERE.parent, check=True,
                   capture_output=True)
    f = json.loads((HERE.parent / "test-artifacts" / "stress_containers.json").read_text())
    paket, webb = f["per_source"]["paket"], f["per_source"]["webb"]
    return "\n".join([
        "## A 100,000-member package and a 500 MB WARC through ingest (tests/test_stress_containers.py)\n",
        "Ingest on a Spark standalone cluster of two one-core workers, executor heaps of 1 GiB; generated text "
        "(Zipf-weighted Swedish words), real formats.\n",
        "| input | size | files (members) | documents | records skipped | executors lost |", "|---|---|---|---|---|---|",
        f"| one tar of {f['package_members']:,} members (METS + ALTO) | - | {paket['files_in']:,} | {paket['docs']:,} | "
        f"{', '.join(f'{k}: {v:,}' for k, v in paket['records_skipped'].items())} | {f['executors_lost']} |",
        f"| one WARC | {f['warc_bytes'] / 2**20:,.0f} MB, {f['warc_records']:,} records | 1 | {webb['docs']:,} | "
        f"{', '.join(f'{k}: {v:,}' for k, v in webb['records_skipped'].items())} | {f['executors_lost']} |",
        "",
        f"Ingest wall {f['ingest_wall_s']} s for both (archive written in {f['archive_build_s']} s); peak RSS (MB): "
        + ", ".join(f"{k} {v}" for k, v in f["peak_rss_mb"].items()) + ".", ""])


BENCHES = {"lines": bench_lines, "corpus": bench_corpus, "scales": bench_scales, "minhash": bench_minhash, "dedup": bench_dedup, "training": bench_training,
           "ablation": bench_ablation, "gpu": bench_gpu,
           "listing": bench_listing, "block_lid": bench_block_lid, "containers": bench_containers,
           "mixture": bench_mixture}


def sections_of(text: str) -> list[str]:
    """`text` cut before each `## ` heading: what precedes the first, then each section."""
    parts = text.split("\n## ")
    return [parts[0]] + ["## " + p for p in parts[1:]]


def merge(old: str, sections: list[str]) -> str:
    """`old` with the sections of the same heading replaced by `sections` (new ones appended)."""
    head, *rest = sections_of(old)
    new = {sec.splitlines()[0]: sec.rstrip("\n") + "\n" for sec in sections}
    out = [head.rstrip("\n") + "\n"]
    for sec in rest:
        title = sec.splitlines()[0]
        out.append(new.pop(title, sec.rstrip("\n") + "\n"))
    return "\n".join(out + list(new.values()))


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--only", default=None, help="comma-separated benchmarks; their sections replace those in RESULTS.md")
    args = p.parse_args()
    names = args.only.split(",") if args.only else list(BENCHES)
    sections = []
    for name in names:
        print(f"bench: {name}", file=sys.stderr)
        sections += sections_of(BENCHES[name]())
    out = HERE / "RESULTS.md"
    head = f"# Benchmarks\n\nMachine: {machine()}. Written by `make bench` on {time.strftime('%Y-%m-%d')}.\n"
    if args.only and out.exists():
        out.write_text(merge(out.read_text(), sections))
    else:
        kept = ""
        if out.exists() and "## GPU" in out.read_text():  # figures measured on a lent GPU are kept
            kept = "\n" + out.read_text()[out.read_text().index("## GPU"):]
        out.write_text("\n".join([head] + sections) + kept)
    print(out.read_text())


if __name__ == "__main__":
    main()
