"""ALTO XML (v2-v4) OCR pages through lxml, with entity resolution and network access off."""

from __future__ import annotations

import functools
import glob
import os
import re
from typing import Iterator

from lxml import etree

from arkivlm.readers.base import Reader, ReadError, Record

_PAGE = re.compile(r"[_-]p(?:age)?0*(\d+)\b", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def mets_date_of(data: bytes) -> str | None:
    """`dateIssued` (MODS) or `dateCreated` of a METS file's bytes, None when it has neither or
    is not XML."""
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError:
        return None
    for el in root.iter():
        if isinstance(el.tag, str) and etree.QName(el).localname in ("dateIssued", "dateCreated") and (el.text or "").strip():
            return el.text.strip()
    return None


@functools.lru_cache(maxsize=1024)
def mets_date(directory: str) -> str | None:
    """The date of the METS file beside the ALTO pages (KB's newspaper packages: one
    `*_mets.xml` per issue), read once per directory."""
    for path in sorted(glob.glob(os.path.join(glob.escape(directory), "*mets*.xml")))[:1]:
        try:
            if os.path.getsize(path) > 64 * 1024 * 1024:
                return None
            with open(path, "rb") as fh:
                return mets_date_of(fh.read())
        except OSError:
            return None
    return None


class AltoReader(Reader):
    """A page -> one document: each TextLine one line, each TextBlock one paragraph. Hyphenated
    line ends are rejoined from `SUBS_CONTENT` (falling back to the two parts when it is missing),
    and every line keeps the mean word confidence (WC) of its words for the lines stage."""

    format = "alto"

    def read(self, data: bytes, path: str) -> Iterator[Record]:
        if not data.strip():
            raise ReadError("empty file")
        try:
            root = etree.fromstring(data, _parser())
        except etree.XMLSyntaxError as e:
            raise ReadError(f"malformed XML: {e}") from None
        dtd = root.getroottree().docinfo.internalDTD
        if dtd is not None and any(True for _ in dtd.iterentities()):
            raise ReadError("XML declares entities (refused: entity expansion and external entities)")
        if etree.QName(root).localname == "mets":  # an issue's METS among its pages: read for their dates
            yield Record(skipped="mets")
            return
        if etree.QName(root).localname != "alto":
            raise ReadError(f"not ALTO: root element <{etree.QName(root).localname}>")
        ns = etree.QName(root).namespace
        q = (lambda name: f"{{{ns}}}{name}") if ns else (lambda name: name)
        tag_string = q("String")

        paragraphs, confidences, line_conf, page_no = [], [], [], None
        page = root.find(f".//{q('Page')}")
        if page is not None and page.get("PHYSICAL_IMG_NR", "").isdigit():
            page_no = int(page.get("PHYSICAL_IMG_NR"))
        for block in root.iter(q("TextBlock")):
            lines: list[list[str]] = []
            pending_part1 = None
            for line in block.iter(q("TextLine")):
                words: list[str] = []
                wcs: list[float] = []
                for el in line:
                    if el.tag != tag_string:
                        continue
                    content = el.get("CONTENT", "")
                    wc = el.get("WC")
                    if wc is not None:
                        try:
                            wcs.append(float(wc))
                        except ValueError:
                            pass
                    subs_type, subs = el.get("SUBS_TYPE"), el.get("SUBS_CONTENT")
                    if subs_type == "HypPart1":
                        pending_part1 = (words, len(words), content)
                        words.append(subs or content)
                    elif subs_type == "HypPart2":
                        if subs and pending_part1 is None:
                            words.append(subs)
                        elif not subs:  # with SUBS_CONTENT the whole word already stands on the first line
                            if pending_part1 is not None and pending_part1[0][pending_part1[1]] == pending_part1[2]:
                                pending_part1[0][pending_part1[1]] += content
                            else:
                                words.append(content)
                        pending_part1 = None
                    elif content:
                        words.append(content)
                if words:
                    lines.append(words)
                    confidences.extend(wcs)
                    line_conf.append(round(sum(wcs) / len(wcs), 4) if wcs else float("nan"))
            if lines:
                paragraphs.append("\n".join(" ".join(w) for w in lines))
        text = "\n\n".join(paragraphs)
        if not text.strip():
            raise ReadError("ALTO page has no text")
        if page_no is None and (m := _PAGE.search(path)):
            page_no = int(m.group(1))
        from arkivlm.readers.packages import is_member_path

        # a package's member has the date of its METS from the package's listing
        home = os.path.dirname(os.path.abspath(path))  # the METS beside the page, or one directory up (`issue/alto/`)
        date = None if is_member_path(path) else mets_date(home) or mets_date(os.path.dirname(home))
        yield Record(text=text, date=date, page=page_no,
                     ocr_conf=round(sum(confidences) / len(confidences), 4) if confidences else None,
                     line_conf=line_conf if any(c == c for c in line_conf) else None)
