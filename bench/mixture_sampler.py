"""Blocks per second the training data path hands out, with and without a data mixture.

    python -m bench.mixture_sampler [--packed results_journal_digital/packed/causal] [--blocks 20000]

Both arms are what `pretrain` runs: PackedDataModule's dataset and sampler (BlockDataset with the
uniform ResumableSampler; MixtureDataset with MixtureSampler), items fetched as the DataLoader
fetches them (one `__getitem__` per block, batches collated), the best of 3 runs each. The mixture is
configs/journal_digital.yaml's (intertitles and speech at 0.5 each).
"""

from __future__ import annotations

import argparse
import time

MIXTURE = {"groups": [{"name": "intertitles", "where": {"source": ["journal_digital_intertitles"]}, "weight": 0.5},
                      {"name": "speech", "where": {"source": ["journal_digital_speech"]}, "weight": 0.5}], "max_epochs": 4}
SPECIAL = {"eos": 0, "pad": 1}


def blocks_per_s(packed: str, blocks: int, mixture: dict | None, block_size: int = 128, batch: int = 16) -> float:
    from torch.utils.data import DataLoader

    from arkivlm.pack import PackedSplit
    from arkivlm.train.data import BlockDataset, MixtureDataset, MixtureSampler, ResumableSampler

    split = PackedSplit(f"{packed}/train")
    if mixture:
        ds = MixtureDataset(split, block_size, "causal", SPECIAL, 1234, mixture)
        sampler = MixtureSampler(blocks // batch, batch, 0, 1, lambda: (0, 0))
    else:
        ds = BlockDataset(split, block_size, "causal", SPECIAL, 1234)
        sampler = ResumableSampler(len(ds), min(blocks, len(ds)) // batch, batch, 1234, 0, 1, lambda: (0, 0))
    best = 0.0
    for _ in range(3):
        t0, n = time.perf_counter(), 0
        for b in DataLoader(ds, batch_size=batch, sampler=sampler, drop_last=True):
            n += b["input_ids"].shape[0]
        best = max(best, n / (time.perf_counter() - t0))
    return best


def measured_shares(packed: str, mixture: dict, positions: int, block_size: int = 128) -> dict:
    """Tokens per source among the first `positions` blocks of the mixture's stream, each token
    attributed to the document it sits in (read from the shard index, not from the schedule)."""
    import numpy as np

    from arkivlm.pack import PackedSplit
    from arkivlm.train.mixture import MixtureStream

    split = PackedSplit(f"{packed}/train")
    owner = []
    for meta in split.index["shards"]:
        docs = split._docs(meta)
        codes = np.empty(meta["tokens"], dtype=np.int16)
        for start, end, _m, _d, source, _c in docs:
            codes[start:end + 1] = source
        owner.append(codes)
    stream = MixtureStream(split, mixture, block_size, "causal", 1234)
    counts = np.zeros(len(split.index["sources"]), dtype=np.int64)
    groups, ks = stream.locate(np.arange(positions))
    for g, k in zip(groups.tolist(), ks.tolist()):
        cls, b = stream.block(g, k)
        start, need = b * block_size, block_size  # the block's inputs: block_size tokens
        run = int(np.searchsorted(cls.ends, start, side="right"))
        while need:
            shard, s, e = cls.runs[run]
            offset = start - (cls.ends[run] - (e - s))
            take = min(need, int(e - s - offset))
            counts += np.bincount(owner[shard][s + offset:s + offset + take], minlength=len(counts))
            need, start, run = need - take, start + take, run + 1
    return {name: round(int(n) / int(counts.sum()), 4) for name, n in zip(split.index["sources"], counts)}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--packed", default="results_journal_digital/packed/causal")
    p.add_argument("--blocks", type=int, default=20000)
    a = p.parse_args(argv)
    return {"packed": a.packed, "blocks": a.blocks, "uniform": round(blocks_per_s(a.packed, a.blocks, None)),
            "mixture": round(blocks_per_s(a.packed, a.blocks, MIXTURE)), "shares": measured_shares(a.packed, MIXTURE, 4800)}


def markdown(r: dict) -> str:
    return ("## Training data path with and without a mixture (bench/mixture_sampler.py)\n\n"
            f"Blocks of 128 tokens per second through the DataLoader, one process, best of 3 runs of {r['blocks']:,} "
            f"blocks, on `{r['packed']}` (configs/journal_digital.yaml, real newsreel text).\n\n"
            "| sampler | blocks/s |\n|---|---|\n"
            f"| uniform (no mixture) | {r['uniform']:,} |\n| mixture (intertitles 0.5, speech 0.5) | {r['mixture']:,} |\n\n"
            "Shares of the tokens of the first 4,800 blocks (the sample run's 300 steps x 16), each token counted for the "
            "source of the document it sits in: " + ", ".join(f"{k} {v:.2%}" for k, v in r["shares"].items()) + ".\n")


if __name__ == "__main__":
    print(markdown(main()))
