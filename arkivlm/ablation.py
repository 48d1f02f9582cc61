"""Ablation: the same model trained on each variant of the corpus, evaluated on one held-out set.

Variants (config `ablation.variants`):

- `full`: the released training split.
- `unfiltered`: the ingest table after only what tokenizing needs: clean's Unicode repair, markup
  and timings out (no boilerplate removal), lines joined without removing any, PII redacted.
- `no_langid`, `no_quality`, `no_lines`: the pipeline with that stage left out. The documents the
  stage dropped are taken from its input table and sent through the stages after it (the same
  partition functions the filter chain runs), then deduplicated against the corpus and among
  themselves. The documents the full pipeline kept keep its decisions; for `no_lines` they carry
  their text with every line kept (clean -> lines with `enabled: false` -> PII).
- `no_dedup`: every document the filters kept (the PII stage's output).
- `mixture_<name>` (config `ablation.mixtures`): the released training split (`packed/<family>`)
  under that data mixture (arkivlm.train.mixture): what the model reads, not what the corpus holds.

The rights hold-back and PII redaction are never ablated. The held-out set is the full corpus's
validation split, tokenized by `pack` (`packed/<family>/validation`). Its documents and every
member of their duplicate clusters (`dropped/dedup` rows whose `duplicate_of` is held out) are
excluded from every variant; documents the real dedup never compared with the held-out set (those
a filter had dropped before it) are checked against it with the same MinHash LSH and verification
as dedup, and dropped from the variant when they are a copy.

Each variant is written straight to token shards (Spark tasks tokenize their partition and write
one shard each), with a narrow manifest (`docs/`: id, source, modality, date, tokens, shard), never
as a full-text copy; the stage outputs are read once more, no stage's whole filter pass runs twice.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

VARIANTS = ("full", "unfiltered", "no_langid", "no_quality", "no_lines", "no_dedup")
ABLATED_STAGE = {"no_langid": "langid", "no_quality": "quality", "no_lines": "lines"}
DEFAULTS = {"variants": list(VARIANTS), "model": {"type": "causal", "preset": "tiny"}, "train": {}, "seeds": [],
            "docs_per_shard": 20000, "mixtures": {}}
MIXTURE_PREFIX = "mixture_"
VARIANT_COLUMNS = ["id", "source", "modality", "date", "text"]
MANIFEST_DDL = "id string, source string, modality string, date string, tokens long, shard string"


def merged_settings(settings: dict | None) -> dict:
    s = {**DEFAULTS, **(settings or {})}
    s["model"] = {**DEFAULTS["model"], **s.get("model", {})}
    return s


def variant_names(settings: dict | None) -> list[str]:
    """The filter variants, then one `mixture_<name>` per configured mixture."""
    s = merged_settings(settings)
    return list(s["variants"]) + [MIXTURE_PREFIX + name for name in s["mixtures"]]


def model_entry(settings: dict, variant: str) -> dict:
    s = merged_settings(settings)
    m = s["model"]
    entry = {"name": f"ablation_{variant}", "type": m["type"], "preset": m.get("preset", "tiny")}
    if variant.startswith(MIXTURE_PREFIX):
        entry["mixture"] = s["mixtures"][variant[len(MIXTURE_PREFIX):]]
    return entry


# --- the filter stages as DataFrame transformations -------------------------------------------------

def apply_stage(df, stage: str, settings: dict):
    """`df` through one filter stage's own transformation (lazily); the rows it keeps."""
    from pyspark.sql import functions as F

    from arkivlm.row_stages import stage_transform

    out, drop = stage_transform(df, stage, settings)
    return out.where(F.col("drop_reason").isNull()).drop("drop_reason", "drop_detail", *drop)


def cleaned_without_filters(spark, ingest_docs: str, allow_rights: list[str], clean_settings: dict):
    """The ingest table through clean's Unicode repair and cue handling, with no boilerplate removed;
    documents whose rights the release does not allow stay out."""
    from pyspark.sql import functions as F

    from arkivlm import clean

    prepared = clean.prepare(spark.read.parquet(ingest_docs), clean_settings)
    out = clean.assembled(prepared, clean_settings, allow_rights, spark.sparkContext.broadcast({}))
    return out.where(F.col("drop_reason").isNull()).drop("drop_reason", "drop_detail", "boilerplate_cues")


def all_lines(df, settings: dict, lines_settings: dict):
    """Lines joined with none removed, then PII redacted: the text of a document without line cleaning."""
    kept_lines = apply_stage(df, "lines", {**(lines_settings or {}), "enabled": False})
    return apply_stage(kept_lines, "pii", settings.get("pii", {}))


# --- copies: MinHash LSH as in dedup, one set queried against another --------------------------------

def keyed(df, s: dict):
    """(id, key, bands) of every row: dedup's key and LSH bands."""
    from arkivlm.dedup import KEYED_DDL, signature_partition

    return df.select("id", "text").mapInPandas(lambda it: signature_partition(it, s), KEYED_DDL)


def copy_pairs(queries, reference, s: dict):
    """Verified (a, b): a from `queries`, b from `reference` (both keyed), b != a, a copy of each
    other by dedup's rule (Jaccard, or containment for a cropped copy)."""
    from pyspark.sql import functions as F

    from arkivlm.dedup import verified_pairs

    def exploded(k, name):
        return k.select(F.col("id").alias(name), F.posexplode("bands").alias("band", "h"))

    pairs = exploded(queries, "a").join(exploded(reference, "b"), ["band", "h"]).where(F.col("a") != F.col("b")) \
        .select("a", "b").distinct()
    buckets = int(pairs.sparkSession.conf.get("spark.sql.shuffle.partitions"))
    return verified_pairs(pairs, queries.select("id", "key"), reference.select("id", "key"), s, buckets)


def dedup_readmitted(readmitted, corpus_keyed, s: dict):
    """Readmitted documents that copy no corpus document and no readmitted document of a smaller id."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    r = readmitted.persist(StorageLevel.MEMORY_AND_DISK_DESER)
    rk = keyed(r, s).persist(StorageLevel.MEMORY_AND_DISK_DESER)
    of_corpus = copy_pairs(rk, corpus_keyed, s).select(F.col("a").alias("id"))
    among = copy_pairs(rk, rk, s).where(F.col("b") < F.col("a")).select(F.col("a").alias("id"))
    return r.join(of_corpus.union(among).distinct(), "id", "left_anti")


# --- token shards straight from Spark ---------------------------------------------------------------

def shard_partition(batches, tokenizer_file: str, family: str, out_dir: str):
    """Tokenize one sorted partition into one shard (pack's format), written batch by batch so a
    Python worker holds one Arrow batch, never the partition; yield each batch's manifest rows."""
    from pyspark import TaskContext

    from arkivlm.pack import encode_documents, token_dtype
    from arkivlm.tokenizer import load

    tok = load(tokenizer_file)
    dtype = token_dtype(tok)
    name = f"shard_{TaskContext.get().partitionId():05d}"
    out = Path(out_dir)
    tmp_bin = out / f".{name}.bin.tmp-{os.getpid()}"
    docs, n = [], 0
    with open(tmp_bin, "wb") as fh:
        for pdf in batches:
            batch = []
            for ids, modality, decade in encode_documents(tok, family, list(pdf["text"]), pdf["modality"], pdf["date"]):
                docs.append((n, n + len(ids) - 1, modality, decade))
                batch.append(ids)
                n += len(ids)
            if batch:
                np.concatenate(batch).astype(dtype).tofile(fh)
            counts = [len(ids) for ids in batch]
            yield pdf[["id", "source", "modality", "date"]].assign(tokens=counts, shard=name)
    if not docs:
        tmp_bin.unlink()
        return
    tmp_docs = out / f".{name}.docs.npy.tmp-{os.getpid()}"
    with open(tmp_docs, "wb") as fh:
        np.save(fh, np.array(docs, dtype=np.int64).reshape(-1, 4))
    os.replace(tmp_docs, out / f"{name}.docs.npy")
    os.replace(tmp_bin, out / f"{name}.bin")


def write_variant(df, n_partitions: int, tokenizer_file: str, family: str, out_dir: Path) -> dict:
    """`df` (id, source, modality, date, text) as token shards under `out_dir/train` and its manifest
    under `out_dir/docs`; rows hash-partitioned and sorted by id, so every run writes the same bytes."""
    import shutil

    from pyspark.sql import functions as F

    from arkivlm.io import write_json, write_parquet
    from arkivlm.pack import split_index
    from arkivlm.tokenizer import load

    train = out_dir / "train"
    shutil.rmtree(out_dir, ignore_errors=True)
    train.mkdir(parents=True)
    sorted_rows = df.select(*VARIANT_COLUMNS).repartition(n_partitions, "id").sortWithinPartitions("id")
    manifest = sorted_rows.mapInPandas(lambda it: shard_partition(it, tokenizer_file, family, str(train)), MANIFEST_DDL)
    write_parquet(manifest, out_dir / "docs")  # the one action: it writes the shards as it goes
    per_shard = df.sparkSession.read.parquet(str(out_dir / "docs")).groupBy("shard") \
        .agg(F.sum("tokens").alias("tokens"), F.count("*").alias("n_docs")).orderBy("shard").collect()
    shards = [{"file": f"{r['shard']}.bin", "docs": f"{r['shard']}.docs.npy", "tokens": int(r["tokens"]), "n_docs": int(r["n_docs"])}
              for r in per_shard]
    index = split_index(load(tokenizer_file), family, shards)
    write_json(index, train / "index.json")
    return {"docs": index["docs"], "tokens": index["tokens"], "shards": len(shards)}


# --- building the variants --------------------------------------------------------------------------

def build(spark, settings: dict, config: dict, results: str, tokenizer_file: str, heldout_dir: str, out_root: str,
          task_texts: str | None = None) -> dict:
    """Every variant of `settings["variants"]` under `out_root/<variant>/` from the stage outputs of
    the run under `results`; writes and returns {heldout: {docs, tokens, excluded_ids}, variants:
    {variant: {docs, tokens, shards, copies_of_heldout, docs_not_in_full}}}."""
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from arkivlm.dedup import DEFAULTS as DEDUP_DEFAULTS
    from arkivlm.io import write_json
    from arkivlm.stage_chains import FILTER_STAGES

    s = merged_settings(settings)
    dedup_s = {**DEDUP_DEFAULTS, **config.get("dedup", {})}
    family = s["model"]["type"]
    R = Path(results)
    read = lambda p: spark.read.parquet(str(R / p))
    docs_in = json.loads((R / "stats" / "ingest.json").read_text())["docs_out"]
    n_partitions = max(1, math.ceil(docs_in / s["docs_per_shard"]))

    train = read("corpus/train")
    validation = read("corpus/validation")
    heldout_ids = validation.select("id")
    cluster = read("dropped/dedup").join(heldout_ids.withColumnRenamed("id", "duplicate_of"), "duplicate_of").select("id")
    excluded = heldout_ids.union(cluster).distinct().persist(StorageLevel.MEMORY_AND_DISK_DESER)
    heldout_keyed = keyed(validation, dedup_s).persist(StorageLevel.MEMORY_AND_DISK_DESER)
    vetted = train.select("id")  # the real dedup compared these with the held-out set
    corpus_keyed = None

    def decontaminated(df):
        """`df` without held-out documents, their cluster members and copies of them, and with the
        downstream tasks' text kept out as the decontaminate stage keeps it out (a variant readmits
        documents that stage never saw); and the rows before the copy check (persisted: both the
        check and the output read them)."""
        from arkivlm import decontaminate

        df = df.select(*VARIANT_COLUMNS).join(excluded, "id", "left_anti")
        df = decontaminate.kept(spark, df, config.get("decontamination", {}), task_texts) \
            .select(*VARIANT_COLUMNS).persist(StorageLevel.MEMORY_AND_DISK_DESER)
        unvetted = df.join(vetted, "id", "left_anti")
        copies = copy_pairs(keyed(unvetted, dedup_s), heldout_keyed, dedup_s).select(F.col("a").alias("id")).distinct()
        return df.join(copies, "id", "left_anti"), df

    def readmitted(stage):
        """Documents `stage` dropped, through the stages after it, deduplicated."""
        nonlocal corpus_keyed
        dropped_ids = read(f"dropped/{stage}").select("id")
        # as `stage` saw them: clean's table through the stages between (their own tables are not
        # kept when the filter ran them in one pass, arkivlm.row_stages); they kept these documents
        docs = read("interim/clean").join(dropped_ids, "id", "left_semi")
        for earlier in FILTER_STAGES[1:FILTER_STAGES.index(stage)]:
            docs = apply_stage(docs, earlier, config.get(earlier, {}))
        if stage == "lines":
            docs = apply_stage(docs, "lines", {**config.get("lines", {}), "enabled": False})
        for later in FILTER_STAGES[FILTER_STAGES.index(stage) + 1:]:
            docs = apply_stage(docs, later, config.get(later, {}))
        if corpus_keyed is None:
            corpus_keyed = keyed(train.unionByName(validation), dedup_s).persist(StorageLevel.MEMORY_AND_DISK_DESER)
        return dedup_readmitted(docs.select(*VARIANT_COLUMNS), corpus_keyed, dedup_s)

    out = {}
    for variant in s["variants"]:
        if variant == "full":
            df = train
        elif variant == "no_dedup":
            df = read("interim/pii")
        elif variant == "unfiltered":
            cleaned = cleaned_without_filters(spark, str(R / "interim/ingest"), config["release"]["allow_rights"], config.get("clean", {}))
            df = all_lines(cleaned, config, config.get("lines", {}))
        elif variant == "no_lines":
            kept = all_lines(read("interim/clean").join(train.select("id"), "id", "left_semi"), config, config.get("lines", {}))
            df = kept.select(*VARIANT_COLUMNS).unionByName(readmitted("lines"))
        elif variant in ABLATED_STAGE:
            df = train.select(*VARIANT_COLUMNS).unionByName(readmitted(ABLATED_STAGE[variant]))
        else:
            raise ValueError(f"config key ablation.variants: unknown variant {variant!r}")
        clean_df, candidates = decontaminated(df)
        result = write_variant(clean_df, n_partitions, tokenizer_file, family, Path(out_root) / variant)
        result["copies_of_heldout"] = candidates.count() - result["docs"]
        result["docs_not_in_full"] = spark.read.parquet(str(Path(out_root) / variant / "docs")).select("id") \
            .join(vetted, "id", "left_anti").count()
        candidates.unpersist()
        out[variant] = result
    heldout = json.loads((Path(heldout_dir) / "index.json").read_text())
    summary = {"heldout": {"docs": heldout["docs"], "tokens": heldout["tokens"], "excluded_ids": excluded.count()},
               "variants": out}
    write_json(summary, Path(out_root) / "variants.json")
    for df in (excluded, heldout_keyed, corpus_keyed):
        if df is not None:
            df.unpersist()
    return summary


# --- the summary ------------------------------------------------------------------------------------

def _scores(metrics: list[dict]) -> dict:
    """Held-out loss averaged over seeds (perplexity = exp of it), weighted alike."""
    losses = [m["val_loss"] for m in metrics if m.get("val_loss") is not None]
    if not losses:
        return {"heldout_loss": None, "heldout_perplexity": None}
    loss = sum(losses) / len(losses)
    return {"heldout_loss": round(loss, 6), "heldout_perplexity": round(math.exp(loss), 4)}


def summarize(variants_json: str, eval_dir: str, out_json: str, packed_dir: str | None = None) -> dict:
    """`ablation/summary.json` from the variants' token counts and their held-out evaluations
    (`eval_dir/<variant>/seed_<seed>.json`, one per training seed); the mixture variants' training
    data is the packed training split (`packed_dir`/train)."""
    from arkivlm.io import write_json

    built = json.loads(Path(variants_json).read_text())
    data_of = dict(built["variants"])
    if packed_dir:
        train = json.loads((Path(packed_dir) / "train" / "index.json").read_text())
        for d in sorted(Path(eval_dir).glob(f"{MIXTURE_PREFIX}*")):
            data_of[d.name] = {"docs": train["docs"], "tokens": train["tokens"], "docs_not_in_full": 0, "copies_of_heldout": 0}
    variants = {}
    for name, data in data_of.items():
        runs = {int(p.stem.split("_")[1]): json.loads(p.read_text()) for p in sorted((Path(eval_dir) / name).glob("seed_*.json"))
                if p.name.count(".") == 1}
        task_runs = [json.loads(p.read_text()) for p in sorted((Path(eval_dir) / name).glob("seed_*.tasks.json"))]
        ms = list(runs.values())
        slices = lambda kind: {k: _scores([m[kind][k] for m in ms if k in m.get(kind, {})])
                               for k in sorted({k for m in ms for k in m.get(kind, {})})}
        variants[name] = {"train_docs": data["docs"], "train_tokens": data["tokens"], "docs_not_in_full": data.get("docs_not_in_full"),
                          "copies_of_heldout_removed": data["copies_of_heldout"],
                          "tokens_seen": ms[0]["tokens_seen"], "steps": ms[0]["steps"], **_scores(ms),
                          "per_modality": slices("per_modality"), "per_decade": slices("per_decade"),
                          "tasks": task_means(task_runs),
                          "seeds": {seed: {"tokens_seen": m["tokens_seen"], **_scores([m])} for seed, m in sorted(runs.items())}}
    summary = {"heldout": {"docs": built["heldout"]["docs"], "tokens": built["heldout"]["tokens"],
                           "excluded_from_training": built["heldout"]["excluded_ids"]},
               "variants": variants, "seed_spread": seed_spread(variants), "findings": findings(variants)}
    write_json(summary, out_json)
    return summary


def task_means(runs: list[dict]) -> dict:
    """Each task's metrics averaged over seeds (`eval_dir/<variant>/seed_<seed>.tasks.json`); `stderr`:
    the first metric's standard error, averaged; `seeds`: how many runs it averages."""
    out = {}
    for task in sorted({t for r in runs for t in r}):
        rs = [r[task] for r in runs if task in r]
        metrics = [k for k in rs[0] if f"{k}_stderr" in rs[0]]
        entry = {m: round(sum(r[m] for r in rs) / len(rs), 6) for m in metrics}
        errs = [r["stderr"] for r in rs if r.get("stderr") is not None]
        entry.update(n=rs[0]["n"], stderr=round(sum(errs) / len(errs), 6) if errs else None, seeds=len(rs),
                     metric=metrics[0] if metrics else None, chance=rs[0].get("chance"))
        out[task] = entry
    return out


def task_verdicts(v: dict, full: dict) -> str:
    """The variant's first metric on each task against the full corpus's, within two standard errors or not."""
    parts = []
    for task, t in v.get("tasks", {}).items():
        f, metric = full.get("tasks", {}).get(task), t.get("metric")
        if not f or metric is None or metric not in f:
            continue
        diff = t[metric] - f[metric]
        noise = 2 * math.sqrt((t.get("stderr") or 0) ** 2 + (f.get("stderr") or 0) ** 2)
        judged = ("within two standard errors" if abs(diff) <= noise else
                  "better than the full pipeline" if diff > 0 else "worse than the full pipeline")
        parts.append(f"{task} {metric} {t[metric]:.3f} vs {f[metric]:.3f} ({diff:+.3f}, {judged})")
    return ("; tasks: " + ", ".join(parts)) if parts else ""


def seed_spread(variants: dict) -> float | None:
    """The largest relative spread of held-out perplexity between seeds of one variant (None: one seed)."""
    spreads = [max(p) / min(p) - 1 for v in variants.values()
               if len(p := [s["heldout_perplexity"] for s in v["seeds"].values() if s["heldout_perplexity"]]) > 1]
    return round(max(spreads), 4) if spreads else None


def findings(variants: dict) -> list[str]:
    """One sentence per ablated stage: the held-out perplexity with and without it, judged against
    the spread between seeds where there are several."""
    full = variants.get("full", {}).get("heldout_perplexity")
    if full is None:
        return []
    noise = seed_spread(variants)
    out = []
    for name, v in variants.items():
        if name == "full" or v.get("heldout_perplexity") is None:
            continue
        what = "any filter" if name == "unfiltered" else ("dedup" if name == "no_dedup" else ABLATED_STAGE.get(name, name))
        change = v["heldout_perplexity"] / full - 1
        if name.startswith(MIXTURE_PREFIX):
            better = "better than" if change < 0 else "worse than"
            verdict = (f"within the spread between seeds ({noise:.1%}): no measurable effect at this size"
                       if noise is not None and abs(change) <= noise else
                       f"{better} the corpus as it is" + ("" if noise is not None else " (one seed: a few percent may be noise)"))
            out.append(f"Under mixture {name[len(MIXTURE_PREFIX):]} ({name}): held-out perplexity {v['heldout_perplexity']:.2f} "
                       f"vs {full:.2f} ({change:+.1%}); {verdict}{task_verdicts(v, variants['full'])}.")
            continue
        if noise is not None and abs(change) <= noise:
            verdict = f"within the spread between seeds ({noise:.1%}): no measurable effect at this size"
        elif change > 0:
            verdict = "the full pipeline is better" + ("" if noise is not None else " (one seed: a few percent may be noise)")
        else:
            verdict = "the model is better without it" + ("" if noise is not None else " (one seed: a few percent may be noise)")
        out.append(f"Without {what} ({name}): held-out perplexity {v['heldout_perplexity']:.2f} vs {full:.2f} "
                   f"({change:+.1%}); {verdict}{task_verdicts(v, variants['full'])}.")
    return out


def markdown_section(summary: dict) -> str:
    variants = summary["variants"]
    seeds = sorted({int(s) for v in variants.values() for s in v["seeds"]})
    modalities = sorted({m for v in variants.values() for m in v["per_modality"]})
    tasks = sorted({t for v in variants.values() for t in v.get("tasks", {})})
    lines = ["## Ablation: the same model on each variant of the corpus", "",
             f"Held-out set: the validation split, {summary['heldout']['docs']} documents, {summary['heldout']['tokens']:,} tokens; "
             f"it, the members of its duplicate clusters and copies of it ({summary['heldout']['excluded_from_training']} ids "
             "plus the copies per variant) are kept out of every variant's training data. Every variant trains the same model "
             f"on the same number of tokens with the same tokenizer and seeds ({', '.join(map(str, seeds))}; perplexity from the "
             "mean held-out loss over seeds).",
             "", "| variant | train docs | of them not in full | train tokens | tokens seen | held-out perplexity | "
             + " | ".join([f"{m} perplexity" for m in modalities] + [f"{t} (± stderr)" for t in tasks]) + " |",
             "|---|---|---|---|---|---|" + "---|" * (len(modalities) + len(tasks))]
    for name, v in variants.items():
        scores = [v.get("tasks", {}).get(t) for t in tasks]
        per = " | ".join([f"{v['per_modality'][m]['heldout_perplexity']:.2f}" if m in v["per_modality"] else "-" for m in modalities]
                         + [f"{sc[sc['metric']]:.3f} ± {sc['stderr'] or 0:.3f}" if sc and sc.get("metric") else "-"
                            for sc in scores])
        lines.append(f"| {name} | {v['train_docs']} | {v.get('docs_not_in_full', '-')} | {v['train_tokens']:,} | {v['tokens_seen']:,} | "
                     f"{v['heldout_perplexity']:.2f} | {per} |")
    lines += [""] + [f"- {f}" for f in summary.get("findings", [])] + [""]
    return "\n".join(lines)


def table_rows(summary: dict) -> list[dict]:
    rows = []
    for name, v in summary["variants"].items():
        rows.append({"variant": name, "slice": "all", "train_docs": v["train_docs"], "train_tokens": v["train_tokens"],
                     "tokens_seen": v["tokens_seen"], "heldout_loss": v["heldout_loss"], "heldout_perplexity": v["heldout_perplexity"],
                     **{f"{t}_{sc['metric']}": sc[sc["metric"]] for t, sc in v.get("tasks", {}).items() if sc.get("metric")}})
        for kind in ("per_modality", "per_decade"):
            for key, sc in v[kind].items():
                rows.append({"variant": name, "slice": key, "train_docs": v["train_docs"], "train_tokens": v["train_tokens"],
                             "tokens_seen": v["tokens_seen"], **sc})
    return rows


def plot(summary: dict, out_png: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = list(summary["variants"])
    slices = ["all"] + sorted({m for v in summary["variants"].values() for m in v["per_modality"]})
    fig, ax = plt.subplots(figsize=(max(6, 1.3 * len(variants) * len(slices) / 2), 4))
    width = 0.8 / len(slices)
    for i, sl in enumerate(slices):
        vals = [(summary["variants"][v]["heldout_perplexity"] if sl == "all"
                 else summary["variants"][v]["per_modality"].get(sl, {}).get("heldout_perplexity")) or 0 for v in variants]
        ax.bar([j + i * width for j in range(len(variants))], vals, width, label=sl)
    ax.set_xticks([j + width * (len(slices) - 1) / 2 for j in range(len(variants))], variants, rotation=20)
    ax.set_ylabel("held-out perplexity (lower is better)")
    ax.set_title("Same model, same tokens: held-out perplexity per corpus variant")
    ax.legend(title="held-out slice")
    fig.tight_layout()
    fig.savefig(out_png, dpi=110)
    plt.close(fig)


def report(variants_json: str, eval_dir: str, config: dict, stats_dir: str, packed_dir: str, out: dict) -> dict:
    """summary.json, the table (CSV), the chart and the data card with the ablation's result."""
    import pandas as pd

    from arkivlm import datacard

    family = merged_settings(config.get("ablation"))["model"]["type"]
    summary = summarize(variants_json, eval_dir, out["summary"], str(Path(packed_dir) / family))
    pd.DataFrame(table_rows(summary)).to_csv(out["table"], index=False)
    plot(summary, out["chart"])
    md = datacard.markdown(config, datacard.load_stats(stats_dir), datacard.token_totals(packed_dir), ablation=markdown_section(summary))
    Path(out["card_md"]).write_text(md, encoding="utf-8")
    Path(out["card_html"]).write_text(datacard.to_html(md), encoding="utf-8")
    return summary
