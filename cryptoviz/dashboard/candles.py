"""Candles from the lake's quotes and the indicators drawn on them (SMA, Bollinger bands, RSI).

Every indicator is trailing: its value at a candle uses that candle and earlier ones only.
"""

from __future__ import annotations

import pandas as pd

# candle widths the market page chooses from, narrowest first
INTERVALS: dict[str, pd.Timedelta] = {
    "1 min": pd.Timedelta(minutes=1),
    "5 min": pd.Timedelta(minutes=5),
    "15 min": pd.Timedelta(minutes=15),
    "1 h": pd.Timedelta(hours=1),
    "4 h": pd.Timedelta(hours=4),
    "1 d": pd.Timedelta(days=1),
}
MAX_CANDLES = 200
QUOTES_PER_CANDLE = 3


def pick_interval(times: pd.Series) -> str:
    """The narrowest width that keeps the range under MAX_CANDLES candles and puts about
    QUOTES_PER_CANDLE quotes in each (hourly quotes over a week: 4 h candles, not flat dashes)."""
    if len(times) < 2:
        return "1 h"
    ordered = times.sort_values()
    span = ordered.iloc[-1] - ordered.iloc[0]
    spacing = ordered.diff().median()
    for name, width in INTERVALS.items():
        if span / width <= MAX_CANDLES and width >= QUOTES_PER_CANDLE * spacing:
            return name
    return "1 d"


def to_candles(history: pd.DataFrame, interval: str) -> pd.DataFrame:
    """Open, high, low, close of price_usd per interval (left-closed, labelled by its start), the
    quotes in it, and the last 24 h volume seen in it; intervals without a quote are left out."""
    columns = ["ts", "open", "high", "low", "close", "quotes", "volume_24h_usd"]
    if history.empty:
        return pd.DataFrame(columns=columns)
    frame = history.sort_values("source_ts").set_index("source_ts")
    grouped = frame.resample(INTERVALS[interval], label="left", closed="left")
    price = grouped["price_usd"]
    candles = pd.DataFrame(
        {
            "open": price.first(),
            "high": price.max(),
            "low": price.min(),
            "close": price.last(),
            "quotes": price.count(),
            "volume_24h_usd": grouped["volume_24h_usd"].last(),
        }
    )
    candles = candles[candles["quotes"] > 0]
    return candles.rename_axis("ts").reset_index()[columns]


def with_live(
    candles: pd.DataFrame,
    interval: str,
    ts: pd.Timestamp,
    price: float,
    volume_24h_usd: float | None = None,
    after: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """The candles with a live quote folded in, so the latest candle moves between two reads of the
    lake: into the last candle when the quote falls in it (its close, high, low, one quote more), as
    a new candle (labelled by the start of its interval) when it is later. Left out when it is not
    after `after` (the newest quote the candles already hold) or falls before the last candle."""
    if candles.empty or (after is not None and ts <= after):
        return candles
    width = INTERVALS[interval]
    last = candles.iloc[-1]
    start = ts.floor(width)  # resample's bins start at midnight, and every width divides a day
    if start < last["ts"]:
        return candles
    if start == last["ts"]:
        out = candles.copy()
        i = out.index[-1]
        out.loc[i, ["high", "low", "close"]] = [max(last["high"], price), min(last["low"], price), price]
        out.loc[i, "quotes"] = last["quotes"] + 1
        if volume_24h_usd is not None:
            out.loc[i, "volume_24h_usd"] = volume_24h_usd
        return out
    row = {"ts": start, "open": price, "high": price, "low": price, "close": price, "quotes": 1}
    added = pd.DataFrame([row | {"volume_24h_usd": volume_24h_usd}])
    return pd.concat([candles, added.astype(candles.dtypes.to_dict())], ignore_index=True)


# a live quote: its event time, price and 24 h volume (None: not known)
LiveQuote = tuple[pd.Timestamp, float, float | None]
LIVE_KEPT = 5000  # live quotes kept between two reads of the lake, at most (over an hour at one a second)


def remember_live(kept: list[LiveQuote], quote: LiveQuote, newest: pd.Timestamp | None) -> list[LiveQuote]:
    """The live quotes a page has seen that the lake does not hold yet (newer than its `newest` row),
    with `quote` when it is newer than them: what the candles miss between two reads of the lake,
    every one of them, not only the latest."""
    kept = [q for q in kept if newest is None or q[0] > newest]
    if not kept or quote[0] > kept[-1][0]:
        kept.append(quote)
    return kept[-LIVE_KEPT:]


def with_live_quotes(
    candles: pd.DataFrame, interval: str, quotes: list[LiveQuote], after: pd.Timestamp | None
) -> pd.DataFrame:
    """`with_live` of each live quote in time order: the candles since the lake's newest row as the
    quotes made them (each interval's open its first quote, its high and low every quote's)."""
    for ts, price, volume in quotes:
        candles = with_live(candles, interval, ts, price, volume, after)
        after = ts if after is None or ts > after else after
    return candles


def sma(close: pd.Series, window: int) -> pd.Series:
    """Simple moving average of the last `window` closes; undefined (NaN) before `window` closes."""
    return close.rolling(window, min_periods=window).mean()


def bollinger(close: pd.Series, window: int = 20, width: float = 2.0) -> tuple[pd.Series, pd.Series]:
    """Lower and upper band: the SMA -+ `width` population standard deviations of the same closes."""
    mid = sma(close, window)
    sd = close.rolling(window, min_periods=window).std(ddof=0)
    return mid - width * sd, mid + width * sd


def rsi(close: pd.Series, window: int = 14) -> pd.Series:
    """Wilder's relative strength index, 0..100: gains and losses smoothed with alpha 1/window,
    seeded by their plain mean over the first `window` changes; NaN before that."""
    change = close.diff()
    gain, loss = change.clip(lower=0), (-change).clip(lower=0)
    out = pd.Series(float("nan"), index=close.index)
    if len(close) <= window:
        return out
    avg_gain, avg_loss = gain.iloc[1 : window + 1].mean(), loss.iloc[1 : window + 1].mean()
    values = []
    for i in range(window, len(close)):
        if i > window:
            avg_gain = (avg_gain * (window - 1) + gain.iloc[i]) / window
            avg_loss = (avg_loss * (window - 1) + loss.iloc[i]) / window
        if avg_loss == 0:
            values.append(100.0 if avg_gain > 0 else 50.0)
        else:
            values.append(100.0 - 100.0 / (1.0 + avg_gain / avg_loss))
    out.iloc[window:] = values
    return out
