"""Tokenizers, trained with HF `tokenizers` on the train split, streamed from Parquet.

- causal: byte-level BPE (every byte representable, so any text round-trips exactly), digits
  split one by one, NFC normalisation only: case, å/ä/ö and whitespace are kept.
- masked: WordPiece with BERT's special tokens, NFC, no lower-casing and no accent stripping
  (Swedish letters are letters, not accented variants); its pieces come from a deterministic BPE
  training (see `build_masked`).

Memory stays bounded: texts reach the trainer in Arrow record batches, never as one list.
Fertility (tokens per whitespace word) is measured per modality on the validation split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

DEFAULTS = {
    "batch_rows": 1000,
    "causal": {"vocab_size": 8000, "min_frequency": 2,
               "special_tokens": ["<|endoftext|>", "<|pad|>"]},
    "masked": {"vocab_size": 8000, "min_frequency": 2,
               "special_tokens": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]},
}


def iter_texts(parquet_dir: str, batch_rows: int = 1000, columns=("text",)) -> Iterator[list[str]]:
    import pyarrow.dataset as ds

    dataset = ds.dataset(parquet_dir, format="parquet")
    for batch in dataset.to_batches(columns=list(columns), batch_size=batch_rows):
        yield batch.column("text").to_pylist()


def build_causal(settings: dict):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=settings["vocab_size"], min_frequency=settings["min_frequency"],
                                  special_tokens=settings["special_tokens"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    return tok, trainer


def _masked_pipeline(tok):
    from tokenizers import normalizers, pre_tokenizers

    tok.normalizer = normalizers.Sequence([normalizers.NFC(), normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=False, lowercase=False)])
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.BertPreTokenizer(), pre_tokenizers.Digits(individual_digits=True)])
    return tok


def build_masked(settings: dict):
    """The masked tokenizer is trained as a character-level BPE and turned into WordPiece by
    `finish_masked`: `tokenizers`' own WordPieceTrainer numbers its ##-pieces in hash order, so
    two runs on the same corpus give different vocabularies; this way they are byte-identical."""
    from tokenizers import Tokenizer, models, trainers

    tok = _masked_pipeline(Tokenizer(models.BPE(unk_token="[UNK]")))
    specials = settings["special_tokens"]
    trainer = trainers.BpeTrainer(vocab_size=max(len(specials) + 1, (settings["vocab_size"] + len(specials)) // 2),
                                  min_frequency=settings["min_frequency"], special_tokens=specials, show_progress=False)
    return tok, trainer


def finish_masked(bpe_tok):
    """WordPiece over the BPE pieces: each piece usable at the start of a word and, as ##piece, inside one."""
    from tokenizers import Tokenizer, decoders, models, processors

    pieces = sorted(bpe_tok.get_vocab().items(), key=lambda kv: kv[1])
    specials = {t for t, _ in pieces if t.startswith("[") and t.endswith("]")}
    vocab: dict[str, int] = {}
    for token, _ in pieces:
        vocab.setdefault(token, len(vocab))
    for token, _ in pieces:
        if token not in specials:
            vocab.setdefault("##" + token, len(vocab))
    tok = _masked_pipeline(Tokenizer(models.WordPiece(vocab=vocab, unk_token="[UNK]", continuing_subword_prefix="##")))
    tok.decoder = decoders.WordPiece()
    cls, sep = vocab["[CLS]"], vocab["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B [SEP]",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    return tok


def hf_tokenizer(tok, family: str):
    from transformers import PreTrainedTokenizerFast

    if family == "causal":
        return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>",
                                       unk_token="<|endoftext|>", pad_token="<|pad|>", clean_up_tokenization_spaces=False)
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]", clean_up_tokenization_spaces=False)


def fertility(tok, validation_dir: str, batch_rows: int) -> dict:
    """Tokens per whitespace-separated word, per modality (special tokens not counted)."""
    import pyarrow.dataset as ds

    totals: dict[str, list[int]] = {}
    for batch in ds.dataset(validation_dir, format="parquet").to_batches(columns=["text", "modality"], batch_size=batch_rows):
        texts, modalities = batch.column("text").to_pylist(), batch.column("modality").to_pylist()
        for text, modality, enc in zip(texts, modalities, tok.encode_batch(texts, add_special_tokens=False)):
            t = totals.setdefault(modality, [0, 0])
            t[0] += len(enc.ids)
            t[1] += len(text.split())
    return {m: {"tokens": t, "words": w, "fertility": round(t / w, 4) if w else None} for m, (t, w) in sorted(totals.items())}


def train(train_dir: str, validation_dir: str, out_dir: str, out_stats: str, settings: dict | None = None) -> dict:
    from arkivlm.io import write_json

    s = {**DEFAULTS, **(settings or {})}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stats = {"stage": "tokenizer"}
    for family, build in (("causal", build_causal), ("masked", build_masked)):
        fs = {**DEFAULTS[family], **s.get(family, {})}
        tok, trainer = build(fs)
        tok.train_from_iterator(iter_texts(train_dir, s["batch_rows"]), trainer=trainer)
        if family == "masked":
            tok = finish_masked(tok)
        target = out if family == "causal" else out / "masked"
        target.mkdir(parents=True, exist_ok=True)
        tok.save(str(target / "tokenizer.json"))
        hf_tokenizer(tok, family).save_pretrained(str(target / "hf"))
        stats[family] = {"vocab_size": tok.get_vocab_size(), "settings": fs,
                         "fertility": fertility(tok, validation_dir, s["batch_rows"])}
    write_json(stats, out_stats)
    return stats


def load(path: str):
    from tokenizers import Tokenizer

    return Tokenizer.from_file(path)


def tokenizer_path(tokenizer_dir: str, family: str) -> str:
    return str(Path(tokenizer_dir) / ("tokenizer.json" if family == "causal" else "masked/tokenizer.json"))

