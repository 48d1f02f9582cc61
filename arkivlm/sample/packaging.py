"""Writers for the archive's containers: WARC files (warcio) and tar/zip packages, for the sample
archive and the tests."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path


def write_warc(path: Path, records: list[dict], gzip: bool = True) -> None:
    """`records`: dicts with `type` (response, request, revisit, resource, metadata, warcinfo),
    `url`, `body` (bytes), and optionally `content_type`, `status` ("200 OK"), `date` (ISO) and
    `headers` (more WARC headers, e.g. WARC-Truncated). The same records give the same bytes: record
    ids are derived from the record's place and URL, not drawn at random (a WARC's documents are named
    by their byte offsets)."""
    import uuid

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip)
        for i, r in enumerate(records):
            http = None
            if r["type"] in ("response", "revisit"):
                http = StatusAndHeaders(r.get("status", "200 OK"), [("Content-Type", r.get("content_type", "text/html"))],
                                        protocol="HTTP/1.1")
            record_id = uuid.uuid5(uuid.NAMESPACE_URL, f"{i}:{r['type']}:{r.get('url')}")
            headers = {"WARC-Date": r.get("date", "2003-04-05T10:00:00Z"), "WARC-Record-ID": f"<urn:uuid:{record_id}>",
                       **r.get("headers", {})}
            if r["type"] == "resource":
                headers["Content-Type"] = r.get("content_type", "text/html")
            writer.write_record(writer.create_warc_record(r.get("url"), r["type"], payload=io.BytesIO(r["body"]),
                                                          http_headers=http, warc_headers_dict=headers))


def write_package(path: Path, members: dict[str, bytes]) -> None:
    """A `.tar`, `.tar.gz`/`.tgz` or `.zip` holding `members` (name inside -> bytes), in that order,
    with a fixed modification time so the same members give the same bytes."""
    name = path.name.lower()
    if name.endswith(".zip"):
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for member, data in members.items():
                zf.writestr(zipfile.ZipInfo(member, date_time=(2020, 1, 1, 0, 0, 0)), data, zipfile.ZIP_DEFLATED)
        return
    mode = "w" if name.endswith(".tar") else "w:gz"
    with open(path, "wb") as raw:
        # gzip's header holds a time: through GzipFile with mtime 0 for identical bytes on every run
        import gzip

        fh = raw if mode == "w" else gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0)
        with tarfile.open(fileobj=fh, mode="w") as tf:
            for member, data in members.items():
                info = tarfile.TarInfo(member)
                info.size, info.mtime, info.mode = len(data), 1577836800, 0o644
                tf.addfile(info, io.BytesIO(data))
        if fh is not raw:
            fh.close()


def mets(date: str, pages: list[str]) -> bytes:
    """A minimal METS file of one issue: its MODS `dateIssued` and its pages' file names."""
    files = "".join(f'<mets:file ID="f{i}"><mets:FLocat xlink:href="{p}"/></mets:file>' for i, p in enumerate(pages))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<mets:mets xmlns:mets="http://www.loc.gov/METS/" '
            'xmlns:mods="http://www.loc.gov/mods/v3" xmlns:xlink="http://www.w3.org/1999/xlink">'
            '<mets:dmdSec ID="dmd1"><mets:mdWrap MDTYPE="MODS"><mets:xmlData><mods:mods><mods:originInfo>'
            f'<mods:dateIssued>{date}</mods:dateIssued></mods:originInfo></mods:mods></mets:xmlData></mets:mdWrap>'
            f'</mets:dmdSec><mets:fileSec><mets:fileGrp USE="ALTO">{files}</mets:fileGrp></mets:fileSec>'
            '</mets:mets>\n').encode()
