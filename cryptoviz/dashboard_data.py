"""The dashboard's data helpers (no Streamlit here): tables and figures from a LiveReader snapshot."""

from __future__ import annotations

import time

import pandas as pd
import plotly.graph_objects as go

from cryptoviz.contracts import BacktestSummary, MLView
from cryptoviz.health import service_state
from cryptoviz.models import HORIZONS
from cryptoviz.readers import Snapshot
from cryptoviz.scoring import SCORED


def market_table(snap: Snapshot, now: float | None = None) -> pd.DataFrame:
    now = now or time.time()
    rows = []
    for sym, q in sorted(snap.quotes.items()):
        ts = pd.Timestamp(q["source_ts"])
        rows.append(
            {
                "symbol": sym,
                "name": q["name"],
                "price_usd": q["price_usd"],
                "change_24h_pct": q["change_24h_pct"],
                "volume_24h_usd": q["volume_24h_usd"],
                "market_cap_usd": q["market_cap_usd"],
                "source": q["source"],
                "event_time": ts,
                "ingest_age_s": round(now - pd.Timestamp(q["ingest_ts"]).timestamp(), 1),
            }
        )
    return pd.DataFrame(rows)


def status_table(snap: Snapshot, now: float | None = None) -> pd.DataFrame:
    now = now or time.time()
    rows = []
    for doc in sorted(snap.status, key=lambda d: (d["service"], d["instance"])):
        counters = doc.get("counters", {})
        errors = {k: v for k, v in counters.items() if k.startswith(("errors.", "dead_letter.", "rejected."))}
        rows.append(
            {
                "service": doc["service"],
                "instance": doc["instance"],
                "state": service_state(doc, now),
                "reported": doc.get("state"),
                "heartbeat_age_s": round(now - doc["heartbeat_ts"], 1),
                "in": counters.get("ticks_in", counters.get("rows_written")),
                "out": counters.get(
                    "quotes_published", counters.get("predictions_out", counters.get("rows_written"))
                ),
                "errors": sum(errors.values()),
                "lag": doc.get("gauges", {}).get("lag", doc.get("gauges", {}).get("offsets_behind")),
            }
        )
    return pd.DataFrame(rows)


def signals_table(snap: Snapshot) -> pd.DataFrame:
    """Every symbol's latest signal, from the small summaries the refresh reads for all symbols."""
    rows = [
        {
            "symbol": sym,
            "action": m["action"],
            "confidence": m["confidence"],
            "price": m["price"],
            "consensus_1h": m["consensus"].get("1h"),
            "move_1h_pct": m["move_pct"],
            "event_time": pd.to_datetime(m["event_ts"], unit="s", utc=True),
        }
        for sym, m in sorted(snap.ml.items())
    ]
    return pd.DataFrame(rows)


def predictions_table(view: MLView) -> pd.DataFrame:
    rows = []
    for h in HORIZONS:
        for model in SCORED:
            acc = view["accuracy"].get(h, {}).get(model)
            rows.append(
                {
                    "horizon": h,
                    "model": model,
                    "predicted_usd": view["predictions"][h][model],
                    "change_pct": (view["predictions"][h][model] / view["price"] - 1) * 100,
                    "n_scored": acc["n"] if acc else 0,
                    "mape_pct": acc["mape"] if acc else None,
                    "hit_rate": acc["hit_rate"] if acc else None,
                }
            )
    return pd.DataFrame(rows)


def backtest_table(summary: BacktestSummary, symbol: str) -> pd.DataFrame:
    """The latest `cryptoviz backtest` figures for one symbol, in the live table's columns."""
    per = summary.get("symbols", {}).get(symbol)
    if not per:
        return pd.DataFrame()
    rows = [
        {"horizon": h, "model": model, "n_scored": m["n"], "mape_pct": m["mape"], "hit_rate": m["hit_rate"]}
        for h in HORIZONS
        for model, m in per[h].items()
        if model != "signals"
    ]
    return pd.DataFrame(rows)


def price_figure(
    history: pd.DataFrame, live: dict | None, symbol: str, view: MLView | None = None
) -> go.Figure:
    fig = go.Figure()
    if not history.empty:
        fig.add_trace(
            go.Scatter(x=history["source_ts"], y=history["price_usd"], name="history (lake)", mode="lines")
        )
    if live:
        fig.add_trace(
            go.Scatter(
                x=[pd.Timestamp(live["source_ts"])],
                y=[live["price_usd"]],
                name="live",
                mode="markers",
                marker={"size": 10},
            )
        )
    if view:
        t0 = pd.to_datetime(view["event_ts"], unit="s", utc=True)
        for model in ("moving_average", "linear_trend", "momentum", "consensus"):
            xs = [t0] + [pd.to_datetime(view["due_ts"][h], unit="s", utc=True) for h in HORIZONS]
            ys = [view["price"]] + [view["predictions"][h][model] for h in HORIZONS]
            fig.add_trace(
                go.Scatter(x=xs, y=ys, name=f"{model} (ahead)", mode="lines+markers", line={"dash": "dot"})
            )
    fig.update_layout(title=f"{symbol} price (USD)", height=420, margin={"l": 10, "r": 10, "t": 40, "b": 10})
    return fig


def volume_figure(history: pd.DataFrame, symbol: str) -> go.Figure:
    fig = go.Figure()
    if not history.empty:
        fig.add_trace(go.Bar(x=history["source_ts"], y=history["volume_24h_usd"], name="24 h volume"))
    fig.update_layout(
        title=f"{symbol} 24 h volume (USD)", height=260, margin={"l": 10, "r": 10, "t": 40, "b": 10}
    )
    return fig
