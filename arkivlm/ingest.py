"""Ingest: every file of every configured source -> one document table, in Spark.

The driver only lists paths; executors read and parse the files in Arrow batches
(`mapInPandas`), so no document text passes through the driver. A file that cannot be read
becomes a quarantine row with a reason, never an exception that stops the stage.
"""

from __future__ import annotations

import functools
import os
import re
import sys
import stat
from pathlib import Path

import pandas as pd

from arkivlm.tables import DOCUMENT_DDL, document_id, source_decade_counts, with_int_columns

# line_conf: mean ALTO word confidence per text line (read by the lines stage, then dropped)
INGEST_DDL = DOCUMENT_DDL + ", cues array<string>, line_conf array<double>, reason string"
GLOB_CHARS = set("*?[")
DEFAULTS = {"max_file_mb": 64, "files_per_partition": 4000}


def glob_root(pattern: str) -> str:
    """The directory part of a glob before its first wildcard: files must stay under it."""
    parts = Path(pattern).parts
    fixed = []
    for part in parts:
        if GLOB_CHARS & set(part):
            break
        fixed.append(part)
    root = str(Path(*fixed)) if fixed else "."
    return root if fixed and len(fixed) < len(parts) else str(Path(root).parent)


def glob_regex(pattern: str) -> re.Pattern:
    """A glob (`*`, `?`, `[...]`, `**` for any depth) as a regex over whole paths."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:[^/]*/)*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1:]:
            j = pattern.index("]", i + 1)
            body = pattern[i + 1:j]
            negate = body.startswith("!")
            body = body[1:] if negate else body
            # ranges (`0-9`) stay ranges; what would change the class's meaning in a regex is escaped
            body = "".join("\\" + ch if ch in "\\^[&~|" else ch for ch in body)
            out.append("[" + ("^" if negate else "") + body + "]")
            i = j + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def iter_source_paths(pattern: str):
    """Every path a source's glob matches, in sorted order. Unlike `glob`, symlinked directories
    are not descended into (a symlink loop cannot explode the listing); symlinked files and
    directories whose names match are listed, for the reader to accept or quarantine."""
    root = glob_root(pattern)
    if not GLOB_CHARS & set(pattern):
        if os.path.lexists(pattern):
            yield pattern
        return
    regex = glob_regex(os.path.normpath(pattern) if not pattern.startswith("./") else pattern[2:])
    if not os.path.isdir(root):
        return
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames + dirnames):
            path = os.path.normpath(os.path.join(dirpath, name))
            if regex.fullmatch(path):
                yield path


def list_source_files(source: dict) -> list[str]:
    return sorted(iter_source_paths(source["path"]))


@functools.lru_cache(maxsize=256)
def _realpath(root: str) -> str:
    return os.path.realpath(root)


def read_file(path: str, fmt: str, root: str, max_bytes: int):
    """Yield (record, error) for one file; file-level problems come back as one error."""
    from arkivlm.readers import READERS, ReadError

    try:
        st = os.stat(path)  # follows symlinks; a loop raises ELOOP
    except OSError as e:
        yield None, f"cannot stat: {e.strerror}"
        return
    if not stat.S_ISREG(st.st_mode):
        yield None, "not a regular file"
        return
    real_root = _realpath(root)
    if os.path.commonpath([os.path.realpath(path), real_root]) != real_root:
        yield None, "symlink points outside the source directory"
        return
    if st.st_size > max_bytes:
        yield None, f"file too large ({st.st_size} bytes > {max_bytes})"
        return
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
        records = list(READERS[fmt].read(data, path))
    except ReadError as e:
        yield None, str(e)
        return
    except (RecursionError, MemoryError, OSError, ValueError, UnicodeError, TypeError, LookupError) as e:
        yield None, f"reader failed: {type(e).__name__}: {str(e)[:200]}"
        return
    for rec in records:
        yield rec, rec.error


def source_is_ocr(source: dict) -> bool:
    """`ocr: true` marks OCR'd text in any format; ALTO is OCR unless a source says otherwise."""
    return bool(source.get("ocr", source["format"] == "alto"))


def read_partition(batches, max_bytes: int, date_patterns: dict[str, str]):
    from arkivlm.dates import date_from_path, date_in_name, normalize_date

    columns = [c.split(" ")[0] for c in INGEST_DDL.split(", ")]
    patterns = {name: re.compile(p) for name, p in date_patterns.items()}
    for batch in batches:
        rows = []
        for src in batch.itertuples(index=False):
            path_date = date_from_path(patterns.get(src.source), src.path)
            for rec, error in read_file(src.abspath, src.format, src.root, max_bytes):
                base = dict.fromkeys(columns)
                base.update(source=src.source, modality=src.modality, rights=src.rights, format=src.format, path=src.path,
                            ocr=bool(src.ocr))
                if error is not None:
                    rows.append({**base, "record": rec.record if rec else None, "reason": error})
                    continue
                content = rec.text if rec.cues is None else "\n".join(rec.cues)
                rows.append({**base, "id": document_id(src.source, src.path, rec.record, content),
                             "record": rec.record, "text": rec.text, "cues": rec.cues, "title": rec.title,
                             "date": path_date or normalize_date(rec.date) or date_in_name(src.path),
                             "page": rec.page, "ocr_conf": rec.ocr_conf, "line_conf": rec.line_conf,
                             "start_s": rec.start_s, "end_s": rec.end_s, "reason": None})
        out = pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in columns})
        for col in ("ocr_conf", "start_s", "end_s"):
            out[col] = out[col].astype("float64")
        out["ocr"] = out["ocr"].astype("boolean")
        yield with_int_columns(out)


def run(spark, sources: list[dict], settings: dict, out_docs: str, out_quarantine: str, out_stats: str) -> dict:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from arkivlm.io import write_json, write_parquet

    settings = {**DEFAULTS, **(settings or {})}
    # Paths are kept as the config spells them (they are part of each document's identity) and read
    # through their absolute form: on a cluster the executors do not share the driver's directory.
    inventory = []
    for src in sources:
        root = os.path.abspath(glob_root(src["path"]))
        for path in list_source_files(src):
            inventory.append((src["name"], src["modality"], src["rights"], src["format"], source_is_ocr(src), path,
                              os.path.abspath(path), root))
    files_in = {src["name"]: 0 for src in sources}
    for row in inventory:
        files_in[row[0]] += 1

    # Few, large partitions: every task of a Python UDF pays a fixed cost (tens of ms), and every
    # partition becomes an output file. Two per core keeps the cores busy when file sizes vary.
    n_files = len(inventory)
    n_parts = max(2 * spark.sparkContext.defaultParallelism, -(-n_files // settings["files_per_partition"]))
    n_parts = max(1, min(n_parts, n_files, 4096))
    files = spark.createDataFrame(
        pd.DataFrame(inventory, columns=["source", "modality", "rights", "format", "ocr", "path", "abspath", "root"]),
        "source string, modality string, rights string, format string, ocr boolean, path string, abspath string, root string")
    files = files.repartition(n_parts, "path")
    max_bytes = int(settings["max_file_mb"] * 1024 * 1024)
    date_patterns = {src["name"]: src["date_from_path"] for src in sources if src.get("date_from_path")}
    table = files.mapInPandas(lambda it: read_partition(it, max_bytes, date_patterns), INGEST_DDL).persist(StorageLevel.MEMORY_AND_DISK)

    docs = table.where(F.col("reason").isNull()).drop("reason")
    quarantine = table.where(F.col("reason").isNotNull()).select("path", "source", "format", "record", "reason")
    per_source = {
        r["source"]: r for r in table.groupBy("source").agg(
            F.sum(F.col("reason").isNull().cast("long")).alias("docs"),
            F.countDistinct(F.when(F.col("reason").isNotNull() & F.col("record").isNull(), F.col("path"))).alias("files_quarantined"),
            F.sum((F.col("reason").isNotNull() & F.col("record").isNotNull()).cast("long")).alias("records_quarantined"),
        ).collect()
    }
    write_parquet(docs, out_docs)
    write_parquet(quarantine.coalesce(1).sortWithinPartitions("path", "record"), out_quarantine)

    sources_stats = {}
    for name, n_files in files_in.items():
        r = per_source.get(name)
        q = int(r["files_quarantined"]) if r else 0
        sources_stats[name] = {"files_in": n_files, "files_ok": n_files - q, "files_quarantined": q,
                               "records_quarantined": int(r["records_quarantined"]) if r else 0,
                               "docs": int(r["docs"] or 0) if r else 0}
    words_by_source, words_by_decade = source_decade_counts(docs)
    for name, st in sources_stats.items():
        st["words"] = words_by_source.get(name, {}).get("words", 0)
    docs_total = sum(s["docs"] for s in sources_stats.values())
    stats = {
        "stage": "ingest", "docs_in": docs_total, "docs_out": docs_total, "dropped": {},
        "files_in": sum(files_in.values()),
        "files_ok": sum(s["files_ok"] for s in sources_stats.values()),
        "files_quarantined": sum(s["files_quarantined"] for s in sources_stats.values()),
        "records_quarantined": sum(s["records_quarantined"] for s in sources_stats.values()),
        "per_source": sources_stats,
        "per_decade": words_by_decade,
    }
    write_json(stats, out_stats)
    table.unpersist()
    for name, st in sources_stats.items():
        if st["files_in"] and not st["files_ok"]:
            print(f"WARNING: ingest: every file of source {name!r} was quarantined; see {out_quarantine}", file=sys.stderr)
    return stats
