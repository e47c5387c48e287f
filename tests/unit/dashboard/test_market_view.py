"""The market's cards and coin table, from snapshots built by the real writers' builders."""

from __future__ import annotations

import msgspec
import pandas as pd

from cryptoviz import contracts, schema
from cryptoviz.contracts import LatestQuote
from cryptoviz.contracts.quotes import decode_quote_records
from cryptoviz.dashboard.market_view import (
    coin_cards,
    format_compact,
    format_price,
    known_columns,
    market_table,
    quote_frame,
    styled_market,
)
from cryptoviz.dashboard.readers import Snapshot
from cryptoviz.testing.snapshots import snapshot

QUOTE = LatestQuote(
    schema_version=1,
    symbol="BTC",
    name="Bitcoin",
    price_usd=97432.154,
    change_24h_pct=-1.234,
    volume_24h_usd=45.6e9,
    market_cap_usd=1.9e12,
    source="coingecko",
    source_ts="2025-01-01T00:00:00Z",
    ingest_ts="2025-01-01T00:00:05Z",
)
replace = msgspec.structs.replace


def test_prices_and_volumes_read_at_a_glance():
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
    snap = snapshot()
    ml = {sym: replace(m, calibrated=True) for sym, m in snap.ml.items()}
    snap = Snapshot({"BTC": QUOTE}, ml, [], None, 1.0)
    btc, eth, sol = coin_cards(snap, ["BTC", "ETH", "SOL"])
    card = snap.ml["BTC"]
    assert btc == {
        "symbol": "BTC",
        "label": f"BTC · {card.action} · P(up) {card.p_up:.0%}",
        "price": "97,432.15",
        "change": "-1.23 % 24 h",
    }
    assert eth["price"] == "no quote yet" and eth["change"] is None and "P(up)" in eth["label"]
    assert sol["label"] == "SOL · no prediction yet"


def test_a_card_never_calls_a_placeholder_forecast_a_probability():
    snap = snapshot()
    warming = replace(snap.ml["BTC"], calibrated=False, settled_1h=12, settled_6h=0)
    (card,) = coin_cards(Snapshot({}, {"BTC": warming}, [], None, 1.0), ["BTC"])
    assert card["label"] == "BTC · warming up · 12 1h forecasts settled"
    assert "P(up)" not in card["label"]


def test_the_coin_table_keeps_numbers_and_shows_them_formatted():
    doge = replace(QUOTE, name="Dogecoin", price_usd=0.162841, change_24h_pct=2.5, volume_24h_usd=None)
    snap = Snapshot({"BTC": QUOTE, "DOGE": doge}, {}, [], None, 1.0)
    now = pd.Timestamp("2025-01-01T00:00:35Z").timestamp()
    table = market_table(snap, {"BTC": [1.0, 2.0]}, now=now)
    assert table["symbol"].tolist() == ["BTC", "DOGE"]
    assert table["price_usd"].tolist() == [97432.154, 0.162841]  # sortable by value
    assert table["last_day"].tolist() == [[1.0, 2.0], None]
    assert table["ingest_age_s"].tolist() == [30.0, 30.0]
    html = styled_market(table).to_html()
    for shown in ("97,432.15", "0.16284", "-1.23 %", "+2.50 %", "45.6 B", "1.9 T", "unknown", "30 s ago"):
        assert shown in html
    assert "color: #dc2626" in html and "color: #16a34a" in html


def test_no_quotes_an_empty_table():
    assert market_table(Snapshot({}, {}, [], None, 1.0)).empty


def test_a_number_no_quote_carries_is_left_out_and_named():
    replayed = replace(QUOTE, market_cap_usd=None)
    table = market_table(Snapshot({"BTC": replayed, "ETH": replayed}, {}, [], None, 1.0))
    shown, unknown = known_columns(table)
    assert unknown == ["market_cap_usd"] and "market_cap_usd" not in shown
    assert "45.6 B" in styled_market(shown).to_html()


def test_the_quotes_frame_is_the_same_from_a_readers_columns_and_from_quote_objects():
    t0 = pd.Timestamp("2025-01-01T00:00:00.250Z").to_pydatetime()
    quotes = [
        schema.make_quote("SOL", 140.25, t0, source="binance", ingest_ts=t0),
        schema.make_quote("BTC", 97000.5, t0, market_cap_usd=1.9e12, change_24h_pct=-1.5, ingest_ts=t0),
    ]
    columns = decode_quote_records([contracts.encode_latest(q) for q in quotes])
    objects = {symbol: columns[symbol] for symbol in columns}  # the LatestQuotes themselves, in a dict
    frame = quote_frame(columns)
    pd.testing.assert_frame_equal(frame, quote_frame(objects))
    assert frame["symbol"].tolist() == ["BTC", "SOL"] and frame["source"].tolist() == ["test", "binance"]
    assert frame["ingest_ts"].tolist() == [pd.Timestamp("2025-01-01T00:00:00.250Z")] * 2
    assert frame["market_cap_usd"].isna().tolist() == [False, True]


def test_quote_objects_with_times_written_to_the_second_or_to_the_millisecond_read_alike():
    whole = replace(QUOTE, source_ts="2025-01-01T00:00:00Z")
    to_ms = replace(QUOTE, symbol="ETH", source_ts="2025-01-01T00:00:00.500Z")
    frame = quote_frame({"BTC": whole, "ETH": to_ms})
    assert frame["source_ts"].tolist() == [
        pd.Timestamp("2025-01-01T00:00:00Z"),
        pd.Timestamp("2025-01-01T00:00:00.500Z"),
    ]
