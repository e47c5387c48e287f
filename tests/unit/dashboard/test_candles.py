import itertools

import numpy as np
import pandas as pd
import pytest

from cryptoviz.dashboard.candles import (
    bollinger,
    pick_interval,
    remember_live,
    rsi,
    sma,
    to_candles,
    with_live,
    with_live_quotes,
)


def quotes(prices: list[float], step: str = "1h", start: str = "2025-01-01") -> pd.DataFrame:
    ts = pd.date_range(start, periods=len(prices), freq=step, tz="UTC")
    return pd.DataFrame(
        {"source_ts": ts, "price_usd": prices, "volume_24h_usd": np.arange(len(prices)) * 10.0}
    )


def test_candles_hold_open_high_low_close_of_their_interval_and_skip_empty_ones():
    history = quotes([10, 12, 9, 11, 20, 21, 19, 22])
    history = history.drop(index=[4, 5, 6, 7])  # the second 4 h interval has no quote
    history = pd.concat([history, quotes([30, 28], start="2025-01-01 08:00")])
    candles = to_candles(history.sample(frac=1, random_state=1), "4 h")  # order of the rows is irrelevant
    assert candles["ts"].tolist() == [
        pd.Timestamp("2025-01-01 00:00", tz="UTC"),
        pd.Timestamp("2025-01-01 08:00", tz="UTC"),
    ]
    first, second = candles.to_dict("records")
    assert (first["open"], first["high"], first["low"], first["close"], first["quotes"]) == (10, 12, 9, 11, 4)
    assert first["volume_24h_usd"] == 30.0  # the last quote's 24 h volume
    assert (second["open"], second["high"], second["low"], second["close"], second["quotes"]) == (
        30,
        30,
        28,
        28,
        2,
    )


def test_no_quotes_no_candles():
    assert to_candles(quotes([]), "1 h").empty


@pytest.mark.parametrize(
    ("step", "periods", "expected"),
    [
        ("1h", 7 * 24, "4 h"),
        ("1min", 24 * 60, "15 min"),
        ("1h", 30 * 24, "4 h"),
        ("1h", 180 * 24, "1 d"),
        ("1h", 1, "1 h"),
        ("1s", 3 * 3600, "1 min"),  # a stream's quote a second over the market page's 3 h
        ("1min", 3 * 60, "5 min"),  # a poll a minute: a 1-minute candle would hold one quote
    ],
)
def test_the_interval_keeps_candles_few_and_each_holds_several_quotes(step, periods, expected):
    assert pick_interval(quotes([1.0] * periods, step)["source_ts"]) == expected


def test_quotes_a_second_make_one_minute_candles_each_bounded_by_its_minute():
    prices = [100 + (i % 60) * 0.5 - (i // 60) for i in range(150)]  # 2.5 minutes of 1 s quotes
    history = quotes(prices, "1s", start="2026-04-01 12:00:30")
    candles = to_candles(history, "1 min")
    assert candles["ts"].tolist() == [
        pd.Timestamp(f"2026-04-01 12:0{m}", tz="UTC") for m in range(3)
    ]  # left-closed, labelled by the minute's start
    assert candles["quotes"].tolist() == [30, 60, 60]
    first, second, third = candles.to_dict("records")
    assert (first["open"], first["close"]) == (prices[0], prices[29])  # 12:00:30 .. 12:00:59
    assert (second["open"], second["close"]) == (prices[30], prices[89])  # 12:01:00 .. 12:01:59
    assert second["high"] == max(prices[30:90]) and second["low"] == min(prices[30:90])
    assert third["close"] == prices[-1] and third["volume_24h_usd"] == history["volume_24h_usd"].iloc[-1]


def test_a_live_quote_moves_the_last_candle_or_opens_the_next():
    history = quotes([10.0, 12.0, 11.0], "20s", start="2026-04-01 12:00:00")
    candles = to_candles(history, "1 min")  # one candle: 12:00, 10 12 10 11, 3 quotes
    newest = history["source_ts"].iloc[-1]
    at = pd.Timestamp("2026-04-01 12:00:50", tz="UTC")
    moved = with_live(candles, "1 min", at, 13.0, 555.0, after=newest).iloc[-1]
    assert (moved["open"], moved["high"], moved["low"], moved["close"], moved["quotes"]) == (
        10,
        13,
        10,
        13,
        4,
    )
    assert moved["volume_24h_usd"] == 555.0
    lower = with_live(candles, "1 min", at, 9.0, after=newest).iloc[-1]
    assert (lower["low"], lower["close"], lower["volume_24h_usd"]) == (
        9.0,
        9.0,
        candles["volume_24h_usd"].iloc[-1],
    )
    later = with_live(candles, "1 min", pd.Timestamp("2026-04-01 12:02:05", tz="UTC"), 14.0, after=newest)
    assert len(later) == 2 and later.iloc[-1]["ts"] == pd.Timestamp("2026-04-01 12:02", tz="UTC")
    assert later.iloc[-1][["open", "high", "low", "close", "quotes"]].tolist() == [14.0, 14.0, 14.0, 14.0, 1]
    assert later.dtypes.equals(candles.dtypes)
    assert candles["quotes"].tolist() == [3]  # the candles given are left as they were


def test_every_live_quote_since_the_lakes_newest_row_shapes_the_candles():
    """The page sees a live quote a rerun, and the lake (read once a minute, written every 30 s) may
    be a minute and more behind: each quote the page saw since goes into the candles, so a minute's
    open is its first quote and its high and low every quote's, and no minute goes missing."""
    history = quotes([10.0, 12.0, 11.0], "20s", start="2026-04-01 11:59:00")
    candles = to_candles(history, "1 min")
    newest = history["source_ts"].iloc[-1]  # 11:59:40
    kept: list = []
    for at, price in [("12:00:10", 100.0), ("12:01:20", 101.0), ("12:01:21", 99.0), ("12:01:22", 100.5)]:
        kept = remember_live(kept, (pd.Timestamp(f"2026-04-01 {at}", tz="UTC"), price, None), newest)
        shown = with_live_quotes(candles, "1 min", kept, newest)
    assert kept == remember_live(kept, kept[-1], newest), "a quote seen again is kept once"
    rows = shown[["open", "high", "low", "close", "quotes"]].values.tolist()
    assert shown["ts"].dt.strftime("%H:%M").tolist() == ["11:59", "12:00", "12:01"]
    assert rows[1:] == [[100.0, 100.0, 100.0, 100.0, 1], [101.0, 101.0, 99.0, 100.5, 3]]
    # the lake read again, holding 12:00:10: that quote is the lake's now
    assert [q[1] for q in remember_live(kept, kept[-1], pd.Timestamp("2026-04-01 12:00:10", tz="UTC"))] == [
        101.0,
        99.0,
        100.5,
    ]


def test_a_live_quote_the_lake_already_holds_or_older_than_the_candles_changes_nothing():
    history = quotes([10.0, 12.0, 11.0], "20s", start="2026-04-01 12:00:00")
    candles = to_candles(history, "1 min")
    newest = history["source_ts"].iloc[-1]
    assert with_live(candles, "1 min", newest, 99.0, after=newest).equals(candles)
    assert with_live(candles, "1 min", pd.Timestamp("2026-04-01 11:58", tz="UTC"), 99.0).equals(candles)
    assert with_live(to_candles(quotes([]), "1 min"), "1 min", newest, 99.0).empty


def test_sma_and_bollinger_match_numpy():
    rng = np.random.default_rng(3)
    close = pd.Series(100 + rng.normal(size=60).cumsum())
    mean = sma(close, 20)
    low, high = bollinger(close, 20, 2.0)
    assert mean.iloc[:19].isna().all() and low.iloc[:19].isna().all()
    for i in range(19, 60):
        window = close.to_numpy()[i - 19 : i + 1]
        assert mean.iloc[i] == pytest.approx(window.mean(), rel=1e-12)
        assert high.iloc[i] == pytest.approx(window.mean() + 2 * window.std(), rel=1e-12)
        assert low.iloc[i] == pytest.approx(window.mean() - 2 * window.std(), rel=1e-12)


def wilder_reference(close: list[float], n: int) -> list[float]:
    """Wilder (1978): first averages are plain means of n changes, then avg = (avg * (n - 1) + x) / n."""
    changes = [b - a for a, b in itertools.pairwise(close)]
    out = [float("nan")] * n
    gain = sum(max(c, 0) for c in changes[:n]) / n
    loss = sum(max(-c, 0) for c in changes[:n]) / n
    out.append(100 - 100 / (1 + gain / loss))
    for c in changes[n:]:
        gain = (gain * (n - 1) + max(c, 0)) / n
        loss = (loss * (n - 1) + max(-c, 0)) / n
        out.append(100 - 100 / (1 + gain / loss))
    return out


def test_rsi_follows_wilder_and_its_edges():
    rng = np.random.default_rng(5)
    close = (100 + rng.normal(size=80).cumsum()).tolist()
    got = rsi(pd.Series(close), 14).tolist()
    expected = wilder_reference(close, 14)
    assert np.isnan(got[:14]).all()
    assert got[14:] == pytest.approx(expected[14:], rel=1e-12)
    assert rsi(pd.Series(range(30), dtype=float), 14).iloc[-1] == 100.0  # never a loss
    assert rsi(pd.Series([5.0] * 30), 14).iloc[-1] == 50.0  # never a move
    assert rsi(pd.Series([1.0, 2.0, 3.0]), 14).isna().all()  # too short


def test_no_indicator_looks_ahead():
    rng = np.random.default_rng(9)
    close = pd.Series(100 + rng.normal(size=100).cumsum())
    changed = close.copy()
    changed.iloc[60:] = changed.iloc[60:] * 3 + rng.normal(size=40)
    history, changed_history = quotes(close.tolist()), quotes(changed.tolist())
    for f in (
        lambda s: sma(s, 20),
        lambda s: bollinger(s)[0],
        lambda s: bollinger(s)[1],
        lambda s: rsi(s, 14),
    ):
        pd.testing.assert_series_equal(f(close).iloc[:60], f(changed).iloc[:60])
    assert to_candles(history, "4 h").iloc[:15].equals(to_candles(changed_history, "4 h").iloc[:15])
