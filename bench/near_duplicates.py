"""A labelled near-duplicate benchmark built from our own Swedish text.

Each group is one original and its copies: exact copies, OCR-noised reprints (rn/m, å/a, ä/a,
ö/o, l/1 ... at 1-3% of characters, words broken by hyphenated line ends), and copies cropped at
both ends (some also noised). Hard negatives: distinct documents on the same topic, written from
the same sentence templates in the same order with different names, places and numbers.
Pairs inside a group are duplicates; every other pair is not.
"""

from __future__ import annotations

import itertools
import random

from arkivlm.sample import text as T
from arkivlm.sample.archive import ocr_noise


def hyphen_breaks(text: str, rng: random.Random, every: int = 9) -> str:
    """Break some long words with a hyphenated line end, as a reprint set in other columns would."""
    out = []
    for i, w in enumerate(text.split(" ")):
        if i % every == rng.randrange(every) and len(w) >= 7 and w.isalpha():
            cut = rng.randint(3, len(w) - 3)
            w = f"{w[:cut]}-\n{w[cut:]}"
        out.append(w)
    return " ".join(out)


def crop(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    head, tail = int(len(words) * rng.uniform(0.03, 0.12)), int(len(words) * rng.uniform(0.03, 0.12))
    return " ".join(words[head:len(words) - tail])


def written(templates: list[str], rng: random.Random) -> str:
    """Templates filled in with `rng`'s names, places and numbers, four sentences a paragraph."""
    sentences = [T.fill(t, rng) for t in templates]
    return "\n\n".join(" ".join(sentences[i:i + 4]) for i in range(0, len(sentences), 4))


def build(n_groups: int = 150, seed: int = 3) -> list[dict]:
    rng = random.Random(seed)
    docs = []
    for g in range(n_groups):
        templates = rng.sample(T.NEWS_TEMPLATES, rng.randint(12, 24))
        original = written(templates, random.Random(rng.randrange(1 << 30)))
        variants = [("original", original)]
        kinds = rng.sample(["exact", "ocr", "ocr", "crop", "crop_ocr"], rng.randint(1, 4))
        for kind in kinds:
            if kind == "exact":
                v = original
            elif kind == "ocr":
                v = hyphen_breaks(ocr_noise(original, rng, rng.uniform(0.01, 0.03)), rng)
            elif kind == "crop":
                v = crop(original, rng)
            else:
                v = hyphen_breaks(ocr_noise(crop(original, rng), rng, rng.uniform(0.01, 0.03)), rng)
            variants.append((kind, v))
        for j, (kind, text) in enumerate(variants):
            docs.append({"id": f"g{g:04d}_{j}", "group": f"g{g:04d}", "kind": kind, "text": text})
        if g % 3 == 0:  # a same-topic sibling: a distinct document, not a duplicate
            sibling = written(templates, random.Random(rng.randrange(1 << 30)))  # same sentences, other fillers
            docs.append({"id": f"s{g:04d}", "group": f"s{g:04d}", "kind": "sibling", "text": sibling})
    return docs


def true_pairs(docs: list[dict]) -> set[tuple[str, str]]:
    by_group: dict[str, list[str]] = {}
    for d in docs:
        by_group.setdefault(d["group"], []).append(d["id"])
    return {tuple(sorted(p)) for ids in by_group.values() for p in itertools.combinations(ids, 2)}


def predicted_pairs(kept_ids: set[str], dropped: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Pairs implied by the dedup output: each dropped doc with its keeper and the keeper's other dups."""
    clusters: dict[str, list[str]] = {}
    for doc_id, dup_of in dropped:
        clusters.setdefault(dup_of, [dup_of]).append(doc_id)
    return {tuple(sorted(p)) for ids in clusters.values() for p in itertools.combinations(ids, 2)}


def score(truth: set, predicted: set) -> dict:
    tp = len(truth & predicted)
    precision = tp / len(predicted) if predicted else 1.0
    recall = tp / len(truth) if truth else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4),
            "true_pairs": len(truth), "predicted_pairs": len(predicted), "true_positives": tp}


def run_dedup(spark, docs: list[dict], workdir, settings: dict | None = None) -> tuple[dict, dict]:
    """The real dedup stage on the benchmark documents -> (scores, stage stats)."""
    import pandas as pd

    from arkivlm import dedup

    table = pd.DataFrame([{"id": d["id"], "source": "bench", "modality": "text", "rights": "public", "format": "txt",
                           "path": d["id"], "text": d["text"], "quality_score": 1.0} for d in docs])
    src = f"{workdir}/bench_docs"
    spark.createDataFrame(table).write.mode("overwrite").parquet(src)
    stats = dedup.run(spark, settings or {}, src, f"{workdir}/kept", f"{workdir}/dropped", f"{workdir}/stats.json")
    dropped = pd.read_parquet(f"{workdir}/dropped")
    kept = set(pd.read_parquet(f"{workdir}/kept").id)
    return score(true_pairs(docs), predicted_pairs(kept, list(zip(dropped.id, dropped.duplicate_of)))), stats


def word_ngram_baseline(docs: list[dict], n: int = 5, threshold: float = 0.8) -> dict:
    """The usual recipe for comparison: exact Jaccard of word 5-gram sets >= 0.8 (an upper bound on
    what MinHash LSH at that threshold finds), on lower-cased whitespace tokens."""
    sets = {}
    for d in docs:
        w = d["text"].lower().split()
        sets[d["id"]] = {tuple(w[i:i + n]) for i in range(max(1, len(w) - n + 1))}
    truth = true_pairs(docs)
    by_group: dict[str, list[str]] = {}
    for d in docs:
        by_group.setdefault(d["group"].lstrip("s").lstrip("g"), []).append(d["id"])
    predicted = set()
    for ids in by_group.values():  # only pairs sharing a topic can pass; others are far below 0.8
        for a, b in itertools.combinations(sorted(ids), 2):
            inter = len(sets[a] & sets[b])
            if inter / (len(sets[a] | sets[b]) or 1) >= threshold:
                predicted.add((a, b))
    return score(truth, predicted)
