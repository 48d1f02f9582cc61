from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

# Swedish function words (a stop-word presence test in the spirit of Gopher/FineWeb-2).
SWEDISH_STOP_WORDS = frozenset(
    "och i att det som en på är av för med till den har de inte om ett var jag han men sig vi så från "
    "man hon eller vid efter under när kan ska skulle också sedan nu där hade mot bara alla du".split())
_WORD = re.compile(r"\w+(?:[-']\w+)*", re.UNICODE)
_BULLET = re.compile(r"^\s*(?:[-•*·–]|\d+[.)])\s")
_SYMBOLS = re.compile(r"#|\.\.\.|…")
# A plausible token: letters (with inner - or '), or a number; punctuation around it is stripped.
_STRIP = ".,;:!?()\"'”“«»–-"
_LETTERS = "a-zåäöéüæøA-ZÅÄÖÉÜÆØ"
_PLAUSIBLE_CORE = rf"[{_LETTERS}]+(?:[-'][{_LETTERS}]+)*|\d+(?:[.,:]\d+)*"
_PLAUSIBLE = re.compile(rf"^(?:{_PLAUSIBLE_CORE})$")
# Whole-token counts over the text in one regex each (a token is a run of non-space), the same
# counts as splitting and matching token by token: clock times (`,;` stripped), bare numbers, and
# plausible tokens.
_TIME_TOKENS = re.compile(r"(?<!\S)[,;]*(?:[01]?\d|2[0-3])[.:][0-5]\d[,;]*(?!\S)")
_NUMERIC_TOKENS = re.compile(r"(?<!\S)[\d.,:/%-]+(?!\S)")
_PLAUSIBLE_TOKENS = re.compile(rf"(?<!\S)[{re.escape(_STRIP)}]*(?:{_PLAUSIBLE_CORE})[{re.escape(_STRIP)}]*(?!\S)")


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def duplicate_fraction(items: list[str]) -> tuple[float, float]:
    """(share of items that repeat an earlier one, share of characters in them)."""
    if not items:
        return 0.0, 0.0
    seen, dup, dup_chars = set(), 0, 0
    for it in items:
        if it in seen:
            dup += 1
            dup_chars += len(it)
        seen.add(it)
    total_chars = sum(len(i) for i in items) or 1
    return dup / len(items), dup_chars / total_chars


def word_ids(ws: list[str]) -> np.ndarray:
    """Each word as a small integer (same word, same integer), for vectorised n-gram statistics."""
    index: dict[str, int] = {}
    return np.fromiter((index.setdefault(w, len(index)) for w in ws), dtype=np.int64, count=len(ws))


class NgramGroups:
    """The repeated word n-grams of a document: for each n, the start positions whose n-gram occurs
    more than once, and a group id for each (same n-gram, same id). Built one n at a time from the
    (n-1)-grams: an n-gram can repeat only where its first n-1 words repeat, so each n sorts just
    the positions still repeating (few in most text), not the whole document."""

    def __init__(self, ids: np.ndarray):
        self.ids = ids
        self.by_n = {1: self._repeating(np.arange(len(ids)), ids)}

    @staticmethod
    def _repeating(positions: np.ndarray, keys: np.ndarray):
        _, group, counts = np.unique(keys, return_inverse=True, return_counts=True)
        group = group.ravel()
        keep = counts[group] > 1
        return positions[keep], group[keep]

    def repeated(self, n: int):
        """(start positions of the n-grams that occur more than once, a group id for each)."""
        for k in range(max(self.by_n) + 1, n + 1):
            pos, group = self.by_n[k - 1]
            if pos.size < 2:  # nothing repeats any more (most documents, from n = 4 or so)
                self.by_n[k] = (pos[:0], group[:0])
                continue
            fits = pos + k <= len(self.ids)
            pos, group = pos[fits], group[fits]
            self.by_n[k] = self._repeating(pos, group.astype(np.int64) * (len(self.ids) + 1) + self.ids[pos + k - 1])
        return self.by_n[n]


def top_ngram_fraction(ws: list[str], n: int, grams: NgramGroups | None = None,
                       lengths: np.ndarray | None = None) -> float:
    """Characters covered by the most frequent word n-gram, over all word characters (ties: the
    n-gram seen first)."""
    if len(ws) < n:
        return 0.0
    grams = grams or NgramGroups(word_ids(ws))
    pos, group = grams.repeated(n)
    if pos.size == 0:
        return 0.0
    counts = np.bincount(group)
    best = counts.max()
    start = int(pos[counts[group] == best].min())
    total = float(lengths.sum()) if lengths is not None else sum(map(len, ws))
    return int(best) * sum(len(w) for w in ws[start:start + n]) / (total or 1)


def duplicated_ngram_fraction(ws: list[str], n: int, grams: NgramGroups | None = None,
                              lengths: np.ndarray | None = None) -> float:
    """Characters in word n-grams that occur more than once (overlaps counted once)."""
    if len(ws) < n:
        return 0.0
    grams = grams or NgramGroups(word_ids(ws))
    lengths = np.fromiter(map(len, ws), dtype=np.int64, count=len(ws)) if lengths is None else lengths
    starts = grams.repeated(n)[0]
    if starts.size == 0:
        return 0.0
    cover = np.bincount(starts, minlength=len(ws) + 1) - np.bincount(starts + n, minlength=len(ws) + 1)
    covered = np.cumsum(cover[:-1]) > 0
    return float(lengths[covered].sum()) / (float(lengths.sum()) or 1.0)


def loop_span(ids: np.ndarray, max_n: int = 8) -> tuple[int, int]:
    """(most consecutive repetitions of any phrase of up to `max_n` words, words they cover), for
    ASR looping: a phrase of n words repeated r times is a run of at least (r - 1) * n positions
    where word i equals word i + n."""
    best, span = 1, 0
    for n in range(1, max_n + 1):
        if len(ids) < 2 * n:
            break
        same = np.concatenate(([False], ids[:-n] == ids[n:], [False]))
        edges = np.flatnonzero(same[1:] != same[:-1])
        if edges.size:
            run = int((edges[1::2] - edges[::2]).max())
            if run // n + 1 > best:
                best, span = run // n + 1, run + n
    return best, span


def longest_loop(ws: list[str], max_n: int = 8, ids: np.ndarray | None = None) -> int:
    """Most consecutive repetitions of any phrase of up to `max_n` words (see `loop_span`)."""
    return loop_span(word_ids(ws) if ids is None else ids, max_n)[0]


def text_stats(text: str) -> dict:
    ws = words(text)
    lower = [w.lower() for w in ws]
    ids = word_ids(lower)
    lines = [l for l in text.split("\n") if l.strip()]
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return {"text": text, "words": ws, "lower": lower, "lines": lines, "paragraphs": paragraphs,
            "lower_ids": ids, "grams": NgramGroups(ids),
            "lengths": np.fromiter(map(len, lower), dtype=np.int64, count=len(lower)), "tokens": text.split()}


@dataclass
class Filter:
    name: str
    settings: dict

    modalities: tuple[str, ...] = ("text", "transcript", "subtitle")

    def applies(self, modality: str, fmt: str) -> bool:
        return modality in self.settings.get("modalities", self.modalities)

    def check(self, s: dict, doc: dict) -> str | None:
        raise NotImplementedError


class GopherFilter(Filter):
    """Length, word length, symbols, stop words, and repetition (lines, paragraphs, n-grams)."""

    def check(self, s, doc):
        c, ws, lower = self.settings, s["words"], s["lower"]
        n = len(ws)
        if n < c["min_words"]:
            return "min_words"
        if n > c["max_words"]:
            return "max_words"
        mean_len = sum(map(len, ws)) / n
        if not c["min_mean_word_length"] <= mean_len <= c["max_mean_word_length"]:
            return "mean_word_length"
        if len(_SYMBOLS.findall(s["text"])) / n > c["max_symbol_word_ratio"]:
            return "symbol_ratio"
        if sum(map(str.isdigit, s["text"])) / max(1, len(s["text"])) > c["max_digit_ratio"]:
            return "digit_ratio"
        if sum(map(SWEDISH_STOP_WORDS.__contains__, lower)) < c["min_stop_words"]:
            return "stop_words"
        line_dup, line_dup_chars = duplicate_fraction(s["lines"])
        if line_dup > c["max_dup_line_fraction"] or line_dup_chars > c["max_dup_line_char_fraction"]:
            return "duplicate_lines"
        para_dup, para_dup_chars = duplicate_fraction(s["paragraphs"])
        if para_dup > c["max_dup_paragraph_fraction"] or para_dup_chars > c["max_dup_paragraph_char_fraction"]:
            return "duplicate_paragraphs"
        for k, limit in c["max_top_ngram_fraction"].items():
            if top_ngram_fraction(lower, int(k), s["grams"], s["lengths"]) > limit:
                return f"top_{k}gram"
        for k, limit in c["max_duplicated_ngram_fraction"].items():
            if duplicated_ngram_fraction(lower, int(k), s["grams"], s["lengths"]) > limit:
                return f"duplicated_{k}gram"
        return None


class WebLinesFilter(Filter):
    """C4/Gopher line rules for written text only: bullets, ellipses, lines without end punctuation."""

    modalities = ("text",)

    def check(self, s, doc):
        c, lines = self.settings, s["lines"]
        if not lines:
            return None
        if sum(bool(_BULLET.match(l)) for l in lines) / len(lines) > c["max_bullet_lines"]:
            return "bullet_lines"
        if sum(l.rstrip().endswith(("...", "…")) for l in lines) / len(lines) > c["max_ellipsis_lines"]:
            return "ellipsis_lines"
        return None


class OcrFilter(Filter):
    """OCR quality: mean word confidence (ALTO WC) and the share of implausible tokens."""

    def applies(self, modality, fmt):
        return fmt in self.settings["formats"]

    def check(self, s, doc):
        c = self.settings
        conf = doc.get("ocr_conf")
        if conf is not None and conf == conf and conf < c["min_mean_confidence"]:
            return "low_confidence"
        tokens = s["text"].split()
        if tokens:
            bad = sum(not _PLAUSIBLE.match(t.strip(_STRIP)) for t in tokens if t.strip(_STRIP))
            if bad / len(tokens) > c["max_implausible_share"]:
                return "implausible_tokens"
        return None


class ListingFilter(Filter):
    """TV listings, timetables and tables: many clock times or bare numbers among the tokens."""

    def check(self, s, doc):
        c = self.settings
        n = len(s["tokens"])
        if n < 10:
            return None
        if len(_TIME_TOKENS.findall(s["text"])) / n > c["max_time_token_share"]:
            return "tv_listing"
        if len(_NUMERIC_TOKENS.findall(s["text"])) / n > c["max_numeric_token_share"]:
            return "table"
        return None


class AsrLoopFilter(Filter):
    """Speech recognition stuck in a loop: one phrase repeated back to back."""

    modalities = ("transcript", "subtitle")

    def check(self, s, doc):
        if longest_loop(s["lower"], self.settings["max_phrase_words"], s["lower_ids"]) >= self.settings["max_repeats"]:
            return "repeated_phrase"
        return None


# In order: the specific rules first, so a TV listing is dropped as one rather than for its digits.
FILTERS = {"listing": ListingFilter, "ocr": OcrFilter, "asr_loop": AsrLoopFilter, "web_lines": WebLinesFilter,
           "gopher": GopherFilter}

DEFAULTS = {
    # Thresholds start from Gopher / FineWeb(-2); word counts are per modality below.
    "gopher": {
        "min_words": 50, "max_words": 200000, "min_mean_word_length": 3, "max_mean_word_length": 10,
        "max_symbol_word_ratio": 0.1, "max_digit_ratio": 0.15, "min_stop_words": 2,
        "max_dup_line_fraction": 0.3, "max_dup_line_char_fraction": 0.2,
        "max_dup_paragraph_fraction": 0.3, "max_dup_paragraph_char_fraction": 0.2,
        "max_top_ngram_fraction": {"2": 0.2, "3": 0.18, "4": 0.16},
        "max_duplicated_ngram_fraction": {"5": 0.15, "6": 0.14, "7": 0.13, "8": 0.12, "9": 0.11, "10": 0.10},
        "min_words_by_modality": {"transcript": 30, "subtitle": 30}, "min_words_by_source": {},
    },
    "web_lines": {"modalities": ["text"], "max_bullet_lines": 0.9, "max_ellipsis_lines": 0.3},
    "ocr": {"formats": ["alto"], "min_mean_confidence": 0.6, "max_implausible_share": 0.1},
    "listing": {"max_time_token_share": 0.1, "max_numeric_token_share": 0.3},
    "asr_loop": {"modalities": ["transcript", "subtitle"], "max_phrase_words": 8, "max_repeats": 6},
}


def merged_settings(settings: dict | None) -> dict:
    out = {}
    for name, default in DEFAULTS.items():
        out[name] = {**default, **(settings or {}).get(name, {})}
    out["enabled"] = (settings or {}).get("enabled", list(FILTERS))
    return out


def build_filters(settings: dict | None) -> list[Filter]:
    s = merged_settings(settings)
    return [FILTERS[name](name, s[name]) for name in s["enabled"]]


def check_document(filters: list[Filter], doc: dict) -> str | None:
    s = text_stats(doc["text"])
    for f in filters:
        if not f.applies(doc["modality"], doc["format"]):
            continue
        settings = f.settings
        if f.name == "gopher":
            by_source, by_modality = settings.get("min_words_by_source", {}), settings.get("min_words_by_modality", {})
            minimum = by_source.get(doc.get("source"), by_modality.get(doc["modality"]))
            if minimum is not None:
                f = GopherFilter(f.name, {**settings, "min_words": minimum})
        reason = f.check(s, doc)
        if reason:
            return f"{f.name}:{reason}"
    return None


def quality_score(doc: dict) -> float:
    """Used to pick the best copy among duplicates: OCR confidence, plausible tokens, Swedish score."""
    conf = doc.get("ocr_conf")
    conf = 1.0 if conf is None or conf != conf else float(conf)
    tokens = doc["text"].split()
    plausible = len(_PLAUSIBLE_TOKENS.findall(doc["text"])) / max(1, len(tokens))
    lang = doc.get("lang_score")
    lang = 1.0 if lang is None or lang != lang else float(lang)
    return round(conf * plausible * lang, 6)
