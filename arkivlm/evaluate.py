"""Evaluate an exported model: validation loss and perplexity, overall, per modality and per decade
(of the documents' dates, where the archive gives them); masked
-token accuracy for masked models; a few greedy generations for causal ones.

The exported `hf/` directory is loaded with transformers' Auto classes, so these figures are
what a user of the export gets; the blocks and the masking are those of training's validation.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

PROMPTS = ["Regeringen meddelade i dag att", "I Stockholm", "Herr talman!"]


def evaluate_blocks(model, dataset, batch_size: int = 32) -> dict:
    """Loss (and masked accuracy) over `dataset`'s blocks (a Dataset, or an IterableDataset that
    streams them), one forward per batch on the model's device."""
    import torch
    from torch.utils.data import DataLoader

    from arkivlm.train.loss import loss_sums

    total, count, correct = 0.0, 0, 0
    masked = "MaskedLM" in type(model).__name__
    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        for batch in DataLoader(dataset, batch_size=batch_size):
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            loss, n, logits = loss_sums(model, batch, with_logits=True)
            total += float(loss)
            count += int(n)
            if masked:
                mask = batch["labels"] != -100
                correct += int((logits.argmax(-1)[mask] == batch["labels"][mask]).sum())
    if count == 0:
        return {}
    out = {"val_loss": round(total / count, 6), "perplexity": round(math.exp(total / count), 4), "tokens": count}
    if masked:
        out["masked_accuracy"] = round(correct / count, 4)
    return out


def run(model_dir: str, packed_dir: str, out_json: str, validation_dir: str | None = None, tasks: list[str] | None = None,
        tasks_out: str | None = None, settings: dict | None = None) -> dict:
    """Evaluates on `validation_dir` (default: `packed_dir`/validation); then on the downstream
    `tasks` (lm-eval YAML files, arkivlm.eval_tasks), written to `tasks_out` (default: tasks.json
    beside `out_json`; `{}` without tasks). Offline throughout: the HF libraries are told so first."""
    from arkivlm.eval_tasks import go_offline

    go_offline()
    import numpy as np
    import torch
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    from arkivlm.pack import PackedSplit
    from arkivlm.tokenizer import load
    from arkivlm.train.data import BlockDataset, stream_blocks, validation_blocks
    from arkivlm.train.pretrain import special_tokens

    model_dir = Path(model_dir)
    summary = json.loads((model_dir / "train_summary.json").read_text())
    family, s = summary["type"], summary["settings"]
    hf = model_dir / "hf"
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = (AutoModelForCausalLM if family == "causal" else AutoModelForMaskedLM).from_pretrained(str(hf)).to(device)
    tok = load(str(hf / "tokenizer.json"))
    special = special_tokens(tok, family)
    split = PackedSplit(validation_dir or f"{packed_dir}/validation")

    def dataset(tokens=None):
        ds = BlockDataset(split if tokens is None else None, s["block_size"], family, special, s["seed"] + 1,
                          s["mlm_probability"], tokens=tokens)
        ds.vocab_size, ds.doc_attention = tok.get_vocab_size(), bool(s.get("doc_attention"))
        return ds

    class Stream(torch.utils.data.IterableDataset):
        """The blocks of one modality's or one decade's documents, streamed from the shards."""

        def __init__(self, **selection):
            self.selection, self.template = selection, dataset(np.zeros(0, dtype=np.int64))

        def __iter__(self):
            return stream_blocks(split.token_runs(**self.selection), self.template)

    torch.manual_seed(0)
    # the blocks Lightning validated on (train.val_tokens' budget), so the two losses can be compared
    full = dataset()
    blocks = validation_blocks(len(full), s["block_size"], s.get("val_tokens"), count=summary.get("val_blocks"))
    metrics = evaluate_blocks(model, torch.utils.data.Subset(full, blocks.tolist()))
    metrics["per_modality"] = {}
    for modality in split.index["modalities"]:
        m = evaluate_blocks(model, Stream(modality=modality))
        if m:
            metrics["per_modality"][modality] = m
    metrics["per_decade"] = {}
    for decade in split.decades():
        m = evaluate_blocks(model, Stream(decade=decade))
        if m:
            metrics["per_decade"][f"{decade}s"] = m
    metrics.update(model=summary["model"], type=family, tokens_seen=summary["tokens_seen"], steps=summary["steps"],
                   val_loss_lightning=summary["val_loss_lightning"])
    if family == "causal":
        hf_tok = AutoTokenizer.from_pretrained(str(hf))
        samples = []
        for prompt in PROMPTS:
            ids = hf_tok(prompt, return_tensors="pt").input_ids.to(device)
            out = model.generate(ids, max_new_tokens=30, do_sample=False, pad_token_id=special["pad"])
            samples.append({"prompt": prompt, "generation": hf_tok.decode(out[0][ids.shape[1]:], skip_special_tokens=True)})
        metrics["samples"] = samples
    Path(out_json).parent.mkdir(parents=True, exist_ok=True)
    Path(out_json).write_text(json.dumps(metrics, indent=1, ensure_ascii=False))
    scores = {}
    if tasks:
        from arkivlm.eval_tasks import evaluate_tasks

        dtype = torch.bfloat16 if device == "cuda" else None
        scores = evaluate_tasks(model.to(dtype) if dtype else model, AutoTokenizer.from_pretrained(str(hf)), family, tasks,
                                batch_size=int((settings or {}).get("batch_size", 32)), dtype=dtype)
    from arkivlm.io import write_json

    write_json(scores, tasks_out or Path(out_json).with_name("tasks.json"))
    metrics["tasks"] = scores
    return metrics
