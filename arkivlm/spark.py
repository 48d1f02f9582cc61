"""The SparkSession of a stage: local[*] by default, a standalone master on MeluXina.

`ARKIVLM_SPARK_MASTER` (set by the MeluXina launcher) overrides the configured master.
"""

from __future__ import annotations

import os
import shutil
import sys

DEFAULTS = {
    "master": "local[*]",
    "driver_memory": "4g",
    "shuffle_partitions": 8,
    "arrow_batch_rows": 2000,
    "extra_conf": {},
}


class JavaMissingError(RuntimeError):
    pass


def check_java() -> None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and os.path.exists(os.path.join(java_home, "bin", "java")):
        return
    if shutil.which("java") is None:
        raise JavaMissingError(
            "Spark needs Java 17 and no `java` was found: install it (Debian/Ubuntu: "
            "`apt-get install openjdk-17-jre-headless`) or set JAVA_HOME.")


def get_session(settings: dict | None = None, app_name: str = "arkivlm"):
    settings = {**DEFAULTS, **(settings or {})}
    check_java()
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    master = os.environ.get("ARKIVLM_SPARK_MASTER") or settings["master"]
    builder = (
        SparkSession.builder.master(master).appName(app_name)
        .config("spark.driver.memory", settings["driver_memory"])
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", str(settings["shuffle_partitions"]))
        .config("spark.sql.adaptive.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", str(settings["arrow_batch_rows"]))
        .config("spark.sql.parquet.compression.codec", "zstd")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.hadoop.mapreduce.fileoutputcommitter.marksuccessfuljobs", "false")
        .config("spark.hadoop.parquet.enable.summary-metadata", "false")
        .config("spark.python.worker.reuse", "true")
        .config("spark.driver.extraJavaOptions", "-Dlog4j2.level=WARN")
    )
    # Python stages balance their work over tasks, and a Parquet file splits only between row groups:
    # small row groups, and (on one machine) about four read tasks per core rather than one.
    builder = builder.config("spark.hadoop.parquet.block.size", str(8 << 20))
    if master.startswith("local"):
        threads = master[6:-1].split(",")[0] if master.startswith("local[") else "1"
        cores = (os.cpu_count() or 1) if threads == "*" else int(threads)
        builder = builder.config("spark.sql.files.minPartitionNum", str(4 * cores))
    for key, value in settings.get("extra_conf", {}).items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
