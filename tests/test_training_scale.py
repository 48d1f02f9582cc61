"""What a many-rank run relies on, checked on CPU: the blocks of a step do not depend on how many
ranks share it, validation is a fixed budget with equal batches on every rank, masks change every
epoch, evaluation streams its per-modality blocks, and a run resumed on another number of ranks
keeps its global batch (or refuses, naming the settings)."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from arkivlm.train.data import BlockDataset, ResumableSampler, stream_blocks, validation_blocks
from arkivlm.train.pretrain import GlobalBatchMismatch, checkpoint_complete, global_batch_accumulation
from tests.test_models import SMALL, corpus, tokenized  # noqa: F401  (module fixtures)

SPECIAL = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4, "no_mask": [0, 1, 2, 3, 4]}


def step_blocks(n, batch, acc, world, seed, steps):
    """{step: sorted blocks} of ResumableSampler on `world` ranks with `acc` micro-batches a step."""
    per_rank = (n // world // batch) // acc * acc
    out = {}
    for rank in range(world):
        order = list(ResumableSampler(n, per_rank, batch, seed, rank, world, lambda: (0, 0)))
        for micro in range(len(order) // batch):
            out.setdefault(micro // acc, []).extend(order[micro * batch:(micro + 1) * batch])
    return {k: sorted(v) for k, v in out.items() if k < steps}


def test_the_blocks_of_a_step_do_not_depend_on_the_number_of_ranks():
    one = step_blocks(1000, 4, 4, 1, 7, 50)
    assert one == step_blocks(1000, 4, 2, 2, 7, 50) == step_blocks(1000, 4, 1, 4, 7, 50)
    assert len(one) == 50 and all(len(v) == 16 for v in one.values())
    assert step_blocks(1000, 4, 1, 2, 7, 50) != step_blocks(1000, 4, 1, 4, 7, 50)  # another global batch, other steps


def test_validation_is_a_fixed_budget_with_equal_blocks_per_rank():
    n, block = 1001, 128
    for world in (1, 2, 3, 8):
        blocks = validation_blocks(n, block, 100 * block, world)
        per_rank = [blocks[r::world] for r in range(world)]
        assert len({len(p) for p in per_rank}) == 1 and len(blocks) <= 100 and len(blocks) > 100 - world
        assert len(set(blocks.tolist())) == len(blocks) and blocks.min() == 0 and blocks.max() > n * 0.9  # spread over the split
    assert (validation_blocks(n, block, 100 * block, 2) == validation_blocks(n, block, 100 * block, 2)).all()
    assert len(validation_blocks(n, block, None, 1)) == n  # no budget: every block
    with pytest.raises(ValueError, match="val_tokens"):
        validation_blocks(3, block, None, 4)


def test_masks_change_every_epoch_and_are_the_same_in_every_run():
    tokens = np.arange(5, 5 + 64 * 10) % 200 + 5
    ds = BlockDataset(None, 64, "masked", SPECIAL, seed=3, tokens=tokens)
    ds.vocab_size = 300
    n = len(ds)
    epoch0, epoch1 = ds[2]["labels"], ds[2 + n]["labels"]
    assert not torch.equal(epoch0, epoch1)  # new masks in the next epoch
    assert torch.equal(ds[2 + n]["labels"], epoch1)  # and the same whenever asked
    sampler = ResumableSampler(n, n // 2, 2, 0, 0, 1, lambda: (1, 0))
    assert all(i >= n for i in sampler)  # the sampler hands the epoch to the dataset


def test_streamed_blocks_equal_the_blocks_of_the_concatenation():
    rng = np.random.default_rng(0)
    runs = [rng.integers(5, 300, size=int(k)) for k in rng.integers(1, 90, size=40)]
    for family in ("causal", "masked"):
        whole = BlockDataset(None, 32, family, {**SPECIAL, "eos": 0}, seed=1, tokens=np.concatenate(runs))
        whole.vocab_size = 300
        streamed = list(stream_blocks(runs, whole))
        assert len(streamed) == len(whole) > 0
        for i, item in enumerate(streamed):
            assert all(torch.equal(item[k], whole[i][k]) for k in item), (family, i)


def test_a_resumed_run_keeps_its_global_batch_on_other_ranks(tmp_path):
    s = {"batch_size": 4, "accumulate": 2}
    assert global_batch_accumulation(tmp_path, s, world=4, resuming=False) == 2  # records 4 x 2 x 4 = 32
    assert json.loads((tmp_path / "global_batch.json").read_text())["global_batch"] == 32
    assert global_batch_accumulation(tmp_path, s, world=1, resuming=True) == 8
    assert global_batch_accumulation(tmp_path, s, world=8, resuming=True) == 1
    with pytest.raises(GlobalBatchMismatch, match="train.devices x train.num_nodes"):
        global_batch_accumulation(tmp_path, s, world=3, resuming=True)
    assert global_batch_accumulation(tmp_path, s, world=3, resuming=False) == 2  # nothing to resume: a new start


def pretrain_command(tokenized, family, out, **settings):
    packed, tok = tokenized[0] / "packed" / family, tokenized[0] / "tokenizer"
    return [sys.executable, "-m", "arkivlm", "pretrain", "--model", json.dumps({"name": out.name, "type": family}),
            "--settings", json.dumps({**SMALL, **settings}), "--packed", str(packed), "--tokenizer", str(tok), "--out", str(out)]


ENV = {**os.environ, "PL_DISABLE_FORK": "1"}


def run_pretrain(tokenized, family, out, **settings):
    proc = subprocess.run(pretrain_command(tokenized, family, out, **settings), capture_output=True, text=True, timeout=900, env=ENV)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "train_summary.json").read_text()), proc.stdout + proc.stderr


def killed_after_first_checkpoint(tokenized, family, out, **settings):
    """Start a run and SIGKILL it (every rank) once its first sharded checkpoint is complete."""
    proc = subprocess.Popen(pretrain_command(tokenized, family, out, **settings), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=ENV, start_new_session=True)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if any(checkpoint_complete(p) for p in (out / "checkpoints").glob("step*.ckpt")):
            break
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # the kill lands up to a poll later: a small model may have written a later checkpoint by then,
    # which the resumed run would start from; keep only the first, as if killed right after it
    ckpts = out / "checkpoints"
    complete = sorted((p for p in ckpts.glob("step*.ckpt") if checkpoint_complete(p)), key=lambda p: (p / "meta.pt" if p.is_dir() else p).stat().st_mtime_ns)
    for p in ckpts.iterdir():
        if complete and p != complete[0]:
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    return sorted(p.name for p in ckpts.glob("step*.ckpt"))


@pytest.mark.parametrize("family", ["causal", "masked"])
def test_fsdp_on_two_cpu_ranks_checkpoints_resumes_on_fewer_ranks_and_exports(tokenized, tmp_path, family):  # noqa: F811
    """The real `python -m arkivlm pretrain` with strategy fsdp on two gloo ranks: killed after its
    first sharded checkpoint, resumed on the same two ranks, then on one rank (accumulating two
    micro-batches to keep the global batch of 8), exported. The export reloads with the Auto
    classes, has the model's whole parameter count, and gives Lightning's validation loss; and the
    run ends where an uninterrupted single-rank run with the same global batch ends."""
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    from arkivlm import evaluate

    fsdp = {"strategy": "fsdp", "accelerator": "cpu", "max_steps": 6, "accumulate": 1, "checkpoint_every_steps": 2}
    out = tmp_path / "sharded"
    written = killed_after_first_checkpoint(tokenized, family, out, **fsdp, devices=2)
    assert written and all((out / "checkpoints" / name).is_dir() for name in written)  # one shard per rank in a directory
    assert len(list((out / "checkpoints" / written[0]).glob("*.distcp"))) == 2
    first, _ = run_pretrain(tokenized, family, out, **fsdp, devices=2, stop_at_step=4)
    assert first["steps"] == 4 and first["ranks"] == 2 and first["global_batch"] == 8
    resumed, log = run_pretrain(tokenized, family, out, **fsdp, devices=1)
    assert "2 micro-batches per step" in log
    assert resumed["steps"] == 6 and resumed["ranks"] == 1 and resumed["accumulate"] == 2 and resumed["global_batch"] == 8
    assert resumed["tokens_seen"] == 6 * 8 * (32 + (family == "masked"))

    auto = AutoModelForCausalLM if family == "causal" else AutoModelForMaskedLM
    model = auto.from_pretrained(str(out / "hf"))
    assert sum(p.numel() for p in model.parameters()) == resumed["parameters"] > 50_000
    metrics = evaluate.run(str(out), str(tokenized[0] / "packed" / family), str(tmp_path / "metrics.json"))
    assert metrics["val_loss"] == pytest.approx(resumed["val_loss_lightning"], abs=1e-4)

    if family == "causal":  # the same steps as one rank accumulating two micro-batches from the start
        straight, _ = run_pretrain(tokenized, family, tmp_path / "straight", max_steps=6, accumulate=2, devices=1)
        assert straight["tokens_seen"] == resumed["tokens_seen"]
        assert resumed["val_loss_lightning"] == pytest.approx(straight["val_loss_lightning"], abs=2e-3)


def test_large_presets_have_their_sizes_and_are_sharded():
    """3b and 7b decoders and a 1b encoder (parameters counted on the meta device, vocabulary 64k)
    train with FSDP unless a model says otherwise."""
    from arkivlm.train.presets import model_config, train_defaults
    from arkivlm.train.pretrain import parameter_count

    special = {"eos": 0, "pad": 1}
    sizes = {("causal", "3b"): (3.0e9, 3.6e9), ("causal", "7b"): (6.5e9, 7.2e9), ("masked", "1b"): (0.9e9, 1.2e9)}
    for (family, preset), (lo, hi) in sizes.items():
        n = parameter_count(family, model_config(family, preset, 64_000, special))
        assert lo < n < hi, (preset, n)
        assert train_defaults(family, preset)["strategy"] == "fsdp"
    assert train_defaults("causal", "125m") == {}


def test_document_boundary_attention_sees_each_document_alone():
    """With doc_attention a packed block's second document gets the logits it gets alone."""
    from arkivlm.train.data import document_positions
    from arkivlm.train.module import loss_sums
    from arkivlm.train.presets import build_model, model_config

    ids = torch.tensor([7, 8, 0, 9, 10, 11, 0, 12])
    pos = document_positions(ids, separator=0)
    assert pos["doc_ids"].tolist() == [0, 0, 0, 1, 1, 1, 1, 2]
    assert pos["position_ids"].tolist() == [0, 1, 2, 0, 1, 2, 3, 0]

    torch.manual_seed(0)
    cfg = model_config("causal", "tiny", 300, {"eos": 0, "pad": 1},
                       {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 64})
    model = build_model("causal", cfg).eval()
    first, second = torch.randint(2, 300, (12,)), torch.randint(2, 300, (9,))
    packed = torch.cat([first, torch.tensor([0]), second])
    batch = {"input_ids": packed[None], "labels": packed[None], **{k: v[None] for k, v in document_positions(packed, 0).items()}}
    with torch.no_grad():
        _, _, logits = loss_sums(model, batch, with_logits=True)
        alone = model(input_ids=second[None]).logits
        plain = model(input_ids=packed[None]).logits
    assert torch.allclose(logits[0, 13:], alone[0], atol=1e-5)
    assert not torch.allclose(plain[0, 13:], alone[0], atol=1e-3)  # without it the first document leaks in


def test_doc_attention_trains_and_evaluates_alike(tokenized, tmp_path):  # noqa: F811
    from arkivlm import evaluate
    from arkivlm.train import pretrain

    out = tokenized[0]
    summary = pretrain.run({"name": "d", "type": "causal", "preset": "tiny"}, str(out / "packed" / "causal"), str(out / "tokenizer"),
                           str(tmp_path / "d"), {**SMALL, "max_steps": 4, "doc_attention": True})
    metrics = evaluate.run(str(tmp_path / "d"), str(out / "packed" / "causal"), str(tmp_path / "m.json"))
    assert metrics["val_loss"] == pytest.approx(summary["val_loss_lightning"], abs=1e-4)
    with pytest.raises(ValueError, match="train.doc_attention"):
        pretrain.run({"name": "b", "type": "masked", "preset": "tiny"}, str(out / "packed" / "masked"), str(out / "tokenizer"),
                     str(tmp_path / "b"), {**SMALL, "doc_attention": True})
