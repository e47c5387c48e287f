"""The Arrow schemas of the lake's rows, in a module of their own: what imports them (the Spark
source's planning processes among others) needs pyarrow's core only, not the writer's Parquet and
dataset modules (pyarrow.dataset imports pandas: about 0.3 s of each such process's start)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import pyarrow as pa
import pyarrow.compute as pc

from cryptoviz.schema import FIELDS, Quote

_ARROW_TYPES = {
    int: pa.int32(),
    str: pa.string(),
    float: pa.float64(),
    datetime: pa.timestamp("us", tz="UTC"),
}
# One row of the lake: the quote's fields (cryptoviz.schema.FIELDS, the one definition the Spark
# schema is derived from too), then where it lives and where it came from. Symbol and date become
# the partition folders.
LAKE_SCHEMA = pa.schema(
    [(name, _ARROW_TYPES[typ]) for name, (typ, _) in FIELDS.items()]
    + [("date", pa.string()), ("kafka_partition", pa.int32()), ("kafka_offset", pa.int64())]
)

# One row of the quarantine: the message as read, why it was refused, where it was in the topic,
# and the day it was received (the partition folder).
QUARANTINE_SCHEMA = pa.schema(
    [
        ("key", pa.string()),
        ("value", pa.string()),
        ("reason", pa.string()),
        ("partition", pa.int32()),
        ("offset", pa.int64()),
        ("date", pa.string()),
    ]
)


def lake_columns(
    quotes: Sequence[Quote], partitions: Sequence[int], offsets: Sequence[int]
) -> dict[str, pa.Array]:
    """LAKE_SCHEMA's columns of `quotes`, the i-th read at (partitions[i], offsets[i])."""
    columns = {
        name: pa.array([getattr(q, name) for q in quotes], LAKE_SCHEMA.field(name).type) for name in FIELDS
    }
    columns["date"] = pc.strftime(columns["source_ts"], "%Y-%m-%d")
    columns["kafka_partition"] = pa.array(partitions, pa.int32())
    columns["kafka_offset"] = pa.array(offsets, pa.int64())
    return columns
