"""The ablation: variants of the corpus as token shards, the held-out set kept out of all of them,
equal training tokens, and a polluted variant that the held-out evaluation finds worse."""

import random

import pandas as pd
import pytest

from arkivlm import ablation


def swedish_transcripts(n: int) -> list[str]:
    """Real Swedish: newsreel speech transcripts of the journal-digital package, one per programme."""
    import srt

    from arkivlm.sample.journal_digital import package_corpus

    texts = []
    for path in sorted((package_corpus() / "speech").rglob("*.srt")):
        text = " ".join(c.content.replace("\n", " ") for c in srt.parse(path.read_text(encoding="utf-8")))
        if len(text.split()) >= 60:
            texts.append(text)
        if len(texts) == n:
            break
    assert len(texts) == n
    return texts


def shuffled_characters(text: str, seed: int) -> str:
    chars = list(text)
    random.Random(seed).shuffle(chars)
    return "".join(chars)


def frame(texts: list[str], prefix: str) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"{prefix}{i:05d}" for i in range(len(texts))], "source": "speech", "modality": "transcript",
                         "date": "1940", "text": texts})


@pytest.mark.slow
def test_polluted_variant_has_worse_heldout_perplexity_on_equal_tokens(spark, tmp_path):
    from arkivlm import evaluate, pack, tokenizer
    from arkivlm.train import pretrain

    texts = swedish_transcripts(240)
    heldout, train = texts[:40], texts[40:]
    # a third of the polluted variant's documents are the same text with its characters shuffled
    polluted = [shuffled_characters(t, i) if i % 3 == 0 else t for i, t in enumerate(train)]
    corpus = tmp_path / "corpus"
    for split, rows in (("train", train), ("validation", heldout)):
        (corpus / split).mkdir(parents=True)
        frame(rows, split).to_parquet(corpus / split / "part-0.parquet")
    tokenizer.train(str(corpus / "train"), str(corpus / "validation"), str(tmp_path / "tok"), str(tmp_path / "tok.json"),
                    {"causal": {"vocab_size": 800}, "masked": {"vocab_size": 800}})
    tok_file = str(tmp_path / "tok" / "tokenizer.json")
    pack.run(tok_file, "causal", str(corpus / "train"), str(corpus / "validation"), str(tmp_path / "packed"))

    settings = {"max_steps": 60, "batch_size": 8, "block_size": 64, "lr": 0.003, "warmup_steps": 5, "val_every_steps": 60,
                "checkpoint_every_steps": 60, "log_every_steps": 10,
                "model_overrides": {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2, "intermediate_size": 128}}
    results = {}
    for name, rows in (("clean", train), ("polluted", polluted)):
        built = ablation.write_variant(spark.createDataFrame(frame(rows, "t")), 2, tok_file, "causal", tmp_path / "data" / name)
        assert built["docs"] == len(rows)
        model_dir = tmp_path / "models" / name
        pretrain.run(ablation.model_entry({}, name), str(tmp_path / "data" / name), str(tmp_path / "tok"), str(model_dir), settings,
                     validation_dir=str(tmp_path / "packed" / "validation"))
        results[name] = evaluate.run(str(model_dir), str(tmp_path / "packed"), str(tmp_path / "eval" / f"{name}.json"))
    assert results["clean"]["tokens_seen"] == results["polluted"]["tokens_seen"] == 60 * 8 * 64
    assert results["clean"]["tokens"] == results["polluted"]["tokens"]  # the same held-out tokens
    assert results["polluted"]["perplexity"] > results["clean"]["perplexity"] * 1.05, results


def test_token_shards_decode_to_the_variant_and_are_deterministic(spark, tmp_path):
    """Spark tasks write pack's shard format; the same rows give the same bytes in any order."""
    from arkivlm import tokenizer
    from arkivlm.pack import PackedSplit

    texts = swedish_transcripts(30)
    (tmp_path / "c" / "train").mkdir(parents=True)
    frame(texts, "d").to_parquet(tmp_path / "c" / "train" / "part-0.parquet")
    tokenizer.train(str(tmp_path / "c" / "train"), str(tmp_path / "c" / "train"), str(tmp_path / "tok"), str(tmp_path / "s.json"),
                    {"causal": {"vocab_size": 600}, "masked": {"vocab_size": 600}})
    tok_file = str(tmp_path / "tok" / "tokenizer.json")
    df = frame(texts, "d")
    a = ablation.write_variant(spark.createDataFrame(df), 3, tok_file, "causal", tmp_path / "a")
    b = ablation.write_variant(spark.createDataFrame(df.sample(frac=1, random_state=1)), 3, tok_file, "causal", tmp_path / "b")
    assert a == b and a["docs"] == 30
    for f in sorted((tmp_path / "a" / "train").glob("shard_*")):
        assert f.read_bytes() == (tmp_path / "b" / "train" / f.name).read_bytes()
    tok = tokenizer.load(tok_file)
    decoded = {tok.decode(ids.tolist()) for _, ids in PackedSplit(tmp_path / "a" / "train").documents()}
    assert decoded == {tok.decode(tok.encode(t, add_special_tokens=False).ids) for t in texts}
    manifest = pd.read_parquet(tmp_path / "a" / "docs")
    assert sorted(manifest.id) == sorted(df.id) and manifest.tokens.sum() == a["tokens"]


def test_copies_of_heldout_documents_are_found(spark):
    """The held-out check: an OCR-noised copy and a cropped copy are found, unrelated text is not."""
    from arkivlm.dedup import DEFAULTS

    texts = swedish_transcripts(6)
    held = frame(texts[:3], "h")
    noisy = texts[0].replace("m", "rn").replace("l", "1")
    cropped = " ".join(texts[1].split()[5:-5])
    cands = frame([noisy, cropped, texts[3], texts[4]], "c")
    pairs = ablation.copy_pairs(ablation.keyed(spark.createDataFrame(cands), DEFAULTS),
                                ablation.keyed(spark.createDataFrame(held), DEFAULTS), DEFAULTS).collect()
    assert sorted((r.a, r.b) for r in pairs) == [("c00000", "h00000"), ("c00001", "h00001")]


def test_summary_averages_seeds_and_judges_differences_against_their_spread(tmp_path):
    import json
    import math

    built = {"heldout": {"docs": 10, "tokens": 1000, "excluded_ids": 12},
             "variants": {v: {"docs": 5, "tokens": 500, "copies_of_heldout": 0, "docs_not_in_full": 0} for v in ("full", "no_quality", "no_dedup")}}
    (tmp_path / "variants.json").write_text(json.dumps(built))
    losses = {"full": (5.00, 5.02), "no_quality": (5.20, 5.22), "no_dedup": (5.01, 4.99)}
    for v, pair in losses.items():
        (tmp_path / "eval" / v).mkdir(parents=True)
        for seed, loss in zip((1, 2), pair):
            m = {"val_loss": loss, "perplexity": math.exp(loss), "tokens_seen": 640, "steps": 10,
                 "per_modality": {"text": {"val_loss": loss + 0.5}}, "per_decade": {}}
            (tmp_path / "eval" / v / f"seed_{seed}.json").write_text(json.dumps(m))
    s = ablation.summarize(str(tmp_path / "variants.json"), str(tmp_path / "eval"), str(tmp_path / "summary.json"))
    assert s["variants"]["full"]["heldout_loss"] == pytest.approx(5.01)
    assert s["variants"]["full"]["heldout_perplexity"] == pytest.approx(math.exp(5.01), rel=1e-4)
    assert s["variants"]["no_quality"]["per_modality"]["text"]["heldout_loss"] == pytest.approx(5.71)
    assert set(s["variants"]["full"]["seeds"]) == {1, 2}
    assert s["seed_spread"] == pytest.approx(math.exp(0.02) - 1, rel=1e-3)
    quality, dedup = s["findings"]
    assert "no_quality" in quality and "full pipeline is better" in quality
    assert "no_dedup" in dedup and "within the spread between seeds" in dedup
    md = ablation.markdown_section(s)
    assert "| no_quality | 5 | 0 | 500 | 640 |" in md
