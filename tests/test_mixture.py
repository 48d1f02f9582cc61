"""The data mixture: shares of tokens seen per group, repetition and subsampling, resumption on
other ranks, the budget checks, and rehydration from dedup's own records."""

import json

import numpy as np
import pandas as pd
import pytest

from arkivlm import pack
from arkivlm.pack import PackedSplit
from arkivlm.train.data import MixtureDataset, MixtureSampler
from arkivlm.train.mixture import MixtureError, MixtureStream, check_config, permute, permute_one, plan, round_keys
from tests.test_models import SMALL, corpus, losses, tokenized  # noqa: F401  (module fixtures)

SOURCES = ["news", "speech", "subs", "books"]
MODALITY = {"news": "text", "speech": "transcript", "subs": "subtitle", "books": "text"}
SPECIAL = {"pad": 0, "unk": 1, "cls": 2, "sep": 3, "mask": 4, "no_mask": [0, 1, 2, 3, 4], "eos": 5}


def write_split(root, docs, shard_docs=50, seed=0):
    """A packed split of `docs` ((source, decade, copies, tokens) each), its shards grouped by
    stratum as pack writes them; every token of a source's documents is 100 + the source's code,
    so a block tells which sources it was drawn from."""
    rng = np.random.default_rng(seed)
    docs = [docs[i] for i in rng.permutation(len(docs))]
    root.mkdir(parents=True, exist_ok=True)
    shards, tables = [], []
    for first in range(0, len(docs), shard_docs):
        part = docs[first:first + shard_docs]
        buf, rows, n = [], [], 0
        for source, decade, copies, length in part:
            code = SOURCES.index(source)
            ids = np.r_[np.full(length - 1, 100 + code), [5]]
            rows.append((n, n + length - 1, pack.MODALITIES.index(MODALITY[source]), decade, code, copies))
            buf.append(ids)
            n += length
        buf, table = pack.grouped_by_stratum(buf, rows)
        name = f"shard_{len(shards):05d}"
        np.concatenate(buf).astype(np.uint16).tofile(root / f"{name}.bin")
        np.save(root / f"{name}.docs.npy", table)
        tables.append(table)
        shards.append({"file": f"{name}.bin", "docs": f"{name}.docs.npy", "tokens": int(n), "n_docs": len(part)})
    index = {"family": "causal", "dtype": "uint16", "separator": 5, "vocab_size": 200, "modalities": pack.MODALITIES,
             "shards": shards, "tokens": sum(s["tokens"] for s in shards), "docs": len(docs), "sources": SOURCES,
             "strata": pack.stratum_totals(tables)}
    (root / "index.json").write_text(json.dumps(index))
    return PackedSplit(root)


def corpus_docs():
    """news: many tokens; speech: few (must repeat); subs and books in between."""
    rng = np.random.default_rng(1)
    docs = [("news", 1950 + 10 * int(rng.integers(0, 2)), 1, int(rng.integers(40, 400))) for _ in range(300)]
    docs += [("speech", 1960, 1, int(rng.integers(20, 80))) for _ in range(30)]
    docs += [("subs", -1, 1, int(rng.integers(30, 120))) for _ in range(60)]
    docs += [("books", 1880, 1, int(rng.integers(50, 300))) for _ in range(40)]
    return docs


MIX = {"groups": [{"name": "speech", "where": {"modality": ["transcript"]}, "weight": 0.3},
                  {"name": "old", "where": {"decade": [1880]}, "weight": 0.2},
                  {"name": "subs", "where": {"source": ["subs"]}, "weight": 0.1}],
       "other_weight": None, "max_epochs": 20, "rehydrate": False}


def source_shares(stream, positions):
    """Tokens seen per source over `positions`, read from the blocks' own tokens."""
    counts = np.zeros(len(SOURCES))
    for p in positions:
        window = stream.window(p)[:-1]
        window = window[window >= 100] - 100
        counts += np.bincount(window, minlength=len(SOURCES))
    return counts / counts.sum()


@pytest.mark.parametrize("mixture, expected", [
    (MIX, {"speech": 0.3, "books": 0.2, "subs": 0.1, "news": 0.4}),
    ({**MIX, "groups": [{"name": "speech", "where": {"source": ["speech"]}, "weight": 0.5}], "other_weight": 0.5},
     None),
    ({"groups": [{"name": "news", "where": {"source": ["news"]}, "weight": 0.05},
                 {"name": "books", "where": {"source": ["books"]}, "weight": 0.6}], "max_epochs": 20},
     {"news": 0.05, "books": 0.6}),
])
def test_tokens_seen_per_group_follow_the_weights(tmp_path, mixture, expected):
    split = write_split(tmp_path / "train", corpus_docs())
    stream = MixtureStream(split, mixture, 16, "causal", seed=3)
    shares = source_shares(stream, range(4000))
    if expected is None:  # speech one half; the rest in its natural proportion
        natural = {s: sum(d[3] for d in corpus_docs() if d[0] == s) for s in ("news", "subs", "books")}
        rest = sum(natural.values())
        expected = {"speech": 0.5, **{s: 0.5 * t / rest for s, t in natural.items()}}
    if "subs" not in expected:  # the other documents: what the two groups leave
        expected = {**expected, "rest": 1 - sum(expected.values())}
        shares = {"news": shares[0], "books": shares[3], "rest": shares[1] + shares[2]}
    else:
        shares = dict(zip(SOURCES, shares))
    for name, target in expected.items():
        # blocks that straddle two documents of other sources blur the shares a little, so the
        # tokens are read from the blocks themselves, within 1% of all tokens seen
        assert abs(shares[name] - target) < 0.01, (name, shares[name], target)


def test_a_small_group_repeats_in_new_orders_and_a_large_one_is_subsampled(tmp_path):
    split = write_split(tmp_path / "train", corpus_docs())
    stream = MixtureStream(split, MIX, 16, "causal", seed=3)
    speech = stream.groups.index(next(g for g in stream.groups if g.name == "speech"))
    n = stream.virtual[speech]
    blocks = [stream.block(speech, k)[1] for k in range(3 * n)]
    passes = [blocks[i * n:(i + 1) * n] for i in range(3)]
    assert all(sorted(p) == list(range(n)) for p in passes)  # every block once a pass
    assert passes[0] != passes[1] != passes[2]  # each pass in its own order
    other = len(stream.groups) - 1
    seen = stream.seen_blocks(2000)
    assert seen["other"] < stream.virtual[other]  # news is subsampled: fewer of its blocks than it has
    drawn = {stream.block(other, k)[1] for k in range(seen["other"])}
    assert len(drawn) == seen["other"]  # without repeats


def test_permutation_is_a_bijection_for_any_size():
    for n in (1, 2, 3, 7, 64, 1000, 4097):
        assert sorted(permute(np.arange(n), n, 11).tolist()) == list(range(n))
    assert permute(np.arange(1000), 1000, 1).tolist() != permute(np.arange(1000), 1000, 2).tolist()
    for n, key in ((1000, 5), (4097, 2**63 + 7)):  # the one-index path the sampler takes is the same permutation
        assert [permute_one(i, n, round_keys(key)) for i in range(n)] == permute(np.arange(n), n, key).tolist()


def step_positions(batches_per_rank, batch, acc, world, epoch, skip=0):
    """{step: sorted positions} a run on `world` ranks trains on in `epoch`, from `skip` micro-batches on."""
    out = {}
    for rank in range(world):
        order = list(MixtureSampler(batches_per_rank, batch, rank, world, lambda: (epoch, skip)))
        for micro in range(len(order) // batch):
            out.setdefault((micro + skip) // acc, []).extend(order[micro * batch:(micro + 1) * batch])
    return {k: sorted(v) for k, v in out.items()}


def test_a_run_resumed_mid_epoch_on_other_ranks_sees_the_blocks_of_an_uninterrupted_run(tmp_path):
    split = write_split(tmp_path / "train", corpus_docs())
    ds = MixtureDataset(split, 16, "masked", SPECIAL, 5, MIX)
    ds.vocab_size = 200
    one = step_positions(40, 4, 4, 1, epoch=1)  # global batch 16 on one rank
    resumed = step_positions(20, 4, 2, 2, epoch=1, skip=12)  # two ranks, from step 6 on
    assert len(one) == 10 and set(resumed) == set(range(6, 10))
    assert all(one[k] == resumed[k] for k in resumed)
    for p in one[7]:  # the same positions give the same blocks and masks, in any dataset instance
        again = MixtureDataset(split, 16, "masked", SPECIAL, 5, MIX)
        again.vocab_size = 200
        assert all(np.array_equal(ds[p][k], again[p][k]) for k in ("input_ids", "labels"))


def test_plan_refuses_a_budget_that_repeats_a_group_too_often_and_a_group_of_nothing(tmp_path):
    split = write_split(tmp_path / "train", corpus_docs())
    index, strata = split.index, split.strata()
    speech = sum(d[3] for d in corpus_docs() if d[0] == "speech")
    ok = plan({**MIX, "max_epochs": 4}, index, strata, budget_tokens=int(speech * 4 / 0.3) - 100, block_size=16, family="causal")
    assert ok["groups"]["speech"]["epochs"] <= 4 and ok["groups"]["speech"]["available_tokens"] == speech
    assert abs(sum(g["planned_tokens"] for g in ok["groups"].values()) - ok["budget_tokens"]) <= len(ok["groups"])
    with pytest.raises(MixtureError, match=r"mixture\.groups\[0\]\.weight.*max_epochs"):
        plan({**MIX, "max_epochs": 4}, index, strata, budget_tokens=int(speech * 4 / 0.3) + 1000, block_size=16, family="causal")
    nothing = {**MIX, "groups": MIX["groups"] + [{"name": "future", "where": {"decade": [2090]}, "weight": 0.1}]}
    with pytest.raises(MixtureError, match=r"mixture\.groups\[3\]\.where.*matches no document"):
        plan(nothing, index, strata, 10_000, 16, "causal")
    full = {"groups": [{"name": "speech", "where": {"modality": ["transcript"]}, "weight": 1.0}], "max_epochs": 1000}
    assert set(plan(full, index, strata, 10_000, 16, "causal")["groups"]) == {"speech"}  # news never drawn


def test_config_checks_name_the_key():
    sources = [{"name": n, "modality": MODALITY[n]} for n in SOURCES]
    check_config(MIX, sources, "mixture")
    cases = [({"groups": [{"name": "a", "where": {"year": [1900]}, "weight": 0.1}]}, r"mixture\.groups\[0\]\.where\.year"),
             ({"groups": [{"name": "a", "where": {"source": ["radio"]}, "weight": 0.1}]}, r"groups\[0\]\.where\.source.*radio"),
             ({"groups": [{"name": "a", "where": {"source": ["news"], "modality": ["subtitle"]}, "weight": 0.1}]},
              r"groups\[0\]\.where\.modality"),
             ({"groups": [{"name": "a", "where": {"source": ["news"]}, "weight": 0.7},
                          {"name": "b", "where": {"source": ["subs"]}, "weight": 0.4}]}, r"mixture\.groups: the weights add up"),
             ({"groups": [{"name": "a", "where": {"source": ["news"]}, "weight": 0.7}], "other_weight": 0.2},
              r"mixture\.other_weight")]
    for mixture, message in cases:
        with pytest.raises(MixtureError, match=message):
            check_config(mixture, sources, "mixture")


def test_rehydration_weights_are_the_cluster_sizes_in_dropped_dedup_capped(tmp_path):
    from arkivlm import tokenizer

    texts = {f"{i:020x}": f"Dokument nummer {i} om Stockholm och Göteborg." * (1 + i % 3) for i in range(12)}
    corpus_dir = tmp_path / "corpus"
    for split in ("train", "validation"):
        (corpus_dir / split).mkdir(parents=True)
        ids = sorted(texts)[:10] if split == "train" else sorted(texts)[10:]
        pd.DataFrame({"id": ids, "source": "news", "modality": "text", "date": "1950",
                      "text": [texts[i] for i in ids]}).to_parquet(corpus_dir / split / "part-0.parquet")
    kept = sorted(texts)
    # kept[0] has 6 copies dropped (a cluster of 7), kept[1] two, kept[11] (held out) one
    dropped = pd.DataFrame({"id": [f"d{i}" for i in range(9)], "stage": "dedup", "reason": "near_duplicate",
                            "duplicate_of": [kept[0]] * 6 + [kept[1]] * 2 + [kept[11]]})
    (tmp_path / "dropped" / "dedup").mkdir(parents=True)
    dropped.to_parquet(tmp_path / "dropped" / "dedup" / "part-0.parquet")
    tok_dir = tmp_path / "tok"
    tokenizer.train(str(corpus_dir / "train"), str(corpus_dir / "validation"), str(tok_dir), str(tmp_path / "s.json"),
                    {"causal": {"vocab_size": 300}, "masked": {"vocab_size": 300}})
    pack.run(tokenizer.tokenizer_path(str(tok_dir), "causal"), "causal", str(corpus_dir / "train"), str(corpus_dir / "validation"),
             str(tmp_path / "packed"), dropped_dedup=str(tmp_path / "dropped" / "dedup"))
    split = PackedSplit(tmp_path / "packed" / "train")
    copies = np.concatenate([split._docs(m)[:, 5] for m in split.index["shards"]])
    assert sorted(copies.tolist()) == [1] * 8 + [3, 7]
    tokens = {int(c): int(e - s + 1) for m in split.index["shards"] for s, e, *_, c in split._docs(m)}
    unique = split.index["tokens"]
    capped = plan({"groups": [], "rehydrate": True, "max_epochs": 4}, split.index, split.strata(), 200, 8, "causal")
    assert capped["groups"]["other"]["available_tokens"] == unique + 3 * tokens[7] + 2 * tokens[3]  # 7 capped at 4
    assert capped["groups"]["other"]["unique_tokens"] == unique
    plain = plan({"groups": [], "rehydrate": False}, split.index, split.strata(), 200, 8, "causal")
    assert plain["groups"]["other"]["available_tokens"] == unique


# --- through pretrain: Lightning steps under a mixture ---------------------------------------------

TRAIN_MIX = {"groups": [{"name": "subtitles", "where": {"modality": ["subtitle"]}, "weight": 0.6}], "max_epochs": 20}


def train_mixed(tokenized, tmp_path, name, family="causal", **settings):  # noqa: F811
    from arkivlm.train import pretrain

    out, _ = tokenized
    entry = {"name": name, "type": family, "preset": "tiny", "mixture": TRAIN_MIX}
    return pretrain.run(entry, str(out / "packed" / family), str(out / "tokenizer"), str(tmp_path / name), {**SMALL, **settings})


@pytest.mark.parametrize("family", ["causal", "masked"])
def test_training_under_a_mixture_reports_planned_and_seen_tokens(tokenized, tmp_path, family):  # noqa: F811
    summary = train_mixed(tokenized, tmp_path, "m", family, max_steps=8)
    result = json.loads((tmp_path / "m" / "mixture.json").read_text())
    assert summary["steps"] == 8 and set(result["groups"]) == {"subtitles", "other"}
    budget = 8 * 4 * 32
    assert result["budget_tokens"] == budget == sum(g["seen_tokens"] for g in result["groups"].values())
    for name, g in result["groups"].items():
        assert abs(g["seen_tokens"] - g["planned_tokens"]) <= 32, name  # within one block
        assert g["weight"] == pytest.approx(0.6 if name == "subtitles" else 0.4)


def test_a_mixed_run_resumed_from_its_checkpoint_trains_on_the_same_blocks(tokenized, tmp_path):  # noqa: F811
    train_mixed(tokenized, tmp_path, "straight", max_steps=8)
    assert train_mixed(tokenized, tmp_path, "resumed", max_steps=8, stop_at_step=3)["steps"] == 3
    train_mixed(tokenized, tmp_path, "resumed", max_steps=8)
    straight, resumed = losses(tmp_path / "straight"), losses(tmp_path / "resumed")
    assert sorted(resumed) == sorted(straight) == list(range(8))
    for step in straight:
        assert resumed[step] == pytest.approx(straight[step], rel=1e-5), step
    assert json.loads((tmp_path / "resumed" / "mixture.json").read_text())["groups"] == \
        json.loads((tmp_path / "straight" / "mixture.json").read_text())["groups"]


def test_an_unmeetable_mixture_stops_before_training(tokenized, tmp_path):  # noqa: F811
    from arkivlm.train import pretrain

    out, _ = tokenized
    entry = {"name": "m", "type": "causal", "preset": "tiny", "mixture": {**TRAIN_MIX, "max_epochs": 1}}
    with pytest.raises(MixtureError, match=r"mixture\.groups\[0\]\.weight.*max_epochs"):
        pretrain.run(entry, str(out / "packed" / "causal"), str(out / "tokenizer"), str(tmp_path / "m"), {**SMALL, "max_steps": 400})
    assert not (tmp_path / "m" / "logs").exists()


def test_a_run_on_two_ranks_resumed_on_one_ends_where_a_one_rank_run_does(tokenized, tmp_path):  # noqa: F811
    """The real `python -m arkivlm pretrain`: two gloo DDP ranks stopped at step 3, resumed on one rank
    (accumulating two micro-batches to keep the global batch), against one rank all along: the same
    blocks in every step, so the same model (to float rounding). Under a mixture; the alignment of
    Lightning's micro-batch count it checks is the same code without one."""
    mixture = TRAIN_MIX
    import os
    import subprocess
    import sys

    out, _ = tokenized

    def run(name, **settings):
        entry = {"name": name, "type": "causal", **({"mixture": mixture} if mixture else {})}
        cmd = [sys.executable, "-m", "arkivlm", "pretrain", "--model", json.dumps(entry), "--settings",
               json.dumps({**SMALL, "max_steps": 6, **settings}), "--packed", str(out / "packed" / "causal"),
               "--tokenizer", str(out / "tokenizer"), "--out", str(tmp_path / name)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "PL_DISABLE_FORK": "1"})
        assert proc.returncode == 0, proc.stderr[-3000:]
        return json.loads((tmp_path / name / "train_summary.json").read_text())

    straight = run("straight", accumulate=2)
    assert run("moved", devices=2, strategy="ddp", stop_at_step=3)["steps"] == 3
    moved = run("moved", devices=1)
    assert moved["steps"] == straight["steps"] == 6 and moved["accumulate"] == 2 and moved["global_batch"] == 8
    # before the counts were aligned (pretrain.align_resumed_batches) the resumed run stepped on one
    # micro-batch at step 3 and every step after straddled two: 0.14-0.26% off in this test
    assert moved["val_loss_lightning"] == pytest.approx(straight["val_loss_lightning"], rel=1e-5)
    seen = [json.loads((tmp_path / n / "mixture.json").read_text())["groups"] for n in ("straight", "moved")]
    assert seen[0] == seen[1]
