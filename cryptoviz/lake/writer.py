"""Writing quote rows into the lake layout: the one place that knows file names and partitioning."""

from __future__ import annotations

from collections.abc import Iterable

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from cryptoviz import names
from cryptoviz.schema import Quote

# One row of the lake, as the Spark job writes it (symbol and date become the partition folders).
LAKE_SCHEMA = pa.schema(
    [
        ("schema_version", pa.int32()),
        ("symbol", pa.string()),
        ("name", pa.string()),
        ("price_usd", pa.float64()),
        ("market_cap_usd", pa.float64()),
        ("volume_24h_usd", pa.float64()),
        ("change_24h_pct", pa.float64()),
        ("source", pa.string()),
        ("source_ts", pa.timestamp("us", tz="UTC")),
        ("ingest_ts", pa.timestamp("us", tz="UTC")),
        ("date", pa.string()),
        ("kafka_partition", pa.int32()),
        ("kafka_offset", pa.int64()),
    ]
)


def write_batch(fs: pafs.FileSystem, base: str, table: pa.Table, subdir: str, batch_id: int) -> None:
    """Write one micro-batch; its files are named by the batch id, so writing it again overwrites them."""
    ds.write_dataset(
        table,
        f"{base}/{subdir}",
        filesystem=fs,
        format="parquet",
        partitioning=list(names.LAKE_PARTITIONS) if subdir == names.LAKE_QUOTES else ["date"],
        partitioning_flavor="hive",
        basename_template=f"batch-{batch_id:08d}-{{i}}.parquet",
        existing_data_behavior="overwrite_or_ignore",
        max_partitions=1_000_000,  # a replayed or backfilled batch spans years of (symbol, date) folders
    )


def quotes_table(quotes: Iterable[Quote], partition: int = -1, first_offset: int = 0) -> pa.Table:
    """Quotes as lake rows (for backfills into a folder, benchmarks and tests)."""
    cols: dict[str, list] = {name: [] for name in LAKE_SCHEMA.names}
    for i, q in enumerate(quotes):
        for name in ("schema_version", "symbol", "name", "price_usd", "market_cap_usd", "volume_24h_usd"):
            cols[name].append(getattr(q, name))
        cols["change_24h_pct"].append(q.change_24h_pct)
        cols["source"].append(q.source)
        cols["source_ts"].append(q.source_ts)
        cols["ingest_ts"].append(q.ingest_ts)
        cols["date"].append(q.source_ts.strftime("%Y-%m-%d"))
        cols["kafka_partition"].append(partition)
        cols["kafka_offset"].append(first_offset + i)
    return pa.Table.from_pydict(cols, schema=LAKE_SCHEMA)
