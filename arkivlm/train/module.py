"""The LightningModule: a `transformers` model, AdamW, linear warmup then cosine decay."""

from __future__ import annotations

import math

import lightning as L
import torch

from arkivlm.train.loss import loss_sums  # noqa: F401  (re-exported: training and evaluation share it)


class PretrainModule(L.LightningModule):
    def __init__(self, family: str, model_config, lr: float, weight_decay: float, warmup_steps: int, max_steps: int,
                 min_lr_ratio: float = 0.1, betas=(0.9, 0.95), compile: bool = False, fused_adamw: bool | None = None):
        """`fused_adamw`: None = fused where the parameters are on a GPU."""
        super().__init__()
        self.save_hyperparameters(ignore=["model_config"])
        self.family, self.model_config, self.compile_model = family, model_config, compile
        self.model = None
        self.tokens_seen = 0
        self._val = [0.0, 0]

    def configure_model(self) -> None:
        if self.model is None:
            from arkivlm.train.presets import build_model

            self.model = build_model(self.family, self.model_config)
            if self.compile_model:
                self.model.compile()  # in place: the state dict keeps its names for checkpoints and the export

    def training_step(self, batch, batch_idx):
        loss_sum, n = loss_sums(self.model, batch)
        loss = loss_sum / n.clamp(min=1)
        self.tokens_seen += int(batch["input_ids"].numel()) * self.trainer.world_size
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=False)
        self.log("lr", self.lr_schedulers().get_last_lr()[0], on_step=True, on_epoch=False)
        return loss

    def on_validation_epoch_start(self):
        self._val = [0.0, 0]

    def validation_step(self, batch, batch_idx):
        loss_sum, n = loss_sums(self.model, batch)
        self._val[0] += float(loss_sum)
        self._val[1] += int(n)

    def on_validation_epoch_end(self):
        totals = torch.tensor(self._val, dtype=torch.float64, device=self.device)
        totals = self.trainer.strategy.reduce(totals, reduce_op="sum") if self.trainer.world_size > 1 else totals
        val_loss = float(totals[0] / totals[1].clamp(min=1))
        self.log("val_loss", val_loss, prog_bar=True, sync_dist=False, rank_zero_only=True)
        self.last_val_loss = val_loss

    def configure_gradient_clipping(self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        """Clip by global norm here: Lightning refuses to clip for a fused AdamW under mixed precision,
        although with bf16 (no loss scaling) the gradients are already unscaled."""
        if not gradient_clip_val:
            return
        from lightning.pytorch.strategies import FSDPStrategy

        if isinstance(self.trainer.strategy, FSDPStrategy):
            self.trainer.strategy.model.clip_grad_norm_(gradient_clip_val)  # the norm over every rank's shard
        else:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), gradient_clip_val)

    def configure_optimizers(self):
        hp = self.hparams
        decay, no_decay = [], []
        # by name, not by shape: under FSDP every parameter is a flat 1-D shard
        for name, p in self.model.named_parameters():
            (no_decay if name.endswith("bias") or "norm" in name.lower() else decay).append(p)
        on_gpu = any(p.is_cuda for p in self.model.parameters())
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": hp.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
                                lr=hp.lr, betas=tuple(hp.betas), fused=on_gpu if hp.get("fused_adamw") is None else hp.fused_adamw)

        def schedule(step: int) -> float:
            if step < hp.warmup_steps:
                return (step + 1) / max(1, hp.warmup_steps)
            progress = min(1.0, (step - hp.warmup_steps) / max(1, hp.max_steps - hp.warmup_steps))
            return hp.min_lr_ratio + (1 - hp.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

        return {"optimizer": opt, "lr_scheduler": {"scheduler": torch.optim.lr_scheduler.LambdaLR(opt, schedule), "interval": "step"}}

    def on_save_checkpoint(self, checkpoint):
        checkpoint["tokens_seen"] = self.tokens_seen

    def on_load_checkpoint(self, checkpoint):
        self.tokens_seen = checkpoint.get("tokens_seen", 0)
