"""Clean: Unicode repair, OCR hyphenation, subtitle and transcript cues -> lines and paragraphs.

Text documents: ftfy (mojibake, HTML entities) and NFC; control characters out; line-end
hyphenation rejoined (not before `och`, `eller`, ...: the compound ellipsis) and hard line wraps
undone in the `unwrap_formats`; paragraphs separated by one blank line. OCR text (ALTO, or a
source with `ocr: true`) keeps one OCR line per line: the lines stage scores each line, then joins
them.

Cue documents (SRT, WebVTT, Whisper): markup, ASS codes, inline timestamps, sound descriptions
and any stray timing line or cue number removed; speaker tags (`<v Name>`, `NAME:`, a leading
dash) become paragraph breaks; repeated and rolling cues collapsed; each cue stays on a line of
its own until the lines stage (OCR'd cues: each OCR line). Cues that recur in many different
programmes of the same source (intros, credits) are removed at the start or end of a programme,
or in the middle where a run of them recurs in the same order.
"""

from __future__ import annotations

import functools
import hashlib
import html
import re
import unicodedata

import pandas as pd

from arkivlm.tables import DOCUMENT_FIELDS, empty_if_null, is_true, null_if_empty, with_int_columns

DEFAULTS = {
    "unwrap_formats": ["txt"],
    "boilerplate": {"modalities": ["subtitle", "transcript"], "min_docs": 5, "edge_cues": 4, "min_run": 3,
                    "min_run_words": 8},
}

_TIMING_LINE = re.compile(r"^\s*(\d+\s*)?\d{1,2}:\d{2}(:\d{2})?[,.]\d{1,3}\s*-->.*$", re.M)
_CUE_NUMBER_LINE = re.compile(r"^\s*\d+\s*$", re.M)
_VOICE = re.compile(r"<v(?:\.[^\s>]*)?\s+([^>]+)>", re.I)
_TAG = re.compile(r"</?[a-zA-Z][^<>]{0,80}>")
_INLINE_TS = re.compile(r"<\d{1,2}:\d{2}(?::\d{2})?[.,]\d{3}>")
_ASS = re.compile(r"\{\\[^{}]*\}")
_SOUND = re.compile(r"\[[^\]\n]{1,60}\]|\((?:[A-ZÅÄÖ][A-ZÅÄÖ ]+)\)")
_SPEAKER = re.compile(r"^\s*([A-ZÅÄÖ][A-ZÅÄÖ0-9 .'-]{1,40}|SPEAKER_\d+):\s+")
_DASH = re.compile(r"^\s*[-–—]\s*")
_MUSIC = re.compile(r"[♪♫#]+")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_ODD_SPACES = re.compile(r"[\t\u00a0\u2000-\u200b\u202f\u205f\u3000]|  ")  # what _SPACES would change
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NOT_PLAIN = re.compile(r"[\r\u2028\u2029\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # what normalize_unicode changes, NFC aside
# A hyphen at a line end joins the word's halves, except before a conjunction: `in-\noch utrikes`
# is the Swedish compound ellipsis (in- och utrikes) and keeps its hyphen.
_HYPHEN_BREAK = re.compile(r"(\w)[-\u00ad]\n(?=[a-zåäöéüæø])(?!(?:och|eller|samt|respektive|resp\.|liksom)\b)")
_HYPHEN_KEPT = re.compile(r"(\w[-\u00ad])\n(?=[a-zåäöéüæø])")
_SOFT_WRAP = re.compile(r"(?<!\n)\n(?!\n)")
_KEY_DROP = re.compile(r"[\W_]+")


def squeeze_spaces(line: str) -> str:
    """`_SPACES.sub(" ", line).strip()`, without the substitution where it would change nothing."""
    return (_SPACES.sub(" ", line) if _ODD_SPACES.search(line) else line).strip()


def normalize_unicode(text: str, fix=True) -> str:
    """ftfy (`fix`: True, or a translate table from `ftfy_plan` to apply instead), line breaks,
    control characters out, NFC."""
    if isinstance(fix, dict):
        text = text.translate(fix)
    elif fix:
        import ftfy

        text = ftfy.fix_text(text, normalization="NFC")
    if not _NOT_PLAIN.search(text) and unicodedata.is_normalized("NFC", text):
        return text  # nothing below would change it
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = _CONTROL.sub("", text)
    return unicodedata.normalize("NFC", text)


def tidy_paragraphs(text: str) -> str:
    lines = [squeeze_spaces(line) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def rejoin_hyphenation(text: str) -> str:
    """`järnvägs-\nstationen` -> `järnvägsstationen`; `in-\noch utrikes` -> `in- och utrikes`."""
    return _HYPHEN_KEPT.sub(r"\1 ", _HYPHEN_BREAK.sub(r"\1", text))


def clean_text(text: str, fmt: str, unwrap: bool, keep_lines: bool = False) -> str:
    """`keep_lines`: OCR text keeps its line structure (one OCR line per line) for the lines stage,
    which scores each line and then rejoins hyphenation and wraps itself."""
    text = normalize_unicode(text, fix=ftfy_plan(text))
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    if keep_lines:
        return tidy_paragraphs(text.replace("\n", "\n\n") if fmt == "html" else text)
    text = _HYPHEN_BREAK.sub(r"\1", text)
    if unwrap:
        text = _SOFT_WRAP.sub(" ", text)
    elif fmt == "html":  # trafilatura puts one paragraph per line
        text = text.replace("\n", "\n\n")
    return tidy_paragraphs(text)


# ASCII that a fixer of ftfy acts on: an HTML entity (ftfy decodes only those ending in `;`), `\r`,
# terminal escapes and control characters. Two searches, the entity's only where there is an `&`:
# a third of the time of one search with both as alternatives, which cannot skip ahead.
_ENTITY = re.compile(r"&#?[0-9A-Za-z]{1,24};")
_FTFY_CONTROL = re.compile(r"[\r\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _ftfy_ascii(text: str) -> bool:
    return ("&" in text and _ENTITY.search(text) is not None) or _FTFY_CONTROL.search(text) is not None


# Runs of non-ASCII characters at most 6 ASCII characters apart: the stretches around them (3
# characters on either side) touch, so they are one stretch.
_NON_ASCII_STRETCH = re.compile(r"[^\x00-\x7f]+(?:[\x00-\x7f]{1,6}[^\x00-\x7f]+)*")


def _around_non_ascii(text: str) -> set[str]:
    """The distinct stretches of `text` within 3 characters of a non-ASCII character."""
    return {text[max(0, m.start() - 3):m.end() + 3] for m in _NON_ASCII_STRETCH.finditer(text)}


_NOT_BAD: set[str] = set()  # stretches ftfy's `is_bad` passed: Swedish repeats ` på `, ` är ` in every text


# Every pattern of ftfy's badness (ftfy 6) holds one of these characters (C1 controls, Â, Ã, Œ, œ)
# or two non-ASCII characters side by side: Swedish text seldom has either, and then no stretch
# needs judging (tests/test_clean.py checks the claim against ftfy's patterns).
_MOJIBAKE_ALONE = frozenset("ÂÃŒœ") | frozenset(map(chr, range(0x80, 0xA0)))
_NON_ASCII_PAIR = re.compile(r"[^\x00-\x7f][^\x00-\x7f]")


def mojibake_possible(text: str, chars: set[str] | None = None) -> bool:
    """Whether ftfy's badness could find anything in `text` (`chars`: its set of characters, if known)."""
    return not (set(text) if chars is None else chars).isdisjoint(_MOJIBAKE_ALONE) or bool(_NON_ASCII_PAIR.search(text))


def _has_mojibake(text: str, chars: set[str] | None = None) -> bool:
    from ftfy.badness import is_bad

    if not mojibake_possible(text, chars):
        return False
    new = _around_non_ascii(text) - _NOT_BAD
    if not new:
        return False
    if is_bad("\x00".join(sorted(new))):
        return True
    if len(_NOT_BAD) > 1_000_000:  # a bound on a Python worker's memory
        _NOT_BAD.clear()
    _NOT_BAD.update(new)
    return False


@functools.lru_cache(maxsize=4096)
def _ftfy_char(ch: str) -> str:
    import ftfy

    return ftfy.fix_text(ch, normalization="NFC")


def ftfy_plan(text: str):
    """What ftfy would do to `text`, found cheaply, since running it costs most of the cleaning time:
    None (it leaves every line as it is), a `str.translate` table (it only changes single characters:
    curly quotes, ligatures, full-width forms), or True (anything else: run it). Errs only towards
    running ftfy:
    - ASCII that a fixer acts on (entities, `\r`, terminal escapes, control characters);
    - mojibake: ftfy's own `is_bad`, on the stretches around non-ASCII characters (every pattern of
      it is at most four characters long and holds a non-ASCII character);
    - NFC; then ftfy's remaining fixes go character by character, so each distinct non-ASCII
      character is fixed on its own.
    """
    if text.isascii():
        return True if _ftfy_ascii(text) else None
    if _ftfy_ascii(text) or not unicodedata.is_normalized("NFC", text):
        return True
    chars = set(text)
    if _has_mojibake(text, chars):
        return True
    table = {ord(ch): fixed for ch in chars if ch > "\x7f" and (fixed := _ftfy_char(ch)) != ch}
    return table or None


def strip_markup(text: str) -> str:
    """WebVTT voice, inline-timestamp and other tags, ASS codes and HTML entities out. Each pattern
    runs only where its characters occur: most cues are plain text."""
    if "<" in text:
        text = _TAG.sub("", _INLINE_TS.sub("", _VOICE.sub("", text)))
    if "{" in text:
        text = _ASS.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    return text


def parse_cue(raw: str, fix_unicode=True) -> list[tuple[bool, str | None, str]]:
    """One raw cue -> [(starts_turn, speaker, text)], markup and timing debris removed."""
    text = normalize_unicode(raw, fix_unicode)
    if "-->" in text:
        text = _TIMING_LINE.sub("", text)
    if "\n" in text or text.strip().isdigit():
        text = _CUE_NUMBER_LINE.sub("", text)
    speaker = None
    if "<" in text and (m := _VOICE.search(text)):
        speaker = m.group(1).strip()
    text = strip_markup(text)
    if "[" in text or "(" in text:
        text = _SOUND.sub("", text)
    if "♪" in text or "♫" in text or "#" in text:
        text = _MUSIC.sub("", text)
    parts: list[list] = []
    for line in text.split("\n"):
        starts = False
        if m := _DASH.match(line):
            line, starts = line[m.end():], True
        if ":" in line and (m := _SPEAKER.match(line)):
            speaker, starts = m.group(1).strip(), True
            line = line[m.end():]
        line = squeeze_spaces(line)
        if not line:
            continue
        if starts or not parts:
            parts.append([starts, speaker, line])
        else:
            parts[-1][2] += " " + line
    return [(s, sp, t) for s, sp, t in parts]


def parse_ocr_cue(raw: str, fix_unicode=True) -> str:
    """An OCR'd cue (a newsreel intertitle card): markup out, each OCR line (separated by tabs or
    line breaks) kept on a line of its own for the lines stage; no speaker or dash parsing, since a
    capitalised word and a colon on a card is not a speaker."""
    text = normalize_unicode(raw.replace("\t", "\n"), fix_unicode)
    if "-->" in text:
        text = _TIMING_LINE.sub("", text)
    text = strip_markup(text)
    return "\n".join(line for line in map(squeeze_spaces, text.split("\n")) if line)


def cue_key(text: str) -> str:
    return _KEY_DROP.sub(" ", text.casefold()).strip()


_NOT_WORD_OR_NUL = re.compile(r"[^\w\x00]+")


def cue_keys(texts: list[str]) -> list[str]:
    """`[cue_key(t) for t in texts]` with one casefold and one substitution for all of a programme's
    cues, joined by NUL (casefold maps each character on its own, and no run of non-word characters
    crosses a NUL); a cue holding a NUL itself is keyed on its own."""
    joined = "\x00".join(texts)
    if joined.count("\x00") != max(0, len(texts) - 1):
        return [cue_key(t) for t in texts]
    folded = joined.casefold().replace("_", " ")
    return [part.strip() for part in _NOT_WORD_OR_NUL.sub(" ", folded).split("\x00")] if texts else []


def key_hash(key: str) -> int:
    """A cue key as a 64-bit integer (0 for an empty key): what the boilerplate count shuffles."""
    return (int.from_bytes(hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little", signed=True) or 1) if key else 0


def prepare_cues(raw_cues: list[str], ocr: bool = False, keys: bool = True) -> tuple[list[str], list[bool], list[str] | None]:
    """Raw cues -> (texts, starts_turn, keys), with repeated and rolling cues collapsed. An OCR'd
    cue is one card: its own paragraph, its OCR lines kept as lines. `keys=False`: no keys (None)."""
    texts, turns = [], []
    prev_speaker, prev_text = None, ""
    fix = ftfy_plan("\n".join(raw_cues))
    for raw in raw_cues:
        parts = [(True, None, t) for t in [parse_ocr_cue(raw, fix)] if t] if ocr else parse_cue(raw, fix)
        for starts, speaker, text in parts:
            if text == prev_text:
                continue
            if prev_text and text.startswith(prev_text + " "):  # rolling caption repeats its predecessor
                text = text[len(prev_text):].strip()
            if speaker is not None and speaker != prev_speaker:
                starts = True
            prev_speaker = speaker if speaker is not None else prev_speaker
            prev_text = text
            texts.append(text)
            turns.append(starts)
    return texts, turns, cue_keys(texts) if keys else None


_MASK64 = (1 << 64) - 1


def pair_key(a: int, b: int) -> int:
    """Two consecutive cue key hashes as one 64-bit key (what `frequent_pairs` holds); 0 when either
    cue has no key."""
    if not (a and b):
        return 0
    h = ((int(a) * 0x9E3779B97F4A7C15) ^ (int(b) + 0x632BE59BD9B4E019)) & _MASK64
    return (h - (1 << 64) if h >= 1 << 63 else h) or 1


def boilerplate_mask(keys: list, frequent: set, edge: int, min_run: int, frequent_pairs: set | None = None,
                     words: list[int] | None = None, min_run_words: int = 0) -> list[bool]:
    """True for cues to drop: boilerplate is what repeats across a source's programmes at the same
    place. A frequent cue at the programme's edge (intro, credits) is dropped; in the middle, only a
    run of at least `min_run` frequent cues that follow one another in the same order in many
    programmes (every consecutive pair in `frequent_pairs`) and hold at least `min_run_words` words:
    common short dialogue (`Ja.` `Nej.` `Tack.`) is not boilerplate wherever it stands."""
    n = len(keys)
    freq = [bool(k) and k in frequent for k in keys]
    drop = [False] * n
    for i in range(n):
        if freq[i] and (i < edge or i >= n - edge):
            drop[i] = True
    i = 0
    while i < n:
        if freq[i]:
            j = i + 1
            while j < n and freq[j] and (frequent_pairs is None or pair_key(keys[j - 1], keys[j]) in frequent_pairs):
                j += 1
            if j - i >= min_run and (words is None or sum(words[i:j]) >= min_run_words):
                for k in range(i, j):
                    drop[k] = True
            i = j
        else:
            i += 1
    return drop


def assemble(texts: list[str], turns: list[bool], drop: list[bool], sep: str = " ") -> str:
    """Cues -> paragraphs (one per speaker turn), the cues of a turn joined by `sep`: the clean
    stage keeps each cue on a line of its own (`sep="\\n"`) for the lines stage, which joins them."""
    paragraphs, current = [], []
    for text, starts, dropped in zip(texts, turns, drop):
        if dropped:
            continue
        if starts and current:
            paragraphs.append(sep.join(current))
            current = []
        current.append(text)
    if current:
        paragraphs.append(sep.join(current))
    return "\n\n".join(paragraphs)


def counted_keys(hashed: list[int]) -> list[int]:
    """What the boilerplate count counts of one programme: its distinct cue keys and consecutive
    pairs of keys (`pair_key`), without the empty ones (0). Both are 64-bit hashes of different
    strings, so one set holds both; distinct here, so that the count shuffles only what it counts."""
    out = set(hashed)
    out.update(pair_key(a, b) for a, b in zip(hashed, hashed[1:]))
    out.discard(0)
    return sorted(out)


PREPARED_DDL = ", ".join(f"{n} {k}" for n, k in DOCUMENT_FIELDS) + \
    ", line_conf array<double>, cue_texts array<string>, cue_turns array<boolean>, cue_keys array<bigint>," \
    " counted_keys array<bigint>, content_hash bigint"
CLEANED_DDL = ", ".join(f"{n} {k}" for n, k in DOCUMENT_FIELDS) + \
    ", line_conf array<double>, boilerplate_cues int, drop_reason string, drop_detail string"


def prepare_partition(batches, unwrap_formats: set[str], boilerplate_modalities: set[str]):
    from arkivlm.python_workers import set_aside_survivors

    set_aside_survivors()
    for pdf in batches:
        cue_texts, cue_turns, cue_keys, counted, hashes, texts = [], [], [], [], [], []
        for text, cues, fmt, ocr, modality in zip(pdf["text"], pdf["cues"], pdf["format"], pdf["ocr"], pdf["modality"]):
            ocr = is_true(ocr)
            if cues is not None and len(cues):  # ingest gives a cue document at least one cue, others none
                # keys only where boilerplate is looked for (OCR'd cards are judged by the lines stage)
                keyed = modality in boilerplate_modalities
                t, tr, k = prepare_cues(list(cues), ocr=ocr, keys=keyed)
                hashed = [key_hash(x) for x in k] if keyed else [0] * len(t)
                cue_texts.append(t); cue_turns.append(tr); cue_keys.append(hashed)
                counted.append(counted_keys(hashed) if keyed else [])
                # a 64-bit integer, not hex text: the boilerplate count shuffles one row per cue key with it
                hashes.append(int.from_bytes(hashlib.blake2b("\n".join(k).encode(), digest_size=8).digest(), "little", signed=True)
                              if keyed else None)
                texts.append(None)
            else:  # empty arrays, not null ones: see `tables.empty_if_null`
                cue_texts.append([]); cue_turns.append([]); cue_keys.append([]); counted.append([])
                hashes.append(None)
                texts.append(clean_text(text or "", fmt, fmt in unwrap_formats, keep_lines=ocr))
        out = pdf.drop(columns=["cues"]).assign(text=texts, cue_texts=cue_texts, cue_turns=cue_turns,
                                                cue_keys=cue_keys, counted_keys=counted,
                                                content_hash=pd.array(hashes, dtype="Int64"))  # not float64 with NaN
        yield out


def assemble_partition(batches, allow_rights: set[str], bp: dict, frequent_by_source):
    """`frequent_by_source`: a Spark broadcast of {source: frozenset of frequent cue keys and
    consecutive pairs}, read once per Python worker (joining the set onto every row would copy it
    into every row)."""
    from arkivlm.python_workers import set_aside_survivors

    set_aside_survivors()
    frequent_by_source = frequent_by_source.value
    empty: frozenset = frozenset()
    for pdf in batches:
        texts, removed, reasons, details = [], [], [], []
        for row in pdf.itertuples(index=False):
            if row.text is None:  # a cue document: its text is assembled here
                keys, cue_texts = [int(k) for k in row.cue_keys], list(row.cue_texts)
                frequent = frequent_by_source.get(row.source, empty)  # keys and pairs in one set
                # words are needed only for a run of frequent cues; most programmes have none
                words = [len(t.split()) for t in cue_texts] if any(k in frequent for k in keys) else None
                drop = boilerplate_mask(keys, frequent, bp["edge_cues"], bp["min_run"], frequent, words, bp["min_run_words"])
                text = assemble(cue_texts, list(row.cue_turns), drop, sep="\n")
                removed.append(sum(drop))
            else:
                text = row.text
                removed.append(0)
            texts.append(text)
            if row.rights not in allow_rights:
                reasons.append("rights_not_released"); details.append(f"rights={row.rights}")
            elif not text.strip():
                reasons.append("empty_after_cleaning"); details.append(None)
            else:
                reasons.append(None); details.append(None)
        out = pdf.drop(columns=["cue_texts", "cue_turns", "cue_keys"])
        out = out.assign(text=texts, boilerplate_cues=pd.array(removed, dtype="Int32"),
                         drop_reason=reasons, drop_detail=details)
        yield with_int_columns(out)


def boilerplate_settings(settings: dict | None) -> dict:
    return {**DEFAULTS["boilerplate"], **(settings or {}).get("boilerplate", {})}


def prepare(docs, settings: dict | None):
    """`docs` repaired, with their cues split out and keyed for the boilerplate count (lazily)."""
    unwrap = set({**DEFAULTS, **(settings or {})}["unwrap_formats"])
    modalities = set(boilerplate_settings(settings)["modalities"])
    docs = docs.select(*[n for n, _ in DOCUMENT_FIELDS], empty_if_null("cues", "array<string>"),
                       empty_if_null("line_conf", "array<double>"))
    return docs.mapInPandas(lambda it: prepare_partition(it, unwrap, modalities), PREPARED_DDL)


def assembled(prepared, settings: dict | None, allow_rights: list[str], frequent_by_source):
    """Prepared documents as text, without the cues of `frequent_by_source` (a broadcast of
    {source: frozenset of frequent cue keys and pairs}), with a `drop_reason` (lazily)."""
    bp, allowed = boilerplate_settings(settings), set(allow_rights)
    # what only the count needed stays behind: no trip to Python and back for it
    prepared = prepared.drop("counted_keys", "content_hash")
    out = prepared.mapInPandas(lambda it: assemble_partition(it, allowed, bp, frequent_by_source), CLEANED_DDL)
    return out.select(*[null_if_empty(c) if c == "line_conf" else c for c in out.columns])


def run(spark, settings: dict, allow_rights: list[str], in_docs: str, out_docs: str, out_dropped: str, out_stats: str) -> dict:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from arkivlm.tables import finish_stage

    bp = boilerplate_settings(settings)
    docs = spark.read.parquet(in_docs)
    per_source = {r["source"]: int(r["count"]) for r in docs.groupBy("source").count().collect()}
    docs_in, sources = sum(per_source.values()), sorted(per_source)
    prepared = prepare(docs, settings).persist(StorageLevel.MEMORY_AND_DISK_DESER)

    # Cue keys and consecutive pairs found in at least `min_docs` different programmes of a source,
    # counted together: both are 64-bit hashes of different strings, so one set holds both. A
    # programme aired twice (the same `content_hash`) counts once: one copy of each is kept before
    # its keys are exploded, which shuffles a row per programme rather than a row per cue (on the
    # real newsreels at 16x, 6 s instead of 15 s for the same sets). The source is counted by its
    # number (1, 2, ... in `sources`): two integers group faster than a string and an integer (on
    # the subtitle archive at 16x, 9.6 million keys: 7.1 s instead of 9.6-11 s).
    # Nearly every key is in one programme only, so Spark's counting before its shuffle would shrink
    # nothing: the keys are shuffled as they are and counted after it (real newsreels at 16x, 6
    # million keys and pairs: 4.1-4.5 s instead of 6.6 s; with Spark's array_distinct over the keys
    # and pairs rather than `counted_keys` in Python, 7.3-10 s).
    source_no = F.array_position(F.array(*[F.lit(x) for x in sources or [""]]), F.col("source")).cast("int")
    frequent = (
        prepared.where(F.col("content_hash").isNotNull() & F.col("modality").isin(list(bp["modalities"])))
        .select(source_no.alias("source_no"), "content_hash", "counted_keys")
        .dropDuplicates(["source_no", "content_hash"])
        .select("source_no", F.explode("counted_keys").alias("key"))
        .repartition("source_no", "key")
        .groupBy("source_no", "key").count()
        .where(F.col("count") >= bp["min_docs"])
        .select("source_no", "key")
    )
    # through Arrow, all partitions at once (toLocalIterator computes them one after another)
    frequent_by_source = {sources[no - 1]: frozenset(keys.tolist()) for no, keys in frequent.toPandas().groupby("source_no")["key"]}
    shared = spark.sparkContext.broadcast(frequent_by_source)
    result = assembled(prepared, settings, allow_rights, shared).persist(StorageLevel.MEMORY_AND_DISK_DESER)
    held = result.where(F.col("drop_reason") == "rights_not_released").groupBy("source").count()
    extra = {
        "rights_held_back": {r["source"]: int(r["count"]) for r in held.collect()},
        "frequent_cue_keys_and_pairs": {src: len(keys) for src, keys in sorted(frequent_by_source.items())},
    }
    stats = finish_stage(result, stage="clean", docs_in=docs_in, out_docs=out_docs, out_dropped=out_dropped,
                         out_stats=out_stats, extra_stats=extra, drop_columns=("boilerplate_cues",),
                         sums={"boilerplate_cues_removed": F.col("boilerplate_cues")})
    prepared.unpersist()
    return stats
