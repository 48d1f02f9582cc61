"""Tokens/s of the Lightning training step against a plain PyTorch loop (same model, data,
optimizer, schedule-free), and the tokenizer stage against calling `tokenizers` directly."""

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
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    from arkivlm import tokenizer

    texts = pd.read_parquet(corpus / "train").text.tolist()

    def raw():
        tok = Tokenizer(models.BPE())
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                     pre_tokenizers.ByteLevel(add_prefix_space=False)])
        tok.decoder = decoders.ByteLevel()
        tok.train_from_iterator(texts, trainers.BpeTrainer(vocab_size=8000, min_frequency=2, show_progress=False,
                                                           special_tokens=["<|endoftext|>", "<|pad|>"],
                                                           initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))

    def stage():  # the causal half of the stage: streaming from Parquet, training, saving, fertility
        s = {**tokenizer.DEFAULTS["causal"], "vocab_size": 8000}
        tok, trainer = tokenizer.build_causal(s)
        tok.train_from_iterator(tokenizer.iter_texts(str(corpus / "train")), trainer=trainer)
        tok.save(str(out / "tok.json"))
        tokenizer.hf_tokenizer(tok, "causal").save_pretrained(str(out / "hf"))
        tokenizer.fertility(tok, str(corpus / "validation"), 1000)

    def median(fn):
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        return sorted(times)[len(times) // 2]

    r, s = median(raw), median(stage)
    return {"chars": sum(map(len, texts)), "raw_s": round(r, 3), "stage_s": round(s, 3), "ratio": round(s / r, 3)}


def bench_training(corpus: Path, out: Path, steps: int = 80, warm: int = 10, repeats: int = 3) -> dict:
    import lightning as L
    import torch

    from arkivlm import pack, tokenizer
    from arkivlm.train.data import PackedDataModule
    from arkivlm.train.module import PretrainModule, loss_sums
    from arkivlm.train.presets import model_config
    from arkivlm.train.pretrain import special_tokens

    tokenizer.train(str(corpus / "train"), str(corpus / "validation"), str(out / "tok"), str(out / "tok.json"))
    pack.run(str(out / "tok" / "tokenizer.json"), "causal", str(corpus / "train"), str(corpus / "validation"), str(out / "packed"))
    tok = tokenizer.load(str(out / "tok" / "tokenizer.json"))
    special = special_tokens(tok, "causal")
    cfg = model_config("causal", "tiny", tok.get_vocab_size(), special, MODEL)
    batch, block = 16, 128

    # Lightning: the project's module and data module, timed by a callback after `warm` steps.
    class Timer(L.Callback):
        def on_train_batch_start(self, trainer, *a):
            if trainer.global_step == warm:
                self.t0 = time.perf_counter()

        def on_train_end(self, trainer, *a):
            self.elapsed = time.perf_counter() - self.t0

    def lightning_run() -> float:
        torch.manual_seed(0)
        timer = Timer()
        module = PretrainModule("causal", cfg, lr=1e-3, weight_decay=0.1, warmup_steps=10, max_steps=steps + warm)
        data = PackedDataModule(str(out / "packed"), "causal", special, tok.get_vocab_size(), block, batch, 1, 0)
        trainer = L.Trainer(accelerator="cpu", devices=1, max_steps=steps + warm, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, enable_model_summary=False, callbacks=[timer], num_sanity_val_steps=0,
                            limit_val_batches=0, use_distributed_sampler=False, gradient_clip_val=1.0)
        trainer.fit(module, datamodule=data)
        return steps * batch * block / timer.elapsed

    # Plain loop: the same model class, blocks, optimizer (param groups), schedule and clipping.
    def plain_run() -> float:
        torch.manual_seed(0)
        data = PackedDataModule(str(out / "packed"), "causal", special, tok.get_vocab_size(), block, batch, 1, 0)
        data.setup()
        module = PretrainModule("causal", cfg, lr=1e-3, weight_decay=0.1, warmup_steps=10, max_steps=steps + warm)
        module.configure_model()
        model = module.model
        opt_cfg = module.configure_optimizers()
        opt, sched = opt_cfg["optimizer"], opt_cfg["lr_scheduler"]["scheduler"]
        loader = torch.utils.data.DataLoader(data.train_set, batch_size=batch, shuffle=True, drop_last=True)
        model.train()
        it = iter(loader)
        for i in range(steps + warm):
            if i == warm:
                t0 = time.perf_counter()
            b = next(it)
            loss_sum, n = loss_sums(model, b)
            (loss_sum / n.clamp(min=1)).backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
        return steps * batch * block / (time.perf_counter() - t0)

    lightning, plain = [], []
    for _ in range(repeats):  # alternated, so that a busy moment does not favour one side
        lightning.append(lightning_run())
        plain.append(plain_run())
    lightning_tps, plain_tps = sorted(lightning)[repeats // 2], sorted(plain)[repeats // 2]
    return {"lightning_tokens_per_s": round(lightning_tps), "plain_tokens_per_s": round(plain_tps),
            "overhead_pct": round(100 * (plain_tps / lightning_tps - 1), 1), "steps": steps, "batch": batch, "block": block,
            "repeats": repeats}


def run(n_docs: int = 6000) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        corpus = make_corpus(tmp / "corpus", n_docs)
        return {"tokenizer": bench_tokenizer(corpus, tmp), "training": bench_training(corpus, tmp)}


if __name__ == "__main__":
    print(run())
