"""Hugging Face export: `save_pretrained` (safetensors), the tokenizer files, a model card."""

from __future__ import annotations

import json
from pathlib import Path


def model_card(summary: dict, stats_dir: str | None) -> str:
    lines = [f"# {summary['model']}", "",
             f"A {summary['preset']} {'Llama-style causal' if summary['type'] == 'causal' else 'BERT-style masked'} "
             "language model for Swedish, trained by arkivlm on the National Library of Sweden's archive.", "",
             "## Training", "",
             f"- parameters: {summary['parameters']:,}", f"- optimizer steps: {summary['steps']}",
             f"- tokens seen: {summary['tokens_seen']:,}", f"- validation loss (Lightning): {summary['val_loss_lightning']:.4f}", ""]
    data_card = Path(stats_dir or "") / "data_card.md" if stats_dir else None
    if data_card and data_card.exists():
        lines += [data_card.read_text()]
    elif stats_dir and Path(stats_dir).exists():
        lines += ["## Corpus", "", "| stage | docs in | docs out | dropped |", "|---|---|---|---|"]
        for f in sorted(Path(stats_dir).glob("*.json")):
            st = json.loads(f.read_text())
            if "docs_in" in st:
                lines.append(f"| {st.get('stage', f.stem)} | {st['docs_in']} | {st['docs_out']} | "
                             f"{', '.join(f'{k}: {v}' for k, v in st.get('dropped', {}).items()) or '-'} |")
        lines.append("")
    return "\n".join(lines)


def export(model, family: str, tokenizer_dir: str, out_dir: Path, summary: dict, stats_dir: str | None) -> None:
    import shutil

    from transformers import PreTrainedTokenizerFast

    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(str(out_dir), safe_serialization=True)
    src = Path(tokenizer_dir) / ("hf" if family == "causal" else "masked/hf")
    PreTrainedTokenizerFast.from_pretrained(str(src)).save_pretrained(str(out_dir))
    (out_dir / "README.md").write_text(model_card(summary, stats_dir))
    shutil.copyfile(Path(tokenizer_dir) / ("tokenizer.json" if family == "causal" else "masked/tokenizer.json"),
                    out_dir / "tokenizer.json")
