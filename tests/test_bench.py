"""The benchmark's inputs and baseline (not its timings): the generated subtitle archive is
deterministic and shaped as described, and the plain script accounts for every file."""

import filecmp
import json

import pytest

from bench import plain_corpus, subtitle_corpus


def test_subtitle_archive_is_deterministic_and_sharded(tmp_path):
    for run in ("a", "b"):
        subtitle_corpus.ensure(tmp_path / run, shards=2, files_per_shard=60)
    cmp = filecmp.dircmp(tmp_path / "a" / "s01", tmp_path / "b" / "s01")
    assert not cmp.diff_files and len(cmp.same_files) == 60
    assert (tmp_path / "a" / "s00").exists() and not (tmp_path / "a" / "s02").exists()
    srt = sorted((tmp_path / "a" / "s00").glob("*.srt"))
    vtt = sorted((tmp_path / "a" / "s00").glob("*.vtt"))
    assert len(vtt) == 12 and len(srt) == 48
    assert vtt[0].read_text().startswith("WEBVTT") and " --> " in srt[0].read_text()
    with pytest.raises(ValueError):
        subtitle_corpus.sources(tmp_path, 3)


def test_planted_labels_and_foreign_cues_that_do_not_recur(tmp_path):
    """Every file has its planted label; foreign episodes are new text each time (cues drawn from a
    small pool recurred across episodes, and clean's boilerplate rule emptied them before language
    ID), and a shard written by an older generator is written again."""
    import srt

    subtitle_corpus.ensure(tmp_path, shards=1, files_per_shard=400)
    labels = subtitle_corpus.labels(tmp_path, 1)
    assert sorted(labels) == sorted(f"s00/{p.name}" for p in (tmp_path / "s00").iterdir())
    counts = {label: list(labels.values()).count(label) for label in set(labels.values())}
    assert set(counts) == {"original", "rerun", "edited", "no", "da", "en"} and 10 <= counts["no"] + counts["da"] <= 30
    seen: dict[str, int] = {}
    for path, label in labels.items():
        if label in ("no", "da", "en") and path.endswith(".srt"):
            for cue in srt.parse((tmp_path / path).read_text(encoding="utf-8")):
                seen[cue.content] = seen.get(cue.content, 0) + 1
    assert len(seen) > 100 and max(seen.values()) == 1
    (tmp_path / "s00.done").write_text("12345")  # the old format: a bare word count
    subtitle_corpus.ensure(tmp_path, shards=1, files_per_shard=400)
    assert json.loads((tmp_path / "s00.done").read_text())["version"] == subtitle_corpus.GENERATOR_VERSION


def test_plain_script_counts_every_file(tmp_path, capsys):
    subtitle_corpus.ensure(tmp_path / "arkiv", shards=1, files_per_shard=300)
    counts = plain_corpus.main(["--root", str(tmp_path / "arkiv"), "--scale", "1", "--out", str(tmp_path / "out.parquet")])
    assert counts["files"] == 300
    assert counts["kept"] + counts["not_swedish"] + counts["duplicates"] + counts["unreadable"] == 300
    # the generator plants reruns (8% exact, 4% edited) and 5% foreign episodes
    assert 10 <= counts["duplicates"] <= 60 and 5 <= counts["not_swedish"] <= 40
    assert json.loads(capsys.readouterr().out.strip())["kept"] == counts["kept"]


@pytest.mark.parametrize("scale", [1, 4, 16, 64])
def test_each_scale_reads_exactly_its_shards(tmp_path, scale):
    from arkivlm.ingest import list_source_files

    for shard in range(70):  # a root holding more shards than the scale asks for
        (tmp_path / f"s{shard:02d}").mkdir()
        (tmp_path / f"s{shard:02d}" / "a.srt").write_text("x")
    files = sorted(p for src in subtitle_corpus.sources(tmp_path, scale) if src["format"] == "srt" for p in list_source_files(src))
    assert files == [f"{tmp_path}/s{shard:02d}/a.srt" for shard in range(scale)]


def test_newsreel_replicas_are_new_documents_of_the_same_words(tmp_path):
    """A replica of a real newsreel SRT keeps its cues, timings and words, in a new order per shard,
    and the same shard is the same bytes."""
    import random

    import srt

    from arkivlm import dedup
    from bench import newsreel_corpus

    text = ("1\n00:00:01,000 --> 00:00:04,000\nKungen besöker i dag den nya fabriken i Västerås\n\n"
            "2\n00:00:04,500 --> 00:00:08,000\noch arbetarna visar honom de stora maskinerna\n")
    one, again = (newsreel_corpus.replica(text, random.Random(7)) for _ in range(2))
    assert one == again != text
    cues, original = list(srt.parse(one)), list(srt.parse(text))
    assert [(c.start, c.end) for c in cues] == [(c.start, c.end) for c in original]
    assert all(sorted(a.content.split()) == sorted(b.content.split()) for a, b in zip(cues, original))
    jac, _ = dedup.similarity(dedup.dedup_key(text), dedup.dedup_key(one), 5)
    assert jac < dedup.DEFAULTS["min_jaccard"]
    assert [s["path"] for s in newsreel_corpus.sources(tmp_path, 16)][:2] == [
        f"{tmp_path}/n0[0-9]/speech/**/*.srt", f"{tmp_path}/n1[0-5]/speech/**/*.srt"]
