"""Pack: the corpus as token shards for training.

Each split is encoded with `encode_batch` (parallel, in Rust) and written as flat memmap shards
(uint16 when the vocabulary fits, else uint32) with the document separator token after each
document, plus `index.json`: dtype, separator, and per shard its file, token count and a
`docs.npy` of (start, end, modality code, decade) per document (decade: the year of its date
rounded down to ten, -1 when undated), so a shard decodes back into the corpus and evaluation can
select one modality or one decade.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

DEFAULTS = {"batch_rows": 1000, "shard_tokens": 50_000_000}
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


def split_index(tok, family: str, shards: list[dict]) -> dict:
    """`index.json` of a packed split from its shards ({file, docs, tokens, n_docs} each)."""
    return {"family": family, "dtype": np.dtype(token_dtype(tok)).name, "separator": tok.token_to_id(SEPARATOR[family]),
            "vocab_size": tok.get_vocab_size(), "modalities": MODALITIES, "shards": shards,
            "tokens": sum(x["tokens"] for x in shards), "docs": sum(x["n_docs"] for x in shards)}


def pack_split(tok, family: str, parquet_dir: str, out_dir: Path, s: dict) -> dict:
    import pyarrow.dataset as ds

    out_dir.mkdir(parents=True, exist_ok=True)
    dtype = token_dtype(tok)
    shards, buf, docs, n_tokens = [], [], [], 0

    def flush():
        nonlocal buf, docs, n_tokens
        if not buf:
            return
        name = f"shard_{len(shards):05d}"
        np.concatenate(buf).astype(dtype).tofile(out_dir / f"{name}.bin")
        np.save(out_dir / f"{name}.docs.npy", np.array(docs, dtype=np.int64).reshape(-1, 4))
        shards.append({"file": f"{name}.bin", "docs": f"{name}.docs.npy", "tokens": int(n_tokens), "n_docs": len(docs)})
        buf, docs, n_tokens = [], [], 0

    dataset = ds.dataset(parquet_dir, format="parquet")
    # Sorted by id within each file, files in name order: the same corpus packs to the same bytes.
    for fragment in sorted(dataset.get_fragments(), key=lambda f: f.path):
        columns = [c for c in ("id", "text", "modality", "date") if c in fragment.physical_schema.names]
        for batch in fragment.to_batches(columns=columns, batch_size=s["batch_rows"]):
            texts, modalities = batch.column("text").to_pylist(), batch.column("modality").to_pylist()
            dates = batch.column("date").to_pylist() if "date" in columns else [None] * len(texts)
            for ids, modality, decade in encode_documents(tok, family, texts, modalities, dates):
                docs.append((n_tokens, n_tokens + len(ids) - 1, modality, decade))
                buf.append(ids)
                n_tokens += len(ids)
                if n_tokens >= s["shard_tokens"]:
                    flush()
    flush()
    index = split_index(tok, family, shards)
    (out_dir / "index.json").write_text(json.dumps(index, indent=1))
    return index


def run(tokenizer_file: str, family: str, train_dir: str, validation_dir: str, out_dir: str, settings: dict | None = None) -> dict:
    import shutil

    from arkivlm.tokenizer import load

    s = {**DEFAULTS, **(settings or {})}
    tok = load(tokenizer_file)
    final = Path(out_dir)
    tmp = final.with_name(f".{final.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    result = {split: pack_split(tok, family, src, tmp / split, s) for split, src in (("train", train_dir), ("validation", validation_dir))}
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
        docs = np.load(self.dir / meta["docs"])
        return docs if docs.shape[1] == 4 else np.column_stack([docs, np.full(len(docs), -1)])  # packed before decades

    def documents(self):
        """(modality, token ids without separator) for every document, in order."""
        for shard, meta in zip(self.shards, self.index["shards"]):
            for start, end, modality, _ in self._docs(meta):
                yield self.index["modalities"][modality], np.asarray(shard[start:end])

    def decades(self) -> list[int]:
        return sorted({int(d) for meta in self.index["shards"] for d in self._docs(meta)[:, 3] if d >= 0})

    def token_runs(self, modality: str | None = None, decade: int | None = None):
        """The tokens of one modality's or one decade's documents (each with its separator), one
        document at a time as a view of its shard: a stream, never the whole selection in memory."""
        code = self.index["modalities"].index(modality) if modality is not None else None
        for shard, meta in zip(self.shards, self.index["shards"]):
            for start, end, m, d in self._docs(meta):
                if (code is None or m == code) and (decade is None or d == decade):
                    yield shard[start:end + 1]

    def tokens(self, modality: str | None = None, decade: int | None = None) -> np.ndarray:
        """All tokens (with separators), or only those of one modality's or one decade's documents,
        as one array (small splits and tests; evaluation streams `token_runs`)."""
        if modality is None and decade is None:
            return np.concatenate([np.asarray(s) for s in self.shards]) if self.shards else np.zeros(0, self.dtype)
        parts = [np.asarray(r) for r in self.token_runs(modality, decade)]
        return np.concatenate(parts) if parts else np.zeros(0, self.dtype)
