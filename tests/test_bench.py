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
