"""Hugging Face export: `save_pretrained` (safetensors), the tokenizer files, a model card."""

from __future__ import annotations

from pathlib import Path


def model_card(summary: dict, data_card: str | None) -> str:
    lines = [f"# {summary['model']}", "",
             f"A {summary['preset']} {'Llama-style causal' if summary['type'] == 'causal' else 'BERT-style masked'} "
             "language model for Swedish, trained by arkivlm on the National Library of Sweden's archive.", "",
             "## Training", "",
             f"- parameters: {summary['parameters']:,}", f"- optimizer steps: {summary['steps']}",
             f"- tokens seen: {summary['tokens_seen']:,}", f"- validation loss (Lightning): {summary['val_loss_lightning']:.4f}", ""]
    if data_card and Path(data_card).exists():
        lines += ["", Path(data_card).read_text().replace("# Data card", "## Data card", 1).replace("\n## ", "\n### ")]
    return "\n".join(lines)


def export(model, family: str, tokenizer_dir: str, out_dir: Path, summary: dict, data_card: str | None) -> None:
    import shutil

    from transformers import PreTrainedTokenizerFast

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    src = Path(tokenizer_dir) / ("hf" if family == "causal" else "masked/hf")
    PreTrainedTokenizerFast.from_pretrained(str(src)).save_pretrained(str(out_dir))
    (out_dir / "README.md").write_text(model_card(summary, data_card))
    shutil.copyfile(Path(tokenizer_dir) / ("tokenizer.json" if family == "causal" else "masked/tokenizer.json"),
                    out_dir / "tokenizer.json")
