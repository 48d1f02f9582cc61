"""Timed text: SRT (srt), WebVTT (webvtt-py) and Whisper-style JSON transcripts.

Each file becomes one document whose `cues` keep the raw cue text (markup, voice tags) for the
clean stage; cue numbers and timings are consumed here, by the parsers, and never reach the text.
Whisper segments with a `speaker` field are written as WebVTT voice tags (`<v SPEAKER_00>`), so
that the clean stage sees speaker turns the same way for every format.
"""

from __future__ import annotations

import io
import json
import re
from typing import Iterator

from arkivlm.dates import date_from_fields
from arkivlm.readers.base import Reader, ReadError, Record, decode_text

_SRT_SETTINGS = re.compile(r"(\s*[A-Za-z][A-Za-z0-9]*:\S+)*\s*")  # e.g. "X1:100 X2:600 Y1:20 Y2:80"
_VTT_TIME = re.compile(r"(?:(\d+):)?(\d{1,2}):(\d{2})[.,](\d{3})")


def _vtt_seconds(stamp: str) -> float:
    m = _VTT_TIME.fullmatch(stamp.strip())
    if not m:
        raise ValueError(stamp)
    h, mi, s, ms = m.groups()
    return int(h or 0) * 3600 + int(mi) * 60 + int(s) + int(ms) / 1000


def _record(timed: list[tuple[float, float, str]]) -> Record:
    timed = [t for t in timed if t[2].strip()]
    if not timed:
        raise ReadError("no cues with text")
    timed.sort(key=lambda t: (t[0], t[1]))
    return Record(text="\n".join(c for _, _, c in timed), cues=[c for _, _, c in timed],
                  start_s=round(min(t[0] for t in timed), 3), end_s=round(max(t[1] for t in timed), 3))


class SrtReader(Reader):
    format = "srt"

    def read(self, data: bytes, path: str) -> Iterator[Record]:
        import srt

        text = decode_text(data)
        try:
            subs = list(srt.parse(text))
        except (srt.SRTParseError, ValueError, OverflowError) as e:
            raise ReadError(f"malformed SRT: {str(e)[:160]}") from None
        for s in subs:
            if not _SRT_SETTINGS.fullmatch(s.proprietary or ""):
                raise ReadError(f"malformed SRT timing line near cue {s.index}: trailing {s.proprietary[:40]!r}")
        yield _record([(s.start.total_seconds(), s.end.total_seconds(), s.content) for s in subs])


class VttReader(Reader):
    format = "vtt"

    def read(self, data: bytes, path: str) -> Iterator[Record]:
        import webvtt

        text = decode_text(data)
        try:
            captions = list(webvtt.from_buffer(io.StringIO(text)))
            timed = [(_vtt_seconds(c.start), _vtt_seconds(c.end), c.raw_text) for c in captions]
        except Exception as e:  # webvtt-py raises several kinds on malformed input
            raise ReadError(f"malformed WebVTT: {type(e).__name__}: {str(e)[:160]}") from None
        yield _record(timed)


class WhisperJsonReader(Reader):
    """`{"text": ..., "segments": [{"start", "end", "text", "speaker"?}, ...]}` as written by
    Whisper, faster-whisper and WhisperX; a recording date from `date`, `recorded`, ... or
    `metadata.date` (arkivlm.dates)."""

    format = "whisper_json"

    def read(self, data: bytes, path: str) -> Iterator[Record]:
        text = decode_text(data)
        try:
            obj = json.loads(text)
        except json.JSONDecodeError as e:
            raise ReadError(f"invalid JSON: {e.msg} at line {e.lineno}") from None
        except RecursionError:
            raise ReadError("invalid JSON: nested too deep") from None
        if not isinstance(obj, dict):
            raise ReadError("Whisper JSON: top level is not an object")
        segments = obj.get("segments")
        if segments is None:
            if isinstance(obj.get("text"), str) and obj["text"].strip():
                yield Record(text=obj["text"], cues=[obj["text"]], date=date_from_fields(obj))
                return
            raise ReadError("Whisper JSON: no 'segments' and no 'text'")
        if not isinstance(segments, list):
            raise ReadError("Whisper JSON: 'segments' is not a list")
        timed = []
        for i, seg in enumerate(segments):
            if not (isinstance(seg, dict) and isinstance(seg.get("text"), str)):
                raise ReadError(f"Whisper JSON: segment {i} has no string 'text'")
            try:
                start, end = float(seg.get("start", 0.0)), float(seg.get("end", 0.0))
            except (TypeError, ValueError):
                raise ReadError(f"Whisper JSON: segment {i} has non-numeric times") from None
            cue = seg["text"].strip()
            speaker = seg.get("speaker")
            if isinstance(speaker, str) and speaker.strip() and cue:
                cue = f"<v {speaker.strip()}>{cue}"
            timed.append((start, end, cue))
        record = _record(timed)
        record.date = date_from_fields(obj)
        yield record
