"""Tokens/s per GPU and MFU of the workflow's own training path (PretrainModule, PackedDataModule,
Lightning Trainer, bf16-mixed, fused AdamW) for the MeluXina presets, with and without
torch.compile. Needs a CUDA GPU; not part of `make bench` (run it where a GPU is).

    python -m bench.gpu_throughput --out results.jsonl [--configs causal:125m,causal:1.3b,masked:125m]

Data: random token ids in pack's shard format (throughput does not depend on the text). FLOPs per
step: torch's FLOP counter over one forward and backward of the same batch (what the workflow's
ThroughputMonitor uses). MFU = FLOPs per second / the GPU's dense bf16 peak.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

PEAK_BF16 = {"H100": 989e12, "H200": 989e12, "A100": 312e12}
VOCAB = 32768
# (family, preset) -> (blocks per step, block size): sizes a MeluXina run would use on one GPU
SHAPES = {("causal", "125m"): (32, 2048), ("causal", "1.3b"): (8, 2048), ("masked", "125m"): (64, 511),
          ("causal", "tiny"): (4, 64), ("masked", "tiny"): (4, 63)}  # tiny: a smoke test that runs on CPU


def synthetic_split(root: Path, tokens: int, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rng.integers(5, VOCAB, tokens, dtype=np.uint16).tofile(root / "shard_00000.bin")
    np.save(root / "shard_00000.docs.npy", np.array([[0, tokens - 1, 0, -1]], dtype=np.int64))
    (root / "index.json").write_text(json.dumps({"family": "x", "dtype": "uint16", "separator": 0, "vocab_size": VOCAB,
                                                 "modalities": ["text", "transcript", "subtitle"], "tokens": tokens, "docs": 1,
                                                 "shards": [{"file": "shard_00000.bin", "docs": "shard_00000.docs.npy",
                                                             "tokens": tokens, "n_docs": 1}]}))
    return root


def measure(family: str, preset: str, compile: bool, packed: Path, steps: int = 30, warmup: int = 8) -> dict:
    import lightning as L
    import torch

    from arkivlm.train.data import PackedDataModule
    from arkivlm.train.module import PretrainModule
    from arkivlm.train.presets import model_config
    from arkivlm.train.pretrain import flops_per_batch

    batch, block = SHAPES[(family, preset)]
    special = {"eos": 0, "pad": 1} if family == "causal" else \
        {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4, "no_mask": [0, 1, 2, 3, 4]}
    cfg = model_config(family, preset, VOCAB, special)
    module = PretrainModule(family, cfg, lr=3e-4, weight_decay=0.1, warmup_steps=10, max_steps=warmup + steps, compile=compile)
    data = PackedDataModule(str(packed), family, special, VOCAB, block, batch, 1, 1234, num_workers=8)
    times: list[float] = []

    gpu = torch.cuda.is_available()
    sync = torch.cuda.synchronize if gpu else (lambda: None)

    class StepTimer(L.Callback):
        def on_train_batch_start(self, trainer, *args):
            sync()
            self.t0 = time.perf_counter()

        def on_train_batch_end(self, trainer, *args):
            sync()
            times.append(time.perf_counter() - self.t0)

    torch.set_float32_matmul_precision("high")
    trainer = L.Trainer(accelerator="gpu" if gpu else "cpu", devices=1, precision="bf16-mixed" if gpu else "32-true", max_steps=warmup + steps, max_epochs=-1,
                        gradient_clip_val=1.0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        limit_val_batches=0, use_distributed_sampler=False, callbacks=[StepTimer()])
    t0 = time.perf_counter()
    trainer.fit(module, datamodule=data)
    wall = time.perf_counter() - t0
    flops = flops_per_batch(family, cfg, batch, block)
    step = float(np.median(times[warmup:]))
    name = torch.cuda.get_device_name() if gpu else "cpu"
    peak = next((v for k, v in PEAK_BF16.items() if k in name), None)
    tokens = batch * (block + (family == "masked"))
    out = {"family": family, "preset": preset, "compile": compile, "device": name, "batch": batch, "block": block,
           "parameters": sum(p.numel() for p in module.model.parameters()), "step_s": round(step, 4),
           "tokens_per_s": round(tokens / step), "tflops": round(flops / step / 1e12, 1),
           "mfu": round(flops / step / peak, 4) if peak else None, "first_steps_s": round(sum(times[:warmup]), 1),
           "wall_s": round(wall, 1), "max_memory_gb": round(torch.cuda.max_memory_allocated() / 1e9, 1) if gpu else None}
    if gpu:
        torch.cuda.reset_peak_memory_stats()
    return out


def markdown(jsonl: str) -> str:
    """The RESULTS.md section from a results file of `main`."""
    rows = [json.loads(l) for l in Path(jsonl).read_text().splitlines() if l.strip()]
    device = next((r["device"] for r in rows if "device" in r), "?")
    out = [f"## GPU training throughput (bench/gpu_throughput.py, one {device})\n",
           "The workflow's own training path (PretrainModule, PackedDataModule with 8 workers, Lightning Trainer, "
           "bf16-mixed, fused AdamW, gradient clipping at 1.0) on random token ids, vocabulary 32,768; median of 20 "
           "steps after 8 warm-up steps. MFU against 989 TFLOP/s (dense bf16 peak of H100/H200 SXM); FLOPs per step "
           "from torch's FLOP counter over forward and backward.\n",
           "| model | parameters | blocks x tokens | torch.compile | tokens/s | TFLOP/s | MFU | first 8 steps s | peak GB |",
           "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        name = f"{r['family']} {r['preset']}"
        if "error" in r:
            out.append(f"| {name} | | | {r['compile']} | error: {r['error'][:80]} | | | | |")
            continue
        out.append(f"| {name} | {r['parameters'] / 1e6:,.0f} M | {r['batch']} x {r['block']} | {'on' if r['compile'] else 'off'} | "
                   f"{r['tokens_per_s']:,} | {r['tflops']} | {r['mfu']:.1%} | {r['first_steps_s']} | {r['max_memory_gb']} |")
    return "\n".join(out) + "\n"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--markdown", action="store_true", help="print the RESULTS.md section of --out and stop")
    p.add_argument("--configs", default="causal:125m,causal:1.3b,masked:125m")
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--tokens", type=int, default=64_000_000)
    args = p.parse_args()
    if args.markdown:
        print(markdown(args.out))
        return
    packed = synthetic_split(Path(tempfile.mkdtemp()) / "train", args.tokens)
    (packed.parent / "validation").symlink_to(packed)
    for spec in args.configs.split(","):
        family, preset = spec.split(":")
        for compile in (False, True):
            try:
                r = measure(family, preset, compile, packed.parent, steps=args.steps)
            except Exception as e:  # one failing configuration must not lose the others' figures
                r = {"family": family, "preset": preset, "compile": compile, "error": f"{type(e).__name__}: {e}"[:500]}
            print(json.dumps(r), flush=True)
            with open(args.out, "a") as fh:
                fh.write(json.dumps(r) + "\n")


if __name__ == "__main__":
    main()
