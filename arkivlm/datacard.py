"""The data card: what the corpus is made of and how it was made, as Markdown (for the model
cards) and HTML (for the DAG report)."""

from __future__ import annotations

import json
from pathlib import Path

LIMITATIONS = [
    "Language ID (fastText lid.176) confuses Swedish with Norwegian and Danish on short texts; short documents "
    "follow the document-level score and may carry a few Nordic sentences.",
    "OCR text is cleaned line by line (the lines stage): lines of implausible tokens, too short, in another "
    "language or repeated from another frame are removed. On 150 held-out hand-labelled newsreel intertitle "
    "lines (bench/labels/), 7 of 88 garbage lines reached the corpus and 3 of 56 Swedish lines were lost with "
    "short documents dropped whole; OCR errors inside kept lines remain (dedup's key folds common OCR "
    "confusions, the text keeps them).",
    "PII redaction covers Swedish identity and coordination numbers, phone numbers and e-mail addresses; names, "
    "street addresses and other identifiers are not redacted.",
    "Subtitle and transcript boilerplate is found by repetition within a source; a source with few programmes keeps its intros.",
    "Quality thresholds start from Gopher/FineWeb-2 and were checked on the bundled sample, not tuned per decade of print.",
]


def load_stats(stats_dir: str | Path) -> dict:
    return {p.stem: json.loads(p.read_text()) for p in sorted(Path(stats_dir).glob("*.json"))}


def token_totals(packed_dir: str | Path) -> dict:
    out = {}
    for index in sorted(Path(packed_dir).glob("*/*/index.json")):
        family, split = index.parts[-3], index.parts[-2]
        out.setdefault(family, {})[split] = json.loads(index.read_text())["tokens"]
    return out


def load_mixtures(mixture_dir: str | Path | None) -> dict:
    """{model: plan} from `mixture/<model>.plan.json` (what `mixture-plan` wrote)."""
    if not mixture_dir:
        return {}
    return {p.name[:-len(".plan.json")]: json.loads(p.read_text()) for p in sorted(Path(mixture_dir).glob("*.plan.json"))}


def mixture_section(mixtures: dict) -> list[str]:
    lines = ["", "## What each model reads", "",
             "Shares of the tokens seen in training (config `mixture`, arkivlm.train.mixture), planned over each model's "
             "run (max_steps x global batch x block); `available` counts a rehydrated document once per cluster member.", "",
             "| model | group | weight | available tokens | planned tokens | epochs |", "|---|---|---|---|---|---|"]
    for model, plan in sorted(mixtures.items()):
        for name, g in plan["groups"].items():
            lines.append(f"| {model} | {name} | {g['weight']:.3f} | {g['available_tokens']:,} | {g['planned_tokens']:,} | "
                         f"{g['epochs']:.2f} |")
    return lines


def markdown(config: dict, stats: dict, tokens: dict, ablation: str | None = None, mixtures: dict | None = None) -> str:
    """`ablation`: the ablation's section (arkivlm.ablation.markdown_section), when it has run;
    `mixtures`: {model: mixture plan}."""
    ingest = stats.get("ingest", {})
    per_source = ingest.get("per_source", {})
    corpus = stats.get("corpus", {}).get("splits", {})
    held = stats.get("clean", {}).get("rights_held_back", {})
    lines = ["# Data card", "", "## Sources", "",
             "| source | modality | format | rights | files | quarantined | documents read | words read | held back (rights) "
             "| documents in corpus | words in corpus |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    in_corpus = stats.get("corpus", {}).get("per_source", {})
    for src in config["sources"]:
        ps, pc = per_source.get(src["name"], {}), in_corpus.get(src["name"], {})
        lines.append(f"| {src['name']} | {src['modality']} | {src['format']}{' (OCR)' if src.get('ocr', src['format'] == 'alto') else ''} "
                     f"| {src['rights']} | {ps.get('files_in', 0)} | {ps.get('files_quarantined', 0)} | {ps.get('docs', 0)} | "
                     f"{ps.get('words', 0):,} | {held.get(src['name'], 0)} | {pc.get('docs', 0)} | {pc.get('words', 0):,} |")
    inside = [s for s in config["sources"] if per_source.get(s["name"], {}).keys() & {"packages", "records_skipped"}]
    if inside:
        lines += ["", "Containers: a package's members count as files; records inside files that are not documents "
                  "(METS, WARC requests and revisits, non-HTML responses, truncated records) are counted, not read:", "",
                  "| source | packages | files (members) | documents read | records skipped |", "|---|---|---|---|---|"]
        for src in inside:
            ps = per_source[src["name"]]
            kinds = ", ".join(f"{k}: {n}" for k, n in ps.get("records_skipped", {}).items()) or "-"
            lines.append(f"| {src['name']} | {ps.get('packages', '-')} | {ps['files_in']} | {ps['docs']} | {kinds} |")
    lines += ["", f"Released rights: {', '.join(config['release']['allow_rights'])}. Documents of other sources never "
              "reach the corpus.", "", "## From archive to corpus", "", "| stage | in | out | dropped |", "|---|---|---|---|"]
    for stage in ("ingest", "clean", "lines", "langid", "quality", "pii", "dedup", "decontaminate", "corpus"):
        st = stats.get(stage)
        if st:
            dropped = ", ".join(f"{r}: {n}" for r, n in st["dropped"].items()) or "-"
            lines.append(f"| {stage} | {st['docs_in']} | {st['docs_out']} | {dropped} |")
    removed = stats.get("lines", {}).get("per_source", {})
    if removed:
        lines += ["", "Lines removed inside kept documents (OCR garbage, foreign lines, speech-recognition artefacts):", "",
                  "| source | lines | removed | by reason |", "|---|---|---|---|"]
        for source, st in sorted(removed.items()):
            n = sum(st["lines_removed"].values())
            top = ", ".join(f"{r}: {c}" for r, c in sorted(st["lines_removed"].items(), key=lambda x: -x[1])[:6]) or "-"
            lines.append(f"| {source} | {st['lines_in']} | {n} ({n / max(1, st['lines_in']):.1%}) | {top} |")
        blocks = stats.get("lines", {}).get("blocks_removed", 0)
        if blocks:
            lines += ["", f"Text blocks of OCR pages removed whole as another language (their lines are counted above as "
                      f"`not_swedish:<lang>`): {blocks}."]
    lines += decontamination_section(stats.get("decontaminate", {}))
    read = stats.get("ingest", {}).get("per_decade", {})
    kept = stats.get("corpus", {}).get("per_decade", {})
    if read:
        lines += ["", "## By decade", "", "| decade | documents read | words read | documents kept | words kept | words kept share |",
                  "|---|---|---|---|---|---|"]
        for decade in sorted(read, key=lambda d: (d == "undated", d)):
            r, k = read[decade], kept.get(decade, {"docs": 0, "words": 0})
            lines.append(f"| {decade} | {r['docs']} | {r['words']:,} | {k['docs']} | {k['words']:,} | "
                         f"{k['words'] / max(1, r['words']):.0%} |")
    lines += ["", "## The corpus", "", "| split | modality | documents | characters |", "|---|---|---|---|"]
    for split in ("train", "validation"):
        for modality, v in sorted(corpus.get(split, {}).items()):
            lines.append(f"| {split} | {modality} | {v['docs']} | {v['chars']:,} |")
    if tokens:
        lines += ["", "Tokens: " + "; ".join(f"{fam} tokenizer: " + ", ".join(f"{split} {n:,}" for split, n in sorted(v.items()))
                                           for fam, v in sorted(tokens.items())) + "."]
    pii = stats.get("pii", {}).get("pii_redacted")
    if pii:
        lines += ["", "PII redacted: " + ", ".join(f"{k} {v}" for k, v in pii.items()) + "."]
    if mixtures:
        lines += mixture_section(mixtures)
    lines += ["", "## Filters and thresholds", ""]
    for key in ("lines", "langid", "quality", "dedup"):
        settings = stats.get(key, {}).get("settings")
        if settings:
            lines.append(f"- **{key}**: `{json.dumps(settings, sort_keys=True)}`")
    lines.append(f"- **clean**: `{json.dumps(config.get('clean', {}), sort_keys=True)}`")
    if ablation:
        lines += ["", ablation]
    lines += ["", "## Known limitations", ""] + [f"- {l}" for l in LIMITATIONS] + [""]
    return "\n".join(lines)


def decontamination_section(st: dict) -> list[str]:
    """Per task: its items, those too short to match, and the documents that overlapped it."""
    if not st.get("tasks"):
        return []
    s = st.get("settings", {})
    out = ["", f"Decontamination against the downstream tasks ({s.get('ngram')}-word n-grams, shorter items whole, "
           f"texts under {s.get('min_words')} words not matched; action: {s.get('action')}):", "",
           "| task | texts (choices of items) | too short | documents overlapping |", "|---|---|---|---|"]
    for task, t in sorted(st["tasks"].items()):
        out.append(f"| {task} | {t['texts']} | {t['texts_too_short']} | {t['docs']} |")
    if st.get("docs_cut"):
        out += ["", f"Spans cut out of {st['docs_cut']} documents: {st.get('chars_removed', 0):,} characters."]
    return out


def to_html(md: str) -> str:
    """Minimal Markdown (headings, tables, lists, paragraphs) to HTML for the report."""
    import html

    out, table = ["<html><head><meta charset='utf-8'><style>body{font-family:sans-serif;max-width:60em}"
                  "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px}</style></head><body>"], []

    def flush():
        if table:
            rows = [r for r in table if not set(r.replace("|", "").strip()) <= {"-"}]
            out.append("<table>" + "".join(
                "<tr>" + "".join(f"<{'th' if i == 0 else 'td'}>{html.escape(c.strip())}</{'th' if i == 0 else 'td'}>"
                                 for c in r.strip().strip("|").split("|")) + "</tr>" for i, r in enumerate(rows)) + "</table>")
            table.clear()

    for line in md.splitlines():
        if line.startswith("|"):
            table.append(line)
            continue
        flush()
        if line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            out.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            out.append(f"<li>{html.escape(line[2:])}</li>")
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
    flush()
    return "\n".join(out + ["</body></html>"])


def run(config: dict, stats_dir: str, packed_dir: str, out_md: str, out_html: str, mixture_dir: str | None = None) -> str:
    md = markdown(config, load_stats(stats_dir), token_totals(packed_dir), mixtures=load_mixtures(mixture_dir))
    Path(out_md).parent.mkdir(parents=True, exist_ok=True)
    Path(out_md).write_text(md, encoding="utf-8")
    Path(out_html).write_text(to_html(md), encoding="utf-8")
    return md
