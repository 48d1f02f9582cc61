"""The workflow through Snakemake itself: config validation, and end-to-end runs."""

import json

import pandas as pd
import pytest
import yaml

from tests.conftest import ARTIFACTS, REPO, run_snakemake, sample_config, write_config
from tests.realworld_srt import write_folder


def test_misspelled_key_fails_before_any_job_naming_the_key(tmp_path, small_sample):
    cfg = sample_config(small_sample, tmp_path / "results")
    cfg["langid"] = {"treshold": 0.7}
    proc = run_snakemake(tmp_path, "corpus", "--configfile", write_config(tmp_path, cfg), check=False)
    assert proc.returncode != 0
    assert "treshold" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_unknown_format_and_empty_glob_fail_early(tmp_path, small_sample):
    cfg = sample_config(small_sample, tmp_path / "results")
    cfg["sources"][0]["format"] = "pdf"
    proc = run_snakemake(tmp_path, "-n", "--configfile", write_config(tmp_path, cfg), check=False)
    assert proc.returncode != 0 and "pdf" in proc.stdout + proc.stderr
    cfg = sample_config(small_sample, tmp_path / "results")
    cfg["sources"][2]["path"] = str(tmp_path / "nowhere/*.txt")
    proc = run_snakemake(tmp_path, "-n", "--configfile", write_config(tmp_path, cfg), check=False)
    assert proc.returncode != 0 and "sources[2].path" in proc.stdout + proc.stderr
    cfg = sample_config(small_sample, tmp_path / "results")
    cfg["mixture"] = {"groups": [{"name": "radio", "where": {"source": ["radio_archive"]}, "weight": 0.2}]}
    proc = run_snakemake(tmp_path, "-n", "--configfile", write_config(tmp_path, cfg), check=False)
    assert proc.returncode != 0 and "mixture.groups[0].where.source" in proc.stdout + proc.stderr


def test_lint_is_clean():
    proc = run_snakemake(REPO, "--lint")
    assert "Congratulations" in proc.stdout + proc.stderr


REPORT_FIGURES = ["flow_by_stage", "flow_by_source", "document_lengths", "langid_scores", "dedup_clusters", "ocr_confidence",
                  "decades", "fertility", "training_loss", "learning_rate", "throughput", "mixture", "perplexity",
                  "perplexity_by_decade", "task_scores"]


@pytest.mark.slow
def test_sample_workflow_end_to_end(full_run):
    work, path = full_run
    res = work / "results"
    for stage in ("ingest", "clean", "lines", "langid", "quality", "pii", "dedup", "decontaminate", "corpus"):
        st = json.loads((res / "stats" / f"{stage}.json").read_text())
        assert st["docs_in"] == st["docs_out"] + sum(st["dropped"].values())
        assert "per_decade" in st
    # decontamination: the books planted with task items are dropped, the one sharing short phrases kept
    decon = json.loads((res / "stats" / "decontaminate.json").read_text())
    assert decon["docs_in"] == json.loads((res / "stats" / "dedup.json").read_text())["docs_out"]
    assert set(decon["tasks"]) == {"sv_word_order", "sv_cloze"} and decon["tasks"]["sv_cloze"]["texts"] == 800
    contaminated = pd.read_parquet(res / "dropped" / "decontaminate")
    planted = {p: contaminated[contaminated.path.str.endswith(f"uppgift_{p}.txt")] for p in
               ("verbatim", "case_punctuation", "embedded", "near_miss")}
    assert list(planted["verbatim"].reason) == ["contains:sv_cloze"]
    assert list(planted["case_punctuation"].reason) == list(planted["embedded"].reason) == ["contains:sv_word_order"]
    assert planted["near_miss"].empty and (contaminated.stage == "decontaminate").all()
    assert decon["dropped"] == contaminated.reason.value_counts().to_dict()
    for model in ("gpt_tiny", "bert_tiny"):
        scores = json.loads((res / "eval" / model / "tasks.json").read_text())
        assert set(scores) == {"sv_word_order", "sv_cloze"}, model
        assert scores["sv_word_order"]["n"] == scores["sv_cloze"]["n"] == 200
        assert 0 <= scores["sv_cloze"]["acc"] <= 1 and scores["sv_cloze"]["chance"] == 0.25
        assert scores["sv_word_order"]["stderr"] > 0
    # the real newsreel slice: intertitles line by line, speech artefacts as lines, dated by path
    lines = json.loads((res / "stats" / "lines.json").read_text())
    inter = lines["per_source"]["journal_digital_intertitles"]
    assert inter["lines_in"] > 1000 and inter["lines_removed"]["too_short"] > 100 and inter["lines_removed"]["implausible"] > 100
    assert len(pd.read_parquet(res / "lines_removed")) == sum(lines["lines_removed"].values())
    train = pd.read_parquet(res / "corpus" / "train")
    assert len(train) > 100 and list((res / "corpus" / "validation").glob("*.parquet"))
    real = train[train.source.str.startswith("journal_digital")]
    assert len(real) > 10 and (real.date == "1915").all()
    assert list((res / "quarantine").glob("*.parquet")) and list((res / "dropped").glob("*/*.parquet"))
    # the archive's containers: a package of ALTO issues, a WARC, compressed JSON Lines
    ingest_st = json.loads((res / "stats" / "ingest.json").read_text())["per_source"]
    assert ingest_st["tidningar_paket"]["packages"] >= 4 and ingest_st["tidningar_paket"]["records_skipped"]["mets"] >= 3
    assert ingest_st["webbarkiv_warc"]["records_skipped"]["warc:request"] == ingest_st["webbarkiv_warc"]["docs"]
    assert ingest_st["brev_arkiv"]["docs"] > 0
    corpus = pd.concat([train, pd.read_parquet(res / "corpus" / "validation")])
    assert corpus.path.str.endswith("uppgift_near_miss.txt").sum() == 1
    assert not corpus.path.str.contains("uppgift_(verbatim|case_punctuation|embedded)", regex=True).any()
    web = corpus[corpus.source == "webbarkiv_warc"]
    assert len(web) and web.url.str.startswith("https://").all() and web.path.str.contains(".warc.gz@", regex=False).all()
    assert corpus[corpus.source != "webbarkiv_warc"].url.isna().all()
    assert not corpus.text.str.contains(r"\(at\)|\[at\]|snabel-a", regex=True).any()
    removed = pd.read_parquet(res / "lines_removed")
    assert (removed[removed.source == "tidningar_paket"].block.notna() &
            (removed[removed.source == "tidningar_paket"].reason == "not_swedish:da")).any()
    assert (res / "tokenizer" / "tokenizer.json").exists()
    for model, auto in (("gpt_tiny", "AutoModelForCausalLM"), ("bert_tiny", "AutoModelForMaskedLM")):
        import transformers

        assert getattr(transformers, auto).from_pretrained(str(res / "models" / model / "hf")) is not None
        assert (res / "models" / model / "checkpoints" / "last.ckpt").exists()
        metrics = json.loads((res / "eval" / model / "metrics.json").read_text())
        assert {"val_loss", "perplexity", "per_modality", "per_decade", "tokens_seen"} <= set(metrics)
        assert "Data card" in (res / "models" / model / "hf" / "README.md").read_text()
        # the sample's mixture: planned before training, seen after it, in the data card
        mixed = json.loads((res / "mixture" / f"{model}.json").read_text())
        assert set(mixed["groups"]) == {"speech", "subtitles", "old_print", "other"} and mixed["rehydrate"]
        assert sum(g["seen_tokens"] for g in mixed["groups"].values()) == mixed["budget_tokens"] == metrics["tokens_seen"] \
            * 32 // (32 + (model == "bert_tiny"))
        for name, g in mixed["groups"].items():
            assert abs(g["seen_tokens"] - g["planned_tokens"]) <= 64 and g["epochs"] <= 4, name  # two blocks
    card = (res / "data_card.md").read_text()
    assert "## What each model reads" in card and "| gpt_tiny | subtitles |" in card
    again = run_snakemake(work, "-n", "--configfile", path)
    assert "Nothing to be done" in again.stdout + again.stderr


@pytest.mark.slow
def test_ablation_keeps_heldout_out_of_every_variant_and_trains_equal_tokens(full_run):
    from arkivlm.pack import PackedSplit

    work, path = full_run
    res = work / "results"
    summary = json.loads((res / "ablation" / "summary.json").read_text())
    variants = summary["variants"]
    assert set(variants) == {"full", "unfiltered", "no_langid", "no_quality", "no_lines", "no_dedup", "mixture_speech_half"}
    mixed = json.loads((res / "ablation" / "models" / "mixture_speech_half" / "seed_1234" / "mixture.json").read_text())
    assert mixed["groups"]["speech"]["weight"] == 0.5 and mixed["groups"]["speech"]["seen_tokens"] == mixed["budget_tokens"] // 2
    assert any("Under mixture speech_half" in f for f in summary["findings"])
    # equal footing: the same number of training tokens seen, whatever the variant's size
    assert len({v["tokens_seen"] for v in variants.values()}) == 1
    assert variants["unfiltered"]["train_tokens"] > variants["full"]["train_tokens"]
    assert variants["no_dedup"]["train_docs"] >= variants["full"]["train_docs"]
    for v in variants.values():
        assert v["heldout_perplexity"] > 1 and set(v["per_modality"]) and v["seeds"]
        assert set(v["tasks"]) == {"sv_word_order", "sv_cloze"} and v["tasks"]["sv_cloze"]["seeds"] == len(v["seeds"])
    assert any("; tasks: sv_cloze acc" in f for f in summary["findings"])
    held = PackedSplit(res / "packed" / "causal" / "validation")
    assert summary["heldout"] == {"docs": held.index["docs"], "tokens": held.index["tokens"],
                                  "excluded_from_training": summary["heldout"]["excluded_from_training"]}
    # no held-out document, member of its duplicate cluster or token-identical copy in any variant
    heldout_ids = set(pd.read_parquet(res / "corpus" / "validation", columns=["id"]).id)
    contaminated_ids = pd.read_parquet(res / "dropped" / "decontaminate", columns=["id"]).id
    assert len(contaminated_ids) >= 3
    dropped = pd.read_parquet(res / "dropped" / "dedup", columns=["id", "duplicate_of"])
    excluded = heldout_ids | set(dropped[dropped.duplicate_of.isin(heldout_ids)].id)
    heldout_docs = {tuple(ids.tolist()) for _, ids in held.documents()}
    ingest_ids = set(pd.read_parquet(res / "interim" / "ingest", columns=["id"]).id)
    assert heldout_ids <= ingest_ids  # the unfiltered variant had them all to leave out
    for name in (v for v in variants if not v.startswith("mixture_")):  # a mixture variant reads the corpus's own split
        ids = set(pd.read_parquet(res / "ablation" / "data" / name / "docs", columns=["id"]).id)
        assert len(ids) == variants[name]["train_docs"] and not ids & excluded, name
        assert not ids & set(contaminated_ids), name  # the task-contaminated books stay out of every variant
        docs = {tuple(x.tolist()) for _, x in PackedSplit(res / "ablation" / "data" / name / "train").documents()}
        assert len(docs) > 10 and not docs & heldout_docs, name
    card = (res / "ablation" / "data_card.md").read_text()
    assert "## Ablation" in card and "no_quality" in card and "held-out perplexity" in card


@pytest.mark.slow
def test_report_in_headless_chromium(full_run):
    import shutil
    import subprocess

    work, _ = full_run
    report = work / "results" / "report.html"
    assert report.exists() and report.stat().st_size < 5 * 1024 * 1024
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "Debian's chromium is installed by `make test` (apt-get install chromium)"
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={work / 'chromium'}", "--virtual-time-budget=15000", "--window-size=1400,1000"]
    dom = subprocess.run(flags + ["--dump-dom", report.as_uri()], capture_output=True, text=True, timeout=180).stdout
    for category in ("Corpus", "Audit", "Tokenizer", "Training", "Evaluation", "Data card", "Ablation"):
        assert category in dom, category
    for figure in REPORT_FIGURES:
        assert f"{figure}.png" in dom, figure
    assert "audit.html" in dom and "lines_removed.csv" in dom and "ablation.png" in dom and "ablation.csv" in dom
    assert "task_table.csv" in dom and "Downstream task scores" in dom
    audit = (work / "results" / "report" / "audit.html").read_text()
    for stage_reason in ("too_short", "implausible", "asr_hallucination", "not_swedish", "exact_duplicate"):
        assert stage_reason in audit, stage_reason
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    subprocess.run(flags + [f"--screenshot={shot}", report.as_uri()], capture_output=True, timeout=180)
    assert shot.exists() and shot.stat().st_size > 10_000


@pytest.mark.slow
def test_thousands_of_real_world_srt_files(tmp_path):
    planted = write_folder(tmp_path / "srt", 2000)
    cfg = {"results": str(tmp_path / "results"),
           "sources": [{"name": "tv", "modality": "subtitle", "format": "srt", "path": str(tmp_path / "srt/**/*.srt"),
                        "rights": "public"}],
           "spark": {"master": "local[2]", "shuffle_partitions": 2, "driver_memory": "2g"}}
    run_snakemake(tmp_path, "corpus", "--configfile", write_config(tmp_path, cfg))
    stats = {s: json.loads((tmp_path / "results/stats" / f"{s}.json").read_text()) for s in ("ingest", "clean", "langid", "corpus")}
    assert stats["ingest"]["files_in"] == planted["files"]
    assert stats["ingest"]["files_quarantined"] == planted["broken"]
    for st in stats.values():
        assert st["docs_in"] == st["docs_out"] + sum(st["dropped"].values())
    corpus = pd.concat([pd.read_parquet(tmp_path / "results/corpus" / s) for s in ("train", "validation")])
    assert len(corpus) == stats["corpus"]["docs_out"] > 1500
    text = corpus.text
    assert not text.str.contains(r"\d\d:\d\d:\d\d|-->|<font|\{\\an|&amp;|\[SKRATT\]|♪", regex=True).any()
    assert not text.str.contains(r"(^|\n)\d+(\n|$)", regex=True).any()


def readme_commands() -> list[str]:
    """The `snakemake` command lines of the README's code blocks, as written (comments dropped)."""
    import re

    text = (REPO / "README.md").read_text()
    return [m.group(1).split("  #")[0].strip() for m in re.finditer(r"^    (snakemake [^\n]+)$", text, re.M)]


def checkout_like(tmp_path, small_sample) -> dict:
    """A directory shaped like a checkout (the workflow linked in, `my.yaml` on the small sample) and
    the environment of a MeluXina login shell with stand-ins for the Slurm commands."""
    import os
    import sys
    from pathlib import Path

    from tests.conftest import snakemake_env
    from tests.test_meluxina_profile import fake_slurm

    for name in ("Snakefile", "workflow", "profiles", "configs", "config.yaml", "arkivlm", "tasks"):
        (tmp_path / name).symlink_to(REPO / name)
    cfg = sample_config(small_sample, tmp_path / "results")
    cfg["sources"] = [s for s in cfg["sources"] if not s["name"].startswith("journal_digital")]  # not in the small sample
    write_config(tmp_path, cfg, name="my.yaml")
    bin_dir = fake_slurm(tmp_path / "bin")
    env = {**snakemake_env(), "MELUXINA_ACCOUNT": "p200123", "MELUXINA_QOS": "default", "ARKIVLM_SBATCH_LOG": str(tmp_path / "sb.log")}
    env["PATH"] = f"{bin_dir}:{Path(sys.executable).parent}:{os.environ['PATH']}"
    return env


def test_readme_commands_as_written(tmp_path, small_sample):
    """Every snakemake command of the README, dry-run from a checkout-shaped directory: the targets,
    flags and config files parse as the README says (a target after --configfile would be read
    as a second config file)."""
    import shlex
    import subprocess
    import sys

    commands = readme_commands()
    assert len(commands) >= 5 and any("--profile profiles/meluxina" in c for c in commands)
    env = checkout_like(tmp_path, small_sample)
    for command in commands:
        args = shlex.split(command)[1:]
        if "--report" in args:  # a report needs finished results: dry-run what it reports on
            i = args.index("--report")
            args = args[:i] + args[i + 2:]
        proc = subprocess.run([sys.executable, "-m", "snakemake", *args, "-n"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 0, f"{command}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"


def test_trivial_rules_run_on_the_login_node_under_the_profile(tmp_path, small_sample):
    """The data card reads a few JSON files: under the MeluXina profile it runs where Snakemake runs
    (a local rule), not as a Slurm job on an exclusive 128-core node. Its inputs exist, so the only
    job is the data card; the stand-in sbatch records any submission."""
    import json
    import os
    import signal
    import subprocess
    import sys

    env = checkout_like(tmp_path, small_sample)
    res = tmp_path / "results"
    (res / "stats").mkdir(parents=True)
    for name in ("corpus", "decontaminate", "tokenizer"):
        (res / "stats" / f"{name}.json").write_text(json.dumps({"stage": name, "docs_in": 0, "docs_out": 0, "dropped": {}}))
    for family in ("causal", "masked"):
        (res / "packed" / family).mkdir(parents=True)
    (res / "mixture").mkdir()
    for model in ("gpt_tiny", "bert_tiny"):  # the mixture plans (rule mixture_plan, also a local rule)
        (res / "mixture" / f"{model}.plan.json").write_text(json.dumps({"groups": {}}))
    proc = subprocess.Popen([sys.executable, "-m", "snakemake", str(res / "data_card.md"), "--profile", "profiles/meluxina",
                             "--configfile", "my.yaml", "--allowed-rules", "data_card", "--rerun-triggers", "mtime"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out = proc.communicate(timeout=240)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out = proc.communicate()[0]
    submitted = (tmp_path / "sb.log").read_text() if (tmp_path / "sb.log").exists() else ""
    assert "rule_data_card" not in submitted, submitted
    assert (res / "data_card.md").exists(), out[-3000:]


@pytest.mark.slow
def test_report_is_built_from_the_stats_alone(full_run, tmp_path):
    """The report reads no document table: with every Parquet file of the run removed it draws the
    same figures and tables, so its memory does not grow with the corpus. Its counts match the
    tables the stages wrote."""
    import shutil

    from arkivlm import report
    from arkivlm.cli import FIGURES

    work, path = full_run
    results = work / "results"
    stats_only = tmp_path / "results"
    shutil.copytree(results, stats_only, ignore=shutil.ignore_patterns("*.parquet", "*.bin", "*.ckpt", "*.safetensors"))
    assert not list(stats_only.rglob("*.parquet"))
    cfg = yaml.safe_load(open(path))
    cfg.setdefault("release", {"allow_rights": ["public"]})
    out = {name: str(tmp_path / "report" / f"{name}{ext}") for name, ext in FIGURES.items()}
    report.run(cfg, str(stats_only), out)
    assert all((tmp_path / "report" / f"{name}{ext}").stat().st_size > 0 for name, ext in FIGURES.items())

    reasons = pd.read_csv(out["drop_reasons"])
    for stage in ("clean", "lines", "langid", "quality", "dedup"):
        dropped = pd.read_parquet(results / "dropped" / stage)
        got = reasons[reasons.stage == stage].set_index("reason")
        for reason, g in dropped.groupby("reason"):
            assert got.loc[reason, "documents"] == len(g) and got.loc[reason, "sample_id"] == sorted(g.id)[0]
        st = json.loads((results / "stats" / f"{stage}.json").read_text())
        assert st["dropped_by_source"] == {s: g.reason.value_counts().sort_index().to_dict() for s, g in dropped.groupby("source")}
    corpus = pd.concat([pd.read_parquet(results / "corpus" / s) for s in ("train", "validation")])
    hist = json.loads((results / "stats" / "corpus.json").read_text())["histograms"]["log10_chars"]
    assert {m: sum(c) for m, c in hist["counts"].items()} == corpus.modality.value_counts().to_dict()
