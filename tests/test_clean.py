from arkivlm import clean
from arkivlm.readers import READERS
from tests import formats as F


def cues_of(fmt, data):
    (rec,) = READERS[fmt].read(data.encode("utf-8"), "x")
    return rec.cues


def running_text(raw_cues, frequent=frozenset(), edge=4, min_run=3):
    texts, turns, keys = clean.prepare_cues(raw_cues)
    return clean.assemble(texts, turns, clean.boilerplate_mask(keys, set(frequent), edge, min_run))


def test_srt_markup_dashes_and_speakers_become_paragraphs():
    text = running_text(cues_of("srt", F.SRT_BASIC))
    assert text == "Var har du varit?\n\nJag var hos mormor.\n\nHela dagen?\n\nJa, hela dagen."


def test_overlapping_and_rolling_cues_collapse():
    assert running_text(cues_of("srt", F.SRT_OVERLAP_ROLLING)) == "Nu börjar vi sändningen från riksdagen."


def test_vtt_styling_voice_tags_and_sound_descriptions():
    text = running_text(cues_of("vtt", F.VTT_STYLED))
    assert text == "Hej Erik, välkommen hem!\n\nTack så mycket. Det var längesen."


def test_whisper_speaker_turns():
    text = running_text(cues_of("whisper_json", F.WHISPER))
    assert text == "Herr talman! Jag yrkar bifall till förslaget.\n\nTack för anförandet."


def test_stray_timing_lines_and_cue_numbers_never_reach_text():
    raw = ["Hej\n2\n00:00:03,000 --> 00:00:04,000\nhopp", "12\n00:01:00.000 --> 00:01:02.000 align:start\nsista"]
    text = running_text(raw)
    assert "-->" not in text and "00:0" not in text and text == "Hej hopp sista"


def test_boilerplate_at_edges_and_in_runs_only():
    frequent = {clean.cue_key(c) for c in ["Textning: SVT", "Rederiet", "Ja.", "A", "B", "C"]}
    raw = ["Rederiet", "Textning: SVT", "Första repliken.", "Andra repliken.", "x1", "x2", "Ja.", "x3", "x4",
           "A", "B", "C", "Sista repliken.", "y1", "y2", "y3", "y4", "Textning: SVT"]
    text = running_text(raw, frequent)
    assert text.split(" ") [:2] == ["Första", "repliken."]
    assert "Ja." in text            # frequent, but alone in the middle
    assert " A " not in text and "Textning" not in text and "Rederiet" not in text


def test_text_cleaning_mojibake_hyphenation_and_wraps():
    broken = "RÃ¤ksmÃ¶rgÃ¥s och jÃ¤rnvÃ¤gs-\nstationen i\nGÃ¤vle.\n\n\n\nNy  stycke\x00 hÃ¤r."
    assert clean.clean_text(broken, "txt", unwrap=True) == "Räksmörgås och järnvägsstationen i Gävle.\n\nNy stycke här."


def test_text_cleaning_nfc_and_html_paragraphs():
    decomposed = "A\u030angstro\u0308m"  # Å and ö as combining sequences
    assert clean.clean_text(decomposed, "html", unwrap=False) == "Ångström"
    assert clean.clean_text("Ett.\nTvå.", "html", unwrap=False) == "Ett.\n\nTvå."
    assert clean.clean_text("Rad ett\nrad två", "alto", unwrap=False) == "Rad ett\nrad två"


def test_hyphen_before_capital_is_kept():
    assert clean.clean_text("Sverige-\nDanmark", "txt", unwrap=True) == "Sverige- Danmark"


def test_ftfy_shortcut_gives_what_ftfy_gives_on_real_newsreel_cues():
    """`ftfy_plan` skips ftfy, or replaces it by a character table, only where the result is the
    same: every cue of journal-digital's 1935-1939 speech and intertitles (real text with curly
    quotes, `&` and OCR debris), and planted cases of each kind."""
    import srt

    from arkivlm.sample.journal_digital import package_corpus

    raws = []
    for kind in ("speech", "intertitle"):
        for path in sorted((package_corpus() / kind).glob("*/193[5-9]/*.srt")):
            raws.extend(c.content for c in srt.parse(path.read_text(encoding="utf-8")))
    planted = {"”Ja”, sa han": dict, "ﬁnt väder": dict, "ＡＢＢ": dict, "AT&T och H&M": type(None), "P&eacute;rez": bool,
               "sm&ouml;r": bool, "BÃ¤st": bool, "ok\x1b[0m": bool, "Cafe\u0301": bool, "rad\r\nrad": bool, "åäö": type(None)}
    kinds = {"skip": 0, "table": 0, "ftfy": 0}
    for raw in raws + list(planted):
        plan = clean.ftfy_plan(raw)
        kinds["skip" if plan is None else "ftfy" if plan is True else "table"] += 1
        assert clean.normalize_unicode(raw, plan) == clean.normalize_unicode(raw, True), raw
        if raw in planted:
            assert isinstance(plan, planted[raw]), (raw, plan)
    assert len(raws) > 10_000 and kinds["table"] > 50 and kinds["skip"] > 0.9 * len(raws), kinds


def test_the_stage_removes_an_intro_shared_by_programmes_but_not_a_programme_aired_again(spark, tmp_path):
    """The boilerplate count in Spark: an intro opening five different programmes of a source is
    removed from each; a programme aired five times (the same cues) counts once, so none of its
    cues is boilerplate."""
    import json

    import pandas as pd

    from arkivlm.tables import DOCUMENT_FIELDS

    intro = ["Välkomna till Veckorevyn.", "Här kommer veckans nyheter."]
    rows = []
    for i in range(5):
        body = [f"Programmet nummer {i} handlar om ämne {i}.", f"Det var allt för i dag, sa talaren {i}."]
        rows.append(("revy", f"/a/revy{i}.srt", intro + body))
        rows.append(("repris", f"/a/repris{i}.srt", ["Samma program igen.", "Det sänds fem gånger.", "Hej då."]))
    columns = [n for n, _ in DOCUMENT_FIELDS]
    pdf = pd.DataFrame([{**{n: None for n in columns}, "id": f"{src}{i}", "source": src, "modality": "subtitle",
                         "rights": "public", "format": "srt", "path": path, "record": 0, "ocr": False, "cues": cues,
                         "line_conf": None}
                        for i, (src, path, cues) in enumerate(rows)])
    spark.createDataFrame(pdf, ", ".join(f"{n} {k}" for n, k in DOCUMENT_FIELDS) + ", cues array<string>, line_conf array<double>") \
        .write.parquet(str(tmp_path / "ingest"))
    stats = clean.run(spark, {}, ["public"], str(tmp_path / "ingest"), str(tmp_path / "clean"),
                      str(tmp_path / "dropped"), str(tmp_path / "clean.json"))
    out = pd.read_parquet(tmp_path / "clean").set_index("id")["text"]
    assert stats["frequent_cue_keys_and_pairs"] == {"revy": 3}  # two intro cues and their pair
    assert json.loads((tmp_path / "clean.json").read_text())["boilerplate_cues_removed"] == 10
    for i in range(0, 10, 2):
        assert "Veckorevyn" not in out[f"revy{i}"] and f"nummer {i // 2}" in out[f"revy{i}"]
        assert out[f"repris{i + 1}"].split("\n") == ["Samma program igen.", "Det sänds fem gånger.", "Hej då."]


def test_stretches_around_non_ascii_characters_match_their_definition():
    """ftfy's badness is judged on the stretches within 3 characters of a non-ASCII character, runs
    whose contexts touch merged: found by one regex, they must be the spans merged one by one."""
    import random
    import re

    def reference(text, context=3):
        spans = []
        for m in re.finditer(r"[^\x00-\x7f]+", text):
            a, b = max(0, m.start() - context), m.end() + context
            if spans and a <= spans[-1][1]:
                spans[-1][1] = b
            else:
                spans.append([a, b])
        return {text[a:b] for a, b in spans}

    rng = random.Random(5)
    texts = ["", "ascii only", "på är", "Ã¤r Ã¶ver", "å" * 9] + \
        ["".join(rng.choice("ab \nå\u00e9\u2028x1") for _ in range(rng.randint(0, 40))) for _ in range(5000)]
    for text in texts:
        assert clean._around_non_ascii(text) == reference(text), text


def test_a_programmes_cue_keys_are_each_cues_key():
    """`cue_keys` keys all cues of a programme in one casefold and one substitution: it must give
    `cue_key` of each cue, on random cues of letters that casefold to more than one (ß, ŉ, ﬁ),
    Greek sigmas, underscores, digits, punctuation, spaces and NULs."""
    import random

    rng = random.Random(11)
    alphabet = list("aAåÅßŉﬁΣσς_ 09.,!-–\t") + ["\x00", "İ", "ǅ"]
    for n in range(2000):
        cues = ["".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12))) for _ in range(rng.randrange(0, 6))]
        if n % 3:
            cues = [c.replace("\x00", "") for c in cues]
        assert clean.cue_keys(cues) == [clean.cue_key(c) for c in cues], cues


def test_mojibake_needs_one_of_few_characters_or_two_non_ascii_side_by_side():
    """Clean skips ftfy's badness check of a text with no C1 control, Â, Ã, Œ or œ and no two
    non-ASCII characters side by side: no pattern of ftfy's badness can match such a text. Random
    texts of ASCII and every character of ftfy's mojibake categories, non-ASCII never side by side,
    must never match; with a pair side by side, some must (so the generator reaches the patterns)."""
    import random
    import re

    from ftfy.badness import BADNESS_RE, MOJIBAKE_CATEGORIES

    chars = set()
    for spec in MOJIBAKE_CATEGORIES.values():
        chars |= {c for c in re.findall(r".-.|.", spec, re.S) for c in
                  (map(chr, range(ord(c[0]), ord(c[2]) + 1)) if len(c) == 3 else c)}
    safe = sorted(c for c in chars | set(map(chr, range(0x80, 0xA0))) if not clean.mojibake_possible(c))
    assert len(safe) > 400
    ascii_chars = "abcxyzABCXYZ .,?!'\"-\n09"
    rng = random.Random(13)
    paired_hits = 0
    for n in range(20000):
        out, last_non_ascii = [], False
        for _ in range(rng.randrange(1, 12)):
            if not last_non_ascii and rng.random() < 0.5:
                out.append(rng.choice(safe))
                last_non_ascii = True
            else:
                out.append(rng.choice(ascii_chars))
                last_non_ascii = False
        text = "".join(out)
        assert not clean.mojibake_possible(text)
        assert not BADNESS_RE.search(text), repr(text)
        paired = text + rng.choice(safe) + rng.choice(safe)
        assert clean.mojibake_possible(paired)
        paired_hits += bool(BADNESS_RE.search(paired))
    assert paired_hits > 1000, paired_hits


def test_counted_keys_are_a_programmes_distinct_keys_and_pairs():
    a, b = clean.key_hash("ja"), clean.key_hash("nej")
    counted = clean.counted_keys([a, b, 0, a, b])  # a cue with no key (0) breaks the pairs around it
    assert counted == sorted({a, b, clean.pair_key(a, b)})
    assert clean.counted_keys([]) == [] and clean.counted_keys([0, 0]) == []
