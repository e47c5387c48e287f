"""quotes:latest read by the thousand: the quotes `contracts.encode_latest` writes in QUOTE_LAYOUT
(one size for all), taken as one buffer (the scraper's table of them, `row_tables`) and checked as
columns, no Python object made per field. `Quotes` is what a reader gets: the mapping symbol ->
LatestQuote (a quote built when one is asked for), with a column per number for what goes over
every symbol."""

from __future__ import annotations

from typing import Any

import numpy as np

from cryptoviz.contracts import (
    QUOTE_LAYOUT,
    QUOTE_MAGIC,
    QUOTE_SIZE,
    QUOTE_STRING_BYTES,
    QUOTE_TIME_LIMIT_MS,
    QUOTE_TIMES,
    QUOTE_VERSION,
    ContractError,
    LatestQuote,
    latest_of_record,
    rows,
)

_DTYPE = rows.dtype(QUOTE_LAYOUT, QUOTE_SIZE)


class Quotes(rows.Records[LatestQuote]):
    """Latest quotes by symbol over their columns (a symbol twice: its last quote, as a dict keeps)."""

    __slots__ = ()

    @staticmethod
    def _value(values: tuple[Any, ...]) -> LatestQuote:
        return latest_of_record(values)

    def column(self, field: str) -> np.ndarray:
        """A number of every quote, in the mapping's order (NaN where a quote has None); the times
        (source_ts, ingest_ts) in epoch seconds."""
        if field in QUOTE_STRING_BYTES:
            raise KeyError(f"{field} is not a number: iterate the mapping")
        if field in QUOTE_TIMES:
            return self._rows[field] / 1000
        return self._rows[field]

    def texts(self, field: str) -> list[str]:
        """A string of every quote (name, source), in the mapping's order."""
        if field not in QUOTE_STRING_BYTES:
            raise KeyError(f"{field} is not a string: use column()")
        return [b.decode() for b in self._rows[field].tolist()]  # numpy leaves out the NUL padding


def decode_quote_table(table: bytes) -> Quotes:
    """The quotes of quotes:latest's table (every quote in QUOTE_LAYOUT, one after another).
    ContractError when any one is not a quote of the layout (a reader then takes them one by one,
    `contracts.decode_latest`, to leave out only that one)."""
    if len(table) % QUOTE_SIZE:
        raise ContractError(f"LatestQuote: a table of {len(table)} bytes is not rows of {QUOTE_SIZE}")
    records = np.frombuffer(table, _DTYPE)
    if not ((records["magic"] == QUOTE_MAGIC) & (records["version"] == QUOTE_VERSION)).all():
        raise ContractError(f"LatestQuote: a value is not a quote of layout version {QUOTE_VERSION}")
    for field in ("name", "source"):
        column, lengths = records[field], np.strings.str_len(records[field])  # up to the last non-NUL
        used = np.count_nonzero(np.frombuffer(column.tobytes(), "u1"))
        if len(records) and (lengths.min() == 0 or used != lengths.sum()):
            raise ContractError(f"LatestQuote: an empty {field}, or one with a NUL")
        try:
            column.tobytes().decode()
        except UnicodeDecodeError as exc:
            raise ContractError(f"LatestQuote: {field}: {exc}") from None
    for field in QUOTE_TIMES:
        if not ((records[field] >= 0) & (records[field] <= QUOTE_TIME_LIMIT_MS)).all():
            raise ContractError(f"LatestQuote: {field} is not a time from 1970 to 9999")
    return Quotes(rows.symbols(records, QUOTE_STRING_BYTES["symbol"], "LatestQuote"), records)


def decode_quote_records(raws: list[bytes]) -> Quotes:
    """Every quote in one buffer, as `decode_quote_table`, when each value is a record of the layout."""
    if raws and set(map(len, raws)) != {QUOTE_SIZE}:
        raise ContractError(f"LatestQuote: a value is not the {QUOTE_SIZE} bytes of a quote")
    return decode_quote_table(b"".join(raws))
