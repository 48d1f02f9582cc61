"""Downstream tasks from local files: task definitions in lm-evaluation-harness's YAML format whose
data are local JSON Lines or Parquet files (`dataset_path: json`, `data_files` relative to the YAML).

Causal models run them through lm-eval itself (its `HFLM` over the exported model). Masked models
run the same multiple-choice and loglikelihood tasks through lm-eval too, with our own scorer in
lm-eval's place for the model: the pseudo-log-likelihood of a continuation (Salazar et al. 2020,
"Masked Language Model Scoring"), each of its tokens masked in turn with everything else visible
(docs/evaluation.md). Everything runs offline: the HF libraries are told so before they load.

`task_texts` gives every item's text (all splits) for decontamination (arkivlm.decontaminate).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path

OFFLINE_ENV = {"HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "HF_EVALUATE_OFFLINE": "1"}


def go_offline() -> None:
    os.environ.update(OFFLINE_ENV)


def _task_config(path: Path) -> dict:
    import yaml

    class Loader(yaml.SafeLoader):  # lm-eval's `!function` tags name code; only plain keys are read here
        pass

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load(path.read_text(encoding="utf-8"), Loader=Loader) or {}


def _task_name(path: Path) -> str:
    config = _task_config(path)
    if "task" not in config:
        raise ValueError(f"evaluate.tasks: {path} has no `task:` name")
    return str(config["task"])


def data_files(path: str) -> list[str]:
    """The local data files a task YAML names (`dataset_kwargs.data_files`), as paths."""
    files = (_task_config(Path(path)).get("dataset_kwargs") or {}).get("data_files") or []
    values = files.values() if isinstance(files, dict) else [files]
    flat = [f for v in values for f in ([v] if isinstance(v, str) else v)]
    return [str(Path(path).parent / f) if not Path(f).is_absolute() else f for f in flat]


def config_tasks(cfg: dict) -> tuple[list[str], list[str]]:
    """`evaluate.tasks` and `decontamination.tasks` (null: the former) of a validated config, each file
    checked; fails naming the key."""
    evaluate = list(cfg.get("evaluate", {}).get("tasks") or [])
    decon = cfg.get("decontamination", {}).get("tasks")
    decon = evaluate if decon is None else list(decon)
    for key, paths in (("evaluate.tasks", evaluate), ("decontamination.tasks", decon)):
        for i, p in enumerate(paths):
            where = f"config key {key}[{i}]"
            if not Path(p).is_file():
                raise ValueError(f"{where}: no task file {p!r} (paths start at the working directory)")
            config = _task_config(Path(p))
            if "task" not in config:
                raise ValueError(f"{where}: {p} is not an lm-eval task (no `task:` name)")
            if config.get("dataset_path") not in ("json", "parquet", "csv", "arrow"):
                raise ValueError(f"{where}: {p} reads dataset_path {config.get('dataset_path')!r}; on compute nodes "
                                 "without internet only local files work (dataset_path: json or parquet with data_files)")
            for f in data_files(p):
                if not Path(f).is_file():
                    raise ValueError(f"{where}: {p} names data file {f}, which does not exist")
    n, m = (cfg.get("decontamination", {}).get(k) for k in ("ngram", "min_words"))
    if n is not None and m is not None and m > n:
        raise ValueError(f"config key decontamination.min_words: {m} is above decontamination.ngram ({n})")
    return evaluate, decon


def task_manager(paths: list[str]):
    """lm-eval's TaskManager over the folders of `paths` only (its built-in tasks are not indexed)."""
    go_offline()
    import logging

    from lm_eval.tasks import TaskManager

    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    folders = sorted({str(Path(p).resolve().parent) for p in paths})
    return TaskManager(include_path=folders, include_defaults=False)


def load_tasks(paths: list[str], manager=None) -> dict:
    """{name: lm-eval Task} of the task YAML files `paths`; each file's relative data files are
    read from its own folder."""
    manager = manager or task_manager(paths)
    tasks = {}
    for p in paths:
        path = Path(p).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"evaluate.tasks: no task file {p}")
        with contextlib.chdir(path.parent):
            tasks.update(manager.load([_task_name(path)])["tasks"])
    return dict(sorted(tasks.items()))


def _docs(task, split: str):
    docs = task.dataset[split]
    process = getattr(task.config, "process_docs", None)
    return process(docs) if callable(process) else docs


def item_texts(task) -> list[str]:
    """The text of each item of every split: the context joined to each choice (multiple choice)
    or to its target (everything else)."""
    delimiter = task.config.target_delimiter
    texts = []
    for split in sorted(task.dataset.keys()):
        for doc in _docs(task, split):
            context = task.doc_to_text(doc)
            context = context if isinstance(context, str) else ""
            if task.OUTPUT_TYPE == "multiple_choice":
                endings = [str(c) for c in task.doc_to_choice(doc)]
            else:
                target = task.doc_to_target(doc)
                endings = [str(t) for t in target] if isinstance(target, list) else [str(target)]
            texts += [f"{context}{delimiter}{e}" if context else e for e in endings]
    return texts


def task_texts(paths: list[str]) -> dict[str, list[str]]:
    return {name: item_texts(task) for name, task in load_tasks(paths).items()}


def chance(task) -> float | None:
    """The expected accuracy of a guess, for a multiple-choice task: the mean of 1/choices."""
    if task.OUTPUT_TYPE != "multiple_choice":
        return None
    docs = list(task.eval_docs)
    return round(sum(1 / len(task.doc_to_choice(d)) for d in docs) / len(docs), 4) if docs else None


class PseudoLogLikelihood:
    """lm-eval's model interface for a masked LM: `loglikelihood(context, continuation)` is the sum
    over the continuation's tokens of log P(token | the sequence with that one token masked); the
    continuation counts as greedy when every masked token is the model's top guess. The masked
    copies of all requests are scored in batches of similar length; only the masked position goes
    through the prediction head."""

    def __init__(self, model, tokenizer, batch_size: int = 64, dtype=None):
        super().__init__()  # lm-eval's LM (see `pseudo_log_likelihood_lm`)
        self.model, self.tok, self.batch_size = model.eval(), tokenizer, batch_size
        self.on_device = next(model.parameters()).device
        self.dtype = dtype
        self.max_length = int(getattr(model.config, "max_position_embeddings", 512))
        ids = {k: tokenizer.convert_tokens_to_ids(getattr(tokenizer, f"{k}_token")) for k in ("cls", "sep", "mask", "pad")}
        self.cls, self.sep, self.mask, self.pad = ids["cls"], ids["sep"], ids["mask"], ids["pad"]

    def _encode(self, text: str) -> list[int]:
        return self.tok(text, add_special_tokens=False)["input_ids"] if text else []

    def _sequence(self, context: str, continuation: str) -> tuple[list[int], int]:
        """[CLS] context continuation [SEP] (cut from the left to fit) and where the continuation starts;
        split as lm-eval splits it for causal models (trailing spaces of the context move over)."""
        spaces = len(context) - len(context.rstrip())
        if spaces:
            continuation, context = context[-spaces:] + continuation, context[:-spaces]
        whole = self._encode(context + continuation)
        start = len(self._encode(context))
        ids, start = [self.cls] + whole + [self.sep], start + 1
        overflow = len(ids) - self.max_length
        if overflow > 0:  # the context's first tokens go
            ids, start = [self.cls] + ids[1 + overflow:], max(1, start - overflow)
        return ids, start

    def _head(self):
        for name in ("cls", "lm_head"):
            if hasattr(self.model, name):
                return getattr(self.model, name)
        return None

    def _score(self, copies: list[tuple[int, list[int], int, int]]) -> list[tuple[float, bool]]:
        """(log-prob, top guess) of each (request, ids, masked position, true token)."""
        import torch

        head = self._head()
        out = [None] * len(copies)
        order = sorted(range(len(copies)), key=lambda i: len(copies[i][1]))
        autocast = (torch.autocast(self.on_device.type, dtype=self.dtype) if self.dtype is not None
                    else contextlib.nullcontext())
        with torch.no_grad(), autocast:
            for b in range(0, len(order), self.batch_size):
                batch = order[b:b + self.batch_size]
                width = max(len(copies[i][1]) for i in batch)
                ids = torch.full((len(batch), width), self.pad, dtype=torch.long)
                attention = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    seq = copies[i][1]
                    ids[row, :len(seq)] = torch.tensor(seq)
                    attention[row, :len(seq)] = 1
                positions = torch.tensor([copies[i][2] for i in batch])
                ids[torch.arange(len(batch)), positions] = self.mask
                ids, attention = ids.to(self.on_device), attention.to(self.on_device)
                rows = torch.arange(len(batch), device=self.on_device)
                if head is not None:
                    hidden = self.model.base_model(input_ids=ids, attention_mask=attention).last_hidden_state
                    logits = head(hidden[rows, positions.to(self.on_device)])
                else:
                    logits = self.model(input_ids=ids, attention_mask=attention).logits[rows, positions.to(self.on_device)]
                logprobs = torch.log_softmax(logits.float(), dim=-1)
                targets = torch.tensor([copies[i][3] for i in batch], device=self.on_device)
                picked = logprobs[rows, targets].tolist()
                greedy = (logprobs.argmax(-1) == targets).tolist()
                for row, i in enumerate(batch):
                    out[i] = (picked[row], greedy[row])
        return out

    def loglikelihood(self, requests, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        copies = []
        for r, request in enumerate(requests):
            ids, start = self._sequence(*request.args)
            copies += [(r, ids, p, ids[p]) for p in range(start, len(ids) - 1)]
        totals = [[0.0, True] for _ in requests]
        for (r, *_), (logprob, greedy) in zip(copies, self._score(copies)):
            totals[r][0] += logprob
            totals[r][1] = totals[r][1] and greedy
        return [(t[0], bool(t[1])) for t in totals]

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("masked models score multiple-choice and loglikelihood tasks only")

    def generate_until(self, requests, disable_tqdm: bool = False):
        raise NotImplementedError("masked models do not generate: multiple-choice and loglikelihood tasks only")


def pseudo_log_likelihood_lm(model, tokenizer, batch_size: int = 64, dtype=None):
    """A `PseudoLogLikelihood` that is an lm-eval `LM` (lm-eval is imported only when a task runs)."""
    from lm_eval.api.model import LM

    cls = type("PseudoLogLikelihoodLM", (PseudoLogLikelihood, LM), {})
    return cls(model, tokenizer, batch_size=batch_size, dtype=dtype)


def task_scores(results: dict, tasks: dict) -> dict:
    """`{task: {metric: value, <metric>_stderr, n, stderr (of the first metric), chance}}` from
    lm-eval's results."""
    out = {}
    for name, task in tasks.items():
        r = results["results"].get(name, {})
        entry, first = {}, None
        for key, value in sorted(r.items()):
            if "," not in key or key.startswith("alias"):
                continue
            metric, _filter = key.split(",", 1)
            if metric.endswith("_stderr"):
                continue
            entry[metric] = round(float(value), 6)
            stderr = r.get(f"{metric}_stderr,{_filter}")
            entry[f"{metric}_stderr"] = round(float(stderr), 6) if isinstance(stderr, (int, float)) and math.isfinite(stderr) else None
        metrics = [m["metric"] for m in (task.config.metric_list or []) if m.get("metric") in entry]
        first = metrics[0] if metrics else next((k for k in entry if not k.endswith("_stderr")), None)
        entry["n"] = int(results.get("n-samples", {}).get(name, {}).get("effective", r.get("sample_len", 0)))
        entry["stderr"] = entry.get(f"{first}_stderr") if first else None
        entry["chance"] = chance(task)
        out[name] = entry
    return out


def evaluate_tasks(model, tokenizer, family: str, paths: list[str], batch_size: int = 32, dtype=None,
                   limit: int | None = None) -> dict:
    """Scores of `model` (loaded, on its device) on the tasks in `paths`."""
    manager = task_manager(paths)
    tasks = load_tasks(paths, manager)
    if not tasks:
        return {}
    from lm_eval import simple_evaluate

    if family == "causal":
        from lm_eval.models.huggingface import HFLM

        lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size,
                  max_length=int(getattr(model.config, "max_position_embeddings", 2048)))
    else:
        lm = pseudo_log_likelihood_lm(model, tokenizer, batch_size=batch_size * 4, dtype=dtype)
    results = simple_evaluate(model=lm, tasks=list(tasks.values()), task_manager=manager, log_samples=False, limit=limit,
                              bootstrap_iters=1000, random_seed=0, numpy_random_seed=1234, torch_random_seed=1234)
    return task_scores(results, tasks)


def load_exported(hf_dir: str, family: str, random_init: bool = False):
    """The exported model (bf16 on a GPU, fp32 on CPU) and its tokenizer; `random_init`: the same
    architecture with fresh weights (what a random model scores)."""
    go_offline()
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForMaskedLM, AutoTokenizer

    cls = AutoModelForCausalLM if family == "causal" else AutoModelForMaskedLM
    gpu = torch.cuda.is_available()
    dtype = torch.bfloat16 if gpu else torch.float32
    if random_init:
        torch.manual_seed(0)
        model = cls.from_config(AutoConfig.from_pretrained(hf_dir), dtype=dtype)
    else:
        model = cls.from_pretrained(hf_dir, dtype=dtype)
    model = model.to("cuda" if gpu else "cpu").eval()
    return model, AutoTokenizer.from_pretrained(hf_dir), (torch.bfloat16 if gpu else None)


def run(hf_dir: str, family: str, paths: list[str], out_json: str, batch_size: int = 32,
        random_init: bool = False) -> dict:
    from arkivlm.io import write_json

    scores = {}
    if paths:
        model, tokenizer, dtype = load_exported(hf_dir, family, random_init)
        scores = evaluate_tasks(model, tokenizer, family, paths, batch_size=batch_size, dtype=dtype)
    Path(out_json).parent.mkdir(parents=True, exist_ok=True)
    write_json(scores, out_json)
    return scores


def main(argv: list[str] | None = None) -> None:
    """`python -m arkivlm.eval_tasks --hf DIR --type causal --tasks a.yaml b.yaml --out F [--random-init]`"""
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hf", required=True)
    p.add_argument("--type", choices=("causal", "masked"), required=True)
    p.add_argument("--tasks", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--random-init", action="store_true")
    a = p.parse_args(argv)
    print(json.dumps(run(a.hf, a.type, a.tasks, a.out, a.batch_size, a.random_init), indent=1))


if __name__ == "__main__":
    main()
