"""Thousands of SRT files shaped like those found in the wild: CRLF, BOMs, cp1252, missing
indices and final newlines, font tags, ASS position codes, coordinates, HTML entities,
hearing-impaired descriptions, music notes, and a few that are broken."""

from __future__ import annotations

import random
from pathlib import Path

from arkivlm.sample import text as T


def _ts(ms: int) -> str:
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def write_folder(root: Path, n_files: int = 2000, seed: int = 11) -> dict:
    rng = random.Random(seed)
    broken = []
    for i in range(n_files):
        t, blocks, bag = rng.randint(0, 5000), [], T.TemplateBag(rng, T.DIALOGUE, T.NEWS_TEMPLATES)
        for k in range(rng.randint(30, 70)):
            line = bag.next()
            style = rng.random()
            if style < 0.1:
                line = f'<font color="#ffff00">{line}</font>'
            elif style < 0.2:
                line = "{\\an8}" + line
            elif style < 0.3:
                line = f"- {line}\n- {bag.next()}"
            elif style < 0.35:
                line = "[SKRATT] " + line.replace("och", "&amp;")
            elif style < 0.4:
                line = f"♪ {line} ♪"
            dur = rng.randint(800, 4000)
            timing = f"{_ts(t)} --> {_ts(t + dur)}" + (" X1:120 X2:560 Y1:400 Y2:450" if rng.random() < 0.05 else "")
            index = "" if rng.random() < 0.03 else f"{k + 1}\n"
            blocks.append(f"{index}{timing}\n{line}")
            t += dur + rng.randint(100, 2000)
        sep = "\n\n\n" if rng.random() < 0.1 else "\n\n"
        body = sep.join(blocks) + ("" if rng.random() < 0.2 else "\n")
        if rng.random() < 0.3:
            body = body.replace("\n", "\r\n")
        enc = rng.choice(["utf-8", "utf-8", "utf-8-sig", "cp1252"])
        data = body.encode(enc, errors="replace")
        if i % 400 == 7:  # broken: timing line mangled, or binary junk
            data = data.replace(b" --> ", b" -> ", 1) if i % 800 == 7 else bytes(rng.randrange(256) for _ in range(500))
            broken.append(i)
        path = root / f"kanal{i % 7}" / f"program_{i:05d}.srt"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return {"files": n_files, "broken": len(broken)}
