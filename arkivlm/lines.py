"""Lines stage: decide line by line where the archive is OCR or speech, then make running text.

Between clean and the document-level filters. Every line of an OCR'd document (ALTO, or a source
with `ocr: true`) and of a transcript or subtitle is judged by the rules of
`arkivlm.filters.lines`; removed lines go to the `lines_removed` table with their reason, the
document goes on with what remains and is dropped only when too little is left (OCR: fewer than
`ocr.min_words_left` plausible Swedish words; speech: nothing but recogniser artefacts). Then the
lines of each paragraph are joined into running text, rejoining OCR hyphenation. Other documents
pass through unchanged. `enabled: false` keeps every line (the lines are still joined).
"""

from __future__ import annotations

import pandas as pd

from arkivlm.filters.lines import DEFAULTS, OcrLineRules, SpeechLineRules, flow, repeated_cards, repeated_lines
from arkivlm.langid import lid_text
from arkivlm.tables import DOCUMENT_FIELDS, empty_if_null, is_true, with_int_columns

CUE_FORMATS = ("srt", "vtt", "whisper_json")
LINES_DDL = ", ".join(f"{n} {k}" for n, k in DOCUMENT_FIELDS) + \
    ", lines_in int, blocks_removed int, removed_no array<int>, removed_reason array<string>, removed_text array<string>," \
    " removed_block array<int>, drop_reason string, drop_detail string"
EXTRA_COLUMNS = ("lines_in", "blocks_removed", "removed_no", "removed_reason", "removed_text", "removed_block")
NEIGHBOURS = ("no", "nn", "da")


def merged_settings(settings: dict | None) -> dict:
    settings = settings or {}
    return {"enabled": settings.get("enabled", DEFAULTS["enabled"]), "model": settings.get("model"),
            "ocr": {**DEFAULTS["ocr"], **settings.get("ocr", {})}, "speech": {**DEFAULTS["speech"], **settings.get("speech", {})}}


def _in_block_text(reason: str | None) -> bool:
    return reason is None or reason.startswith("not_swedish:")


class LineJudge:
    """One document at a time: (new text, lines in, removed [(line no, reason, text)], drop reason, detail)."""

    def __init__(self, settings: dict):
        from arkivlm.langid import load_model

        self.s = merged_settings(settings)
        self.ocr = OcrLineRules(self.s["ocr"])
        self.speech = SpeechLineRules(self.s["speech"])
        self.model = load_model(self.s["model"])

    def judge_batch(self, docs: list[dict]) -> list[tuple]:
        plans = [self._plan(d) for d in docs]
        # language ID of every OCR line long enough to judge, in one fastText call for the batch
        lid_at = [(i, j) for i, p in enumerate(plans) if p["kind"] == "ocr"
                  for j, (line, reason) in enumerate(zip(p["lines"], p["reasons"])) if reason is None and self.ocr.needs_lid(line)]
        if lid_at and self.s["enabled"]:
            labels, probs = self.model.predict([lid_text(plans[i]["lines"][j]) for i, j in lid_at], k=1, threshold=0.0)
            for (i, j), lab, p in zip(lid_at, labels, probs):
                lang = lab[0].removeprefix("__label__") if len(lab) else "unknown"
                # Norwegian and Danish are left to the document's language ID: on a short line of
                # Swedish (`Stridsvagnar av terracotta.`) fastText is often sure it is Norwegian.
                if lang not in ("sv", "no", "nn", "da") and len(p) and p[0] >= self.s["ocr"]["lid_min_confidence"]:
                    plans[i]["reasons"][j] = f"not_swedish:{lang}"
                    plans[i]["words"][j] = 0
        if self.s["enabled"] and self.s["ocr"]["block_lid"]:
            self._judge_blocks(plans)
        return [self._finish(p) for p in plans]

    def _judge_blocks(self, plans: list[dict]) -> None:
        """Whole text blocks of OCR pages in another language, on a page with a Swedish block: their
        lines removed (one fastText call for the batch's blocks). A page with no Swedish block is
        left whole to the document's language ID, which drops it with its language."""
        s = self.s["ocr"]
        at, texts = [], []
        for i, p in enumerate(plans):
            if p["kind"] != "ocr" or p["cards"] is not None:  # OCR pages only, not OCR'd video
                continue
            for k, (a, b) in enumerate(zip(p["starts"], p["starts"][1:])):
                # a block's lines that line-level language ID found foreign are still its text
                block = " ".join(p["lines"][j] for j in range(a, b) if _in_block_text(p["reasons"][j]))
                if len(block) >= s["block_lid_min_chars"] and block.count(" ") + 1 >= s["block_lid_min_words"]:
                    at.append((i, k, a, b))
                    texts.append(lid_text(block))
        if not texts:
            return
        labels, probs = self.model.predict(texts, k=5, threshold=0.0)
        foreign, kept = [], set()
        for (i, k, a, b), labs, ps in zip(at, labels, probs):
            scores = {lab.removeprefix("__label__"): float(q) for lab, q in zip(labs, ps)}
            lang = labs[0].removeprefix("__label__") if len(labs) else "unknown"
            top = scores.get(lang, 0.0)
            if lang == "sv" or top < s["block_lid_min_confidence"] or \
                    (lang in NEIGHBOURS and top - scores.get("sv", 0.0) < s["block_lid_margin"]):
                kept.add(i)
            else:
                foreign.append((i, k, a, b, lang))
        for i, k, a, b, lang in foreign:
            if i not in kept:  # no block of the page is Swedish: the page is left whole to language ID
                continue
            p = plans[i]
            for j in range(a, b):
                if p["reasons"][j] is None:
                    p["reasons"][j], p["words"][j] = f"not_swedish:{lang}", 0
                if _in_block_text(p["reasons"][j]):
                    p["block_of"][j] = k

    def _plan(self, doc: dict) -> dict:
        text = doc["text"] or ""
        ocr = is_true(doc.get("ocr"))
        speech = not ocr and doc["modality"] in ("transcript", "subtitle")
        kind = "ocr" if ocr else "speech" if speech else "flow" if doc["format"] in CUE_FORMATS else "keep"
        if kind == "keep":
            return {"kind": kind, "text": text}
        paragraphs = [[line for line in p.split("\n") if line.strip()] for p in text.split("\n\n")]
        lines = [line for p in paragraphs for line in p]
        reasons: list[str | None] = [None] * len(lines)
        # plausible words per OCR line, from its judgement; speech counts its kept lines' words in
        # `_finish`, and only as far as `min_words_left` needs
        words = [0] * len(lines) if kind == "ocr" else None
        if self.s["enabled"] and kind == "ocr":
            conf = doc.get("line_conf")
            conf = list(conf) if conf is not None and len(conf) == len(lines) else [None] * len(lines)
            for j, line in enumerate(lines):
                reasons[j], words[j] = self.ocr.judge(line, conf[j])
        elif self.s["enabled"] and kind == "speech":
            reasons = [self.speech.judge(line) for line in lines]
        starts = [0]
        for para in paragraphs:
            starts.append(starts[-1] + len(para))
        # cards: OCR'd video, judged for repeats; None for an OCR page, whose blocks are judged by language
        cards = (doc["format"] in CUE_FORMATS or None) if kind == "ocr" else False
        return {"kind": kind, "paragraphs": paragraphs, "lines": lines, "reasons": reasons, "words": words,
                "cards": self.s["enabled"] and cards, "starts": starts, "block_of": {}}

    def _finish(self, p: dict) -> tuple:
        if p["kind"] == "keep":
            return p["text"], 0, [], None, None, 0
        reasons, starts = p["reasons"], p["starts"]
        if p["cards"]:
            alive = [j for j in range(len(p["lines"])) if reasons[j] is None]
            for j, repeat in zip(alive, repeated_lines([p["lines"][j] for j in alive])):
                if repeat:
                    reasons[j], p["words"][j] = "repeated_line", 0
            cards = [" ".join(line for j, line in enumerate(para, starts[k]) if reasons[j] is None)
                     for k, para in enumerate(p["paragraphs"])]
            for k, repeat in enumerate(repeated_cards(cards, self.s["ocr"]["repeated_card_containment"])):
                for j in range(starts[k], starts[k + 1]) if repeat else ():
                    if reasons[j] is None:
                        reasons[j], p["words"][j] = "repeated_card", 0
        kept = [[line for j, line in enumerate(para, starts[k]) if reasons[j] is None] for k, para in enumerate(p["paragraphs"])]
        block_of = p["block_of"]  # the lines that went with their whole block: its number
        blocks = set(block_of.values())
        removed = [(j, r, line, block_of.get(j)) for j, (line, r) in enumerate(zip(p["lines"], reasons)) if r is not None]
        text = flow(kept)
        n = len(p["lines"])
        if self.s["enabled"] and p["kind"] in ("ocr", "speech"):
            need = self.s["ocr" if p["kind"] == "ocr" else "speech"]["min_words_left"]
            if p["words"] is None:
                left = 0
                for line, r in zip(p["lines"], reasons):
                    if r is None:
                        left += len(line.split())
                        if left >= need:  # enough: the exact count matters only below `need`
                            break
            else:
                left = sum(w for w, r in zip(p["words"], reasons) if r is None)
            if left < need:
                reason = "too_little_swedish" if p["kind"] == "ocr" else "only_asr_artifacts"
                return text, n, removed, reason, f"{n - len(removed)} of {n} lines kept, {left} words", len(blocks)
        if not text.strip():
            return text, n, removed, "empty", None, len(blocks)
        return text, n, removed, None, None, len(blocks)


def lines_partition(batches, settings: dict):
    """The stage over batches of documents; `settings`: its config section (defaults filled in here)."""
    judge = LineJudge(merged_settings(settings))
    for pdf in batches:
        results = judge.judge_batch(pdf.to_dict("records"))
        out = pdf.drop(columns=["line_conf"]).assign(
            text=[r[0] for r in results],
            lines_in=pd.array([r[1] for r in results], dtype="Int32"),
            blocks_removed=pd.array([r[5] for r in results], dtype="Int32"),
            removed_no=[[x[0] for x in r[2]] for r in results],
            removed_reason=[[x[1] for x in r[2]] for r in results],
            removed_text=[[x[2] for x in r[2]] for r in results],
            removed_block=[[x[3] for x in r[2]] for r in results],
            drop_reason=[r[3] for r in results], drop_detail=[r[4] for r in results])
        yield with_int_columns(out)


def transform(docs, settings: dict):
    """`docs` with their kept lines joined, the removed lines and a `drop_reason` (lazily)."""
    from pyspark.sql import functions as F

    if "line_conf" not in docs.columns:
        docs = docs.withColumn("line_conf", F.lit(None).cast("array<double>"))
    return docs.select(*[n for n, _ in DOCUMENT_FIELDS], empty_if_null("line_conf", "array<double>")) \
        .mapInPandas(lambda it: lines_partition(it, settings), LINES_DDL)


def run(spark, settings: dict, in_docs: str, out_docs: str, out_dropped: str, out_stats: str,
        out_removed: str | None = None) -> dict:
    """`out_removed`: the table of removed lines (id, source, modality, path, line, reason, text, and
    block: the text block's number when the line went with its whole block);
    default `<out_docs>_removed`, in the workflow `{results}/lines_removed`."""
    from pyspark import StorageLevel

    settings = merged_settings(settings)
    out_removed = out_removed or f"{out_docs.rstrip('/')}_removed"
    docs = spark.read.parquet(in_docs)
    docs_in = docs.count()
    result = transform(docs, settings).persist(StorageLevel.MEMORY_AND_DISK_DESER)
    return finish(result, settings, docs_in, out_docs, out_dropped, out_stats, out_removed)


def finish(result, settings: dict, docs_in: int, out_docs: str | None, out_dropped: str, out_stats: str,
           out_removed: str, persist: bool = True) -> dict:
    """The stage's outputs from `result` (what `transform` gives): the removed lines, the kept and
    dropped documents, stats and audit. `persist=False`: `result` is a view of a table the caller
    has persisted (arkivlm.row_stages); `out_docs=None`: no table of the kept documents."""
    from pyspark.sql import functions as F

    from arkivlm.io import parquet_written_meanwhile
    from arkivlm.tables import finish_stage

    settings = merged_settings(settings)
    removed = result.select("id", "source", "modality", "path",
                            F.explode(F.arrays_zip("removed_no", "removed_reason", "removed_text", "removed_block")).alias("r")) \
        .select("id", "source", "modality", "path", F.col("r.removed_no").alias("line"),
                F.col("r.removed_reason").alias("reason"), F.col("r.removed_text").alias("text"),
                F.col("r.removed_block").alias("block"))
    with parquet_written_meanwhile(removed.sortWithinPartitions("id", "line"), out_removed):
        extra, examples = removed_lines_stats(result, settings)
        stats = finish_stage(result, stage="lines", docs_in=docs_in, out_docs=out_docs, out_dropped=out_dropped,
                             out_stats=out_stats, extra_stats=extra, drop_columns=EXTRA_COLUMNS, removed_lines=examples,
                             sums={"blocks_removed": F.col("blocks_removed")}, persist=persist)
    return stats


def removed_lines_stats(result, settings: dict) -> tuple[dict, dict]:
    """(the stage's own stats: lines in and removed per source and reason; examples of each reason)."""
    from pyspark.sql import functions as F

    from arkivlm import audit

    # One pass over the documents: lines in per source (counted on each document's first row) and
    # removed lines per source and reason, with examples of each reason.
    exploded = result.select("id", "source", "lines_in", F.posexplode_outer(
        F.arrays_zip("removed_no", "removed_reason", "removed_text")).alias("pos", "r"))
    rows = exploded.groupBy("source", F.col("r.removed_reason").alias("reason"), audit.bucket_column()).agg(
        F.sum(F.when(F.coalesce(F.col("pos"), F.lit(0)) == 0, F.col("lines_in"))).alias("lines_in"),
        F.count("pos").alias("count"),
        F.min_by(F.struct("id", "source", F.col("r.removed_no").alias("line"), F.col("r.removed_text").alias("text")),
                 F.when(F.col("pos").isNotNull(), F.xxhash64("id", "pos"))).alias("_example")).collect()
    per_source: dict = {}
    by_reason: dict = {}
    for r in rows:
        st = per_source.setdefault(r["source"], {"lines_in": 0, "lines_removed": {}})
        st["lines_in"] += int(r["lines_in"] or 0)
        if r["reason"] is not None:
            st["lines_removed"][r["reason"]] = st["lines_removed"].get(r["reason"], 0) + int(r["count"])
            by_reason[r["reason"]] = by_reason.get(r["reason"], 0) + int(r["count"])
    per_source = dict(sorted(per_source.items()))
    lines_in = {src: st["lines_in"] for src, st in per_source.items()}
    examples = audit.collect([r for r in rows if r["reason"] is not None], 8, lambda r: r["reason"])
    extra = {"lines_in": sum(lines_in.values()), "lines_removed": dict(sorted(by_reason.items())),
             "per_source": per_source, "settings": settings}
    return extra, examples
