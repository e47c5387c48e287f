"""The dashboard's tables from a snapshot built by the real writers' builders (no Redis needed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from cryptoviz import contracts
from cryptoviz.dashboard_data import backtest_table, predictions_table, signals_table, status_table
from cryptoviz.ml import store
from cryptoviz.models import HORIZONS
from cryptoviz.models.engine import ModelConfig, SymbolModel
from cryptoviz.readers import Snapshot
from cryptoviz.scoring import SCORED
from cryptoviz.telemetry import Telemetry

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def views() -> dict[str, contracts.MLView]:
    out: dict[str, contracts.MLView] = {}
    for n, sym in enumerate(("BTC", "ETH")):
        model = SymbolModel(ModelConfig())
        last = None
        for i in range(40):
            last = model.update((T0 + timedelta(hours=i)).timestamp(), 100.0 * (n + 1) + i % 6)
        assert last is not None
        out[sym] = store.view(sym, last, model)
    return out


def snapshot(status=()) -> Snapshot:
    v = views()
    return Snapshot({}, {s: contracts.summary_of(d) for s, d in v.items()}, list(status), None, 1.0, v["BTC"])


def test_the_signals_table_has_a_row_per_symbol_with_its_summary():
    table = signals_table(snapshot())
    assert list(table["symbol"]) == ["BTC", "ETH"]
    btc = table.iloc[0]
    summary = snapshot().ml["BTC"]
    assert btc["action"] == summary["action"] and btc["consensus_1h"] == summary["consensus"]["1h"]


def test_the_predictions_table_has_every_horizon_and_model_and_consistent_changes():
    view = views()["BTC"]
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


def test_the_backtest_table_is_empty_for_a_symbol_the_backtest_did_not_cover():
    summary = contracts.decode_backtest(orjson.dumps({"summary": "", "symbols": {}}))
    assert backtest_table(summary, "BTC").empty


def test_prices_and_volumes_read_at_a_glance():
    from cryptoviz.dashboard_data import format_compact, format_price

    assert [format_price(v) for v in (97432.154, 3412.6, 1.00031, 0.162841, None)] == [
        "97,432.15",
        "3,412.60",
        "1.0003",
        "0.16284",
        "-",
    ]
    assert [format_compact(v) for v in (1.234e12, 45.6e9, 789e6, 12_345, 12, None)] == [
        "1.23 T",
        "45.6 B",
        "789 M",
        "12.3 K",
        "12",
        "-",
    ]


def test_a_card_per_configured_coin_with_its_signal_or_what_is_missing():
    from cryptoviz.dashboard_data import coin_cards

    snap = snapshot()
    quote = {"price_usd": 97432.154, "change_24h_pct": -1.234}
    snap = Snapshot({"BTC": quote}, snap.ml, [], None, 1.0)
    btc, eth, sol = coin_cards(snap, ["BTC", "ETH", "SOL"])
    summary = snap.ml["BTC"]
    assert btc == {
        "symbol": "BTC",
        "label": f"BTC · {summary['action']} · P(up) {summary['p_up']:.0%}",
        "price": "97,432.15",
        "change": "-1.23 % 24 h",
    }
    assert eth["price"] == "no quote yet" and eth["change"] is None and "P(up)" in eth["label"]
    assert sol["label"] == "SOL · no prediction yet"
