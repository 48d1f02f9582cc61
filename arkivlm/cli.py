"""`python -m arkivlm <stage> ...`: every workflow stage, runnable on its own.

Each stage takes its settings as one JSON object (`--settings`, a string or @file) and its
inputs and outputs as paths; the Snakemake rules are thin calls of these commands.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path


def _json(value: str):
    if value.startswith("@"):
        with open(value[1:], encoding="utf-8") as fh:
            return json.load(fh)
    return json.loads(value)


def _spark(args, stage: str):
    from arkivlm.spark import get_session

    return get_session(args.spark, app_name=f"arkivlm-{stage}")


def cmd_sample(args):
    from arkivlm.sample.archive import generate

    generate(args.root, seed=args.seed, scale=args.scale, journal_digital=args.journal_digital, generated=not args.no_generated,
             plant_tasks=args.plant_tasks)


def cmd_ingest(args):
    from arkivlm import ingest

    return ingest.run(_spark(args, "ingest"), args.sources, args.settings, args.docs, args.quarantine, args.stats)


def cmd_clean(args):
    from arkivlm import clean

    return clean.run(_spark(args, "clean"), args.settings, args.allow_rights, args.input, args.docs, args.dropped, args.stats)


def cmd_lines(args):
    from arkivlm import lines

    return lines.run(_spark(args, "lines"), args.settings, args.input, args.docs, args.dropped, args.stats, args.removed)


def cmd_langid(args):
    from arkivlm import langid

    return langid.run(_spark(args, "langid"), args.settings, args.input, args.docs, args.dropped, args.stats)


def cmd_quality(args):
    from arkivlm import quality

    return quality.run(_spark(args, "quality"), args.settings, args.input, args.docs, args.dropped, args.stats)


def cmd_pii(args):
    from arkivlm import pii

    return pii.run(_spark(args, "pii"), args.settings, args.input, args.docs, args.dropped, args.stats)


def cmd_dedup(args):
    from arkivlm import dedup

    return dedup.run(_spark(args, "dedup"), args.settings, args.input, args.docs, args.dropped, args.stats)


def cmd_decontaminate(args):
    from arkivlm import decontaminate

    return decontaminate.run(_spark(args, "decontaminate"), args.settings, args.task_texts, args.input, args.docs,
                             args.dropped, args.stats)


def cmd_task_texts(args):
    from arkivlm import decontaminate

    return {"stage": "task-texts", "tasks": decontaminate.main_task_texts(args.tasks, args.out)}


def cmd_split(args):
    from arkivlm import decontaminate, split

    return split.run(_spark(args, "split"), args.settings, decontaminate.output_table(args.input), args.train,
                     args.validation, args.stats)


def cmd_filter(args):
    from arkivlm import stage_chains
    from arkivlm.spark import resolve_settings

    return stage_chains.run_filter(_spark(args, "filter"), args.settings, args.allow_rights, args.input,
                                   args.interim, args.dropped, args.stats_dir,
                                   resolve_settings(args.spark)["row_stage_checkpoints_min_docs"])


def cmd_corpus(args):
    from arkivlm import stage_chains

    return stage_chains.run_corpus(_spark(args, "corpus"), args.settings, args.input, args.interim, args.dropped,
                                   args.stats_dir, args.train, args.validation, args.task_texts)


def cmd_tokenizer(args):
    from arkivlm import tokenizer

    return tokenizer.train(args.train, args.validation, args.out, args.stats, args.settings)


def cmd_pack(args):
    from arkivlm import pack

    from arkivlm.tokenizer import tokenizer_path

    return pack.run(tokenizer_path(args.tokenizer, args.family), args.family, args.train, args.validation, args.out, args.settings,
                    args.dropped_dedup)


def cmd_pretrain(args):
    from arkivlm.train import pretrain

    return pretrain.run(args.model, args.packed, args.tokenizer, args.out, args.settings, args.data_card, args.validation,
                        mixture_out=args.mixture_out)


def cmd_mixture_plan(args):
    import json
    from pathlib import Path

    from arkivlm.train import pretrain

    s = pretrain.settings_for(args.model, args.settings)
    result = pretrain.mixture_plan(args.model, s, args.packed, s["batch_size"] * s["accumulate"] * args.ranks, args.key)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({**result, "ranks": args.ranks}, indent=1))
    return result


def cmd_evaluate(args):
    from arkivlm import evaluate

    return evaluate.run(args.model_dir, args.packed, args.out, args.validation, tasks=args.tasks,
                        tasks_out=args.tasks_out, settings=args.settings)


def cmd_datacard(args):
    from arkivlm import datacard

    datacard.run(args.config, args.stats_dir, args.packed_dir, args.md, args.html, args.mixture_dir)


def cmd_ablation_data(args):
    from arkivlm import ablation

    return ablation.build(_spark(args, "ablation"), args.settings, args.config, args.results, args.tokenizer,
                          args.heldout, args.out, task_texts=args.task_texts)


def cmd_ablation_report(args):
    from arkivlm import ablation

    out = {k: getattr(args, k) for k in ("summary", "table", "chart", "card_md", "card_html")}
    return ablation.report(args.variants, args.eval_dir, args.config, args.stats_dir, args.packed_dir, out)


def cmd_figures(args):
    from arkivlm import report

    report.run(args.config, args.results, {name: str(Path(args.out_dir) / f"{name}{ext}") for name, ext in FIGURES.items()})


FIGURES = {**{n: ".png" for n in ("flow_by_stage", "flow_by_source", "document_lengths", "langid_scores", "dedup_clusters",
                                   "ocr_confidence", "decades", "fertility", "training_loss", "learning_rate", "throughput", "mixture",
                                   "perplexity", "perplexity_by_decade", "task_scores")},
           **{n: ".csv" for n in ("stage_stats", "drop_reasons", "pii", "rights", "lines_removed", "task_table")},
           "audit": ".html"}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m arkivlm", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="stage", required=True)

    s = sub.add_parser("sample", help="write the bundled sample archive")
    s.add_argument("root")
    s.add_argument("--seed", type=int, default=20261126)
    s.add_argument("--scale", type=float, default=1.0)
    s.add_argument("--journal-digital", type=_json, default=None,
                   help='also copy real newsreel SRT files: {"years": [...], "collections": [...]} ({} for all)')
    s.add_argument("--no-generated", action="store_true", help="only the journal-digital slice")
    s.add_argument("--plant-tasks", default=None, help="folder of the bundled tasks: books holding their items")
    s.set_defaults(func=cmd_sample)

    def stage(name, func, *paths, extra=()):
        s = sub.add_parser(name)
        s.add_argument("--settings", type=_json, default={})
        s.add_argument("--spark", type=_json, default={})
        for flag in extra:
            s.add_argument(f"--{flag}", type=_json, required=True)
        for path in paths:
            s.add_argument(f"--{path}", required=True)
        s.set_defaults(func=func)

    stage("ingest", cmd_ingest, "docs", "quarantine", "stats", extra=("sources",))
    stage("clean", cmd_clean, "input", "docs", "dropped", "stats", extra=("allow_rights",))
    stage("lines", cmd_lines, "input", "docs", "dropped", "stats")
    sub.choices["lines"].add_argument("--removed", default=None, help="table of removed lines (default: <docs>_removed)")
    stage("langid", cmd_langid, "input", "docs", "dropped", "stats")
    stage("quality", cmd_quality, "input", "docs", "dropped", "stats")
    stage("pii", cmd_pii, "input", "docs", "dropped", "stats")
    stage("dedup", cmd_dedup, "input", "docs", "dropped", "stats")
    stage("decontaminate", cmd_decontaminate, "input", "docs", "dropped", "stats")
    sub.choices["decontaminate"].add_argument("--task-texts", default=None, help="the tasks' texts (task-texts)")
    stage("split", cmd_split, "input", "train", "validation", "stats")
    # The chains the workflow runs: several stages in one Spark application (arkivlm.stage_chains);
    # --settings holds one config section per stage, outputs go to <dir>/<stage>.
    stage("filter", cmd_filter, "input", "interim", "dropped", "stats-dir", extra=("allow_rights",))
    stage("corpus", cmd_corpus, "input", "interim", "dropped", "stats-dir", "train", "validation")
    sub.choices["corpus"].add_argument("--task-texts", default=None, help="the tasks' texts, for decontamination")
    s = sub.add_parser("task-texts", help="every item's text of lm-eval task files, for decontamination")
    s.add_argument("--tasks", type=_json, default=[], help="JSON list of task YAML files")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_task_texts)
    stage("tokenizer", cmd_tokenizer, "train", "validation", "out", "stats")
    s = sub.add_parser("pack")
    s.add_argument("--family", choices=["causal", "masked"], required=True)
    s.add_argument("--settings", type=_json, default={})
    for path in ("tokenizer", "train", "validation", "out"):
        s.add_argument(f"--{path}", required=True)
    s.add_argument("--dropped-dedup", default=None, help="dedup's dropped table: each document's duplicate-cluster size")
    s.set_defaults(func=cmd_pack)
    s = sub.add_parser("pretrain")
    s.add_argument("--model", type=_json, required=True, help="the model's config entry")
    s.add_argument("--settings", type=_json, default={}, help="the `train` section (a model's own `train` wins)")
    for path in ("packed", "tokenizer", "out"):
        s.add_argument(f"--{path}", required=True)
    s.add_argument("--data-card", default=None, help="the data card (Markdown) for the model card")
    s.add_argument("--validation", default=None, help="packed split to validate on (default: <packed>/validation)")
    s.add_argument("--mixture-out", default=None, help="the mixture's plan and tokens seen (default: <out>/mixture.json)")
    s.set_defaults(func=cmd_pretrain)
    s = sub.add_parser("mixture-plan", help="a model's data mixture planned over its run; fails when it cannot be met")
    s.add_argument("--model", type=_json, required=True, help="the model's config entry, its mixture in it")
    s.add_argument("--settings", type=_json, default={}, help="the `train` section")
    s.add_argument("--packed", required=True)
    s.add_argument("--ranks", type=int, default=1, help="the ranks the training job will have")
    s.add_argument("--key", default="mixture", help="the mixture's config key, for messages")
    s.add_argument("--out", required=True)
    s.set_defaults(func=cmd_mixture_plan)
    s = sub.add_parser("datacard")
    s.add_argument("--config", type=_json, required=True)
    for path in ("stats-dir", "packed-dir", "md", "html"):
        s.add_argument(f"--{path}", required=True)
    s.add_argument("--mixture-dir", default=None, help="the models' mixture plans (mixture/<model>.plan.json)")
    s.set_defaults(func=cmd_datacard)
    s = sub.add_parser("figures")
    s.add_argument("--config", type=_json, required=True)
    for path in ("results", "out-dir"):
        s.add_argument(f"--{path}", required=True)
    s.set_defaults(func=cmd_figures)
    s = sub.add_parser("ablation-data", help="the ablation's variants of the corpus, as token shards")
    s.add_argument("--settings", type=_json, default={}, help="the `ablation` section")
    s.add_argument("--config", type=_json, required=True, help="the stages' sections: clean, lines, langid, quality, pii, dedup, decontamination, release")
    s.add_argument("--spark", type=_json, default={})
    for path in ("results", "tokenizer", "heldout", "out"):
        s.add_argument(f"--{path}", required=True)
    s.add_argument("--task-texts", default=None, help="the tasks' texts: every variant is decontaminated against them")
    s.set_defaults(func=cmd_ablation_data)
    s = sub.add_parser("ablation-report", help="summary.json, table, chart and data card of an ablation")
    s.add_argument("--config", type=_json, required=True)
    for path in ("variants", "eval-dir", "stats-dir", "packed-dir", "summary", "table", "chart", "card-md", "card-html"):
        s.add_argument(f"--{path}", required=True)
    s.set_defaults(func=cmd_ablation_report)
    s = sub.add_parser("evaluate")
    for path in ("model-dir", "packed", "out"):
        s.add_argument(f"--{path}", required=True)
    s.add_argument("--validation", default=None, help="packed split to evaluate on (default: <packed>/validation)")
    s.add_argument("--tasks", type=_json, default=[], help="JSON list of lm-eval task YAML files (evaluate.tasks)")
    s.add_argument("--tasks-out", default=None, help="the task scores (default: tasks.json beside --out)")
    s.add_argument("--settings", type=_json, default={}, help="the `evaluate` section")
    s.set_defaults(func=cmd_evaluate)
    return p


def main(argv: list[str] | None = None) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = build_parser().parse_args(argv)
    t0 = time.time()
    try:
        result = args.func(args)
    except Exception as e:  # one clear line for known setup problems, a traceback otherwise
        from arkivlm.spark import JavaMissingError

        if isinstance(e, JavaMissingError):
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        raise
    if isinstance(result, dict):
        keep = ("stage", "docs_in", "docs_out", "dropped", "files_in", "files_ok", "files_quarantined", "train",
                "validation", "stages", "model", "steps", "tokens_seen", "val_loss", "perplexity", "val_loss_lightning")
        print(json.dumps({k: v for k, v in result.items() if k in keep}, ensure_ascii=False, default=str))
    print(f"{args.stage}: done in {time.time() - t0:.1f}s", file=sys.stderr)
