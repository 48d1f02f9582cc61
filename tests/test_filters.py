import random

import pytest

import numpy as np

from arkivlm.filters.quality import build_filters, check_document, longest_loop, loop_span, quality_score
from arkivlm.sample import text as T

FILTERS = build_filters({})


def doc(text, modality="text", fmt="txt", **kw):
    return {"text": text, "modality": modality, "format": fmt, **kw}


def swedish(seed=1, paragraphs=4):
    rng = random.Random(seed)
    return "\n\n".join(T.article(rng, paragraphs)[1:])


def test_clean_swedish_kept_in_every_modality():
    for modality in ("text", "transcript", "subtitle"):
        assert check_document(FILTERS, doc(swedish(), modality)) is None


@pytest.mark.parametrize("text, reason", [
    ("Kort text utan mycket innehåll.", "gopher:min_words"),
    (" ".join(["aaaaaaaaaaaaaaaaaaaa"] * 80), "gopher:mean_word_length"),
    (" ".join(["# kommunen och regionen ### beslutade att det som"] * 30), "gopher:symbol_ratio"),
    (" ".join(f"bil{i:04d}{i:04d} och det är" for i in range(60)), "gopher:digit_ratio"),
    (" ".join(["hus", "bil", "träd", "väg", "sjö", "berg"] * 20), "gopher:stop_words"),
    ("\n".join(["Det här är en rad som upprepas om och om igen i texten."] * 20), "gopher:duplicate_lines"),
])
def test_gopher_rules(text, reason):
    assert check_document(FILTERS, doc(text)) == reason


def test_duplicated_ngrams():
    base = swedish(2, 2)
    assert check_document(FILTERS, doc(base + " " + base.replace("\n\n", " "))).startswith("gopher:")


def test_web_line_rules_apply_to_text_only():
    lines = "\n".join(f"- {s}..." for s in swedish(3).split(". ") if s)
    assert check_document(FILTERS, doc(lines)) in ("web_lines:bullet_lines", "web_lines:ellipsis_lines")
    assert check_document(FILTERS, doc(lines, "subtitle", "srt")) is None
    assert check_document(FILTERS, doc(lines, "transcript", "whisper_json")) is None


def test_ocr_confidence_and_implausible_tokens():
    text = swedish(4)
    assert check_document(FILTERS, doc(text, fmt="alto", ocr_conf=0.45)) == "ocr:low_confidence"
    assert check_document(FILTERS, doc(text, fmt="alto", ocr_conf=0.95)) is None
    garbled = " ".join(w if i % 4 else w[:2] + "3;" + w[2:] + "1l" for i, w in enumerate(text.split()))
    assert check_document(FILTERS, doc(garbled, fmt="alto", ocr_conf=0.9)) == "ocr:implausible_tokens"
    assert check_document(FILTERS, doc(text, fmt="txt", ocr_conf=0.1)) is None  # OCR rules only for ALTO


def test_tv_listing_and_tables():
    listing = "\n".join(T.tv_listing(random.Random(1)))
    assert check_document(FILTERS, doc(listing)) == "listing:tv_listing"
    table = " ".join(f"Rad {i} 12,5 33,1 47 9,9 1 200" for i in range(20)) + " och det är i"
    assert check_document(FILTERS, doc(table)) == "listing:table"


def test_asr_loop():
    text = swedish(5, 2)
    looped = text + " " + " ".join(["och det är ju så"] * 8)
    assert longest_loop(looped.lower().split()) >= 8
    assert check_document(FILTERS, doc(looped, "transcript", "whisper_json")) == "asr_loop:repeated_phrase"
    assert check_document(FILTERS, doc(text, "transcript", "whisper_json")) is None


def plain_loop_span(ids, max_n):
    """loop_span's definition, word by word: for each phrase length n, the longest run of positions
    whose word equals the word n on; r repetitions of an n-word phrase make a run of (r - 1) * n."""
    ids, best, span = list(ids), 1, 0
    for n in range(1, max_n + 1):
        if len(ids) < 2 * n:
            break
        longest = current = 0
        for i in range(len(ids) - n):
            current = current + 1 if ids[i] == ids[i + n] else 0
            longest = max(longest, current)
        if longest and longest // n + 1 > best:
            best, span = longest // n + 1, longest + n
    return best, span


def test_loop_span_is_the_plain_search():
    rng = np.random.default_rng(0)
    for _ in range(20_000):
        ids = rng.integers(0, int(rng.integers(1, 6)), int(rng.integers(0, 60)))
        if rng.random() < 0.3 and len(ids) > 10:  # a phrase repeated back to back, planted
            phrase, at = rng.integers(0, 9, int(rng.integers(1, 9))), int(rng.integers(0, len(ids)))
            ids = np.concatenate([ids[:at], np.tile(phrase, int(rng.integers(2, 9))), ids[at:]])
        max_n = int(rng.integers(1, 10))
        assert loop_span(ids, max_n) == plain_loop_span(ids, max_n), (ids.tolist(), max_n)


def test_thresholds_come_from_settings():
    text = swedish(6, 1)
    assert check_document(build_filters({"gopher": {"min_words": 10000}}), doc(text)) == "gopher:min_words"
    assert check_document(build_filters({"enabled": ["listing"]}), doc("för kort")) is None


def test_quality_score_prefers_clean_ocr():
    text = swedish(7)
    noisy = " ".join(w + "1" if i % 3 == 0 else w for i, w in enumerate(text.split()))
    assert quality_score(doc(text, ocr_conf=0.95, lang_score=0.99)) > quality_score(doc(noisy, ocr_conf=0.95, lang_score=0.99))
    assert quality_score(doc(text, ocr_conf=0.95)) > quality_score(doc(text, ocr_conf=0.7))


def _reference_stats(ws, n):
    """Token-by-token definitions of the repetition statistics, for the vectorised versions."""
    from collections import Counter

    total = sum(map(len, ws)) or 1
    grams = [tuple(ws[i:i + n]) for i in range(len(ws) - n + 1)]
    counts = Counter(grams)
    top = 0.0
    if grams:
        gram, c = counts.most_common(1)[0]
        top = c * sum(map(len, gram)) / total if c > 1 else 0.0
    covered = [False] * len(ws)
    for i, g in enumerate(grams):
        if counts[g] > 1:
            covered[i:i + n] = [True] * n
    dup = sum(len(w) for w, c in zip(ws, covered) if c) / total if grams else 0.0
    loop = 1
    for k in range(1, 9):
        for i in range(len(ws)):
            r = 1
            while ws[i + r * k:i + (r + 1) * k] == ws[i:i + k] and i + (r + 1) * k <= len(ws):
                r += 1
            loop = max(loop, r)
    return top, dup, loop


def test_vectorised_repetition_statistics_match_their_definitions():
    import random

    from arkivlm.filters.quality import NgramGroups, duplicated_ngram_fraction, longest_loop, top_ngram_fraction, word_ids

    rng = random.Random(7)
    for _ in range(300):
        vocab = [f"w{i}" * rng.randint(1, 3) for i in range(rng.randint(1, 12))]
        ws = [rng.choice(vocab) for _ in range(rng.randint(0, 60))]
        if ws and rng.random() < 0.4:  # an ASR loop
            i, k = rng.randrange(len(ws)), rng.randint(1, 4)
            ws[i:i] = ws[i:i + k] * rng.randint(2, 8)
        grams = NgramGroups(word_ids(ws))
        for n in (2, 3, 5):
            top, dup, loop = _reference_stats(ws, n)
            assert top_ngram_fraction(ws, n, grams) == pytest.approx(top)
            assert duplicated_ngram_fraction(ws, n, grams) == pytest.approx(dup)
        assert longest_loop(ws, 8) == loop


def test_document_statistics_from_distinct_tokens_equal_the_counts_over_the_whole_text(monkeypatch):
    """text_stats sums what each distinct token contributes (a table shared by every document of a
    worker); every count must equal the same regex or test run over the whole text, and the word
    ids (the worker's, not the document's) must give the same n-gram statistics as the words."""
    import re

    from arkivlm.filters import quality as q

    strip, core = q._STRIP, q._PLAUSIBLE_CORE
    time_tokens = re.compile(r"(?<!\S)[,;]*(?:[01]?\d|2[0-3])[.:][0-5]\d[,;]*(?!\S)")
    numeric_tokens = re.compile(r"(?<!\S)[\d.,:/%-]+(?!\S)")
    plausible_tokens = re.compile(rf"(?<!\S)[{re.escape(strip)}]*(?:{core})[{re.escape(strip)}]*(?!\S)")
    rng = random.Random(3)
    pieces = ["och", "Och", "ÖVER", "över.", "12:30", "9.15,", "24:00", "1,5", "100%", "-", "...", "…", "#tag", "a-b",
              "'c'", "İstanbul", "ΟΔΟΣ", "²³", "١٢٣", "x\u00a0y", "straße", "(det)", "”är”", "ja", "nej", "12", "ett"]
    texts = ["", " \n ", swedish(2), swedish(3, 1)] + [
        "".join(rng.choice(pieces) + rng.choice([" ", " ", "\n", "\n\n", "\t", "\u2003"]) for _ in range(rng.randint(1, 80)))
        for _ in range(300)]
    for max_tokens, sum_chunk in ((1_000_000, 1 << 16), (5, 1 << 16), (1_000_000, 7)):
        # 5: the table is cleared between documents; 7: a document's counts summed in pieces of 7 tokens
        monkeypatch.setattr(q, "_TOKENS", q.TokenTable(max_tokens))
        monkeypatch.setattr(q.TokenTable, "SUM_CHUNK", sum_chunk)
        for text in texts:
            s = q.text_stats(text)
            ws = q._WORD.findall(text)
            lower = [w.lower() for w in ws]
            tokens = text.split()
            assert s["n_tokens"] == len(tokens)
            assert s["words"] == len(ws) and s["word_chars"] == sum(map(len, ws))
            assert s["stop_words"] == sum(w in q.SWEDISH_STOP_WORDS for w in lower)
            assert s["digits"] == sum(map(str.isdigit, text))
            assert s["symbols"] == len(q._SYMBOLS.findall(text))
            assert s["time_tokens"] == len(time_tokens.findall(text))
            assert s["numeric_tokens"] == len(numeric_tokens.findall(text))
            assert s["plausible_tokens"] == len(plausible_tokens.findall(text))
            assert s["ocr_bad_tokens"] == sum(not q._PLAUSIBLE.match(t.strip(strip)) for t in tokens if t.strip(strip))
            assert s["lengths"].tolist() == [len(w) for w in lower]
            first = {}  # the same id for the same word, and only for it
            assert [first.setdefault(i, w) for i, w in zip(s["lower_ids"].tolist(), lower)] == lower
            assert len(first) == len(set(lower))
            for n in (2, 5):
                assert q.top_ngram_fraction(None, n, s["grams"], s["lengths"]) == q.top_ngram_fraction(lower, n)
                assert q.duplicated_ngram_fraction(None, n, s["grams"], s["lengths"]) == q.duplicated_ngram_fraction(lower, n)
