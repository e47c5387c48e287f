"""Compaction keeps the row multiset, in a local folder and in the real S3 server, and resumes; a
reader beside it reads each row once."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from msgspec.structs import replace

from cryptoviz import names
from cryptoviz.lake.compact import (
    MANIFEST,
    STAGED,
    CompactionReport,
    compact,
    compact_partition,
    partition_files,
)
from cryptoviz.lake.reader import LakeReader
from cryptoviz.lake.storage import filesystem
from cryptoviz.lake.writer import quotes_table, write_batch
from cryptoviz.schema import make_quote
from cryptoviz.scraper.sources.replay import history_to_quotes, read_history
from cryptoviz.servers import free_port
from cryptoviz.settings import HISTORY_2024_2026, S3Settings
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.watched_fs import WatchedFS


def quotes():
    rows = read_history([HISTORY_2024_2026], ["BTC", "ETH"])[: 2 * 24 * 4]  # four days
    return [q for b in history_to_quotes(rows) for q in b]


def fill(fs, base):
    qs = quotes()
    for batch_id, start in enumerate(range(0, len(qs), 10)):  # many small batches: many small files
        write_batch(
            fs, base, quotes_table(qs[start : start + 10], first_offset=start), names.LAKE_QUOTES, batch_id
        )
    assert write_batch(fs, base, quotes_table(qs[:5]), names.LAKE_QUOTES, 999).written == 0  # replayed: once
    return qs


def multiset(fs, base) -> Counter:
    table = ds.dataset(
        f"{base}/{names.LAKE_QUOTES}", filesystem=fs, format="parquet", partitioning="hive"
    ).to_table()
    cols = [table.column(c).to_pylist() for c in ("symbol", "date", "source_ts", "price_usd", "kafka_offset")]
    return Counter(zip(*cols, strict=True))


def files(fs, base) -> list[str]:
    sel = pafs.FileSelector(f"{base}/{names.LAKE_QUOTES}", recursive=True)
    return sorted(i.path for i in fs.get_file_info(sel) if i.type == pafs.FileType.File)


def check_compaction(fs, base):
    qs = fill(fs, base)
    before = multiset(fs, base)
    days = {q.source_ts.date() for q in qs}
    last_day = max(days)
    report = compact(fs, base, before=last_day)
    assert len(days) == 5 and report.partitions == 2 * 4, (
        "four closed days for two symbols; the last stays open"
    )
    assert multiset(fs, base) == before, "the same rows, duplicates included"
    for path in files(fs, base):
        day = path.split("date=")[1].split("/")[0]
        assert path.endswith(f"compacted-{day}.parquet") == (day < last_day.isoformat()), path
        if path.endswith(f"compacted-{day}.parquet"):
            with fs.open_input_file(path) as f:
                meta = pq.ParquetFile(f).metadata.row_group(0)
            dictionary = {
                meta.column(i).path_in_schema
                for i in range(meta.num_columns)
                if "RLE_DICTIONARY" in meta.column(i).encodings
            }
            assert dictionary == {"name", "source"}, "strings in dictionaries, numbers plain"
    assert compact(fs, base, before=last_day).partitions == 0, "nothing left to do"


def test_compaction_in_a_local_folder(tmp_path):
    fs, base = filesystem(str(tmp_path / "lake"))
    check_compaction(fs, base)


def test_compaction_in_s3(real, monkeypatch):
    for k, v in real.s3_env().items():
        monkeypatch.setenv(k, v)
    fs, base = filesystem("s3://lake/compact-test", S3Settings())
    check_compaction(fs, base)
    frame = LakeReader("s3://lake/compact-test").history(["ETH"], None, None)
    assert len(frame) == 4 * 24 and frame["source_ts"].is_monotonic_increasing


def test_an_interrupted_compaction_resumes_and_deletes_only_what_it_compacted(tmp_path):
    fs, base = filesystem(str(tmp_path / "lake"))
    qs = fill(fs, base)
    before = multiset(fs, base)
    day = qs[0].source_ts.date()
    folder = f"{base}/{names.LAKE_QUOTES}/symbol=BTC/date={day}"
    compacted = [p for p in files(fs, base) if p.startswith(folder)]
    # a compaction killed after step 2 and half of step 3: its staged file and manifest are there
    staged = ds.dataset(compacted, filesystem=fs, format="parquet").to_table()
    pq.write_table(staged, f"{folder}/{STAGED}", filesystem=fs)
    with fs.open_output_stream(f"{folder}/{MANIFEST}") as out:
        out.write(json.dumps([p.rsplit("/", 1)[1] for p in compacted]).encode())
    for path in compacted[: len(compacted) // 2]:
        fs.delete_file(path)
    # then a late batch lands in that closed day before the rerun: it is in no manifest
    on_the_day = [q for q in qs if q.symbol == "BTC" and q.source_ts.date() == day][:3]
    late = quotes_table(
        [replace(q, source_ts=q.source_ts + timedelta(minutes=30)) for q in on_the_day], -1, 90_000
    )
    write_batch(fs, base, late, names.LAKE_QUOTES, 7777)
    scratch_fs, scratch = filesystem(str(tmp_path / "scratch"))
    write_batch(scratch_fs, scratch, late, names.LAKE_QUOTES, 7777)
    compact(fs, base, before=date(2100, 1, 1))
    assert multiset(fs, base) == before + multiset(scratch_fs, scratch), "the late rows stay, none lost"
    assert not any(p.endswith((STAGED, MANIFEST)) for p in files(fs, base))


def test_an_interrupted_compaction_of_an_older_version_resumes(tmp_path):
    fs, base = filesystem(str(tmp_path / "lake"))
    qs = fill(fs, base)
    before = multiset(fs, base)
    folder = f"{base}/{names.LAKE_QUOTES}/symbol=BTC/date={qs[0].source_ts.date()}"
    data = [p for p in files(fs, base) if p.startswith(folder)]
    # as if killed after step 2 and half of step 3
    table = ds.dataset(data, filesystem=fs, format="parquet").to_table()
    pq.write_table(table, f"{folder}/{STAGED}", filesystem=fs)
    for path in data[: len(data) // 2]:
        fs.delete_file(path)
    compact(fs, base, before=date(2100, 1, 1))
    assert multiset(fs, base) == before


def cli_compact(tmp_path, redis_port: int, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "LAKE_URL": str(tmp_path / "lake"),
        "CRYPTOVIZ_DATA_DIR": str(tmp_path / "data"),
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port),
    }
    return subprocess.run(
        [sys.executable, "-m", "cryptoviz.cli", "lake", "compact", "--before", "2100-01-01", *extra],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli(tmp_path, redis_client):
    fs, base = filesystem(str(tmp_path / "lake"))
    fill(fs, base)
    proc = cli_compact(tmp_path, redis_client.connection_pool.connection_kwargs["port"])
    assert proc.returncode == 0, proc.stderr
    assert "10 partitions compacted" in proc.stdout  # 5 days x 2 symbols


def lake_job(client, instance: str, url: str, compacts: bool) -> None:
    """A lake job's heartbeat, as the service publishes it."""
    job = Telemetry(names.LAKE, client, instance=instance)
    job.gauge("lake_url", url)
    job.gauge("compacts", compacts)
    job.publish("running")


def test_cli_refuses_beside_a_lake_job_that_compacts_the_same_lake(tmp_path, redis_client):
    """Two compactors on one partition write one staged file at once: the CLI refuses while a lake
    job that compacts this lake reports; a job that does not compact it (another lake, or
    LAKE_COMPACT_MAX_FILES=0) does not stop it."""
    fs, base = filesystem(str(tmp_path / "lake"))
    fill(fs, base)
    before = files(fs, base)
    port = redis_client.connection_pool.connection_kwargs["port"]
    lake_job(redis_client, "job-1", base, compacts=True)
    refused = cli_compact(tmp_path, port)
    assert refused.returncode == 2, refused.stderr
    assert "the lake job compacts it itself (running: job-1)" in refused.stderr
    assert files(fs, base) == before

    lake_job(redis_client, "job-1", base, compacts=False)
    lake_job(redis_client, "job-2", str(tmp_path / "another-lake"), compacts=True)
    allowed = cli_compact(tmp_path, port)
    assert allowed.returncode == 0, allowed.stderr
    assert "10 partitions compacted" in allowed.stdout


def test_cli_refuses_when_redis_cannot_say_unless_forced(tmp_path):
    fs, base = filesystem(str(tmp_path / "lake"))
    fill(fs, base)
    before = files(fs, base)
    closed = free_port()  # nothing listens
    refused = cli_compact(tmp_path, closed)
    assert refused.returncode == 2, refused.stderr
    assert "whether a lake job compacts it is not known (Redis:" in refused.stderr
    assert files(fs, base) == before
    forced = cli_compact(tmp_path, closed, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "10 partitions compacted" in forced.stdout


# A compaction beside a reader: the reader sees each row once at every step, and a read whose files
# a compaction deleted after they were listed lists again (in a folder, and in the S3 server)

DAY = "2025-06-01"


def lake_fs(backend: str, tmp_path, request) -> tuple[pafs.FileSystem, str]:
    if backend == "folder":
        return filesystem(str(tmp_path / "lake"))
    real = request.getfixturevalue("real")
    monkeypatch = request.getfixturevalue("monkeypatch")
    for k, v in real.s3_env().items():
        monkeypatch.setenv(k, v)
    return filesystem(f"s3://lake/races-{request.node.name}", S3Settings())


def one_day(fs, base, recompact: bool) -> str:
    """BTC's partition of DAY: six micro-batches of five minutes, after a compacted file of the
    hours before them when `recompact`; its folder."""
    folder = f"{base}/{names.LAKE_QUOTES}/symbol=BTC/date={DAY}"
    fs.create_dir(folder)
    if recompact:
        write_minutes(fs, f"{folder}/compacted-{DAY}.parquet", range(0, 60))
    for batch in range(6):
        write_minutes(fs, f"{folder}/batch-{batch:08d}-a.parquet", range(60 + 5 * batch, 65 + 5 * batch))
    return folder


def write_minutes(fs, path: str, minutes: range) -> None:
    t0 = datetime(2025, 6, 1, tzinfo=UTC)
    qs = [make_quote("BTC", 100.0 + m, t0 + timedelta(minutes=m)) for m in minutes]
    pq.write_table(quotes_table(qs).drop_columns(["symbol", "date"]), path, filesystem=fs)


def stored(reader: LakeReader) -> Counter:
    table = reader.rows(["symbol", "source_ts", "price_usd"])
    if table is None:
        return Counter()
    return Counter(zip(*(table.column(c).to_pylist() for c in table.column_names), strict=True))


BACKENDS = [("folder", False), ("folder", True), ("s3", True)]


@pytest.mark.parametrize("recompact", [False, True], ids=["first", "again"])
@pytest.mark.parametrize(
    ("backend", "copy_then_delete"), BACKENDS, ids=["folder", "folder-copy-then-delete", "s3"]
)
def test_a_reader_sees_each_row_once_at_every_step_of_a_compaction(
    tmp_path, request, backend, copy_then_delete, recompact
):
    """After each rename, copy and delete a compaction makes, a reader reads every row exactly once,
    a late batch written into the day during the compaction included. A move as a copy and a delete
    is how an S3 server renames: between the two, the new compacted file and the staged one are both
    there."""
    fs, base = lake_fs(backend, tmp_path, request)
    folder = one_day(fs, base, recompact)
    reader = LakeReader(base, fs)
    expected = stored(reader)
    steps: list[tuple[str, str, bool, bool]] = []  # event, file, staged file there, each row once

    def on(event: str, path: str) -> None:
        nonlocal expected
        if event == "open":
            return
        if event == "move" and path.endswith(MANIFEST):  # staged rows written: a late batch lands
            write_minutes(fs, f"{folder}/batch-00000099-a.parquet", range(300, 303))
            expected = stored(reader)
        listed = {i.base_name for i in fs.get_file_info(pafs.FileSelector(folder))}
        steps.append((event, path.rsplit("/", 1)[1], STAGED in listed, stored(reader) == expected))

    watched = WatchedFS(fs, on, copy_then_delete).filesystem()
    report = compact_partition(watched, folder, partition_files(watched, folder))
    assert report.partitions == 1
    assert sum(expected.values()) == (60 if recompact else 0) + 30 + 3 and max(expected.values()) == 1
    assert [(e, p) for e, p, _, once in steps if not once] == [], "a step where rows were not once"
    assert sum(staged for _, _, staged, _ in steps) >= 6, "the steps the staged file stands in for its files"
    assert {i.base_name for i in fs.get_file_info(pafs.FileSelector(folder))} == {
        f"compacted-{DAY}.parquet",
        "batch-00000099-a.parquet",
    }


@pytest.mark.parametrize("when", [1, 2], ids=["while-its-schema-is-read", "while-its-rows-are-read"])
@pytest.mark.parametrize("backend", ["folder", "s3"])
def test_a_read_lists_again_when_a_compaction_deletes_what_it_listed(tmp_path, request, backend, when):
    """The compaction runs between the reader's listing and its `when`-th opening of a batch file:
    the file it goes to open is gone (in S3, a GetObject answered RESOURCE_NOT_FOUND)."""
    fs, base = lake_fs(backend, tmp_path, request)
    folder = one_day(fs, base, recompact=False)
    expected = stored(LakeReader(base, fs))
    opened: list[str] = []
    ran: list[CompactionReport] = []

    def on(event: str, path: str) -> None:
        if event == "open" and "/batch-" in path:
            opened.append(path)
            if len(opened) == when:
                ran.append(compact_partition(fs, folder, partition_files(fs, folder)))

    reader = LakeReader(base, WatchedFS(fs, on).filesystem())
    assert stored(reader) == expected
    assert [r.partitions for r in ran] == [1], "the compaction ran within the read"
    assert reader.history(["BTC"])["price_usd"].tolist() == [100.0 + m for m in range(60, 90)]
