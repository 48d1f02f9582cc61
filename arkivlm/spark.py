"""The SparkSession of a stage: local[*] by default, a standalone cluster on MeluXina.

The `spark` config section says how Spark runs, never what it computes: the workflow hands it
to the jobs through the environment (`ARKIVLM_SPARK_SETTINGS`), not as a rule parameter, so that
raising driver memory after an out-of-memory error reruns nothing. The MeluXina launcher
(arkivlm.slurm) adds the master it started (`ARKIVLM_SPARK_MASTER`) and the executor sizing it
computed from the allocation (`ARKIVLM_SPARK_CONF`, spark.* settings as JSON).
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import shutil
import sys
import threading

DEFAULTS = {
    "master": "local[*]",
    "driver_memory": "4g",
    "shuffle_partitions": 8,
    "arrow_batch_rows": 2000,
    "arrow_batch_mb": 64,
    "local_dir": None,
    "class_archive": True,
    "driver_jit": "c1",
    "local_fs_permissions": "nio",
    "row_stage_checkpoints_min_docs": 1_000_000,
    "extra_conf": {},
}
SETTINGS_ENV = "ARKIVLM_SPARK_SETTINGS"
CONF_ENV = "ARKIVLM_SPARK_CONF"
TEXT_COLUMN = "text"  # the documents' text in every table
log = logging.getLogger(__name__)


class JavaMissingError(RuntimeError):
    pass


def jdk_tool(name: str) -> str | None:
    """$JAVA_HOME/bin/`name`, else the one on PATH; None without either."""
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.path.exists(os.path.join(java_home, "bin", name)):
        return os.path.join(java_home, "bin", name)
    return shutil.which(name)


def java_executable() -> str | None:
    """The `java` Spark starts: $JAVA_HOME/bin/java, else the one on PATH; None without either."""
    return jdk_tool("java")


def check_java() -> None:
    if java_executable() is None:
        raise JavaMissingError(
            "Spark needs Java 17 and no `java` was found: install it (Debian/Ubuntu: "
            "`apt-get install openjdk-17-jre-headless`) or set JAVA_HOME.")


def settings_from_env() -> dict:
    """The workflow's `spark` section, as the rule's environment carries it ({} outside the workflow)."""
    return json.loads(os.environ.get(SETTINGS_ENV) or "{}")


def export_spark_settings(section: dict) -> None:
    """Hand the workflow's `spark` section to the jobs it starts, through their environment."""
    os.environ[SETTINGS_ENV] = json.dumps(section, sort_keys=True)


def resolve_settings(settings: dict | None = None) -> dict:
    """DEFAULTS, then the workflow's section from the environment, then `settings` (e.g. --spark)."""
    return {**DEFAULTS, **settings_from_env(), **(settings or {})}


def local_dir(settings: dict) -> str:
    """Spark's scratch space (shuffle files, spills): `spark.local_dir`, else $TMPDIR (node-local on
    MeluXina), else /tmp."""
    return os.path.expandvars(settings.get("local_dir") or os.environ.get("TMPDIR") or "/tmp")


def parse_memory_mb(value: str | int) -> int:
    """'440g', '512m', '1t' or a number of MiB -> MiB."""
    if isinstance(value, (int, float)):
        return int(value)
    v = str(value).strip().lower().rstrip("b")
    units = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
    if v and v[-1] in units:
        return int(float(v[:-1]) * units[v[-1]])
    return int(float(v) / (1024 * 1024))


def memory_fraction(heap_mb: int, cores: int, settings: dict) -> float:
    """spark.memory.fraction for an executor heap: Spark's 0.6 unless that leaves too little of the
    heap outside its unified memory for what it does not account for. A cached column batch, a
    Parquet page or a row buffer holding a book-length document is several unaccounted copies of
    it (measured on a 1 GiB heap with a 60 MB book: cached blocks plus one unroll plus those copies
    ran out of heap at Spark's 0.6). So each core keeps `document_headroom_mb` (default 256, four
    times ingest's 64 MB file limit) plus 200 MB for the executor itself, down to a floor of 0.2."""
    headroom = cores * int(settings.get("document_headroom_mb", 256)) + 200
    usable = max(1, heap_mb - 300)  # Spark reserves 300 MB of every heap
    return min(0.6, max(0.2, 1 - headroom / usable))


def executor_sizing(cores_per_node: int, memory_per_node_mb: int, settings: dict | None = None) -> dict:
    """Executors per node and their spark.* settings, from a node's cores and the memory Spark may use.

    Several executors per node rather than one with every core: a JVM heap of hundreds of GB spends
    its time in garbage collection. Each executor's JVM heap is 35% of its share of the node; the
    rest is left to its Python workers (where the stages' work is done: a 60 MB book takes about
    1 GB in clean) and to off-heap buffers. `executor_cores` and `executor_memory` override.

    `executor_pyspark_memory`, when set, becomes spark.executor.pyspark.memory: Spark divides it by
    the executor's cores and sets it as each Python worker's address-space limit (RLIMIT_AS). That
    counts virtual memory (libraries, malloc arenas, thread stacks), not resident memory: measured
    here, 2 GB per worker made clean fail with MemoryError on a 60 MB book that needs 0.9 GB
    resident. So it is off unless set, and should leave several GB per core.
    """
    s = settings or {}
    executor_cores = max(1, min(int(s.get("executor_cores") or 8), cores_per_node))
    executors = max(1, cores_per_node // executor_cores)
    share = memory_per_node_mb // executors
    heap = parse_memory_mb(s["executor_memory"]) if s.get("executor_memory") else max(512, int(share * 0.35))
    conf = {"spark.executor.cores": str(executor_cores), "spark.executor.memory": f"{heap}m",
            "spark.memory.fraction": f"{memory_fraction(heap, executor_cores, s):.2f}"}
    if s.get("executor_pyspark_memory"):
        conf["spark.executor.pyspark.memory"] = f"{parse_memory_mb(s['executor_pyspark_memory'])}m"
    return {
        "executors_per_node": executors,
        "worker_memory_mb": executors * heap,  # what a standalone worker schedules: executor heaps
        "python_memory_mb_per_executor": share - heap,  # left to Python workers and off-heap, unenforced
        "conf": conf,
    }


def driver_java_options(settings: dict) -> str:
    """The driver JVM's options: quiet logging; with `driver_jit: c1` (the default) the JIT's first
    tier only; and the environment's class-data archive where one was built (arkivlm.class_archive)
    and `class_archive` is not switched off.

    Why C1: a stage's JVM lives seconds to minutes, and on a local master it is also the executor.
    Full tiered compilation spends a core on C2 compiling Spark's planner and generated code while
    the Python workers wait for that core. Measured here (2 cores, newsreels, `snakemake ... corpus`):
    1x 51.7 s -> 38.4-39.6 s, 16x 212.7 s -> 206.1 s (see bench/RESULTS.md). On a cluster it
    concerns the driver alone; executors keep the JVM's default."""
    from arkivlm import class_archive

    jit = settings.get("driver_jit", "c1")
    if jit not in ("c1", "tiered"):
        raise ValueError(f"spark.driver_jit: {jit!r} is neither 'c1' nor 'tiered'")
    archive = class_archive.driver_java_options(settings.get("local_fs_permissions", "nio")) \
        if settings.get("class_archive", True) else ""
    # C1 alone gets a 48 MB code cache by default; a driver that lives long (a test session, a day-long
    # stage) fills it, and then the JVM fails to link method handles ("Out of space in CodeCache for
    # adapters") and Spark stops its context. 240 MB is the tiered default: reserved, committed as used.
    c1 = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m" if jit == "c1" else ""
    return " ".join(o for o in ("-Dlog4j2.level=WARN", c1, archive) if o)


def get_session(settings: dict | None = None, app_name: str = "arkivlm"):
    settings = resolve_settings(settings)
    check_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    from arkivlm import local_fs

    master = os.environ.get("ARKIVLM_SPARK_MASTER") or settings["master"]
    builder = (
        SparkSession.builder.master(master).appName(app_name)
        .config("spark.driver.memory", settings["driver_memory"])
        .config("spark.local.dir", local_dir(settings))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(settings["shuffle_partitions"]))
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        # Batches handed to Python end at whichever comes first: rows, or bytes (a few book-length
        # documents fill a batch; a batch of 2,000 books would not fit a worker, nor Arrow's 2 GiB column).
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(settings["arrow_batch_rows"]))
        .config("spark.sql.execution.arrow.maxBytesPerBatch", str(int(settings["arrow_batch_mb"] * (1 << 20))))
        # A cached table (each stage persists its result once) is built in column batches on the
        # executor's heap: 10,000 rows by default, which with a few book-length documents in one
        # batch is past a 1 GiB heap (256 rows of ordinary documents are still ~1 MB); and the
        # batch compressors copy every value to gather their statistics (run-length and dictionary
        # encoding, which do nothing for text anyway).
        .config("spark.sql.inMemoryColumnarStorage.batchSize", "256")
        .config("spark.sql.inMemoryColumnarStorage.compressed", "false")
        # The same for the vectorised Parquet reader (4,096 rows a batch, string vectors reserved at
        # twice their size): smaller batches, and huge vectors reserved at 1.2x and released after use.
        .config("spark.sql.parquet.columnarReaderBatchSize", "256")
        .config("spark.sql.inMemoryColumnarStorage.hugeVectorThreshold", str(16 << 20))
        .config("spark.sql.parquet.compression.codec", "zstd")
        # Min/max statistics of a text column copy each new minimum or maximum value on the writer's
        # heap, twice a book per row group (the stress test's executors died there); nothing filters
        # on text, so its statistics are not kept.
        .config(f"spark.hadoop.parquet.column.statistics.enabled#{TEXT_COLUMN}", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .config("spark.hadoop.parquet.enable.summary-metadata", "false")
        .config("spark.python.worker.reuse", "true")
        .config("spark.driver.extraJavaOptions", driver_java_options(settings))
    )
    # Python stages balance their work over tasks, and a Parquet file splits only between row groups:
    # small row groups, and (on one machine) about four read tasks per core rather than one.
    builder = builder.config("spark.hadoop.parquet.block.size", str(8 << 20))
    if master.startswith("local"):
        threads = master[6:-1].split(",")[0] if master.startswith("local[") else "1"
        cores = (os.cpu_count() or 1) if threads == "*" else int(threads)
        builder = builder.config("spark.sql.files.minPartitionNum", str(4 * cores))
    launcher_conf = json.loads(os.environ.get(CONF_ENV) or "{}") if os.environ.get("ARKIVLM_SPARK_MASTER") else {}
    user_conf = {**launcher_conf, **settings.get("extra_conf", {})}
    fs_conf = local_fs.session_conf(settings["local_fs_permissions"])
    for key in ("spark.driver.extraClassPath", "spark.executor.extraClassPath"):
        if key in fs_conf and key in user_conf:  # a classpath of the user's own keeps the file system's jar
            user_conf[key] = f"{fs_conf[key]}{os.pathsep}{user_conf[key]}"
    for key, value in {**fs_conf, **user_conf}.items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    if master.startswith("local"):
        start_python_workers(spark)
    return spark


def _identity_batches(batches):
    yield from batches


def start_python_workers(spark) -> threading.Thread:
    """Start the executor's Python workers (one per core, kept for reuse) and the JVM's Arrow path
    in the background, while the driver lists and plans the stage's first job: about 0.8 s less
    before that job's first batch, measured on this machine. Only where the driver is also the
    executor (local masters), where a rule's fixed cost is a real part of its time; on a cluster the
    executors start their workers with the first job, as before."""
    parts = spark.sparkContext.defaultParallelism

    def run():
        try:
            spark.range(0, parts, 1, parts).mapInPandas(_identity_batches, "id long").collect()
        except Exception as e:  # the session stopped first: nothing was waiting for this job
            log.debug("python worker start-up job: %s", e)

    thread = threading.Thread(target=run, name="start-python-workers", daemon=True)
    thread.start()
    # a stage that ends first (all its work reused) waits the second it takes, rather than exit with
    # the job running and the JVM logging its tasks' failures (this handler runs before pyspark's)
    atexit.register(thread.join, 60)
    return thread

