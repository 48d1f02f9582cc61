"""Figures and tables for the DAG report (`snakemake --report`): where every document went, what
the corpus looks like, how the tokenizers do, how training went and how good the models are."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

STAGES = ["ingest", "clean", "lines", "langid", "quality", "pii", "dedup", "decontaminate", "corpus"]
DROP_STAGES = ["clean", "lines", "langid", "quality", "pii", "dedup", "decontaminate"]


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 90, "font.size": 9, "axes.spines.top": False, "axes.spines.right": False})
    return plt


def _save(fig, path: str) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path)
    _plt().close(fig)


def step_histogram(ax, hist: dict, key: str, label: str, **kw) -> None:
    """One series of a histogram the stages counted (arkivlm.tables.histogram), drawn as bars."""
    counts = hist["counts"].get(key)
    if counts is None:
        return
    edges = np.array(hist["edges"], dtype=float)
    ax.stairs(counts, edges, fill=True, alpha=0.6, label=f"{label} ({sum(counts)})", **kw)


class Report:
    """Everything here is drawn from the stages' stats (counts, histograms, examples): the report's
    memory does not grow with the corpus, and it never reads a document table."""

    def __init__(self, results: str, stats: dict, models: list[str], modality: dict[str, str] | None = None):
        self.r, self.stats, self.models = Path(results), stats, models
        self.modality = modality or {}

    def histogram(self, stage: str, name: str) -> dict:
        return self.stats.get(stage, {}).get("histograms", {}).get(name) or {"edges": [0, 1], "counts": {}}

    # --- Corpus ----------------------------------------------------------------------------------
    def flow_by_stage(self, out: str) -> None:
        plt = _plt()
        fig, ax = plt.subplots(figsize=(9, 4.5))
        stages = [s for s in STAGES if s in self.stats]
        reasons = sorted({r for s in stages for r in self.stats[s]["dropped"]})
        cmap = plt.get_cmap("tab20")
        ax.bar(stages, [self.stats[s]["docs_out"] for s in stages], color="#4c72b0", label="kept")
        bottom = np.array([self.stats[s]["docs_out"] for s in stages], dtype=float)
        for i, reason in enumerate(reasons):
            vals = np.array([self.stats[s]["dropped"].get(reason, 0) for s in stages], dtype=float)
            ax.bar(stages, vals, bottom=bottom, color=cmap(i % 20), label=reason)
            bottom += vals
        ax.set_ylabel("documents")
        ax.set_title("Documents through the stages: kept, and dropped by reason")
        ax.legend(fontsize=7, ncol=2, bbox_to_anchor=(1.01, 1), loc="upper left")
        _save(fig, out)

    def flow_by_source(self, out: str) -> None:
        plt = _plt()
        per_source = self.stats["ingest"].get("per_source", {})
        sources = sorted(per_source)
        in_corpus = {src: v["docs"] for src, v in self.stats.get("corpus", {}).get("per_source", {}).items()}
        fig, ax = plt.subplots(figsize=(9, 0.45 * len(sources) + 1.5))
        left = np.zeros(len(sources))
        parts = [("corpus", [in_corpus.get(s, 0) for s in sources])]
        for stage in DROP_STAGES:
            by_source = self.stats.get(stage, {}).get("dropped_by_source", {})
            parts.append((f"dropped: {stage}", [sum(by_source.get(s, {}).values()) for s in sources]))
        colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3"]
        for (label, vals), color in zip(parts, colors):
            ax.barh(sources, vals, left=left, color=color, label=label)
            left += np.array(vals, dtype=float)
        ax.set_yticks(range(len(sources)), [f"{s} ({self.modality.get(s, '?')})" for s in sources])
        for i, s in enumerate(sources):
            q = per_source[s]["files_quarantined"]
            if q:
                ax.text(left[i], i, f"  {q} file(s) quarantined", va="center", fontsize=7)
        ax.set_xlabel("documents read at ingest")
        ax.set_title("Where each source's documents went")
        ax.legend(fontsize=7, bbox_to_anchor=(1.01, 1), loc="upper left")
        _save(fig, out)

    def document_lengths(self, out: str) -> None:
        plt = _plt()
        fig, ax = plt.subplots(figsize=(7, 3.5))
        hist = self.histogram("corpus", "log10_chars")
        for modality in hist["counts"]:
            step_histogram(ax, hist, modality, modality)
        ax.set_xlabel("characters per document (log10)")
        ax.set_ylabel("documents")
        ax.set_title("Corpus document lengths by modality")
        ax.legend()
        _save(fig, out)

    def langid_scores(self, out: str, threshold: float) -> None:
        plt = _plt()
        hist = self.histogram("langid", "lang_score")
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for fate in ("kept", "dropped"):
            step_histogram(ax, hist, fate, fate)
        ax.axvline(threshold, color="k", ls="--", lw=1, label=f"threshold {threshold}")
        ax.set_xlabel("p(Swedish), fastText lid.176")
        ax.set_ylabel("documents")
        ax.set_yscale("log")
        ax.set_title("Language-ID scores")
        ax.legend()
        _save(fig, out)

    def dedup_clusters(self, out: str) -> None:
        plt = _plt()
        st = self.stats.get("dedup", {})
        sizes = st.get("clusters_by_size", {})
        fig, ax = plt.subplots(figsize=(7, 3.5))
        if sizes:
            order = sorted(sizes, key=int)
            ax.bar(order, [sizes[k] for k in order], color="#55a868")
            by_reason = st.get("dropped", {})
            ax.set_title(f"Duplicate clusters by size ({', '.join(f'{k}: {v}' for k, v in by_reason.items())} removed)")
        else:
            ax.set_title("Duplicate clusters: none found")
        ax.set_xlabel("documents in cluster (kept copy included)")
        ax.set_ylabel("clusters")
        _save(fig, out)

    def ocr_confidence(self, out: str, threshold: float) -> None:
        plt = _plt()
        hist = self.histogram("ingest", "ocr_conf")
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for source in hist["counts"]:
            step_histogram(ax, hist, source, source)
        ax.axvline(threshold, color="k", ls="--", lw=1, label=f"filter threshold {threshold}")
        ax.set_xlabel("mean ALTO word confidence (WC) per page")
        ax.set_ylabel("pages")
        ax.set_title("OCR confidence of ALTO sources" if hist["counts"] else "OCR confidence: no ALTO sources")
        ax.legend()
        _save(fig, out)

    def decades(self, out: str) -> None:
        """Documents and words per decade read at ingest and kept in the corpus (stats only)."""
        plt = _plt()
        read = self.stats.get("ingest", {}).get("per_decade", {})
        kept = self.stats.get("corpus", {}).get("per_decade", {})
        decades = sorted(set(read) | set(kept), key=lambda d: (d == "undated", d))
        fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
        x = np.arange(len(decades))
        for ax, key in zip(axes, ("docs", "words")):
            r = np.array([read.get(d, {}).get(key, 0) for d in decades], dtype=float)
            k = np.array([kept.get(d, {}).get(key, 0) for d in decades], dtype=float)
            ax.bar(x - 0.2, r, 0.4, color="#bbbbbb", label="read at ingest")
            ax.bar(x + 0.2, k, 0.4, color="#4c72b0", label="in the corpus")
            for i in range(len(decades)):
                if r[i]:
                    ax.text(x[i] + 0.2, k[i], f"{k[i] / r[i]:.0%}", ha="center", va="bottom", fontsize=7)
            ax.set_xticks(x, decades, rotation=45, ha="right", fontsize=7)
            ax.set_yscale("log")
            ax.set_ylabel(key)
            ax.set_title(f"{'Documents' if key == 'docs' else 'Words'} per decade (kept share above the bars)")
            ax.legend(fontsize=7)
        _save(fig, out)

    def lines_table(self, out: str) -> None:
        """Lines in and removed per source and reason (lines stage)."""
        rows = []
        for source, st in sorted(self.stats.get("lines", {}).get("per_source", {}).items()):
            removed = st.get("lines_removed", {})
            rows.append({"source": source, "lines_in": st.get("lines_in", 0), "lines_removed": sum(removed.values()),
                         "removed_share": round(sum(removed.values()) / st["lines_in"], 4) if st.get("lines_in") else 0.0,
                         **{f"removed:{r}": n for r, n in sorted(removed.items())}})
        table = pd.DataFrame(rows).fillna(0)
        for col in [c for c in table.columns if c.startswith("removed:")]:
            table[col] = table[col].astype(int)
        table.to_csv(out, index=False)

    def audit(self, out: str) -> None:
        """Per stage and reason: dropped documents and removed lines next to kept documents of the
        same source, from the examples each stage wrote (stats/audit/<stage>.json)."""
        import html

        esc = html.escape
        parts = ["<html><head><meta charset='utf-8'><title>Audit</title><style>",
                 "body{font-family:sans-serif;font-size:13px;max-width:1100px;margin:auto}"
                 "td{vertical-align:top;border-top:1px solid #ddd;padding:4px}pre{white-space:pre-wrap;margin:0}"
                 ".drop{background:#fbecec}.kept{background:#ecf5ec}h3{margin-bottom:2px}",
                 "</style></head><body><h1>Audit: what each stage removed, next to what it kept</h1>",
                 "<p>A few examples per stage and reason, chosen by a hash of the document id (the same on every run). "
                 "Red: dropped documents or removed lines; green: kept documents of the same source. Texts are cut at "
                 "600 characters.</p>"]
        for stage in DROP_STAGES:
            path = self.r / "stats" / "audit" / f"{stage}.json"
            if not path.exists():
                continue
            a = json.loads(path.read_text())
            if not a["dropped"] and not a["removed_lines"]:
                continue
            parts.append(f"<h2>{esc(stage)}</h2>")
            for kind, label in (("removed_lines", "lines removed"), ("dropped", "documents dropped")):
                for reason, rows in sorted(a[kind].items()):
                    parts.append(f"<h3>{esc(reason)} ({label})</h3><table>")
                    for row in rows:
                        where = f"line {row['line']}" if "line" in row else esc(row.get("path") or "")
                        parts.append(f"<tr class='drop'><td>{esc(row['source'])}<br><small>{esc(row['id'])} {where}</small></td>"
                                     f"<td><pre>{esc(row['text'])}</pre></td></tr>")
                    for source in sorted({row["source"] for row in rows}):
                        for row in a["kept"].get(source, [])[:1]:
                            parts.append(f"<tr class='kept'><td>{esc(source)} (kept)<br><small>{esc(row['id'])}</small></td>"
                                         f"<td><pre>{esc(row['text'])}</pre></td></tr>")
                    parts.append("</table>")
        parts.append("</body></html>")
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text("\n".join(parts), encoding="utf-8")

    # --- Tokenizer, training, evaluation ---------------------------------------------------------
    def fertility(self, out: str) -> None:
        plt = _plt()
        tok = self.stats.get("tokenizer", {})
        fig, ax = plt.subplots(figsize=(7, 3.5))
        families = [f for f in ("causal", "masked") if f in tok]
        modalities = sorted({m for f in families for m in tok[f]["fertility"]})
        width = 0.8 / max(1, len(families))
        for i, fam in enumerate(families):
            vals = [tok[fam]["fertility"].get(m, {}).get("fertility") or 0 for m in modalities]
            ax.bar(np.arange(len(modalities)) + i * width, vals, width, label=f"{fam} (vocab {tok[fam]['vocab_size']})")
        ax.set_xticks(np.arange(len(modalities)) + width * (len(families) - 1) / 2, modalities)
        ax.set_ylabel("tokens per word (validation)")
        ax.set_title("Tokenizer fertility by modality")
        ax.legend()
        _save(fig, out)

    def _metrics(self, model: str) -> pd.DataFrame:
        from arkivlm.train.pretrain import read_training_log

        return read_training_log(self.r / "models" / model)

    def training_curves(self, out_loss: str, out_lr: str, out_speed: str) -> None:
        plt = _plt()
        figs = {name: plt.subplots(figsize=(7, 3.5)) for name in ("loss", "lr", "speed")}
        for model in self.models:
            m = self._metrics(model)
            if m.empty or "train_loss" not in m:
                continue
            t = m.dropna(subset=["train_loss"])
            line = figs["loss"][1].plot(t.step, t.train_loss, label=f"{model} train")[0]
            if "val_loss" in m:
                v = m.dropna(subset=["val_loss"])
                figs["loss"][1].plot(v.step, v.val_loss, "o--", color=line.get_color(), label=f"{model} validation")
            if "lr" in m:
                figs["lr"][1].plot(m.dropna(subset=["lr"]).step, m.dropna(subset=["lr"]).lr, label=model)
            speed = next((c for c in m.columns if c.endswith("items_per_sec") and c.startswith("train")), None)
            if speed:
                figs["speed"][1].plot(m.dropna(subset=[speed]).step, m.dropna(subset=[speed])[speed], label=model)
        for (name, (fig, ax)), (title, ylabel), out in zip(
                figs.items(), [("Training and validation loss", "cross-entropy"), ("Learning rate", "lr"),
                               ("Training throughput", "tokens/s")], (out_loss, out_lr, out_speed)):
            ax.set_xlabel("optimizer step")
            ax.set_ylabel(ylabel)
            ax.set_title(title)
            ax.legend(fontsize=7)
            _save(fig, out)

    def mixture(self, out: str) -> None:
        """Per model and group of its data mixture: tokens available, planned and seen in training."""
        plt = _plt()
        plans = {m: json.loads(p.read_text()) for m in self.models if (p := self.r / "mixture" / f"{m}.json").exists()}
        fig, axes = plt.subplots(1, max(1, len(plans)), figsize=(4.5 * max(1, len(plans)), 3.5), squeeze=False)
        for ax, (model, plan) in zip(axes[0], plans.items()):
            names = list(plan["groups"])
            for i, key in enumerate(("available_tokens", "planned_tokens", "seen_tokens")):
                ax.bar([j + 0.27 * i for j in range(len(names))], [plan["groups"][n].get(key) or 0 for n in names], 0.27,
                       label=key.split("_")[0])
            ax.set_xticks([j + 0.27 for j in range(len(names))], names, rotation=20, fontsize=8)
            ax.set_yscale("log")
            ax.set_title(f"{model}: tokens per group", fontsize=9)
        axes[0][0].set_ylabel("tokens")
        axes[0][0].legend(fontsize=7)
        _save(fig, out)

    def perplexity(self, out: str) -> None:
        plt = _plt()
        fig, ax = plt.subplots(figsize=(7, 3.5))
        width = 0.8 / max(1, len(self.models))
        modalities = ["all", "text", "transcript", "subtitle"]
        for i, model in enumerate(self.models):
            path = self.r / "eval" / model / "metrics.json"
            if not path.exists():
                continue
            m = json.loads(path.read_text())
            vals = [m["perplexity"]] + [m["per_modality"].get(k, {}).get("perplexity", 0) for k in modalities[1:]]
            ax.bar(np.arange(len(modalities)) + i * width, vals, width, label=model)
        ax.set_xticks(np.arange(len(modalities)) + width * (len(self.models) - 1) / 2, modalities)
        ax.set_yscale("log")
        ax.set_ylabel("validation perplexity")
        ax.set_title("Perplexity by modality")
        ax.legend()
        _save(fig, out)

    def perplexity_by_decade(self, out: str) -> None:
        plt = _plt()
        fig, ax = plt.subplots(figsize=(7, 3.5))
        metrics = {m: json.loads((self.r / "eval" / m / "metrics.json").read_text()) for m in self.models
                   if (self.r / "eval" / m / "metrics.json").exists()}
        decades = sorted({d for m in metrics.values() for d in m.get("per_decade", {})})
        width = 0.8 / max(1, len(metrics))
        for i, (model, m) in enumerate(metrics.items()):
            vals = [m.get("per_decade", {}).get(d, {}).get("perplexity", 0) for d in decades]
            ax.bar(np.arange(len(decades)) + i * width, vals, width, label=model)
        ax.set_xticks(np.arange(len(decades)) + width * (len(metrics) - 1) / 2, decades, rotation=45, ha="right")
        if decades:
            ax.set_yscale("log")
        ax.set_ylabel("validation perplexity")
        ax.set_title("Perplexity by decade of the documents' dates" if decades else "Perplexity by decade: no dated documents")
        ax.legend()
        _save(fig, out)

    def task_scores(self) -> list[dict]:
        """One row per model, task and metric of eval/<model>/tasks.json."""
        rows = []
        for model in self.models:
            path = self.r / "eval" / model / "tasks.json"
            for task, m in sorted((json.loads(path.read_text()) if path.exists() else {}).items()):
                for metric in [k for k in m if f"{k}_stderr" in m]:
                    rows.append({"model": model, "task": task, "metric": metric, "value": m[metric],
                                 "stderr": m[f"{metric}_stderr"], "n": m["n"], "chance": m.get("chance")})
        return rows

    def tasks(self, out_png: str, out_csv: str) -> None:
        """The task table, and a figure of each model's first metric per task (stderr bars, chance dashed)."""
        rows = self.task_scores()
        table = pd.DataFrame(rows, columns=["model", "task", "metric", "value", "stderr", "n", "chance"])
        table.to_csv(out_csv, index=False)
        first = table.groupby(["model", "task"], sort=False).head(1)
        tasks = sorted(first["task"].unique())
        plt = _plt()
        fig, ax = plt.subplots(figsize=(7, 3.5))
        width = 0.8 / max(1, len(self.models))
        for i, model in enumerate(self.models):
            m = first[first["model"] == model].set_index("task").reindex(tasks)
            ax.bar(np.arange(len(tasks)) + i * width, m["value"].fillna(0), width, yerr=m["stderr"].fillna(0),
                   capsize=3, label=model)
        for j, task in enumerate(tasks):
            chance = first[first["task"] == task]["chance"].dropna()
            if len(chance):
                ax.hlines(chance.iloc[0], j - width / 2, j + width * (len(self.models) - 0.5), colors="grey",
                          linestyles="dashed", label="chance" if j == 0 else None)
        ax.set_xticks(np.arange(len(tasks)) + width * (len(self.models) - 1) / 2,
                      [f"{t} ({first[first['task'] == t]['metric'].iloc[0]})" for t in tasks])
        ax.set_ylim(0, 1)
        ax.set_ylabel("score")
        ax.set_title("Downstream tasks (evaluate.tasks)" if tasks else "Downstream tasks: none configured (evaluate.tasks)")
        if tasks:
            ax.legend()
        _save(fig, out_png)

    # --- Tables ----------------------------------------------------------------------------------
    def tables(self, out_stages: str, out_reasons: str, out_pii: str, out_rights: str, config: dict) -> None:
        rows = [{"stage": s, "docs_in": self.stats[s]["docs_in"], "docs_out": self.stats[s]["docs_out"],
                 "dropped": sum(self.stats[s]["dropped"].values())} for s in STAGES if s in self.stats]
        pd.DataFrame(rows).to_csv(out_stages, index=False)
        reasons = []
        for stage in DROP_STAGES:
            st = self.stats.get(stage, {})
            by_source = st.get("dropped_by_source", {})
            for reason, n in st.get("dropped", {}).items():
                reasons.append({"stage": stage, "reason": reason, "documents": n,
                                "sample_id": st.get("first_dropped_id", {}).get(reason, ""),
                                "sources": ", ".join(sorted(src for src, r in by_source.items() if r.get(reason)))})
        pd.DataFrame(reasons, columns=["stage", "reason", "documents", "sample_id", "sources"]) \
            .sort_values("documents", ascending=False).to_csv(out_reasons, index=False)
        pii = self.stats.get("pii", {}).get("pii_by_source", {})
        pd.DataFrame([{"source": s, **counts} for s, counts in sorted(pii.items())]).to_csv(out_pii, index=False)
        held = self.stats.get("clean", {}).get("rights_held_back", {})
        pd.DataFrame([{"source": s["name"], "rights": s["rights"], "released": s["rights"] in config["release"]["allow_rights"],
                       "documents_held_back": held.get(s["name"], 0)} for s in config["sources"]]).to_csv(out_rights, index=False)


def run(config: dict, results: str, out: dict) -> None:
    from arkivlm.datacard import load_stats

    stats = load_stats(Path(results) / "stats")
    models = [m["name"] for m in config["models"]]
    rep = Report(results, stats, models, {s["name"]: s["modality"] for s in config["sources"]})
    rep.flow_by_stage(out["flow_by_stage"])
    rep.flow_by_source(out["flow_by_source"])
    rep.document_lengths(out["document_lengths"])
    rep.langid_scores(out["langid_scores"], config.get("langid", {}).get("threshold", 0.5))
    rep.dedup_clusters(out["dedup_clusters"])
    rep.ocr_confidence(out["ocr_confidence"], config.get("quality", {}).get("ocr", {}).get("min_mean_confidence", 0.6))
    rep.fertility(out["fertility"])
    rep.training_curves(out["training_loss"], out["learning_rate"], out["throughput"])
    rep.mixture(out["mixture"])
    rep.perplexity(out["perplexity"])
    rep.perplexity_by_decade(out["perplexity_by_decade"])
    rep.tasks(out["task_scores"], out["task_table"])
    rep.decades(out["decades"])
    rep.lines_table(out["lines_removed"])
    rep.audit(out["audit"])
    rep.tables(out["stage_stats"], out["drop_reasons"], out["pii"], out["rights"], config)
