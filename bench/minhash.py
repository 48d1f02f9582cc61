"""MinHash signatures: docs/s on one core, the project's batch code against datasketch's
per-shingle `update` loop (same shingles: character 5-grams of the dedup key; same num_perm and
seed)."""

from __future__ import annotations

import random
import time

from arkivlm import dedup
from arkivlm.sample import text as T


def corpus(n_docs: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return ["\n\n".join(T.article(rng)[1:]) for _ in range(n_docs)]


def project(keys: list[str], s: dict) -> None:
    signer = dedup.Signer(s["num_perm"], s["seed"], s["lsh_threshold"])
    for key in keys:
        signer.band_hashes(signer.signature(dedup.shingle_hashes(key, s["shingle_size"])))


def update_loop(keys: list[str], s: dict) -> None:
    from datasketch import MinHash

    k = s["shingle_size"]
    for key in keys:
        m = MinHash(num_perm=s["num_perm"], seed=s["seed"])
        for shingle in {key[i:i + k] for i in range(max(1, len(key) - k + 1))}:
            m.update(shingle.encode("utf-8"))


def docs_per_second(fn, keys, s, repeats=3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(keys, s)
        times.append(time.perf_counter() - t0)
    times.sort()
    return len(keys) / times[len(times) // 2]


def run(n_docs: int = 300) -> dict:
    s = dedup.DEFAULTS
    keys = [dedup.dedup_key(t) for t in corpus(n_docs)]
    mean_chars = sum(map(len, keys)) / len(keys)
    ours = docs_per_second(project, keys, s)
    loop = docs_per_second(update_loop, keys[: max(20, n_docs // 5)], s)
    return {"docs": n_docs, "mean_key_chars": round(mean_chars), "project_docs_per_s": round(ours, 1),
            "update_loop_docs_per_s": round(loop, 1), "speedup": round(ours / loop, 1)}


if __name__ == "__main__":
    print(run())
