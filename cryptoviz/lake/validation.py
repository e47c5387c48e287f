"""The quote contract as Spark column expressions: the lake job's fast path, run in the JVM.

`accepted` is true for a message that `cryptoviz.schema.decode` accepts with the very values Spark
parses from it, and it is built from the contract's own definition (FIELDS, STRING_CHARS,
NUMBER_RANGES, SOURCES, the coin registry, the time bounds): the message must be the canonical
JSON the producers write (the fields in FIELDS order, no whitespace, printable ASCII strings
without escapes, plain numbers, UTC timestamps ending in Z), and the parsed values must be within
the contract's bounds. It is deliberately stricter than the contract: a message it does not
accept is not refused by it, but handed to the Python validator, which accepts it or gives the
reason (`judge`, in the driver, on the rows the expressions left). Every quote a producer of this
platform writes takes the fast path, so the Python validator runs on the odd message only;
`tests/integration/test_lake_validation.py` checks that whatever the expressions accept the Python
validator accepts with the same values, on the malformed catalogue, generated adversarial
messages and the real history.
"""

from __future__ import annotations

import re
from datetime import datetime
from functools import reduce

import pyarrow as pa
from pyspark.sql import Column
from pyspark.sql import functions as F

from cryptoviz.coins import COINS
from cryptoviz.lake.writer import LAKE_SCHEMA, QUARANTINE_SCHEMA, quotes_table
from cryptoviz.schema import (
    EARLIEST,
    FIELDS,
    NUMBER_RANGES,
    POSITIVE,
    SCHEMA_VERSION,
    SOURCES,
    STRING_CHARS,
    InvalidQuote,
    decode,
    internal_error,
)

# printable ASCII except the quote and the backslash: a string with neither needs no JSON escape
_CHARS = r"[\x20\x21\x23-\x5b\x5d-\x7e]"
# at most 15 integer digits (exact in a double, and an integer orjson reads), no leading zeros
_NUMBER = r"-?(?:0|[1-9][0-9]{0,14})(?:\.[0-9]{1,24})?(?:[eE][+-]?[0-9]{1,3})?"
# a real calendar shape (a day the month lacks is then refused by the timestamp parse)
_TIMESTAMP = (
    r"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?Z"
)


def _value_pattern(name: str, typ: type, nullable: bool) -> str:
    if name == "schema_version":
        pattern = str(SCHEMA_VERSION)
    elif name == "source":
        pattern = '"(?:' + "|".join(re.escape(s) for s in sorted(SOURCES)) + ')"'
    elif typ is str:
        pattern = f'"{_CHARS}{{1,{STRING_CHARS[name]}}}"'
    elif typ is float:
        pattern = _NUMBER
    elif typ is datetime:
        pattern = f'"{_TIMESTAMP}"'
    else:
        raise ValueError(f"no canonical form for {name}: {typ}")
    return f"(?:{pattern}|null)" if nullable else pattern


def canonical_pattern() -> str:
    """A Java regular expression for the whole message, generated from FIELDS."""
    body = ",".join(f'"{name}":{_value_pattern(name, *spec)}' for name, spec in FIELDS.items())
    return r"\A\{" + body + r"\}\z"


def accepted(value: Column, value_utf8: Column, parsed: Column, max_future_s: float) -> Column:
    """True where the message is a valid quote by the contract (never null). `parsed` is the
    message read by from_json with `job.spark_schema()`."""
    latest = F.current_timestamp() + F.expr(f"make_dt_interval(0, 0, 0, {float(max_future_s)})")
    checks = [value_utf8, value.rlike(canonical_pattern()), parsed["symbol"].isin(sorted(COINS))]
    for name, (typ, nullable) in FIELDS.items():
        field = parsed[name]
        if typ is float:
            low, high = NUMBER_RANGES[name]
            within = (field > low if name in POSITIVE else field >= low) & (field <= high)
            checks.append(field.isNull() | within if nullable else field.isNotNull() & within)
        elif typ is datetime:
            ts = F.try_to_timestamp(field)
            checks.append(ts.isNotNull() & (ts >= F.lit(EARLIEST)) & (ts <= latest))
    return F.coalesce(reduce(lambda a, b: a & b, checks), F.lit(False))


def judge(rest: pa.Table, max_future_s: float) -> tuple[pa.Table, pa.Table]:
    """The rows the expressions did not accept, through the contract's own validator: (lake rows
    of those it accepts, quarantine rows of the others with its reason). `rest` has the columns of
    `job.batch_rows`. Whatever goes wrong with one message is that message's reason."""
    lake: list[pa.Table] = []
    bad: dict[str, list] = {name: [] for name in QUARANTINE_SCHEMA.names}
    columns = ("key", "value", "value_utf8", "kafka_partition", "kafka_offset", "received_date")
    for key, value, utf8, partition, offset, received in zip(
        *(rest.column(c).to_pylist() for c in columns), strict=True
    ):
        try:
            if not utf8:
                raise InvalidQuote("bad_json", "not UTF-8")
            quote = decode(value, max_future_s=max_future_s)
        except InvalidQuote as exc:
            reason = exc.reason
        except Exception as exc:
            reason = internal_error(exc)
        else:
            lake.append(quotes_table([quote], partition, offset))
            continue
        for name, v in zip(
            QUARANTINE_SCHEMA.names, (key, value, reason, partition, offset, received), strict=True
        ):
            bad[name].append(v)
    good = pa.concat_tables(lake) if lake else LAKE_SCHEMA.empty_table()
    return good, pa.Table.from_pydict(bad, schema=QUARANTINE_SCHEMA)
