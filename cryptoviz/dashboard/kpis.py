"""The home page's live KPI table and freshness figures, each measured by the platform itself,
beside its target and alert level (DashboardSettings' KPI_* variables). No Streamlit here."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from cryptoviz import names
from cryptoviz.contracts import Heartbeat
from cryptoviz.contracts.cards import Cards
from cryptoviz.dashboard.market_view import epoch_seconds, quote_frame
from cryptoviz.dashboard.readers import Snapshot
from cryptoviz.health import current_instances, service_state


@dataclass(frozen=True)
class Kpi:
    name: str
    value: float | None
    unit: str
    target: float
    alert: float
    higher_is_better: bool
    how: str  # what it measures, in a few words

    @property
    def state(self) -> str:
        """ok at or past the target, alert at or past the alert level, watch between; unknown."""
        if self.value is None:
            return "no data yet"
        better = (lambda a, b: a >= b) if self.higher_is_better else (lambda a, b: a <= b)
        if better(self.value, self.target):
            return "ok"
        return "watch" if better(self.value, self.alert) else "alert"


def _live(snap: Snapshot, now: float) -> list[Heartbeat]:
    """The heartbeats of the instances that are up (a stopped one's figures are stale)."""
    docs, _ = current_instances(snap.status, now)
    return [d for d in docs if service_state(d, now) == "up"]


def _gauges(live: list[Heartbeat], service: str, name: str) -> list[float]:
    """`name` as reported by the live instances of `service`."""
    values = [d.get("gauges", {}).get(name) for d in live if d["service"] == service]
    return [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]


def direction_hit_rate(snap: Snapshot) -> tuple[float | None, int]:
    """The 1 h forecast's direction hit rate pooled over every symbol, and how many were scored."""
    cards = Cards.of(snap.ml)
    hits, n = int(cards.column("hits_1h").sum()), int(cards.column("scored_1h").sum())
    return (hits / n if n else None), n


def kpis(
    snap: Snapshot,
    levels: dict[str, tuple[float, float]],
    redis_hit_rate: float | None,
    page_ms: float | None,
    now: float | None = None,
) -> list[Kpi]:
    """`levels`: KPI key -> (target, alert level); `page_ms`: the page's last full render."""
    now = now or time.time()
    live = _live(snap, now)
    latency = _gauges(live, names.ML_PROCESSOR, "quote_to_prediction_ms")
    lags = _gauges(live, names.ML_PROCESSOR, "lag") + _gauges(live, names.LAKE, "offsets_behind")
    hit_rate, scored = direction_hit_rate(snap)
    return [
        Kpi(
            "ML latency",
            max(latency) if latency else None,
            "ms",
            *levels["ml_latency_ms"],
            False,
            "quote scraped -> prediction stored, oldest quote of the last batch",
        ),
        Kpi(
            "Redis hit rate",
            redis_hit_rate,
            "",
            *levels["redis_hit_rate"],
            True,
            "keyspace hits / lookups since Redis started",
        ),
        Kpi(
            "Kafka lag",
            sum(lags) if lags else None,
            "messages",
            *levels["kafka_lag"],
            False,
            "ML group + lake job, messages not yet processed",
        ),
        Kpi(
            "Dashboard load time",
            page_ms,
            "ms",
            *levels["dashboard_load_ms"],
            False,
            "this page's last render",
        ),
        Kpi(
            "Prediction accuracy",
            hit_rate,
            "",
            *levels["accuracy"],
            True,
            f"1 h forecast direction right, {scored:,} scored over all coins",
        ),
    ]


def kpi_table(items: list[Kpi]) -> pd.DataFrame:
    def shown(value: float | None, unit: str) -> str:
        if value is None:
            return "-"
        if unit == "":
            return f"{value:.1%}"
        return f"{value:,.0f} {unit}"

    return pd.DataFrame(
        [
            {
                "kpi": k.name,
                "value": shown(k.value, k.unit),
                "target": ("≥ " if k.higher_is_better else "≤ ") + shown(k.target, k.unit),
                "alert": ("< " if k.higher_is_better else "> ") + shown(k.alert, k.unit),
                "state": k.state,
                "how": k.how,
            }
            for k in items
        ]
    )


def freshness(snap: Snapshot, now: float | None = None) -> dict[str, float | None]:
    """Age in seconds of the newest quote (received), prediction (stored) and lake batch (written)."""
    now = now or time.time()
    quotes = epoch_seconds(quote_frame(snap.quotes)["ingest_ts"])
    predictions = Cards.of(snap.ml).column("updated_ts")
    lake = _gauges(_live(snap, now), names.LAKE, "last_batch_ts")
    return {
        "quote": now - float(quotes.max()) if len(quotes) else None,
        "prediction": now - float(predictions.max()) if len(predictions) else None,
        "lake batch": now - max(lake) if lake else None,
    }


def age_text(seconds: float | None) -> str:
    if seconds is None:
        return "none yet"
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"
