"""Tokens/s of the workflow's Lightning Trainer against a plain PyTorch loop doing the same
training, validation and checkpoint writes, and the whole tokenizer stage against raw `tokenizers`
doing the same two trainings."""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

import pandas as pd

from arkivlm.sample import text as T

MODEL = {"hidden_size": 128, "num_hidden_layers": 4, "num_attention_heads": 4, "intermediate_size": 384}


def make_corpus(root: Path, n_docs: int) -> Path:
    rng = random.Random(0)
    rows = [{"id": f"{i:06d}", "modality": "text", "text": "\n\n".join(T.article(rng)[1:])} for i in range(n_docs)]
    for split, part in (("train", rows[: int(n_docs * 0.95)]), ("validation", rows[int(n_docs * 0.95):])):
        (root / split).mkdir(parents=True, exist_ok=True)
        pd.DataFrame(part).to_parquet(root / split / "part-0.parquet")
    return root


def bench_tokenizer(corpus: Path, out: Path, repeats: int = 3) -> dict:
    """The whole tokenizer stage (`tokenizer.train`: causal BPE and masked WordPiece, each streamed
    from Parquet, saved with its HF files, and its fertility on the validation split) against raw
    `tokenizers` doing the same two trainings on a list of texts in memory: byte-level BPE, and
    WordPiece with its own WordPieceTrainer, same normalisers, pre-tokenizers and vocabularies."""
    from tokenizers import Tokenizer, models, trainers

    from arkivlm import tokenizer

    texts = pd.read_parquet(corpus / "train").text.tolist()
    causal, masked = tokenizer.DEFAULTS["causal"], tokenizer.DEFAULTS["masked"]

    def raw():  # the project's pipelines and trainer settings, trained as a user would call them
        bpe, bpe_trainer = tokenizer.build_causal(causal)
        bpe.train_from_iterator(texts, bpe_trainer)
        wordpiece = tokenizer._masked_pipeline(Tokenizer(models.WordPiece(unk_token="[UNK]")))
        wordpiece.train_from_iterator(texts, trainers.WordPieceTrainer(
            vocab_size=masked["vocab_size"], min_frequency=masked["min_frequency"], show_progress=False,
            special_tokens=masked["special_tokens"]))

    def stage():
        tokenizer.train(str(corpus / "train"), str(corpus / "validation"), str(out / "tok"), str(out / "tok_stats.json"))

    def median(fn):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return sorted(times)[len(times) // 2]

    r, s = median(raw), median(stage)
    return {"chars": sum(map(len, texts)), "raw_s": round(r, 3), "stage_s": round(s, 3), "ratio": round(s / r, 3)}


def bench_training(corpus: Path, out: Path, warm: int = 10, repeats: int = 3) -> dict:
    """The Trainer that `pretrain` builds (`pretrain.build_trainer`: validation and checkpoints at the
    config's cadence, TensorBoard and CSV logs, throughput and LR monitors) against a plain PyTorch
    loop that validates on the same blocks and writes the same checkpoints (model, optimizer and
    schedule; a step file and last, the older step file removed) at the same steps. The config's
    run: 300 steps, validation and checkpoints every 100; timed from step `warm` to the end."""
    import csv
    import shutil

    import lightning as L
    import torch

    from arkivlm import pack, tokenizer
    from arkivlm.train import pretrain
    from arkivlm.train.data import PackedDataModule
    from arkivlm.train.module import PretrainModule, loss_sums
    from arkivlm.train.presets import model_config
    from arkivlm.train.pretrain import special_tokens

    tokenizer.train(str(corpus / "train"), str(corpus / "validation"), str(out / "tok"), str(out / "tok.json"))
    pack.run(str(out / "tok" / "tokenizer.json"), "causal", str(corpus / "train"), str(corpus / "validation"), str(out / "packed"))
    tok = tokenizer.load(str(out / "tok" / "tokenizer.json"))
    special = special_tokens(tok, "causal")
    s = pretrain.resolved({"max_steps": 300, "val_every_steps": 100, "checkpoint_every_steps": 100, "log_every_steps": 10,
                           "accelerator": "cpu", "devices": 1, "model_overrides": MODEL})
    cfg = model_config("causal", "tiny", tok.get_vocab_size(), special, MODEL)
    tokens_per_step = s["batch_size"] * s["block_size"]

    def module_and_data():
        torch.manual_seed(0)
        module = PretrainModule("causal", cfg, lr=s["lr"], weight_decay=s["weight_decay"], warmup_steps=s["warmup_steps"],
                                max_steps=s["max_steps"], min_lr_ratio=s["min_lr_ratio"])
        module.flops_per_batch = pretrain.flops_per_batch("causal", cfg, s["batch_size"], s["block_size"])  # as pretrain sets it
        data = PackedDataModule(str(out / "packed"), "causal", special, tok.get_vocab_size(), s["block_size"], s["batch_size"],
                                1, s["seed"], 0, None, s["val_tokens"])
        return module, data

    class Timer(L.Callback):
        def on_train_batch_start(self, trainer, *a):
            if trainer.global_step == warm and not hasattr(self, "t0"):
                self.t0 = time.perf_counter()

        def on_train_end(self, trainer, *a):
            self.elapsed = time.perf_counter() - self.t0

    seen: dict = {}

    def lightning_run() -> float:
        run_dir = out / "lightning"
        shutil.rmtree(run_dir, ignore_errors=True)
        module, data = module_and_data()
        timer = Timer()
        trainer = pretrain.build_trainer(s, "causal", run_dir, run_dir / "checkpoints", 1, callbacks=[timer])
        trainer.fit(module, datamodule=data)
        assert trainer.global_step == s["max_steps"] and len(list((run_dir / "checkpoints").glob("*.ckpt"))) == 2
        seen["val_blocks"] = len(data.val_blocks)
        return (s["max_steps"] - warm) * tokens_per_step / timer.elapsed

    def plain_run() -> float:
        run_dir = out / "plain"
        shutil.rmtree(run_dir, ignore_errors=True)
        (run_dir / "checkpoints").mkdir(parents=True)
        module, data = module_and_data()
        data.setup()
        module.configure_model()
        model = module.model
        opt_cfg = module.configure_optimizers()
        opt, sched = opt_cfg["optimizer"], opt_cfg["lr_scheduler"]["scheduler"]
        torch.use_deterministic_algorithms(True)  # as the workflow's Trainer on CPU (deterministic=True)
        log = open(run_dir / "metrics.csv", "w", newline="")
        writer = csv.writer(log)
        model.train()
        batches, previous = iter(data.train_dataloader()), None
        for step in range(s["max_steps"]):
            if step == warm:
                t0 = time.perf_counter()
            loss_sum, n = loss_sums(model, next(batches))
            loss = loss_sum / n.clamp(min=1)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), s["grad_clip"])
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            done = step + 1
            if done % s["log_every_steps"] == 0:
                writer.writerow([done, float(loss.detach()), sched.get_last_lr()[0]])
            if done % s["val_every_steps"] == 0:
                model.eval()
                total, count = 0.0, 0
                with torch.no_grad():
                    for b in data.val_dataloader():
                        vs, vn = loss_sums(model, b)
                        total, count = total + float(vs), count + int(vn)
                writer.writerow([done, "val_loss", total / max(1, count)])
                model.train()
            if done % s["checkpoint_every_steps"] == 0:
                state = {"step": done, "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}
                path = run_dir / "checkpoints" / f"step{done:07d}.ckpt"
                torch.save(state, path)
                torch.save(state, run_dir / "checkpoints" / "last.ckpt")
                if previous:
                    previous.unlink()
                previous = path
        elapsed = time.perf_counter() - t0
        log.close()
        torch.use_deterministic_algorithms(False)
        return (s["max_steps"] - warm) * tokens_per_step / elapsed

    lightning, plain = [], []
    for _ in range(repeats):  # alternated, so that a busy moment does not favour one side
        lightning.append(lightning_run())
        plain.append(plain_run())
    lightning_tps, plain_tps = sorted(lightning)[repeats // 2], sorted(plain)[repeats // 2]
    return {"lightning_tokens_per_s": round(lightning_tps), "plain_tokens_per_s": round(plain_tps),
            "overhead_pct": round(100 * (plain_tps / lightning_tps - 1), 1), "steps": s["max_steps"], "warm": warm,
            "batch": s["batch_size"], "block": s["block_size"], "val_every": s["val_every_steps"],
            "checkpoint_every": s["checkpoint_every_steps"], "val_blocks": seen["val_blocks"], "repeats": repeats}


def run(n_docs: int = 6000) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = make_corpus(tmp / "corpus", n_docs)
        return {"tokenizer": bench_tokenizer(corpus, tmp), "training": bench_training(corpus, tmp)}


if __name__ == "__main__":
    print(run())
