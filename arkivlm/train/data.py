"""Blocks of packed tokens for training, sharded across ranks and resumable mid-epoch.

A block is a window of `block_size` tokens of a packed split (causal: plus the next token as
the last label; masked: [CLS] + window, with BERT masking applied here, in the data path, from a
generator seeded by the block's index so that every run masks alike). The sampler shuffles blocks
per epoch from (seed, epoch), gives rank r every world-th block, and starts where the last
optimizer step left off, so a run resumed from a checkpoint sees exactly the batches the
uninterrupted run would have seen.
"""

from __future__ import annotations

import math

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

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
        tokens = torch.from_numpy(self.window(idx))
        if self.family == "causal":
            return {"input_ids": tokens[:-1], "labels": tokens[1:]}
        input_ids = torch.cat([torch.tensor([self.special["cls"]]), tokens])
        return mask_tokens(input_ids, self.special, self.vocab_size, self.mlm_probability, seed=self.seed * 1_000_003 + idx)

    vocab_size = 0


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
        epoch, skip = self.position()
        return (self.batches - skip) * self.batch_size

    def __iter__(self):
        epoch, skip = self.position()
        order = np.random.default_rng([self.seed, epoch]).permutation(self.n)
        mine = order[self.rank::self.world][: self.batches * self.batch_size]
        return iter(mine[skip * self.batch_size:].tolist())


class PackedDataModule(L.LightningDataModule):
    def __init__(self, packed_dir: str, family: str, special: dict, vocab_size: int, block_size: int, batch_size: int,
                 accumulate: int, seed: int, num_workers: int = 0, validation_dir: str | None = None):
        super().__init__()
        self.validation_dir = validation_dir or f"{packed_dir}/validation"
        self.packed_dir, self.family, self.special, self.vocab_size = packed_dir, family, special, vocab_size
        self.block_size, self.batch_size, self.accumulate, self.seed, self.num_workers = block_size, batch_size, accumulate, seed, num_workers

    def setup(self, stage: str | None = None) -> None:
        self.train_set = BlockDataset(PackedSplit(f"{self.packed_dir}/train"), self.block_size, self.family, self.special, self.seed)
        self.val_set = BlockDataset(PackedSplit(self.validation_dir), self.block_size, self.family, self.special, self.seed + 1)
        for ds in (self.train_set, self.val_set):
            ds.vocab_size = self.vocab_size
        world = self.trainer.world_size if self.trainer else 1
        per_rank = len(self.train_set) // world
        # whole optimizer steps per epoch, so an epoch boundary is a step boundary
        self.batches_per_rank = (per_rank // self.batch_size) // self.accumulate * self.accumulate
        if self.batches_per_rank == 0:
            raise ValueError(f"{self.packed_dir}: too few tokens for one step of {world} x {self.batch_size} x "
                             f"{self.accumulate} blocks of {self.block_size}")
        self.steps_per_epoch = self.batches_per_rank // self.accumulate

    def position(self) -> tuple[int, int]:
        step = self.trainer.global_step if self.trainer else 0
        return step // self.steps_per_epoch, (step % self.steps_per_epoch) * self.accumulate

    def train_dataloader(self):
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        sampler = ResumableSampler(len(self.train_set), self.batches_per_rank, self.batch_size, self.seed, rank, world, self.position)
        return DataLoader(self.train_set, batch_size=self.batch_size, sampler=sampler, num_workers=self.num_workers,
                          drop_last=True, persistent_workers=False)

    def val_dataloader(self):
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        idx = list(range(rank, len(self.val_set), world))
        return DataLoader(torch.utils.data.Subset(self.val_set, idx), batch_size=self.batch_size, num_workers=self.num_workers)


def epochs_for(max_steps: int, steps_per_epoch: int) -> int:
    return math.ceil(max_steps / steps_per_epoch)
