"""The lake's column-expression validator (cryptoviz.lake.validation) against the contract's own
validator (cryptoviz.schema.decode), in a real local Spark: whatever the expressions accept, the
contract accepts with the same values; every real quote takes the fast path; every malformed one
goes to the Python validator."""

from __future__ import annotations

import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pyspark.sql import functions as F

from cryptoviz.lake import class_archive, job
from cryptoviz.lake.validation import accepted, canonical_pattern
from cryptoviz.schema import FIELDS, InvalidQuote, decode, encode
from cryptoviz.scraper.sources.replay import history_to_quotes, read_history
from cryptoviz.servers import free_port
from cryptoviz.settings import HISTORY_2024_2026
from cryptoviz.testing.malformed import good_quote, malformed

pytestmark = pytest.mark.spark
MAX_FUTURE_S = 300.0
TIMESTAMPS = ("source_ts", "ingest_ts")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# values each field may be given by a mutation: the contract's edges and what lies just past them
EDGES: dict[str, list[object]] = {
    "schema_version": [1, 1.0, 0, 2, True, "1", None],
    "symbol": ["BTC", "ETH", "btc", "", "ZZZ", "BTC ", "B\u00e9", None, 5],
    "name": ["Bitcoin", "", "x" * 64, "x" * 65, 'Bit"coin', "Bit\\coin", "Bit\tcoin", "Bitcoin \u2603", None],
    "price_usd": [1e-320, 0, -0.0, -1, 0.5, 1e7, 1e7 * (1 + 2**-52), 123456789012345, "5", True, None, 7],
    "market_cap_usd": [None, 0, -0.0, -1e-300, 1e14, 1.0000000000000002e14, 3, "0", False],
    "volume_24h_usd": [None, 0.0, 1e14, 2e14, 12.5, [1]],
    "change_24h_pct": [None, -100, -100.00000000000001, 1e6, 1e6 + 1, 0.0, -5.25],
    "source": ["replay", "coingecko", "binance", "", None, "Replay"],
    "source_ts": [
        "2025-01-02T00:00:00Z",
        "2025-01-02T00:00:00.5Z",
        "2025-01-02T00:00:00.123456Z",
        "2025-01-02T00:00:00.1234567Z",
        "2025-02-30T00:00:00Z",
        "2024-02-29T23:59:59Z",
        "2025-01-02T24:00:00Z",
        "2025-01-02T00:00:00+00:00",
        "2025-01-02T01:00:00+01:00",
        "2025-01-02 00:00:00Z",
        "2009-01-03T00:00:00Z",
        "2009-01-02T23:59:59.999999Z",
        "2099-01-01T00:00:00Z",
        "2025-01-02T00:00:00",
        1735776000,
    ],
}
EDGES["ingest_ts"] = EDGES["source_ts"]


def adversarial(n: int, seed: int = 7) -> list[bytes]:
    """Quotes with one to three fields set to edge values, and a few textual variants of each
    (spaces, reordered keys, a duplicated key, escapes, a trailing newline)."""
    rng = random.Random(seed)
    base = good_quote()
    out: list[bytes] = []
    for _ in range(n):
        doc = dict(base)
        for name in rng.sample(list(EDGES), rng.randint(1, 3)):
            doc[name] = rng.choice(EDGES[name])
        raw = orjson.dumps(doc)
        variant = rng.randrange(8)
        if variant == 0:
            raw = raw.replace(b",", b", ")
        elif variant == 1:
            raw = orjson.dumps(dict(reversed(list(doc.items()))))
        elif variant == 2:
            raw = raw[:-1] + b',"price_usd":-5}'
        elif variant == 3:
            raw = raw.replace(b'"BTC"', b'"\\u0042TC"')
        elif variant == 4:
            raw = raw + b"\n"
        out.append(raw)
    return out


@pytest.fixture(scope="module")
def spark():
    session = job.session("local[1]", free_port(), "512m", app="cryptoviz-validation-test")
    yield session
    session.stop()


def verdicts(spark, values: list[bytes]) -> list[tuple[bool, dict | None]]:
    """(accepted by the expressions, the fields Spark parsed from an accepted one) per value, in
    order; timestamps as epoch microseconds."""
    texts = [v.decode("utf-8", "replace") for v in values]
    utf8 = [_is_utf8(v) for v in values]
    df = spark.createDataFrame(
        list(zip(range(len(values)), texts, utf8, strict=True)), "i long, value string, value_utf8 boolean"
    )
    df = df.withColumn("q", F.from_json("value", job.spark_schema()))
    df = df.withColumn("accepted", accepted(F.col("value"), F.col("value_utf8"), F.col("q"), MAX_FUTURE_S))
    rows = job.good_rows(
        df.where("accepted").withColumn("partition", F.lit(0)).withColumnRenamed("i", "offset")
    )
    rows = rows.withColumns({name: F.unix_micros(name) for name in TIMESTAMPS})
    parsed = {r["kafka_offset"]: r.asDict() for r in rows.collect()}
    flags = {r["i"]: r["accepted"] for r in df.select("i", "accepted").collect()}
    return [(flags[i], parsed.get(i)) for i in range(len(values))]


def micros(ts: datetime) -> int:
    return (ts - EPOCH) // timedelta(microseconds=1)


def _is_utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def python_verdict(raw: bytes):
    try:
        return decode(raw, max_future_s=MAX_FUTURE_S)
    except InvalidQuote as exc:
        return exc.reason


def test_the_pattern_is_generated_from_every_field():
    pattern = canonical_pattern()
    assert all(f'"{name}":' in pattern for name in FIELDS)
    assert pattern.index('"symbol"') < pattern.index('"ingest_ts"')


def test_what_the_expressions_accept_the_contract_accepts_with_the_same_values(spark):
    real = [encode(q) for batch in history_to_quotes(read_history([HISTORY_2024_2026])) for q in batch]
    real = random.Random(3).sample(real, 2000)
    bad = [value for _, value, _ in malformed(datetime(2025, 1, 2, tzinfo=UTC))]
    generated = adversarial(3000)
    values = real + bad + generated
    results = verdicts(spark, values)
    fast = 0
    for raw, (ok, row) in zip(values, results, strict=True):
        quote = python_verdict(raw)
        if not ok:
            continue
        fast += 1
        assert not isinstance(quote, str), (raw, quote)
        assert row is not None
        for name in FIELDS:
            value = getattr(quote, name)
            assert row[name] == (micros(value) if name in TIMESTAMPS else value), (raw, name, row[name])
    assert all(ok for ok, _ in results[: len(real)])  # every real quote takes the fast path
    assert not any(ok for ok, _ in results[len(real) : len(real) + len(bad)])
    valid = sum(not isinstance(python_verdict(v), str) for v in generated)
    # the generated set holds both kinds, and most of its valid messages take the fast path too
    taken = sum(ok for ok, _ in results[len(real) + len(bad) :])
    assert 0 < taken < valid < len(generated)
    assert fast == len(real) + taken


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
