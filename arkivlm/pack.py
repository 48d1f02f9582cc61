"""Pack: the corpus as token shards for training.

Each split is encoded with `encode_batch` (parallel, in Rust) and written as flat memmap shards
(uint16 when the vocabulary fits, else uint32) with the document separator token after each
document, plus `index.json`: dtype, separator, and per shard its file, token count and a
`docs.npy` of (start, end, modality code, decade, source code, copies) per document (decade: the
year of its date rounded down to ten, -1 when undated; copies: the size of its duplicate cluster,
1 + the `dropped/dedup` rows whose `duplicate_of` it is), so a shard decodes back into the corpus
and evaluation can select one modality or one decade.

Within a shard the documents are grouped by stratum (source, modality, decade, copies), in corpus
order within each, and `index.json` sums the tokens of every stratum: a data mixture
(arkivlm.train.mixture) selects whole strata, so what a rank holds is a few runs per shard, never
a list of documents, and its plan needs nothing but the index.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DEFAULTS = {"batch_rows": 1000, "shard_tokens": 50_000_000}
DOC_COLUMNS = ("start", "end", "modality", "decade", "source", "copies")
MAX_COPIES = 65535
MODALITIES = ["text", "transcript", "subtitle"]
SEPARATOR = {"causal": "<|endoftext|>", "masked": "[SEP]"}


def token_dtype(tok):
    return np.uint16 if tok.get_vocab_size() <= 65535 else np.uint32


def encode_documents(tok, family: str, texts: list[str], modalities, dates):
    """(token ids with the separator after them, modality code, decade or -1) per document, one
    `encode_batch` call for all of them."""
    from arkivlm.dates import decade_of

    sep = tok.token_to_id(SEPARATOR[family])
    for enc, modality, date in zip(tok.encode_batch(texts, add_special_tokens=False), modalities, dates):
        decade = decade_of(date)
        yield np.asarray(enc.ids + [sep], dtype=np.int64), MODALITIES.index(modality), -1 if decade is None else decade


def split_index(tok, family: str, shards: list[dict], sources: list[str] | None = None, strata: list | None = None) -> dict:
    """`index.json` of a packed split from its shards ({file, docs, tokens, n_docs} each); `strata`:
    [source, modality, decade, copies, tokens, docs] rows (codes as in `sources` and `modalities`)."""
    index = {"family": family, "dtype": np.dtype(token_dtype(tok)).name, "separator": tok.token_to_id(SEPARATOR[family]),
             "vocab_size": tok.get_vocab_size(), "modalities": MODALITIES, "shards": shards,
             "tokens": sum(x["tokens"] for x in shards), "docs": sum(x["n_docs"] for x in shards)}
    if sources is not None:
        index.update(sources=sources, strata=strata)
    return index


def id_key(ids) -> np.ndarray:
    """A 64-bit hash of each document id, the keys of `ClusterSizes`."""
    import hashlib

    return np.array([int.from_bytes(hashlib.blake2b(i.encode(), digest_size=8).digest(), "little") for i in ids], dtype=np.uint64)


class ClusterSizes:
    """Duplicate-cluster size per kept document, from `dropped/dedup`: a sorted array of id keys of
    the documents that have copies and one of their counts (16 bytes per cluster, not per document)."""

    def __init__(self, dropped_dir: str | None):
        self.keys, self.counts = np.zeros(0, np.uint64), np.zeros(0, np.int64)
        if dropped_dir and Path(dropped_dir).exists() and any(Path(dropped_dir).rglob("*.parquet")):
            import pyarrow.compute as pc
            import pyarrow.dataset as ds

            kept = ds.dataset(dropped_dir, format="parquet").to_table(columns=["duplicate_of"]).column("duplicate_of")
            kept = pc.drop_null(kept).to_pylist()
            if kept:
                self.keys, self.counts = np.unique(id_key(kept), return_counts=True)

    def copies(self, ids: list[str] | None, n: int) -> np.ndarray:
        """1 + the number of dropped copies of each of `n` ids (None: no ids, no copies)."""
        if not len(self.keys) or ids is None:
            return np.ones(n, dtype=np.int64)
        keys = id_key(ids)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return 1 + np.where(self.keys[at] == keys, self.counts[at], 0)


def grouped_by_stratum(buf: list[np.ndarray], docs: list[tuple]) -> tuple[list[np.ndarray], np.ndarray]:
    """A shard's documents ordered by (source, modality, decade, copies), corpus order within each,
    with their start and end recomputed."""
    table = np.array(docs, dtype=np.int64).reshape(-1, len(DOC_COLUMNS))
    order = np.lexsort((np.arange(len(table)), table[:, 5], table[:, 3], table[:, 2], table[:, 4]))
    table, buf = table[order], [buf[i] for i in order]
    lengths = np.array([len(b) for b in buf], dtype=np.int64)
    table[:, 0] = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    table[:, 1] = table[:, 0] + lengths - 1
    return buf, table


def stratum_totals(tables: list[np.ndarray]) -> list[list[int]]:
    """[source, modality, decade, copies, tokens, docs] for every stratum of the shards' doc tables."""
    totals: dict[tuple, list[int]] = {}
    for table in tables:
        for row in table:
            t = totals.setdefault((int(row[4]), int(row[2]), int(row[3]), int(row[5])), [0, 0])
            t[0] += int(row[1] - row[0] + 1)
            t[1] += 1
    return [[*k, *v] for k, v in sorted(totals.items())]


def pack_split(tok, family: str, parquet_dir: str, out_dir: Path, s: dict, clusters: ClusterSizes | None = None) -> dict:
    import pyarrow.dataset as ds

    out_dir.mkdir(parents=True, exist_ok=True)
    dtype = token_dtype(tok)
    clusters = clusters or ClusterSizes(None)
    shards, tables, buf, docs, n_tokens, sources = [], [], [], [], 0, {}

    def flush():
        nonlocal buf, docs, n_tokens
        if not buf:
            return
        name = f"shard_{len(shards):05d}"
        buf, table = grouped_by_stratum(buf, docs)
        np.concatenate(buf).astype(dtype).tofile(out_dir / f"{name}.bin")
        np.save(out_dir / f"{name}.docs.npy", table)
        tables.append(table)
        shards.append({"file": f"{name}.bin", "docs": f"{name}.docs.npy", "tokens": int(n_tokens), "n_docs": len(docs)})
        buf, docs, n_tokens = [], [], 0

    dataset = ds.dataset(parquet_dir, format="parquet")
    # Sorted by id within each file, files in name order: the same corpus packs to the same bytes.
    for fragment in sorted(dataset.get_fragments(), key=lambda f: f.path):
        columns = [c for c in ("id", "text", "modality", "date", "source") if c in fragment.physical_schema.names]
        for batch in fragment.to_batches(columns=columns, batch_size=s["batch_rows"]):
            texts, modalities = batch.column("text").to_pylist(), batch.column("modality").to_pylist()
            dates = batch.column("date").to_pylist() if "date" in columns else [None] * len(texts)
            names = batch.column("source").to_pylist() if "source" in columns else [""] * len(texts)
            copies = clusters.copies(batch.column("id").to_pylist() if "id" in columns else None, len(texts))
            encoded = encode_documents(tok, family, texts, modalities, dates)
            for (ids, modality, decade), name, n_copies in zip(encoded, names, copies):
                code = sources.setdefault(name or "", len(sources))
                docs.append((n_tokens, n_tokens + len(ids) - 1, modality, decade, code, min(int(n_copies), MAX_COPIES)))
                buf.append(ids)
                n_tokens += len(ids)
                if n_tokens >= s["shard_tokens"]:
                    flush()
    flush()
    index = split_index(tok, family, shards, list(sources), stratum_totals(tables))
    (out_dir / "index.json").write_text(json.dumps(index, indent=1))
    return index


def run(tokenizer_file: str, family: str, train_dir: str, validation_dir: str, out_dir: str, settings: dict | None = None,
        dropped_dedup: str | None = None) -> dict:
    """`dropped_dedup`: the dedup stage's dropped table, for each document's cluster size."""
    import shutil

    from arkivlm.tokenizer import load

    s = {**DEFAULTS, **(settings or {})}
    tok = load(tokenizer_file)
    final = Path(out_dir)
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    clusters = ClusterSizes(dropped_dedup)
    result = {split: pack_split(tok, family, src, tmp / split, s, clusters)
              for split, src in (("train", train_dir), ("validation", validation_dir))}
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    return {k: {"tokens": v["tokens"], "docs": v["docs"]} for k, v in result.items()}


class PackedSplit:
    """Read side: the tokens of a packed split as one memmap per shard."""

    def __init__(self, split_dir: str | Path):
        self.dir = Path(split_dir)
        self.index = json.loads((self.dir / "index.json").read_text())
        self.dtype = np.dtype(self.index["dtype"])
        self.shards = [np.memmap(self.dir / s["file"], dtype=self.dtype, mode="r") for s in self.index["shards"]]

    def _docs(self, meta) -> np.ndarray:
        """The shard's document table with every column of DOC_COLUMNS (older packs: no decade,
        source or copies; -1, -1 and 1 then)."""
        docs = np.load(self.dir / meta["docs"])
        missing = {3: -1, 4: -1, 5: 1}
        extra = [np.full(len(docs), missing[c], dtype=np.int64) for c in range(docs.shape[1], len(DOC_COLUMNS))]
        return np.column_stack([docs, *extra]) if extra else docs

    def stratum_runs(self) -> np.ndarray:
        """(shard, source, modality, decade, copies, start, end) per run of consecutive documents of
        one stratum, `end` exclusive (separators included): a few rows per shard of a packed split,
        one per document only where a shard was not grouped by stratum."""
        rows = []
        for i, meta in enumerate(self.index["shards"]):
            docs = self._docs(meta)
            if not len(docs):
                continue
            key = docs[:, [4, 2, 3, 5]]
            starts = np.flatnonzero(np.r_[True, (key[1:] != key[:-1]).any(axis=1)])
            ends = np.r_[starts[1:], len(docs)] - 1
            rows.append(np.column_stack([np.full(len(starts), i), key[starts], docs[starts, 0], docs[ends, 1] + 1]))
        return np.concatenate(rows).astype(np.int64) if rows else np.zeros((0, 7), np.int64)

    def strata(self) -> list[list[int]]:
        """The index's stratum totals (computed from the shards for packs written before them)."""
        if "strata" in self.index:
            return self.index["strata"]
        return stratum_totals([self._docs(meta) for meta in self.index["shards"]])

    def documents(self):
        """(modality, token ids without separator) for every document, in order."""
        for shard, meta in zip(self.shards, self.index["shards"]):
            for start, end, modality, *_ in self._docs(meta):
                yield self.index["modalities"][modality], np.asarray(shard[start:end])

    def decades(self) -> list[int]:
        return sorted({int(d) for meta in self.index["shards"] for d in self._docs(meta)[:, 3] if d >= 0})

    def token_runs(self, modality: str | None = None, decade: int | None = None):
        """The tokens of one modality's or one decade's documents (each with its separator), one
        document at a time as a view of its shard: a stream, never the whole selection in memory."""
        code = self.index["modalities"].index(modality) if modality is not None else None
        for shard, meta in zip(self.shards, self.index["shards"]):
            for start, end, m, d, *_ in self._docs(meta):
                if (code is None or m == code) and (decade is None or d == decade):
                    yield shard[start:end + 1]

    def tokens(self, modality: str | None = None, decade: int | None = None) -> np.ndarray:
        """All tokens (with separators), or only those of one modality's or one decade's documents,
        as one array (small splits and tests; evaluation streams `token_runs`)."""
        if modality is None and decade is None:
            return np.concatenate([np.asarray(s) for s in self.shards]) if self.shards else np.zeros(0, self.dtype)
        parts = [np.asarray(r) for r in self.token_runs(modality, decade)]
        return np.concatenate(parts) if parts else np.zeros(0, self.dtype)
