"""Replay of real history (data/README.md) as quotes, in event-time order.

Rows are deduplicated by (symbol, timestamp) (the files have a few repeated hours); the 24 h volume
and change are computed from the history itself, so a replayed quote looks like a live one.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby
from pathlib import Path

from cryptoviz.schema import InvalidQuote, Quote, make_quote, utcnow

DAY = timedelta(hours=24)
HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class HistoryRow:
    ts: datetime
    symbol: str
    price: float
    quote_volume: float


def _open(path: Path) -> io.TextIOBase:
    return gzip.open(path, "rt", newline="") if path.suffix == ".gz" else open(path, newline="")


class ReplayFileError(Exception):
    """A history file is missing or unreadable as a whole; the message names it."""


def _row(rec: dict, wanted: set[str] | None) -> HistoryRow | None:
    """One CSV record as a row, None when its symbol is not wanted; ValueError when it is bad."""
    sym = rec.get("symbol")
    if wanted is not None and sym not in wanted:
        return None
    if not isinstance(sym, str) or not sym:
        raise ValueError("no symbol")
    ts = datetime.fromisoformat(rec["timestamp"])
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    price, volume = float(rec["price"]), float(rec["quote_volume"] or 0)
    # a nan or inf would poison the 24 h sums and the change of every hour of the day after it
    if not (math.isfinite(price) and math.isfinite(volume) and volume >= 0):
        raise ValueError("price or volume not a finite number, or a negative volume")
    return HistoryRow(ts, sym, price, volume)


def read_history(
    paths: Iterable[str | Path], symbols: Iterable[str] | None = None, rejects: Counter[str] | None = None
) -> list[HistoryRow]:
    """Every row of the files for `symbols`, deduplicated by (symbol, ts), sorted by (ts, symbol).

    A row that cannot be read is skipped and counted in `rejects["bad_row"]`; a file that is missing
    or not readable as text raises ReplayFileError naming it.
    """
    wanted = set(symbols) if symbols is not None else None
    seen: dict[tuple[str, datetime], HistoryRow] = {}
    for path in paths:
        try:
            with _open(Path(path)) as f:
                for rec in csv.DictReader(f):
                    try:
                        row = _row(rec, wanted)
                    except (KeyError, TypeError, ValueError, OverflowError):
                        if rejects is not None:
                            rejects["bad_row"] += 1
                        continue
                    if row is not None and (row.symbol, row.ts) not in seen:
                        seen[(row.symbol, row.ts)] = row
        except (OSError, UnicodeDecodeError, EOFError, csv.Error) as exc:
            raise ReplayFileError(f"replay file {path}: {exc}") from None
    return sorted(seen.values(), key=lambda r: (r.ts, r.symbol))


def history_to_quotes(
    rows: Iterable[HistoryRow], source: str = "replay", start: datetime | None = None
) -> Iterator[list[Quote]]:
    """Quotes grouped by event hour, with 24 h volume (sum of hourly volumes) and 24 h change.

    Rows before `start` only warm the 24 h windows (nothing is yielded for them), so the first
    replayed hour carries a full day's volume; where the history itself holds less than a day
    before an hour, its 24 h volume is unknown (None), never a partial sum."""
    window: dict[str, deque[HistoryRow]] = defaultdict(deque)
    first_seen: dict[str, datetime] = {}
    vol_sum: dict[str, float] = defaultdict(float)
    price_at: dict[str, dict[datetime, float]] = defaultdict(dict)
    for _, group in groupby(rows, key=lambda r: r.ts):
        batch = []
        ingest = utcnow()
        for row in group:
            win = window[row.symbol]
            while win and win[0].ts <= row.ts - DAY:
                vol_sum[row.symbol] -= win.popleft().quote_volume
            if not win:  # the first row, or the first after a gap of a day or more
                first_seen[row.symbol] = row.ts
                vol_sum[row.symbol] = 0.0  # no rounding left over from the day before the gap
            win.append(row)
            vol_sum[row.symbol] += row.quote_volume
            prices = price_at[row.symbol]
            prices[row.ts] = row.price
            before = prices.pop(row.ts - DAY, None)
            for old in [t for t in prices if t < row.ts - DAY]:  # gaps in the grid: keep the dict bounded
                del prices[old]
            change = (row.price / before - 1) * 100 if before else None
            if start is not None and row.ts < start:
                continue
            full_day = row.ts - first_seen[row.symbol] >= DAY - HOUR
            try:
                batch.append(
                    make_quote(
                        row.symbol,
                        row.price,
                        row.ts,
                        source=source,
                        volume_24h_usd=max(0.0, vol_sum[row.symbol]) if full_day else None,
                        change_24h_pct=change,
                        ingest_ts=ingest,
                    )
                )
            except InvalidQuote:
                continue  # counted by the caller as rows in minus quotes out
        if batch:
            yield batch


def default_start(rows: list[HistoryRow], days: float = 30) -> datetime:
    return rows[-1].ts - timedelta(days=days) if rows else datetime.now(UTC)
