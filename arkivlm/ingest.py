"""Ingest: every file of every configured source -> one document table, in Spark.

The driver only lists paths; executors read and parse the files in Arrow batches
(`mapInPandas`), so no document text passes through the driver. A file that cannot be read
becomes a quarantine row with a reason, never an exception that stops the stage.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
import sys
import stat
from pathlib import Path

import pandas as pd

from arkivlm.tables import (DOCUMENT_DDL, count_words, document_id, histogram, linear_edges, sorted_partitions, source_decade_counts,
                            with_int_columns)

# line_conf: mean ALTO word confidence per text line (read by the lines stage, then dropped);
# words: counted where the text is made, for the stats, and not written; text: null for a document
# with cues (subtitles, transcripts), whose cues hold it
# skipped, skipped_count: records of a file that are counted, not documents (a WARC's images, an issue's METS)
INGEST_DDL = DOCUMENT_DDL + ", cues array<string>, line_conf array<double>, words long, reason string," \
    " skipped string, skipped_count long"
GLOB_CHARS = set("*?[")
DEFAULTS = {"max_file_mb": 64, "files_per_partition": 4000, "package_chunk_mb": 256}


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


def scan_dir(path: str) -> tuple[list[str], list[str]]:
    """(subdirectories to descend into, every entry name) of one directory, sorted. Symlinked
    directories are entries but are never descended into (a symlink loop cannot explode a listing)."""
    try:
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return [], []
    subdirs = []
    for e in entries:
        try:
            if e.is_dir(follow_symlinks=False):
                subdirs.append(e.name)
        except OSError:
            pass
    return subdirs, [e.name for e in entries]


def walk_matches(spelled: str, absolute: str, regex: re.Pattern):
    """Every path below one directory that `regex` matches, spelled from `spelled` (the config's
    spelling) while read through `absolute` (executors do not share the driver's directory)."""
    stack = [(spelled, absolute)]
    while stack:
        s, a = stack.pop()
        subdirs, names = scan_dir(a)
        for name in names:
            path = os.path.normpath(os.path.join(s, name))
            if regex.fullmatch(path):
                yield path
        stack.extend((os.path.join(s, d), os.path.join(a, d)) for d in reversed(subdirs))


def source_regex(pattern: str) -> re.Pattern:
    return glob_regex(os.path.normpath(pattern) if not pattern.startswith("./") else pattern[2:])


def plan_listing(pattern: str, min_dirs: int) -> tuple[list[str], list[tuple[str, str]]]:
    """(paths found, directories left to walk) of a source's glob. The driver lists the tree
    breadth-first, level by level, until the level holds `min_dirs` directories (then they are
    walked in parallel, in `min_dirs` tasks) or the tree ends."""
    if not GLOB_CHARS & set(pattern):
        return ([pattern] if os.path.lexists(pattern) else []), []
    root = glob_root(pattern)
    if not os.path.isdir(root):
        return [], []
    regex = source_regex(pattern)
    found, level = [], [(root, os.path.abspath(root))]
    while level and len(level) < min_dirs:
        next_level = []
        for s, a in level:
            subdirs, names = scan_dir(a)
            found.extend(p for p in (os.path.normpath(os.path.join(s, n)) for n in names) if regex.fullmatch(p))
            next_level.extend((os.path.join(s, d), os.path.join(a, d)) for d in subdirs)
        level = next_level
    return found, level


def iter_source_paths(pattern: str):
    """Every path a source's glob matches, on this machine alone (the same rules as the parallel
    listing). Unlike `glob`, symlinked directories are not descended into; symlinked files and
    directories whose names match are listed, for the reader to accept or quarantine."""
    if not GLOB_CHARS & set(pattern):
        if os.path.lexists(pattern):
            yield pattern
        return
    root = glob_root(pattern)
    if os.path.isdir(root):  # lazily, depth-first: the config check stops at the first match
        yield from walk_matches(root, os.path.abspath(root), source_regex(pattern))


def list_source_files(source: dict) -> list[str]:
    return sorted(iter_source_paths(source["path"]))


LISTING_DDL = "source string, modality string, rights string, format string, ocr boolean, path string, abspath string, root string"


def list_files(spark, sources: list[dict]):
    """The inventory of every source as a DataFrame (LISTING_DDL), listed in parallel: the driver
    lists the top of each tree, the executors walk its directories, and the inventory never
    gathers on the driver."""
    cwd = os.getcwd()
    min_dirs = 4 * spark.sparkContext.defaultParallelism
    tasks = []
    for i, src in enumerate(sources):
        found, dirs = plan_listing(src["path"], min_dirs)
        tasks.extend(("file", i, path, None) for path in found)
        tasks.extend(("dir", i, s, a) for s, a in dirs)
    meta = [(src["name"], src["modality"], src["rights"], src["format"], source_is_ocr(src),
             os.path.abspath(glob_root(src["path"]))) for src in sources]
    regexes = [source_regex(src["path"]) for src in sources]

    def rows(task):
        kind, i, spelled, absolute = task
        name, modality, rights, fmt, ocr, root = meta[i]
        paths = [spelled] if kind == "file" else walk_matches(spelled, absolute, regexes[i])
        for path in paths:
            yield (name, modality, rights, fmt, ocr, path, os.path.normpath(os.path.join(cwd, path)), root)

    if not any(kind == "dir" for kind, *_ in tasks):  # a small tree: the driver has listed it all
        return spark.createDataFrame([r for t in tasks for r in rows(t)], LISTING_DDL)
    files_task = [t for t in tasks if t[0] == "file"]
    dir_tasks = [t for t in tasks if t[0] == "dir"]
    # at most `min_dirs` tasks, each walking every n-th directory: a task of a Python UDF costs tens of
    # milliseconds however little it lists (243 one-directory tasks took 9.5 s of a 6,871-file archive)
    n_groups = min(len(dir_tasks), min_dirs)
    groups = ([files_task] if files_task else []) + [dir_tasks[k::n_groups] for k in range(n_groups)]
    columns = [c.split(" ")[0] for c in LISTING_DDL.split(", ")]

    def listed(batches):
        # frames through Arrow, not rows: pickling rows one by one into the JVM cost more than the walk
        for batch in batches:
            for g in batch["id"]:
                found = (r for t in groups[g] for r in rows(t))
                while chunk := list(itertools.islice(found, 100_000)):
                    yield pd.DataFrame(dict(zip(columns, map(list, zip(*chunk)))))

    return spark.range(len(groups), numPartitions=len(groups)).mapInPandas(listed, LISTING_DDL)


PACKAGE_DDL = LISTING_DDL + ", members array<string>, member_offsets array<long>, member_sizes array<long>," \
    " mets_dirs array<string>, mets_dates array<string>, n_files long, chunk int, list_error string"


def expand_packages(listing, sources: list[dict], chunk_members: int, chunk_bytes: int):
    """The listing with each package of a source that has `package_members` replaced by rows of
    runs of its members (at most `chunk_members` members and about `chunk_bytes` bytes each): the
    units a large package is split into across tasks. Every row says how many files it stands for
    (`n_files`: its members; a loose file or a package that cannot be listed counts one). Listed
    on the executors, in parallel over packages."""
    from arkivlm.readers import ReadError
    from arkivlm.readers.packages import chunks, is_package, list_package

    member_regex = {src["name"]: glob_regex(src["package_members"]) for src in sources if src.get("package_members")}
    columns = [c.split(" ")[0] for c in PACKAGE_DDL.split(", ")]

    def expand(batches):
        for batch in batches:
            rows = []
            for row in batch.to_dict("records"):
                empty = dict.fromkeys(columns[len(row):])
                if row["source"] not in member_regex or not is_package(row["path"]):
                    rows.append({**row, **empty, "n_files": 1})
                    continue
                try:
                    members, mets = list_package(row["abspath"], member_regex[row["source"]])
                except ReadError as e:
                    rows.append({**row, **empty, "n_files": 1, "list_error": str(e)})
                    continue
                if not members:  # a package with nothing to read still counts as a package
                    rows.append({**row, **empty, "members": [], "member_offsets": [], "member_sizes": [],
                                 "mets_dirs": [], "mets_dates": [], "n_files": 0, "chunk": 0})
                for k, run in enumerate(chunks(members, chunk_members, chunk_bytes)):
                    rows.append({**row, **empty, "members": [m.name for m in run], "member_offsets": [m.offset for m in run],
                                 "member_sizes": [m.size for m in run], "mets_dirs": list(mets),
                                 "mets_dates": list(mets.values()), "n_files": len(run), "chunk": k})
            out = pd.DataFrame(rows, columns=columns)
            out["n_files"] = out["n_files"].astype("int64")
            out["chunk"] = out["chunk"].astype("Int32")
            yield out

    return listing.mapInPandas(expand, PACKAGE_DDL)


@functools.lru_cache(maxsize=4096)
def _realpath(directory: str) -> str:
    return os.path.realpath(directory)


def real_file_path(path: str) -> str:
    """`os.path.realpath(path)` of a file, its directory resolved once per directory: realpath asks
    the file system about every component of the path (14 lstat calls per newsreel file, each a
    metadata request on Lustre); a file that is not itself a symlink resolves to its directory's
    real path and its name."""
    if not os.path.isabs(path) or os.path.islink(path):  # relative: the cache outlives a change of directory
        return os.path.realpath(path)
    head, tail = os.path.split(path)
    return os.path.join(_realpath(head), tail)


def parse_bytes(data: bytes, fmt: str, path: str, max_bytes: int):
    """Yield (record, error) for the bytes of one file or package member, decompressed by its
    name's suffix (`.gz`, `.bz2`, `.xz`, `.zst`); a file-level problem comes back as one error."""
    from arkivlm.readers import READERS, ReadError
    from arkivlm.readers.compressed import decompress

    try:
        records = list(READERS[fmt].read(decompress(data, path, max_bytes), path))
    except ReadError as e:
        yield None, str(e)
        return
    except READER_ERRORS as e:
        yield None, f"reader failed: {type(e).__name__}: {str(e)[:200]}"
        return
    for rec in records:
        yield rec, rec.error


READER_ERRORS = (RecursionError, MemoryError, OSError, ValueError, UnicodeError, TypeError, LookupError)


def read_file(path: str, fmt: str, root: str, max_bytes: int):
    """Yield (record, error) for one file; file-level problems come back as one error. A WARC is
    read record by record (`max_bytes` bounds each record); any other file whole."""
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
    if os.path.commonpath([real_file_path(path), real_root]) != real_root:
        yield None, "symlink points outside the source directory"
        return
    reader = READERS[fmt]
    if reader.streaming:
        try:
            with open(path, "rb") as fh:
                for rec in reader.read_stream(fh, path, max_bytes):
                    yield rec, rec.error
        except ReadError as e:
            yield None, str(e)
        except READER_ERRORS as e:
            yield None, f"reader failed: {type(e).__name__}: {str(e)[:200]}"
        return
    if st.st_size > max_bytes:
        yield None, f"file too large ({st.st_size} bytes > {max_bytes})"
        return
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as e:
        yield None, f"reader failed: {type(e).__name__}: {str(e)[:200]}"
        return
    yield from parse_bytes(data, fmt, path, max_bytes)


def read_package_chunk(src, max_bytes: int):
    """Yield (member path, record, error, the date of the member's METS) for a run of one
    package's members (a row of `expand_packages`)."""
    from arkivlm.readers import ReadError
    from arkivlm.readers.packages import MEMBER_SEPARATOR, Member, PackageFile

    dates = dict(zip(src.mets_dirs, src.mets_dates)) if src.mets_dirs is not None else {}
    members = [Member(n, int(o), int(z)) for n, o, z in zip(src.members, src.member_offsets, src.member_sizes)]
    try:
        package = PackageFile(src.abspath)
    except (OSError, ValueError, EOFError) as e:
        for m in members:
            yield f"{src.path}{MEMBER_SEPARATOR}{m.name}", None, f"corrupt package: {type(e).__name__}: {str(e)[:160]}", None
        return
    with package:
        for m in members:
            member_path = f"{src.path}{MEMBER_SEPARATOR}{m.name}"
            try:
                data = package.read(m, max_bytes)
            except ReadError as e:
                yield member_path, None, str(e), None
                continue
            for rec, error in parse_bytes(data, src.format, member_path, max_bytes):
                home = os.path.dirname(m.name)  # the METS beside the page, or one directory up (`issue/alto/`)
                yield member_path, rec, error, dates.get(home) or dates.get(os.path.dirname(home))


def source_is_ocr(source: dict) -> bool:
    """`ocr: true` marks OCR'd text in any format; ALTO is OCR unless a source says otherwise."""
    return bool(source.get("ocr", source["format"] == "alto"))


def read_partition(batches, max_bytes: int, date_patterns: dict[str, str], batch_bytes: int = 64 << 20):
    """Documents of the files of each batch, yielded in frames of about `batch_bytes` of text: a
    batch of small paths can expand into gigabytes of books."""
    from arkivlm.dates import date_from_path, date_in_name, normalize_date
    from arkivlm.python_workers import set_aside_survivors

    set_aside_survivors()
    columns = [c.split(" ")[0] for c in INGEST_DDL.split(", ")]
    patterns = {name: re.compile(p) for name, p in date_patterns.items()}

    def frame(rows):
        out = pd.DataFrame({c: pd.Series([r[c] for r in rows], dtype=object) for c in columns})
        for col in ("ocr_conf", "start_s", "end_s"):
            out[col] = out[col].astype("float64")
        out["ocr"] = out["ocr"].astype("boolean")
        out["words"] = out["words"].astype("Int64")
        out["skipped_count"] = out["skipped_count"].astype("Int64")
        return with_int_columns(out)

    rows, size = [], 0
    for batch in batches:
        for src in batch.itertuples(index=False):
            base = dict.fromkeys(columns)
            base.update(source=src.source, modality=src.modality, rights=src.rights, format=src.format, path=src.path,
                        ocr=bool(src.ocr))
            if getattr(src, "list_error", None) is not None:  # a package that cannot be listed: quarantined whole
                rows.append({**base, "reason": src.list_error})
                continue
            if getattr(src, "members", None) is not None:
                found = read_package_chunk(src, max_bytes)
            else:
                found = ((src.path, rec, error, None) for rec, error in read_file(src.abspath, src.format, src.root, max_bytes))
            skipped: dict[str, int] = {}
            for path, rec, error, package_date in found:
                if error is not None:
                    rows.append({**base, "path": path + (rec.path_suffix if rec else ""),
                                 "record": rec.record if rec else None, "reason": error})
                    continue
                if rec.skipped is not None:
                    skipped[rec.skipped] = skipped.get(rec.skipped, 0) + 1
                    continue
                content = rec.text if rec.cues is None else "\n".join(rec.cues)
                n = len(content or "")
                if rows and size + n > batch_bytes:
                    yield frame(rows)
                    rows, size = [], 0
                size += n
                doc_path = path + rec.path_suffix
                path_date = date_from_path(patterns.get(src.source), doc_path)
                rows.append({**base, "path": doc_path, "id": document_id(src.source, doc_path, rec.record, content),
                             # a cue document's text is its cues joined: clean builds it from the cues, so the
                             # table holds them once
                             "record": rec.record, "text": rec.text if rec.cues is None else None, "cues": rec.cues,
                             "title": rec.title, "url": rec.url,
                             "date": path_date or normalize_date(rec.date or package_date) or date_in_name(doc_path),
                             "page": rec.page, "ocr_conf": rec.ocr_conf, "line_conf": rec.line_conf,
                             "start_s": rec.start_s, "end_s": rec.end_s, "words": count_words(rec.text),
                             "reason": None})
            rows.extend({**base, "skipped": kind, "skipped_count": n} for kind, n in sorted(skipped.items()))
    if rows:
        yield frame(rows)


def run(spark, sources: list[dict], settings: dict, out_docs: str, out_quarantine: str, out_stats: str) -> dict:
    from pyspark import StorageLevel
    from pyspark.sql import functions as F

    from arkivlm.io import parquet_written_meanwhile, write_json, write_parquet

    settings = {**DEFAULTS, **(settings or {})}
    # Paths are kept as the config spells them (they are part of each document's identity) and read
    # through their absolute form: on a cluster the executors do not share the driver's directory.
    listing = list_files(spark, sources)
    packages = any(src.get("package_members") for src in sources)
    if packages:
        listing = expand_packages(listing, sources, settings["files_per_partition"], int(settings["package_chunk_mb"] * 2**20))
    listing = listing.persist(StorageLevel.MEMORY_AND_DISK_DESER)
    files_in = {src["name"]: 0 for src in sources}
    packages_in: dict[str, int] = {}
    if packages:
        is_package = F.col("members").isNotNull() | F.col("list_error").isNotNull()
        counted = listing.groupBy("source").agg(F.sum("n_files").alias("count"),
                                                F.countDistinct(F.when(is_package, F.col("path"))).alias("packages"))
    else:
        counted = listing.groupBy("source").count()
    for r in counted.collect():
        files_in[r["source"]] = int(r["count"])
        if packages and r["packages"]:
            packages_in[r["source"]] = int(r["packages"])

    # Few, large partitions: every task of a Python UDF pays a fixed cost (tens of ms), and every
    # partition becomes an output file. Two per core keeps the cores busy when file sizes vary.
    n_files = sum(files_in.values())
    n_parts = max(2 * spark.sparkContext.defaultParallelism, -(-n_files // settings["files_per_partition"]))
    n_parts = max(1, min(n_parts, n_files, 4096))
    # a package's runs of members are spread over the tasks like files
    files = listing.repartition(n_parts, "path", "chunk") if packages else listing.repartition(n_parts, "path")
    max_bytes = int(settings["max_file_mb"] * 1024 * 1024)
    batch_bytes = int(spark.conf.get("spark.sql.execution.arrow.maxBytesPerBatch", str(64 << 20)))
    date_patterns = {src["name"]: src["date_from_path"] for src in sources if src.get("date_from_path")}
    table = files.mapInPandas(lambda it: read_partition(it, max_bytes, date_patterns, batch_bytes), INGEST_DDL) \
        .persist(StorageLevel.MEMORY_AND_DISK_DESER)

    with_words = table.where(F.col("reason").isNull() & F.col("skipped").isNull()).drop("reason", "skipped", "skipped_count")
    docs = with_words.drop("words")
    quarantine = table.where(F.col("reason").isNotNull()).select("path", "source", "format", "record", "reason")
    skipped: dict = {}
    for r in table.where(F.col("skipped").isNotNull()).groupBy("source", "skipped").agg(
            F.sum("skipped_count").alias("n")).collect():
        skipped.setdefault(r["source"], {})[r["skipped"]] = int(r["n"])
    per_source = {
        r["source"]: r for r in table.groupBy("source").agg(
            F.sum((F.col("reason").isNull() & F.col("skipped").isNull()).cast("long")).alias("docs"),
            F.countDistinct(F.when(F.col("reason").isNotNull() & F.col("record").isNull(), F.col("path"))).alias("files_quarantined"),
            F.sum((F.col("reason").isNotNull() & F.col("record").isNotNull()).cast("long")).alias("records_quarantined"),
        ).collect()
    }
    n_quarantined = sum(int(r["files_quarantined"]) + int(r["records_quarantined"]) for r in per_source.values())
    with parquet_written_meanwhile(docs, out_docs):
        write_parquet(sorted_partitions(quarantine, n_quarantined, "path", ("path", "record")), out_quarantine)
        words_by_source, words_by_decade = source_decade_counts(with_words, words="words")
        # the report's figure of ALTO page confidence, drawn from these counts
        ocr_conf = histogram(docs.where(F.col("format") == "alto"), F.col("ocr_conf"), linear_edges(0.0, 1.0, 40),
                             by=("source",))

    sources_stats = {}
    for name, n_files in files_in.items():
        r = per_source.get(name)
        q = int(r["files_quarantined"]) if r else 0
        sources_stats[name] = {"files_in": n_files, "files_ok": n_files - q, "files_quarantined": q,
                               "records_quarantined": int(r["records_quarantined"]) if r else 0,
                               "docs": int(r["docs"] or 0) if r else 0}
        if name in packages_in:  # files_in counts the members read from these
            sources_stats[name]["packages"] = packages_in[name]
        if name in skipped:
            sources_stats[name]["records_skipped"] = dict(sorted(skipped[name].items()))
    for name, st in sources_stats.items():
        st["words"] = words_by_source.get(name, {}).get("words", 0)
    docs_total = sum(s["docs"] for s in sources_stats.values())
    stats = {
        "stage": "ingest", "docs_in": docs_total, "docs_out": docs_total, "dropped": {},
        "files_in": sum(files_in.values()),
        "files_ok": sum(s["files_ok"] for s in sources_stats.values()),
        "files_quarantined": sum(s["files_quarantined"] for s in sources_stats.values()),
        "records_quarantined": sum(s["records_quarantined"] for s in sources_stats.values()),
        "records_skipped": sum(n for by_kind in skipped.values() for n in by_kind.values()),
        "per_source": sources_stats,
        "per_decade": words_by_decade,
        "histograms": {"ocr_conf": ocr_conf},
    }
    write_json(stats, out_stats)
    table.unpersist()
    listing.unpersist()
    for name, st in sources_stats.items():
        if st["files_in"] and not st["files_ok"]:
            print(f"WARNING: ingest: every file of source {name!r} was quarantined; see {out_quarantine}", file=sys.stderr)
    return stats
