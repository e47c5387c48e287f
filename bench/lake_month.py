"""A month of the lake as the service writes it, and a 30-day query of one symbol on it, three ways.

The lake: 30 days and half of a 31st (the open day, 12 h) of 30 s micro-batches of one quote per
coin per second for the default seven coins: a file per (symbol, date) partition per micro-batch,
86,400 quotes per coin and day, 2,880 files per partition and day, about 620,000 files. Each file is
what the job's LakeWriter writes (`batch-<id>-<token>.parquet` in `symbol=<SYM>/date=<D>/`, the
lake's schema less the partition columns, the writer's file options), but written by pyarrow
straight into that layout: the writer's own path (its key index and thread pool per batch) would
take hours on two cores. The first micro-batch is written by a LakeWriter, and the files written
here are checked to have its files' schema.

The 30-day query of BTC is `LakeReader.history`, what the dashboard calls:
1. uncompacted: the last 30 days (a few runs: each reads 86,400 files);
2. after the lake job's own compaction (`upkeep.Upkeep` with the default settings, called as the
   job calls it between micro-batches until nothing is due), then the open day topped up with
   `LAKE_COMPACT_OPEN_FILES` - 1 more micro-batches (the most it holds beside its compacted file
   before the job's next pass on it): the last 30 days, the open day's batch files included;
3. the same lake, the 30 closed days only.
Each is split into where the time goes: opening the dataset (listing the symbol's partitions), the
scan into Arrow, the conversion to pandas, the rest (the order check, and the sort and the
deduplication when needed).

    .venv/bin/python bench/lake_month.py [--days 30]
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from cryptoviz import names
from cryptoviz.coins import COINS, DEFAULT_COINS
from cryptoviz.lake.reader import LakeReader
from cryptoviz.lake.schemas import LAKE_SCHEMA
from cryptoviz.lake.upkeep import Upkeep, backlog
from cryptoviz.lake.writer import FILE_OPTIONS, LakeBatch, LakeWriter
from cryptoviz.settings import LakeSettings, load
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.benchlog import emit_json

BATCH_S = 30
DAY_S = 86_400
START = datetime(2026, 1, 1, tzinfo=UTC)
SYMBOL = "BTC"
BODY = pa.schema([f for f in LAKE_SCHEMA if f.name not in names.LAKE_PARTITIONS])


def coin_day(k: int, day: int, seconds: int, first_offset: int, rng: np.random.Generator) -> pa.Table:
    """Coin k's quotes of one day, one a second, as lake rows without the partition columns."""
    t0 = int((START + timedelta(days=day)).timestamp() * 1_000_000)
    ts = t0 + np.arange(seconds, dtype=np.int64) * 1_000_000
    price = 100.0 * np.exp(np.cumsum(rng.normal(0, 1e-4, seconds)))
    cols = {
        "schema_version": pa.array(np.ones(seconds, dtype=np.int32)),
        "name": pa.array([COINS[DEFAULT_COINS[k]].name] * seconds),
        "price_usd": pa.array(price),
        "market_cap_usd": pa.array(price * 1e7),
        "volume_24h_usd": pa.array(price * 1e5),
        "change_24h_pct": pa.array(rng.normal(0, 2, seconds)),
        "source": pa.array(["binance"] * seconds),
        "source_ts": pa.array(ts, pa.timestamp("us", tz="UTC")),
        "ingest_ts": pa.array(ts + 200_000, pa.timestamp("us", tz="UTC")),
        "kafka_partition": pa.array(np.full(seconds, k % 4, dtype=np.int32)),
        "kafka_offset": pa.array(first_offset + np.arange(seconds, dtype=np.int64)),
    }
    return pa.table(cols).select(BODY.names).cast(BODY)


def build(base: str, days: float) -> tuple[int, int]:
    """The month as files; (files, rows). Micro-batch 0 goes through a LakeWriter (the reference for
    the layout); the rest is sliced out of each coin's day, 30 rows a file."""
    fs = pafs.LocalFileSystem()
    rng = np.random.default_rng(7)
    writer = LakeWriter(fs, base, names.LAKE_QUOTES)
    token, files, rows = secrets.token_hex(4), 0, 0  # a token as the writer's file names carry
    for day in range(int(np.ceil(days))):
        seconds = int(min(1.0, days - day) * DAY_S)
        date = (START + timedelta(days=day)).strftime("%Y-%m-%d")
        for k, symbol in enumerate(DEFAULT_COINS):
            table = coin_day(k, day, seconds, (day * 7 + k) * DAY_S, rng)
            folder = f"{base}/{names.LAKE_QUOTES}/symbol={symbol}/date={date}"
            fs.create_dir(folder, recursive=True)
            for b in range(seconds // BATCH_S):
                batch_id = day * (DAY_S // BATCH_S) + b
                part = table.slice(b * BATCH_S, BATCH_S)
                if batch_id == 0:
                    full = part.append_column("symbol", pa.array([symbol] * BATCH_S))
                    full = full.append_column("date", pa.array([date] * BATCH_S))
                    writer.write(LakeBatch(full.select(LAKE_SCHEMA.names), 0))
                else:
                    pq.write_table(part, f"{folder}/batch-{batch_id:08d}-{token}.parquet", **FILE_OPTIONS)
                files += 1
            rows += seconds
    first = f"{base}/{names.LAKE_QUOTES}/symbol={SYMBOL}/date={START:%Y-%m-%d}"
    by_writer, by_bench = sorted(i.path for i in fs.get_file_info(pafs.FileSelector(first)))[:2]
    assert pq.read_schema(by_writer) == pq.read_schema(by_bench), "the files differ from the writer's"
    return files, rows


def top_up(base: str, days: float, batches: int) -> datetime:
    """`batches` more micro-batches of every coin into the open day, after its last quote (as the
    job writes them between two passes of its upkeep); the new end of the lake."""
    rng = np.random.default_rng(11)
    day, first = int(days), int((days - int(days)) * DAY_S)
    date = (START + timedelta(days=day)).strftime("%Y-%m-%d")
    for k, symbol in enumerate(DEFAULT_COINS):
        seconds = first + batches * BATCH_S
        table = coin_day(k, day, seconds, (day * 7 + k + 1) * DAY_S, rng).slice(first)
        folder = f"{base}/{names.LAKE_QUOTES}/symbol={symbol}/date={date}"
        for b in range(batches):
            name = f"{folder}/batch-{10**7 + b:08d}-topup.parquet"
            pq.write_table(table.slice(b * BATCH_S, BATCH_S), name, **FILE_OPTIONS)
    return START + timedelta(days=days, seconds=batches * BATCH_S)


def phases(reader: LakeReader, start: datetime, end: datetime) -> dict[str, float]:
    """One query, timed whole (`history`), then again step by step as `history` does it, in ms."""
    t = time.perf_counter()
    frame = reader.history([SYMBOL], start, end)
    whole = (time.perf_counter() - t) * 1000
    t0 = time.perf_counter()
    last = (end - timedelta(microseconds=1)).strftime("%Y-%m-%d")
    data = reader.dataset([SYMBOL], start.strftime("%Y-%m-%d"), last)
    assert data is not None
    t1 = time.perf_counter()
    table = reader._scan([SYMBOL], start, end, start.strftime("%Y-%m-%d"), last)
    assert table is not None
    t2 = time.perf_counter()
    table.to_pandas(split_blocks=True)
    t3 = time.perf_counter()
    # the scan lists the partitions again as it opens them: that part is open_dataset's
    ms = {"total": whole, "open_dataset": (t1 - t0) * 1000, "scan": (t2 - t1 - (t1 - t0)) * 1000}
    ms |= {"to_pandas": (t3 - t2) * 1000, "rows": float(len(frame))}
    ms["rest"] = max(0.0, whole - ms["open_dataset"] - ms["scan"] - ms["to_pandas"])
    return ms


def measure(reader: LakeReader, start: datetime, end: datetime, runs: int) -> dict[str, float]:
    """The median of each phase over `runs` queries."""
    each = [phases(reader, start, end) for _ in range(runs)]
    out = {k: round(statistics.median(r[k] for r in each), 1) for k in each[0]}
    out["runs"] = runs
    return out


def compact_all(base: str, newest: datetime) -> dict[str, float]:
    """The job's upkeep, as between micro-batches, until nothing closed is left: the calls it took
    (micro-batches, at the trigger's pace) and each call's time."""
    lake = load(LakeSettings)
    telemetry = Telemetry("spark-streaming", None)
    upkeep = Upkeep(
        pafs.LocalFileSystem(),
        base,
        telemetry,
        lake.lake_compact_after_s,
        lake.lake_compact_max_files,
        lake.lake_compact_open_files,
    )
    t = time.perf_counter()
    upkeep.scan()
    scan_s = time.perf_counter() - t
    upkeep.wrote([], newest)  # the newest event time, as the job knows it from its batches
    calls: list[float] = []
    while True:
        t = time.perf_counter()
        if not upkeep.step():
            break
        calls.append(time.perf_counter() - t)
    assert backlog(upkeep.partitions.values(), upkeep.newest, upkeep.after_s, upkeep.open_files) == 0
    return {
        "start_scan_s": round(scan_s, 2),
        "calls": len(calls),
        "call_p50_s": round(statistics.median(calls), 2),
        "call_max_s": round(max(calls), 2),
        "total_s": round(sum(calls), 1),
        "files_merged": telemetry.counters["compacted_files"],
        "partitions": telemetry.counters["compactions"],
    }


def show(label: str, m: dict[str, float]) -> None:
    print(
        f"{label}: p50 {m['total']:.0f} ms over {m['runs']} queries of {m['rows']:,.0f} rows "
        f"(open the dataset {m['open_dataset']:.0f}, scan {m['scan']:.0f}, to pandas {m['to_pandas']:.0f}, "
        f"rest {m['rest']:.0f})",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=30, help="closed days (an open half day follows)")
    parser.add_argument("--uncompacted-runs", type=int, default=3)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    days = args.days + 0.5
    with tempfile.TemporaryDirectory() as tmp:
        base = f"{tmp}/lake"
        t = time.perf_counter()
        files, rows = build(base, days)
        build_s = time.perf_counter() - t
        print(
            f"built {files:,} files, {rows:,} quotes ({days} days x 7 coins) in {build_s:.0f} s", flush=True
        )
        reader = LakeReader(base, pafs.LocalFileSystem())
        end = START + timedelta(days=days)
        last30 = (end - timedelta(days=30), end)
        closed30 = (START + timedelta(days=args.days - 30), START + timedelta(days=args.days))
        before = measure(reader, *last30, args.uncompacted_runs)
        show("uncompacted, the last 30 days", before)
        compaction = compact_all(base, end)
        print(f"the job's compaction: {compaction}", flush=True)
        open_files = load(LakeSettings).lake_compact_open_files
        topped = top_up(base, days, max(open_files - 1, 0))
        after = measure(reader, topped - timedelta(days=30), topped, args.runs)
        show(f"compacted, the last 30 days ({max(open_files - 1, 0)} open-day batch files included)", after)
        closed = measure(reader, *closed30, args.runs)
        show("compacted, 30 closed days", closed)
    emit_json(
        {
            "bench": "lake_month",
            "p50_ms": after["total"],
            "closed_30_days_p50_ms": closed["total"],
            "uncompacted_p50_ms": before["total"],
            "phases_ms": {
                "uncompacted": before,
                "compacted_last_30_days": after,
                "compacted_30_closed_days": closed,
            },
            "compaction": compaction,
            "open_day_batch_files": max(open_files - 1, 0),
            "lake_files": files,
            "lake_rows": rows,
            "build_s": round(build_s),
            "rows_per_query": int(after["rows"]),
            "target_p50_ms": 200,
        }
    )


if __name__ == "__main__":
    main()
