import json

import pytest

from arkivlm.readers import READERS, ReadError
from tests import formats as F


def read(fmt, data, path="x"):
    if isinstance(data, str):
        data = data.encode("utf-8")
    return list(READERS[fmt].read(data, path))


def test_alto_rejoins_hyphenation_keeps_lines_and_averages_confidence():
    (rec,) = read("alto", F.ALTO_HYPHENATED, "tidningar/svd_1921-03-04_p003.xml")
    # TextLines stay lines (the lines stage judges each), TextBlocks paragraphs; hyphenated words whole
    assert rec.text == "Den nya järnvägsstationen\ninvigdes i går.\n\nUtan ersättning\nalls."
    assert rec.page == 3
    assert rec.ocr_conf == pytest.approx((0.9 + 0.8 + 0.7 + 0.6 + 1 + 1 + 1 + 0.9 * 4) / 11, abs=1e-4)
    assert rec.line_conf == pytest.approx([0.8, 0.9, 0.9, 0.9], abs=1e-4)


def test_alto_without_namespace():
    (rec,) = read("alto", F.ALTO_V2_NO_NS)
    assert rec.text == "Gammal sida" and rec.ocr_conf == 0.5 and rec.line_conf == [0.5]


@pytest.mark.parametrize("data, reason", [
    (F.ALTO_HYPHENATED[:300], "malformed XML"),
    (b"\x00\x01\x02garbage", "malformed XML"),
    ("", "empty file"),
    (F.ALTO_ENTITY_BOMB, "declares entities"),
    (F.ALTO_EXTERNAL_ENTITY, "declares entities|external entity"),
    ("<html><body>nej</body></html>", "not ALTO"),
])
def test_alto_broken(data, reason):
    with pytest.raises(ReadError, match=reason):
        read("alto", data)


def test_txt_encodings():
    text = "Räksmörgås åt vi på Öland, sa Åsa."
    for enc in ("utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1"):
        body = (text + "\n") * 20
        (rec,) = read("txt", body.encode(enc))
        assert rec.text.strip().splitlines()[0] == text, enc


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"), (b"   \n ", "empty"), (b"abc\x00def" * 10, "NUL"),
    (bytes(range(1, 32)) * 50, "control characters"),
])
def test_txt_broken(data, reason):
    with pytest.raises(ReadError, match=reason):
        read("txt", data)


def test_html_main_text_only():
    (rec,) = read("html", F.HTML_PAGE)
    assert "Kommunen meddelade i dag" in rec.text and "oroar sig" in rec.text
    assert "Cookies" not in rec.text and "var x" not in rec.text and "Sport" not in rec.text


def test_html_without_text():
    with pytest.raises(ReadError):
        read("html", "<html><body><script>1</script></body></html>")


def test_jsonl_bad_line_is_quarantined_alone():
    lines = [json.dumps({"text": "Ett brev från mormor.", "date": "1950-01-02"}), '{"text": "avbruten',
             json.dumps({"titel": "fel fält"}), "", json.dumps({"text": "Ett till."})]
    recs = read("jsonl", "\n".join(lines))
    assert [r.record for r in recs] == [1, 2, 3, 5]
    assert [r.error is None for r in recs] == [True, False, False, True]
    assert recs[0].date == "1950-01-02" and "invalid JSON" in recs[1].error and "'text'" in recs[2].error


def test_srt_keeps_raw_cues_sorted_and_times():
    (rec,) = read("srt", F.SRT_BASIC)
    assert rec.cues[0] == "<i>Var har du varit?</i>" and rec.start_s == 1.0 and rec.end_s == 9.0
    assert len(rec.cues) == 3  # the empty cue is gone
    (rec,) = read("srt", F.SRT_REVERSED_NO_INDEX)
    assert rec.cues == ["Först.", "Sist."]


@pytest.mark.parametrize("data", [
    "1\n00:00:01,000 --> 00:00:0X,500\nHej\n\n2\nbara text\n",
    "1\n00:00:01,000 --> 00:00:02,000\n\n",
    "bara text utan tider",
])
def test_srt_broken(data):
    with pytest.raises(ReadError):
        read("srt", data)


def test_srt_crlf_bom_and_position_settings():
    data = "\ufeff1\r\n00:00:01,000 --> 00:00:02,000 X1:100 X2:600 Y1:10 Y2:80\r\nHej då\r\n".encode("utf-8")
    (rec,) = read("srt", data)
    assert rec.cues == ["Hej då"]


def test_vtt_keeps_voice_tags_and_drops_notes():
    (rec,) = read("vtt", F.VTT_STYLED)
    assert rec.cues[0].startswith("<v Anna>") and not any("kommentar" in c for c in rec.cues)
    assert rec.start_s == 1.0 and rec.end_s == 6.0


def test_vtt_without_header():
    with pytest.raises(ReadError, match="WebVTT"):
        read("vtt", "00:00:01.000 --> 00:00:02.000\nHej\n")


def test_whisper_speakers_become_voice_tags():
    (rec,) = read("whisper_json", F.WHISPER)
    assert rec.cues == ["<v SPEAKER_00>Herr talman!", "<v SPEAKER_00>Jag yrkar bifall till förslaget.",
                        "<v SPEAKER_01>Tack för anförandet."]
    assert rec.end_s == 9.0


@pytest.mark.parametrize("data, reason", [
    ('{"segments": [{"start": 0, "te', "invalid JSON"),
    ("[1, 2, 3]", "not an object"),
    ('{"segments": "nej"}', "not a list"),
    ('{"segments": [{"start": 0, "end": 1}]}', "no string 'text'"),
    ('{"foo": 1}', "no 'segments'"),
    ("[" * 100_000 + "]" * 100_000, "nested too deep|not an object"),
])
def test_whisper_broken(data, reason):
    with pytest.raises(ReadError, match=reason):
        read("whisper_json", data)


@pytest.mark.parametrize("pattern", ["s[01][0-9]/*.srt", "s[!0]?/*.srt", "s0[0-2]/*.vtt", "**/*.srt", "s1[a-c9]/x*.srt"])
def test_source_globs_match_like_python_glob(tmp_path, pattern):
    """Character classes keep their ranges and negation (`[0-9]`, `[!0]`), as in the shell."""
    import glob

    from arkivlm.ingest import iter_source_paths

    for shard in ("s00", "s01", "s02", "s09", "s10", "s15", "s19", "s1a", "sx0"):
        (tmp_path / shard).mkdir()
        for name in ("x1.srt", "x2.vtt", "y.srt"):
            (tmp_path / shard / name).write_text("x")
    expected = sorted(glob.glob(str(tmp_path / pattern), recursive=True))
    assert expected and sorted(iter_source_paths(str(tmp_path / pattern))) == expected
