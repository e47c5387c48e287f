"""The lake driver's class archive (cryptoviz.lake.cds), in a real local Spark: mapped when it is
there, and a damaged one refused with a log line rather than a driver that does not start."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cryptoviz.lake import class_archive, job
from cryptoviz.servers import free_port

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def spark():
    session = job.session("local[1]", free_port(), "512m", app="cryptoviz-class-archive-test")
    yield session
    session.stop()


def test_the_driver_maps_the_class_archive_made_at_install(spark):
    """`make install` archived the lake job's classes for this runtime (cryptoviz.lake.cds); the
    driver's JVM has that archive mapped, not only named in its options."""
    archive = class_archive.archive_path()
    assert archive is not None and archive.exists(), "no class archive: `make install` makes it"
    pid = spark._jvm.java.lang.ProcessHandle.current().pid()
    with open(f"/proc/{pid}/maps") as maps:
        assert str(archive) in maps.read()


def test_a_driver_whose_archive_is_damaged_starts_without_it_and_says_so(tmp_path):
    """An archive cut short since it was made (here: its first MB) kills the JVM that maps it: the
    driver is started again without it, and the refusal logged."""
    archive = class_archive.archive_path()
    assert archive is not None and archive.exists(), "no class archive: `make install` makes it"
    with open(archive, "rb") as full:
        (tmp_path / archive.name).write_bytes(full.read(2**20))
    code = (
        "import sys; from pathlib import Path; from cryptoviz.lake import class_archive, job; "
        "class_archive.FOLDER = Path(sys.argv[1]); "
        "print(job.session('local[1]', int(sys.argv[2]), '512m', 'damaged-archive').range(3).count())"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path), str(free_port())],
        cwd=tmp_path,  # where a JVM that dies writes its report
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip().splitlines()[-1] == "3"
    assert "spark_class_archive_refused" in run.stderr
