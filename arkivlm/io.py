"""Outputs are written beside their final place and moved in only when complete, so a killed
stage never leaves a partial table or stats file that looks finished."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path


def _tmp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")


def remove_stale_tmps(final: Path) -> None:
    """Remove what a writer of `final` killed mid-write left beside it. Only one job writes a path
    at a time (Snakemake's outputs; a stage run by hand owns its outputs), so every temporary
    sibling of `final` found before a write is a dead writer's."""
    prefix = f".{final.name}.tmp-"
    if not final.parent.is_dir():
        return
    for leftover in final.parent.iterdir():
        if leftover.name.startswith(prefix):
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def replace_dir(tmp: Path, final: Path) -> None:
    if final.exists():
        old = _tmp_beside(final)
        os.replace(final, old)
        os.replace(tmp, final)
        shutil.rmtree(old, ignore_errors=True)
    else:
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)


def write_parquet(df, path: str | os.PathLike) -> None:
    """Write a Spark DataFrame as a Parquet directory, atomically."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_tmps(final)
    tmp = _tmp_beside(final)
    df.write.mode("overwrite").parquet(str(tmp))
    for crc in tmp.glob(".*.crc"):
        crc.unlink()
    replace_dir(tmp, final)


@contextmanager
def parquet_written_meanwhile(df, path: str | os.PathLike | None):
    """Writes `df` to `path` (`write_parquet`) as a concurrent Spark job, from a thread, while the
    block runs, and waits for it at the block's end, also when the block fails. A stage's last steps
    are short jobs (counts, histograms, small tables) whose planning on the driver would otherwise
    come one after another. `path=None`: nothing is written."""
    if path is None:
        yield
        return
    from concurrent.futures import ThreadPoolExecutor

    from pyspark import inheritable_thread_target

    with ThreadPoolExecutor(1, thread_name_prefix="parquet-writer") as writer:
        written = writer.submit(inheritable_thread_target(write_parquet), df, path)
        yield
        written.result()


def write_json(obj, path: str | os.PathLike) -> None:
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_tmps(final)
    tmp = _tmp_beside(final)
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, final)


def environment_file_dir(path: Path, what: str) -> bool:
    """Create the directory of a file built once per environment (a class archive, a jar); False,
    after saying so on stderr, where it cannot be written (the stages then run without the file)."""
    import sys

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        print(f"{what}: cannot write {path.parent} ({e}); Spark stages run without it", file=sys.stderr)
        return False
    return True


def install_environment_file(tmp: Path, path: Path, pattern: str) -> None:
    """Move a built file into place and remove those of its kind (`pattern`) built for another key:
    a former Java, pyspark or source."""
    os.replace(tmp, path)
    for old in path.parent.glob(pattern):
        if old != path:
            old.unlink(missing_ok=True)
