"""The Spark driver's JVM options: the class-data archive (arkivlm.class_archive), built once per
environment, used by every stage's session, never a truncated one; and the JIT (`spark.driver_jit`)."""

import json
import subprocess
import sys

import pytest

from arkivlm import class_archive
from arkivlm.spark import driver_java_options


@pytest.fixture(scope="module")
def archive():
    path = class_archive.build()  # `make test` built it (make spark-classes); built here where it did not
    assert path is not None and path.is_file()
    return path


SESSION = """
import json, sys
from arkivlm.spark import get_session
s = get_session({"master": "local[1]", "extra_conf": {"spark.driver.extraJavaOptions": sys.argv[1]}}, app_name="t")
print(json.dumps({"rows": s.range(5).count()}))
"""


def start_session(java_options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SESSION, java_options], capture_output=True, text=True, timeout=300)


def spark_classes_from_archive(java_options: str, log) -> tuple[int, int]:
    """(Spark classes the driver loaded from the dynamic archive, Spark classes it loaded in all)."""
    proc = start_session(f"{java_options} -Xlog:class+load=info:file={log}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["rows"] == 5
    spark = [line for line in log.read_text().splitlines() if "] org.apache.spark." in line]
    return sum(line.endswith("source: shared objects file (top)") for line in spark), len(spark)


def test_a_stage_session_loads_sparks_classes_from_the_archive(archive, tmp_path):
    options = driver_java_options({})
    assert f"-XX:SharedArchiveFile={archive}" in options.split()
    shared, loaded = spark_classes_from_archive(options, tmp_path / "with.log")
    assert loaded > 1000 and shared > loaded / 2  # the rest: classes Spark generates at run time
    shared, loaded = spark_classes_from_archive(driver_java_options({"class_archive": False}), tmp_path / "without.log")
    assert loaded > 1000 and shared == 0


def test_switched_off_by_config():
    assert driver_java_options({"class_archive": False, "driver_jit": "tiered"}) == "-Dlog4j2.level=WARN"
    assert "SharedArchiveFile" not in driver_java_options({"class_archive": False})


def test_a_truncated_archive_is_never_put_in_place(archive, tmp_path):
    """A truncated archive crashes the JVM: build() checks the new one with `loads` before renaming it."""
    java = class_archive.java_executable()
    truncated = tmp_path / "truncated.jsa"
    truncated.write_bytes(archive.read_bytes()[: 1 << 20])
    assert class_archive.loads(java, archive)
    assert not class_archive.loads(java, truncated)


def test_without_java_stages_run_without_an_archive(monkeypatch):
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert class_archive.archive_path() is None
    assert driver_java_options({"driver_jit": "tiered"}) == "-Dlog4j2.level=WARN"
    assert class_archive.build() is None


def test_the_archive_is_named_by_java_and_spark(archive):
    assert archive.name == f"spark-classes-{class_archive.archive_key()}.jsa"
    assert archive.parent == class_archive.archive_path().parent


def jvm_arguments(spark) -> list[str]:
    return list(spark.sparkContext._jvm.java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments())


def test_a_stage_sessions_jvm_compiles_with_the_first_tier_only(spark):
    """The test session is made by get_session with the default `driver_jit` (c1): the option reaches
    the JVM that runs the tasks, not just the settings."""
    assert "-XX:TieredStopAtLevel=1" in jvm_arguments(spark)


def test_tiered_leaves_the_jvms_default_and_other_values_fail():
    assert "TieredStopAtLevel" not in driver_java_options({"driver_jit": "tiered"})
    with pytest.raises(ValueError, match="spark.driver_jit"):
        driver_java_options({"driver_jit": "c2"})


# --- Hadoop's local file system without a chmod process per file (arkivlm.local_fs) -------------

def test_a_stage_session_writes_through_the_nio_file_system(spark, tmp_path):
    """The test session is made by get_session with the default `local_fs_permissions` (nio): the
    class is the file system Spark writes with, and a table's files and directories get the modes
    Hadoop's chmod gives them (umask 022)."""
    import os
    import stat

    from arkivlm import local_fs

    if local_fs.javac_executable() is None:
        pytest.skip("no javac here: the session keeps Hadoop's default, which the workflow tests cover")
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    fs = jvm.org.apache.hadoop.fs.FileSystem.get(jvm.java.net.URI("file:///"), conf)
    assert fs.getClass().getName() == local_fs.CLASS
    spark.range(10).repartition(2).write.parquet(str(tmp_path / "t" / "table"))
    modes = {p.name: stat.S_IMODE(os.stat(p).st_mode) for p in (tmp_path / "t").rglob("*")}
    assert modes["table"] == 0o755
    files = [n for n in modes if n.endswith(".parquet")]
    assert len(files) == 2 and all(modes[n] == 0o644 for n in files)


def test_nio_permissions_are_the_ones_chmod_sets(spark, tmp_path):
    """NioLocalFileSystem.setPermission against Hadoop's own (a chmod process) on the same modes,
    the sticky bit (which java.nio cannot set, so it goes to chmod) included."""
    import os
    import stat

    from arkivlm import local_fs

    if local_fs.javac_executable() is None:
        pytest.skip("no javac here: nothing to compare")
    jvm = spark.sparkContext._jvm
    conf = spark.sparkContext._jsc.hadoopConfiguration()
    nio, hadoop = getattr(jvm.arkivlm.hadoop, "NioLocalFileSystem$Raw")(), jvm.org.apache.hadoop.fs.RawLocalFileSystem()
    for fs in (nio, hadoop):
        fs.initialize(jvm.java.net.URI("file:///"), conf)
    for mode in ("600", "640", "644", "700", "750", "755", "444", "000", "1777"):
        got = {}
        for name, fs in (("nio", nio), ("hadoop", hadoop)):
            path = tmp_path / f"{name}-{mode}"
            path.mkdir() if mode == "1777" else path.write_text("x")
            fs.setPermission(jvm.org.apache.hadoop.fs.Path(str(path)), jvm.org.apache.hadoop.fs.permission.FsPermission(mode))
            got[name] = stat.S_IMODE(os.stat(path).st_mode)
        assert got["nio"] == got["hadoop"] == int(mode, 8), mode


def test_chmod_keeps_hadoops_default_and_other_values_fail():
    from arkivlm import local_fs

    assert local_fs.session_conf("chmod") == {}
    with pytest.raises(ValueError, match="spark.local_fs_permissions"):
        local_fs.session_conf("posix")
