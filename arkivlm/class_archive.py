"""A class-data-sharing archive of the Spark driver's JVM: the classes Spark loads, parsed once.

Every Spark stage is its own JVM, and at the sample archive's size a good part of each one is
spent loading and verifying Spark's classes before any document is read (measured here: the
session took 3.5 s to start and its first job 1.4 s; with the archive 2.1 s and 0.7 s; the
newsreels at 1x went from 69-73 s to 61-65 s). The archive is built once per environment
(`python -m arkivlm.class_archive`, run by `make spark-classes`) by running the package's own ingest,
filter and corpus stages on a small generated archive in a JVM that writes the classes it
loaded when it exits; `arkivlm.spark.get_session` then passes it to the driver's JVM.

It belongs to one JVM build and one set of Spark jars: its name carries a key of both, so a
changed Java or pyspark simply finds no archive (and runs as before) until it is built again.
A truncated archive crashes the JVM, so it is written under a temporary name, checked by a JVM
that loads it, and only then renamed into place.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from arkivlm.io import environment_file_dir, install_environment_file
from arkivlm.spark import get_session, java_executable

# Quiet: an archive the JVM cannot use (another JVM build, another classpath) is ignored.
USE_OPTIONS = "-Xshare:auto -Xlog:cds=off -Xlog:cds+dynamic=off"


# Every reader of the generated sample archive (config.yaml's sources, without the real newsreels).
WARM_UP_SOURCES = [
    {"name": "tidningar", "modality": "text", "format": "alto", "path": "tidningar/**/*.xml"},
    {"name": "bocker", "modality": "text", "format": "txt", "path": "bocker/*.txt"},
    {"name": "webbarkiv", "modality": "text", "format": "html", "path": "webb/*.html"},
    {"name": "brev", "modality": "text", "format": "jsonl", "path": "brev/*.jsonl"},
    {"name": "riksdag_speech", "modality": "transcript", "format": "whisper_json", "path": "riksdag/*.json"},
    {"name": "radio_speech", "modality": "transcript", "format": "srt", "path": "radio/*.srt"},
    {"name": "svt_subtitles_srt", "modality": "subtitle", "format": "srt", "path": "svt/srt/**/*.srt"},
    {"name": "svt_subtitles_vtt", "modality": "subtitle", "format": "vtt", "path": "svt/vtt/**/*.vtt"},
]


def archive_key(local_fs_permissions: str = "nio") -> str | None:
    """A key of the JVM build, the Spark jars and the extra jar (arkivlm.local_fs) the driver runs,
    or None without Java: an archive only maps into a JVM started with the classpath it was dumped from."""
    java = java_executable()
    if java is None:
        return None
    import pyspark

    java = os.path.realpath(java)
    home = os.path.dirname(os.path.dirname(java))
    libjvm = os.path.join(home, "lib", "server", "libjvm.so")
    jvm_stat = os.stat(libjvm if os.path.exists(libjvm) else java)
    jars = os.path.join(os.path.dirname(pyspark.__file__), "jars")
    from arkivlm import local_fs

    extra = local_fs.session_conf(local_fs_permissions).get("spark.driver.extraClassPath")
    parts = [java, jvm_stat.st_size, int(jvm_stat.st_mtime), pyspark.__version__, os.path.realpath(jars)]
    if extra:
        parts.append(extra)
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:16]


def archive_path(local_fs_permissions: str = "nio") -> Path | None:
    """Where this environment keeps its archive (inside the environment that holds pyspark)."""
    key = archive_key(local_fs_permissions)
    return None if key is None else Path(sys.prefix) / "share" / "arkivlm" / f"spark-classes-{key}.jsa"


def driver_java_options(local_fs_permissions: str = "nio") -> str:
    """The JVM options that use this environment's archive; '' where none has been built."""
    path = archive_path(local_fs_permissions)
    if path is None or not path.is_file():
        return ""
    return f"-XX:SharedArchiveFile={path} {USE_OPTIONS}"


def warm_up(work: Path) -> None:
    """Ingest, filter and corpus on a small generated archive, in this process's one Spark session
    (the JVM whose loaded classes are archived at its exit)."""
    from arkivlm import ingest, stage_chains
    from arkivlm.sample.archive import generate

    root = work / "archive"
    generate(root, scale=0.25)
    sources = [{**s, "path": str(root / s["path"]), "rights": "public"} for s in WARM_UP_SOURCES]
    spark = get_session({"master": "local[2]", "shuffle_partitions": 4}, app_name="arkivlm-class-archive")
    r = work / "results"
    ingest.run(spark, sources, {}, str(r / "interim/ingest"), str(r / "quarantine"), str(r / "stats/ingest.json"))
    stage_chains.run_filter(spark, {}, ["public"], str(r / "interim/ingest"), str(r / "interim"), str(r / "dropped"),
                            str(r / "stats"))
    stage_chains.run_corpus(spark, {}, str(r / "interim/pii"), str(r / "interim"), str(r / "dropped"),
                            str(r / "stats"), str(r / "corpus/train"), str(r / "corpus/validation"))
    jvm = spark.sparkContext._gateway.proc  # spark-submit, which execs the JVM
    spark.stop()
    spark.sparkContext._gateway.shutdown()
    jvm.stdin.close()  # the JVM exits at the end of its stdin, writing the archive first
    if jvm.wait(timeout=600) != 0:
        raise RuntimeError(f"the JVM ended with exit code {jvm.returncode} while writing its class archive")


def loads(java: str, path: Path) -> bool:
    """Whether a JVM starts with `path` as its archive (a truncated one crashes it). Not whether it
    maps it: that needs Spark's classpath, which `java -version` does not have."""
    with tempfile.TemporaryDirectory(prefix="arkivlm-class-archive-") as scratch:  # a crash's hs_err file
        proc = subprocess.run([java, f"-XX:SharedArchiveFile={path}", "-Xshare:auto", "-XX:-CreateCoredumpOnCrash",
                               f"-XX:ErrorFile={scratch}/hs_err.log", "-version"], capture_output=True, text=True, cwd=scratch)
    return proc.returncode == 0


def build(force: bool = False) -> Path | None:
    """Build this environment's archive (a no-op where it exists). Returns its path, or None where
    there is no Java or it could not be built (stages then run without it, as before)."""
    from arkivlm import local_fs

    local_fs.build()  # first: the archive is dumped from a JVM with its jar on the classpath
    path, java = archive_path(), java_executable()
    if path is None or java is None:
        print("class archive: no Java found; Spark stages run without one", file=sys.stderr)
        return None
    if path.is_file() and not force:
        return path
    if not environment_file_dir(path, "class archive"):
        return None
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tempfile.TemporaryDirectory(prefix="arkivlm-class-archive-") as work:
        env = {**os.environ, "ARKIVLM_SPARK_SETTINGS": json.dumps(
            {"extra_conf": {"spark.driver.extraJavaOptions": f"-Dlog4j2.level=WARN -XX:ArchiveClassesAtExit={tmp}"}})}
        env.pop("ARKIVLM_SPARK_MASTER", None)
        proc = subprocess.run([sys.executable, "-m", "arkivlm.class_archive", "--warm-up", work], env=env,
                              capture_output=True, text=True)
    if proc.returncode != 0 or not tmp.is_file() or not loads(java, tmp):
        tmp.unlink(missing_ok=True)
        print(f"class archive: not built (warm-up exit {proc.returncode}); Spark stages run without one\n"
              f"{proc.stderr[-3000:]}", file=sys.stderr)
        return None
    install_environment_file(tmp, path, "spark-classes-*.jsa")
    return path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Build this environment's class-data archive for Spark's driver JVM.")
    p.add_argument("--force", action="store_true", help="build it again even where it exists")
    p.add_argument("--warm-up", metavar="DIR", help=argparse.SUPPRESS)  # the JVM being archived
    args = p.parse_args(argv)
    if args.warm_up:
        warm_up(Path(args.warm_up))
        return
    path = build(force=args.force)
    if path is not None:
        print(f"class archive: {path} ({path.stat().st_size / 2**20:.0f} MB)")


if __name__ == "__main__":
    main()
