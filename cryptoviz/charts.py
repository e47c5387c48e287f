"""Plotly pieces the dashboard and the backtest's plot share."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import plotly.graph_objects as go

from cryptoviz.contracts import LatestQuote

BAND_COLOURS = {"90": "rgba(37,99,235,0.15)", "80": "rgba(37,99,235,0.30)"}


def add_band(fig: go.Figure, xs: Sequence, lows: Sequence[float], highs: Sequence[float], level: str) -> None:
    """An interval as a shaded band between lows and highs, named "<level> % interval"."""
    fig.add_trace(
        go.Scatter(x=xs, y=highs, mode="lines", line={"width": 0}, showlegend=False, hoverinfo="skip")
    )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=lows,
            fill="tonexty",
            fillcolor=BAND_COLOURS[level],
            name=f"{level} % interval",
            mode="lines",
            line={"width": 0},
        )
    )


def live_marker(quote: LatestQuote) -> go.Scatter:
    """The latest quote as one marker, ahead of the lake's history."""
    when = pd.Timestamp(quote.source_ts)
    return go.Scatter(x=[when], y=[quote.price_usd], name="live", mode="markers", marker={"size": 9})
