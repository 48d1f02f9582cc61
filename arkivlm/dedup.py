"""Dedup: exact and near-duplicate removal across all sources, in Spark with datasketch MinHash.

1. Exact: a hash of the case-folded, whitespace-collapsed text; the best copy of each group stays.
2. Near: MinHash over character shingles of an OCR-tolerant key (case-folded, hyphenated line
   ends rejoined, diacritics folded, common OCR confusions canonicalised, non-letters dropped;
   the text itself keeps å, ä and ö). Signatures use datasketch's permutations, computed for a
   whole document at once with numpy; LSH bands come from datasketch's parameter optimiser.
3. Band buckets give candidate pairs, each verified on the real shingle sets (Jaccard, or
   containment for a copy cropped at the ends) before it becomes an edge: on the driver when the
   candidates and their text are few (`driver_verify_max_chars`), else in Spark, by buckets.
4. Connected components: union-find on the driver for up to `driver_components_max_edges` edges;
   beyond, min-label propagation with pointer jumping in DataFrames, run to convergence, each
   round checkpointed in the results directory.
5. The best copy of each component (quality score, then length, then id) is kept; every other
   member is checked against it once more and dropped with `duplicate_of` = the kept id.

A table of at most `driver_max_docs` documents whose candidates fit the driver's bounds takes steps
2-5 on the driver (`near_duplicates_on_driver`) from one collect of its narrow table: the same
decisions as the Spark steps, without their three dozen small jobs.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import unicodedata
from pathlib import Path

import numpy as np

DEFAULTS = {
    "shingle_size": 5,
    "num_perm": 128,
    "seed": 1,
    "lsh_threshold": 0.6,        # LSH S-curve midpoint (bands x rows from datasketch: 18 x 7). Unrelated
                                 # documents of one genre share ~10% of shingles; at 0.4 (32 x 4) 0.3% of
                                 # all such pairs become candidates, a cost that grows with the square of N.
    "min_jaccard": 0.8,          # a candidate pair is a near-duplicate when Jaccard >= this ...
    "min_containment": 0.9,      # ... or the smaller copy lies this much inside the larger (crops)
    "containment_min_jaccard": 0.5,  # ... and is not just a short text quoted in a long one
    "max_bucket": 64,            # larger buckets link their members to the first only
    "max_iterations": 100,       # connected components: rounds of label propagation with pointer jumping
                                 # (about log2 of the longest chain of copies); more fails the stage
    "chunk_shingles": 16384,     # shingles hashed at once: a book's signature takes bounded memory
    "driver_components_max_edges": 2_000_000,  # up to this many verified pairs, components are found on the
                                 # driver (union-find, ~100 bytes an edge); more run as rounds in Spark
    "driver_verify_max_chars": 50_000_000,  # up to this many characters of text in the documents of at most
                                 # driver_components_max_edges candidate pairs, the pairs are verified on the
                                 # driver (one collect of that text); more are verified in Spark, by buckets
    "driver_max_docs": 500_000,  # up to this many documents, LSH buckets, components and keepers are found on
                                 # the driver from one collect of (id, score, length, exact rank, bands), about
                                 # 300 bytes a document, when the candidates also fit the two bounds above;
                                 # more (or a table past those bounds) run in Spark
}

_HYPHEN_BREAK = re.compile(r"[-\u00ad¬]\s*\n\s*")
_OCR_CANON = [("rn", "m"), ("1", "l"), ("|", "l"), ("!", "l"), ("0", "o"), ("5", "s")]
_KEPT_ASCII = b"abcdefghijklmnopqrstuvwxyz0123456789|!"  # what a key keeps: every other character goes
_DROPPED_ASCII = bytes(b for b in range(128) if b not in _KEPT_ASCII)
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def dedup_key(text: str) -> str:
    """The text as dedup sees it: robust to case, hyphenation, diacritics and OCR confusions."""
    t = _HYPHEN_BREAK.sub("", text.casefold())
    t = unicodedata.normalize("NFKD", t)  # diacritics become combining marks, which go below
    t = t.replace("æ", "ae").replace("ø", "o").replace("ß", "ss")
    # every character but a-z, 0-9, | and !: non-ASCII by the encoding, the rest by the byte table
    # (a regex substitution did the same, a match and a copy per space)
    t = t.encode("ascii", "ignore").translate(None, _DROPPED_ASCII).decode("ascii")
    for src, dst in _OCR_CANON:
        t = t.replace(src, dst)
    return t


def shingle_hashes(key: str, k: int, distinct: bool = True) -> np.ndarray:
    """32-bit hashes of the character k-grams of `key` (vectorised, no Python loop); each once
    when `distinct` (a MinHash signature does not need that: a repeat cannot change a minimum)."""
    codes = np.frombuffer(key.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < k:
        codes = np.pad(codes, (0, k - len(codes)), constant_values=0)
    m = len(codes) - k + 1
    with np.errstate(over="ignore"):
        h = codes[:m].copy()
        for j in range(1, k):  # polynomial hash, base 1_000_003, as k shifted multiply-adds
            h *= np.uint64(1_000_003)
            h += codes[j:j + m]
        h ^= h >> np.uint64(33)
        h *= np.uint64(0xFF51AFD7ED558CCD)
        h ^= h >> np.uint64(33)
    h &= np.uint64(0xFFFFFFFF)
    return np.unique(h) if distinct else h


class Signer:
    """MinHash signatures with datasketch (its default affine32 scheme, its permutations and its
    MurmurHash finaliser), applied to a whole document's shingle hashes in one numpy expression:
    the same values as `MinHash.update_batch` over those hashes, without its per-item Python loop."""

    def __init__(self, num_perm: int, seed: int, threshold: float):
        from datasketch import MinHash
        from datasketch.lsh import _optimal_param

        self.template = MinHash(num_perm=num_perm, seed=seed, hashfunc=int)
        self.a, self.b = self.template.permutations
        # as columns: a (permutations x shingles) product, whose minima run along contiguous rows
        # (2.6x faster than shingles x permutations on real newsreel text)
        self.a_col, self.b_col = self.a.reshape(-1, 1).copy(), self.b.reshape(-1, 1).copy()
        self.bands, self.rows = _optimal_param(threshold, num_perm, 0.5, 0.5)

    def signature(self, hashes: np.ndarray) -> np.ndarray:
        from datasketch.minhash import _fmix

        if hashes.size == 0:
            return self.template.hashvalues.copy()
        hv = _fmix(hashes.astype(self.a.dtype), 32)
        with np.errstate(over="ignore"):
            permuted = np.multiply(self.a_col, hv)
            permuted += self.b_col
            return np.minimum(self.template.hashvalues, permuted.min(axis=1))

    def key_signature(self, key: str, k: int, chunk: int = DEFAULTS["chunk_shingles"]) -> np.ndarray:
        """The signature of all k-grams of `key`, a chunk at a time (minima of minima: the same values
        as one pass over the whole key), in memory bounded by `chunk` x num_perm."""
        sig = None
        for piece in key_chunks(key, k, chunk):
            part = self.signature(shingle_hashes(piece, k, distinct=False))
            sig = part if sig is None else np.minimum(sig, part)
        return sig

    def band_hashes(self, sig: np.ndarray) -> list[int]:
        r = self.rows
        return [int.from_bytes(hashlib.blake2b(sig[i * r:(i + 1) * r].tobytes(), digest_size=8).digest(), "big", signed=True)
                for i in range(self.bands)]


def key_chunks(key: str, k: int, chunk: int):
    """`key` as overlapping pieces holding `chunk` k-grams each (together: every k-gram once), so
    that hashing a book-length key takes memory bounded by `chunk`, not by the book."""
    n = max(1, len(key) - k + 1)
    for start in range(0, n, chunk):
        yield key[start:start + chunk + k - 1]


def shingle_set(key: str, k: int, chunk: int = DEFAULTS["chunk_shingles"]) -> np.ndarray:
    """The distinct 32-bit shingle hashes of `key`, sorted (4 bytes per distinct shingle)."""
    return union_of([shingle_hashes(piece, k).astype(np.uint32) for piece in key_chunks(key, k, chunk)])


def union_of(sets: list[np.ndarray]) -> np.ndarray:
    """The union of sorted distinct shingle sets, sorted."""
    return sets[0] if len(sets) == 1 else np.unique(np.concatenate(sets))


def set_similarity(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """(Jaccard, containment of the smaller in the larger) of two sorted distinct shingle sets."""
    inter = np.intersect1d(a, b, assume_unique=True).size
    union = a.size + b.size - inter
    return (inter / union if union else 1.0), (inter / min(a.size, b.size) if min(a.size, b.size) else 1.0)


def similarity(key_a: str, key_b: str, k: int) -> tuple[float, float]:
    """(Jaccard, containment of the smaller in the larger) of two keys' shingle sets."""
    return set_similarity(shingle_set(key_a, k), shingle_set(key_b, k))


def is_near_duplicate(key_a: str, key_b: str, s: dict) -> bool:
    return passes_rule(*similarity(key_a, key_b, s["shingle_size"]), s)


def passes_rule(jac: float, cont: float, s: dict) -> bool:
    """Near-duplicates: Jaccard at least min_jaccard, or a crop (containment) that is not just a quote."""
    return jac >= s["min_jaccard"] or (cont >= s["min_containment"] and jac >= s["containment_min_jaccard"])


# --- Spark ----------------------------------------------------------------------------------------

# Java's spaces (space, tab, newline, vertical tab, form feed, carriage return) as spaces, in UTF-8
_JAVA_SPACES_AS_SPACE = bytes.maketrans(b"\t\n\x0b\f\r", b"     ")


def fold_java_spaces(data: bytes) -> bytes:
    """UTF-8 `data` with each run of Java's spaces as one space: what `[ \t\n\x0b\f\r]+` -> " " does
    to the text (no byte of a multi-byte character is below 0x80), with byte operations instead of
    a substitution per space."""
    data = data.translate(_JAVA_SPACES_AS_SPACE)
    while b"  " in data:
        data = data.replace(b"  ", b" ")
    return data


KEYED_DDL = "id string, key string, bands array<bigint>, exact string, chars int"


def exact_hash(text: str) -> str:
    """SHA-256 of the text trimmed of spaces, lower-cased, whitespace runs as one space. Computed in
    Python beside the signature: Spark's regexp_replace over a book holds several copies of it on
    an executor's heap."""
    return hashlib.sha256(fold_java_spaces(text.strip(" ").lower().encode("utf-8", "surrogatepass"))).hexdigest()


SIGNED_DDL = "id string, bands array<bigint>, exact string, chars int"


def signature_partition(batches, s: dict, with_keys: bool = True):
    """(id, [key,] bands, exact, chars) per document; without `with_keys` the output stays narrow (the
    key is about as long as the text: dedup computes it again for the few documents it verifies).
    `chars`: the text's length in characters (null for no text), as Spark's `length` would count
    it, which walks every byte of the text in the JVM."""
    import pandas as pd

    from arkivlm.python_workers import set_aside_survivors

    set_aside_survivors()
    signer = Signer(s["num_perm"], s["seed"], s["lsh_threshold"])
    for pdf in batches:
        texts = [t or "" for t in pdf["text"]]
        keys = [dedup_key(t) for t in texts]
        bands = [signer.band_hashes(signer.key_signature(k, s["shingle_size"], s["chunk_shingles"])) for k in keys]
        out = {"id": pdf["id"], "key": keys, "bands": bands, "exact": [exact_hash(t) for t in texts],
               "chars": pd.array([None if t is None else len(t) for t in pdf["text"]], dtype="Int32")}
        if not with_keys:
            del out["key"]
        yield pd.DataFrame(out)


KEY_PIECE_SHINGLES = 1 << 20  # a key travels between JVM and Python in pieces of at most ~1 MB
KEY_PIECES_DDL = "id string, part int, key string"


def key_partition(batches, piece: int = KEY_PIECE_SHINGLES, k: int = DEFAULTS["shingle_size"]):
    """(id, part, key) rows: each document's key in overlapping pieces (`key_chunks`: together they
    hold every k-gram once), so that no JVM row holds a book's whole key."""
    import pandas as pd

    for pdf in batches:
        ids, parts, pieces = [], [], []
        for doc_id, text in zip(pdf["id"], pdf["text"]):
            for i, p in enumerate(key_chunks(dedup_key(text or ""), k, piece)):
                ids.append(doc_id); parts.append(i); pieces.append(p)
        yield pd.DataFrame({"id": ids, "part": pd.Series(parts, dtype="int32"), "key": pieces})


def pairs_partition(batches, max_bucket: int):
    import pandas as pd

    for pdf in batches:
        a, b = [], []
        for ids in pdf["ids"]:
            ids = list(ids)
            if len(ids) <= max_bucket:
                for i in range(len(ids)):
                    for j in range(i + 1, len(ids)):
                        a.append(ids[i]); b.append(ids[j])
            else:
                a.extend([ids[0]] * (len(ids) - 1)); b.extend(ids[1:])
        yield pd.DataFrame({"a": a, "b": b})


def pieces_shingle_set(pieces, k: int) -> np.ndarray:
    """The distinct shingle hashes of a key given as `key_chunks` pieces (the union of theirs)."""
    return union_of([shingle_set(p, k) for p in pieces])


def verify_bucket(left, right, s: dict):
    """The pairs of one bucket that are near-duplicates: `left` holds (a, b, part, key_a), `right`
    (a, b, part, key_b), a row per piece of a key. Each document's shingle set is built once."""
    import pandas as pd

    k = s["shingle_size"]

    def pieces_by_id(frame, id_col, key_col):
        rows = frame.drop_duplicates([id_col, "part"]).sort_values([id_col, "part"])
        return {i: list(g[key_col]) for i, g in rows.groupby(id_col, sort=False)}

    pieces_a, pieces_b = pieces_by_id(left, "a", "key_a"), pieces_by_id(right, "b", "key_b")
    pairs = left[["a", "b"]].drop_duplicates().merge(right[["a", "b"]].drop_duplicates(), on=["a", "b"])
    sets: dict = {}

    def set_of(doc_id, pieces):
        if doc_id not in sets:
            sets[doc_id] = pieces_shingle_set(pieces[doc_id], k)
        return sets[doc_id]

    ok = [passes_rule(*set_similarity(set_of(a, pieces_a), set_of(b, pieces_b)), s) for a, b in zip(pairs["a"], pairs["b"])]
    return pd.DataFrame({"a": pairs.loc[ok, "a"], "b": pairs.loc[ok, "b"]})


def verified_pairs(pairs, keys_a, keys_b, s: dict, buckets: int):
    """The candidate `pairs` (a, b) that are near-duplicates, with keys from `keys_a` (for a) and
    `keys_b` (for b), both (id, part, key) as `key_partition` writes them, or (id, key). Each side's
    key travels in rows of its own, in pieces of about a megabyte, and the two meet in Python, a
    bucket of pairs at a time: a row holding a book's key, or both keys of two books, would be
    several copies of a book on an executor's heap."""
    from pyspark.sql import functions as F

    def pieces(keys, name, key_name):
        part = F.col("part") if "part" in keys.columns else F.lit(0)
        return keys.select(F.col("id").alias(name), part.cast("int").alias("part"), F.col("key").alias(key_name))

    bucket = (F.abs(F.xxhash64("a", "b")) % buckets).alias("_bucket")
    # aliases give each side columns of its own: both come from `pairs`, which a cogroup would find ambiguous
    left = pairs.join(pieces(keys_a, "a", "key_a"), "a") \
        .select(bucket, F.col("a").alias("a"), F.col("b").alias("b"), "part", "key_a")
    right = pairs.join(pieces(keys_b, "b", "key_b"), "b") \
        .select(bucket, F.col("a").alias("a"), F.col("b").alias("b"), "part", "key_b")
    return left.groupBy("_bucket").cogroup(right.groupBy("_bucket")).applyInPandas(
        lambda l, r: verify_bucket(l[["a", "b", "part", "key_a"]], r[["a", "b", "part", "key_b"]], s), "a string, b string")


def reread(spark, df, path: str):
    """`df` written as Parquet to `path` and read back: later plans start from a file scan, not
    from its whole lineage, and a lost executor recomputes from the file."""
    df.write.mode("overwrite").parquet(path)
    return spark.read.parquet(path)


def verify_on_driver(pairs: list[tuple[str, str]], texts: dict[str, str], s: dict) -> list[tuple[str, str]]:
    """The `pairs` (a, b) that are near-duplicates, from their documents' `texts` (id -> text), each
    document's shingle set built once: `verified_pairs` without Spark, for a few candidates."""
    k, sets = s["shingle_size"], {}

    def set_of(doc_id):
        if doc_id not in sets:
            sets[doc_id] = shingle_set(dedup_key(texts[doc_id] or ""), k, s["chunk_shingles"])
        return sets[doc_id]

    return [(a, b) for a, b in pairs if passes_rule(*set_similarity(set_of(a), set_of(b)), s)]


def components_on_driver(spark, edges):
    """(id, component) for every node of `edges` (a, b), as `connected_components` gives them,
    by union-find on the driver: for an edge list that fits there, one collect instead of a dozen
    rounds of joins (each a few Spark jobs, ~7 s on a small archive)."""
    return spark.createDataFrame(union_find(edges.select("a", "b").toLocalIterator()), "id string, component string")


def union_find(edges):
    """(id, component) as a pandas frame for every node of the pairs `edges` (a, b): the component
    is named by its smallest member."""
    import pandas as pd

    parent: dict[str, str] = {}

    def root(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        parent.setdefault(a, a)
        parent.setdefault(b, b)
        ra, rb = root(a), root(b)
        if ra != rb:  # the smaller id becomes the root: a component is named by its smallest member
            parent[max(ra, rb)] = min(ra, rb)
    ids = sorted(parent)
    return pd.DataFrame({"id": pd.Series(ids, dtype=object), "component": pd.Series([root(x) for x in ids], dtype=object)})


def lsh_candidates(ids: list[str], bands: np.ndarray, max_bucket: int) -> list[tuple[str, str]]:
    """The candidate pairs (a, b), a < b, of the documents `ids` whose rows of `bands` (documents x
    bands) share a hash in some band, sorted: what the Spark steps find (`pairs_partition` over each
    bucket's sorted ids: every pair of a bucket of at most `max_bucket` ids, else its first id with
    each other one)."""
    if not ids:
        return []
    order = sorted(range(len(ids)), key=ids.__getitem__)
    ids, bands = [ids[i] for i in order], bands[order]
    pairs: set[tuple[str, str]] = set()
    for column in bands.T:
        pos = np.argsort(column, kind="stable")  # within a hash, positions (so ids) stay ascending
        h = column[pos]
        starts = np.flatnonzero(np.r_[True, h[1:] != h[:-1]])
        ends = np.r_[starts[1:], len(h)]
        for start, end in zip(starts[ends - starts > 1], ends[ends - starts > 1]):
            members = [ids[i] for i in pos[start:end]]
            if len(members) <= max_bucket:
                pairs.update((members[i], b) for i in range(len(members)) for b in members[i + 1:])
            else:
                pairs.update((members[0], b) for b in members[1:])
    return sorted(pairs)


def best_first_order():
    """The best copy first, in Spark: quality score, then length, then id (`best_first_key` on the driver)."""
    from pyspark.sql import functions as F

    return [F.desc("quality_score"), F.desc("_len"), F.asc("id")]


def best_first_key(q_class: int, q: float, length: int, doc_id: str) -> tuple:
    """`best_first_order` as a Python sort key: DESC puts NaN first (Spark ranks it above every
    number, `q_class` 0) and null last (`q_class` 2)."""
    return q_class, -q, -length, doc_id


def near_duplicates_on_driver(meta, texts_of, s: dict):
    """Steps 2-5 on the driver, from `meta` (pandas: id, _q_class, _q, _len, _rank, _exact_of, bands
    of every document): candidates from the survivors' bands, verified from `texts_of(ids)` (id ->
    text), union-find, the best copy of each component kept and every other member checked against
    it. -> (fate frame: id, drop_reason, duplicate_of of the dropped, sorted by id; candidate pairs;
    verified pairs), or None when the candidates or their text pass the driver's bounds
    (`driver_components_max_edges`, `driver_verify_max_chars`)."""
    import pandas as pd

    survivors = meta[meta["_rank"] == 1]
    bands = np.stack(survivors["bands"].to_numpy()) if len(survivors) else np.zeros((0, 0), dtype=np.int64)
    candidates = lsh_candidates(list(survivors["id"]), bands, s["max_bucket"])
    if len(candidates) > s["driver_components_max_edges"]:
        return None
    ids = sorted({x for pair in candidates for x in pair})
    length = dict(zip(meta["id"], meta["_len"]))
    if sum(max(0, int(length[i])) for i in ids) > s["driver_verify_max_chars"]:
        return None
    texts = texts_of(ids) if ids else {}
    edges = verify_on_driver(candidates, texts, s)

    linked_ids = set(ids)
    order = {i: best_first_key(int(c), float(q), int(n), i)
             for i, c, q, n in zip(meta["id"], meta["_q_class"], meta["_q"], meta["_len"]) if i in linked_ids}
    keeper: dict[str, str] = {}
    components = union_find(edges)
    for doc_id, component in zip(components["id"], components["component"]):
        if component not in keeper or order[doc_id] < order[keeper[component]]:
            keeper[component] = doc_id
    members = [(keeper[c], i) for i, c in zip(components["id"], components["component"]) if i != keeper[c]]
    linked = set(edges) | {(b, a) for a, b in edges}
    # as in Spark: a member verified with its keeper is confirmed; one linked through others is checked
    direct = [(a, b) for a, b in members if (a, b) in linked]
    confirmed = direct + verify_on_driver([(a, b) for a, b in members if (a, b) not in linked], texts, s)
    near_of = {b: a for a, b in confirmed}
    rows = []
    for doc_id, rank, exact_of in zip(meta["id"], meta["_rank"], meta["_exact_of"]):
        if rank > 1:  # an exact copy points at the document finally kept: its keeper's near keeper, or its keeper
            rows.append((doc_id, "exact_duplicate", near_of.get(exact_of, exact_of)))
        elif doc_id in near_of:
            rows.append((doc_id, "near_duplicate", near_of[doc_id]))
    rows.sort()
    fate = pd.DataFrame({"id": [r[0] for r in rows], "drop_reason": [r[1] for r in rows],
                         "duplicate_of": [r[2] for r in rows]}, dtype=object)
    return fate, len(candidates), len(edges)


class ComponentsDidNotConverge(RuntimeError):
    pass


def connected_components(spark, edges, max_iterations: int, checkpoint_dir: str | None = None):
    """(id, component) for every node of `edges` (a, b); component = the smallest id reachable.

    Each round takes every node's smallest label among its neighbours, hands it to the node's
    parent (its label) as well, then jumps: a node adopts its label's label. Rounds run until no
    label changes (a few more than log2 of the longest path, measured: 300- and 3000-node chains of
    shuffled ids); reaching
    `max_iterations` first fails the stage rather than leave duplicates in the corpus. Each round's
    labels are checkpointed reliably (in `checkpoint_dir`, the results directory on a cluster): a
    lost executor recomputes from there, not from the start."""
    from pyspark.sql import functions as F

    rounds = iter(range(max_iterations + 1))

    def keep(df):
        """Each round's labels as Parquet in `checkpoint_dir` (read back: the plan stays one round
        deep), or as a local checkpoint without one."""
        if not checkpoint_dir:
            return df.localCheckpoint()
        return reread(spark, df, f"{checkpoint_dir}/round_{next(rounds):04d}")

    both = edges.select("a", "b").union(edges.select(F.col("b").alias("a"), F.col("a").alias("b"))).persist()
    labels = keep(both.groupBy("a").agg(F.least(F.min("b"), F.first("a")).alias("label")).withColumnRenamed("a", "id"))
    for iteration in range(1, max_iterations + 1):
        # spread: the smallest label among a node's neighbours and its own
        incoming = both.join(labels.withColumnRenamed("id", "a"), "a").groupBy(F.col("b").alias("id")).agg(F.min("label").alias("new"))
        spread = labels.join(incoming, "id", "left").select("id", "label", F.least("label", F.coalesce("new", "label")).alias("m"))
        # hook: a node's parent (its old label) learns what the node learned, so whole trees move at once
        hooked = spread.groupBy(F.col("label").alias("id")).agg(F.min("m").alias("h"))
        merged = spread.join(hooked, "id", "left").select("id", F.least("m", F.coalesce("h", "m")).alias("label"))
        # jump: a node takes its label's label
        hop = merged.select(F.col("id").alias("label"), F.col("label").alias("hop"))
        updated = keep(merged.join(hop, "label", "left").select("id", F.least("label", F.coalesce("hop", "label")).alias("label")))
        changed = updated.join(labels.withColumnRenamed("label", "old"), "id").where(F.col("label") != F.col("old")).count()
        labels = updated
        if changed == 0:
            both.unpersist()
            return labels.withColumnRenamed("label", "component"), iteration
    both.unpersist()
    raise ComponentsDidNotConverge(
        f"dedup: connected components still changing after {max_iterations} rounds (config key dedup.max_iterations); "
        "the duplicate clusters are incomplete. Raise dedup.max_iterations.")


def run(spark, settings: dict, in_docs: str, out_docs: str, out_dropped: str, out_stats: str) -> dict:
    """Decisions are made on narrow tables (ids, scores, hashes); the documents' text is read from
    Parquet for the signatures, for the keys of the few documents verified, and for the output, and
    is never cached (a book in a cached column batch would fill an executor's heap)."""
    import pandas as pd
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    from arkivlm.tables import finish_stage

    s = {**DEFAULTS, **(settings or {})}
    base = spark.read.parquet(in_docs)
    if "quality_score" not in base.columns:
        base = base.withColumn("quality_score", F.lit(1.0))
    # keys, signatures and exact hashes in one Python pass over the text
    keyed = base.select("id", "text").mapInPandas(lambda it: signature_partition(it, s, with_keys=False), SIGNED_DDL)

    # 1. exact duplicates: a hash of the normalised text, ranked within its group (the bands ride
    # along, so that the signatures are computed once, for this one persisted table)
    w = Window.partitionBy("_exact").orderBy(*best_first_order())
    meta = base.select("id", "quality_score") \
        .join(keyed.select("id", F.col("exact").alias("_exact"), "bands", F.col("chars").alias("_len")), "id") \
        .withColumn("_rank", F.row_number().over(w)).withColumn("_exact_of", F.first("id").over(w)) \
        .persist(StorageLevel.MEMORY_AND_DISK_DESER)
    docs_in = meta.count()

    def texts_of(ids: list[str]) -> dict[str, str]:
        frame = spark.createDataFrame(pd.DataFrame({"id": ids}, dtype=object), "id string")
        texts = base.select("id", "text").join(F.broadcast(frame), "id", "left_semi").toPandas()  # through Arrow
        return dict(zip(texts["id"], texts["text"]))

    checkpoints = Path(out_docs).parent / f".{Path(out_docs).name}.checkpoints"
    found = None
    if docs_in <= s["driver_max_docs"]:
        q = F.col("quality_score")
        local = meta.select(
            "id", F.when(q.isNull(), 2).when(F.isnan(q), 0).otherwise(1).alias("_q_class"),
            F.coalesce(F.when(~F.isnan(q), q), F.lit(0.0)).cast("double").alias("_q"),
            F.coalesce("_len", F.lit(-1)).alias("_len"), "_rank", "_exact_of", "bands").toPandas()
        found = near_duplicates_on_driver(local, texts_of, s)
        del local
    if found is not None:
        fate_frame, n_candidates, n_edges = found
        fate = spark.createDataFrame(fate_frame, "id string, drop_reason string, duplicate_of string")
        removed = fate_frame["duplicate_of"].value_counts().value_counts()
        sizes = {int(n): int(c) for n, c in removed.items()}
        iterations, near_on, verified_where = 0, "driver", ["driver"]
    else:
        fate, n_candidates, n_edges, iterations, verified_where = near_duplicates_in_spark(
            spark, base, meta, s, str(checkpoints), texts_of)
        sizes = {int(r["removed"]): int(r["count"]) for r in
                 fate.groupBy("duplicate_of").count().groupBy(F.col("count").alias("removed")).count().collect()}
        near_on = "spark"
    result = base.join(fate, "id", "left").withColumn("drop_detail", F.lit(None).cast("string"))
    extra = {
        "candidate_pairs": int(n_candidates), "verified_pairs": int(n_edges), "component_iterations": iterations,
        "clusters_by_size": {str(n + 1): sizes[n] for n in sorted(sizes)},
        "near_duplicates_on": near_on,
        "verified_on": verified_where,
        "lsh": {"bands": Signer(s["num_perm"], s["seed"], s["lsh_threshold"]).bands, "num_perm": s["num_perm"]},
        "settings": s,
    }
    stats = finish_stage(result, stage="dedup", docs_in=docs_in, out_docs=out_docs, out_dropped=out_dropped,
                         out_stats=out_stats, extra_stats=extra, persist=False)
    for df in (fate, meta):
        df.unpersist()
    shutil.rmtree(checkpoints, ignore_errors=True)
    return stats


def near_duplicates_in_spark(spark, base, meta, s: dict, checkpoints: str, texts_of):
    """Steps 2-5 in Spark: -> (fate: id, drop_reason, duplicate_of of the dropped, persisted;
    candidate pairs; verified pairs; rounds of components; where pairs were verified)."""
    import pandas as pd
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    def keys_of(pairs):
        """(id, key) of the documents in `pairs` (a, b), computed from the text, never cached."""
        ids = pairs.select(F.col("a").alias("id")).union(pairs.select(F.col("b").alias("id"))).distinct()
        return base.select("id", "text").join(ids, "id", "left_semi") \
            .mapInPandas(lambda it: key_partition(it, KEY_PIECE_SHINGLES, s["shingle_size"]), KEY_PIECES_DDL)

    # 2-3. near-duplicate candidates from LSH bands (exact copies left out), verified on the keys
    buckets = meta.where(F.col("_rank") == 1) \
        .select("id", F.posexplode("bands").alias("band", "h")).groupBy("band", "h") \
        .agg(F.sort_array(F.collect_list("id")).alias("ids")).where(F.size("ids") > 1)
    candidates = buckets.select("ids").mapInPandas(lambda it: pairs_partition(it, s["max_bucket"]), "a string, b string").distinct()
    candidates = candidates.persist(StorageLevel.MEMORY_AND_DISK_DESER)
    n_buckets = int(spark.conf.get("spark.sql.shuffle.partitions"))
    verified_where = []

    def verified(pairs, n_pairs: int, name: str):
        """(the near-duplicate pairs among `pairs` as a DataFrame, as a list when verified on the
        driver or else None). A few candidates are verified on the driver: their documents' text in
        one collect, not a dozen small Spark jobs. Pairs verified in Spark are reread from Parquet:
        the plans of the steps below, and their strings, which Spark builds for every adaptive
        re-plan, grow with every use of a persisted table (a test session's driver ran out of heap
        printing one)."""
        if n_pairs <= s["driver_components_max_edges"]:
            local = pairs.select("a", "b").toPandas()  # through Arrow: no Row object per pair
            local = sorted(zip(local["a"], local["b"]))
            if not local:
                verified_where.append("driver")
                return spark.createDataFrame([], "a string, b string"), []
            id_list = sorted({x for pair in local for x in pair})
            ids = spark.createDataFrame(pd.DataFrame({"id": id_list}, dtype=object), "id string")
            chars = meta.join(F.broadcast(ids), "id", "left_semi").agg(F.sum("_len")).first()[0] or 0
            if chars <= s["driver_verify_max_chars"]:
                found = verify_on_driver(local, texts_of(id_list), s)
                verified_where.append("driver")
                frame = pd.DataFrame({"a": [a for a, _ in found], "b": [b for _, b in found]}, dtype=object)
                return spark.createDataFrame(frame, "a string, b string"), found
        keys = keys_of(pairs)
        verified_where.append("spark")
        return reread(spark, verified_pairs(pairs, keys, keys, s, n_buckets), f"{checkpoints}/{name}"), None

    n_candidates = candidates.count()
    edges, edge_list = verified(candidates, n_candidates, "edges")
    n_edges = len(edge_list) if edge_list is not None else edges.count()

    # 4. components; 5. keep the best copy, check the others against it
    if edge_list is not None:
        components, iterations = spark.createDataFrame(union_find(edge_list), "id string, component string"), 0
    elif n_edges <= s["driver_components_max_edges"]:
        components, iterations = components_on_driver(spark, edges), 0
    else:
        components, iterations = connected_components(spark, edges, s["max_iterations"], checkpoints)
    ranked = components.join(meta.select("id", "quality_score", "_len"), "id") \
        .withColumn("_keep", F.first("id").over(Window.partitionBy("component").orderBy(*best_first_order())))
    members = ranked.where(F.col("id") != F.col("_keep")).select(F.col("_keep").alias("a"), F.col("id").alias("b"))
    # a member that is itself a verified pair with its keeper needs no second look (the similarity is
    # symmetric); only members linked to the keeper through others are verified against it
    both_ways = edges.select("a", "b").union(edges.select(F.col("b").alias("a"), F.col("a").alias("b")))
    direct = members.join(both_ways, ["a", "b"], "left_semi")
    indirect = members.join(both_ways, ["a", "b"], "left_anti").persist(StorageLevel.MEMORY_AND_DISK_DESER)
    if n_indirect := indirect.count():
        direct = direct.union(verified(indirect, n_indirect, "indirect")[0])
    confirmed = reread(spark, direct.select(F.col("b").alias("id"), F.col("a").alias("_near_of")), f"{checkpoints}/confirmed")

    # An exact copy points at the document finally kept: its exact keeper, or that keeper's near keeper.
    exact_keeper_fate = confirmed.select(F.col("id").alias("_exact_of"), F.col("_near_of").alias("_exact_near_of"))
    fate = meta.join(confirmed, "id", "left").join(exact_keeper_fate, "_exact_of", "left").select(
        "id",
        F.when(F.col("_rank") > 1, "exact_duplicate").when(F.col("_near_of").isNotNull(), "near_duplicate").alias("drop_reason"),
        F.when(F.col("_rank") > 1, F.coalesce("_exact_near_of", "_exact_of")).otherwise(F.col("_near_of")).alias("duplicate_of"),
    ).where(F.col("drop_reason").isNotNull()).persist(StorageLevel.MEMORY_AND_DISK_DESER)
    for df in (candidates, indirect):  # `fate` reads the verified pairs back from the checkpoints
        df.unpersist()
    return fate, n_candidates, n_edges, iterations, verified_where
