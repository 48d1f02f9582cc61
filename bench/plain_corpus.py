"""The baseline: the straightforward single-process script a user would write instead of the
workflow. It reads the subtitle files directly (`srt`, `webvtt-py`), keeps Swedish by fastText's
lid.176, drops near-duplicates with datasketch (`MinHash.update_batch` over character 5-grams,
`MinHashLSH` at Jaccard 0.8) and writes the kept documents to one Parquet file.

    python -m bench.plain_corpus --root ARCHIVE --scale 1 [--archive subtitles|newsreels] --out corpus.parquet
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import time

TAGS = re.compile(r"<[^>]+>|\{\\[^}]*\}")


def read_subtitles(path: str) -> str:
    if path.endswith(".vtt"):
        import webvtt

        return "\n".join(c.text for c in webvtt.read(path))
    import srt

    with open(path, encoding="utf-8-sig") as fh:
        return "\n".join(s.content for s in srt.parse(fh.read()))


def shingles(text: str, k: int = 5) -> set[bytes]:
    t = " ".join(text.lower().split())
    return {t[i:i + k].encode("utf-8") for i in range(max(1, len(t) - k + 1))}


def main(argv: list[str] | None = None) -> dict:
    import fasttext
    import pyarrow as pa
    import pyarrow.parquet as pq
    from datasketch import MinHash, MinHashLSH

    from arkivlm.langid import default_model_path
    from bench import newsreel_corpus, subtitle_corpus

    p = argparse.ArgumentParser()
    p.add_argument("--root", required=True)
    p.add_argument("--scale", type=int, required=True)
    p.add_argument("--archive", default="subtitles", choices=["subtitles", "newsreels"])
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    sources = {"subtitles": subtitle_corpus, "newsreels": newsreel_corpus}[args.archive].sources

    t0 = time.perf_counter()
    fasttext.FastText.eprint = lambda *a, **k: None
    model = fasttext.load_model(default_model_path())
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    paths = sorted(p for src in sources(args.root, args.scale) for p in glob.glob(src["path"], recursive=True))
    counts = {"files": len(paths), "unreadable": 0, "not_swedish": 0, "duplicates": 0, "kept": 0}
    kept_paths, kept_texts = [], []
    for path in paths:
        try:
            text = TAGS.sub("", read_subtitles(path))
        except Exception:
            counts["unreadable"] += 1
            continue
        labels, _ = model.predict(" ".join(text.split()))
        if labels[0] != "__label__sv":
            counts["not_swedish"] += 1
            continue
        m = MinHash(num_perm=128)
        m.update_batch(list(shingles(text)))
        if lsh.query(m):
            counts["duplicates"] += 1
            continue
        lsh.insert(path, m)
        kept_paths.append(path)
        kept_texts.append(text)
    pq.write_table(pa.table({"path": kept_paths, "text": kept_texts}), args.out, compression="zstd")
    counts["kept"] = len(kept_paths)
    counts["seconds"] = round(time.perf_counter() - t0, 2)
    print(json.dumps(counts))
    return counts


if __name__ == "__main__":
    main()
