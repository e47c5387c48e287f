"""Parsing recorded-shape CoinGecko and CoinMarketCap answers, and the scraper's cycle logic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec
import pytest

from cryptoviz.coins import DEFAULT_COINS
from cryptoviz.retry import Backoff, retry_after_seconds
from cryptoviz.scraper import loop
from cryptoviz.scraper.loop import LiveProbe, LiveScraper, ReplayScraper
from cryptoviz.scraper.sources.base import FetchResult, SourceError
from cryptoviz.scraper.sources.coingecko import parse_market_chart, parse_markets
from cryptoviz.scraper.sources.coinmarketcap import parse_quotes_latest
from cryptoviz.scraper.sources.replay import HistoryRow, history_to_quotes
from cryptoviz.service import Stop
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.doubles import FakeClock, ListSink

FIX = Path(__file__).resolve().parents[2] / "fixtures"
SYMBOLS = list(DEFAULT_COINS)


def fixture(name: str):
    return json.loads((FIX / name).read_text())


def test_coingecko_markets_gives_every_coin():
    result = parse_markets(fixture("coingecko_markets.json"), SYMBOLS)
    assert [q.symbol for q in result.quotes] == SYMBOLS
    btc = result.quotes[0]
    assert (btc.price_usd, btc.market_cap_usd, btc.volume_24h_usd, btc.change_24h_pct) == (
        64123.5,
        1.263e12,
        2.85e10,
        1.28,
    )
    assert btc.source == "coingecko" and btc.source_ts == datetime(2024, 5, 1, 12, 0, 5, 123000, tzinfo=UTC)
    assert not result.rejects


def test_coingecko_bad_items_are_counted_by_reason():
    body = fixture("coingecko_markets.json")
    body[0]["current_price"] = None
    body[1]["current_price"] = "3101.2"
    body[2]["last_updated"] = "not a date"
    body[3]["current_price"] = -1
    del body[4]["current_price"]
    result = parse_markets(body, SYMBOLS)
    assert [q.symbol for q in result.quotes] == ["SOL", "DOGE"]
    assert result.rejects == {"missing_price": 2, "bad_type": 1, "bad_timestamp": 1, "price_not_positive": 1}


@pytest.mark.parametrize(("body", "kind"), [([], "empty_body"), ({"error": "x"}, "malformed_body")])
def test_coingecko_empty_or_malformed_body_fails_the_fetch(body, kind):
    with pytest.raises(SourceError) as info:
        parse_markets(body, SYMBOLS)
    assert info.value.kind == kind


def test_coinmarketcap_quotes_latest():
    result = parse_quotes_latest(fixture("coinmarketcap_quotes_latest.json"), SYMBOLS)
    assert [q.symbol for q in result.quotes] == SYMBOLS
    assert result.quotes[0].price_usd == 64110.25 and result.quotes[0].source == "coinmarketcap"


def test_coinmarketcap_partial_and_error_bodies():
    body = fixture("coinmarketcap_quotes_latest.json")
    del body["data"]["DOGE"]
    body["data"]["SOL"]["quote"]["USD"]["price"] = None
    result = parse_quotes_latest(body, SYMBOLS)
    assert len(result.quotes) == 5 and result.rejects == {"missing_coin": 1, "missing_price": 1}
    with pytest.raises(SourceError, match="api_error"):
        parse_quotes_latest({"status": {"error_code": 1002, "error_message": "API key missing."}}, SYMBOLS)


def test_market_chart_for_backfill():
    result = parse_market_chart(fixture("coingecko_market_chart.json"), "BTC")
    assert len(result.quotes) == 4 and result.rejects == {"bad_type": 1}
    assert result.quotes[0].market_cap_usd == 1.24e12 and result.quotes[0].source == "backfill"


def test_retry_after_in_seconds_or_http_date():
    assert retry_after_seconds("30") == 30
    now = datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert retry_after_seconds("Wed, 01 May 2024 12:01:00 GMT", now) == 60
    assert retry_after_seconds(None) is None and retry_after_seconds("soon") is None


def test_backoff_grows_with_jitter_and_honours_retry_after():
    b = Backoff(base_s=2, cap_s=60)
    ceilings = [b.ceiling(n) for n in range(1, 8)]
    assert ceilings == [2, 4, 8, 16, 32, 60, 60]
    for n, ceiling in enumerate(ceilings * 20, start=1):  # jitter: anywhere in the upper half
        assert ceiling / 2 <= b.delay((n - 1) % 7 + 1) <= ceiling
    assert b.delay(1, retry_after=120) == 120


class ScriptedSource:
    """A source that answers from a script: FetchResult or SourceError, one per call."""

    def __init__(self, name: str, script: list) -> None:
        self.name = name
        self.script = script
        self.calls: list[list[str]] = []

    def fetch(self, symbols):
        self.calls.append(list(symbols))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return FetchResult([q for q in step if q.symbol in symbols])


def make_scraper(primary, secondary=None, publisher=None):
    clock = FakeClock(1000.0)
    sources = [primary] + ([secondary] if secondary else [])
    telemetry = Telemetry("scraper", None)
    scraper = LiveScraper(sources, SYMBOLS, publisher or ListSink(), telemetry, 60, clock=clock)
    return scraper, clock, telemetry


def test_the_live_loop_waits_for_its_next_poll_in_heartbeat_steps():
    """A poll every five minutes (a demo key's pace) must not leave the heartbeat stale for five
    minutes: the wait between polls is cut into heartbeat intervals, each followed by a publish."""
    cg = parse_markets(fixture("coingecko_markets.json"), SYMBOLS).quotes
    primary = ScriptedSource("coingecko", [cg, cg])
    scraper, clock, telemetry = make_scraper(primary)
    scraper.interval_s = 300
    stop = Stop()

    def sleep(seconds: float) -> bool:
        clock.sleep(seconds)
        if clock.now >= 1000 + 300 + 150:  # into the second wait: enough seen
            stop.set()
        return bool(stop)

    scraper.sleep = sleep
    scraper.run(stop)
    assert len(primary.calls) == 2
    assert clock.slept and max(clock.slept) <= telemetry.interval_s
    assert sum(clock.slept) == pytest.approx(450)  # the first wait whole, half of the second


def test_fill_in_source_covers_what_the_primary_lacks_and_replaces_it_when_it_fails():
    cg = parse_markets(fixture("coingecko_markets.json"), SYMBOLS).quotes
    cmc = parse_quotes_latest(fixture("coinmarketcap_quotes_latest.json"), SYMBOLS).quotes
    primary = ScriptedSource("coingecko", [cg[:5], SourceError("server_error", "HTTP 500")])
    secondary = ScriptedSource("coinmarketcap", [cmc, cmc])
    scraper, clock, telemetry = make_scraper(primary, secondary)
    assert scraper.cycle() == 7
    assert secondary.calls == [["SOL", "DOGE"]]
    sent = scraper.publisher.items
    assert {q.symbol: q.source for q in sent}["SOL"] == "coinmarketcap"
    assert {q.symbol: q.source for q in sent}["BTC"] == "coingecko"
    clock.now += 60
    # CMC stands in for the failing primary; only XRP's upstream timestamp moved past what was sent
    assert scraper.cycle() == 1
    assert (
        scraper.publisher.items[-1].symbol == "XRP" and scraper.publisher.items[-1].source == "coinmarketcap"
    )
    assert telemetry.counters["errors.coingecko.server_error"] == 1
    assert telemetry.counters["stale.coinmarketcap"] == 6


def test_rate_limit_backs_off_for_retry_after_and_source_goes_down():
    cg = parse_markets(fixture("coingecko_markets.json"), SYMBOLS).quotes
    errors = [SourceError("rate_limited", "HTTP 429", retry_after=120)] + [SourceError("timeout")] * 3
    primary = ScriptedSource("coingecko", [*errors, cg])
    scraper, clock, telemetry = make_scraper(primary)
    scraper.cycle()
    clock.now += 60
    scraper.cycle()  # still inside Retry-After: not asked
    assert len(primary.calls) == 1 and telemetry.counters["skipped_backoff.coingecko"] == 1
    for _ in range(3):
        clock.now = scraper.health["coingecko"].not_before
        scraper.cycle()
    assert telemetry.gauges["source.coingecko.state"] == "down" and telemetry.state == "degraded"
    clock.now = scraper.health["coingecko"].not_before
    assert scraper.cycle() == 7
    assert telemetry.gauges["source.coingecko.state"] == "up"


def test_publish_failure_keeps_the_quotes_for_the_next_cycle():
    cg = parse_markets(fixture("coingecko_markets.json"), SYMBOLS).quotes
    later = [msgspec.structs.replace(q, source_ts=q.source_ts.replace(minute=5)) for q in cg]
    publisher = ListSink(fail_times=1)
    primary = ScriptedSource("coingecko", [cg, later])
    scraper, _, telemetry = make_scraper(primary, publisher=publisher)
    scraper.cycle()
    assert publisher.items == [] and len(scraper.unsent) == 7
    scraper.cycle()
    assert len(publisher.items) == 14 and scraper.unsent == []
    assert telemetry.counters["errors.publish_batches"] == 1


def test_quotes_never_published_are_counted_when_dropped_past_the_limit_or_at_stop(monkeypatch):
    cg = parse_markets(fixture("coingecko_markets.json"), SYMBOLS).quotes
    monkeypatch.setattr(loop, "UNSENT_KEPT", 5)
    scraper, clock, telemetry = make_scraper(
        ScriptedSource("coingecko", [cg]), publisher=ListSink(fail_times=9)
    )
    stop = Stop()

    def sleep(seconds: float) -> bool:  # the broker away until the stop, during the first wait
        clock.sleep(seconds)
        stop.set()
        return True

    scraper.sleep = sleep
    scraper.run(stop)
    assert len(scraper.unsent) == 5
    assert telemetry.counters["unsent_dropped"] == 2 + 5, "2 past the limit, then 5 at the stop"


def test_replay_volume_is_a_full_day_from_the_first_replayed_hour_or_unknown():
    from datetime import timedelta

    from cryptoviz.scraper.sources.replay import HistoryRow, history_to_quotes

    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    rows = [HistoryRow(t0 + timedelta(hours=h), "BTC", 100.0 + h, 10.0) for h in range(48)]
    quotes = [q for batch in history_to_quotes(rows) for q in batch]
    assert [q.volume_24h_usd for q in quotes[:23]] == [None] * 23  # less than a day of history
    assert quotes[23].volume_24h_usd == 240.0 and quotes[47].volume_24h_usd == 240.0
    started = [q for batch in history_to_quotes(rows, start=t0 + timedelta(hours=30)) for q in batch]
    assert started[0].source_ts == t0 + timedelta(hours=30)
    assert started[0].volume_24h_usd == 240.0  # warmed from the hours before the start
    assert started[0].change_24h_pct == pytest.approx((130 / 106 - 1) * 100)
    gap = [*rows, HistoryRow(t0 + timedelta(hours=100), "BTC", 150.0, 10.0)]
    assert [q for b in history_to_quotes(gap) for q in b][-1].volume_24h_usd is None  # after a gap


def test_a_run_of_429s_shows_as_rate_limited_not_as_an_outage():
    errors = [SourceError("rate_limited", "HTTP 429", retry_after=30)] * 4
    primary = ScriptedSource("coingecko", errors)
    scraper, clock, telemetry = make_scraper(primary)
    for _ in range(4):
        clock.now = max(clock.now, scraper.health["coingecko"].not_before)
        scraper.cycle()
    assert telemetry.gauges["source.coingecko.state"] == "rate_limited"
    assert telemetry.counters["errors.coingecko.rate_limited"] == 4


def test_the_live_probe_asks_at_most_every_interval_and_names_who_answered():
    cg = parse_markets(fixture("coingecko_markets.json"), SYMBOLS).quotes
    down = ScriptedSource("coingecko", [SourceError("connection", "refused")] * 2 + [cg])
    clock = FakeClock(0.0)
    probe = LiveProbe([down], ["BTC"], every_s=60.0, clock=clock)
    assert not probe() and len(down.calls) == 1
    clock.now += 30
    assert not probe() and len(down.calls) == 1  # not yet due: nothing asked
    clock.now += 30
    assert not probe() and len(down.calls) == 2
    clock.now += 60
    assert probe() and probe.answered == "coingecko"
    assert probe() and len(down.calls) == 3  # answered once: True from then on, without asking


def test_auto_mode_replays_until_the_probe_says_a_live_source_answers():
    rows = [
        HistoryRow(datetime(2026, 1, 1, h, tzinfo=UTC), sym, 100.0 + h, 1e6)
        for h in range(10)
        for sym in ("BTC", "ETH")
    ]
    answers = iter([False, False, False, True])
    sink: ListSink = ListSink()
    replay = ReplayScraper(
        history_to_quotes(rows), sink, Telemetry("scraper", None), speed=1e9, until=lambda: next(answers)
    )
    sent = replay.run(Stop())
    assert sent == 6 and [q.source_ts.hour for q in sink.items] == [0, 0, 1, 1, 2, 2]


class CountingSink(ListSink):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[int] = []

    def write(self, batch):
        self.writes.append(len(batch))
        return super().write(batch)


def test_the_replay_writes_what_is_due_together_and_waits_only_for_the_pace():
    """72 warm-up hours of two coins go out in one write, not 72; then each paced hour is written
    before the wait for the next, so nothing due waits on the broker once per hour."""
    rows = [
        HistoryRow(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=h), sym, 100.0 + h, 1e6)
        for h in range(76)
        for sym in ("BTC", "ETH")
    ]
    clock = FakeClock(0.0)
    sink = CountingSink()
    replay = ReplayScraper(
        history_to_quotes(rows),
        sink,
        Telemetry("scraper", None),
        speed=3600.0,  # an hour a second
        warmup_until=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=72),
        clock=clock,
        sleep=lambda s: bool(clock.sleep(s)),
    )
    assert replay.run(Stop()) == 152
    assert sink.writes == [
        146,
        2,
        2,
        2,
    ]  # the warm-up and the first paced hour (due at once), then one a second
    assert [q.source_ts for q in sink.items] == sorted(q.source_ts for q in sink.items)
