"""Line rules: each line of an OCR'd or transcribed document is kept or removed with a reason.

OCR text (ALTO TextLines, OCR'd cue lines, lines of OCR'd txt) goes through `OcrLineRules`:
- `low_confidence`: the mean ALTO word confidence (WC) of the line is below `min_line_confidence`;
- `too_short`: fewer than `min_letters` letters, or one all-capitals token of at most 4 letters
  (`SN`, `EE`, `KLEEN`: torn OCR), unless the line is a year;
- `implausible`: less than `min_plausible_share` of its letters are in plausible Swedish tokens —
  a word of the Swedish lexicon (wordfreq's Swedish list, with a stricter frequency floor for short
  and all-capital tokens, where OCR noise collides with rare entries), a word in the spelling
  before 1906 (`hvad`, `lifsmedel`), a compound of lexicon words (`brandkårshästar`), or, for other
  words of at least `charmodel_min_length` letters, a mean character-trigram log-probability above
  `min_char_logprob` under a model of that lexicon;
- `not_swedish:<lang>`: fastText lid.176 on lines long enough to judge (`lid_min_chars`,
  `lid_min_words`) gives another language at least `lid_min_confidence` (not Norwegian or Danish:
  on one short line fastText mistakes Swedish for them; the document's language ID decides those).

A text block of an OCR page (an ALTO TextBlock; a paragraph of OCR'd txt, html or jsonl) is also
judged whole, once its lines are judged: `not_swedish:<lang>` for every kept line of a block of at
least `block_lid_min_chars` characters and `block_lid_min_words` words that fastText gives another
language at least `block_lid_min_confidence`, and (Norwegian, Danish) `block_lid_margin` more than
Swedish (a Danish advertisement on a Swedish page, a German notice). A block is long enough to
tell the neighbours apart where a line is not.

In OCR'd video (intertitles: OCR'd cues), text already read from another frame is removed:
- `repeated_line`: a line of two words or more that stood earlier in the document (the newsreel's
  masthead on every card);
- `repeated_card`: most of a card's character 4-grams are in a longer card of the same document.

Speech (transcripts and subtitles that are not OCR) goes through `SpeechLineRules`:
- `asr_hallucination`: what speech recognisers write over music and silence (`Musik`,
  `Textning: ...`, `Tack för att ni tittade`, ...), `hallucinations` patterns, whole line;
- `asr_loop`: a phrase of up to `loop_max_words` words repeated `loop_min_repeats` times or more
  back to back, covering most of the line.

Thresholds were chosen on journal-digital's OCR'd newsreel intertitles (bench/labels/).
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter

from arkivlm.filters.quality import loop_span, word_ids

DEFAULTS = {
    "enabled": True,
    "ocr": {
        "min_line_confidence": 0.5,
        "min_letters": 3,
        "min_plausible_share": 0.5,
        "short_min_zipf": 3.0,          # tokens of 3-4 letters must be at least this frequent
        "caps_short_min_zipf": 4.5,     # ... and all-capital ones this frequent
        "long_min_zipf": 1.0,           # tokens of 5+ letters
        "part_min_zipf": 2.5,           # each part of a compound
        "charmodel_min_length": 5,
        "min_char_logprob": -2.8,
        "lid_min_chars": 20,
        "lid_min_words": 3,
        "lid_min_confidence": 0.9,
        "min_words_left": 3,            # a document with fewer plausible words left is dropped
        "repeated_card_containment": 0.8,  # OCR'd video: a card this much inside a longer card is a repeat
        "block_lid": True,              # text blocks (paragraphs) of OCR pages judged whole by language ID
        "block_lid_min_chars": 40,
        "block_lid_min_words": 6,
        "block_lid_min_confidence": 0.5,  # another language must get at least this p ...
        "block_lid_margin": 0.2,        # ... and, when it is Norwegian or Danish, this much more than Swedish
    },
    "speech": {
        "hallucinations": [
            r"(musik[.!]?\s*)+",
            r"(svensk|svansk)?text(ning|at|ad)?\b.*",
            r"undertext(er|ning)?\b.*",
            r"översättning\b.*",
            r".*\bamara\.org\b.*",
            r"tack för att (ni|du) (har )?(tittade|tittat|lyssnade|lyssnat|såg|sett)\b.*",
            r"prenumerera\b.*",
            r"(applåder|skratt)[.!]?",
        ],
        "loop_max_words": 6,
        "loop_min_repeats": 4,
        "loop_min_cover": 0.5,
        "min_words_left": 1,
    },
}

# Swedish words of one or two letters: any other token that short on an OCR line is noise.
SHORT_WORDS = frozenset(
    "i å ö en av på om de du ja nu se så ut ni vi än ju ha ej ty ur jo må få gå dö bo nå ta ge fy ve ek is ål år öl "
    "ön åt sy ro ry ax ko mo".split())
ABBREVIATIONS = frozenset("kl st nr dr hr fr jr ex resp".split())  # plausible in lower case only
_MIXED_CASE = re.compile(r"[a-zåäöéü][A-ZÅÄÖÉÜ]")  # `BECSETtanTE`, `tAsfat`: OCR noise, not Swedish spelling
_TOKEN = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*|\d+", re.UNICODE)
_PUNCT = ".,;:!?\"'”“«»()–—-"
_YEAR = re.compile(r"^\W*(1[5-9]\d\d|20\d\d)\W*$")


class SwedishLexicon:
    """wordfreq's Swedish word list as (a) a lexicon with Zipf frequencies and (b) a character
    trigram model of its most frequent words. Built once per Python worker."""

    def __init__(self, model_words: int = 60000):
        import wordfreq

        freq = wordfreq.get_frequency_dict("sv", wordlist="large")
        self.zipf = {w: math.log10(f) + 9.0 for w, f in freq.items()}
        trigrams, contexts, alphabet = Counter(), Counter(), set()
        for w in [w for w in list(freq)[:model_words] if w.isalpha()]:
            alphabet.update(w)
            s = f"^^{w}$"
            trigrams.update(s[i - 2:i + 1] for i in range(2, len(s)))
            contexts.update(s[i - 2:i] for i in range(2, len(s)))
        self.trigrams, self.contexts, self.alphabet = trigrams, contexts, len(alphabet) or 40

    def known_compound(self, word: str, part_min_zipf: float) -> bool:
        """A word of the lexicon in the spelling before 1906 (`hvad`, `lifsmedel`), or a compound of
        two or three lexicon words of at least three letters each, with an optional linking s or e
        between them (`brand|kårs|hästarna`, `marx|stad`)."""
        modern = modern_spelling(word)
        if modern != word and self.zipf.get(modern, 0.0) >= part_min_zipf:
            return True
        return self._split(modern, part_min_zipf, 3)

    @functools.lru_cache(maxsize=100_000)
    def _split(self, word: str, part_min_zipf: float, parts_left: int) -> bool:
        if parts_left < 2:
            return False
        for i in range(3, len(word) - 2):
            head, tail = word[:i], word[i:]
            if self.zipf.get(head, 0.0) < part_min_zipf:
                continue
            for rest in (tail, tail[1:] if tail[0] in "se" else None):
                if rest and len(rest) >= 3 and (self.zipf.get(rest, 0.0) >= part_min_zipf or self._split(rest, part_min_zipf, parts_left - 1)):
                    return True
        return False

    def char_logprob(self, word: str) -> float:
        """Mean log-probability per character (with the end mark) under the trigram model."""
        s = f"^^{word}$"
        lp = 0.0
        for i in range(2, len(s)):
            lp += math.log((self.trigrams.get(s[i - 2:i + 1], 0) + 0.1) / (self.contexts.get(s[i - 2:i], 0) + 0.1 * self.alphabet))
        return lp / (len(s) - 2)


_OLD_SPELLING = [(re.compile(r"hv"), "v"), (re.compile(r"qv"), "kv"), (re.compile(r"dt\b"), "t"),
                 (re.compile(r"fv"), "v"), (re.compile(r"f(?=[^aeiouyåäö]|\b)"), "v")]


def modern_spelling(word: str) -> str:
    """Swedish spelling before the 1906 reform, modernised: hv -> v, qv -> kv, final dt -> t,
    fv and f before a consonant or at the end -> v (`hvad` -> `vad`, `lifsmedel` -> `livsmedel`)."""
    if not any(c in word for c in "hqdf"):
        return word
    for pattern, repl in _OLD_SPELLING:
        word = pattern.sub(repl, word)
    return word


@functools.lru_cache(maxsize=2)
def lexicon() -> SwedishLexicon:
    return SwedishLexicon()


class OcrLineRules:
    def __init__(self, settings: dict):
        self.s = {**DEFAULTS["ocr"], **(settings or {})}
        self.lex = lexicon()
        self._plausible = functools.lru_cache(maxsize=200_000)(self._token_plausible)

    def _token_plausible(self, token: str) -> bool:
        s, word = self.s, token.lower().strip("-'’")
        if _MIXED_CASE.search(token[1:] if token[:2].isupper() else token):
            return False
        if "-" in word:  # compounds with a hyphen (`Monica-dalen`, `Marionett-teater`): every part
            return all(self._plausible(part) for part in word.split("-") if part)
        n = len(word)
        if n <= 2:
            return word in SHORT_WORDS or (word in ABBREVIATIONS and not token.isupper())
        z = self.lex.zipf.get(word, 0.0)
        if n <= 4:
            return z >= (s["caps_short_min_zipf"] if token.isupper() else s["short_min_zipf"]) or \
                (word in ABBREVIATIONS and not token.isupper()) or \
                self.lex.zipf.get(modern_spelling(word), 0.0) >= s["short_min_zipf"] > z
        if z >= s["long_min_zipf"] or self.lex.known_compound(word, s["part_min_zipf"]):
            return True
        return n >= s["charmodel_min_length"] and self.lex.char_logprob(word) > s["min_char_logprob"]

    def plausibility(self, line: str) -> tuple[float, int, int]:
        """(share of letters in plausible tokens, letters, plausible words). A line needs at least one
        plausible word of three letters or more: `ST RR SA En Te Ta` is not Swedish."""
        good = bad = words = long_words = 0
        for t in _TOKEN.findall(line):
            if t.isdigit():
                continue
            n = len(t)
            if self._plausible(t):
                good += n
                words += 1
                long_words += n >= 3
            else:
                bad += n
        if not long_words:
            return 0.0, good + bad, 0
        return good / (good + bad), good + bad, words

    def judge(self, line: str, conf: float | None) -> tuple[str | None, int]:
        """(reason or None, plausible words) for one line; language ID comes separately (batched)."""
        s = self.s
        if conf is not None and conf == conf and conf < s["min_line_confidence"]:
            return "low_confidence", 0
        share, letters, words = self.plausibility(line)
        if letters < s["min_letters"]:
            return (None, 1) if _YEAR.match(line) else ("too_short", 0)
        tokens = line.split()
        if len(tokens) == 1 and len(tokens[0].strip(".,:;!?()[]\"'”»«-")) <= 4 and tokens[0].isupper():
            return "too_short", 0
        if share < s["min_plausible_share"]:
            return "implausible", words
        return None, words

    def needs_lid(self, line: str) -> bool:
        return len(line) >= self.s["lid_min_chars"] and len(line.split()) >= self.s["lid_min_words"]


class SpeechLineRules:
    def __init__(self, settings: dict):
        self.s = {**DEFAULTS["speech"], **(settings or {})}
        self.hallucination = re.compile("|".join(f"(?:{p})" for p in self.s["hallucinations"]), re.IGNORECASE)

    def judge(self, line: str) -> str | None:
        bare = line.strip(" .,!?-–—\"'”")
        if self.hallucination.fullmatch(bare):
            return "asr_hallucination"
        words = line.lower().split()
        n = len(words)
        if n < self.s["loop_min_repeats"] or len(set(words)) * 2 > n + 2:  # most lines: no repetition at all
            return None
        words = [w.strip(_PUNCT) for w in words]
        if len(set(words)) * 2 <= n:
            repeats, span = loop_span(word_ids(words), self.s["loop_max_words"])
            if repeats >= self.s["loop_min_repeats"] and span >= self.s["loop_min_cover"] * n:
                return "asr_loop"
        return None


_NOT_WORD = re.compile(r"[\W_]+")


def line_key(line: str) -> str:
    """A line without case, punctuation and the one- and two-letter OCR debris around it
    (`BE Svensk Filmindustris Revy 1937` -> `svensk filmindustris revy 1937`)."""
    return " ".join(w for w in _NOT_WORD.sub(" ", line.casefold()).split() if len(w) > 2)


def repeated_lines(lines: list[str]) -> list[bool]:
    """True for a line of two words or more seen before in the document (a masthead printed on every
    intertitle card: `Svensk Filmindustris Revy 1937`); the first stays."""
    seen, out = set(), []
    for line in lines:
        key = line_key(line)
        out.append(key.count(" ") >= 1 and key in seen)
        seen.add(key)
    return out


def repeated_cards(cards: list[str], min_containment: float) -> list[bool]:
    """True for each card (paragraph) of an OCR'd video whose text is already there: the same
    intertitle is OCR'd from several frames, each time with other errors. A card is a repeat when
    `min_containment` of its character 4-grams are in a longer card kept before it (longest first)."""
    keys = []
    for card in cards:
        norm = _NOT_WORD.sub(" ", card.casefold()).strip()
        keys.append({norm[i:i + 4] for i in range(len(norm) - 3)} or ({norm} if norm else set()))
    drop, kept = [False] * len(cards), []
    for i in sorted(range(len(cards)), key=lambda i: (-len(keys[i]), i)):
        if keys[i] and any(len(keys[i] & k) >= min_containment * len(keys[i]) for k in kept):
            drop[i] = True
        elif keys[i]:
            kept.append(keys[i])
    return drop


def flow(paragraph_lines: list[list[str]]) -> str:
    """Kept lines -> running text: the lines of a paragraph joined, OCR hyphenation rejoined."""
    from arkivlm.clean import rejoin_hyphenation

    out = []
    for lines in paragraph_lines:
        if lines:
            text = "\n".join(lines)
            if "-\n" in text or "\u00ad\n" in text:
                text = rejoin_hyphenation(text)
            out.append(text.replace("\n", " "))
    return "\n\n".join(out)
