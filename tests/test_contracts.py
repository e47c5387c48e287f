"""Each Redis value round-trips through its contract, and a value of the wrong shape is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from cryptoviz import contracts
from cryptoviz.contracts import ContractError, MLState
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
    summary = {"summary": "BTC: persistence wins", "symbols": {"BTC": {"rows": 10}}}
    assert contracts.decode_backtest(orjson.dumps(summary)) == summary


@pytest.mark.parametrize(
    ("decode", "raw"),
    [
        (contracts.decode_state, b"{corrupt snapshot"),
        (contracts.decode_state, b"[1, 2]"),
        (contracts.decode_state, b'{"model": {}, "partition": true, "offset": 1}'),
        (contracts.decode_summary, b'{"symbol": "BTC"}'),
        (contracts.decode_heartbeat, b'{"service": 3}'),
    ],
)
def test_a_value_of_the_wrong_shape_is_refused(decode, raw):
    with pytest.raises(ContractError):
        decode(raw)


def test_a_view_whose_signal_lacks_a_field_is_refused():
    model, out = model_and_output()
    view = store.view("BTC", out, model)
    del view["signal"]["confidence"]  # the point: a broken value
    with pytest.raises(ContractError, match=r"signal\.confidence"):
        contracts.decode_view(contracts.encode(view))
