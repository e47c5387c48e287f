"""The market's tables for the pages (no Streamlit here): coin cards, the coin table and its formats."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from cryptoviz.contracts import SIGNAL_HORIZON, LatestQuote
from cryptoviz.contracts.quotes import Quotes
from cryptoviz.dashboard.readers import Snapshot


def format_price(value: float | None) -> str:
    """A price with the precision its size calls for: 97,432.15 / 3,412.60 / 1.0003 / 0.16284."""
    if value is None:
        return "-"
    if abs(value) >= 1000:
        return f"{value:,.2f}"
    if abs(value) >= 1:
        return f"{value:,.4f}"
    return f"{value:.5g}"


def format_compact(value: float | None) -> str:
    """1.23 T / 45.6 B / 789 M / 12.3 K: volumes and market caps at a glance."""
    if value is None:
        return "-"
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= limit:
            return f"{value / limit:.3g} {suffix}"
    return f"{value:.3g}"


def coin_cards(snap: Snapshot, coins: list[str]) -> list[dict]:
    """One card per coin, in the configured order: the latest price and 24 h change, and the 1 h
    signal with its P(up); a coin with no quote yet says so."""
    cards = []
    for sym in coins:
        q, m = snap.quotes.get(sym), snap.ml.get(sym)
        change = q.change_24h_pct if q else None
        signal = f"{m.action} · P(up) {m.p_up:.0%}" if m else "no prediction yet"
        if m and not m.calibrated:
            signal = f"warming up · {m.settled_at(SIGNAL_HORIZON):,} {SIGNAL_HORIZON} forecasts settled"
        cards.append(
            {
                "symbol": sym,
                "label": f"{sym} · {signal}",
                "price": format_price(q.price_usd) if q else "no quote yet",
                "change": f"{change:+.2f} % 24 h" if change is not None else None,
            }
        )
    return cards


NUMBERS = ("price_usd", "change_24h_pct", "volume_24h_usd", "market_cap_usd")


def quote_frame(quotes: Mapping[str, LatestQuote]) -> pd.DataFrame:
    """A row per quote, sorted by symbol: its numbers (NaN where unknown), strings, and its two
    times as UTC timestamps; from a reader's columns (`Quotes`), without a quote object each."""
    if isinstance(quotes, Quotes):
        frame = pd.DataFrame({"symbol": list(quotes)})
        for field in ("name", "source"):
            frame[field] = quotes.texts(field)
        for field in (*NUMBERS, "source_ts", "ingest_ts"):
            frame[field] = quotes.column(field)
        for field in ("source_ts", "ingest_ts"):
            frame[field] = pd.to_datetime(frame[field], unit="s", utc=True)
    else:
        frame = pd.DataFrame(
            {"symbol": list(quotes)}
            | {f: [getattr(q, f) for q in quotes.values()] for f in ("name", "source", *NUMBERS)}
            | {
                f: pd.to_datetime([getattr(q, f) for q in quotes.values()], utc=True, format="ISO8601")
                for f in ("source_ts", "ingest_ts")
            }
        )
        for field in NUMBERS:  # unknown is NaN, never an object column of None
            frame[field] = pd.to_numeric(frame[field], errors="coerce").astype(float)
    return frame.sort_values("symbol", ignore_index=True)


def epoch_seconds(times: pd.Series) -> pd.Series:
    """UTC timestamps as seconds since the epoch."""
    return (times - pd.Timestamp(0, tz="UTC")).dt.total_seconds()


def market_table(
    snap: Snapshot, sparks: dict[str, list[float]] | None = None, now: float | None = None
) -> pd.DataFrame:
    """A row per quoted coin, numbers kept as numbers (the table sorts by value); `sparks` gives
    each coin's recent prices for the sparkline column."""
    now = now or time.time()
    sparks = sparks or {}
    quotes = quote_frame(snap.quotes)
    return pd.DataFrame(
        {
            "symbol": quotes["symbol"],
            "name": quotes["name"],
            "price_usd": quotes["price_usd"],
            "change_24h_pct": quotes["change_24h_pct"],
            "last_day": [sparks.get(s) or None for s in quotes["symbol"]],
            "volume_24h_usd": quotes["volume_24h_usd"],
            "market_cap_usd": quotes["market_cap_usd"],
            "source": quotes["source"],
            "event_time": quotes["source_ts"],
            "ingest_age_s": (now - epoch_seconds(quotes["ingest_ts"])).round(1),
        }
    )


def known_columns(table: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The table without the number columns no quote carries (a replay has no market caps), and
    their names: a grid of "None" says less than one line saying what is missing."""
    unknown = [c for c in NUMBERS if c in table and table[c].isna().all()]
    return table.drop(columns=unknown), unknown


def change_colour(value: float | None) -> str:
    """Green up, red down, no colour for flat or unknown."""
    if value is None or pd.isna(value) or value == 0:
        return ""
    return "color: #16a34a" if value > 0 else "color: #dc2626"


def styled_market(table: pd.DataFrame) -> Styler:
    """The coin table as shown: price by magnitude, compact volumes and caps, signed and coloured
    changes, words for what is unknown; the values underneath stay numbers."""
    formats: dict[str, Any] = {
        "price_usd": format_price,
        "change_24h_pct": "{:+.2f} %",
        "volume_24h_usd": format_compact,
        "market_cap_usd": format_compact,
        "ingest_age_s": "{:.0f} s ago",
    }
    styler = table.style.format({c: f for c, f in formats.items() if c in table}, na_rep="unknown")
    return styler.map(change_colour, subset=[c for c in ("change_24h_pct",) if c in table])
