"""The home page's KPIs and freshness from snapshots built by the real builders."""

from __future__ import annotations

import time

import pytest

from cryptoviz.contracts import Heartbeat, LatestQuote
from cryptoviz.dashboard.kpis import Kpi, age_text, direction_hit_rate, freshness, kpi_table, kpis
from cryptoviz.dashboard.readers import Snapshot
from cryptoviz.testing.snapshots import snapshot

LEVELS = {
    "ml_latency_ms": (1000.0, 5000.0),
    "redis_hit_rate": (0.9, 0.5),
    "kafka_lag": (1000.0, 10000.0),
    "dashboard_load_ms": (1000.0, 3000.0),
    "accuracy": (0.52, 0.5),
}


def quote(ingest_ts: str) -> LatestQuote:
    return LatestQuote(1, "BTC", "Bitcoin", 1.0, None, None, None, "test", ingest_ts, ingest_ts)


def beat(service: str, now: float, **gauges: float) -> Heartbeat:
    return {
        "service": service,
        "instance": f"{service}-1",
        "state": "running",
        "heartbeat_ts": now,
        "started_ts": now - 60,
        "interval_s": 5.0,
        "counters": {},
        "gauges": dict(gauges),
    }


def test_states_follow_target_and_alert_in_both_directions():
    low = Kpi("lag", 0, "", 1000, 10000, False, "")
    assert [Kpi("x", v, "", 1000, 10000, False, "").state for v in (10, 1000, 5000, 10001)] == [
        "ok",
        "ok",
        "watch",
        "alert",
    ]
    assert [Kpi("x", v, "", 0.9, 0.5, True, "").state for v in (0.95, 0.7, 0.4, None)] == [
        "ok",
        "watch",
        "alert",
        "no data yet",
    ]
    assert low.state == "ok"


def test_kpis_read_what_the_services_measured():
    now = time.time()
    base = snapshot(
        [
            beat("ml-processor", now, quote_to_prediction_ms=250.0, lag=40),
            beat("spark-streaming", now, offsets_behind=12000, last_batch_ts=now - 30),
        ]
    )
    items = {k.name: k for k in kpis(base, LEVELS, 0.4, 1500.0, now)}
    assert items["ML latency"].value == 250.0 and items["ML latency"].state == "ok"
    assert items["Kafka lag"].value == 12040 and items["Kafka lag"].state == "alert"
    assert items["Redis hit rate"].state == "alert"
    assert items["Dashboard load time"].state == "watch"
    rate, n = direction_hit_rate(base)
    hits = sum(m.hits_1h for m in base.ml.values())
    assert n == sum(m.scored_1h for m in base.ml.values()) and n > 0
    assert rate == pytest.approx(hits / n)
    assert items["Prediction accuracy"].value == rate
    table = kpi_table(list(items.values()))
    assert table.loc[table["kpi"] == "Kafka lag", "value"].item() == "12,040 messages"
    assert table.loc[table["kpi"] == "Redis hit rate", "target"].item() == "≥ 90.0%"


def test_a_stale_heartbeat_and_missing_figures_are_no_data():
    now = time.time()
    snap = Snapshot({}, {}, [beat("ml-processor", now - 3600, quote_to_prediction_ms=5.0)], None, 1.0)
    items = {k.name: k for k in kpis(snap, LEVELS, None, None, now)}
    assert all(k.state == "no data yet" for k in items.values())
    assert freshness(snap, now) == {"quote": None, "prediction": None, "lake batch": None}


def test_freshness_is_the_age_of_the_newest_of_each():
    now = 1_800_000_000.0
    snap = snapshot([beat("spark-streaming", now, last_batch_ts=now - 45)])
    snap = Snapshot(
        {"BTC": quote("2027-01-15T07:59:00Z"), "ETH": quote("2027-01-15T07:59:30Z")},
        snap.ml,
        snap.status,
        None,
        1.0,
    )
    ages = freshness(snap, now)
    assert ages["quote"] == pytest.approx(now - 1_800_000_000.0 + 30)  # 07:59:30 is 30 s before now
    assert ages["lake batch"] == pytest.approx(45)
    assert [age_text(v) for v in (None, 5, 600, 7200)] == ["none yet", "5 s ago", "10 min ago", "2.0 h ago"]
