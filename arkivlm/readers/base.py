from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from typing import Iterator

import charset_normalizer


class ReadError(Exception):
    """The file cannot be read; the message is the quarantine reason."""


@dataclass
class Record:
    text: str = ""
    cues: list[str] | None = None   # subtitle and transcript cues, raw markup kept for the clean stage
    record: int = 0                 # position within the file (JSON Lines line number, else 0)
    title: str | None = None
    date: str | None = None
    page: int | None = None
    ocr_conf: float | None = None   # mean ALTO word confidence
    line_conf: list[float] | None = None  # mean ALTO word confidence per text line, in text order
    start_s: float | None = None
    end_s: float | None = None
    error: str | None = None        # set for a record that could not be read
    url: str | None = None          # where a web archive record was fetched from
    path_suffix: str = ""           # after the file's path in the document's `path` (a WARC record's `@<offset>`)
    skipped: str | None = None      # a record that is counted, not a document: its kind (`mets`, `warc:revisit`, ...)
    extra: dict = field(default_factory=dict)


class Reader:
    format: str = ""
    streaming = False  # True: `read_stream` reads the open file record by record, whatever its size

    def read(self, data: bytes, path: str) -> Iterator[Record]:
        raise NotImplementedError

    def read_stream(self, fh, path: str, max_record_bytes: int) -> Iterator[Record]:
        raise NotImplementedError


_BOMS = [(codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
NORDIC_LEGACY = ["cp1252", "latin_1", "iso8859_15", "cp850", "mac_roman"]
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def decode_text(data: bytes, max_control_share: float = 0.01) -> str:
    """Bytes of a text file -> str: BOM, then strict UTF-8, then charset-normalizer's best guess.

    Binary content (NUL bytes, many control characters) is refused rather than guessed at.
    """
    if not data.strip():
        raise ReadError("empty file")
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as e:
                raise ReadError(f"undecodable {encoding} text: {e.reason}") from None
    if b"\x00" in data[:65536]:
        raise ReadError("binary content (NUL bytes)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # An archive of Nordic text: prefer the Western legacy encodings, which charset
        # detection otherwise confuses with Central European ones (å read as ĺ).
        best = charset_normalizer.from_bytes(data[:1_000_000], cp_isolation=NORDIC_LEGACY).best() or \
            charset_normalizer.from_bytes(data[:1_000_000]).best()
        if best is None:
            raise ReadError("binary content (no text encoding fits)") from None
        text = data.decode(best.encoding, errors="replace")
    sample = text[:100_000]
    if sample and len(_CONTROL.findall(sample)) / len(sample) > max_control_share:
        raise ReadError("binary content (control characters)")
    return text
