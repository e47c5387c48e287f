"""Kafka records into the lake job's rows, by the contract's own decoder, in the source's workers.

Each message is decoded with `cryptoviz.schema.decode` where it is read (the Spark source's Python
workers, `cryptoviz.lake.kafka_source`): a quote becomes a lake row of typed columns
(`schemas.LAKE_SCHEMA`), a refused message a row with the contract's reason and the message itself
(the quarantine's columns). So the JVM carries typed values, not the text of every message, and the
lake accepts exactly what the contract accepts: there is no second validator to keep in step.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from cryptoviz.lake.schemas import LAKE_SCHEMA, QUARANTINE_SCHEMA, lake_columns
from cryptoviz.schema import MAX_FUTURE_S, InvalidQuote, Quote, decode, internal_error

# the refused message's columns: its text (U+FFFD for each byte that is not UTF-8), the key, the
# contract's reason (null on a lake row) and the day it was received
REFUSED = (
    ("reason", pa.string()),
    ("key", pa.string()),
    ("value", pa.string()),
    ("received_date", pa.string()),
)
ROW_SCHEMA = pa.schema([*LAKE_SCHEMA, *(pa.field(name, typ) for name, typ in REFUSED)])
_DDL_TYPES = {
    pa.int32(): "int",
    pa.int64(): "bigint",
    pa.float64(): "double",
    pa.string(): "string",
    pa.timestamp("us", tz="UTC"): "timestamp",
}
# ROW_SCHEMA as Spark's DDL (what the data source declares)
SPARK_DDL = ", ".join(f"{f.name} {_DDL_TYPES[f.type]}" for f in ROW_SCHEMA)


def quarantine_of(rows: pa.Table) -> pa.Table:
    """Refused rows (those with a reason) as quarantine rows."""
    picked = rows.filter(pc.is_valid(rows.column("reason")))
    columns = ("key", "value", "reason", "kafka_partition", "kafka_offset", "received_date")
    return pa.Table.from_arrays([picked.column(c) for c in columns], schema=QUARANTINE_SCHEMA)


def lake_of(rows: pa.Table) -> pa.Table:
    """Accepted rows (those without a reason) as lake rows."""
    return rows.filter(pc.is_null(rows.column("reason"))).select(LAKE_SCHEMA.names).cast(LAKE_SCHEMA)


class RowBuilder:
    """Records added one by one (decoded as they come), taken out as Arrow record batches."""

    def __init__(self, max_future_s: float = MAX_FUTURE_S) -> None:
        self.max_future_s = max_future_s
        self._clear()

    def _clear(self) -> None:
        self.quotes: list[Quote] = []
        self.places: list[tuple[int, int]] = []  # (partition, offset) of each quote
        self.refused: list[tuple[int, int, str, bytes | None, bytes | None, int]] = []

    def __len__(self) -> int:
        return len(self.quotes) + len(self.refused)

    def add(
        self,
        partition: int,
        offset: int,
        key: bytes | None,
        value: bytes | None,
        timestamp_ms: int,
        now: datetime | None = None,
    ) -> None:
        """One record: its value decoded by the contract, against the clock reading `now` (taken
        once per poll by the source: a clock read costs about as much as the decode's checks);
        whatever goes wrong is its reason."""
        try:
            quote = decode(value, now=now, max_future_s=self.max_future_s)
        except InvalidQuote as exc:
            reason = exc.reason
        except Exception as exc:
            reason = internal_error(exc)
        else:
            self.quotes.append(quote)
            self.places.append((partition, offset))
            return
        self.refused.append((partition, offset, reason, key, value, timestamp_ms))

    def batches(self) -> list[pa.RecordBatch]:
        """What was added since the last call: the quotes' rows, then the refused ones'."""
        out = []
        if self.quotes:
            out.append(self._quote_rows())
        if self.refused:
            out.append(self._refused_rows())
        self._clear()
        return out

    def _quote_rows(self) -> pa.RecordBatch:
        n = len(self.quotes)
        columns = lake_columns(self.quotes, [p for p, _ in self.places], [o for _, o in self.places])
        for name, typ in REFUSED:
            columns[name] = pa.nulls(n, typ)
        return pa.RecordBatch.from_pydict(columns, schema=ROW_SCHEMA)

    def _refused_rows(self) -> pa.RecordBatch:
        n = len(self.refused)
        columns: dict[str, pa.Array] = {f.name: pa.nulls(n, f.type) for f in LAKE_SCHEMA}
        columns["kafka_partition"] = pa.array([r[0] for r in self.refused], pa.int32())
        columns["kafka_offset"] = pa.array([r[1] for r in self.refused], pa.int64())
        columns["reason"] = pa.array([r[2] for r in self.refused], pa.string())
        columns["key"] = pa.array([_text(r[3]) for r in self.refused], pa.string())
        columns["value"] = pa.array([_text(r[4]) for r in self.refused], pa.string())
        columns["received_date"] = pa.array(
            [datetime.fromtimestamp(r[5] / 1000, UTC).strftime("%Y-%m-%d") for r in self.refused], pa.string()
        )
        return pa.RecordBatch.from_pydict(columns, schema=ROW_SCHEMA)


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "replace")
