"""Pretrain one model from its config entry; resumes from `checkpoints/last.ckpt` by itself.

    python -m arkivlm pretrain --model '{"name": "gpt_tiny", "type": "causal", "preset": "tiny"}' \
        --packed results/packed/causal --tokenizer results/tokenizer --out results/models/gpt_tiny
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

DEFAULTS = {
    "max_steps": 300, "batch_size": 16, "block_size": 128, "accumulate": 1, "lr": 1e-3, "min_lr_ratio": 0.1,
    "weight_decay": 0.1, "warmup_steps": 30, "grad_clip": 1.0, "seed": 1234, "val_every_steps": 100,
    "checkpoint_every_steps": 50, "log_every_steps": 10, "precision": "auto", "strategy": "auto",
    "accelerator": "auto", "devices": "auto", "num_nodes": 1, "num_workers": 0, "mlm_probability": 0.15,
    "model_overrides": {}, "stop_at_step": None, "compile": False,
}
# Settings that may change between a run and its resumption without invalidating the checkpoint.
RESUMABLE_CHANGES = {"max_steps", "stop_at_step", "val_every_steps", "checkpoint_every_steps", "log_every_steps",
                     "devices", "num_nodes", "num_workers", "strategy", "compile"}


def special_tokens(tok, family: str) -> dict:
    if family == "causal":
        eos, pad = tok.token_to_id("<|endoftext|>"), tok.token_to_id("<|pad|>")
        return {"eos": eos, "pad": pad}
    ids = {k: tok.token_to_id(t) for k, t in (("pad", "[PAD]"), ("unk", "[UNK]"), ("cls", "[CLS]"), ("sep", "[SEP]"), ("mask", "[MASK]"))}
    ids["no_mask"] = sorted({ids["pad"], ids["unk"], ids["cls"], ids["sep"], ids["mask"]})
    return ids


def resolved(settings: dict) -> dict:
    import torch

    s = {**DEFAULTS, **settings}
    gpu = torch.cuda.is_available() and s["accelerator"] in ("auto", "gpu", "cuda")
    if s["precision"] == "auto":
        s["precision"] = "bf16-mixed" if gpu else "32-true"
    return s


def strategy_for(s: dict, family: str):
    from lightning.pytorch.strategies import FSDPStrategy

    if s["strategy"] == "fsdp":
        from arkivlm.train.presets import layer_classes

        return FSDPStrategy(auto_wrap_policy=layer_classes(family), activation_checkpointing_policy=layer_classes(family),
                            sharding_strategy="FULL_SHARD", state_dict_type="sharded")
    return s["strategy"]


def flops_per_batch(family: str, model_config, batch_size: int, block_size: int) -> int:
    import torch
    from lightning.fabric.utilities.throughput import measure_flops

    from arkivlm.train.presets import build_model

    with torch.device("meta"):
        model = build_model(family, model_config)
        x = torch.randint(0, model_config.vocab_size, (batch_size, block_size + (family == "masked")))
    return int(measure_flops(model, lambda: model(input_ids=x).logits, lambda y: y.sum()))


def read_training_log(model_dir: str | Path):
    """The CSV logs of every run segment (a resumed run writes a new version), steps of later
    segments replacing those of earlier ones."""
    import pandas as pd

    versions = sorted((Path(model_dir) / "logs" / "csv").glob("version_*/metrics.csv"),
                      key=lambda p: int(p.parent.name.split("_")[1]))
    frames = []
    for i, path in enumerate(versions):
        frame = pd.read_csv(path)
        trained = frame.dropna(subset=["train_loss"]) if "train_loss" in frame else frame.iloc[:0]
        if frames and len(trained):
            resumed_at = trained.step.min()
            frames = [f[f.step < resumed_at] for f in frames]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def checkpoint_dir(out: Path, fingerprint: str) -> Path:
    """`out/checkpoints`, moved aside first when it belongs to a different model, data or schedule."""
    ckpt_dir = out / "checkpoints"
    marker = ckpt_dir / "run_config.json"
    if ckpt_dir.exists() and (not marker.exists() or marker.read_text() != fingerprint):
        ckpt_dir.rename(out / f"checkpoints.stale-{int(time.time())}")
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(fingerprint)
    return ckpt_dir


def resume_from(ckpt_dir: Path) -> str | None:
    """The newest of last.ckpt and the checkpoints Lightning writes on SIGUSR1 before Slurm requeues
    the job (hpc_ckpt_N.ckpt)."""
    candidates = [p for p in [ckpt_dir / "last.ckpt", *ckpt_dir.glob("hpc_ckpt_*.ckpt")] if p.exists()]
    return str(max(candidates, key=lambda p: p.stat().st_mtime)) if candidates else None


def stop_at_step_callback(step: int | None, ckpt_dir: Path):
    """Stop after `step` optimizer steps with a last.ckpt, keeping the schedule of max_steps
    (a time-boxed chunk of a longer run)."""
    import lightning as L

    class StopAt(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if step is not None and trainer.global_step >= step and not trainer.should_stop:
                trainer.should_stop = True
                trainer.save_checkpoint(str(ckpt_dir / "last.ckpt"))

    return StopAt()


def run(model_entry: dict, packed_dir: str, tokenizer_dir: str, out_dir: str, settings: dict | None = None,
        data_card: str | None = None, validation_dir: str | None = None) -> dict:
    """`validation_dir`: the packed split to validate on (default: `packed_dir`/validation)."""
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, ThroughputMonitor
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    from lightning.pytorch.plugins.environments import SLURMEnvironment

    from arkivlm import early_signals
    from arkivlm.tokenizer import load, tokenizer_path
    from arkivlm.train.data import PackedDataModule, epochs_for
    from arkivlm.train.module import PretrainModule
    from arkivlm.train.presets import model_config

    family = model_entry["type"]
    s = resolved({**(settings or {}), **model_entry.get("train", {})})
    out = Path(out_dir)
    L.seed_everything(s["seed"], workers=True)
    torch.set_float32_matmul_precision("high")

    tok = load(tokenizer_path(tokenizer_dir, family))
    special = special_tokens(tok, family)
    cfg = model_config(family, model_entry.get("preset", "tiny"), tok.get_vocab_size(), special, s["model_overrides"])
    packed_index = json.loads((Path(packed_dir) / "train" / "index.json").read_text())
    fingerprint = json.dumps({"model": {k: v for k, v in model_entry.items() if k != "train"}, "vocab": tok.get_vocab_size(),
                              "train_tokens": packed_index["tokens"],
                              "settings": {k: v for k, v in s.items() if k not in RESUMABLE_CHANGES}}, sort_keys=True, default=str)
    ckpt_dir = checkpoint_dir(out, fingerprint)
    module = PretrainModule(family, cfg, lr=s["lr"], weight_decay=s["weight_decay"], warmup_steps=s["warmup_steps"],
                            max_steps=s["max_steps"], min_lr_ratio=s["min_lr_ratio"], compile=s["compile"] and torch.cuda.is_available())
    module.flops_per_batch = flops_per_batch(family, cfg, s["batch_size"], s["block_size"])
    data = PackedDataModule(packed_dir, family, special, tok.get_vocab_size(), s["block_size"], s["batch_size"],
                            s["accumulate"], s["seed"], s["num_workers"], validation_dir)

    plugins = []
    if "SLURM_JOB_ID" in os.environ and os.environ.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        plugins.append(SLURMEnvironment(auto_requeue=True, requeue_signal=signal.SIGUSR1))
    tokens_per_sample = s["block_size"] + (family == "masked")
    trainer = L.Trainer(
        accelerator=s["accelerator"], devices=s["devices"], num_nodes=s["num_nodes"], strategy=strategy_for(s, family),
        precision=s["precision"], max_steps=s["max_steps"], max_epochs=-1, accumulate_grad_batches=s["accumulate"],
        gradient_clip_val=s["grad_clip"], val_check_interval=s["val_every_steps"] * s["accumulate"], check_val_every_n_epoch=None,
        log_every_n_steps=s["log_every_steps"], deterministic=not torch.cuda.is_available(), use_distributed_sampler=False,
        enable_progress_bar=False, plugins=plugins, default_root_dir=str(ckpt_dir),
        logger=[TensorBoardLogger(str(out / "logs"), name="tensorboard", version=""), CSVLogger(str(out / "logs"), name="csv")],
        callbacks=[ModelCheckpoint(dirpath=str(ckpt_dir), filename="step{step:07d}", save_last=True, save_top_k=1,
                                   every_n_train_steps=s["checkpoint_every_steps"], auto_insert_metric_name=False),
                   ThroughputMonitor(batch_size_fn=lambda b: b["input_ids"].size(0),
                                     length_fn=lambda b: b["input_ids"].numel(), window_size=10),
                   LearningRateMonitor(logging_interval="step"), stop_at_step_callback(s["stop_at_step"], ckpt_dir),
                   early_signals.replay_callback()],
    )
    trainer.fit(module, datamodule=data, ckpt_path=resume_from(ckpt_dir))
    val = trainer.validate(module, datamodule=data, verbose=False)

    summary = {"model": model_entry["name"], "type": family, "preset": model_entry.get("preset", "tiny"),
               "steps": int(trainer.global_step), "tokens_seen": int(module.tokens_seen),
               "val_loss_lightning": float(module.last_val_loss), "parameters": sum(p.numel() for p in module.model.parameters()),
               "flops_per_batch": module.flops_per_batch, "tokens_per_sample": tokens_per_sample, "settings": s}
    if trainer.is_global_zero:
        from arkivlm.train.export import export

        export(module.model, family, tokenizer_dir, out / "hf", summary, data_card)
        (out / "train_summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary
