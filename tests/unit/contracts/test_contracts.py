"""Each Redis value round-trips through its contract, and a value of the wrong shape is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import get_args

import msgspec
import orjson
import pytest

from cryptoviz import contracts, schema
from cryptoviz.backtest.runner import run_symbol, to_json
from cryptoviz.contracts import ContractError, MLState
from cryptoviz.contracts.cards import decode_card, decode_cards
from cryptoviz.contracts.quotes import decode_quote_records
from cryptoviz.ml import store
from cryptoviz.models.engine import ModelConfig, SymbolModel
from cryptoviz.telemetry import Telemetry

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def model_and_output():
    model = SymbolModel(ModelConfig())
    out = None
    for i in range(30):
        out = model.update((T0 + timedelta(hours=i)).timestamp(), 100.0 + i % 5)
    assert out is not None
    return model, out


def test_the_ml_view_and_its_summary_round_trip():
    model, out = model_and_output()
    view = store.view("BTC", out, model)
    assert contracts.decode_view(contracts.encode(view)) == orjson.loads(orjson.dumps(view))
    summary = contracts.summary_of(view)
    back = contracts.decode_summary(contracts.encode(summary))
    assert back["consensus"].keys() == set(contracts.HORIZON_NAMES)
    assert back["action"] == view["signal"]["action"]


def test_the_snapshot_round_trips_and_restores_the_same_model():
    model, _ = model_and_output()
    state: MLState = {"model": model.to_state(), "partition": 2, "offset": 41}
    back = contracts.decode_state(contracts.encode(state))
    assert (back["partition"], back["offset"]) == (2, 41)
    assert SymbolModel.from_state(back["model"], ModelConfig()).to_state() == model.to_state()


def test_the_heartbeat_round_trips():
    telemetry = Telemetry("scraper", None, 1.0, instance="host-1")
    telemetry.incr("quotes_published", 3)
    telemetry.gauge("mode", "replay")
    doc = contracts.decode_heartbeat(contracts.encode(telemetry.document()))
    assert doc["counters"] == {"quotes_published": 3} and doc["gauges"] == {"mode": "replay"}


def test_the_backtest_summary_round_trips():
    ticks = [((T0 + timedelta(hours=i)).timestamp(), 100.0 + i % 5) for i in range(30)]
    summary = to_json([run_symbol("BTC", ticks, ModelConfig())]) | {"summary": "BTC: persistence wins"}
    raw = orjson.dumps(summary)
    assert contracts.decode_backtest(raw) == orjson.loads(raw)


@pytest.mark.parametrize(
    ("decode", "raw"),
    [
        (contracts.decode_state, b"{corrupt snapshot"),
        (contracts.decode_state, b"[1, 2]"),
        (contracts.decode_state, b'{"model": {}, "partition": true, "offset": 1}'),
        (contracts.decode_summary, b'{"symbol": "BTC"}'),
        (contracts.decode_heartbeat, b'{"service": 3}'),
        (contracts.decode_backtest, b'{"summary": "", "symbols": {"BTC": {"rows": 10}}}'),
        (contracts.decode_rule, b'{"id": "a", "symbol": "B", "kind": "up", "level": 1, "created_ts": 1}'),
        (contracts.decode_fired, b'{"id": "a", "rule_id": "r", "symbol": "BTC"}'),
        (contracts.decode_topics, b'{"ts": 1, "topics": {}, "groups": [], "latest": {}}'),
    ],
)
def test_a_value_of_the_wrong_shape_is_refused(decode, raw):
    with pytest.raises(ContractError):
        decode(raw)


def test_a_view_whose_signal_lacks_a_field_is_refused():
    model, out = model_and_output()
    view = store.view("BTC", out, model)
    del view["signal"]["confidence"]  # the point: a broken value
    with pytest.raises(ContractError, match=r"field `confidence` - at `\$\.signal`"):
        contracts.decode_view(contracts.encode(view))


def test_a_view_with_a_field_of_the_wrong_type_is_refused_naming_it():
    model, out = model_and_output()
    raw = orjson.dumps({**store.view("BTC", out, model), "price": "97000"})  # the point: a broken value
    with pytest.raises(ContractError, match=r"^MLView: Expected `float`, got `str` - at `\$\.price`"):
        contracts.decode_view(raw)


def test_the_card_round_trips_and_carries_its_summary():
    model, out = model_and_output()
    summary = contracts.summary_of(store.view("BTC", out, model))
    card = store.card(summary, expires_ts=1_800_000_300.0)
    (back,) = decode_cards([contracts.encode_card(card)]).values()
    assert back == card and back.expires_ts == 1_800_000_300.0
    assert (back.symbol, back.price, back.event_ts, back.action, back.p_up) == (
        "BTC",
        summary["price"],
        summary["event_ts"],
        summary["action"],
        summary["p_up"],
    )
    for h in contracts.HORIZON_NAMES:
        assert back.consensus_at(h) == summary["consensus"][h]
        assert back.forecast_at(h) == summary["forecast"][h]
        assert back.settled_at(h) == summary["settled"][h]
    assert (back.hits_1h, back.scored_1h, back.calibrated) == (
        summary["hits_1h"],
        summary["scored_1h"],
        summary["calibrated"],
    )


def test_many_cards_decode_in_one_call_and_a_bad_one_fails_the_call():
    model, out = model_and_output()
    summary = contracts.summary_of(store.view("BTC", out, model))
    cards = [store.card({**summary, "symbol": f"S{i}"}, 1.0) for i in range(3)]
    raws = [contracts.encode_card(c) for c in cards]
    assert list(decode_cards(raws).values()) == cards
    assert decode_cards([]) == {}
    for bad in (b"", b"\x92\xa3BTC", msgspec.msgpack.encode(["BTC", "not a time"]), b"{}"):
        with pytest.raises(ContractError, match="MLCard"):
            decode_cards([raws[0], bad, raws[2]])


def test_a_card_has_a_field_per_horizon_and_reads_older_cards_with_the_defaults():
    fields = contracts.MLCard.__struct_fields__
    assert set(contracts.HORIZON_NAMES) == set(get_args(contracts.Horizon))
    for h in contracts.HORIZON_NAMES:
        assert {f"consensus_{h}", f"forecast_{h}", f"settled_{h}"} <= set(fields)
    old = msgspec.msgpack.encode(["BTC", 1.0, 2.0, "BUY", 0.6, 0.6, 0.1, 1.0, 2.0, 1.5, None, 3.0, 4.0])
    card = decode_card(old)  # the msgpack array the processor wrote before the binary layout
    assert (card.hits_1h, card.calibrated, card.settled_1h, card.settled_6h) == (0, False, 0, 0)
    assert card.forecast_at("6h") is None and card.consensus_at("6h") == 2.0


QUOTES = [
    schema.make_quote("BTC", 97000.5, T0, market_cap_usd=1.9e12, ingest_ts=T0),
    schema.make_quote("ETH", 3400.0, T0 + timedelta(hours=1), ingest_ts=T0),
    schema.make_quote("SOL", 140.25, T0 + timedelta(hours=2), ingest_ts=T0 + timedelta(hours=2)),
]


def test_a_latest_quote_in_the_json_or_msgpack_written_before_its_layout_is_read_on_its_own():
    wire = schema.to_dict(QUOTES[0])
    for old in (schema.encode(QUOTES[0]), msgspec.msgpack.encode(list(wire.values()))):
        assert msgspec.structs.asdict(contracts.decode_latest(old)) == wire
        with pytest.raises(ContractError, match="LatestQuote"):  # not in the one decode: taken one by one
            decode_quote_records([old, contracts.encode_latest(QUOTES[1])])


@pytest.mark.parametrize(
    "bad",
    [
        b'{"symbol": "ETH"}',  # a document missing its fields
        msgspec.msgpack.encode(["ETH", 1.0]),  # an array too short
        msgspec.msgpack.encode([1, "ETH", "Ether", "x", None, None, None, "test", "t", "t"]),  # price: text
        # times that are not ISO 8601 with a zone (the market table could not show them)
        msgspec.msgpack.encode(
            [1, "ETH", "Ether", 1.0, None, None, None, "test", "yesterday", "2025-01-01T00:00:00Z"]
        ),
        b'{"schema_version": 1, "symbol": "ETH", "name": "Ether", "price_usd": 1.0, "market_cap_usd": null,'
        b' "volume_24h_usd": null, "change_24h_pct": null, "source": "test",'
        b' "source_ts": "2025-01-01T00:00:00Z", "ingest_ts": "2025-01-01T00:00:00"}',
        b"\x9a",  # a value cut short
        b"\xc1\x01",  # a record cut short
    ],
)
def test_a_latest_quote_that_breaks_its_contract_is_refused(bad):
    with pytest.raises(ContractError, match="LatestQuote"):
        contracts.decode_latest(bad)


def test_a_dead_letter_round_trips_and_keeps_what_it_refused():
    from cryptoviz.contracts import dead_letter as dead_letters

    letter = dead_letters.refused(
        b"not json \xff" + b"x" * 20_000, "bad_json", "ml-processor", topic="t", partition=1, offset=7
    )
    assert letter.raw.startswith("not json \ufffd") and len(letter.raw) == dead_letters.RAW_LIMIT
    again = dead_letters.decode(dead_letters.encode(letter))
    assert again == letter
    for not_one in (b'{"symbol": "BTC"}', b"\xff", b"", None):  # a quote, garbage, no value
        with pytest.raises(ContractError, match="DeadLetter"):
            dead_letters.decode(not_one)
