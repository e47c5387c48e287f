"""Backfill against a local HTTP server with recorded-shape market charts and the real broker."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson

from cryptoviz import bus, names
from cryptoviz.contracts.topics import RAW
from cryptoviz.lake.reader import LakeReader
from cryptoviz.lake.storage import filesystem
from cryptoviz.lake.writer import quotes_table, write_batch
from cryptoviz.scraper.backfill import backfill
from cryptoviz.scraper.publisher import Publisher
from cryptoviz.scraper.sources.coingecko import CoinGecko, parse_market_chart
from cryptoviz.settings import ScraperSettings
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.doubles import ScriptedHTTP


def chart(hours: list[datetime], base: float) -> bytes:
    ms = [int(h.timestamp() * 1000) + 1234 for h in hours]  # CoinGecko's points sit just past the hour
    return orjson.dumps(
        {
            "prices": [[m, base + i] for i, m in enumerate(ms)],
            "market_caps": [[m, base * 1e7] for m in ms],
            "total_volumes": [[m, base * 1e5] for m in ms],
        }
    )


def test_backfill_honours_rate_limits_skips_lake_hours_and_publishes_the_rest(real, topic_factory, tmp_path):
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [now - timedelta(hours=h) for h in range(48, 0, -1)]
    http = ScriptedHTTP(
        {
            "/api/v3/coins/bitcoin/market_chart": [
                (429, {"Retry-After": "7"}, b"{}"),
                (200, {}, chart(hours, 60000)),
            ],
            "/api/v3/coins/ethereum/market_chart": [(500, {}, b"oops"), (200, {}, chart(hours, 3000))],
            "/api/v3/coins/solana/market_chart": [(500, {}, b"down")],
        }
    )
    fs, base = filesystem(str(tmp_path / "lake"))
    source = CoinGecko(ScraperSettings(coingecko_base_url=f"{http.url}/api/v3"))
    already = parse_market_chart(orjson.loads(chart(hours, 60000)), "BTC").quotes[
        :10
    ]  # a first run's 10 hours
    write_batch(fs, base, quotes_table(already), names.LAKE_QUOTES, 0)
    topics = (topic_factory("bf-raw"), topic_factory("bf-stream"))
    publisher = Publisher(
        bus.producer(real.bootstrap),
        None,
        Telemetry("backfill", None),
        topics=tuple(replace(RAW, name=t) for t in topics),
    )
    waits: list[float] = []
    try:
        report = backfill(
            source, publisher, ["BTC", "ETH", "SOL"], 2, LakeReader(base, fs), attempts=3, sleep=waits.append
        )
    finally:
        publisher.close()
        http.close()
    assert report.published == {"BTC": 38, "ETH": 48}
    assert report.skipped == {"BTC": 10, "ETH": 0}
    assert report.failed == {"SOL": "server_error"}
    assert waits[0] >= 7, "Retry-After honoured"
    cons = bus.consumer(real.bootstrap, topics[0], group_id=None)
    got = []
    for _ in range(40):
        for records in cons.poll(timeout_ms=250).values():
            got.extend(records)
        if len(got) >= 86:
            break
    cons.close()
    assert len(got) == 86
    assert {r.key for r in got} == {b"BTC", b"ETH"}
    assert all(orjson.loads(r.value)["source"] == "backfill" for r in got)
