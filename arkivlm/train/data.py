"""Blocks of packed tokens for training, sharded across ranks and resumable mid-epoch.

A block is a window of `block_size` tokens of a packed split (causal: plus the next token as
the last label; masked: [CLS] + window, with BERT masking applied here, in the data path, from a
generator seeded by the block's index and the epoch: new masks every epoch, the same in every
run). The sampler shuffles blocks per epoch from (seed, epoch); optimizer step k takes blocks
k*G..(k+1)*G-1 of that order (G, the global batch: batch_size x accumulate x ranks), rank r every
world-th of them, so the blocks of a step do not depend on how many ranks share it. It starts
where the last optimizer step left off, so a run resumed from a checkpoint, on as many ranks or
on others with the same global batch, sees exactly the batches the uninterrupted run would have.

Under a data mixture (arkivlm.train.mixture) the sampler hands out positions of the mixture's
stream instead, step k positions k*G..(k+1)*G-1, rank r every world-th, and the dataset turns a
position into its group's block: the same guarantees, whatever the ranks.

Validation takes a fixed budget of blocks spread evenly over the split, the same every time and
the same number on every rank (ranks with unequal batches would deadlock FSDP's collectives).
"""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from arkivlm.pack import PackedSplit


class BlockDataset(Dataset):
    def __init__(self, split: PackedSplit | None, block_size: int, family: str, special: dict, seed: int = 0,
                 mlm_probability: float = 0.15, tokens: np.ndarray | None = None):
        self.block_size, self.family, self.special, self.seed, self.mlm_probability = block_size, family, special, seed, mlm_probability
        parts = [tokens] if tokens is not None else split.shards
        span = block_size + 1 if family == "causal" else block_size
        self.parts, self.offsets = [], [0]
        for part in parts:
            n = max(0, (len(part) - 1) // block_size) if family == "causal" else len(part) // block_size
            if n:
                self.parts.append(part)
                self.offsets.append(self.offsets[-1] + n)
        self.span = span

    def __len__(self) -> int:
        return self.offsets[-1]

    def window(self, idx: int) -> np.ndarray:
        part = int(np.searchsorted(self.offsets, idx, side="right") - 1)
        start = (idx - self.offsets[part]) * self.block_size
        return np.asarray(self.parts[part][start:start + self.span], dtype=np.int64)

    def __getitem__(self, idx: int) -> dict:
        """`idx` past the end is block `idx % len` in epoch `idx // len` (the sampler's way of
        asking for that epoch's masks)."""
        return self.item(self.window(idx % len(self)), idx)

    doc_attention = False  # causal: each token attends only to its own document's earlier tokens

    def item(self, window: np.ndarray, idx: int) -> dict:
        tokens = torch.from_numpy(window)
        if self.family == "causal":
            out = {"input_ids": tokens[:-1], "labels": tokens[1:]}
            if self.doc_attention:
                out.update(document_positions(out["input_ids"], self.special["eos"]))
            return out
        input_ids = torch.cat([torch.tensor([self.special["cls"]]), tokens])
        return mask_tokens(input_ids, self.special, self.vocab_size, self.mlm_probability, seed=self.seed * 1_000_003 + idx)

    vocab_size = 0


class MixtureDataset(BlockDataset):
    """Blocks by position of a mixture's stream (`len` stays the split's natural number of blocks,
    which sizes an epoch)."""

    def __init__(self, split: PackedSplit, block_size: int, family: str, special: dict, seed: int, mixture: dict,
                 mlm_probability: float = 0.15):
        from arkivlm.train.mixture import MixtureStream

        super().__init__(split, block_size, family, special, seed, mlm_probability)
        self.stream = MixtureStream(split, mixture, block_size, family, seed)

    def __getitem__(self, position: int) -> dict:
        return self.item(self.stream.window(position), position)


def document_positions(input_ids: torch.Tensor, separator: int) -> dict:
    """Per token of a packed block, the document it belongs to (a separator ends its document)
    and its position within that document (positions restart at each document)."""
    ends = (input_ids == separator).long()
    doc = torch.cumsum(ends, 0) - ends
    starts = torch.zeros_like(doc)
    starts[1:] = (doc[1:] != doc[:-1]).long()
    index = torch.arange(len(input_ids))
    first = torch.cummax(torch.where(starts.bool() | (index == 0), index, torch.zeros_like(index)), 0).values
    return {"doc_ids": doc, "position_ids": index - first}


def stream_blocks(runs, dataset: "BlockDataset"):
    """The items `dataset` would give for the concatenation of `runs` (arrays of tokens), in order,
    holding one block and one run at a time."""
    buffer, idx = np.zeros(0, dtype=np.int64), 0
    for run in runs:
        buffer = np.concatenate([buffer, np.asarray(run, dtype=np.int64)])
        while len(buffer) >= dataset.span:
            yield dataset.item(buffer[:dataset.span], idx)
            buffer, idx = buffer[dataset.block_size:], idx + 1


def mask_tokens(input_ids: torch.Tensor, special: dict, vocab_size: int, p: float, seed: int) -> dict:
    """BERT masking: p of the ordinary tokens are predicted; of those 80% [MASK], 10% random, 10% kept."""
    g = torch.Generator().manual_seed(seed)
    labels = input_ids.clone()
    maskable = ~torch.isin(input_ids, torch.tensor(special["no_mask"]))
    chosen = (torch.rand(input_ids.shape, generator=g) < p) & maskable
    labels[~chosen] = -100
    roll = torch.rand(input_ids.shape, generator=g)
    masked = input_ids.clone()
    masked[chosen & (roll < 0.8)] = special["mask"]
    randomised = chosen & (roll >= 0.8) & (roll < 0.9)
    masked[randomised] = torch.randint(len(special["no_mask"]), vocab_size, input_ids.shape, generator=g)[randomised]
    return {"input_ids": masked, "labels": labels}


class ResumableSampler(Sampler[int]):
    """Per-epoch shuffle from (seed, epoch); rank r takes every world-th block; the first epoch
    iterated after a restore skips the batches already trained on (`position()` says where)."""

    def __init__(self, n: int, batches_per_rank: int, batch_size: int, seed: int, rank: int, world: int, position):
        self.n, self.batches, self.batch_size, self.seed, self.rank, self.world = n, batches_per_rank, batch_size, seed, rank, world
        self.position = position

    def __len__(self) -> int:
        """The whole epoch, also when a restore starts it part-way: Lightning's count of the epoch's
        micro-batches (which decides when to step; see pretrain.align_resumed_batches) stays absolute."""
        return self.batches * self.batch_size

    def __iter__(self):
        epoch, skip = self.position()
        order = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        mine = order[self.rank::self.world][: self.batches * self.batch_size]
        return iter((mine[skip * self.batch_size:] + epoch * self.n).tolist())  # the epoch rides along for the masks


class MixtureSampler(Sampler[int]):
    """Positions of the mixture's stream: epoch e (of `batches_per_rank` micro-batches a rank) is
    positions e*E .. (e+1)*E - 1 (E = batches_per_rank x batch_size x world), rank r every
    world-th; the first epoch after a restore skips what was trained."""

    def __init__(self, batches_per_rank: int, batch_size: int, rank: int, world: int, position):
        self.batches, self.batch_size, self.rank, self.world, self.position = batches_per_rank, batch_size, rank, world, position

    def __len__(self) -> int:
        return self.batches * self.batch_size  # the whole epoch, as ResumableSampler

    def __iter__(self):
        epoch, skip = self.position()
        per_epoch = self.batches * self.batch_size * self.world
        mine = np.arange(per_epoch, dtype=np.int64)[self.rank::self.world] + epoch * per_epoch
        return iter(mine[skip * self.batch_size:].tolist())


def validation_blocks(n: int, block_size: int, budget_tokens: int | None, world: int = 1, count: int | None = None) -> np.ndarray:
    """The validation blocks: `count` of the split's `n` (default: as many as `budget_tokens` pays
    for, all without a budget, rounded down to a multiple of `world`), spread evenly over it."""
    if count is None:
        count = min(n, budget_tokens // block_size) if budget_tokens else n
        count -= count % world
    if count <= 0:
        raise ValueError(f"validation: {n} blocks of {block_size} tokens and a budget of {budget_tokens} tokens give no "
                         f"block for each of {world} ranks (train.val_tokens, or a larger validation split)")
    return np.arange(count, dtype=np.int64) * n // count


def __getattr__(name: str):
    """`PackedDataModule` lives in arkivlm.train.datamodule: importing this module (evaluation does)
    does not import Lightning."""
    if name == "PackedDataModule":
        from arkivlm.train.datamodule import PackedDataModule

        return PackedDataModule
    raise AttributeError(name)
