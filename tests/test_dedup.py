import json

import numpy as np
import pandas as pd
import pytest
from datasketch import MinHash

from arkivlm import dedup
from bench import near_duplicates as nd


def test_key_folds_case_hyphenation_diacritics_and_ocr_confusions():
    assert dedup.dedup_key("Järn-\nvägen i GÄVLE") == dedup.dedup_key("jarnvagen i gavle")
    assert dedup.dedup_key("barnen") == dedup.dedup_key("bamen")  # rn/m
    assert dedup.dedup_key("ll") == dedup.dedup_key("1l")


def test_key_and_exact_hash_match_their_regex_definitions():
    """The key drops every character but a-z, 0-9, | and ! through an ASCII encoding and a byte
    table, the exact hash folds whitespace runs by substituting only those that are not one space:
    both must give what the plain substitutions give, on random text with diacritics, ligatures,
    OCR confusions, every kind of Java and Unicode space, and lone surrogates."""
    import hashlib
    import random
    import re
    import unicodedata

    def key_reference(text):
        t = re.sub(r"[-\u00ad¬]\s*\n\s*", "", text.casefold())
        t = unicodedata.normalize("NFKD", t).replace("æ", "ae").replace("ø", "o").replace("ß", "ss")
        t = re.sub(r"[^a-z0-9|!]+", "", t)
        for src, dst in [("rn", "m"), ("1", "l"), ("|", "l"), ("!", "l"), ("0", "o"), ("5", "s")]:
            t = t.replace(src, dst)
        return t

    def exact_reference(text):
        return hashlib.sha256(re.sub(r"[ \t\n\x0b\f\r]+", " ", text.strip(" ").lower()).encode("utf-8", "surrogatepass")).hexdigest()

    rng = random.Random(3)
    alphabet = list("aåäöeéAÅÄÖÉ rnm15|!0oØæßﬁ-\u00ad¬_.,;:\t\n\x0b\f\r\u00a0\u2003\x1c") + ["\ud800", "ŉ", "Ⅻ", "²", "Z"]
    for n in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 80)))
        assert dedup.dedup_key(text) == key_reference(text), repr(text)
        assert dedup.exact_hash(text) == exact_reference(text), repr(text)


def test_signatures_equal_datasketch_update_batch():
    signer = dedup.Signer(128, 1, 0.4)
    for text in ["Räksmörgås", "Järnvägsstationen i Gävle invigdes i går av kommunalrådet." * 3]:
        h = dedup.shingle_hashes(dedup.dedup_key(text), 5)
        m = MinHash(num_perm=128, seed=1, hashfunc=int)
        m.update_batch(h)
        assert np.array_equal(m.hashvalues, signer.signature(h))
        repeats = dedup.shingle_hashes(dedup.dedup_key(text), 5, distinct=False)  # what the stage signs
        assert repeats.size >= h.size and np.array_equal(m.hashvalues, signer.signature(repeats))


def test_verification_separates_crops_from_quotes():
    s = dedup.DEFAULTS
    long = " ".join(f"Mening nummer {i} handlar om något helt eget i staden." for i in range(60))
    assert dedup.is_near_duplicate(dedup.dedup_key(long), dedup.dedup_key(long[200:-200]), s)
    assert not dedup.is_near_duplicate(dedup.dedup_key(long), dedup.dedup_key(long[:400]), s)


@pytest.fixture(scope="module")
def benchmark(spark, tmp_path_factory):
    docs = nd.build(n_groups=120, seed=11)
    return docs, nd.run_dedup(spark, docs, str(tmp_path_factory.mktemp("dedup")))


def test_labelled_benchmark_precision_and_recall(benchmark):
    docs, (scores, stats) = benchmark
    assert scores["precision"] >= 0.95 and scores["recall"] >= 0.95, scores
    assert {d["kind"] for d in docs} >= {"exact", "ocr", "crop", "crop_ocr", "sibling"}
    assert stats["docs_in"] == stats["docs_out"] + sum(stats["dropped"].values())
    assert set(stats["dropped"]) <= {"exact_duplicate", "near_duplicate"}


def test_same_clusters_every_run(spark, benchmark, tmp_path):
    docs, (scores, _) = benchmark
    again, _ = nd.run_dedup(spark, docs, str(tmp_path))
    assert again == scores


def test_components_in_spark_rounds_give_the_same_clusters(spark, benchmark, tmp_path):
    """The stage with every edge list sent to the Spark rounds (an archive too large for the
    driver's union-find) keeps and drops what the default run does."""
    docs, (scores, stats) = benchmark
    again, again_stats = nd.run_dedup(spark, docs, str(tmp_path), {"driver_components_max_edges": 0})
    assert again == scores and again_stats["dropped"] == stats["dropped"]
    assert again_stats["component_iterations"] >= 1 and stats["component_iterations"] == 0


def test_pairs_verified_in_spark_give_the_same_clusters(spark, benchmark, tmp_path):
    """A few candidates are verified on the driver; with too much text for it they are verified in
    Spark, a bucket of pairs at a time: the same pairs, the same documents kept and dropped."""
    docs, (scores, stats) = benchmark
    again, again_stats = nd.run_dedup(spark, docs, str(tmp_path / "spark"), {"driver_verify_max_chars": 0})
    assert stats["verified_on"][0] == "driver" and set(again_stats["verified_on"]) == {"spark"}
    assert again == scores and again_stats["dropped"] == stats["dropped"]
    assert again_stats["verified_pairs"] == stats["verified_pairs"] > 0
    nd.run_dedup(spark, docs, str(tmp_path / "driver"))
    columns = ["id", "reason", "duplicate_of"]
    on_driver, in_spark = (pd.read_parquet(tmp_path / w / "dropped")[columns].sort_values("id").reset_index(drop=True)
                           for w in ("driver", "spark"))
    assert len(on_driver) > 0 and on_driver.equals(in_spark)


def test_small_table_on_the_driver_gives_the_same_clusters_as_spark(spark, benchmark, tmp_path):
    """A table of at most dedup.driver_max_docs documents takes buckets, components and keepers on
    the driver: the same candidates, pairs, clusters and dropped rows as the Spark steps."""
    docs, (scores, stats) = benchmark
    again, again_stats = nd.run_dedup(spark, docs, str(tmp_path / "spark"), {"driver_max_docs": 0})
    assert stats["near_duplicates_on"] == "driver" and again_stats["near_duplicates_on"] == "spark"
    assert again == scores
    for key in ("docs_out", "dropped", "candidate_pairs", "verified_pairs", "clusters_by_size", "per_decade"):
        assert again_stats[key] == stats[key], key
    nd.run_dedup(spark, docs, str(tmp_path / "driver"))
    on_driver, in_spark = (pd.read_parquet(tmp_path / w / "dropped").sort_values("id").reset_index(drop=True)
                           for w in ("driver", "spark"))
    assert len(on_driver) > 100 and on_driver.equals(in_spark)


def test_lsh_candidates_pair_every_bucket_as_spark_does():
    ids = ["d", "a", "c", "b", "e", "f"]
    bands = np.array([[1, 7], [1, 8], [2, 7], [1, 9], [3, 7], [3, 9]], dtype=np.int64)
    # band 0: {a, b, d} and {e, f}; band 1: {c, d, e} and {b, f}. A bucket above max_bucket pairs its first id with each.
    assert dedup.lsh_candidates(ids, bands, max_bucket=3) == [
        ("a", "b"), ("a", "d"), ("b", "d"), ("b", "f"), ("c", "d"), ("c", "e"), ("d", "e"), ("e", "f")]
    assert dedup.lsh_candidates(ids, bands, max_bucket=2) == [
        ("a", "b"), ("a", "d"), ("b", "f"), ("c", "d"), ("c", "e"), ("e", "f")]
    assert dedup.lsh_candidates([], np.zeros((0, 18), dtype=np.int64), 64) == []


@pytest.mark.parametrize("where", ["driver", "spark"])
def test_keeper_order_with_missing_and_nan_scores(spark, tmp_path, where):
    """Spark orders quality_score DESC with NaN above every number and null last; the driver's
    keeper choice follows it."""
    base = " ".join(f"Notis om hamnen i Luleå, del {i}, med text om fartygen och vädret." for i in range(30))
    rows = [("n", base + " Slut.", None), ("x", base + " Slutet.", 0.4), ("y", base + " Slut!", float("nan")),
            ("z", base + " Sluten.", 0.9)]
    spark.createDataFrame([(i, "s", "text", "public", "txt", i, t, q) for i, t, q in rows],
                          "id string, source string, modality string, rights string, format string, path string, "
                          "text string, quality_score double").write.parquet(str(tmp_path / "in"))
    settings = {"driver_max_docs": 0} if where == "spark" else {}
    stats = dedup.run(spark, settings, str(tmp_path / "in"), str(tmp_path / "kept"), str(tmp_path / "dropped"), str(tmp_path / "s.json"))
    assert stats["near_duplicates_on"] == where
    assert list(pd.read_parquet(tmp_path / "kept").id) == ["y"]
    assert set(pd.read_parquet(tmp_path / "dropped").duplicate_of) == {"y"}


@pytest.mark.parametrize("settings", [{}, {"driver_max_docs": 0}], ids=["driver", "spark"])
def test_best_copy_is_kept_not_lowest_id(spark, tmp_path, settings):
    base = " ".join(f"Artikel om bron i Umeå, stycke {i}, med mycket text om kommunens planer." for i in range(30))
    rows = [{"id": "a", "text": base, "q": 0.5}, {"id": "b", "text": base.replace("Umeå", "Umea"), "q": 0.9},
            {"id": "c", "text": base, "q": 0.1}, {"id": "d", "text": "Helt annan text om något annat. " * 20, "q": 0.2}]
    table = pd.DataFrame([{"id": r["id"], "source": "s", "modality": "text", "rights": "public", "format": "alto",
                           "path": r["id"], "text": r["text"], "quality_score": r["q"]} for r in rows])
    spark.createDataFrame(table).write.parquet(str(tmp_path / "in"))
    dedup.run(spark, settings, str(tmp_path / "in"), str(tmp_path / "kept"), str(tmp_path / "dropped"), str(tmp_path / "s.json"))
    dropped = pd.read_parquet(tmp_path / "dropped").set_index("id")
    assert sorted(pd.read_parquet(tmp_path / "kept").id) == ["b", "d"]
    assert dropped.loc["c", "reason"] == "exact_duplicate" and dropped.loc["c", "duplicate_of"] == "b"
    assert dropped.loc["a", "reason"] == "near_duplicate" and dropped.loc["a", "duplicate_of"] == "b"
    assert json.loads((tmp_path / "s.json").read_text())["dropped"] == {"exact_duplicate": 1, "near_duplicate": 1}
