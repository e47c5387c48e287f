"""Where the Spark driver's class archive is (`cryptoviz.lake.cds` makes it) and the JVM option
that maps it: the archive of this Java runtime and these jars, by a fingerprint of both."""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

FOLDER = Path(sys.prefix) / "share" / "cryptoviz"
PREFIX = "spark-classes-"
TRAINING_VERSION = "2"  # part of the fingerprint: a change to the training run makes a new archive


def java_binary() -> str | None:
    """The `java` Spark's launcher runs: $JAVA_HOME's, else the PATH's."""
    home = os.environ.get("JAVA_HOME")
    return str(Path(home) / "bin" / "java") if home else shutil.which("java")


def fingerprint() -> str | None:
    """The Java runtime (its binary's real path, size and time) and the pyspark jars (names and
    sizes); None without pyspark or a Java runtime."""
    java = java_binary()
    try:
        import pyspark
    except ImportError:
        return None
    if java is None or not os.path.exists(java):
        return None
    real = os.path.realpath(java)
    st = os.stat(real)
    jars = Path(pyspark.__file__).parent / "jars"
    parts = [TRAINING_VERSION, real, str(st.st_size), str(st.st_mtime_ns), pyspark.__version__]
    parts += sorted(f"{j.name}:{j.stat().st_size}" for j in jars.glob("*.jar"))
    return hashlib.sha1("\n".join(parts).encode()).hexdigest()[:16]


def archive_path() -> Path | None:
    key = fingerprint()
    return FOLDER / f"{PREFIX}{key}.jsa" if key else None


def mapping(path: Path) -> str:
    """The JVM option that maps the archive at `path`."""
    return f"-XX:SharedArchiveFile={path}"


def java_options() -> str:
    """The driver's option that maps the archive, when this runtime's is there; else nothing."""
    path = archive_path()
    return mapping(path) if path is not None and path.exists() else ""
