"""Pretrain one model from its config entry; resumes from `checkpoints/last.ckpt` by itself.

    python -m arkivlm pretrain --model '{"name": "gpt_tiny", "type": "causal", "preset": "tiny"}' \
        --packed results/packed/causal --tokenizer results/tokenizer --out results/models/gpt_tiny
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

DEFAULTS = {
    "max_steps": 300, "batch_size": 16, "block_size": 128, "accumulate": 1, "lr": 1e-3, "min_lr_ratio": 0.1,
    "weight_decay": 0.1, "warmup_steps": 30, "grad_clip": 1.0, "seed": 1234, "val_every_steps": 100,
    "checkpoint_every_steps": 50, "log_every_steps": 10, "precision": "auto", "strategy": "auto",
    "accelerator": "auto", "devices": "auto", "num_nodes": 1, "num_workers": 0, "mlm_probability": 0.15,
    "model_overrides": {}, "stop_at_step": None, "compile": False, "val_tokens": 2_097_152,
    "doc_attention": False,
}
REQUEUED_EXIT = 75  # EX_TEMPFAIL: stopped for a requeue, the job runs again and resumes

# Settings that may change between a run and its resumption without invalidating the checkpoint.
# A change of devices or num_nodes keeps the global batch through `accumulate` (global_batch_accumulation).
RESUMABLE_CHANGES = {"max_steps", "stop_at_step", "val_every_steps", "checkpoint_every_steps", "log_every_steps",
                     "devices", "num_nodes", "num_workers", "strategy", "compile", "val_tokens"}


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


def settings_for(model_entry: dict, settings: dict | None) -> dict:
    """A model's training settings: the `train` section, its preset's, then its own `train`."""
    from arkivlm.train.presets import train_defaults

    preset = model_entry.get("preset", "tiny")
    return resolved({**(settings or {}), **train_defaults(model_entry["type"], preset), **model_entry.get("train", {})})


def mixture_plan(model_entry: dict, s: dict, packed_dir: str, global_batch: int, key: str = "mixture") -> dict:
    """The model's data mixture planned over its run: max_steps x the global batch (in blocks) x
    block_size tokens (arkivlm.train.mixture.plan; raises, naming the key, when it cannot be met)."""
    from arkivlm.pack import PackedSplit
    from arkivlm.train.mixture import plan

    split = PackedSplit(Path(packed_dir) / "train")
    budget = int(s["max_steps"]) * global_batch * int(s["block_size"])
    result = plan(model_entry.get("mixture"), split.index, split.strata(), budget, int(s["block_size"]), model_entry["type"], key)
    return {"model": model_entry["name"], "global_batch": global_batch, **result}


def strategy_for(s: dict, family: str):
    """`fsdp`: full sharding, one FSDP unit per transformer block, activation checkpointing, and
    sharded checkpoints (each rank writes its own shard; a resume reshards to any number of ranks)."""
    if s["strategy"] == "fsdp":
        from arkivlm.train.presets import layer_classes

        return fsdp_strategy()(auto_wrap_policy=layer_classes(family), activation_checkpointing_policy=layer_classes(family),
                               sharding_strategy="FULL_SHARD", state_dict_type="sharded")
    return s["strategy"]


def fsdp_strategy():
    """Lightning's FSDPStrategy, also on CPU ranks. Lightning refuses `strategy="fsdp"` with
    `accelerator="cpu"` by the strategy's name alone, although torch's FSDP shards, trains and
    gathers on CPU over gloo; an instance of this subclass passes, so the FSDP code a GPU run takes
    is the code the CPU tests run."""
    import torch
    from lightning.pytorch.strategies import FSDPStrategy

    class ShardedStrategy(FSDPStrategy):
        def _setup_model(self, model):
            from lightning.pytorch.strategies.fsdp import _setup_activation_checkpointing
            from torch.distributed.fsdp import FullyShardedDataParallel

            if self.root_device.type != "cpu" or any(isinstance(m, FullyShardedDataParallel) for m in model.modules()):
                return super()._setup_model(model)
            # Lightning hands FSDP the device's index, None for a CPU, and FSDP then looks for an
            # accelerator; named as the CPU, FSDP shards there
            model = FullyShardedDataParallel(module=model, cpu_offload=self.cpu_offload, mixed_precision=self.mixed_precision_config,
                                             sharding_strategy=self.sharding_strategy, device_id=torch.device("cpu"), **self.kwargs)
            _setup_activation_checkpointing(model, self._activation_checkpointing_kwargs)
            return model

    return ShardedStrategy


def full_state_dict(trainer, module) -> dict | None:
    """The model's whole state dict on global rank 0 (None elsewhere). Under FSDP every rank takes
    part in gathering the shards (a collective: rank 0 alone would hang); elsewhere it is the
    module's own."""
    from lightning.pytorch.strategies import FSDPStrategy

    if not isinstance(trainer.strategy, FSDPStrategy):
        return module.model.state_dict() if trainer.is_global_zero else None
    import torch
    from torch.distributed.fsdp import FullStateDictConfig, StateDictType
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    wrapped = trainer.strategy.model
    # offloaded to CPU on GPUs (rank 0's GPU need not hold a 7B model twice); on CPU there is nothing to offload to
    config = FullStateDictConfig(offload_to_cpu=torch.cuda.is_available(), rank0_only=True)
    with FSDP.state_dict_type(wrapped, StateDictType.FULL_STATE_DICT, config):
        state = wrapped.state_dict()
    if not trainer.is_global_zero:
        return None
    return {k[len("model."):]: v for k, v in state.items() if k.startswith("model.")}


def parameter_count(family: str, model_config) -> int:
    """The model's parameters (shared ones once), counted on the meta device: never the shard a rank holds."""
    import torch

    from arkivlm.train.presets import build_model

    with torch.device("meta"):
        return sum(p.numel() for p in build_model(family, model_config).parameters())


def flops_per_batch(family: str, model_config, batch_size: int, block_size: int) -> int:
    import torch
    from lightning.fabric.utilities.throughput import measure_flops

    from arkivlm.train.presets import build_model

    with torch.device("meta"):
        model = build_model(family, model_config)
        x = torch.randint(0, model_config.vocab_size, (batch_size, block_size + (family == "masked")))
    return int(measure_flops(model, lambda: model(input_ids=x).logits, lambda y: y.sum()))


def write_mixture(plan: dict, data, positions: int, block_size: int, path: Path) -> None:
    """The plan with `seen_tokens` per group: the tokens of the blocks the sampler gave for the
    `positions` (steps trained x global batch) of the run."""
    stream = getattr(data.train_set, "stream", None)
    seen = stream.seen_blocks(positions) if stream is not None else {"all": positions}
    groups = {name: {**g, "seen_tokens": int(seen.get(name, 0)) * block_size} for name, g in plan["groups"].items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**plan, "steps_blocks": positions, "groups": groups}, indent=1))


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


class GlobalBatchMismatch(ValueError):
    pass


def global_batch_accumulation(ckpt_dir: Path, s: dict, world: int, resuming: bool, write: bool = True) -> int:
    """Micro-batches per optimizer step on `world` ranks. A run records its global batch
    (batch_size x accumulate x ranks) when it starts; resumed on another number of ranks it keeps
    that global batch, and with it the blocks of every step, by accumulating more or fewer
    micro-batches, or refuses with what to set."""
    record = ckpt_dir / "global_batch.json"
    if not resuming or not record.exists():
        if write:
            record.write_text(json.dumps({"global_batch": s["batch_size"] * s["accumulate"] * world,
                                          "ranks": world, "accumulate": s["accumulate"]}))
        return s["accumulate"]
    started = json.loads(record.read_text())
    per_step = s["batch_size"] * world
    if started["global_batch"] % per_step:
        raise GlobalBatchMismatch(
            f"pretrain: this run started with a global batch of {started['global_batch']} blocks ({started['ranks']} ranks x "
            f"train.batch_size {s['batch_size']} x train.accumulate {started['accumulate']}); {world} ranks of "
            f"{s['batch_size']} cannot make it up by accumulation. Set train.devices x train.num_nodes to a divisor of "
            f"{started['global_batch'] // s['batch_size']}, or remove {ckpt_dir} to start afresh.")
    return started["global_batch"] // per_step


def checkpoint_complete(path: Path) -> bool:
    """A checkpoint file, or a sharded checkpoint directory whose last write (rank 0's `meta.pt`,
    after every shard) is newer than all its shards: a run killed while overwriting one leaves it
    older than some shard."""
    if not path.is_dir():
        return path.is_file() and path.stat().st_size > 0
    meta = path / "meta.pt"
    if not meta.exists() or not (path / ".metadata").exists():
        return False
    return all(p.stat().st_mtime_ns <= meta.stat().st_mtime_ns for p in path.iterdir() if p.name != "meta.pt")


def resume_from(ckpt_dir: Path) -> str | None:
    """The newest complete checkpoint: last.ckpt, the periodic ones, and those Lightning writes on
    SIGUSR1 before Slurm requeues the job (hpc_ckpt_N.ckpt)."""
    candidates = [p for p in [ckpt_dir / "last.ckpt", *ckpt_dir.glob("hpc_ckpt_*.ckpt"), *ckpt_dir.glob("step*.ckpt")]
                  if p.exists() and checkpoint_complete(p)]
    return str(max(candidates, key=lambda p: p.stat().st_mtime_ns if p.is_file() else (p / "meta.pt").stat().st_mtime_ns)) \
        if candidates else None


def stop_at_step_callback(step: int | None, ckpt_dir: Path):
    """Stop after `step` optimizer steps with a last.ckpt, keeping the schedule of max_steps
    (a time-boxed chunk of a longer run); and at max_steps, stop through `should_stop` too, which
    makes Lightning validate before fit returns. That is the run's final validation: a second
    `trainer.validate` after `fit` would meet an FSDP model whose root wrapper Lightning has
    dropped (its blocks still sharded, its embeddings no longer gathered)."""
    import lightning as L

    class StopAt(L.Callback):
        def on_train_batch_end(self, trainer, *args):
            if trainer.should_stop or trainer.fit_loop._should_accumulate():
                return
            if step is not None and trainer.global_step >= step:
                trainer.should_stop = True
                trainer.save_checkpoint(str(ckpt_dir / "last.ckpt"))
            elif trainer.global_step >= trainer.max_steps:
                trainer.should_stop = True

    return StopAt()


def align_resumed_batches(data):
    """Lightning counts the micro-batches of an epoch, and steps every `accumulate` of them; it
    restores that count from the checkpoint, in the micro-batches of the run that wrote it. A run
    resumed on other ranks accumulates another number of them per step, so the count is set, at
    the first batch, to where the sampler starts (steps done in the epoch x this run's accumulate):
    every step then trains on the blocks it would have in an uninterrupted run."""
    import lightning as L

    class AlignResumedBatches(L.Callback):
        def on_train_start(self, trainer, module):
            self.skip = data.position()[1]

        def on_train_batch_start(self, trainer, module, batch, batch_idx):
            if self.skip is None:
                return
            current = trainer.fit_loop.epoch_loop.batch_progress.current
            current.ready, current.started, current.processed, current.completed = self.skip + 1, self.skip, self.skip, self.skip
            self.skip = None

    return AlignResumedBatches()


def build_trainer(s: dict, family: str, out: Path, ckpt_dir: Path, accumulate: int, plugins=(), callbacks=()):
    """The Trainer of a pretraining run: validation, checkpoints and logs at the configured cadence
    (`callbacks`: extra ones, e.g. a benchmark's timer)."""
    import lightning as L
    import torch
    from lightning.pytorch.callbacks import LearningRateMonitor, ModelCheckpoint, ThroughputMonitor
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    from arkivlm import requeue_signal

    return L.Trainer(
        accelerator=s["accelerator"], devices=s["devices"], num_nodes=s["num_nodes"], strategy=strategy_for(s, family),
        precision=s["precision"], max_steps=s["max_steps"], max_epochs=-1, accumulate_grad_batches=accumulate,
        gradient_clip_val=s["grad_clip"], val_check_interval=s["val_every_steps"] * accumulate, check_val_every_n_epoch=None,
        log_every_n_steps=s["log_every_steps"], deterministic=not torch.cuda.is_available(), use_distributed_sampler=False,
        enable_progress_bar=False, plugins=list(plugins), default_root_dir=str(ckpt_dir),
        logger=[TensorBoardLogger(str(out / "logs"), name="tensorboard", version=""), CSVLogger(str(out / "logs"), name="csv")],
        callbacks=[ModelCheckpoint(dirpath=str(ckpt_dir), filename="step{step:07d}", save_last=True, save_top_k=1,
                                   every_n_train_steps=s["checkpoint_every_steps"], auto_insert_metric_name=False),
                   ThroughputMonitor(batch_size_fn=lambda b: b["input_ids"].size(0),
                                     length_fn=lambda b: b["input_ids"].numel(), window_size=10),
                   LearningRateMonitor(logging_interval="step"), stop_at_step_callback(s["stop_at_step"], ckpt_dir),
                   requeue_signal.callback(), *callbacks],
    )


def run(model_entry: dict, packed_dir: str, tokenizer_dir: str, out_dir: str, settings: dict | None = None,
        data_card: str | None = None, validation_dir: str | None = None, callbacks=(), mixture_out: str | None = None) -> dict:
    """`validation_dir`: the packed split to validate on (default: `packed_dir`/validation); `callbacks`:
    extra Lightning callbacks; `mixture_out`: where the mixture's plan and the tokens seen per group
    go (default: `out_dir`/mixture.json)."""
    import lightning as L
    import torch
    from lightning.pytorch.plugins.environments import SLURMEnvironment

    from arkivlm import requeue_signal
    from arkivlm.tokenizer import load, tokenizer_path
    from arkivlm.train.data import PackedDataModule
    from arkivlm.train.module import PretrainModule
    from arkivlm.train.presets import model_config

    family = model_entry["type"]
    s = settings_for(model_entry, settings)
    out = Path(out_dir)
    if s["doc_attention"] and family != "causal":
        raise ValueError("train.doc_attention: document-boundary attention is for causal models (a masked model's "
                         "blocks attend both ways); set it on the causal models only")
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

    plugins = []
    if "SLURM_JOB_ID" in os.environ and os.environ.get("SLURM_JOB_NAME") not in ("bash", "interactive"):
        # the requeue signal is ours (arkivlm.requeue_signal): recorded from the process's first line, acted on between steps
        plugins.append(SLURMEnvironment(auto_requeue=False))
    tokens_per_sample = s["block_size"] + (family == "masked")

    # the ranks are known once a Trainer has read the environment; the accumulation follows them
    trainer = build_trainer(s, family, out, ckpt_dir, s["accumulate"], plugins, callbacks)
    resume = resume_from(ckpt_dir)
    accumulate = global_batch_accumulation(ckpt_dir, s, trainer.world_size, resuming=resume is not None,
                                           write=trainer.global_rank == 0)
    if accumulate != s["accumulate"]:
        print(f"pretrain: {trainer.world_size} ranks now; {accumulate} micro-batches per step keep the run's global batch")
        trainer = build_trainer(s, family, out, ckpt_dir, accumulate, plugins, callbacks)
    global_batch = s["batch_size"] * accumulate * trainer.world_size
    mixture = mixture_plan(model_entry, s, packed_dir, global_batch)  # refuses an unmeetable mixture before training
    data = PackedDataModule(packed_dir, family, special, tok.get_vocab_size(), s["block_size"], s["batch_size"],
                            accumulate, s["seed"], s["num_workers"], validation_dir, s["val_tokens"], s["doc_attention"],
                            model_entry.get("mixture"))
    trainer.callbacks.append(align_resumed_batches(data))
    try:
        trainer.fit(module, datamodule=data, ckpt_path=resume)
    except requeue_signal.Requeued as r:
        print(f"pretrain: {r}", file=sys.stderr)
        raise SystemExit(REQUEUED_EXIT)
    if not hasattr(module, "last_val_loss"):  # resumed at its last step: nothing trained, nothing validated
        from lightning.pytorch.strategies import FSDPStrategy

        if isinstance(trainer.strategy, FSDPStrategy):
            raise RuntimeError(f"pretrain: {resume} is already at max_steps ({s['max_steps']}); raise train.max_steps to "
                               "train on, or remove the checkpoints to start afresh")
        trainer.validate(module, datamodule=data, verbose=False)

    state = full_state_dict(trainer, module)  # every rank, before rank 0 alone exports
    summary = {"model": model_entry["name"], "type": family, "preset": model_entry.get("preset", "tiny"),
               "steps": int(trainer.global_step), "tokens_seen": int(module.tokens_seen),
               "val_loss_lightning": float(module.last_val_loss), "parameters": parameter_count(family, cfg),
               "flops_per_batch": module.flops_per_batch, "tokens_per_sample": tokens_per_sample, "settings": s,
               "ranks": trainer.world_size, "accumulate": accumulate, "global_batch": s["batch_size"] * accumulate * trainer.world_size,
               "val_blocks": len(data.val_blocks)}
    if trainer.is_global_zero:
        from arkivlm.train.export import export
        from arkivlm.train.presets import build_model

        model = build_model(family, cfg)
        model.load_state_dict(state)
        export(model, family, tokenizer_dir, out / "hf", summary, data_card)
        write_mixture(mixture, data, int(trainer.global_step) * global_batch, s["block_size"], Path(mixture_out or out / "mixture.json"))
        (out / "train_summary.json").write_text(json.dumps(summary, indent=1, default=str))
    return summary
