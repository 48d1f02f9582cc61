"""Tokenizer, packing, Lightning pretraining, resumption, DDP and the Hugging Face export."""

import json
import os
import random
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from arkivlm import evaluate, pack, tokenizer
from arkivlm.sample import text as T
from arkivlm.train import pretrain

SMALL = {"model_overrides": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128},
         "batch_size": 4, "block_size": 32, "lr": 3e-3, "warmup_steps": 2, "val_every_steps": 1000,
         "checkpoint_every_steps": 1000, "log_every_steps": 1, "accelerator": "cpu", "devices": 1}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("corpus")
    rng = random.Random(0)
    rows = []
    for i in range(240):
        modality = ["text", "transcript", "subtitle"][i % 3]
        body = "\n\n".join(T.article(rng)[1:]) if modality == "text" else T.speech_paragraph(rng, 8) if modality == "transcript" \
            else "\n\n".join(T.dialogue_line(rng) for _ in range(12))
        rows.append({"id": f"{i:04d}", "modality": modality, "text": body})
    rows.append({"id": "9999", "modality": "text", "text": "Åsa, Östen och Ängla: 1 234,50 kr\n\n\tdubbla  mellanslag  \u00a0och\nrader ."})
    df = pd.DataFrame(rows)
    for split, part in (("train", df.iloc[:200]), ("validation", df.iloc[200:])):
        (root / split).mkdir()
        part.to_parquet(root / split / "part-0.parquet")
    return root


@pytest.fixture(scope="module")
def tokenized(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("tok")
    stats = tokenizer.train(str(corpus / "train"), str(corpus / "validation"), str(out / "tokenizer"), str(out / "stats.json"),
                            {"causal": {"vocab_size": 1000}, "masked": {"vocab_size": 1000}})
    for family in ("causal", "masked"):
        pack.run(tokenizer.tokenizer_path(str(out / "tokenizer"), family), family, str(corpus / "train"),
                 str(corpus / "validation"), str(out / "packed" / family))
    return out, stats


def test_tokenizer_round_trips_swedish_exactly(tokenized):
    out, stats = tokenized
    tok = tokenizer.load(str(out / "tokenizer" / "tokenizer.json"))
    for text in ["Räksmörgås på Åland, 1 234,50 kr!", "  två  mellanslag\n\n\tflik\r\n", "ÅÄÖ åäö éü 2026-11-26", "😀 ∑ 中文"]:
        assert tok.decode(tok.encode(text).ids, skip_special_tokens=False) == text
    assert all(t in tok.get_vocab() for t in tokenizer.DEFAULTS["causal"]["special_tokens"])
    assert set(stats["causal"]["fertility"]) == {"text", "transcript", "subtitle"}
    assert all(1.0 <= f["fertility"] < 3 for f in stats["causal"]["fertility"].values())
    masked = tokenizer.load(str(out / "tokenizer" / "masked" / "tokenizer.json"))
    assert "å" in "".join(masked.encode("Räksmörgås").tokens)  # no accent stripping
    assert masked.encode("Hej").tokens[0] == "[CLS]"


def test_transformers_tokenizer_files(tokenized):
    from transformers import AutoTokenizer

    out, _ = tokenized
    hf = AutoTokenizer.from_pretrained(str(out / "tokenizer" / "hf"))
    assert hf.decode(hf("Ängla åt ärtsoppa").input_ids) == "Ängla åt ärtsoppa"


def test_packing_is_lossless(tokenized, corpus):
    out, _ = tokenized
    tok = tokenizer.load(str(out / "tokenizer" / "tokenizer.json"))
    for split in ("train", "validation"):
        packed = pack.PackedSplit(out / "packed" / "causal" / split)
        docs = list(packed.documents())
        table = pd.read_parquet(corpus / split)
        # grouped by stratum (here: modality), in corpus order within each
        expected = table.assign(code=table.modality.map(pack.MODALITIES.index)).sort_values("code", kind="stable")
        assert [tok.decode(ids.tolist(), skip_special_tokens=False) for _, ids in docs] == list(expected.text)
        assert [m for m, _ in docs] == list(expected.modality)
        assert packed.tokens().dtype == np.uint16 and (packed.tokens() == packed.index["separator"]).sum() == len(table)


def train(tokenized, name, family, tmp_path, **settings):
    out, _ = tokenized
    return pretrain.run({"name": name, "type": family, "preset": "tiny"}, str(out / "packed" / family), str(out / "tokenizer"),
                        str(tmp_path / name), {**SMALL, **settings})


def losses(model_dir):
    rows = pretrain.read_training_log(model_dir).dropna(subset=["train_loss"])
    return dict(zip(rows.step.astype(int), rows.train_loss))


def test_training_lowers_the_loss_and_export_matches(tokenized, tmp_path):
    from transformers import AutoModelForCausalLM

    summary = train(tokenized, "gpt", "causal", tmp_path, max_steps=40)
    curve = losses(tmp_path / "gpt")
    first, last = np.mean(list(curve.values())[:5]), np.mean(list(curve.values())[-5:])
    assert summary["steps"] == 40 and last < first - 0.5, (first, last)
    assert (tmp_path / "gpt" / "checkpoints" / "last.ckpt").exists()
    assert AutoModelForCausalLM.from_pretrained(str(tmp_path / "gpt" / "hf")) is not None
    metrics = evaluate.run(str(tmp_path / "gpt"), str(tokenized[0] / "packed" / "causal"), str(tmp_path / "m.json"))
    assert metrics["val_loss"] == pytest.approx(summary["val_loss_lightning"], abs=1e-4)
    assert set(metrics["per_modality"]) == {"text", "transcript", "subtitle"} and metrics["tokens_seen"] == 40 * 4 * 32
    assert len(metrics["samples"]) == 3


def test_masked_model_trains_and_export_matches(tokenized, tmp_path):
    from transformers import AutoModelForMaskedLM

    summary = train(tokenized, "bert", "masked", tmp_path, max_steps=30)
    curve = losses(tmp_path / "bert")
    assert np.mean(list(curve.values())[-5:]) < np.mean(list(curve.values())[:5])
    assert AutoModelForMaskedLM.from_pretrained(str(tmp_path / "bert" / "hf")) is not None
    metrics = evaluate.run(str(tmp_path / "bert"), str(tokenized[0] / "packed" / "masked"), str(tmp_path / "m.json"))
    assert metrics["val_loss"] == pytest.approx(summary["val_loss_lightning"], abs=1e-4)
    assert 0 <= metrics["masked_accuracy"] <= 1


def test_same_run_twice_gives_the_same_loss_curve(tokenized, tmp_path):
    train(tokenized, "a", "causal", tmp_path, max_steps=6)
    train(tokenized, "b", "causal", tmp_path, max_steps=6)
    assert losses(tmp_path / "a") == losses(tmp_path / "b")


def test_resume_from_last_ckpt_continues_with_the_same_data(tokenized, tmp_path):
    train(tokenized, "straight", "causal", tmp_path, max_steps=10)
    first = train(tokenized, "resumed", "causal", tmp_path, max_steps=10, stop_at_step=5)
    assert first["steps"] == 5
    second = train(tokenized, "resumed", "causal", tmp_path, max_steps=10)
    assert second["steps"] == 10
    straight, resumed = losses(tmp_path / "straight"), losses(tmp_path / "resumed")
    assert sorted(resumed) == sorted(straight) == list(range(10))
    resumed_segment = pd.read_csv(tmp_path / "resumed" / "logs" / "csv" / "version_1" / "metrics.csv").dropna(subset=["train_loss"])
    assert resumed_segment.step.min() == 5  # the second run continued at step 5
    for step in straight:
        assert resumed[step] == pytest.approx(straight[step], rel=1e-5), step


def test_changed_settings_do_not_resume_a_stale_checkpoint(tokenized, tmp_path):
    train(tokenized, "m", "causal", tmp_path, max_steps=4)
    summary = train(tokenized, "m", "causal", tmp_path, max_steps=4, lr=1e-3)
    assert summary["steps"] == 4 and list((tmp_path / "m").glob("checkpoints.stale-*"))


def signal_at(moments: set):
    """A callback that sends this process SIGUSR1 at the given moments: "setup" (before the
    checkpoint is restored), a step number (the end of that step), "train_end" (before the export)."""
    import signal

    import lightning as L

    class SignalAt(L.Callback):
        def setup(self, trainer, pl_module, stage):
            if "setup" in moments:
                os.kill(os.getpid(), signal.SIGUSR1)

        def on_train_batch_end(self, trainer, *args):
            if trainer.global_step in moments:
                os.kill(os.getpid(), signal.SIGUSR1)

        def on_train_end(self, trainer, pl_module):
            if "train_end" in moments:
                os.kill(os.getpid(), signal.SIGUSR1)

    return SignalAt()


def test_requeue_signal_outside_slurm_checkpoints_at_a_step_boundary_and_training_goes_on(tokenized, tmp_path):
    from arkivlm import requeue_signal

    requeue_signal.install()
    out, _ = tokenized
    summary = pretrain.run({"name": "g", "type": "causal"}, str(out / "packed" / "causal"), str(out / "tokenizer"),
                           str(tmp_path / "g"), {**SMALL, "max_steps": 6}, callbacks=[signal_at({"setup", 3, "train_end"})])
    assert summary["steps"] == 6
    ckpts = tmp_path / "g" / "checkpoints"
    # the signal in setup is acted on after step 1, the one at the end of step 3 after step 4
    assert [torch_load_step(ckpts / f"hpc_ckpt_{n}.ckpt") for n in (1, 2)] == [1, 4]
    assert not (ckpts / "hpc_ckpt_3.ckpt").exists()
    requeue_signal._received.clear()  # the one sent after training, never acted on


def torch_load_step(path):
    import torch

    return torch.load(path, map_location="cpu", weights_only=False)["global_step"]


def test_requeue_signal_in_a_slurm_job_checkpoints_requeues_and_the_next_run_resumes(tokenized, tmp_path, monkeypatch):
    """The requeue itself is `scontrol requeue`, run against a real Slurm in test_slurm; here it
    is recorded, to check what training does around it."""
    from arkivlm import requeue_signal

    requeue_signal.install()
    asked = []
    monkeypatch.setattr(requeue_signal, "slurm_job_id", lambda: "4242")
    monkeypatch.setattr(requeue_signal, "requeue", lambda job: asked.append(job) or True)
    out, _ = tokenized
    entry, packed = {"name": "g", "type": "causal"}, str(out / "packed" / "causal")
    with pytest.raises(SystemExit) as stopped:
        pretrain.run(entry, packed, str(out / "tokenizer"), str(tmp_path / "g"), {**SMALL, "max_steps": 8},
                     callbacks=[signal_at({3})])
    assert stopped.value.code == pretrain.REQUEUED_EXIT and asked == ["4242"]
    ckpts = tmp_path / "g" / "checkpoints"
    assert torch_load_step(ckpts / "hpc_ckpt_1.ckpt") == 4 and not (tmp_path / "g" / "train_summary.json").exists()
    summary = pretrain.run(entry, packed, str(out / "tokenizer"), str(tmp_path / "g"), {**SMALL, "max_steps": 8})
    assert summary["steps"] == 8
    resumed = pd.read_csv(tmp_path / "g" / "logs" / "csv" / "version_1" / "metrics.csv").dropna(subset=["train_loss"])
    assert resumed.step.min() == 4


def test_two_process_ddp_on_cpu(tokenized, tmp_path):
    out, _ = tokenized
    settings = {**SMALL, "max_steps": 4, "devices": 2, "strategy": "ddp"}
    cmd = [sys.executable, "-m", "arkivlm", "pretrain", "--model", json.dumps({"name": "ddp", "type": "causal"}),
           "--settings", json.dumps(settings), "--packed", str(out / "packed" / "causal"), "--tokenizer", str(out / "tokenizer"),
           "--out", str(tmp_path / "ddp")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "PL_DISABLE_FORK": "1"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((tmp_path / "ddp" / "train_summary.json").read_text())
    assert summary["steps"] == 4 and summary["tokens_seen"] == 4 * 2 * 4 * 32  # both ranks' batches


def test_tokenizer_files_are_deterministic(tokenized, corpus, tmp_path):
    out, _ = tokenized
    tokenizer.train(str(corpus / "train"), str(corpus / "validation"), str(tmp_path / "again"), str(tmp_path / "s.json"),
                    {"causal": {"vocab_size": 1000}, "masked": {"vocab_size": 1000}})
    for rel in ("tokenizer.json", "masked/tokenizer.json", "hf/tokenizer.json"):
        assert (tmp_path / "again" / rel).read_bytes() == (out / "tokenizer" / rel).read_bytes(), rel


def test_fused_adamw_with_gradient_clipping_under_bf16_mixed(tmp_path):
    """What a GPU run does (fused AdamW, bf16-mixed, clipping at grad_clip), here on CPU: Lightning
    itself refuses to clip for a fused optimizer; the module clips by global norm instead."""
    import lightning as L
    import torch

    from arkivlm.train.module import PretrainModule
    from arkivlm.train.presets import model_config

    cfg = model_config("causal", "tiny", 300, {"eos": 0, "pad": 1},
                       {"hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 64})
    module = PretrainModule("causal", cfg, lr=1e-3, weight_decay=0.1, warmup_steps=1, max_steps=3, fused_adamw=True)
    norms = []


    def clipped_norm(module_self, optimizer, gradient_clip_val=None, gradient_clip_algorithm=None):
        PretrainModule.configure_gradient_clipping(module_self, optimizer, gradient_clip_val, gradient_clip_algorithm)
        norms.append(float(torch.norm(torch.stack([p.grad.norm() for p in module_self.model.parameters() if p.grad is not None]))))

    module.configure_gradient_clipping = clipped_norm.__get__(module)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(2, 300, (8, 17), generator=g)
    data = torch.utils.data.DataLoader([{"input_ids": r[:-1], "labels": r[1:]} for r in x], batch_size=4)
    trainer = L.Trainer(accelerator="cpu", precision="bf16-mixed", max_steps=3, gradient_clip_val=1e-3, logger=False,
                        enable_checkpointing=False, enable_progress_bar=False, default_root_dir=str(tmp_path))
    trainer.fit(module, train_dataloaders=data)
    assert trainer.optimizers[0].defaults["fused"] is True
    assert len(norms) == 3 and max(norms) <= 1e-3 * 1.01
