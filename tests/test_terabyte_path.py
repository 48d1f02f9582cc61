"""The corpus stages as a run over tens of millions of pages would meet them: bounded memory for
book-length documents, tables written by many tasks, listing on the executors, components run to
convergence, executors sized from the allocation, completed work kept across a failure."""

import functools
import json
import random
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from arkivlm import dedup, ingest, spark as spark_settings, stage_chains


def swedish_like(n_chars: int, seed: int) -> str:
    """Words of wordfreq's Swedish list drawn with Zipf-like weights: unrelated draws share few shingles."""
    import wordfreq

    words = np.array(wordfreq.top_n_list("sv", 30000), dtype=object)
    weights = 1.0 / np.arange(1, len(words) + 1) ** 1.05
    rng = np.random.default_rng(seed)
    return " ".join(words[rng.choice(len(words), size=n_chars // 5, p=weights / weights.sum())])[:n_chars]


# --- 3. MinHash in bounded memory ------------------------------------------------------------------

def test_signature_in_chunks_equals_one_pass_and_memory_is_bounded():
    signer = dedup.Signer(128, 1, 0.6)
    key = dedup.dedup_key(swedish_like(60_000, 1))
    whole = signer.signature(dedup.shingle_hashes(key, 5, distinct=False))
    for chunk in (256, 1000, 4096, 1 << 20):
        assert np.array_equal(signer.key_signature(key, 5, chunk), whole), chunk
    assert np.array_equal(dedup.shingle_set(key, 5, 1000), np.unique(dedup.shingle_hashes(key, 5)).astype(np.uint32))
    short = "ab"  # shorter than a shingle: one padded shingle, as before
    assert np.array_equal(signer.key_signature(short, 5, 256), signer.signature(dedup.shingle_hashes(short, 5, distinct=False)))

    # a 4-million-character book: one pass would build a 4M x 128 matrix (4 GB); in chunks the
    # peak stays near the chunk's matrix, whatever the length
    book = dedup.dedup_key(swedish_like(4_000_000, 2))
    tracemalloc.start()
    signer.key_signature(book, 5)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 80 * 2**20, f"signature of a 4M-character key peaked at {peak / 2**20:.0f} MiB"


def test_near_copy_of_a_long_document_is_verified_in_bounded_memory():
    book = swedish_like(1_500_000, 3)
    copy = book[:700_000] + " ett rättat ord " + book[700_000:]
    s = dedup.DEFAULTS
    tracemalloc.start()
    assert dedup.is_near_duplicate(dedup.dedup_key(book), dedup.dedup_key(copy), s)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # two keys of 1.5M characters (Python str, 1-2 bytes per character) and their distinct
    # shingles (4 bytes each); no 8-byte-per-character copy of either key
    assert peak < 60 * 2**20, f"verification peaked at {peak / 2**20:.0f} MiB"
    assert not dedup.is_near_duplicate(dedup.dedup_key(book), dedup.dedup_key(swedish_like(1_500_000, 4)), s)


def test_book_keys_travel_in_pieces_and_verify_as_whole_keys(spark, monkeypatch):
    """No JVM row holds a book's whole key: keys cross as ~1 MB pieces, and the verdicts on pieces
    equal the verdicts on whole keys (here with pieces of 5,000 shingles)."""
    monkeypatch.setattr(dedup, "KEY_PIECE_SHINGLES", 5000)
    book = swedish_like(40_000, 7)
    texts = {"book": book, "crop": book[3000:-3000], "quote": book[:4000], "other": swedish_like(40_000, 8),
             "tiny": "ab", "tiny2": "ab"}
    pieces = pd.concat(list(dedup.key_partition([pd.DataFrame({"id": list(texts), "text": list(texts.values())})], 5000)))
    assert pieces["key"].str.len().max() <= 5000 + 4
    for doc_id, text in texts.items():
        key = dedup.dedup_key(text)
        assert np.array_equal(dedup.pieces_shingle_set(list(pieces[pieces["id"] == doc_id]["key"]), 5), dedup.shingle_set(key, 5))
    ids = list(texts)
    pairs = pd.DataFrame([(a, b) for a in ids for b in ids if a < b], columns=["a", "b"])
    keys = spark.createDataFrame(pieces, dedup.KEY_PIECES_DDL)
    got = {(r["a"], r["b"]) for r in dedup.verified_pairs(spark.createDataFrame(pairs), keys, keys, dedup.DEFAULTS, 3).collect()}
    want = {(a, b) for a, b in zip(pairs["a"], pairs["b"])
            if dedup.is_near_duplicate(dedup.dedup_key(texts[a]), dedup.dedup_key(texts[b]), dedup.DEFAULTS)}
    assert got == want and ("book", "crop") in got and ("book", "quote") not in got and ("tiny", "tiny2") in got


def test_word_counts_in_python_equal_java_whitespace_words(spark, monkeypatch):
    """Words are counted in Python (Spark's regexps hold a book as a Java String); the counts are
    those of Java's \\s, across the chunks a book is counted in."""
    from pyspark.sql import functions as F

    from arkivlm import tables

    rng = random.Random(3)
    texts = ["".join(rng.choice(["ord", "å", " ", "\n", "\t", "\xa0", "\u3000", "\x1c", "  "]) for _ in range(rng.randint(0, 40)))
             for _ in range(200)] + [None, ""]
    df = spark.createDataFrame(pd.DataFrame({"text": texts}), "text string")
    java = F.size(F.filter(F.split(F.coalesce("text", F.lit("")), r"\s+"), lambda w: w != ""))
    rows = df.select(java.alias("java"), tables.word_count_column().alias("python")).collect()
    want = [r["java"] for r in rows]
    assert [r["python"] for r in rows] == want and sum(want) > 500
    # split's counts: characters as Spark's length() counts them (code points; a character beyond
    # the Basic Multilingual Plane is one), words as above, from one trip to Python
    wide = df.union(spark.createDataFrame([("Räksmörgås 🎬 é́",)], "text string"))
    counted = wide.select(F.length("text").alias("spark"), tables.text_counts_column().alias("n")).collect()
    assert [r["n"]["chars"] for r in counted] == [r["spark"] for r in counted] and counted[-1]["spark"] == 15
    assert [r["n"]["words"] for r in counted] == want + [3]
    monkeypatch.setattr(tables, "WORD_CHUNK", 7)  # words running over chunk boundaries counted once
    assert [tables.count_words(t) for t in texts] == want


# --- 6. connected components to convergence ------------------------------------------------------

def chain_edges(spark, n: int):
    ids = [f"d{i:04d}" for i in range(n)]
    rng = random.Random(5)
    rng.shuffle(ids)  # the smallest id somewhere in the middle of the chain
    return spark.createDataFrame(pd.DataFrame({"a": ids[:-1], "b": ids[1:]})), ids


def test_components_run_to_convergence_on_a_long_chain(spark, tmp_path):
    edges, ids = chain_edges(spark, 300)
    labels, rounds = dedup.connected_components(spark, edges, max_iterations=100, checkpoint_dir=str(tmp_path / "ckpt"))
    got = {r["id"]: r["component"] for r in labels.collect()}
    assert len(got) == 300 and set(got.values()) == {min(ids)}
    # pointer jumping: about log2(300) rounds, where propagation alone needs up to 299
    assert rounds <= 20
    assert any((tmp_path / "ckpt").rglob("*")), "each round is checkpointed reliably in the given directory"


def test_components_on_the_driver_equal_the_rounds_in_spark(spark, tmp_path):
    """Union-find on the driver (few edges) and the Spark rounds (many) name the same components:
    chains, stars, a cycle and isolated pairs, ids shuffled."""
    rng = random.Random(9)
    ids = [f"n{i:04d}" for i in range(600)]
    rng.shuffle(ids)
    edges = [(ids[i], ids[i + 1]) for i in range(0, 99)]                      # a chain
    edges += [(ids[100], ids[i]) for i in range(101, 160)]                    # a star
    edges += [(ids[i], ids[i + 1]) for i in range(160, 199)] + [(ids[199], ids[160])]  # a cycle
    edges += [(ids[i], ids[i + 1]) for i in range(200, 600, 2)]               # pairs
    edges += [(ids[5], ids[300])]                                            # the chain meets a pair
    rng.shuffle(edges)
    df = spark.createDataFrame(pd.DataFrame(edges, columns=["a", "b"]))
    on_driver = {r["id"]: r["component"] for r in dedup.components_on_driver(spark, df).collect()}
    rounds, _ = dedup.connected_components(spark, df, max_iterations=100, checkpoint_dir=str(tmp_path / "ckpt"))
    assert on_driver == {r["id"]: r["component"] for r in rounds.collect()}
    assert len(on_driver) == 600 and len(set(on_driver.values())) == 1 + 1 + 1 + 200 - 1
    empty = spark.createDataFrame(pd.DataFrame({"a": pd.Series([], dtype=object), "b": pd.Series([], dtype=object)}),
                                  "a string, b string")
    assert dedup.components_on_driver(spark, empty).count() == 0


def test_components_fail_loudly_naming_the_setting(spark, tmp_path):
    edges, _ = chain_edges(spark, 300)
    with pytest.raises(dedup.ComponentsDidNotConverge, match="dedup.max_iterations"):
        dedup.connected_components(spark, edges, max_iterations=2, checkpoint_dir=str(tmp_path / "ckpt"))


# --- 4. dropped and quarantine tables by many tasks ------------------------------------------------

def test_large_tables_are_written_in_many_sorted_files_the_same_every_time(spark, tmp_path):
    from arkivlm.io import write_parquet
    from arkivlm.tables import sorted_partitions

    rows = pd.DataFrame({"id": [f"{i * 7919 % 10007:05d}" for i in range(2000)], "reason": ["x"] * 2000})
    df = spark.createDataFrame(rows.sample(frac=1, random_state=1))
    contents = []
    for run in range(2):
        out = tmp_path / f"t{run}"
        write_parquet(sorted_partitions(df.repartition(3), 2000, "id", ("id",), rows_per_file=500), out)
        files = sorted(out.glob("*.parquet"))
        assert len(files) == 4
        parts = [pd.read_parquet(f) for f in files]
        assert all(p.id.is_monotonic_increasing for p in parts)
        assert sum(len(p) for p in parts) == 2000
        contents.append(sorted(p.to_csv() for p in parts))
    assert contents[0] == contents[1]


def test_a_write_removes_what_a_killed_writer_of_the_same_table_left(spark, tmp_path):
    from arkivlm.io import write_json, write_parquet

    dead = tmp_path / ".ingest.tmp-0fc7573f"  # a SIGKILL in the middle of Spark's write
    dead.mkdir()
    (dead / "part-00000.parquet").write_bytes(b"half a file")
    (tmp_path / ".ingest.json.tmp-1a2b3c4d").write_text("{")
    other = tmp_path / ".ingest_v2.tmp-5e6f7a8b"  # another table's: not this writer's to remove
    other.mkdir()
    write_parquet(spark.createDataFrame(pd.DataFrame({"id": ["a", "b"]})), tmp_path / "ingest")
    write_json({"docs": 2}, tmp_path / "ingest.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ingest_v2.tmp-5e6f7a8b", "ingest", "ingest.json"]
    assert sorted(pd.read_parquet(tmp_path / "ingest").id) == ["a", "b"]


def test_a_table_written_meanwhile_is_whole_at_the_blocks_end_and_no_write_outlives_an_error(spark, tmp_path):
    """`parquet_written_meanwhile` (a stage's kept table written while its counts run): the table is
    complete when the block ends; a job inside the block runs during the write; when the block or the
    write fails, the error reaches the caller only once the writing thread has ended, so no Spark job
    is left running behind a failed stage."""
    import threading

    from arkivlm.io import parquet_written_meanwhile

    def writers_alive():
        return [t for t in threading.enumerate() if t.name.startswith("parquet-writer") and t.is_alive()]

    df = spark.range(0, 20000, 1, 4).selectExpr("id", "repeat('x', 200) AS text")
    with parquet_written_meanwhile(df, tmp_path / "kept"):
        assert spark.range(0, 1000, 1, 2).count() == 1000
    assert pd.read_parquet(tmp_path / "kept").id.sort_values().tolist() == list(range(20000))
    assert not writers_alive()

    with pytest.raises(ZeroDivisionError):
        with parquet_written_meanwhile(df, tmp_path / "other"):
            1 / 0
    assert not writers_alive()

    broken = spark.range(0, 10, 1, 2).selectExpr("raise_error(concat('broken row ', id)) AS id")
    with pytest.raises(Exception, match="broken row"):
        with parquet_written_meanwhile(broken, tmp_path / "broken"):
            pass
    assert not writers_alive() and not (tmp_path / "broken").exists()

    with parquet_written_meanwhile(df, None):  # nothing to write
        pass
    assert not writers_alive()


# --- 5. listing on the executors -----------------------------------------------------------------

def nested_tree(root: Path, top: int = 12, sub: int = 3, files: int = 4) -> None:
    for i in range(top):
        for j in range(sub):
            d = root / f"{1900 + i}" / f"{j:02d}"
            d.mkdir(parents=True)
            for k in range(files):
                (d / f"p{k}.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nHej\n")
            (d / "notes.txt").write_text("x")
    (root / "1900" / "loop").symlink_to(root, target_is_directory=True)  # never descended
    (root / "1901" / "00" / "link.srt").symlink_to(root / "1900" / "00" / "p0.srt")
    (root / "top.srt").write_text("1\n00:00:01,000 --> 00:00:02,000\nHej\n")


@pytest.mark.parametrize("pattern", ["arkiv/**/*.srt", "arkiv/19[0-9]0/*/p?.srt", "arkiv/*.srt", "arkiv/1903/01/p1.srt"])
def test_parallel_listing_finds_what_the_driver_walk_finds(spark, tmp_path, monkeypatch, pattern):
    monkeypatch.chdir(tmp_path)
    nested_tree(tmp_path / "arkiv")
    src = {"name": "s", "modality": "subtitle", "rights": "public", "format": "srt", "path": pattern}
    expected = ingest.list_source_files(src)
    assert expected
    found, dirs = ingest.plan_listing(pattern, 4 * spark.sparkContext.defaultParallelism)
    if "**" in pattern:
        assert dirs, "a deep tree is handed to the executors"
    rows = ingest.list_files(spark, [src]).collect()
    assert sorted(r["path"] for r in rows) == expected
    assert all(r["abspath"] == str(tmp_path / r["path"]) for r in rows)
    if "**" in pattern:
        assert "arkiv/1901/00/link.srt" in expected and not any("loop" in p for p in expected)


# --- 2. batches sized in bytes -------------------------------------------------------------------

def test_ingest_yields_frames_bounded_in_bytes(tmp_path):
    for i in range(6):
        (tmp_path / f"book{i}.txt").write_text(swedish_like(300_000, i), encoding="utf-8")
    inventory = pd.DataFrame([{"source": "b", "modality": "text", "rights": "public", "format": "txt", "ocr": False,
                               "path": f"book{i}.txt", "abspath": str(tmp_path / f"book{i}.txt"), "root": str(tmp_path)}
                              for i in range(6)])
    frames = list(ingest.read_partition(iter([inventory]), 64 << 20, {}, batch_bytes=700_000))
    assert sum(len(f) for f in frames) == 6 and len(frames) == 3
    for f in frames:
        assert f.text.str.len().sum() <= 700_000


def test_session_caps_arrow_batches_in_bytes(spark):
    assert int(spark.conf.get("spark.sql.execution.arrow.maxBytesPerBatch")) == 64 << 20


# --- 1. executor sizing --------------------------------------------------------------------------

def test_executors_are_sized_from_the_node():
    s = spark_settings.executor_sizing(128, spark_settings.parse_memory_mb("440g"))
    assert s["executors_per_node"] == 16
    heap = spark_settings.parse_memory_mb(s["conf"]["spark.executor.memory"])
    assert s["conf"]["spark.executor.cores"] == "8"
    assert 9000 < heap < 11000 and 18000 < s["python_memory_mb_per_executor"] < 19000  # of 27.5 GB per executor
    assert s["worker_memory_mb"] == 16 * heap
    # no address-space limit on Python workers unless asked for (see executor_sizing)
    assert "spark.executor.pyspark.memory" not in s["conf"]
    small = spark_settings.executor_sizing(4, 4096, {"executor_cores": 2, "executor_memory": "1g",
                                                     "executor_pyspark_memory": "8g"})
    assert small["executors_per_node"] == 2 and small["conf"]["spark.executor.memory"] == "1024m"
    assert small["worker_memory_mb"] == 2048 and small["conf"]["spark.executor.pyspark.memory"] == "8192m"
    assert spark_settings.executor_sizing(2, 8192)["conf"]["spark.executor.cores"] == "2"  # never more than the node
    # Spark's own memory fraction on a large heap; on a small one, room left for a book's copies
    assert s["conf"]["spark.memory.fraction"] == "0.60"
    one_gib = spark_settings.executor_sizing(1, 4096, {"executor_cores": 1, "executor_memory": "1g"})["conf"]
    assert one_gib["spark.memory.fraction"] == "0.37"  # 1 - (256 + 200) / (1024 - 300)
    assert small["conf"]["spark.memory.fraction"] == "0.20"  # two cores on 1 GiB: the floor


def test_session_takes_settings_and_launcher_conf_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ARKIVLM_SPARK_SETTINGS", json.dumps({"driver_memory": "3g", "local_dir": str(tmp_path)}))
    s = spark_settings.resolve_settings({"shuffle_partitions": 3})
    assert s["driver_memory"] == "3g" and s["shuffle_partitions"] == 3 and spark_settings.local_dir(s) == str(tmp_path)
    monkeypatch.delenv("ARKIVLM_SPARK_SETTINGS")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "node-local"))
    assert spark_settings.local_dir(spark_settings.resolve_settings()) == str(tmp_path / "node-local")


# --- 11. completed work kept across a failure ----------------------------------------------------

def _filter_chain_args(spark, tmp_path, small_sample):
    from tests.conftest import sample_config

    cfg = sample_config(small_sample, tmp_path / "results")
    sources = [s for s in cfg["sources"] if s["name"] in ("svt_subtitles_srt", "bocker", "radio_speech")]
    ingest.run(spark, sources, {}, str(tmp_path / "interim" / "ingest"), str(tmp_path / "quarantine"),
               str(tmp_path / "stats" / "ingest.json"))
    return (spark, {}, ["public"], str(tmp_path / "interim" / "ingest"), str(tmp_path / "interim"), str(tmp_path / "dropped"),
            str(tmp_path / "stats"))


def _fails_as_a_lost_node(monkeypatch, module, name: str, run) -> None:
    """`run()` fails with `module.name` raising as on a lost node; the real one is back afterwards."""
    real = getattr(module, name)

    def crash(*a, **k):
        raise RuntimeError("node lost")

    monkeypatch.setattr(module, name, crash)
    with pytest.raises(RuntimeError, match="node lost"):
        run()
    monkeypatch.setattr(module, name, real)


def test_filter_chain_reuses_completed_stages_after_a_late_failure(spark, tmp_path, small_sample, monkeypatch):
    """From `row_stage_checkpoints_min_docs` documents on, each row stage writes its table, and a
    rerun starts after the last one that completed."""
    from arkivlm import pii

    run_filter = functools.partial(stage_chains.run_filter, checkpoint_min_docs=0)
    args = _filter_chain_args(spark, tmp_path, small_sample)
    _fails_as_a_lost_node(monkeypatch, pii, "run", lambda: run_filter(*args))
    tables = {s: sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "interim" / s).iterdir())
              for s in ("clean", "lines", "langid", "quality")}
    for s in ("clean", "lines", "langid", "quality"):  # what Snakemake removes of a failed job
        (tmp_path / "stats" / f"{s}.json").unlink()
    result = run_filter(*args)
    assert [s for s, r in result["stages"].items() if r["reused"]] == ["clean", "lines", "langid", "quality"]
    for s, files in tables.items():
        assert sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "interim" / s).iterdir()) == files
        st = json.loads((tmp_path / "stats" / f"{s}.json").read_text())
        assert st["docs_in"] == st["docs_out"] + sum(st["dropped"].values())
    assert result["stages"]["pii"]["docs_in"] == result["stages"]["quality"]["docs_out"]

    # a changed langid setting: clean and lines stay, langid and everything after it run again
    changed = run_filter(spark, {"langid": {"threshold": 0.6}}, *args[2:])
    assert [s for s, r in changed["stages"].items() if r["reused"]] == ["clean", "lines"]


def test_filter_chain_in_one_pass_reuses_clean_after_a_failure(spark, tmp_path, small_sample, monkeypatch):
    """Below `row_stage_checkpoints_min_docs`, lines, langid, quality and pii run as one pass: a
    failure in it (or a changed setting of any of them) reruns the four, never clean; a rerun with
    nothing changed reuses all five."""
    from arkivlm import pii

    args = _filter_chain_args(spark, tmp_path, small_sample)
    _fails_as_a_lost_node(monkeypatch, pii, "finish", lambda: stage_chains.run_filter(*args))
    clean_files = sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "interim" / "clean").iterdir())
    assert not (tmp_path / "interim" / "lines").exists()
    result = stage_chains.run_filter(*args)
    assert [s for s, r in result["stages"].items() if r["reused"]] == ["clean"]
    assert sorted((p.name, p.stat().st_mtime_ns) for p in (tmp_path / "interim" / "clean").iterdir()) == clean_files
    stats = {s: json.loads((tmp_path / "stats" / f"{s}.json").read_text()) for s in stage_chains.FILTER_STAGES}
    for before, after in zip(stage_chains.FILTER_STAGES, stage_chains.FILTER_STAGES[1:]):
        assert stats[after]["docs_in"] == stats[before]["docs_out"]
    for s in stage_chains.FILTER_STAGES:  # what Snakemake removes of a failed job
        (tmp_path / "stats" / f"{s}.json").unlink()
    again = stage_chains.run_filter(*args)
    assert all(r["reused"] for r in again["stages"].values())
    assert {s: json.loads((tmp_path / "stats" / f"{s}.json").read_text()) for s in stage_chains.FILTER_STAGES} == stats

    changed = stage_chains.run_filter(spark, {"langid": {"threshold": 0.6}}, *args[2:])
    assert [s for s, r in changed["stages"].items() if r["reused"]] == ["clean"]


def test_a_files_real_path_resolved_per_directory_is_realpaths(tmp_path, monkeypatch):
    """ingest's symlink check resolves each directory once: the same answer as os.path.realpath for
    plain files, symlinked files, files under a symlinked directory and relative paths."""
    import os

    nested_tree(tmp_path / "arkiv")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.srt").write_text("x")
    (tmp_path / "arkiv" / "1902" / "00" / "escape.srt").symlink_to(outside / "secret.srt")
    (tmp_path / "arkiv" / "via").symlink_to(tmp_path / "arkiv" / "1903", target_is_directory=True)
    (tmp_path / "arkiv" / "rel.srt").symlink_to(Path("1904") / "01" / "p2.srt")
    (tmp_path / "arkiv" / "deep").symlink_to(tmp_path / "arkiv" / "1903" / "00", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    paths = [str(p) for p in sorted((tmp_path / "arkiv").rglob("*.srt"))]
    paths += [str(tmp_path / p) for p in ("arkiv/via/00/p1.srt", "arkiv/1900/loop/top.srt", "arkiv/rel.srt",
                                          "arkiv/1902/00/escape.srt", "arkiv/via/../1905/00/p0.srt",
                                          "arkiv/1900/loop/1901/./00/link.srt", "arkiv/deep/../01/p1.srt")]
    paths += ["arkiv/via/00/p1.srt", "arkiv/rel.srt"]
    for path in paths:
        assert ingest.real_file_path(path) == os.path.realpath(path), path
    assert ingest.real_file_path("arkiv/1902/00/escape.srt") == str(outside / "secret.srt")
    assert ingest.real_file_path("arkiv/via/00/p1.srt") == str(tmp_path / "arkiv" / "1903" / "00" / "p1.srt")
    assert ingest.real_file_path(str(tmp_path / "arkiv/deep/../01/p1.srt")) == str(tmp_path / "arkiv/1903/01/p1.srt")
