"""Hadoop's local file system without a `chmod` process per file written.

Spark writes every table through Hadoop's `LocalFileSystem`. Without Hadoop's native library (the
pip-installed pyspark has none) it sets the permissions of each new file and directory by starting
a `chmod` process from the JVM: 143 of them in one newsreels 1x run of ingest, filter and corpus,
each a fork and exec of a JVM holding gigabytes, on the critical path of every write. This module
builds, once per environment, a small jar with a subclass that sets the same permissions through
`java.nio.file.Files.setPosixFilePermissions` (falling back to Hadoop's own way for modes beyond
rwx bits, such as the sticky bit), and gives the session the settings that use it:
`spark.local_fs_permissions: nio` (the default); `chmod` keeps Hadoop's default.

The jar is compiled with the JDK's `javac` (`python -m arkivlm.class_archive`, run by `make
spark-classes`, builds it before the class archive, whose classpath it is on). Where there is no
`javac` (a JRE alone) nothing is built and Spark runs as before. Its name carries a key of the
source and the Hadoop jar it is compiled against, so a changed pyspark simply finds no jar until
it is built again.
"""

from __future__ import annotations

import glob
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from arkivlm.io import environment_file_dir, install_environment_file

CLASS = "arkivlm.hadoop.NioLocalFileSystem"
SOURCE = """\
package arkivlm.hadoop;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.attribute.PosixFilePermission;
import java.util.EnumSet;
import java.util.Set;

import org.apache.hadoop.fs.LocalFileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.hadoop.fs.RawLocalFileSystem;
import org.apache.hadoop.fs.permission.FsPermission;

/** Hadoop's local file system, setting permissions through java.nio instead of a chmod process. */
public class NioLocalFileSystem extends LocalFileSystem {
  public NioLocalFileSystem() {
    super(new Raw());
  }

  public static class Raw extends RawLocalFileSystem {
    private static final PosixFilePermission[] BITS = {
      PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_READ,
      PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_READ,
      PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE, PosixFilePermission.OWNER_READ};

    @Override
    public void setPermission(Path p, FsPermission permission) throws IOException {
      short mode = permission.toShort();
      if ((mode & ~0777) != 0) {  // the sticky bit: chmod sets it, java.nio cannot
        super.setPermission(p, permission);
        return;
      }
      Set<PosixFilePermission> perms = EnumSet.noneOf(PosixFilePermission.class);
      for (int i = 0; i < BITS.length; i++) {
        if ((mode & (1 << i)) != 0) {
          perms.add(BITS[i]);
        }
      }
      Files.setPosixFilePermissions(pathToFile(p).toPath(), perms);
    }
  }
}
"""


def hadoop_api_jar() -> str | None:
    """The Hadoop client API jar that pyspark ships (what the class is compiled against)."""
    import pyspark

    found = sorted(glob.glob(os.path.join(os.path.dirname(pyspark.__file__), "jars", "hadoop-client-api-*.jar")))
    return found[-1] if found else None


def jar_path() -> Path | None:
    """Where this environment keeps the jar (inside the environment that holds pyspark)."""
    api = hadoop_api_jar()
    if api is None:
        return None
    key = hashlib.sha256(f"{SOURCE}\0{os.path.basename(api)}".encode()).hexdigest()[:16]
    return Path(sys.prefix) / "share" / "arkivlm" / f"nio-local-fs-{key}.jar"


def javac_executable() -> str | None:
    from arkivlm.spark import jdk_tool

    return jdk_tool("javac")


def build() -> Path | None:
    """Compile the jar (a no-op where it exists). Returns its path, or None where there is no
    `javac` or it could not be built (Spark then keeps Hadoop's default)."""
    path, javac, api = jar_path(), javac_executable(), hadoop_api_jar()
    if path is None or api is None:
        return None
    if path.is_file():
        return path
    if javac is None:
        print("local file system: no javac (a JRE alone); Spark keeps Hadoop's chmod per file", file=sys.stderr)
        return None
    if not environment_file_dir(path, "local file system jar"):
        return None
    with tempfile.TemporaryDirectory(prefix="arkivlm-local-fs-") as work:
        src = Path(work) / "src" / "arkivlm" / "hadoop" / "NioLocalFileSystem.java"
        src.parent.mkdir(parents=True)
        src.write_text(SOURCE)
        classes = Path(work) / "classes"
        proc = subprocess.run([javac, "--release", "17", "-nowarn", "-cp", api, "-d", str(classes), str(src)],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            print(f"local file system: javac failed; Spark keeps Hadoop's default\n{proc.stderr[-2000:]}", file=sys.stderr)
            return None
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with zipfile.ZipFile(tmp, "w") as jar:  # a jar is a zip; no manifest is needed on a classpath
            for f in sorted(classes.rglob("*.class")):
                jar.write(f, f.relative_to(classes).as_posix())
    install_environment_file(tmp, path, "nio-local-fs-*.jar")
    return path


def session_conf(mode: str) -> dict:
    """Spark settings for `spark.local_fs_permissions`: with `nio` and a built jar, the jar on the
    driver's and executors' classpath (the same path on every node: the environment is shared) and
    the file system class; with `chmod`, or no jar, nothing (Hadoop's default)."""
    if mode not in ("nio", "chmod"):
        raise ValueError(f"spark.local_fs_permissions: {mode!r} is neither 'nio' nor 'chmod'")
    path = jar_path() if mode == "nio" else None
    if path is None or not path.is_file():
        return {}
    return {"spark.driver.extraClassPath": str(path), "spark.executor.extraClassPath": str(path),
            "spark.hadoop.fs.file.impl": CLASS}
