"""MinHash signatures: docs/s on one core, from the dedup key (a string) to the LSH band hashes.

The project arm is what the dedup stage runs per document (`Signer.key_signature` over every
character 5-gram in chunks, then `band_hashes`). datasketch gets its best: permutations built once
and shared by every MinHash (`permutations=`), `MinHash.bulk` (its `update_batch` per document),
fed distinct shingles: once as UTF-8 shingles with its default SHA-1 hash, once as the project's
32-bit shingle hashes with an identity hash (the same signatures as the stage, checked). rensa (a
Rust MinHash) per document from the shingle strings and in its batch call over the project's
shingle hashes; it has its own hash family, so its signatures differ in value but not in size.
Every arm ends in the same band hashes."""

from __future__ import annotations

import random
import time

import numpy as np

from arkivlm import dedup
from arkivlm.sample import text as T


def corpus(n_docs: int, seed: int = 1) -> list[str]:
    rng = random.Random(seed)
    return ["\n\n".join(T.article(rng)[1:]) for _ in range(n_docs)]


def shingles(key: str, k: int) -> set[str]:
    return {key[i:i + k] for i in range(max(1, len(key) - k + 1))}


def project(keys: list[str], s: dict, signer) -> list:
    return [signer.band_hashes(signer.key_signature(key, s["shingle_size"], s["chunk_shingles"])) for key in keys]


def datasketch_bulk_sha1(keys: list[str], s: dict, signer) -> list:
    from datasketch import MinHash

    k = s["shingle_size"]
    docs = ([sh.encode("utf-8") for sh in shingles(key, k)] for key in keys)
    return [signer.band_hashes(m.hashvalues) for m in
            MinHash.bulk(docs, num_perm=s["num_perm"], seed=s["seed"], permutations=signer.template.permutations,
                         scheme=signer.template.scheme)]


def datasketch_bulk_hashes(keys: list[str], s: dict, signer) -> list:
    from datasketch import MinHash

    docs = (dedup.shingle_hashes(key, s["shingle_size"]).tolist() for key in keys)
    return [signer.band_hashes(m.hashvalues) for m in
            MinHash.bulk(docs, num_perm=s["num_perm"], seed=s["seed"], hashfunc=int, permutations=signer.template.permutations,
                         scheme=signer.template.scheme)]


def rensa_per_doc(keys: list[str], s: dict, signer) -> list:
    from rensa import RMinHash

    out = []
    for key in keys:
        m = RMinHash(s["num_perm"], s["seed"])
        m.update(list(shingles(key, s["shingle_size"])))
        out.append(signer.band_hashes(np.asarray(m.digest(), dtype=np.uint64)))
    return out


def rensa_batch(keys: list[str], s: dict, signer) -> list:
    from rensa import RMinHash

    hashes = [dedup.shingle_hashes(key, s["shingle_size"]).astype(np.uint64) for key in keys]
    offsets = np.concatenate([[0], np.cumsum([h.size for h in hashes])]).astype(np.uint64)
    rows = RMinHash.digest_matrix_from_flat_token_hashes(np.concatenate(hashes), offsets, s["num_perm"], s["seed"]).to_rows()
    return [signer.band_hashes(np.asarray(r, dtype=np.uint64)) for r in rows]


ARMS = {
    "project": "arkivlm `Signer`, as the dedup stage calls it (all 5-grams in chunks, numpy, one expression per chunk)",
    "datasketch_bulk_sha1": "datasketch `MinHash.bulk`, shared permutations, distinct UTF-8 shingles, SHA-1",
    "datasketch_bulk_hashes": "datasketch `MinHash.bulk`, shared permutations, the project's distinct shingle hashes (identity hash)",
    "rensa_per_doc": "rensa `RMinHash.update` per document (distinct shingle strings)",
    "rensa_batch": "rensa `digest_matrix_from_flat_token_hashes` (the project's shingle hashes, all documents in one call)",
}


def docs_per_second(fn, keys, s, signer, repeats=3) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn(keys, s, signer)
        times.append(time.perf_counter() - t0)
    times.sort()
    return len(keys) / times[len(times) // 2]


def run(n_docs: int = 300) -> dict:
    s = dedup.DEFAULTS
    signer = dedup.Signer(s["num_perm"], s["seed"], s["lsh_threshold"])
    keys = [dedup.dedup_key(t) for t in corpus(n_docs)]
    # the identity-hash datasketch arm signs what the stage signs: the same bands
    assert project(keys[:20], s, signer) == datasketch_bulk_hashes(keys[:20], s, signer)
    rates = {arm: round(docs_per_second(globals()[arm], keys, s, signer), 1) for arm in ARMS}
    best_datasketch = max(rates["datasketch_bulk_sha1"], rates["datasketch_bulk_hashes"])
    return {"docs": n_docs, "mean_key_chars": round(sum(map(len, keys)) / len(keys)), "docs_per_s": rates,
            "project_over_best_datasketch": round(rates["project"] / best_datasketch, 2),
            "rensa_batch_over_project": round(rates["rensa_batch"] / rates["project"], 2)}


if __name__ == "__main__":
    print(run())
