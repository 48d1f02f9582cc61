"""Line by line: OCR garbage and ASR artefacts removed, Swedish lines rescued, in every format;
dates from every place the archive gives them; and the text bugs found on real archive text."""

import json

import pandas as pd
import pytest

from arkivlm import clean, dates
from arkivlm.filters.lines import OcrLineRules, SpeechLineRules, flow
from arkivlm.lines import LineJudge
from arkivlm.readers import READERS

SWEDISH = ["Amerikanska lifsmedel i Marxstad.", "Kampen mot smitten.", "Garnisonsvakt.",
           "Genom befälets kallblodighet kunde", "367 ombordvarande räddas."]
GARBAGE = ["VU Sa VANN Er lea ka EEE SEEN JAVI", "SN", "BECSETtanTE CC", "ST RR SA En Te Ta",
           "nsgal 19vö tåmsit tmsjtllA", "[a =====================(]"]


@pytest.fixture(scope="module")
def judge():
    return LineJudge({})


def through_lines(judge, fmt, data, ocr=True, modality="text", path="x"):
    """Reader -> clean (as the clean stage does it) -> lines stage, for one file."""
    (rec,) = READERS[fmt].read(data.encode("utf-8") if isinstance(data, str) else data, path)
    if rec.cues is not None:
        texts, turns, _ = clean.prepare_cues(rec.cues, ocr=ocr)
        text = clean.assemble(texts, turns, [False] * len(texts), sep="\n")
    else:
        text = clean.clean_text(rec.text, fmt, fmt == "txt", keep_lines=ocr)
    doc = {"text": text, "ocr": ocr, "modality": modality, "format": fmt, "line_conf": rec.line_conf}
    (result,) = judge.judge_batch([doc])
    return result[:5]  # (text, lines_in, removed (line, reason, text, block), drop_reason, detail)


def srt(cues):
    return "\n".join(f"{i}\n00:00:{i:02d},000 --> 00:00:{i:02d},500\n{c}\n" for i, c in enumerate(cues, 1))


def mixed_lines():
    # garbage and Swedish interleaved, as on a real intertitle card or a torn newspaper column
    return [line for pair in zip(SWEDISH, GARBAGE) for line in pair]


def assert_rescued(result):
    text, lines_in, removed, reason, _ = result
    assert reason is None, result
    for line in SWEDISH:
        assert line.rstrip(".") in text
    for line in GARBAGE[:5]:
        assert line not in text
    assert {r[2] for r in removed} >= set(GARBAGE[:5])


def test_ocr_srt_intertitles_lines_removed_and_swedish_kept(judge):
    # real intertitle cues separate OCR lines with tabs
    cues = ["\t".join(mixed_lines()[:4]), "\t\t".join(mixed_lines()[4:])]
    assert_rescued(through_lines(judge, "srt", srt(cues)))


def test_ocr_vtt(judge):
    vtt = "WEBVTT\n\n" + "\n".join(f"00:00:{i:02d}.000 --> 00:00:{i:02d}.500\n{line}\n" for i, line in enumerate(mixed_lines(), 1))
    assert_rescued(through_lines(judge, "vtt", vtt))


def test_ocr_txt(judge):
    assert_rescued(through_lines(judge, "txt", "\n".join(mixed_lines())))


def test_ocr_jsonl(judge):
    assert_rescued(through_lines(judge, "jsonl", json.dumps({"text": "\n".join(mixed_lines())}, ensure_ascii=False)))


def test_ocr_html(judge):
    body = "".join(f"<p>{line}</p>" for line in mixed_lines())
    html = f"<html><head><title>t</title></head><body><article>{body}</article></body></html>"
    text, _, removed, reason, _ = through_lines(judge, "html", html)
    assert reason is None and "Kampen mot smitten" in text and "BECSETtanTE" not in text and removed


def alto(lines_with_conf):
    rows = []
    for words, wc in lines_with_conf:
        strings = "<SP/>".join(f'<String CONTENT="{w}" WC="{wc}"/>' for w in words.split())
        rows.append(f"<TextLine>{strings}</TextLine>")
    return ('<?xml version="1.0"?><alto xmlns="http://www.loc.gov/standards/alto/ns-v4#"><Layout><Page><PrintSpace>'
            f'<TextBlock>{"".join(rows)}</TextBlock></PrintSpace></Page></Layout></alto>')


def test_alto_line_confidence_and_plausibility(judge):
    page = alto([("Regeringen har i dag beslutat", 0.95), ("att bygga en ny bro över älven", 0.9),
                 ("Regeringen har i dag beslutat", 0.2),  # plausible words, but the OCR engine was unsure
                 ("EEE SEEN JAVI VU", 0.8)])
    text, lines_in, removed, reason, _ = through_lines(judge, "alto", page)
    assert reason is None and lines_in == 4
    assert text == "Regeringen har i dag beslutat att bygga en ny bro över älven"
    assert [r[1] for r in removed] == ["low_confidence", "implausible"]


def test_document_dropped_only_when_too_little_swedish_left(judge):
    text, _, removed, reason, detail = through_lines(judge, "srt", srt(["\t".join(GARBAGE)]))
    assert reason == "too_little_swedish" and len(removed) == len(GARBAGE) and "0 of" in detail
    # one good line among garbage rescues the card
    text, _, _, reason, _ = through_lines(judge, "srt", srt(["\t".join(GARBAGE + ["Kungen besöker Göteborg i dag."])]))
    assert reason is None and text == "Kungen besöker Göteborg i dag."


def test_foreign_lines_of_an_ocr_document(judge):
    # English is plausible token by token (wordfreq's Swedish list holds English loans): language ID decides
    text, _, removed, reason, _ = through_lines(judge, "txt", "Kungen besöker Göteborg i dag och talar.\n"
                                                "for the freedom of the world.\n"
                                                "Folket hälsade honom med jubel.")
    assert reason is None and "freedom" not in text and removed == [(1, "not_swedish:en", "for the freedom of the world.", None)]


def test_years_and_compounds_in_old_spelling_are_kept():
    rules = OcrLineRules({})
    for line in ("1934", "Marionett-teater,", "Brandkårshästarna äro pensionerade.", "Hvad är lifsmedel?",
                 "SKEPPSBRAND.", "NEDRUSTNINGS-"):
        assert rules.judge(line, None)[0] is None, line
    for line in ("4", "EE", "FETT", "tmsjtllA gninsn", "RR SN EE"):
        assert rules.judge(line, None)[0] is not None, line


def test_speech_hallucinations_and_loops_removed_as_lines(judge):
    cues = ["Musik", "Med rektor i sin mitt kommer här ett manstarkt gäng.", "Musik Musik Musik Musik",
            "Textning Stina Hedin www.sdimedia.com", "och så vidare och så vidare och så vidare och så vidare",
            "Historien är följande.", "Tack för att ni tittade på den här videon!"]
    text, lines_in, removed, reason, _ = through_lines(judge, "srt", srt(cues), ocr=False, modality="transcript")
    assert reason is None and lines_in == 7
    assert text == "Med rektor i sin mitt kommer här ett manstarkt gäng. Historien är följande."
    assert [r[1] for r in removed] == ["asr_hallucination"] * 3 + ["asr_loop", "asr_hallucination"]


def test_transcript_dropped_whole_only_when_nothing_else(judge):
    _, _, _, reason, _ = through_lines(judge, "srt", srt(["Musik", "Musik Musik", "Tack för att ni tittade."]),
                                       ocr=False, modality="transcript")
    assert reason == "only_asr_artifacts"
    rules = SpeechLineRules({})
    assert rules.judge("Ja, ja, jag kommer.") is None and rules.judge("Musiken spelar vackert i kväll.") is None


def test_whisper_and_vtt_speech(judge):
    whisper = json.dumps({"segments": [{"start": 0, "end": 1, "text": "Herr talman!"}, {"start": 1, "end": 2, "text": "Musik"},
                                       {"start": 2, "end": 3, "text": "Jag yrkar bifall."}]})
    text, _, removed, reason, _ = through_lines(judge, "whisper_json", whisper, ocr=False, modality="transcript")
    assert text == "Herr talman! Jag yrkar bifall." and [r[1] for r in removed] == ["asr_hallucination"]
    vtt = ("WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nVälkommen till programmet.\n\n"
           "00:00:02.000 --> 00:00:03.000\nUndertexter från Amara.org-gemenskapen\n")
    text, _, removed, reason, _ = through_lines(judge, "vtt", vtt, ocr=False, modality="subtitle")
    assert text == "Välkommen till programmet." and [r[1] for r in removed] == ["asr_hallucination"]


def test_lines_off_keeps_every_line_and_still_joins():
    judge = LineJudge({"enabled": False})
    text, _, removed, reason, _ = through_lines(judge, "srt", srt(["\t".join(["Kungen talar", "i dag."] + GARBAGE[:2])]))
    assert removed == [] and reason is None and text == "Kungen talar i dag. " + " ".join(GARBAGE[:2])
    # off means off: no document is dropped for what its lines hold either
    assert through_lines(judge, "srt", srt(["SN\tEE"]))[3] is None


# --- dates -----------------------------------------------------------------------------------------

def test_dates_normalised():
    assert dates.normalize_date("1915") == "1915" and dates.normalize_date(1945) == "1945"
    assert dates.normalize_date("1921-03-04T10:00:00Z") == "1921-03-04" and dates.normalize_date("19210304") == "1921-03-04"
    assert dates.normalize_date("1921-02-30") == "1921-02" and dates.normalize_date("okänt") is None
    assert dates.date_in_name("/a/bib4345612_18620103_0_10_0001_alto.xml") == "1862-01-03"
    assert dates.date_in_name("/1921/x.xml") is None
    assert dates.decade_of("1915-03-01") == 1910 and dates.decade_of(None) is None


def test_date_from_path():
    import re

    assert dates.date_from_path(re.compile(r"/(\d{4})/"), "speech/sf/1915/SF2208.1.mpg.srt") == "1915"
    assert dates.date_from_path(re.compile(r"_(\d{4}-\d\d-\d\d)_"), "svd_1921-03-04_p3.xml") == "1921-03-04"
    assert dates.date_from_path(re.compile(r"/(\d{4})/"), "speech/sf/XXXX/a.srt") is None


def test_dates_from_metadata_of_each_format(tmp_path):
    (rec,) = READERS["whisper_json"].read(json.dumps({"segments": [{"start": 0, "end": 1, "text": "Hej"}],
                                                      "metadata": {"recorded": "1962-05-01"}}).encode(), "x")
    assert rec.date == "1962-05-01"
    recs = list(READERS["jsonl"].read(b'{"text": "a", "year": 1931}\n{"text": "b", "published": "1944-02-01"}\n', "x"))
    assert [r.date for r in recs] == ["1931", "1944-02-01"]
    html = ('<html><head><title>Nyhet</title><meta name="date" content="2003-04-05"></head><body><article>'
            + "<p>Regeringen meddelade i dag att den nya bron över älven ska byggas under nästa år.</p>" * 3
            + "</article></body></html>")
    (rec,) = READERS["html"].read(html.encode(), "x")
    assert dates.normalize_date(rec.date) == "2003-04-05"
    # ALTO: the METS file of the issue beside the pages
    issue = tmp_path / "bib1_19210304"
    issue.mkdir()
    (issue / "bib1_19210304_mets.xml").write_text(
        '<?xml version="1.0"?><mets xmlns="http://www.loc.gov/METS/" xmlns:mods="http://www.loc.gov/mods/v3">'
        "<dmdSec><mdWrap><xmlData><mods:mods><mods:originInfo><mods:dateIssued>1921-03-04</mods:dateIssued>"
        "</mods:originInfo></mods:mods></xmlData></mdWrap></dmdSec></mets>")
    page = issue / "page_0001_alto.xml"
    page.write_text(alto([("Regeringen har i dag beslutat", 0.9)]))
    (rec,) = READERS["alto"].read(page.read_bytes(), str(page))
    assert rec.date == "1921-03-04"


# --- text bugs found on real archive text --------------------------------------------------------------

@pytest.mark.parametrize("conj", ["och", "eller", "samt", "respektive"])
def test_compound_ellipsis_keeps_its_hyphen(conj):
    assert clean.clean_text(f"Både in-\n{conj} utrikes nyheter.", "txt", unwrap=True) == f"Både in- {conj} utrikes nyheter."
    assert flow([["Både in-", f"{conj} utrikes nyheter."]]) == f"Både in- {conj} utrikes nyheter."
    assert flow([["järnvägs-", "stationen"]]) == "järnvägsstationen"


@pytest.mark.parametrize("number", ["811218 9876", "19811218 9876", "811218–9876", "19811218–9876"])
def test_personnummer_with_space_or_en_dash(number):
    from arkivlm.pii import redact

    text, counts = redact(f"Sökande: Anna, pnr {number}, bor i Umeå.")
    assert counts["personnummer"] == 1 and text == "Sökande: Anna, pnr [PERSONNUMMER], bor i Umeå."


@pytest.mark.parametrize("phone", ["(08) 123 45 67", "08/123 45 67", "070 - 123 45 67"])
def test_phone_spellings(phone):
    from arkivlm.pii import redact

    text, counts = redact(f"Ring {phone} efter klockan åtta.")
    assert counts["phone"] == 1 and text == "Ring [TELEFON] efter klockan åtta."


def test_pii_in_titles_redacted():
    from arkivlm.pii import pii_partition

    pdf = pd.DataFrame({"text": ["Brev om ärendet."], "title": ["Ansökan från 811218-9876, tel 070-123 45 67"],
                        "record": [0], "page": [None]})
    (out,) = list(pii_partition(iter([pdf])))
    assert out.title[0] == "Ansökan från [PERSONNUMMER], tel [TELEFON]"
    assert out.pii_personnummer[0] == 1 and out.pii_phone[0] == 1


def test_common_short_dialogue_is_not_boilerplate():
    keys = [clean.key_hash(clean.cue_key(c)) for c in ["Hej.", "Du kom till slut.", "Ja.", "Nej.", "Tack.", "Vi ses i morgon.",
                                        "Det blir bra.", "Hej då.", "Sov gott.", "Vi hörs.", "Adjö."]]
    frequent = {keys[i] for i in (2, 3, 4)}  # Ja. Nej. Tack. recur in every programme
    pairs = {clean.pair_key(keys[2], keys[3]), clean.pair_key(keys[3], keys[4])}
    words = [1, 4, 1, 1, 1, 4, 3, 2, 2, 2, 1]
    drop = clean.boilerplate_mask(keys, frequent, 1, 3, pairs, words, 8)
    assert not any(drop)
    # a long intro repeated in the same order in many programmes is boilerplate wherever it stands
    intro = ["Välkommen till Rapport från Sveriges Television", "Här är dagens viktigaste nyheter i korthet",
             "Först vädret för hela landet i kväll"]
    keys2 = keys[:5] + [clean.key_hash(clean.cue_key(c)) for c in intro] + keys[5:]
    frequent2 = {clean.key_hash(clean.cue_key(c)) for c in intro}
    pairs2 = {clean.pair_key(a, b) for a, b in zip(keys2[5:8], keys2[6:8])}
    words2 = words[:5] + [len(c.split()) for c in intro] + words[5:]
    drop2 = clean.boilerplate_mask(keys2, frequent2, 1, 3, pairs2, words2, 8)
    assert drop2 == [False] * 5 + [True] * 3 + [False] * 6
    # the same cues, but not in the order they recur in: dialogue that happens to reuse them
    shuffled = keys[:5] + [keys2[7], keys2[5], keys2[6]] + keys[5:]
    assert not any(clean.boilerplate_mask(shuffled, frequent2, 1, 3, pairs2, words2, 8))


# --- the stages in Spark --------------------------------------------------------------------------------

def test_ocr_source_in_spark_lines_counted_dates_and_audit(spark, tmp_path):
    from arkivlm import clean as clean_stage
    from arkivlm import ingest, lines

    archive = tmp_path / "archive"
    for year, cues in (("1915", ["\t".join(mixed_lines())]), ("1930", ["\t".join(GARBAGE)]), ("XXXX", ["Kungen talar i dag.\tSN"])):
        (archive / "intertitle" / year).mkdir(parents=True)
        (archive / "intertitle" / year / "a.srt").write_text(srt(cues), encoding="utf-8")
    (archive / "speech").mkdir()
    (archive / "speech" / "b.srt").write_text(srt(["Musik", "Herr talman, jag yrkar bifall.", "Musik Musik Musik Musik"]))
    sources = [{"name": "inter", "modality": "text", "format": "srt", "ocr": True, "rights": "public",
                "path": str(archive / "intertitle/**/*.srt"), "date_from_path": r"/(\d{4})/"},
               {"name": "speech", "modality": "transcript", "format": "srt", "rights": "public", "path": str(archive / "speech/*.srt")}]
    out = tmp_path / "out"
    st = ingest.run(spark, sources, {}, str(out / "ingest"), str(out / "q"), str(out / "ingest.json"))
    docs = pd.read_parquet(out / "ingest").sort_values("path")
    assert list(docs.date) == ["1915", "1930", None, None] and list(docs.ocr) == [True, True, True, False]
    assert st["per_decade"]["1910s"]["docs"] == 1 and st["per_decade"]["undated"]["docs"] == 2
    clean_stage.run(spark, {}, ["public"], str(out / "ingest"), str(out / "clean"), str(out / "dropped_clean"), str(out / "clean.json"))
    st = lines.run(spark, {}, str(out / "clean"), str(out / "lines"), str(out / "dropped_lines"), str(out / "stats" / "lines.json"),
                   str(out / "lines_removed"))
    assert st["docs_in"] == st["docs_out"] + sum(st["dropped"].values()) == 4
    assert st["dropped"] == {"too_little_swedish": 1}  # the card of nothing but garbage
    removed = pd.read_parquet(out / "lines_removed")
    assert len(removed) == sum(st["lines_removed"].values()) == sum(
        sum(s["lines_removed"].values()) for s in st["per_source"].values())
    assert st["per_source"]["speech"]["lines_removed"] == {"asr_hallucination": 2} and st["per_source"]["speech"]["lines_in"] == 3
    assert st["per_source"]["inter"]["lines_in"] == len(mixed_lines()) + len(GARBAGE) + 2
    kept = pd.read_parquet(out / "lines").set_index("path")
    assert kept.text[str(archive / "speech/b.srt")] == "Herr talman, jag yrkar bifall."
    assert kept.text[str(archive / "intertitle/XXXX/a.srt")] == "Kungen talar i dag."
    assert st["per_decade"]["1930s"] == {"docs_in": 1, "docs_out": 0}
    audit = json.loads((out / "stats" / "audit" / "lines.json").read_text())
    assert set(audit["removed_lines"]) == set(st["lines_removed"]) and audit["dropped"]["too_little_swedish"][0]["source"] == "inter"
    assert audit["kept"]["inter"] and audit["kept"]["speech"]
    for reason, examples in audit["removed_lines"].items():
        assert all(e["text"] in set(removed[removed.reason == reason].text) for e in examples)


def test_audit_never_shows_text_held_back_for_rights():
    from arkivlm import audit

    doc = audit.document("clean", {"rights_not_released": [{"id": "a", "source": "s", "path": "p", "text": "hemligt"}]}, {})
    assert doc["dropped"]["rights_not_released"][0]["text"].startswith("(text withheld")


def test_a_masthead_on_every_card_is_kept_once(judge):
    cards = ["BE Svensk Filmindustris Revy 1937\tHITLER LÄGGER GRUNDSTENEN till en stadion.",
             "e Svensk Filmindustris Revy 1937\tROTUNDAN har brunnit ned till grunden.",
             "Svensk Filmindustris Revy 1937\tSMÅ DRAGSPELS- VIRTUOSER."]
    text, _, removed, reason, _ = through_lines(judge, "srt", srt(cards))
    assert text.count("Filmindustris") == 1 and "ROTUNDAN har brunnit" in text and "VIRTUOSER" in text
    assert [r[1] for r in removed] == ["repeated_line", "repeated_line"]


def test_an_intertitle_read_from_several_frames_is_kept_once(judge):
    card = "S:T GEORGS DAG. Northumberlands fysiljärer fira Englands skyddspatron med stor parad den 23 april."
    variant = card.replace("parad", "pnrad").replace("fira", "flra")  # the same card, other OCR errors
    other = "KOMPOSITÖREN FRANZ LEHAR leder en saxofonorkester."
    text, _, removed, reason, _ = through_lines(judge, "srt", srt([card, other, variant, "S:T GEORGS DAG."]))
    assert reason is None and text == f"{card}\n\n{other}"
    assert [r[1] for r in removed] == ["repeated_card", "repeated_card"]


def test_swedish_in_capitals_is_swedish_to_language_id():
    from arkivlm.langid import SwedishClassifier, lid_text

    assert lid_text("ARKEBISKOPEN LÄSER\nKYRKOMÖTETS PROKLAMATION.\nI dag.") == "arkebiskopen läser kyrkomötets proklamation. I dag."
    clf = SwedishClassifier({})
    (result,) = clf.judge(["ARKEBISKOPEN LÄSER KYRKOMÖTETS PROKLAMATION. HERTIGPARET ANLÄNDER TILL SLOTTET."])
    assert result[5] is None, result
