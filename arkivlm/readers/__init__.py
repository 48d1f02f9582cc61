"""One reader per archive format. A reader turns the bytes of one file into documents.

Every reader has the same shape: `read(data, path)` yields `Record`s; a file that cannot be read
raises `ReadError` with a reason, and a single bad record inside a multi-record file (a JSON Lines
line) is yielded as a `Record` with `error` set, so that it is quarantined and the rest kept.
"""

from __future__ import annotations

from arkivlm.readers.base import Reader, ReadError, Record
from arkivlm.readers.alto import AltoReader
from arkivlm.readers.cues import SrtReader, VttReader, WhisperJsonReader
from arkivlm.readers.text import HtmlReader, JsonlReader, TxtReader
from arkivlm.readers.warc import WarcReader

READERS: dict[str, Reader] = {
    r.format: r
    for r in (AltoReader(), TxtReader(), HtmlReader(), JsonlReader(), WhisperJsonReader(), SrtReader(), VttReader(),
              WarcReader())
}

__all__ = ["READERS", "Reader", "ReadError", "Record"]
