"""ALTO XML (v2-v4) OCR pages through lxml, with entity resolution and network access off."""

from __future__ import annotations

import re
from typing import Iterator

from lxml import etree

from arkivlm.readers.base import Reader, ReadError, Record

_DATE = re.compile(r"(1[5-9]\d\d|20\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")
_PAGE = re.compile(r"[_-]p(?:age)?0*(\d+)\b", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


class AltoReader(Reader):
    """A page -> one document. TextBlocks become paragraphs; hyphenated line ends are rejoined
    from `SUBS_CONTENT` (falling back to the two parts when it is missing)."""

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
        if etree.QName(root).localname != "alto":
            raise ReadError(f"not ALTO: root element <{etree.QName(root).localname}>")
        ns = etree.QName(root).namespace
        q = (lambda name: f"{{{ns}}}{name}") if ns else (lambda name: name)
        tag_string, tag_hyp = q("String"), q("HYP")

        paragraphs, confidences, page_no = [], [], None
        page = root.find(f".//{q('Page')}")
        if page is not None and page.get("PHYSICAL_IMG_NR", "").isdigit():
            page_no = int(page.get("PHYSICAL_IMG_NR"))
        for block in root.iter(q("TextBlock")):
            words: list[str] = []
            pending_part1 = None
            for line in block.iter(q("TextLine")):
                for el in line:
                    if el.tag == tag_string:
                        content = el.get("CONTENT", "")
                        wc = el.get("WC")
                        if wc is not None:
                            try:
                                confidences.append(float(wc))
                            except ValueError:
                                pass
                        subs_type, subs = el.get("SUBS_TYPE"), el.get("SUBS_CONTENT")
                        if subs_type == "HypPart1":
                            pending_part1 = content
                            words.append(subs or content)
                        elif subs_type == "HypPart2":
                            if not (subs and words and words[-1] == subs):
                                if pending_part1 is not None and words and words[-1] == pending_part1:
                                    words[-1] = pending_part1 + content
                                else:
                                    words.append(content)
                            pending_part1 = None
                        elif content:
                            words.append(content)
                    elif el.tag == tag_hyp:
                        continue
            if words:
                paragraphs.append(" ".join(words))
        text = "\n\n".join(paragraphs)
        if not text.strip():
            raise ReadError("ALTO page has no text")
        date = _DATE.search(path)
        if page_no is None and (m := _PAGE.search(path)):
            page_no = int(m.group(1))
        yield Record(text=text, date=date.group(0) if date else None, page=page_no,
                     ocr_conf=round(sum(confidences) / len(confidences), 4) if confidences else None)
