"""The dashboard's reader against a real Redis written by the real writers: one round trip for all
symbols, each value decoded by its contract, a value that breaks it left out and counted."""

from __future__ import annotations

from cryptoviz import contracts, names
from cryptoviz.readers import LiveReader
from cryptoviz.testing.seed import fill_dashboard_data


def test_a_snapshot_holds_every_symbols_summary_quote_and_heartbeat(redis_client, tmp_path):
    changed = fill_dashboard_data(redis_client, str(tmp_path / "lake"), symbols=("BTC", "ETH", "SOL"))
    snap = LiveReader(redis_client).snapshot(detail="ETH")
    assert set(snap.ml) == set(snap.quotes) == {"BTC", "ETH", "SOL"}
    for symbol, (out, _, _) in changed.items():
        assert snap.ml[symbol]["price"] == out.price and snap.ml[symbol]["event_ts"] == out.t
    assert snap.detail is not None and snap.detail["symbol"] == "ETH"
    assert [hb["service"] for hb in snap.status] == ["scraper"]
    assert snap.backtest is None and snap.invalid == 0


def test_a_value_that_breaks_its_contract_is_left_out_and_counted(redis_client, tmp_path):
    fill_dashboard_data(redis_client, str(tmp_path / "lake"))
    redis_client.set(names.ml_summary_key("BTC"), b'{"symbol": "BTC"}')  # a summary missing its fields
    redis_client.set(names.BACKTEST_SUMMARY, b"not json")
    snap = LiveReader(redis_client).snapshot()
    assert set(snap.ml) == {"ETH"} and snap.backtest is None and snap.invalid == 2


def test_an_expired_view_drops_out_of_the_index_read(redis_client, tmp_path):
    fill_dashboard_data(redis_client, str(tmp_path / "lake"))
    redis_client.delete(names.ml_view_key("ETH"), names.ml_summary_key("ETH"))  # what a TTL does
    reader = LiveReader(redis_client)
    assert set(reader.ml_views()) == {"BTC"}
    assert set(reader.snapshot().ml) == {"BTC"}
    assert contracts.summary_of(reader.ml_views()["BTC"]) == reader.snapshot().ml["BTC"]
