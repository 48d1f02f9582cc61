"""Ingest to corpus on a real Spark standalone cluster, started the way arkivlm/slurm.py starts one
(master and workers by `arkivlm.slurm.master_command` / `worker_command`, the stage's session from
`cluster_env`), with each executor's heap capped at 1 GiB, on an archive that holds what a
terabyte run meets: a 60 MB single-document book and a near-copy of it, a subtitle file of
200,000 cues, 100,000 tiny files, and ordinary documents. It must finish with every file accounted
for, the book pair found and no executor lost.

The figures (wall, peak memory per process kind, the book's signature time and memory) are
written to test-artifacts/stress_cluster.json.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import psutil
import pytest

from tests.conftest import ARTIFACTS

BOOK_CHARS = 60_000_000
CUES = 200_000
TINY_FILES = 100_000
ORDINARY = 300


def vocabulary():
    import wordfreq

    words = np.array(wordfreq.top_n_list("sv", 30000), dtype=object)
    weights = 1.0 / np.arange(1, len(words) + 1) ** 1.05  # Zipf-like, as running Swedish text
    return words, weights / weights.sum()


def prose(rng, words, p, n_words: int, per_line: int = 14, per_paragraph: int = 6) -> str:
    idx = rng.choice(len(words), size=n_words, p=p)
    tokens = words[idx]
    lines = [" ".join(tokens[i:i + per_line]) for i in range(0, n_words, per_line)]
    paragraphs = ["\n".join(lines[i:i + per_paragraph]) for i in range(0, len(lines), per_paragraph)]
    return "\n\n".join(p[:1].upper() + p[1:] + "." for p in paragraphs)


def srt_time(s: float) -> str:
    ms = int(round(s * 1000))
    return f"{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def build_archive(root: Path) -> dict:
    rng = np.random.default_rng(60)
    words, p = vocabulary()
    (root / "books").mkdir(parents=True)
    book = prose(rng, words, p, BOOK_CHARS // 6)[:BOOK_CHARS]
    (root / "books" / "bok_1921.txt").write_text(book, encoding="utf-8")
    # a second edition: the same text with one word in two thousand changed
    tokens = book.split(" ")
    for i in range(0, len(tokens), 2000):
        tokens[i] = "förändrad"
    (root / "books" / "bok_1921_andra_upplagan.txt").write_text(" ".join(tokens), encoding="utf-8")
    del book, tokens

    (root / "tv").mkdir()
    cue_words = words[rng.choice(len(words), size=CUES * 7, p=p)]
    with open(root / "tv" / "direktsandning.srt", "w", encoding="utf-8") as fh:
        for i in range(CUES):
            fh.write(f"{i + 1}\n{srt_time(i * 2.0)} --> {srt_time(i * 2.0 + 1.8)}\n{' '.join(cue_words[i * 7:(i + 1) * 7])}\n\n")

    tiny = root / "tiny"
    for i in range(TINY_FILES):
        d = tiny / f"{i // 10000:02d}" / f"{i // 100 % 100:02d}"
        if i % 100 == 0:
            d.mkdir(parents=True)
        (d / f"{i:06d}.txt").write_text(f"Notis {i}: {' '.join(words[rng.choice(len(words), size=5, p=p)])}.\n", encoding="utf-8")

    (root / "ordinary").mkdir()
    for i in range(ORDINARY):
        (root / "ordinary" / f"artikel_{i:04d}.txt").write_text(prose(rng, words, p, 1500), encoding="utf-8")
    return {"files": 2 + 1 + TINY_FILES + ORDINARY}


class PeakMemory:
    """Largest RSS seen per kind of process of the cluster and the stages, sampled every 0.2 s."""

    KINDS = (("executor", "CoarseGrainedExecutorBackend"), ("worker", "deploy.worker.Worker"),
             ("master", "deploy.master.Master"), ("driver JVM", "SparkSubmit"), ("python worker", "pyspark.daemon"),
             ("python worker", "pyspark/daemon"), ("stage driver (python)", "arkivlm"))

    def __init__(self):
        self.peak: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def kind(self, cmdline: str) -> str | None:
        return next((k for k, needle in self.KINDS if needle in cmdline), None)

    def run(self):
        me = psutil.Process()
        while not self.stop.is_set():
            for proc in me.children(recursive=True):
                try:
                    kind = self.kind(" ".join(proc.cmdline()))
                    if kind:
                        self.peak[kind] = max(self.peak.get(kind, 0), proc.memory_info().rss)
                except psutil.Error:
                    pass
            time.sleep(0.2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_standalone_cluster_with_bounded_executors_runs_ingest_to_corpus(tmp_path):
    from arkivlm import dedup, slurm
    from arkivlm.spark import executor_sizing

    t_build = time.perf_counter()
    archive = tmp_path / "archive"
    expected = build_archive(archive)
    t_build = time.perf_counter() - t_build

    # the book's signature alone, in this process: time and traced memory
    book_key = dedup.dedup_key((archive / "books" / "bok_1921.txt").read_text(encoding="utf-8"))
    signer = dedup.Signer(128, 1, 0.6)
    tracemalloc.start()
    t0 = time.perf_counter()
    signer.key_signature(book_key, 5)
    signature_s = time.perf_counter() - t0
    signature_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del book_key

    # two workers of one core each; each executor's JVM heap capped at 1 GiB
    # On so small a heap the vectorised Parquet reader's batch buffers (a column chunk, its pages and
    # a vector reserved beyond its size) for two books at once do not fit: rows are read one by one.
    settings = {"master": "slurm", "worker_memory": "4g", "executor_cores": 1, "executor_memory": "1g",
                "driver_memory": "2g", "shuffle_partitions": 8, "local_dir": str(tmp_path / "scratch"),
                "extra_conf": {"spark.sql.parquet.enableVectorizedReader": "false", "spark.hadoop.parquet.enable.dictionary": "false"}}
    sizing = executor_sizing(1, 4096, settings)
    assert sizing["conf"]["spark.executor.memory"] == "1024m"
    port, ui_port = free_port(), free_port()
    url = f"spark://127.0.0.1:{port}"
    env = slurm.cluster_env(settings, sizing, url)
    env.update(SPARK_WORKER_DIR=str(tmp_path / "work"), SPARK_LOCAL_IP="127.0.0.1",
               ARKIVLM_SPARK_SETTINGS=json.dumps(settings), PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = [subprocess.Popen(slurm.master_command("127.0.0.1", port, ui_port), env=env, start_new_session=True,
                              stdout=open(logs / "master.log", "w"), stderr=subprocess.STDOUT)]
    for i in range(2):
        procs.append(subprocess.Popen(slurm.worker_command(url, 1, sizing["worker_memory_mb"], free_port()), env=env,
                                      start_new_session=True, stdout=open(logs / f"worker{i}.log", "w"), stderr=subprocess.STDOUT))
    memory = PeakMemory()
    try:
        slurm.wait_for_workers(ui_port, 2)
        memory.thread.start()
        res = tmp_path / "results"
        sources = [
            {"name": "bocker", "modality": "text", "format": "txt", "path": "archive/books/*.txt", "rights": "public"},
            {"name": "tv", "modality": "subtitle", "format": "srt", "path": "archive/tv/*.srt", "rights": "public"},
            {"name": "notiser", "modality": "text", "format": "txt", "path": "archive/tiny/**/*.txt", "rights": "public"},
            {"name": "artiklar", "modality": "text", "format": "txt", "path": "archive/ordinary/*.txt", "rights": "public"},
        ]
        # books are long: the web's 200,000-word ceiling does not apply to them
        stage_settings = {"quality": {"gopher": {"max_words": 50_000_000}}}
        py = [sys.executable, "-m", "arkivlm"]
        commands = {
            "ingest": [*py, "ingest", "--sources", json.dumps(sources), "--docs", f"{res}/interim/ingest",
                       "--quarantine", f"{res}/quarantine", "--stats", f"{res}/stats/ingest.json"],
            "filter": [*py, "filter", "--settings", json.dumps(stage_settings), "--allow_rights", '["public"]',
                       "--input", f"{res}/interim/ingest", "--interim", f"{res}/interim", "--dropped", f"{res}/dropped",
                       "--stats-dir", f"{res}/stats"],
            # the book pair is verified in Spark (a few candidates would be verified on the driver)
            "corpus": [*py, "corpus", "--settings", json.dumps({"dedup": {"driver_verify_max_chars": 0}}), "--input", f"{res}/interim/pii", "--interim", f"{res}/interim", "--dropped",
                       f"{res}/dropped", "--stats-dir", f"{res}/stats", "--train", f"{res}/corpus/train",
                       "--validation", f"{res}/corpus/validation"],
        }
        walls = {}
        for name, cmd in commands.items():
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1500)
            walls[name] = round(time.perf_counter() - t0, 1)
            (logs / f"{name}.log").write_text(proc.stdout + proc.stderr)
            assert proc.returncode == 0, f"{name}:\n{proc.stderr[-5000:]}"
    finally:
        memory.stop.set()
        slurm.stop(procs)

    # Executors lost (a replacement executor is a new directory of the application): asserted to be
    # none once the figures are written. What lost them on this 1 GiB heap before: the Parquet
    # writer's min/max statistics of the text column, split's text cache, too little heap outside
    # Spark's unified memory, Spark's regexp word count (a book as a Java String), the cogroup
    # verifying the book pair (a row holding a book's key).
    apps = sorted((tmp_path / "work").glob("app-*"))
    assert len(apps) == 3
    lost = {app.name: len([d for d in app.iterdir() if d.is_dir()]) - 2 for app in apps}
    oom = {str(p.relative_to(tmp_path)): p.read_text(errors="replace").count("OutOfMemoryError")
           for p in (tmp_path / "work").glob("app-*/*/stderr") if "OutOfMemoryError" in p.read_text(errors="replace")}
    # every file accounted for, every stage's counts add up
    stats = {p.stem: json.loads(p.read_text()) for p in (res / "stats").glob("*.json")}
    ing = stats["ingest"]
    assert ing["files_in"] == expected["files"] == ing["files_ok"] + ing["files_quarantined"]
    assert ing["files_quarantined"] == 0
    docs = ing["docs_out"]
    for stage in ("clean", "lines", "langid", "quality", "pii", "dedup"):
        st = stats[stage]
        assert st["docs_in"] == docs == st["docs_out"] + sum(st["dropped"].values()), stage
        docs = st["docs_out"]
    assert stats["corpus"]["docs_in"] == docs

    # the book pair found: the second edition dropped as a near-duplicate of the first
    dropped = pd.read_parquet(res / "dropped" / "dedup")
    ingested = pd.read_parquet(res / "interim" / "ingest", columns=["id", "path"])
    book_ids = dict(zip(ingested.path, ingested.id))
    pair = dropped[dropped.id.isin([book_ids["archive/books/bok_1921.txt"], book_ids["archive/books/bok_1921_andra_upplagan.txt"]])]
    assert len(pair) == 1 and pair.reason.iloc[0] == "near_duplicate"
    corpus = pd.concat([pd.read_parquet(res / "corpus" / s, columns=["id", "source"]) for s in ("train", "validation")])
    assert (corpus.source == "bocker").sum() == 1
    # the 200,000-cue file went through every row-level stage (what quality then made of generated
    # cues is its own decision, in its stats)
    past_langid = pd.concat([pd.read_parquet(res / "interim" / "pii", columns=["source"])] +
                            [pd.read_parquet(res / "dropped" / s, columns=["source"]) for s in ("quality", "pii")])
    assert (past_langid.source == "tv").sum() == 1
    assert (corpus.source == "artiklar").sum() == ORDINARY

    figures = {"archive_build_s": round(t_build, 1), "wall_s": walls, "total_wall_s": round(sum(walls.values()), 1),
               "peak_rss_mb": {k: round(v / 2**20) for k, v in sorted(memory.peak.items())},
               "book_signature_s": round(signature_s, 2), "book_signature_peak_mb": round(signature_peak / 2**20, 1),
               "executor": sizing["conf"], "executors_lost_per_application": lost, "executor_oom_lines": oom,
               "files": expected["files"], "docs_in_corpus": int(len(corpus)),
               "dropped": {s: stats[s]["dropped"] for s in ("clean", "lines", "langid", "quality", "dedup")}}
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "stress_cluster.json").write_text(json.dumps(figures, indent=1))
    print(json.dumps(figures, indent=1))
    assert not any(lost.values()) and not oom, f"executors lost: {lost}; OutOfMemoryError in {oom}"
