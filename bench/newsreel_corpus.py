"""Real archive text for the corpus benchmarks: the SRT files of the `journal-digital` package
(6,871 speech transcripts and OCR'd intertitles of Swedish newsreels, 1907-1966) at several scales.

Shard `n00` is the package's files as they are; shard `nK` (K > 0) is a replica in which the words
of every cue are put in a new order (seeded by K and the file), so that each replica file is a new
document to dedup (its character 5-grams are not the original's) while its words, lengths, cue
timings and language stay those of the real newsreel. The archive at scale k is shards n00..n(k-1);
`sources` gives the config sources (speech as transcripts, intertitles as OCR'd text), as
configs/journal_digital.yaml does. Deterministic: the same shard is the same bytes.
"""

from __future__ import annotations

import random
import shutil
import zlib
from pathlib import Path

KINDS = {"speech": {"modality": "transcript", "ocr": False}, "intertitle": {"modality": "text", "ocr": True}}
SHARD_GLOBS = {1: "n00", 4: "n0[0-3]", 16: "n0[0-9]", 64: "n[0-5][0-9]"}
EXTRA_GLOBS = {16: "n1[0-5]", 64: "n6[0-3]"}


def replica(text: str, rng: random.Random) -> str:
    """The SRT `text` with the words of each cue's text lines shuffled (numbers and timings kept)."""
    out = []
    for line in text.split("\n"):
        words = line.split(" ")
        if len(words) > 1 and "-->" not in line:
            rng.shuffle(words)
            line = " ".join(words)
        out.append(line)
    return "\n".join(out)


def write_shard(root: Path, shard: int) -> int:
    from arkivlm.sample.journal_digital import package_corpus

    src = package_corpus()
    n = 0
    for kind in KINDS:
        for path in sorted((src / kind).glob("*/*/*.srt")):
            target = root / f"n{shard:02d}" / kind / path.relative_to(src / kind)
            target.parent.mkdir(parents=True, exist_ok=True)
            if shard == 0:
                shutil.copyfile(path, target)
            else:
                rng = random.Random(zlib.crc32(f"{shard}/{kind}/{path.relative_to(src / kind)}".encode()))
                text = path.read_text(encoding="utf-8-sig")
                target.write_text(replica(text, rng), encoding="utf-8")
            n += 1
    return n


def ensure(root: str | Path, shards: int) -> dict:
    """Write shards n00..n(shards-1) under `root` unless already there; -> {shard: files}."""
    root = Path(root)
    files = {}
    for shard in range(shards):
        done = root / f"n{shard:02d}.done"
        if not done.exists():
            done.write_text(str(write_shard(root, shard)))
        files[shard] = int(done.read_text())
    return files


def sources(root: str | Path, scale: int) -> list[dict]:
    if scale not in SHARD_GLOBS:
        raise ValueError(f"scale must be one of {sorted(SHARD_GLOBS)}")
    globs = [SHARD_GLOBS[scale]] + ([EXTRA_GLOBS[scale]] if scale in EXTRA_GLOBS else [])
    return [{"name": f"newsreel_{kind}" + (f"_{i}" if i else ""), "modality": k["modality"], "format": "srt",
             "ocr": k["ocr"], "path": f"{root}/{g}/{kind}/**/*.srt", "rights": "public"}
            for kind, k in KINDS.items() for i, g in enumerate(globs)]
