"""Write the bundled sample archive: a small, seeded archive in the library's real formats.

    python -m arkivlm.sample.archive archive/sample --seed 20261126 --scale 1.0

Same seed and scale, same bytes. Besides Swedish it plants the decoys the pipeline must catch:
Norwegian, Danish and English documents, OCR-noised reprints, rerun subtitles, TV listings,
personal data, legacy encodings and a few broken files. `MANIFEST.json` lists what was planted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import json
import random
import shutil
from pathlib import Path
from xml.sax.saxutils import quoteattr

import srt

from arkivlm.sample import text as T

ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"
OCR_CONFUSIONS = [("rn", "m"), ("m", "rn"), ("å", "a"), ("ä", "a"), ("ö", "o"), ("l", "1"),
                  ("e", "c"), ("i", "l"), ("h", "b"), ("o", "0"), ("s", "5")]


def ocr_noise(text: str, rng: random.Random, rate: float) -> str:
    """Apply character confusions typical of OCR to roughly `rate` of the characters."""
    out, i = [], 0
    while i < len(text):
        if text[i].isalpha() and rng.random() < rate:
            for src, dst in rng.sample(OCR_CONFUSIONS, len(OCR_CONFUSIONS)):
                if text.startswith(src, i):
                    out.append(dst)
                    i += len(src)
                    break
            else:
                out.append(text[i])
                i += 1
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


# --- ALTO ---------------------------------------------------------------------------------------

def _wrap(words: list[str], width: int, rng: random.Random, hyphenate: float):
    """Lines of (word, hyph) where hyph is None, 'part1' or 'part2' (with the full word)."""
    lines, line, length = [], [], 0
    for word in words:
        if length + len(word) + 1 > width and line:
            if len(word) >= 8 and word.isalpha() and rng.random() < hyphenate:
                cut = rng.randint(3, len(word) - 3)
                line.append((word[:cut], ("HypPart1", word)))
                lines.append(line)
                line, length = [(word[cut:], ("HypPart2", word))], len(word) - cut
                continue
            lines.append(line)
            line, length = [], 0
        line.append((word, None))
        length += len(word) + 1
    if line:
        lines.append(line)
    return lines


def alto_page(blocks: list[str], rng: random.Random, *, file_name: str, page: int,
              conf: tuple[float, float] = (0.85, 0.99), hyphenate: float = 0.5) -> str:
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<alto xmlns="{ALTO_NS}" xmlns:xlink="http://www.w3.org/1999/xlink">',
        "<Description><MeasurementUnit>pixel</MeasurementUnit>",
        f"<sourceImageInformation><fileName>{html.escape(file_name)}</fileName></sourceImageInformation>",
        "<OCRProcessing ID=\"OCR_0\"><ocrProcessingStep><processingSoftware>"
        "<softwareName>ABBYY FineReader</softwareName></processingSoftware></ocrProcessingStep></OCRProcessing>",
        "</Description>",
        "<Layout>",
        f'<Page ID="PAGE{page}" PHYSICAL_IMG_NR="{page}" HEIGHT="9000" WIDTH="6000">',
        '<PrintSpace HEIGHT="8800" WIDTH="5800" VPOS="100" HPOS="100">',
    ]
    vpos = 100
    for b, block in enumerate(blocks):
        out.append(f'<TextBlock ID="TB{page}_{b}" HPOS="100" VPOS="{vpos}" WIDTH="5600" HEIGHT="400">')
        for li, line in enumerate(_wrap(block.split(), rng.randint(38, 60), rng, hyphenate)):
            vpos += 40
            out.append(f'<TextLine ID="TL{page}_{b}_{li}" HPOS="100" VPOS="{vpos}" WIDTH="5600" HEIGHT="36">')
            hpos = 100
            for wi, (word, hyph) in enumerate(line):
                if wi:
                    out.append(f'<SP HPOS="{hpos}" VPOS="{vpos}" WIDTH="12"/>')
                wc = min(1.0, max(0.0, rng.uniform(*conf)))
                attrs = (f'ID="S{page}_{b}_{li}_{wi}" HPOS="{hpos}" VPOS="{vpos}" WIDTH="{len(word) * 22}" '
                         f'HEIGHT="36" CONTENT={quoteattr(word)} WC="{wc:.2f}"')
                if hyph:
                    attrs += f' SUBS_TYPE="{hyph[0]}" SUBS_CONTENT={quoteattr(hyph[1])}'
                out.append(f"<String {attrs}/>")
                hpos += len(word) * 22 + 12
                if hyph and hyph[0] == "HypPart1":
                    out.append(f'<HYP HPOS="{hpos}" VPOS="{vpos}" WIDTH="10" CONTENT="-"/>')
            out.append("</TextLine>")
        out.append("</TextBlock>")
        vpos += 80
    out += ["</PrintSpace>", "</Page>", "</Layout>", "</alto>", ""]
    return "\n".join(out)


# --- subtitles and transcripts -------------------------------------------------------------------

def _td(seconds: float) -> dt.timedelta:
    return dt.timedelta(milliseconds=round(seconds * 1000))


def _vtt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}.{ms % 1000:03d}"


def episode_cues(rng: random.Random, series: str, n_lines: int) -> list[str]:
    """The cue texts of one episode: a fixed intro, dialogue, fixed credits."""
    intro = [f"♪ {series} ♪", "Textning: Svensk Medietext för SVT"]
    body, bag = [], T.TemplateBag(rng, T.DIALOGUE)
    for _ in range(n_lines):
        kind = rng.random()
        if kind < 0.2:
            body.append(f"- {bag.next()}\n- {bag.next()}")
        elif kind < 0.3:
            body.append(f"<i>{bag.next()}</i>")
        elif kind < 0.35:
            body.append("{\\an8}" + bag.next())
        else:
            body.append(bag.next())
    credits = ["Översättning: Karin Berg", "Svensk Medietext", "www.svt.se/textning"]
    return intro + body + credits


def timed(cues: list[str], rng: random.Random, start: float = 2.0):
    t, out = start, []
    for cue in cues:
        dur = 1.2 + 0.06 * len(cue)
        out.append((t, t + dur, cue))
        t += dur + rng.uniform(0.1, 1.5)
    return out


def write_srt(path: Path, timed_cues) -> None:
    subs = [srt.Subtitle(index=i + 1, start=_td(a), end=_td(b), content=c) for i, (a, b, c) in enumerate(timed_cues)]
    path.write_text(srt.compose(subs, reindex=False), encoding="utf-8")


def write_vtt(path: Path, timed_cues, rng: random.Random) -> None:
    out = ["WEBVTT", "", "NOTE Arkiverad från SVT Play", "", "STYLE", "::cue(.gul) { color: yellow; }", ""]
    for i, (a, b, cue) in enumerate(timed_cues):
        cue = cue.replace("{\\an8}", "")
        if cue.startswith("<i>"):
            cue = cue.replace("<i>", "<c.gul>").replace("</i>", "</c>")
        elif rng.random() < 0.3 and "\n" not in cue:
            cue = f"<v {rng.choice(T.PERSONS).split()[0]}>{cue}"
        settings = " line:0 align:start" if rng.random() < 0.1 else ""
        out += [f"c{i + 1}", f"{_vtt_time(a)} --> {_vtt_time(b)}{settings}", cue, ""]
    path.write_text("\n".join(out), encoding="utf-8")


# --- the archive ---------------------------------------------------------------------------------

class ArchiveWriter:
    def __init__(self, root: Path, seed: int, scale: float):
        self.root, self.seed, self.scale = root, seed, scale
        self.rng = random.Random(seed)
        self.manifest: dict[str, list[str]] = {}

    def n(self, count: int) -> int:
        return max(1, round(count * self.scale))

    def file(self, rel: str, planted: str | None = None) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if planted:
            self.manifest.setdefault(planted, []).append(rel)
        return path

    def write(self) -> None:
        for step in (self.newspapers, self.books, self.web, self.letters, self.riksdag, self.radio,
                     self.subtitles, self.restricted, self.containers):
            step()
        self.file("MANIFEST.json").write_text(
            json.dumps({"seed": self.seed, "scale": self.scale, "planted": self.manifest},
                       ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")

    def newspapers(self) -> None:
        rng, start = self.rng, dt.date(1921, 1, 3)
        reprint_pool = []
        for i in range(self.n(220)):
            title = ["svenska_dagbladet", "dagens_nyheter", "norrlandsposten"][i % 3]
            date = start + dt.timedelta(days=7 * i)
            page = 1 + i % 8
            rel = f"tidningar/{title}/{date.year}/{title}_{date.isoformat()}_p{page:03d}.xml"
            planted = None
            if i % 23 == 5:
                blocks, planted = [T.headline(rng)] + T.tv_listing(rng)[:1] + [" ".join(T.tv_listing(rng))], "tv_listing"
            elif i % 29 == 7:
                blocks, planted = [T.decoy_paragraph(rng, "da", 6) for _ in range(3)], "danish"
            elif i % 31 == 9:
                blocks, planted = [T.decoy_paragraph(rng, "no", 6) for _ in range(3)], "norwegian"
            else:
                blocks = T.article(rng)
                reprint_pool.append(blocks)
                if i % 17 == 3:
                    blocks = blocks + [T.decoy_paragraph(rng, "da", 5)]
                    planted = "swedish_with_danish_ad"
            conf = (0.35, 0.75) if i % 41 == 11 else (0.82, 0.99)
            if conf[0] < 0.5:
                planted = planted or "low_ocr_confidence"
                blocks = [ocr_noise(b, rng, 0.15) for b in blocks]
            self.file(rel, planted).write_text(
                alto_page(blocks, rng, file_name=Path(rel).with_suffix(".jp2").name, page=page, conf=conf),
                encoding="utf-8")
        # Reprints: the same article in a provincial paper, OCR'd again with different noise.
        for j, blocks in enumerate(rng.sample(reprint_pool, min(len(reprint_pool), self.n(30)))):
            date = dt.date(1925, 1, 5) + dt.timedelta(days=3 * j)
            rel = f"tidningar/gotlands_allehanda/{date.year}/gotlands_allehanda_{date.isoformat()}_p002.xml"
            noised = [ocr_noise(b, rng, rng.uniform(0.01, 0.03)) for b in blocks]
            self.file(rel, "ocr_reprint").write_text(
                alto_page(noised, rng, file_name=Path(rel).with_suffix(".jp2").name, page=2, conf=(0.7, 0.95)),
                encoding="utf-8")
        good = alto_page(T.article(rng), rng, file_name="x.jp2", page=1)
        self.file("tidningar/svenska_dagbladet/1930/svenska_dagbladet_1930-01-01_p001.xml",
                  "broken_truncated_xml").write_text(good[: len(good) // 2], encoding="utf-8")

    def books(self) -> None:
        rng = self.rng
        for i in range(self.n(90)):
            planted, encoding = None, "utf-8"
            if i % 19 == 4:
                paras, planted = [T.decoy_paragraph(rng, "en", 6) for _ in range(4)], "english"
            elif i % 23 == 6:
                paras, planted = [T.decoy_paragraph(rng, "no", 6) for _ in range(4)], "norwegian"
            else:
                bag = T.TemplateBag(rng, T.NEWS_TEMPLATES)
                paras = [T.news_paragraph(rng, rng.randint(4, 6), bag) for _ in range(rng.randint(5, 9))]
            lines = []
            for para in paras:  # OCR'd books: hard line breaks with hyphenated line ends
                for line in _wrap(para.split(), 64, rng, 0.6):
                    lines.append(" ".join(w for w, _ in line) + ("-" if line[-1][1] and line[-1][1][0] == "HypPart1" else ""))
                lines.append("")
            body = "\n".join(lines)
            if i % 13 == 2:
                encoding, planted = "cp1252", planted or "cp1252"
            elif i % 37 == 8:
                encoding, planted = "utf-16", planted or "utf16_bom"
            elif i % 29 == 10:
                body, planted = body.encode("utf-8").decode("latin-1"), planted or "mojibake"
            self.file(f"bocker/bok_{i:04d}.txt", planted).write_bytes(body.encode(encoding))
        # exact copies: the same book digitised twice
        for i in range(self.n(6)):
            src = self.root / f"bocker/bok_{i * 3:04d}.txt"
            shutil.copyfile(src, self.file(f"bocker/kopia_{i:04d}.txt", "exact_copy"))
        self.file("bocker/trasig.txt", "broken_binary").write_bytes(bytes(rng.randrange(256) for _ in range(3000)))

    def web(self) -> None:
        rng = self.rng
        for i in range(self.n(120)):
            planted = None
            if i % 17 == 3:
                paras, planted = [T.decoy_paragraph(rng, "en", 5) for _ in range(3)], "english"
            elif i % 19 == 5:
                paras, planted = [T.decoy_paragraph(rng, "da", 5) for _ in range(3)], "danish"
            else:
                paras = T.article(rng)[1:]
            if i % 11 == 4:
                paras = paras + [f"Kontakta redaktionen: {T.email(rng)} eller ring {T.phone(rng)}."]
                planted = planted or "pii_email_phone"
            head = T.headline(rng)
            body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paras)
            page = (
                "<!DOCTYPE html>\n<html lang=\"sv\"><head><meta charset=\"utf-8\">"
                f"<title>{html.escape(head)} | Lokaltidningen</title></head>\n<body>\n"
                "<header><nav><a href=\"/\">Start</a> | <a href=\"/nyheter\">Nyheter</a> | "
                "<a href=\"/sport\">Sport</a> | <a href=\"/kultur\">Kultur</a></nav></header>\n"
                f"<main><article><h1>{html.escape(head)}</h1>\n{body}\n</article></main>\n"
                "<footer><p>© Lokaltidningen. Alla rättigheter förbehållna. Cookies används på denna "
                "webbplats.</p></footer>\n<script>var tracking = 1;</script>\n</body></html>\n")
            self.file(f"webb/sida_{i:04d}.html", planted).write_text(page, encoding="utf-8")
        self.file("webb/tom.html", "broken_empty").write_text("", encoding="utf-8")

    def letters(self) -> None:
        rng = self.rng
        for f in range(self.n(4)):
            lines = []
            for r in range(60):
                bag = T.TemplateBag(rng, T.NEWS_TEMPLATES)
                paras = [T.news_paragraph(rng, rng.randint(2, 4), bag) for _ in range(rng.randint(2, 4))]
                if r % 5 == 1:
                    paras.append(f"Mitt personnummer är {T.personnummer(rng)} och min e-post {T.email(rng)}.")
                if r % 7 == 2:
                    paras.append(f"Samordningsnummer {T.personnummer(rng, coordination=True)}, tel. {T.phone(rng)}.")
                if r % 6 == 3:  # look-alikes that must survive redaction
                    paras.append(f"Se SFS 2018:{rng.randint(100, 999)} och ISBN 978-91-{rng.randint(1000, 9999)}-"
                                 f"{rng.randint(100, 999)}-{rng.randint(0, 9)}, utgiven 1998-04-12.")
                lines.append(json.dumps({"id": f"brev-{f}-{r}", "date": f"19{rng.randint(40, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                                         "text": "\n\n".join(paras)}, ensure_ascii=False))
            if f == 0:
                lines.insert(10, '{"id": "brev-trasig", "text": "avbruten')
                self.manifest.setdefault("broken_jsonl_record", []).append(f"brev/brev_{f:02d}.jsonl:11")
            self.file(f"brev/brev_{f:02d}.jsonl", "pii_personnummer").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def riksdag(self) -> None:
        rng = self.rng
        for i in range(self.n(60)):
            speakers = [f"SPEAKER_{k:02d}" for k in range(rng.randint(2, 4))]
            segments, t, bag = [], 0.0, T.TemplateBag(rng, T.SPEECH_TEMPLATES, T.NEWS_TEMPLATES)
            for turn in range(rng.randint(4, 9)):
                speaker = speakers[turn % len(speakers)]
                for sentence in T.speech_paragraph(rng, None, bag).split(". "):
                    sentence = sentence.strip()
                    if not sentence:
                        continue
                    sentence += "" if sentence.endswith(("!", ".", "?")) else "."
                    dur = 0.5 + 0.065 * len(sentence)
                    segments.append({"id": len(segments), "start": round(t, 2), "end": round(t + dur, 2),
                                     "text": " " + sentence, "speaker": speaker})
                    t += dur + 0.3
            doc = {"language": "sv", "text": "".join(s["text"] for s in segments), "segments": segments,
                   "metadata": {"recorded": (dt.date(1995, 1, 10) + dt.timedelta(days=37 * i)).isoformat()}}
            self.file(f"riksdag/debatt_{i:04d}.json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
        self.file("riksdag/debatt_trasig.json", "broken_json").write_text('{"segments": [{"start": 0.0, "te', encoding="utf-8")

    def radio(self) -> None:
        rng = self.rng
        for i in range(self.n(50)):
            host, guest = rng.sample(T.PERSONS, 2)
            cues, who, bag = [], host, T.TemplateBag(rng, T.RADIO_TEMPLATES, T.NEWS_TEMPLATES)
            for k in range(rng.randint(25, 60)):
                if k % rng.randint(2, 4) == 0:
                    who = guest if who == host else host
                    cues.append(f"{who.split()[0].upper()}: {bag.next()}")
                else:
                    cues.append(bag.next())
            if i % 9 == 4:  # ASR looping: a phrase of this programme repeated back to back
                phrase = " ".join(cues[-1].split()[-4:]).rstrip(".!?")
                cues += [" ".join([phrase] * k) for k in (4, 5, 6, 7)]
                self.manifest.setdefault("asr_loop", []).append(f"radio/program_{i:04d}.srt")
            if i % 6 == 1:  # what speech recognisers write over music and silence, as real transcripts show it
                cues = ["Musik", *cues[:len(cues) // 2], "Musik Musik Musik Musik", *cues[len(cues) // 2:],
                        "Textning: Svensk Medietext", "Tack för att ni lyssnade."]
                self.manifest.setdefault("asr_hallucination", []).append(f"radio/program_{i:04d}.srt")
            write_srt(self.file(f"radio/program_{i:04d}.srt"), timed(cues, rng))

    def subtitles(self) -> None:
        rng = self.rng
        series = ["Rederiet", "Skärgårdsdoktorn", "Svensson Svensson", "Hem till byn", "Vår tid är nu"]
        for s, name in enumerate(series):
            for ep in range(self.n(14)):
                cues = episode_cues(rng, name, rng.randint(30, 45))
                slug = name.lower().replace(" ", "_").replace("å", "a").replace("ä", "a").replace("ö", "o")
                tc = timed(cues, rng)
                if ep % 5 == 1:  # live-style overlap: a cue repeated, overlapping its predecessor
                    a, b, c = tc[5]
                    tc.insert(6, (a + 0.5, b + 0.5, c))
                if s % 2 == 0:
                    write_srt(self.file(f"svt/srt/{slug}/{slug}_s01e{ep + 1:02d}.srt"), tc)
                else:
                    write_vtt(self.file(f"svt/vtt/{slug}/{slug}_s01e{ep + 1:02d}.vtt"), tc, rng)
                if ep % 3 == 0:  # rerun years later, retimed, sometimes in the other format
                    shift = rng.uniform(5, 40)
                    rerun = [(a + shift, b + shift, c) for a, b, c in tc]
                    if rng.random() < 0.5:
                        write_srt(self.file(f"svt/srt/{slug}/{slug}_s01e{ep + 1:02d}_repris.srt", "rerun"), rerun)
                    else:
                        write_vtt(self.file(f"svt/vtt/{slug}/{slug}_s01e{ep + 1:02d}_repris.vtt", "rerun"), rerun, rng)
        self.file("svt/srt/trasig/trasig.srt", "broken_srt").write_text(
            "1\n00:00:01,000 --> 00:00:0X,500\nHej\n\n2\nbara text utan tider\n", encoding="utf-8")
        self.file("svt/vtt/trasig/utan_huvud.vtt", "broken_vtt").write_text(
            "00:00:01.000 --> 00:00:02.000\nHej\n", encoding="utf-8")

    def restricted(self) -> None:
        rng = self.rng
        for i in range(self.n(25)):
            body = "\n\n".join(T.article(rng))
            self.file(f"tidningar_nya/artikel_{i:04d}.txt", "restricted_rights").write_text(body, encoding="utf-8")

    def containers(self) -> None:
        """The archive as the library stores it: issues of a newspaper as packages of METS and ALTO
        (tar, tar.gz, zip, one of them corrupt), a web crawl as a WARC file, letters as compressed
        JSON Lines. Written last, so the files above stay what they were before these existed."""
        from arkivlm.sample.packaging import mets, write_package, write_warc

        rng, start = self.rng, dt.date(1932, 2, 6)
        for i in range(max(3, self.n(4))):  # a tar, a tar.gz and a zip at any scale
            date = start + dt.timedelta(days=7 * i)
            issue = f"bib13991099_{date.strftime('%Y%m%d')}"
            pages = [f"{issue}/{issue}_{p:04d}_alto.xml" for p in range(1, 5)]
            members = {f"{issue}/{issue}_mets.xml": mets(date.isoformat(), [Path(p).name for p in pages])}
            planted = "package"
            for p, name in enumerate(pages, 1):
                blocks = T.article(rng)
                if p == 2 and i % 2 == 0:  # a Danish advertisement among the Swedish articles of a page
                    blocks = blocks[:2] + [T.decoy_paragraph(rng, "da", 3)] + blocks[2:]
                    planted = "danish_block"
                members[name] = alto_page(blocks, rng, file_name=Path(name).with_suffix(".jp2").name, page=p).encode()
            if i == 1:  # a page cut short inside its package: quarantined, its neighbours still read
                members[pages[3]] = members[pages[3]][:300]
                planted = "broken_member"
            suffix = [".tar", ".tar.gz", ".zip"][i % 3]
            self.file(f"tidningar_paket/{issue}{suffix}", planted)
            write_package(self.root / f"tidningar_paket/{issue}{suffix}", members)
        # a package cut short in transfer: quarantined whole
        cut = self.root / "tidningar_paket/bib13991099_19320206.tar"
        self.file("tidningar_paket/bib13991099_19300101.tar.gz", "broken_package").write_bytes(cut.read_bytes()[:700])

        records = [{"type": "warcinfo", "body": b"software: Heritrix/3.4 kulturarw3", "url": None}]
        for i in range(self.n(12)):
            url = f"https://www.lokaltidningen.se/nyheter/{i:04d}"
            paras = T.article(rng)[1:]
            if i % 5 == 2:
                paras = paras + [f"Frågor om ärendet besvaras av {T.obfuscated_email(rng)}."]
            head = T.headline(rng)
            body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paras)
            page = (f"<!DOCTYPE html>\n<html lang=\"sv\"><head><meta charset=\"utf-8\"><title>{html.escape(head)}"
                    f"</title></head>\n<body><main><article><h1>{html.escape(head)}</h1>\n{body}\n</article></main>"
                    "</body></html>\n").encode()
            date = f"2003-{1 + i % 12:02d}-{1 + i % 27:02d}T10:00:00Z"
            records.append({"type": "request", "url": url, "body": f"GET {url} HTTP/1.1\r\n\r\n".encode(), "date": date})
            records.append({"type": "response", "url": url, "body": page, "content_type": "text/html; charset=utf-8",
                            "date": date})
            if i % 4 == 1:
                records.append({"type": "response", "url": f"{url}/bild.jpg", "body": bytes(rng.randrange(256) for _ in range(2000)),
                                "content_type": "image/jpeg", "date": date})
        records.append({"type": "response", "url": "https://www.lokaltidningen.se/nyheter/stor", "date": "2003-06-01T10:00:00Z",
                        "body": b"<html><body><p>Sidan var f", "headers": {"WARC-Truncated": "length"}})
        records.append({"type": "revisit", "url": "https://www.lokaltidningen.se/nyheter/0000", "body": b""})
        records.append({"type": "response", "url": "https://www.lokaltidningen.se/saknas", "body": b"<html></html>",
                        "status": "404 Not Found"})
        self.file("webbarkiv/kulturarw3_2003.warc.gz", "warc")
        write_warc(self.root / "webbarkiv/kulturarw3_2003.warc.gz", records)

        lines = []
        for r in range(self.n(20)):
            bag = T.TemplateBag(rng, T.NEWS_TEMPLATES)
            paras = [T.news_paragraph(rng, rng.randint(2, 4), bag) for _ in range(rng.randint(2, 3))]
            if r % 4 == 1:
                paras.append(f"Svar kan lämnas till {T.obfuscated_email(rng)} före den 1 juni.")
            lines.append(json.dumps({"id": f"brev-arkiv-{r}", "date": f"19{rng.randint(50, 99)}-0{rng.randint(1, 9)}-15",
                                     "text": "\n\n".join(paras)}, ensure_ascii=False))
        import gzip

        self.file("brev_arkiv/brev_1950.jsonl.gz", "pii_obfuscated_email").write_bytes(
            gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0))


def plant_task_items(writer: ArchiveWriter, tasks_dir: Path) -> None:
    """Books that hold items of the bundled tasks (arkivlm.sample.tasks), for decontamination to find:
    verbatim, in other case and punctuation, and embedded in a paragraph of a long book; and a book
    that shares only short phrases with them (it must be kept). Its own random stream, so the rest
    of the archive is the same with or without them."""
    rng = random.Random(writer.seed + 41)
    cloze = [json.loads(x) for x in (tasks_dir / "sv_cloze.jsonl").read_text(encoding="utf-8").splitlines()]
    pairs = [json.loads(x) for x in (tasks_dir / "sv_word_order.jsonl").read_text(encoding="utf-8").splitlines()]

    def body(extra: list[str] | None = None, embed: str | None = None) -> str:
        bag = T.TemplateBag(rng, T.NEWS_TEMPLATES)
        paras = [T.news_paragraph(rng, rng.randint(4, 6), bag) for _ in range(6)]
        if embed:
            sentences = paras[3].split(". ")
            paras[3] = ". ".join(sentences[:2] + [embed.rstrip(".")] + sentences[2:])
        return "\n\n".join(paras[:3] + (extra or []) + paras[3:]) + "\n"

    whole = [f"{c['context']} {c['choices'][c['answer']]}" for c in cloze[:3]]
    recased = [p["good"].lower().replace(",", "").rstrip(".") + "!" for p in pairs[:3]]
    phrases = [" ".join(c["context"].split()[:4]) for c in cloze[3:9]]  # four words: common, not the item
    for name, text in (("verbatim", body([" ".join(whole)])), ("case_punctuation", body([" ".join(recased)])),
                       ("embedded", body(embed=pairs[3]["good"])),
                       ("near_miss", body([f"{p.capitalize()} och sedan inget mer om saken." for p in phrases]))):
        writer.file(f"bocker/uppgift_{name}.txt", f"task_{name}").write_text(text, encoding="utf-8")


def generate(root: str | Path, seed: int = 20261126, scale: float = 1.0, journal_digital: dict | None = None,
             generated: bool = True, plant_tasks: str | Path | None = None) -> Path:
    """The generated archive; with `journal_digital` ({years, collections}), also a slice of the real
    newsreel material under `journal_digital/` (arkivlm.sample.journal_digital); with `plant_tasks`
    (a folder of the bundled tasks), books holding task items (`plant_task_items`)."""
    root = Path(root)
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    writer = ArchiveWriter(root, seed, scale)
    if journal_digital is not None:
        from arkivlm.sample.journal_digital import copy_slice

        writer.manifest["journal_digital"] = copy_slice(root / "journal_digital", journal_digital.get("years"),
                                                        journal_digital.get("collections"))
    if plant_tasks:
        plant_task_items(writer, Path(plant_tasks))
    if generated:
        writer.write()
    else:
        writer.file("MANIFEST.json").write_text(json.dumps({"planted": writer.manifest}, indent=1, sort_keys=True) + "\n")
    return root / "MANIFEST.json"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("root")
    p.add_argument("--seed", type=int, default=20261126)
    p.add_argument("--scale", type=float, default=1.0)
    args = p.parse_args(argv)
    print(generate(args.root, args.seed, args.scale))


if __name__ == "__main__":
    main()
