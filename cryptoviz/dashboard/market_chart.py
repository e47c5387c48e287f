"""The market page's chart: candles with optional SMA and Bollinger bands, 24 h volume below, RSI."""

from __future__ import annotations

from collections.abc import Collection

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from cryptoviz.charts import live_marker
from cryptoviz.contracts import LatestQuote
from cryptoviz.dashboard.candles import bollinger, rsi, sma

SMA_WINDOW = 20
RSI_WINDOW = 14
SMA, BANDS, RSI = "SMA 20", "Bollinger 20, 2 sd", "RSI 14"
INDICATORS = (SMA, BANDS, RSI)


def candle_figure(
    candles: pd.DataFrame,
    symbol: str,
    interval: str,
    show: Collection[str] = (),
    live: LatestQuote | None = None,
) -> go.Figure:
    """Price candles (row 1), the last 24 h volume per candle (row 2) and, when asked, RSI (row 3)."""
    with_rsi = RSI in show
    rows = 3 if with_rsi else 2
    heights = [0.6, 0.2, 0.2] if with_rsi else [0.75, 0.25]
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.03, row_heights=heights)
    if not candles.empty:
        _add_price(fig, candles, symbol, interval, show)
        _add_volume(fig, candles)
        if with_rsi:
            _add_rsi(fig, candles)
    if live:
        fig.add_trace(live_marker(live), row=1, col=1)
    _lay_out(fig, symbol, interval, with_rsi)
    return fig


def _add_price(
    fig: go.Figure, candles: pd.DataFrame, symbol: str, interval: str, show: Collection[str]
) -> None:
    """Row 1: the candles, then the SMA and the Bollinger bands when asked."""
    ts, close = candles["ts"], candles["close"]
    fig.add_trace(
        go.Candlestick(
            x=ts,
            open=candles["open"],
            high=candles["high"],
            low=candles["low"],
            close=close,
            name=f"{symbol} {interval}",
        ),
        row=1,
        col=1,
    )
    if SMA in show:
        fig.add_trace(go.Scatter(x=ts, y=sma(close, SMA_WINDOW), name="SMA 20", mode="lines"), row=1, col=1)
    if BANDS in show:
        low, high = bollinger(close, SMA_WINDOW)
        style = {"width": 1, "dash": "dot", "color": "rgba(100,116,139,0.9)"}
        fig.add_trace(
            go.Scatter(x=ts, y=high, name="Bollinger upper", mode="lines", line=style), row=1, col=1
        )
        fig.add_trace(go.Scatter(x=ts, y=low, name="Bollinger lower", mode="lines", line=style), row=1, col=1)


def _add_volume(fig: go.Figure, candles: pd.DataFrame) -> None:
    """Row 2: the last 24 h volume at each candle."""
    fig.add_trace(
        go.Bar(
            x=candles["ts"],
            y=candles["volume_24h_usd"],
            name="24 h volume",
            marker_color="rgba(100,116,139,0.6)",
        ),
        row=2,
        col=1,
    )


def _add_rsi(fig: go.Figure, candles: pd.DataFrame) -> None:
    """Row 3: RSI of the closes, with the 30 and 70 levels, on a 0 to 100 axis."""
    fig.add_trace(
        go.Scatter(x=candles["ts"], y=rsi(candles["close"], RSI_WINDOW), name="RSI 14", mode="lines"),
        row=3,
        col=1,
    )
    for level in (30, 70):
        fig.add_hline(y=level, line={"dash": "dot", "width": 1}, row=3, col=1)
    fig.update_yaxes(range=[0, 100], title_text="RSI", row=3, col=1)


def _lay_out(fig: go.Figure, symbol: str, interval: str, with_rsi: bool) -> None:
    """Axis titles, the chart's title, height, margins and legend."""
    fig.update_yaxes(title_text="USD", row=1, col=1)
    fig.update_yaxes(title_text="24 h vol.", row=2, col=1)
    fig.update_layout(
        title=f"{symbol}: {interval} candles (UTC)",
        height=560 if with_rsi else 480,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
        xaxis_rangeslider_visible=False,
        legend={"orientation": "h", "y": -0.08},
    )
