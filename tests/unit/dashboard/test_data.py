"""The dashboard's tables from a snapshot built by the real writers' builders (no Redis needed)."""

from __future__ import annotations

import orjson
import pandas as pd

from cryptoviz import contracts
from cryptoviz.dashboard.data import (
    STREAM_REFRESH_S,
    as_text,
    backtest_table,
    predictions_table,
    refresh_s,
    signals_table,
    status_table,
)
from cryptoviz.models import HORIZONS
from cryptoviz.scoring import SCORED
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.snapshots import ml_views, snapshot


def test_the_signals_table_has_a_row_per_symbol_with_its_summary():
    table = signals_table(snapshot())
    assert list(table["symbol"]) == ["BTC", "ETH"]
    btc = table.iloc[0]
    card = snapshot().ml["BTC"]
    assert btc["action"] == card.action and btc["consensus_1h"] == card.consensus_at("1h") is not None
    assert btc["forecast_1h"] == card.forecast_1h and btc["p_up_1h"] == card.p_up
    assert btc["event_time"] == pd.to_datetime(card.event_ts, unit="s", utc=True)
    assert str(table["event_time"].dtype) == "datetime64[ns, UTC]"


def test_the_predictions_table_has_every_horizon_and_model_and_consistent_changes():
    view = ml_views()["BTC"]
    table = predictions_table(view)
    assert len(table) == len(HORIZONS) * len(SCORED)
    row = table.iloc[0]
    assert abs(row["change_pct"] - (row["predicted_usd"] / view["price"] - 1) * 100) < 1e-3  # rounded


def test_the_status_table_applies_the_staleness_rule():
    telemetry = Telemetry("scraper", None, 1.0, instance="h-1")
    telemetry.incr("quotes_published", 5)
    telemetry.incr("errors.redis", 2)
    doc = contracts.decode_heartbeat(contracts.encode(telemetry.document()))
    fresh = status_table(snapshot([doc]), now=doc["heartbeat_ts"] + 1)
    old = status_table(snapshot([doc]), now=doc["heartbeat_ts"] + 600)
    assert (fresh.iloc[0]["state"], old.iloc[0]["state"]) == ("up", "down")
    assert fresh.iloc[0]["out"] == 5 and fresh.iloc[0]["errors"] == 2


def test_restarts_come_from_the_supervisor_and_unknown_counts_read_as_a_dash():
    scraper = Telemetry("scraper", None, 1.0, instance="h-1")
    scraper.incr("quotes_published", 12345)
    supervisor = Telemetry("supervisor", None, 1.0, instance="h-2")
    supervisor.counters["restarts.scraper"] = 2
    docs = [contracts.decode_heartbeat(contracts.encode(t.document())) for t in (scraper, supervisor)]
    table = status_table(snapshot(docs), now=docs[0]["heartbeat_ts"] + 1)
    row = table[table["service"] == "scraper"].iloc[0]
    assert row["restarts"] == 2 and row["in"] is None
    shown = as_text(table, ("in", "out", "lag", "restarts"))
    row = shown[shown["service"] == "scraper"].iloc[0]
    assert (row["in"], row["out"], row["lag"], row["restarts"]) == ("-", "12,345", "-", "2")
    alone = status_table(snapshot(docs[:1]), now=docs[0]["heartbeat_ts"] + 1)
    assert alone.iloc[0]["restarts"] is None, "no supervisor (compose): restarts unknown, not 0"


def test_the_summary_carries_the_forecast_direction_tally():
    view = ml_views()["BTC"]
    scored = view["accuracy"]["1h"]["forecast"]
    summary = contracts.summary_of(view)
    assert summary["scored_1h"] == scored["n_direction"] > 0
    assert summary["hits_1h"] == round(scored["hit_rate"] * scored["n_direction"])


def test_the_backtest_table_is_empty_for_a_symbol_the_backtest_did_not_cover():
    summary = contracts.decode_backtest(orjson.dumps({"summary": "", "symbols": {}}))
    assert backtest_table(summary, "BTC").empty


def scraper_beat(gauges: dict, instance: str = "h-1") -> contracts.Heartbeat:
    telemetry = Telemetry("scraper", None, 1.0, instance=instance)
    telemetry.gauges.update(gauges)
    return contracts.decode_heartbeat(contracts.encode(telemetry.document()))


def test_a_live_stream_makes_the_live_panels_refresh_every_second_else_at_the_configured_interval():
    live = scraper_beat({"mode": "live", "stream.binance.state": "live", "stream.coinbase.state": "down"})
    polling = scraper_beat({"mode": "live", "scrape_interval_s": 300, "stream.binance.state": "stalled"})
    now = live["heartbeat_ts"] + 1
    assert refresh_s(snapshot([live]), 10.0, now) == STREAM_REFRESH_S == 1.0
    assert refresh_s(snapshot([live]), 0.5, now) == 0.5  # never slower than configured
    assert refresh_s(snapshot([polling]), 10.0, now) == 10.0  # no stream live: the polls' pace
    assert refresh_s(snapshot([scraper_beat({"mode": "replay"})]), 10.0, now) == 10.0
    assert refresh_s(snapshot([]), 10.0, now) == 10.0  # no scraper at all


def test_a_scraper_whose_heartbeat_is_not_current_does_not_set_the_pace():
    live = scraper_beat({"stream.kraken.state": "live"})
    assert refresh_s(snapshot([live]), 10.0, live["heartbeat_ts"] + 600) == 10.0  # down: its word is old
    assert refresh_s(snapshot([live]), 10.0, live["heartbeat_ts"] + 20) == 10.0  # stale: beats missed
