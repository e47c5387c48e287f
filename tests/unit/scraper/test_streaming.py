"""The streams in the scraper's live mode, their pure parts: the guard that keeps each coin's event
times going forward whichever writer publishes, the bounded queue between the stream thread and the
publisher (held until a coin's warm start is done, the oldest dropped and counted when full), the
polling loop leaving a coin a stream supplies to the stream, auto mode's probe answered by a live
stream, and what the heartbeat says of each stream."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from cryptoviz.interfaces import NotDelivered
from cryptoviz.schema import Quote, make_quote
from cryptoviz.scraper.loop import LiveProbe, LiveScraper
from cryptoviz.scraper.report import scraper_report, source_lines
from cryptoviz.scraper.sources.base import FetchResult, SourceError
from cryptoviz.scraper.sources.streams.connection import StreamStats
from cryptoviz.scraper.sources.streams.failover import SourceView
from cryptoviz.scraper.stream_report import stream_counters, stream_gauges, supplied_by
from cryptoviz.scraper.streaming import PublishGuard, StreamFeed, Streams
from cryptoviz.service import Stop
from cryptoviz.settings import ScraperSettings, load
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.doubles import FakeClock, ListSink

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)


def quote(
    symbol: str,
    second: float,
    source: str = "binance",
    market_cap_usd: float | None = None,
    volume_24h_usd: float | None = None,
    change_24h_pct: float | None = None,
) -> Quote:
    return make_quote(
        symbol,
        100 + second,
        T0 + timedelta(seconds=second),
        source=source,
        market_cap_usd=market_cap_usd,
        volume_24h_usd=volume_24h_usd,
        change_24h_pct=change_24h_pct,
    )


# --- the guard ------------------------------------------------------------------------------
def test_the_guard_publishes_only_quotes_newer_than_their_coins_last_whatever_the_writer():
    sink: ListSink[Quote] = ListSink()
    telemetry = Telemetry("scraper", None)
    guard = PublishGuard(sink, telemetry)
    guard.write([quote("BTC", 1, "backfill"), quote("BTC", 2, "backfill"), quote("ETH", 1, "backfill")])
    guard.write([quote("BTC", 2), quote("BTC", 3), quote("BTC", 3), quote("ETH", 0.5)])
    guard.write([quote("BTC", 2.5, "coingecko")])  # a poll behind the stream: left out
    assert [(q.symbol, q.source_ts.second, q.source) for q in sink.items] == [
        ("BTC", 1, "backfill"),
        ("BTC", 2, "backfill"),
        ("ETH", 1, "backfill"),
        ("BTC", 3, "binance"),
    ]
    assert telemetry.counters["not_newer.binance"] == 3 and telemetry.counters["not_newer.coingecko"] == 1


def test_a_batch_the_publisher_refused_is_not_recorded_so_its_retry_goes_through():
    sink: ListSink[Quote] = ListSink(fail_times=1)
    guard = PublishGuard(sink, Telemetry("scraper", None))
    batch = [quote("BTC", 1), quote("BTC", 2)]
    with pytest.raises(NotDelivered):
        guard.write(batch)
    assert guard.write(batch) == 2 and len(sink.items) == 2


# --- the queue ------------------------------------------------------------------------------
def test_a_coins_quotes_wait_for_its_warm_start_and_the_queue_hands_batches_oldest_first():
    feed = StreamFeed(maxsize=10)
    feed.offer(quote("BTC", 1))
    assert feed.held == 1 and len(feed) == 0  # not released: left out, counted
    feed.release("BTC")
    for s in range(2, 7):
        feed.offer(quote("BTC", s))
    assert [q.source_ts.second for q in feed.take(3, 0.0)] == [2, 3, 4]
    assert [q.source_ts.second for q in feed.take(10, 0.0)] == [5, 6]
    assert feed.take(10, 0.0) == [] and feed.take(0, 0.0) == []


def test_a_full_queue_drops_its_oldest_and_counts_it():
    feed = StreamFeed(maxsize=3, clock=FakeClock())
    feed.release("ETH")
    for s in range(5):
        feed.offer(quote("ETH", s))
    assert feed.dropped == 2
    assert [q.source_ts.second for q in feed.take(10, 0.0)] == [2, 3, 4]


def test_stream_quotes_carry_the_market_cap_and_volume_the_polls_last_gave():
    feed = StreamFeed()
    bare = quote("BTC", 5)
    assert feed.enrich(bare) is bare
    feed.note_market(
        quote("BTC", 1, "coingecko", market_cap_usd=2e12, volume_24h_usd=4e10, change_24h_pct=1.5)
    )
    rich = feed.enrich(bare)
    assert (rich.price_usd, rich.source, rich.source_ts) == (bare.price_usd, "binance", bare.source_ts)
    assert (rich.market_cap_usd, rich.volume_24h_usd, rich.change_24h_pct) == (2e12, 4e10, 1.5)


# --- the polling loop and auto mode ---------------------------------------------------------
@dataclass
class FakeStreams:
    supplied: set[str]
    live_source: str | None = "binance"
    noted: list[Quote] = field(default_factory=list)

    def live(self) -> str | None:
        return self.live_source

    def supplies(self, symbol: str) -> bool:
        return symbol in self.supplied

    def note_market(self, quote: Quote) -> None:
        self.noted.append(quote)


class Gecko:
    name = "coingecko"

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls = 0

    def fetch(self, symbols: list[str]) -> FetchResult:
        self.calls += 1
        if self.fail:
            raise SourceError("timeout", "no answer")
        return FetchResult([quote(s, 1, "coingecko", market_cap_usd=1e9) for s in symbols])


def test_the_polls_price_only_the_coins_no_stream_supplies_and_feed_the_others_market_data():
    sink: ListSink[Quote] = ListSink()
    streams = FakeStreams({"BTC"})
    telemetry = Telemetry("scraper", None)
    LiveScraper([Gecko()], ["BTC", "ETH"], sink, telemetry, 60, streams=streams).cycle()
    assert [(q.symbol, q.source) for q in sink.items] == [("ETH", "coingecko")]
    assert [q.symbol for q in streams.noted] == ["BTC"]
    assert telemetry.counters["market_only.coingecko"] == 1


def test_a_coingecko_that_does_not_answer_leaves_the_scraper_running_on_its_streams():
    telemetry = Telemetry("scraper", None)
    scraper = LiveScraper(
        [Gecko(fail=True)], ["BTC"], ListSink(), telemetry, 60, streams=FakeStreams({"BTC"})
    )
    scraper.cycle()
    assert telemetry.state == "running" and telemetry.counters["missing_symbol"] == 0
    scraper.streams = FakeStreams(set(), live_source=None)
    scraper.cycle()
    assert telemetry.state == "degraded"


def test_auto_modes_probe_is_answered_by_a_live_stream_without_asking_the_api():
    gecko = Gecko(fail=True)
    streams = FakeStreams(set(), live_source=None)
    probe = LiveProbe([gecko], ["BTC"], every_s=60.0, clock=FakeClock(), streams=streams)
    assert probe() is False and gecko.calls == 1
    streams.live_source = "kraken"
    assert probe() is True and probe.answered == "kraken" and gecko.calls == 1


# --- what the heartbeat says ----------------------------------------------------------------
def test_each_stream_reports_state_coins_rates_and_the_last_frames_age():
    stats = StreamStats(state="live", frames=300, quotes=20, last_frame_ts=T0 - timedelta(seconds=0.25))
    stats.rejects["bad_json"] = 2
    owners = {"BTC": "binance", "ETH": "binance", "XRP": "coinbase", "SOL": "binance"}
    coins = supplied_by("binance", owners, SourceView("live", frozenset({"BTC", "ETH", "XRP"})))
    assert coins == ["BTC", "ETH"]  # SOL: assigned, but not served now
    assert supplied_by("binance", owners, SourceView("stalled", frozenset({"BTC"}))) == []
    gauges = stream_gauges("binance", stats, (100, 10), 10.0, coins, T0)
    assert gauges == {
        "stream.binance.state": "live",
        "stream.binance.coins": "BTC,ETH",
        "stream.binance.frames_per_s": 20.0,
        "stream.binance.quotes_per_s": 1.0,
        "stream.binance.last_frame_age_s": 0.25,
        "stream.binance.last_error": None,
    }
    assert stream_gauges("binance", stats, None, 0.0, [], T0)["stream.binance.frames_per_s"] is None
    assert stream_counters("binance", stats)["stream_rejects.binance.bad_json"] == 2
    down = StreamStats(state="down", last_error="connect:OSError")
    gauges |= stream_gauges("kraken", down, None, 0.0, [], T0)
    gauges |= stream_gauges("coinbase", StreamStats(state="stalled", last_error="stalled"), None, 0.0, [], T0)
    report = scraper_report(gauges | {"mode": "live", "scrape_interval_s": 300.0})
    assert (
        list(report["streams"]) == ["binance", "kraken", "coinbase"]
        and report["streams"]["binance"]["coins"] == "BTC,ETH"
    )
    assert source_lines(report) == [
        "binance stream: live, supplies BTC, ETH; 20 frames/s, 1 quotes/s; last frame 0.25 s ago",
        "kraken stream: down, supplies no coin (connect:OSError)",
        "coinbase stream: stalled, supplies no coin",
    ]


def test_stream_counters_and_rates_reach_prometheus_like_the_others():
    from prometheus_client import generate_latest

    from cryptoviz.metrics import registry_for

    telemetry = Telemetry("scraper", None)
    stats = StreamStats(state="live", frames=40, quotes=4, sink_errors=1)
    stats.rejects["bad_json"] = 3
    telemetry.counters.update(stream_counters("kraken", stats))
    telemetry.gauges.update(stream_gauges("kraken", stats, (20, 2), 2.0, ["BTC"], T0))
    text = generate_latest(registry_for(telemetry)).decode()
    assert re.search(r'^cryptoviz_stream_frames_total\{.*kind="kraken".*\} 40\.0$', text, re.M)
    assert re.search(r'^cryptoviz_stream_rejects_total\{.*kind="kraken\.bad_json".*\} 3\.0$', text, re.M)
    assert re.search(r'^cryptoviz_stream_sink_errors_total\{.*kind="kraken".*\} 1\.0$', text, re.M)
    assert "cryptoviz_stream_kraken_frames_per_s{" in text and "cryptoviz_stream_kraken_quotes_per_s{" in text


# --- the pump at a stop ---------------------------------------------------------------------
class StoppingPublisher:
    """The publisher once the service is stopping: every write refused, each attempt counted."""

    def __init__(self) -> None:
        self.attempts = 0

    def write(self, batch) -> int:
        self.attempts += 1
        raise NotDelivered("stopping")


def test_once_stopping_the_pump_tries_its_batch_once_and_counts_what_is_left():
    """A batch refused while stopping may still be delivered by the producer's close: sending it
    again would publish it twice. The pump ends instead, and the stop counts what is left."""
    stop, publisher = Stop(), StoppingPublisher()
    telemetry = Telemetry("scraper", None)
    settings = load(ScraperSettings, stream_sources=[])
    streams = Streams(settings, ["BTC", "ETH"], publisher, telemetry, stop)
    streams.release_all()
    for q in (quote("BTC", 1), quote("ETH", 1), quote("BTC", 2)):
        streams.feed.offer(q)
    stop.set()
    streams.start()
    streams._pump.join(10)
    assert not streams._pump.is_alive() and publisher.attempts == 1
    streams.stop()
    assert telemetry.counters["stream_unacknowledged_at_stop"] == 3
    assert telemetry.counters["errors.stream_publish_batches"] == 1
