"""Outputs are written beside their final place and moved in only when complete, so a killed
stage never leaves a partial table or stats file that looks finished."""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path


def _tmp_beside(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")


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
    tmp = _tmp_beside(final)
    df.write.mode("overwrite").parquet(str(tmp))
    for crc in tmp.glob(".*.crc"):
        crc.unlink()
    replace_dir(tmp, final)


def write_json(obj, path: str | os.PathLike) -> None:
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _tmp_beside(final)
    tmp.write_text(json.dumps(obj, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, final)
