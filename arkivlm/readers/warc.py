"""Web archives: WARC files (`.warc`, `.warc.gz`, one gzip member per record), read with warcio.

Every HTML response is a document: its main text through the same extractor as the `html` reader,
its `url` from `WARC-Target-URI`, its date from `WARC-Date`, and its `path` the WARC file with the
record's byte offset (`crawl.warc.gz@1234`, where `warcio extract` finds it). The file is read as a
stream, one record at a time, so a 1 GB WARC never sits in a worker's memory; `max_file_mb`
bounds each record instead of the file.

Nothing is lost silently. Every other record is counted by kind (`skipped`): `warc:request`,
`warc:revisit`, `warc:non_html` (images, scripts, PDFs), `warc:truncated` (the crawler cut the
payload: `WARC-Truncated`), `warc:http_status` (redirects, errors), `warc:no_text`, and the
`warcinfo`/`metadata` records. A record that cannot be parsed (a broken gzip member, a header
that is not WARC, a file that ends inside a record) is quarantined with its offset, and reading
goes on at the next record that starts after it.
"""

from __future__ import annotations

import zlib
from typing import Iterator

from arkivlm.readers.base import Reader, ReadError, Record

HTML_TYPES = ("text/html", "application/xhtml+xml")
_GZIP_MAGIC = b"\x1f\x8b\x08"
_WARC_MAGIC = b"WARC/1."


def _next_start(fh, after: int, gzipped: bool) -> int | None:
    """The offset of the first record start (a gzip member, or a `WARC/1.` line) after `after`."""
    magic = _GZIP_MAGIC if gzipped else b"\n" + _WARC_MAGIC
    fh.seek(after)
    carry, pos = b"", after
    while chunk := fh.read(1 << 20):
        buf = carry + chunk
        i = buf.find(magic)
        if i >= 0:
            return pos - len(carry) + i + (0 if gzipped else 1)
        carry = buf[-(len(magic) - 1):]
        pos += len(chunk)
    return None


class WarcReader(Reader):
    format = "warc"
    streaming = True

    def read(self, data: bytes, path: str) -> Iterator[Record]:
        import io

        yield from self.read_stream(io.BytesIO(data), path, len(data))

    def read_stream(self, fh, path: str, max_record_bytes: int) -> Iterator[Record]:
        from warcio.archiveiterator import ArchiveIterator

        gzipped = fh.read(3) == _GZIP_MAGIC
        fh.seek(0)
        if not fh.read(1):
            raise ReadError("empty file")
        fh.seek(0)
        start, ordinal = 0, 0
        while True:
            it = ArchiveIterator(fh)
            offset, in_record = start, False
            try:
                for record in it:
                    if record.rec_type is None:  # blank lines after the last gzip member
                        continue
                    offset, in_record = max(it.offset, start), True
                    ordinal += 1
                    if record.format != "warc":  # warcio reads what is not WARC as the older ARC format
                        raise ValueError(f"not a WARC record (read as {record.format})")
                    rec = self._record(record, offset, ordinal, max_record_bytes, path)
                    it.read_to_end()
                    if getattr(record.raw_stream, "limit", 0) > 0:
                        raise EOFError(f"the file ends {record.raw_stream.limit} bytes before the record does")
                    in_record = False
                    yield rec
                    offset = max(it.offset, offset)
                fh.seek(offset)
                if not fh.read(1 << 16).strip():
                    return
                in_record, ordinal = True, ordinal + 1
                raise EOFError("the file ends inside a record")
            except (zlib.error, EOFError, OSError, ValueError, UnicodeError, LookupError) as e:
                error = f"{type(e).__name__}: {str(e)[:160]}"
            except Exception as e:  # warcio's ArchiveLoadFailed and its parsers' own errors
                if type(e).__module__.split(".")[0] not in ("warcio", "http"):
                    raise
                error = f"{type(e).__name__}: {' '.join(str(e).split())[:160]}"
            ordinal += 0 if in_record else 1
            yield Record(record=ordinal, path_suffix=f"@{offset}", error=f"broken WARC record at byte {offset}: {error}")
            start = _next_start(fh, offset + 1, gzipped)
            if start is None:
                return
            fh.seek(start)

    @staticmethod
    def _record(record, offset: int, ordinal: int, max_bytes: int, path: str) -> Record:
        from arkivlm.readers.text import HtmlReader

        where = {"record": ordinal, "path_suffix": f"@{offset}"}
        kind = record.rec_type
        if kind not in ("response", "resource"):
            return Record(skipped=f"warc:{kind}", **where)
        headers = record.rec_headers
        if headers.get_header("WARC-Truncated"):
            return Record(skipped="warc:truncated", **where)
        http = record.http_headers
        if http is not None and http.get_statuscode() and not http.get_statuscode().startswith("2"):
            return Record(skipped="warc:http_status", **where)
        content_type = (http.get_header("Content-Type") if http is not None else headers.get_header("Content-Type")) or ""
        if content_type.split(";")[0].strip().lower() not in HTML_TYPES:
            return Record(skipped="warc:non_html", **where)
        length = int(headers.get_header("Content-Length") or 0)
        if length > max_bytes:
            return Record(error=f"record too large ({length} bytes > {max_bytes})", **where)
        payload = record.content_stream().read(max_bytes + 1)
        url = headers.get_header("WARC-Target-URI")
        date = (headers.get_header("WARC-Date") or "")[:10] or None
        try:
            (page,) = HtmlReader().read(payload, path)
        except ReadError as e:
            if str(e) == "HTML has no main text":
                return Record(skipped="warc:no_text", url=url, **where)
            return Record(error=str(e), url=url, **where)
        return Record(text=page.text, title=page.title, date=date, url=url, **where)
