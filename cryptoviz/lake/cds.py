"""The Spark driver's class archive (the JVM's class data sharing): `python -m cryptoviz.lake.cds`.

A JVM starting Spark loads and verifies tens of thousands of classes from the jars before its
first batch, and again in every process that starts one (the lake service, each restart of it, each
`--once` run). The JVM can map them from an archive instead (`-XX:SharedArchiveFile`); it writes
one at its exit when told to (`-XX:ArchiveClassesAtExit`). Here a training run does that: the lake
job's own sink (`job.BatchWriter`) over a stream of a few quotes, from a source of this module's
that yields the Kafka source's rows (`cryptoviz.lake.rows`), so the archive holds what the job
loads. `job.session` passes the archive to the driver when it is there
(`class_archive.java_options`).

An archive is only good for the Java runtime and the jars it was made with: its name carries a
fingerprint of both, and `make install` (or an image's build) makes it when it is missing, removing
any other. When it cannot be made the command says why and exits 0: Spark runs without it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptoviz.lake import class_archive


# --- the training run (a process of its own: the JVM writes the archive when it exits) ----------
def _quotes() -> list[bytes]:
    """A day of hourly quotes for two coins, and one message the contract refuses (for the
    quarantine, as in a live batch)."""
    from cryptoviz.schema import encode, make_quote

    t0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(days=1)
    out = [
        encode(make_quote(sym, 100.0 + h, t0 + timedelta(hours=h), ingest_ts=t0 + timedelta(hours=h)))
        for h in range(24)
        for sym in ("BTC", "ETH")
    ]
    return [*out, b'{"symbol": "BTC"}']


def train(out: Path) -> None:
    """The lake job's stream and sink over `_quotes`, on a driver that writes its classes to
    `out` when its JVM exits (`exit_jvm`, at the end)."""
    import pyarrow.fs as pafs
    from pyspark.sql.datasource import DataSource, DataSourceStreamReader, InputPartition
    from pyspark.sql.streaming.datasource import ReadLimit

    from cryptoviz.lake import job
    from cryptoviz.lake.rows import SPARK_DDL, RowBuilder
    from cryptoviz.telemetry import Telemetry

    values = _quotes()

    class Reader(DataSourceStreamReader):
        def initialOffset(self) -> dict:
            return {"0": 0}

        def latestOffset(self, start: dict, limit: ReadLimit) -> dict:
            return {"0": len(values)}

        def partitions(self, start: dict, end: dict) -> list[InputPartition]:
            return [InputPartition(0)]

        def read(self, partition: InputPartition) -> Iterator:
            rows = RowBuilder()
            now_ms = int(time.time() * 1000)
            for offset, value in enumerate(values):
                rows.add(0, offset, b"BTC", value, now_ms)
            yield from rows.batches()

    class Source(DataSource):
        @classmethod
        def name(cls) -> str:
            return "cryptoviz-training"

        def schema(self) -> str:
            return SPARK_DDL

        def streamReader(self, schema) -> DataSourceStreamReader:
            return Reader()

    from cryptoviz.servers import free_port

    spark = job.session(
        "local[2]", free_port(), "512m", "cryptoviz-classes", f"-XX:ArchiveClassesAtExit={out}"
    )
    spark.dataSource.register(Source)
    with tempfile.TemporaryDirectory() as tmp:
        writer = job.BatchWriter(pafs.LocalFileSystem(), f"{tmp}/lake", Telemetry("training", None))
        query = (
            spark.readStream.format("cryptoviz-training")
            .load()
            .writeStream.foreachBatch(writer)
            .option("checkpointLocation", f"{tmp}/checkpoint")
            .trigger(availableNow=True)
            .start()
        )
        query.awaitTermination()
        if writer.telemetry.counters["rows_written"] != len(values) - 1:
            raise RuntimeError(f"the training batch wrote {writer.telemetry.counters['rows_written']} rows")
    spark.stop()
    exit_jvm()


def exit_jvm() -> None:
    """End this process's Spark JVM and wait for it (a JVM told to archive its classes writes them
    as it exits): it exits when its standard input closes; an error if it failed."""
    from pyspark import SparkContext

    proc = SparkContext._gateway.proc  # type: ignore[union-attr]  # set by pyspark's launch_gateway
    proc.stdin.close()
    if proc.wait(timeout=600) != 0:
        raise RuntimeError(f"the JVM exited with {proc.returncode}")


def check(archive: Path) -> None:
    """A driver that must map `archive` (-Xshare:on: it does not start otherwise) runs a query."""
    from cryptoviz.lake import job
    from cryptoviz.servers import free_port

    options = f"{class_archive.mapping(archive)} -Xshare:on"
    spark = job.session("local[1]", free_port(), "512m", "cryptoviz-classes-check", options)
    if spark.range(10).count() != 10:
        raise RuntimeError("the check query counted wrong")
    spark.stop()
    exit_jvm()


def main() -> int:
    path = class_archive.archive_path()
    if path is None:
        print("spark classes: no pyspark or no Java runtime, nothing to archive", file=sys.stderr)
        return 0
    if path.exists():
        print(f"spark classes: {path.name} is built")
        return 0
    start = time.perf_counter()
    try:
        class_archive.FOLDER.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a prefix this user cannot write (a system Python, not a venv)
        print(f"spark classes: not archived ({exc}); Spark starts without the archive", file=sys.stderr)
        return 0
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    for step in ("--train", "--check"):  # made, then mapped by a driver before it is put in place
        run = subprocess.run(
            [sys.executable, "-m", "cryptoviz.lake.cds", step, str(tmp)], capture_output=True, text=True
        )
        if run.returncode != 0 or not tmp.exists():
            tmp.unlink(missing_ok=True)
            print(
                f"spark classes: not archived ({step[2:]}, exit {run.returncode}): "
                f"{run.stderr.strip()[-400:]}; Spark starts without the archive",
                file=sys.stderr,
            )
            return 0
    tmp.replace(path)
    for old in class_archive.FOLDER.glob(f"{class_archive.PREFIX}*"):
        if old != path:
            old.unlink()
    size_mb = path.stat().st_size / 2**20
    print(f"spark classes archived in {time.perf_counter() - start:.1f} s: {path} ({size_mb:.0f} MB)")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] in (["--train"], ["--check"]):
        (train if sys.argv[1] == "--train" else check)(Path(sys.argv[2]))
        sys.exit(0)
    sys.exit(main())
