"""MinHash signatures: docs/s on one core, from the dedup key (a string) to a 128-value signature.

The project's `Signer` against datasketch's per-shingle `update` loop and `update_batch`, and
against rensa (a Rust MinHash), per document from the shingle strings and in its batch call over
the project's shingle hashes. Same shingles (character 5-grams of the dedup key), same num_perm;
rensa has its own hash family, so its signatures differ in value but not in size or kind."""

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


def update_batch(keys: list[str], s: dict) -> None:
    from datasketch import MinHash

    k = s["shingle_size"]
    for key in keys:
        m = MinHash(num_perm=s["num_perm"], seed=s["seed"])
        m.update_batch([sh.encode("utf-8") for sh in {key[i:i + k] for i in range(max(1, len(key) - k + 1))}])


def rensa_per_doc(keys: list[str], s: dict) -> None:
    from rensa import RMinHash

    k = s["shingle_size"]
    for key in keys:
        m = RMinHash(s["num_perm"], s["seed"])
        m.update(list({key[i:i + k] for i in range(max(1, len(key) - k + 1))}))
        m.digest()


def rensa_batch(keys: list[str], s: dict) -> None:
    import numpy as np
    from rensa import RMinHash

    hashes = [dedup.shingle_hashes(key, s["shingle_size"]).astype(np.uint64) for key in keys]
    offsets = np.concatenate([[0], np.cumsum([h.size for h in hashes])]).astype(np.uint64)
    RMinHash.digest_matrix_from_flat_token_hashes(np.concatenate(hashes), offsets, s["num_perm"], s["seed"]).to_rows()


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
    batch = docs_per_second(update_batch, keys, s)
    rensa_doc = docs_per_second(rensa_per_doc, keys, s)
    rensa_all = docs_per_second(rensa_batch, keys, s)
    return {"docs": n_docs, "mean_key_chars": round(mean_chars), "project_docs_per_s": round(ours, 1),
            "update_loop_docs_per_s": round(loop, 1), "update_batch_docs_per_s": round(batch, 1),
            "rensa_per_doc_docs_per_s": round(rensa_doc, 1), "rensa_batch_docs_per_s": round(rensa_all, 1),
            "speedup": round(ours / loop, 1), "speedup_vs_update_batch": round(ours / batch, 1),
            "rensa_per_doc_over_project": round(rensa_doc / ours, 2), "rensa_batch_over_project": round(rensa_all / ours, 2)}


if __name__ == "__main__":
    print(run())
