import pandas as pd

from cryptoviz.contracts import LatestQuote
from cryptoviz.dashboard.candles import to_candles
from cryptoviz.dashboard.market_chart import BANDS, RSI, SMA, candle_figure


def candles() -> pd.DataFrame:
    ts = pd.date_range("2025-01-01", periods=48, freq="1h", tz="UTC")
    history = pd.DataFrame({"source_ts": ts, "price_usd": range(100, 148), "volume_24h_usd": 1e9})
    return to_candles(history, "1 h")


def names(fig) -> list[str]:
    return [trace.name for trace in fig.data]


def test_candles_and_volume_always_indicators_when_asked():
    plain = candle_figure(candles(), "BTC", "1 h")
    assert names(plain) == ["BTC 1 h", "24 h volume"]
    at = "2025-01-03T00:00:00Z"
    live = LatestQuote(1, "BTC", "Bitcoin", 148.0, None, None, None, "test", at, at)
    full = candle_figure(candles(), "BTC", "1 h", {SMA, BANDS, RSI}, live)
    assert names(full) == [
        "BTC 1 h",
        "SMA 20",
        "Bollinger upper",
        "Bollinger lower",
        "24 h volume",
        "RSI 14",
        "live",
    ]
    assert full.layout.yaxis3.range == (0, 100)


def test_an_empty_lake_still_draws_an_empty_chart():
    assert (
        names(
            candle_figure(
                to_candles(pd.DataFrame(columns=["source_ts", "price_usd", "volume_24h_usd"]), "1 h"),
                "BTC",
                "1 h",
            )
        )
        == []
    )
