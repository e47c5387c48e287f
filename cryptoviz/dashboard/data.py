"""The dashboard's data helpers (no Streamlit here): tables and figures from a LiveReader snapshot."""

from __future__ import annotations

import time

import pandas as pd
import plotly.graph_objects as go

from cryptoviz import names
from cryptoviz.charts import add_band, live_marker
from cryptoviz.contracts import HORIZON_NAMES, SIGNAL_HORIZON, BacktestSummary, Horizon, LatestQuote, MLView
from cryptoviz.contracts.cards import Cards
from cryptoviz.dashboard.readers import Snapshot
from cryptoviz.health import current_instances, service_state
from cryptoviz.models import HORIZONS
from cryptoviz.scoring import SCORED
from cryptoviz.scoring.summary import ScoreSummary
from cryptoviz.scraper.report import ScraperReport, scraper_report


def status_table(snap: Snapshot, now: float | None = None) -> pd.DataFrame:
    now = now or time.time()
    rows = []
    docs, _ = current_instances(snap.status, now)
    supervisor = next((d for d in docs if d["service"] == "supervisor"), None)
    restarts = supervisor.get("counters", {}) if supervisor else {}
    for doc in sorted(docs, key=lambda d: (d["service"], d["instance"])):
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
                "restarts": restarts.get(f"restarts.{doc['service']}") if supervisor else None,
            }
        )
    return pd.DataFrame(rows)


def scraper_sources(snap: Snapshot, now: float | None = None) -> ScraperReport | None:
    """The newest scraper instance's word on its sources (mode, plan, calls this month), if any."""
    docs, _ = current_instances(snap.status, now or time.time())
    scrapers = sorted((d for d in docs if d["service"] == names.SCRAPER), key=lambda d: d["heartbeat_ts"])
    return scraper_report(scrapers[-1].get("gauges", {})) if scrapers else None


STREAM_REFRESH_S = 1.0  # a live stream hands over a quote per coin every STREAM_QUOTE_INTERVAL_MS (1 s)


def refresh_s(snap: Snapshot, default_s: float, now: float | None = None) -> float:
    """How often a live panel that follows the price source re-runs: every STREAM_REFRESH_S while a
    scraper whose heartbeat is current says one of its exchange streams is live, else `default_s`
    (a poll or a replay brings prices no faster than that)."""
    now = now or time.time()
    docs, _ = current_instances(snap.status, now)
    for doc in docs:
        if doc["service"] != names.SCRAPER or service_state(doc, now) != "up":
            continue
        streams = scraper_report(doc.get("gauges", {}))["streams"]
        if any(stream.get("state") == "live" for stream in streams.values()):
            return min(STREAM_REFRESH_S, default_s)
    return default_s


def as_text(table: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """Counts shown as text with thousands separators and "-" where there is none (a grid shows
    an empty number as "None")."""
    out = table.copy()
    for c in columns:
        out[c] = [f"{int(v):,}" if v is not None and not pd.isna(v) else "-" for v in out[c]]
    return out


def signals_table(snap: Snapshot) -> pd.DataFrame:
    """Every symbol's latest signal, from the cards the refresh reads for all symbols (a column per
    field, sorted by symbol; NaN where a card has no forecast or consensus)."""
    cards = Cards.of(snap.ml)
    if not cards:
        return pd.DataFrame()
    columns = {
        "symbol": list(cards),
        "action": cards.actions(),
        "p_up_1h": cards.column("p_up"),
        "price": cards.column("price"),
        "forecast_1h": cards.column(f"forecast_{SIGNAL_HORIZON}"),
        "move_1h_pct": cards.column("move_pct"),
        "consensus_1h": cards.column(f"consensus_{SIGNAL_HORIZON}"),
        "event_time": pd.to_datetime(cards.column("event_ts"), unit="s", utc=True),
    }
    return pd.DataFrame(columns).sort_values("symbol", ignore_index=True)


def predictions_table(view: MLView) -> pd.DataFrame:
    """Every model's prediction with what scoring measured so far: MAPE, hit rate, and skill
    against persistence (1 - MAPE / MAPE(persistence)) with its Newey-West t statistic."""
    rows = []
    for h in HORIZON_NAMES:
        acc_h = view["accuracy"].get(h)
        for model in SCORED:
            acc = acc_h.get(model) if acc_h else None
            skill = acc_h["skill"].get(model) if acc_h else None
            rows.append(
                {
                    "horizon": h,
                    "model": model,
                    "predicted_usd": view["predictions"][h][model],
                    "change_pct": round((view["predictions"][h][model] / view["price"] - 1) * 100, 3),
                    "n_scored": acc["n"] if acc else 0,
                    "mape_pct": _round(acc["mape"] if acc else None, 4),
                    "hit_rate": _round(acc["hit_rate"] if acc else None, 3),
                    "skill_pct": _round(
                        skill["skill"] * 100 if skill and skill["skill"] is not None else None, 2
                    ),
                    "t_stat": _round(skill["t_stat"] if skill else None, 1),
                }
            )
    return pd.DataFrame(rows)


def _round(v: float | None, digits: int) -> float | None:
    return None if v is None else round(v, digits)


def coverage_table(accuracy: ScoreSummary) -> pd.DataFrame:
    """How often the intervals held the price so far, overall and per volatility regime."""
    rows = []
    for h in HORIZON_NAMES:
        scores = accuracy.get(h)
        if not scores:
            continue
        for level, iv in scores["intervals"].items():
            row = {"horizon": h, "interval": f"{level} %", "n": iv["n"], "held": _round(iv["coverage"], 3)}
            for regime, r in iv["by_regime"].items():
                row[f"{regime} volatility"] = _round(r["coverage"], 3)
            row["mean_width_pct"] = _round(iv["mean_width_pct"], 2)
            rows.append(row)
    return pd.DataFrame(rows)


def reliability_figure(accuracy: ScoreSummary, horizon: Horizon) -> go.Figure:
    """P(up) said vs what happened, per tenth of probability: on the diagonal when calibrated."""
    scores = accuracy.get(horizon)
    p_up = scores["p_up"] if scores else None
    bins = [b for b in p_up["reliability"] if b["n"]] if p_up else []
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", name="calibrated", line={"dash": "dot"}))
    fig.add_trace(
        go.Scatter(
            x=[b["p_mean"] for b in bins],
            y=[b["observed"] for b in bins],
            mode="markers+text",
            text=[str(b["n"]) for b in bins],
            textposition="top center",
            name="observed (n)",
        )
    )
    brier, base = (p_up["brier"], p_up["brier_base_rate"]) if p_up else (None, None)
    note = f"Brier {brier:.4f} vs base rate {base:.4f}" if brier is not None and base is not None else ""
    fig.update_layout(
        title=f"P(up) {horizon}: said vs happened. {note}",
        xaxis_title="P(up) forecast",
        yaxis_title="share that went up",
        height=320,
        margin={"l": 10, "r": 10, "t": 40, "b": 10},
    )
    return fig


def backtest_table(summary: BacktestSummary, symbol: str) -> pd.DataFrame:
    """The latest `cryptoviz backtest` figures for one symbol, in the live table's columns."""
    per = summary.get("symbols", {}).get(symbol)
    if not per:
        return pd.DataFrame()
    rows = []
    for h in HORIZON_NAMES:
        skill = per[h]["skill"]
        for model in SCORED:
            m = per[h].get(model)
            if not m:
                continue
            sk = skill.get(model)
            rows.append(
                {
                    "horizon": h,
                    "model": model,
                    "n_scored": m["n"],
                    "mape_pct": _round(m["mape"], 4),
                    "hit_rate": _round(m["hit_rate"], 3),
                    "skill_pct": _round(sk["skill"] * 100 if sk and sk["skill"] is not None else None, 2),
                    "t_stat": _round(sk["t_stat"] if sk else None, 1),
                }
            )
    return pd.DataFrame(rows)


def price_figure(
    history: pd.DataFrame, live: LatestQuote | None, symbol: str, view: MLView | None = None
) -> go.Figure:
    fig = go.Figure()
    if not history.empty:
        fig.add_trace(
            go.Scatter(x=history["source_ts"], y=history["price_usd"], name="history (lake)", mode="lines")
        )
    if live:
        fig.add_trace(live_marker(live))
    if view:
        _fan(fig, view)
    fig.update_layout(
        title=f"{symbol} price (USD; times in UTC)", height=420, margin={"l": 10, "r": 10, "t": 40, "b": 10}
    )
    return fig


def _fan(fig: go.Figure, view: MLView) -> None:
    """The fan ahead of the last point: 90 % and 80 % bands of the headline forecast, the forecast
    itself, and the seed's models as dotted lines."""
    t0 = pd.to_datetime(view["event_ts"], unit="s", utc=True)
    ahead = [h for h in HORIZONS if h in view["forecast"]]
    xs = [t0] + [pd.to_datetime(view["due_ts"][h], unit="s", utc=True) for h in ahead]
    price = view["price"]
    for level in ("90", "80") if ahead else ():
        highs = [price] + [view["forecast"][h]["intervals"][level][1] for h in ahead]
        lows = [price] + [view["forecast"][h]["intervals"][level][0] for h in ahead]
        add_band(fig, xs, lows, highs, level)
    if ahead:
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[price] + [view["forecast"][h]["point"] for h in ahead],
                name="forecast",
                mode="lines+markers",
                line={"width": 3},
            )
        )
    due = [t0] + [pd.to_datetime(view["due_ts"][h], unit="s", utc=True) for h in HORIZONS]
    for model in ("moving_average", "linear_trend", "momentum", "consensus"):
        ys = [price] + [view["predictions"][h][model] for h in HORIZONS]
        fig.add_trace(go.Scatter(x=due, y=ys, name=model, mode="lines", line={"dash": "dot", "width": 1}))
