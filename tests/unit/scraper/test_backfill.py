"""The backfill's failures on the publishing side: a coin the broker did not take is reported and
the others go on; a stop ends the backfill, never with an exception (CoinGecko is a local server
answering the market chart's documented shape)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import orjson

from cryptoviz.interfaces import NotDelivered
from cryptoviz.schema import Quote
from cryptoviz.scraper.backfill import backfill
from cryptoviz.scraper.sources.coingecko import CoinGecko
from cryptoviz.service import Stop
from cryptoviz.settings import ScraperSettings
from cryptoviz.testing.doubles import ListSink, ScriptedHTTP


def chart(base: float) -> bytes:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    ms = [int((now - timedelta(hours=h)).timestamp() * 1000) + 1234 for h in range(24, 0, -1)]
    return orjson.dumps(
        {
            "prices": [[m, base + i] for i, m in enumerate(ms)],
            "market_caps": [[m, base * 1e7] for m in ms],
            "total_volumes": [[m, base * 1e5] for m in ms],
        }
    )


def settings(**kw) -> ScraperSettings:
    return ScraperSettings(**kw)


def gecko() -> tuple[CoinGecko, ScriptedHTTP]:
    http = ScriptedHTTP(
        {
            "/api/v3/coins/bitcoin/market_chart": [(200, {}, chart(60000))],
            "/api/v3/coins/ethereum/market_chart": [(200, {}, chart(3000))],
        }
    )
    return CoinGecko(settings(coingecko_base_url=f"{http.url}/api/v3")), http


def test_a_coin_the_broker_did_not_take_is_reported_and_the_others_go_on():
    source, http = gecko()
    sink: ListSink[Quote] = ListSink(fail_times=1)
    done: list[str] = []
    try:
        report = backfill(source, sink, ["BTC", "ETH"], 1, None, attempts=1, on_symbol=done.append)
    finally:
        http.close()
    assert report.failed == {"BTC": "not_delivered"}
    assert report.published == {"ETH": 24}
    assert {q.symbol for q in sink.items} == {"ETH"}
    assert done == ["BTC", "ETH"], "each coin is done with, delivered or not"


class StoppingSink:
    """A publisher told to stop while a coin's history was fetched: it sends nothing and says so."""

    def __init__(self, stop: Stop) -> None:
        self.stop = stop

    def write(self, batch: Sequence[Quote]) -> int:
        self.stop.set()
        raise NotDelivered(f"stopping: {len(batch)} quotes not sent")


def test_a_stop_while_publishing_ends_the_backfill_without_an_exception():
    source, http = gecko()
    stop = Stop()
    try:
        report = backfill(source, StoppingSink(stop), ["BTC", "ETH"], 1, None, attempts=1, stop=stop)
    finally:
        http.close()
    assert report.failed == {"BTC": "not_delivered"}
    assert report.published == {}
    assert http.requests and all("bitcoin" in r for r in http.requests), "ETH was not fetched"
