"""The streams' pure logic: the throttle (one quote per coin per interval, the latest) and the
per-coin failover between sources (the first live one in priority order, the coin given back when
the first recovers), and the sink that applies it without a duplicate or a step back in event time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

from cryptoviz.schema import Quote, make_quote
from cryptoviz.scraper.sources.streams.failover import Failover, FailoverSink, SourceView
from cryptoviz.scraper.sources.streams.throttle import Throttle

T0 = datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
ORDER = ("binance", "coinbase", "kraken")
ALL = frozenset({"BTC", "ETH", "DOGE"})


def quote(symbol: str, price: float, second: float, source: str = "binance") -> Quote:
    return make_quote(symbol, price, T0 + timedelta(seconds=second), source=source)


# --- throttle ---------------------------------------------------------------------------------
def test_throttle_hands_over_the_latest_of_each_coin_once_per_interval():
    t = Throttle(interval_s=1.0)
    for i in range(5):
        t.offer(quote("BTC", 100 + i, i * 0.1))
    t.offer(quote("ETH", 10, 0.2))
    first = t.due(now=0.0)
    assert sorted((q.symbol, q.price_usd) for q in first) == [("BTC", 104), ("ETH", 10)]
    t.offer(quote("BTC", 105, 0.6))
    assert t.due(now=0.5) == [] and t.wait_s(0.5) == 0.5  # not before the interval has passed
    t.offer(quote("BTC", 106, 0.9))
    assert [(q.symbol, q.price_usd) for q in t.due(now=1.0)] == [("BTC", 106)]
    assert t.due(now=2.0) == []  # nothing new: nothing handed over


def test_throttle_drops_what_is_not_newer_than_what_it_handed_over():
    t = Throttle(interval_s=1.0)
    t.offer(quote("BTC", 100, 5.0))
    t.due(now=0.0)
    t.offer(quote("BTC", 99, 5.0))  # the same event time again (a resubscription's snapshot)
    assert t.due(now=1.0) == [] and t.not_newer == 1
    t.offer(quote("BTC", 98, 4.0))
    t.forget()  # its connection dropped
    assert t.due(now=2.0) == [] and t.not_newer == 1


# --- failover ---------------------------------------------------------------------------------
def views(**states: str | tuple[str, frozenset[str]]) -> dict[str, SourceView]:
    out = {}
    for name, value in states.items():
        state, serving = value if isinstance(value, tuple) else (value, ALL)
        out[name] = SourceView(state, serving)
    return out


def test_the_first_live_source_in_priority_order_supplies_each_coin():
    f = Failover(ORDER)
    v = views(binance="live", coinbase="live", kraken="live")
    assert f.assign(["BTC", "ETH"], v, 0.0) == {"BTC": "binance", "ETH": "binance"}
    v = views(binance="stalled", coinbase="live", kraken="live")
    assert f.owner("BTC", v, 1.0) == "coinbase"
    v = views(binance="down", coinbase="connecting", kraken="live")
    assert f.owner("BTC", v, 2.0) == "kraken"
    assert f.owner("BTC", views(binance="down", coinbase="down", kraken="stalled"), 3.0) is None


def test_a_coin_the_first_does_not_serve_goes_to_the_next():
    f = Failover(ORDER)
    v = views(binance=("live", frozenset({"BTC", "ETH"})), coinbase="live")
    assert f.assign(["BTC", "DOGE"], v, 0.0) == {"BTC": "binance", "DOGE": "coinbase"}
    assert f.owner("ETH", views(binance="live"), 0.0) == "binance"
    assert f.owner("ADA", views(binance="live", coinbase=("live", frozenset())), 0.0) is None


def test_the_coin_is_given_back_when_the_first_recovers():
    f = Failover(ORDER)
    assert f.owner("BTC", views(binance="live", coinbase="live"), 0.0) == "binance"
    assert f.owner("BTC", views(binance="stalled", coinbase="live"), 1.0) == "coinbase"
    assert f.owner("BTC", views(binance="connecting", coinbase="live"), 2.0) == "coinbase"
    assert f.owner("BTC", views(binance="live", coinbase="live"), 3.0) == "binance"


def test_with_a_takeback_time_the_first_must_serve_that_long_first():
    f = Failover(ORDER, takeback_s=5.0)
    assert f.owner("BTC", views(binance="down", coinbase="live"), 0.0) == "coinbase"
    assert f.owner("BTC", views(binance="live", coinbase="live"), 10.0) == "coinbase"
    assert f.owner("BTC", views(binance="stalled", coinbase="live"), 12.0) == "coinbase"
    assert f.owner("BTC", views(binance="live", coinbase="live"), 13.0) == "coinbase"  # eligible again at 13
    assert f.owner("BTC", views(binance="live", coinbase="live"), 17.9) == "coinbase"
    assert f.owner("BTC", views(binance="live", coinbase="live"), 18.0) == "binance"
    # with the current source gone, the next one takes over at once, takeback or not
    assert f.owner("BTC", views(binance="down", coinbase="live", kraken="live"), 19.0) == "coinbase"


def switchable_sink(standby_s: float = 0.0) -> tuple[FailoverSink, dict[str, str], list[Quote]]:
    """A sink over Binance and Coinbase, both live serving every coin; the states are the test's to
    switch, and what passes is kept."""
    state = {"binance": "live", "coinbase": "live"}
    passed: list[Quote] = []
    sink = FailoverSink(
        Failover(ORDER),
        lambda: {name: SourceView(s, ALL) for name, s in state.items()},
        passed.append,
        clock=lambda: 0.0,
        standby_s=standby_s,
    )
    return sink, state, passed


def test_the_sink_passes_only_the_owners_quotes_each_newer_than_the_last():
    sink, state, passed = switchable_sink()
    sink(quote("BTC", 100, 1.0, "binance"))
    sink(quote("BTC", 101, 1.5, "coinbase"))  # standby
    sink(quote("BTC", 102, 2.0, "binance"))
    state["binance"] = "stalled"
    sink(quote("BTC", 103, 1.8, "coinbase"))  # the new owner, but older than what passed: dropped
    sink(quote("BTC", 104, 3.0, "coinbase"))
    state["binance"] = "live"
    sink(quote("BTC", 105, 3.0, "binance"))  # given back; the same event time as the last: dropped
    sink(quote("BTC", 106, 4.0, "binance"))
    assert [(q.source, q.price_usd) for q in passed] == [
        ("binance", 100),
        ("binance", 102),
        ("coinbase", 104),
        ("binance", 106),
    ]
    assert sink.counts == {"passed": 4, "standby.coinbase": 1, "not_newer": 2, "handovers": 3}


def test_a_handover_sends_the_new_sources_kept_quotes_first_leaving_no_gap_of_the_stall():
    """Binance goes silent at 10 s and is found stalled 15 s later: Coinbase's quotes of those 15 s,
    kept while it stood by, go out first, so the coin's quotes keep their one-second spacing."""
    sink, state, passed = switchable_sink(standby_s=15.0)
    for second in range(0, 26):
        if second <= 10:
            sink(quote("BTC", 100 + second, second, "binance"))
        if second == 25:
            state["binance"] = "stalled"
        sink(quote("BTC", 200 + second, second + 0.5, "coinbase"))
    times = [q.source_ts for q in passed]
    assert times == sorted(times) and len(set(times)) == len(times)
    gaps = [(b - a).total_seconds() for a, b in pairwise(times)]
    assert max(gaps) <= 1.0, gaps
    assert passed[-1].source == "coinbase" and passed[-1].price_usd == 225
    assert all(len(q) <= 16 for q in sink.kept.values())  # a stall time's worth at most


def test_without_a_standby_window_nothing_is_kept():
    sink = FailoverSink(Failover(ORDER), lambda: {"binance": SourceView("live", ALL)}, [].append, lambda: 0.0)
    sink(quote("BTC", 100, 1.0, "coinbase"))
    assert sink.kept == {}
