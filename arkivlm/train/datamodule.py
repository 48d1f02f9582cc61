"""The LightningDataModule over a packed split: the datasets and samplers of arkivlm.train.data."""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader

from arkivlm.pack import PackedSplit
from arkivlm.train.data import BlockDataset, MixtureDataset, MixtureSampler, ResumableSampler, validation_blocks


class PackedDataModule(L.LightningDataModule):
    def __init__(self, packed_dir: str, family: str, special: dict, vocab_size: int, block_size: int, batch_size: int,
                 accumulate: int, seed: int, num_workers: int = 0, validation_dir: str | None = None,
                 val_tokens: int | None = None, doc_attention: bool = False, mixture: dict | None = None):
        super().__init__()
        self.val_tokens, self.doc_attention, self.mixture = val_tokens, doc_attention, mixture
        self.validation_dir = validation_dir or f"{packed_dir}/validation"
        self.packed_dir, self.family, self.special, self.vocab_size = packed_dir, family, special, vocab_size
        self.block_size, self.batch_size, self.accumulate, self.seed, self.num_workers = block_size, batch_size, accumulate, seed, num_workers

    def setup(self, stage: str | None = None) -> None:
        train = PackedSplit(f"{self.packed_dir}/train")
        self.train_set = MixtureDataset(train, self.block_size, self.family, self.special, self.seed, self.mixture) \
            if self.mixture else BlockDataset(train, self.block_size, self.family, self.special, self.seed)
        self.val_set = BlockDataset(PackedSplit(self.validation_dir), self.block_size, self.family, self.special, self.seed + 1)
        for ds in (self.train_set, self.val_set):
            ds.vocab_size, ds.doc_attention = self.vocab_size, self.doc_attention
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
        if self.mixture:
            sampler = MixtureSampler(self.batches_per_rank, self.batch_size, rank, world, self.position)
        else:
            sampler = ResumableSampler(len(self.train_set), self.batches_per_rank, self.batch_size, self.seed, rank, world, self.position)
        return DataLoader(self.train_set, batch_size=self.batch_size, sampler=sampler, num_workers=self.num_workers,
                          drop_last=True, persistent_workers=False)

    def val_dataloader(self):
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer else (0, 1)
        self.val_blocks = validation_blocks(len(self.val_set), self.block_size, self.val_tokens, world)
        idx = self.val_blocks[rank::world].tolist()
        return DataLoader(torch.utils.data.Subset(self.val_set, idx), batch_size=self.batch_size, num_workers=self.num_workers)
