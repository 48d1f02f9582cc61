"""Downstream tasks from local files (arkivlm.eval_tasks): a task of our own in lm-eval's YAML format
with local JSON Lines data; a causal model through lm-eval, a masked model by pseudo-log-likelihood;
a model trained on the answers beats the same model untrained; nothing touches the network."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lm_eval")

GOOD = [
    "Kungen öppnade den nya bron över älven i går morse",
    "Barnen på landet badar i sjön hela sommaren lång",
    "Fiskarna drog upp näten tidigt på morgonen vid udden",
    "Tåget från Malmö kom fram till Stockholm sent på kvällen",
    "Bönderna i byn skördade rågen innan regnet kom",
    "Skolan i staden fick ett nytt bibliotek i våras",
    "Flygplanet landade på fältet utanför staden vid middagstid",
    "Soldaterna marscherade genom gatorna med musik och fanor",
    "Folket samlades på torget för att höra talet",
    "Båten gick över fjärden med post och passagerare",
    "Arbetarna byggde en ny fabrik vid hamnen under vintern",
    "Hästarna drog plogen över den blöta åkern hela dagen",
]
TASK_YAML = """\
task: {name}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {name}.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: ""
target_delimiter: ""
doc_to_choice: "{{{{[good, bad]}}}}"
doc_to_target: 0
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
"""
CLOZE_YAML = """\
task: tiny_cloze
dataset_path: json
dataset_kwargs:
  data_files:
    test: tiny_cloze.jsonl
test_split: test
output_type: multiple_choice
doc_to_text: "{{context}}"
doc_to_choice: "{{choices}}"
doc_to_target: "{{answer}}"
metric_list:
  - metric: acc
  - metric: acc_norm
"""


def swapped(sentence: str, i: int) -> str:
    ws = sentence.split()
    ws[i], ws[i + 1] = ws[i + 1], ws[i]
    return " ".join(ws)


@pytest.fixture(scope="module")
def task_files(tmp_path_factory) -> list[str]:
    d = tmp_path_factory.mktemp("tasks")
    rows = [{"good": s, "bad": swapped(s, 1 + n % 3)} for n, s in enumerate(GOOD)]
    (d / "tiny_order.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    (d / "tiny_order.yaml").write_text(TASK_YAML.format(name="tiny_order"))
    cloze = []
    for n, s in enumerate(GOOD):
        ws = s.split()
        others = [GOOD[(n + k) % len(GOOD)].split()[4] for k in (1, 2, 3)]
        choices = [f"{w} {' '.join(ws[5:])}" for w in [ws[4], *others]]
        cloze.append({"context": " ".join(ws[:4]), "choices": choices, "answer": 0})
    (d / "tiny_cloze.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in cloze))
    (d / "tiny_cloze.yaml").write_text(CLOZE_YAML)
    return [str(d / "tiny_order.yaml"), str(d / "tiny_cloze.yaml")]


def tokenizer(family: str):
    from arkivlm import tokenizer as T

    settings = {**T.DEFAULTS[family], "vocab_size": 300, "min_frequency": 1}
    tok, trainer = (T.build_causal if family == "causal" else T.build_masked)(settings)
    text = GOOD + [swapped(s, 2) for s in GOOD]
    tok.train_from_iterator(text * 3, trainer=trainer)
    return T.hf_tokenizer(tok if family == "causal" else T.finish_masked(tok), family)


def tiny_model(family: str, tok):
    from transformers import BertConfig, BertForMaskedLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    if family == "causal":
        return LlamaForCausalLM(LlamaConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128,
                                            num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2,
                                            max_position_embeddings=128, bos_token_id=0, eos_token_id=0,
                                            pad_token_id=tok.pad_token_id))
    return BertForMaskedLM(BertConfig(vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                      num_attention_heads=2, max_position_embeddings=128, pad_token_id=tok.pad_token_id))


def trained(family: str, tok, steps: int):
    """The tiny model after `steps` full-batch steps on the right answers (the real sentences)."""
    model = tiny_model(family, tok)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    enc = tok(GOOD, padding=True, return_tensors="pt", add_special_tokens=family == "masked")
    if family == "causal":
        eos = torch.full((len(GOOD), 1), tok.eos_token_id)
        ids = torch.cat([eos, enc["input_ids"]], 1)
        attention = torch.cat([torch.ones_like(eos), enc["attention_mask"]], 1)
    else:
        ids, attention = enc["input_ids"], enc["attention_mask"]
    gen = torch.Generator().manual_seed(1)
    special = torch.tensor(tok.all_special_ids)
    for _ in range(steps):
        if family == "causal":
            labels = ids.masked_fill(attention == 0, -100)
            loss = model(input_ids=ids, attention_mask=attention, labels=labels).loss
        else:
            pick = (torch.rand(ids.shape, generator=gen) < 0.25) & attention.bool() & ~torch.isin(ids, special)
            labels = ids.masked_fill(~pick, -100)
            loss = model(input_ids=ids.masked_fill(pick, tok.mask_token_id), attention_mask=attention, labels=labels).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.eval()


@pytest.mark.parametrize("family", ["causal", "masked"])
def test_model_trained_on_the_answers_scores_higher_than_untrained(family, task_files):
    from arkivlm.eval_tasks import evaluate_tasks

    tok = tokenizer(family)
    before = evaluate_tasks(tiny_model(family, tok).eval(), tok, family, task_files, batch_size=8)
    after = evaluate_tasks(trained(family, tok, 150 if family == "causal" else 300), tok, family, task_files,
                           batch_size=8)
    assert set(before) == set(after) == {"tiny_order", "tiny_cloze"}
    for name, scores in after.items():
        assert scores["n"] == len(GOOD)
        assert 0.0 <= before[name]["acc"] <= 1.0 and scores["stderr"] is not None
        assert scores["chance"] == (0.5 if name == "tiny_order" else 0.25)
    assert after["tiny_order"]["acc"] >= 0.9 > before["tiny_order"]["acc"]
    assert after["tiny_cloze"]["acc"] >= 0.9 > before["tiny_cloze"]["acc"]
    assert "acc_norm" in after["tiny_cloze"]


def test_pseudo_log_likelihood_masks_each_continuation_token_once(task_files):
    """The PLL of a continuation is the sum over its tokens, each masked in turn, everything else visible."""
    from arkivlm.eval_tasks import PseudoLogLikelihood

    tok = tokenizer("masked")
    model = tiny_model("masked", tok).eval()
    scorer = PseudoLogLikelihood(model, tok, batch_size=4)
    context, continuation = "Kungen öppnade", " den nya bron"
    ids, start = scorer._sequence(context, continuation)
    assert ids[0] == tok.cls_token_id and ids[-1] == tok.sep_token_id
    assert tok.decode(ids[start:-1]) == "den nya bron"
    expected = 0.0
    with torch.no_grad():
        for p in range(start, len(ids) - 1):
            masked = torch.tensor([ids[:p] + [tok.mask_token_id] + ids[p + 1:]])
            expected += torch.log_softmax(model(input_ids=masked).logits[0, p], -1)[ids[p]].item()

    class Request:
        args = (context, continuation)

    (got, _greedy), = scorer.loglikelihood([Request()])
    assert got == pytest.approx(expected, abs=1e-4)


def test_task_texts_cover_every_choice_of_every_item(task_files):
    from arkivlm.eval_tasks import task_texts

    texts = task_texts(task_files)
    assert len(texts["tiny_order"]) == 2 * len(GOOD) and GOOD[0] in texts["tiny_order"]
    assert len(texts["tiny_cloze"]) == 4 * len(GOOD)
    assert f"{' '.join(GOOD[0].split()[:4])} {' '.join(GOOD[0].split()[4:])}" in texts["tiny_cloze"]


OFFLINE_RUN = textwrap.dedent("""
    import socket, sys
    def refuse(*a, **k):
        raise OSError("network blocked by the test")
    socket.socket.connect = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse
    from arkivlm.eval_tasks import main
    for family, hf, out in zip(*[iter(sys.argv[1:])] * 3):
        main(["--hf", hf, "--type", family, "--out", out, "--tasks", *sys.argv[-2:]])
""")


def test_task_evaluation_of_both_families_runs_with_the_network_blocked(task_files, tmp_path):
    """One process (one import of torch and lm-eval) scores a causal and a masked export with every
    socket call refused."""
    args = []
    for family in ("causal", "masked"):
        tok = tokenizer(family)
        hf = tmp_path / family
        tiny_model(family, tok).save_pretrained(hf)
        tok.save_pretrained(hf)
        args += [family, str(hf), str(tmp_path / f"{family}.json")]
    env = {k: v for k, v in __import__("os").environ.items() if not k.startswith("HF_")}
    r = subprocess.run([sys.executable, "-c", OFFLINE_RUN, *args, *task_files], check=False, capture_output=True,
                       text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    for family in ("causal", "masked"):
        scores = json.loads((tmp_path / f"{family}.json").read_text())
        assert set(scores) == {"tiny_order", "tiny_cloze"} and scores["tiny_order"]["n"] == len(GOOD), family


def test_bundled_task_set_is_what_the_builder_writes(tmp_path):
    """tasks/sv is rebuilt byte for byte from the journal-digital transcripts (arkivlm.sample.tasks)."""
    pytest.importorskip("srt")
    from arkivlm.sample.tasks import build

    counts = build(tmp_path)
    assert counts["sv_word_order"] == counts["sv_cloze"] == 200
    bundled = Path(__file__).resolve().parents[1] / "tasks" / "sv"
    for name in ("sv_word_order.yaml", "sv_word_order.jsonl", "sv_cloze.yaml", "sv_cloze.jsonl"):
        assert (tmp_path / name).read_bytes() == (bundled / name).read_bytes(), name
    for row in map(json.loads, (bundled / "sv_word_order.jsonl").read_text().splitlines()):
        assert row["good"] != row["bad"] and sorted(re.findall(r"\w+", row["good"])) == sorted(re.findall(r"\w+", row["bad"]))
    for row in map(json.loads, (bundled / "sv_cloze.jsonl").read_text().splitlines()):
        assert len(set(row["choices"])) == 4 and row["choices"][row["answer"]].startswith(row["word"] + " ")
