"""Plain text (any encoding), HTML (main text through trafilatura) and JSON Lines."""

from __future__ import annotations

import json
from typing import Iterator

from arkivlm.dates import date_from_fields
from arkivlm.readers.base import Reader, ReadError, Record, decode_text


class TxtReader(Reader):
    format = "txt"

    def read(self, data: bytes, path: str) -> Iterator[Record]:
        text = decode_text(data)
        if not text.strip():
            raise ReadError("no text")
        yield Record(text=text)


class HtmlReader(Reader):
    """Main text of a web page without navigation, footers and scripts (trafilatura)."""

    format = "html"

    def read(self, data: bytes, path: str) -> Iterator[Record]:
        import trafilatura

        html = decode_text(data)
        doc = trafilatura.bare_extraction(html, favor_recall=True, include_comments=False,
                                          include_tables=False, deduplicate=False, with_metadata=True)
        text = getattr(doc, "text", None) if doc is not None else None
        if not text or not text.strip():
            raise ReadError("HTML has no main text")
        title = getattr(doc, "title", None)
        date = getattr(doc, "date", None)
        yield Record(text=text, title=title, date=date)


class JsonlReader(Reader):
    """One JSON object per line with a `text` field (and optionally `title` and a date: `date`, `year`,
    `published`, ... see arkivlm.dates).
    A line that is not such an object is quarantined on its own; the other lines are kept."""

    format = "jsonl"

    def read(self, data: bytes, path: str) -> Iterator[Record]:
        text = decode_text(data)
        found = False
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            found = True
            try:
                obj = json.loads(line)
            except (json.JSONDecodeError, RecursionError) as e:
                yield Record(record=n, error=f"line {n}: invalid JSON: {str(e)[:120]}")
                continue
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                yield Record(record=n, error=f"line {n}: no string field 'text'")
                continue
            if not obj["text"].strip():
                yield Record(record=n, error=f"line {n}: empty text")
                continue
            title = obj.get("title")
            yield Record(text=obj["text"], record=n, title=title if isinstance(title, str) else None,
                         date=date_from_fields(obj))
        if not found:
            raise ReadError("no records")
