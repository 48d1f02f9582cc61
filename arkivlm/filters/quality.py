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
_END_MARKS = ".,;:!?"  # in _STRIP, and none a symbol of _SYMBOLS on its own


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
        """`ids`: non-negative integers, the same for the same word."""
        self.ids = ids
        self.base = int(ids.max()) + 1 if len(ids) else 1
        self.by_n = {1: self._repeating(np.arange(len(ids)), ids)}

    @staticmethod
    def _repeating(positions: np.ndarray, keys: np.ndarray):
        """(the positions whose key occurs more than once, a group id for each), in key order:
        what `np.unique(keys, return_inverse=True, return_counts=True)` gives, without its Python
        overhead (about 50 µs a call, three calls a document; most documents are a few hundred
        words). Callers use neither the order nor the ids' values, only which positions share one."""
        if keys.size < 2:
            return positions[:0], np.zeros(0, dtype=np.int64)
        order = np.argsort(keys)
        ordered = keys[order]
        first = np.empty(ordered.size, dtype=bool)
        first[0] = True
        np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
        group = np.cumsum(first)
        group -= 1
        # a key repeats where it equals its neighbour on either side
        repeats = ~first
        repeats[:-1] |= ~first[1:]
        return positions[order[repeats]], group[repeats]

    def repeated(self, n: int):
        """(start positions of the n-grams that occur more than once, a group id for each)."""
        for k in range(max(self.by_n) + 1, n + 1):
            pos, group = self.by_n[k - 1]
            if pos.size < 2:  # nothing repeats any more (most documents, from n = 4 or so)
                self.by_n[k] = (pos[:0], group[:0])
                continue
            fits = pos + k <= len(self.ids)
            pos, group = pos[fits], group[fits]
            self.by_n[k] = self._repeating(pos, group.astype(np.int64) * self.base + self.ids[pos + k - 1])
        return self.by_n[n]


def _lengths(ws: list[str]) -> np.ndarray:
    return np.fromiter(map(len, ws), dtype=np.int64, count=len(ws))


def top_ngram_fraction(ws: list[str] | None, n: int, grams: NgramGroups | None = None,
                       lengths: np.ndarray | None = None) -> float:
    """Characters covered by the most frequent word n-gram, over all word characters (ties: the
    n-gram seen first). `ws` may be None where `grams` and `lengths` (of each word) are given."""
    lengths = _lengths(ws) if lengths is None else lengths
    if len(lengths) < n:
        return 0.0
    grams = grams or NgramGroups(word_ids(ws))
    pos, group = grams.repeated(n)
    if pos.size == 0:
        return 0.0
    counts = np.bincount(group)
    best = counts.max()
    start = int(pos[counts[group] == best].min())
    return int(best) * int(lengths[start:start + n].sum()) / (float(lengths.sum()) or 1)


def duplicated_ngram_fraction(ws: list[str] | None, n: int, grams: NgramGroups | None = None,
                              lengths: np.ndarray | None = None) -> float:
    """Characters in word n-grams that occur more than once (overlaps counted once). `ws` may be
    None where `grams` and `lengths` are given."""
    lengths = _lengths(ws) if lengths is None else lengths
    if len(lengths) < n:
        return 0.0
    grams = grams or NgramGroups(word_ids(ws))
    starts = grams.repeated(n)[0]
    if starts.size == 0:
        return 0.0
    cover = np.bincount(starts, minlength=len(lengths) + 1) - np.bincount(starts + n, minlength=len(lengths) + 1)
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
        equal = ids[:-n] == ids[n:]
        if np.count_nonzero(equal) < best * n:  # too few equal pairs for a run that beats `best` (most text)
            continue
        same = np.concatenate(([False], equal, [False]))
        edges = np.flatnonzero(same[1:] != same[:-1])
        if edges.size:
            run = int((edges[1::2] - edges[::2]).max())
            if run // n + 1 > best:
                best, span = run // n + 1, run + n
    return best, span


def longest_loop(ws: list[str] | None, max_n: int = 8, ids: np.ndarray | None = None) -> int:
    """Most consecutive repetitions of any phrase of up to `max_n` words (see `loop_span`)."""
    return loop_span(word_ids(ws) if ids is None else ids, max_n)[0]


_TIME_TOKEN = re.compile(r"[,;]*(?:[01]?\d|2[0-3])[.:][0-5]\d[,;]*")
_NUMERIC_TOKEN = re.compile(r"[\d.,:/%-]+")
_PLAUSIBLE_TOKEN = re.compile(rf"[{re.escape(_STRIP)}]*(?:{_PLAUSIBLE_CORE})[{re.escape(_STRIP)}]*")


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    """`array`, or a copy twice as long or longer (zeros after it), to hold `size` rows."""
    if size <= len(array):
        return array
    out = np.zeros((max(size, 2 * len(array)),) + array.shape[1:], dtype=array.dtype)
    out[:len(array)] = array
    return out


class TokenTable:
    """What each distinct whitespace-separated token contributes to a document's statistics, worked
    out once per Python worker: its words (lower-cased, as process-wide ids, and their lengths) and
    its counts (`COUNTS`). No word, digit, symbol or whole-token pattern of the filters spans
    whitespace, so every count of a document is the sum of its tokens' counts, and its word
    sequence is its tokens' words in order: running the regexes over each distinct token once
    (most recur in every document) gives the same figures as running them over every text."""

    COUNTS = ("words", "word_chars", "stop_words", "digits", "symbols", "time_tokens", "numeric_tokens",
              "plausible_tokens", "ocr_bad_tokens")
    SUM_CHUNK = 1 << 16  # tokens whose rows are summed at once: a book's counts in bounded memory

    def __init__(self, max_tokens: int = 1_000_000):
        self.max_tokens = max_tokens  # a bound on a Python worker's memory
        self.clear()

    def clear(self):
        self.index: dict[str, int] = {}
        self.vocabulary: dict[str, int] = {}
        self.counts = np.zeros((1024, len(self.COUNTS)), dtype=np.int64)
        self.first_word = np.zeros(1024, dtype=np.int64)
        self.word_ids = np.zeros(4096, dtype=np.int64)
        self.word_lengths = np.zeros(4096, dtype=np.int64)
        self.n_words = 0

    def _add(self, tokens) -> None:
        """Rows for new `tokens` (distinct), appended to the arrays in one step."""
        rows, first, ids, lengths = [], [], [], []
        vocabulary, n_words = self.vocabulary, self.n_words
        for token in tokens:
            # Most tokens are a word, or a word and one mark of punctuation: each count follows from
            # that without the regexes (one word, no digit, symbol, clock time or number; plausible
            # when its letters are all Swedish ones).
            word = token[:-1] if token[-1] in _END_MARKS else token
            if word.isalpha():
                lower = word.lower()
                plausible = word.isascii() or _PLAUSIBLE.match(word) is not None
                rows.append((1, len(word), lower in SWEDISH_STOP_WORDS, 0, 0, False, False, plausible, not plausible))
                first.append(n_words)
                ids.append(vocabulary.setdefault(lower, len(vocabulary)))
                lengths.append(len(lower))
                n_words += 1
                continue
            ws = _WORD.findall(token)
            lower = [w.lower() for w in ws]
            core = token.strip(_STRIP)
            rows.append((len(ws), sum(map(len, ws)), sum(map(SWEDISH_STOP_WORDS.__contains__, lower)),
                         sum(map(str.isdigit, token)), len(_SYMBOLS.findall(token)),
                         _TIME_TOKEN.fullmatch(token) is not None, _NUMERIC_TOKEN.fullmatch(token) is not None,
                         _PLAUSIBLE_TOKEN.fullmatch(token) is not None, bool(core) and not _PLAUSIBLE.match(core)))
            first.append(n_words)
            ids.extend([vocabulary.setdefault(w, len(vocabulary)) for w in lower])
            lengths.extend(map(len, lower))
            n_words += len(ws)
        i = len(self.index)
        self.counts = _grown(self.counts, i + len(rows))
        self.first_word = _grown(self.first_word, i + len(rows))
        self.word_ids = _grown(self.word_ids, n_words)
        self.word_lengths = _grown(self.word_lengths, n_words)
        self.counts[i:i + len(rows)] = np.array(rows, dtype=np.int64).reshape(len(rows), len(self.COUNTS))
        self.first_word[i:i + len(rows)] = first
        self.word_ids[self.n_words:n_words] = ids
        self.word_lengths[self.n_words:n_words] = lengths
        self.n_words = n_words
        self.index.update(zip(tokens, range(i, i + len(rows))))

    def lookup(self, tokens) -> np.ndarray:
        """The table's row of each of `tokens` (repeats allowed), added where new."""
        if len(self.index) > self.max_tokens:
            self.clear()
        index = self.index
        try:
            return np.fromiter(map(index.__getitem__, tokens), dtype=np.int64, count=len(tokens))
        except KeyError:
            self._add([t for t in dict.fromkeys(tokens) if t not in index])
            return np.fromiter(map(index.__getitem__, tokens), dtype=np.int64, count=len(tokens))

    def stats(self, tokens: list[str]) -> dict:
        """Counts, lower-case word ids (the worker's: the same for the same word) and word lengths
        of a document split into `tokens`."""
        if not tokens:
            empty = np.zeros(0, dtype=np.int64)
            return {**dict.fromkeys(self.COUNTS, 0), "lower_ids": empty, "lengths": empty}
        at = self.lookup(tokens)  # each token's row
        counts = self.counts[at[:self.SUM_CHUNK]].sum(axis=0)
        for i in range(self.SUM_CHUNK, len(at), self.SUM_CHUNK):
            counts += self.counts[at[i:i + self.SUM_CHUNK]].sum(axis=0)
        n = self.counts[at, 0]
        ends = np.cumsum(n)
        words = np.arange(int(ends[-1])) + np.repeat(self.first_word[at] - (ends - n), n)
        return {**dict(zip(self.COUNTS, counts.tolist())), "lower_ids": self.word_ids[words], "lengths": self.word_lengths[words]}


_TOKENS = TokenTable()


def text_stats(text: str) -> dict:
    """What the filters and `quality_score` need of a document, from one pass over its tokens."""
    tokens = text.split()
    s = _TOKENS.stats(tokens)
    lines = [l for l in text.split("\n") if l.strip()]
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return {**s, "text": text, "n_tokens": len(tokens), "lines": lines, "paragraphs": paragraphs,
            "grams": NgramGroups(s["lower_ids"])}


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
        c, n = self.settings, s["words"]
        if n < c["min_words"]:
            return "min_words"
        if n > c["max_words"]:
            return "max_words"
        mean_len = s["word_chars"] / n
        if not c["min_mean_word_length"] <= mean_len <= c["max_mean_word_length"]:
            return "mean_word_length"
        if s["symbols"] / n > c["max_symbol_word_ratio"]:
            return "symbol_ratio"
        if s["digits"] / max(1, len(s["text"])) > c["max_digit_ratio"]:
            return "digit_ratio"
        if s["stop_words"] < c["min_stop_words"]:
            return "stop_words"
        line_dup, line_dup_chars = duplicate_fraction(s["lines"])
        if line_dup > c["max_dup_line_fraction"] or line_dup_chars > c["max_dup_line_char_fraction"]:
            return "duplicate_lines"
        para_dup, para_dup_chars = duplicate_fraction(s["paragraphs"])
        if para_dup > c["max_dup_paragraph_fraction"] or para_dup_chars > c["max_dup_paragraph_char_fraction"]:
            return "duplicate_paragraphs"
        for k, limit in c["max_top_ngram_fraction"].items():
            if top_ngram_fraction(None, int(k), s["grams"], s["lengths"]) > limit:
                return f"top_{k}gram"
        for k, limit in c["max_duplicated_ngram_fraction"].items():
            if duplicated_ngram_fraction(None, int(k), s["grams"], s["lengths"]) > limit:
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
        if s["n_tokens"] and s["ocr_bad_tokens"] / s["n_tokens"] > c["max_implausible_share"]:
            return "implausible_tokens"
        return None


class ListingFilter(Filter):
    """TV listings, timetables and tables: many clock times or bare numbers among the tokens."""

    def check(self, s, doc):
        c = self.settings
        n = s["n_tokens"]
        if n < 10:
            return None
        if s["time_tokens"] / n > c["max_time_token_share"]:
            return "tv_listing"
        if s["numeric_tokens"] / n > c["max_numeric_token_share"]:
            return "table"
        return None


class AsrLoopFilter(Filter):
    """Speech recognition stuck in a loop: one phrase repeated back to back."""

    modalities = ("transcript", "subtitle")

    def check(self, s, doc):
        if longest_loop(None, self.settings["max_phrase_words"], s["lower_ids"]) >= self.settings["max_repeats"]:
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


def check_document(filters: list[Filter], doc: dict, stats: dict | None = None) -> str | None:
    """`stats`: `text_stats` of the document's text, if the caller has them."""
    s = stats or text_stats(doc["text"])
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


def quality_score(doc: dict, stats: dict | None = None) -> float:
    """Used to pick the best copy among duplicates: OCR confidence, plausible tokens, Swedish score.
    `stats`: `text_stats` of the document's text, if the caller has them."""
    conf = doc.get("ocr_conf")
    conf = 1.0 if conf is None or conf != conf else float(conf)
    s = stats or text_stats(doc["text"])
    plausible = s["plausible_tokens"] / max(1, s["n_tokens"])
    lang = doc.get("lang_score")
    lang = 1.0 if lang is None or lang != lang else float(lang)
    return round(conf * plausible * lang, 6)
