"""The loss training and evaluation share, without Lightning (evaluation does not import it)."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def loss_sums(model, batch: dict, with_logits: bool = False):
    """(summed token cross-entropy, number of predicted tokens[, logits]) — shared by training and
    evaluation so the two report the same validation loss."""
    extra = {}
    if "doc_ids" in batch:  # document-boundary attention: causal within each document of the block
        doc = batch["doc_ids"]
        causal = torch.tril(torch.ones(doc.size(1), doc.size(1), dtype=torch.bool, device=doc.device))
        extra = {"attention_mask": ((doc[:, :, None] == doc[:, None, :]) & causal)[:, None], "position_ids": batch["position_ids"]}
    logits = model(input_ids=batch["input_ids"], **extra).logits
    labels = batch["labels"]
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)).float(), labels.reshape(-1), ignore_index=-100, reduction="sum")
    return (loss, (labels != -100).sum(), logits) if with_logits else (loss, (labels != -100).sum())
