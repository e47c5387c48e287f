"""A scoreboard's summary has the shape its type says (`scoring.summary.ScoreSummary`), from the
reference scoreboard and from the compiled core's book alike, early (names not yet scored, no
volatility) and after hundreds of hours; so do the ML view's stats and accuracy once through JSON,
and the backtest's summary (`contracts.backtest.BacktestSummary`)."""

from __future__ import annotations

import msgspec
import orjson
import pytest

from cryptoviz import contracts
from cryptoviz.backtest.runner import run_symbol, to_json
from cryptoviz.contracts.backtest import BacktestSummary
from cryptoviz.ml import store
from cryptoviz.models.engine import ModelConfig, ModelStats, SymbolModel
from cryptoviz.scoring.summary import ScoreSummary
from cryptoviz.scraper.sources.replay import read_history
from cryptoviz.settings import HISTORY_2025H1


def series(n: int) -> list[tuple[float, float]]:
    return [(r.ts.timestamp(), r.price) for r in read_history([HISTORY_2025H1], ["BTC"])[:n]]


def typed(value: object, kind: object) -> bool:
    """Every key and value as `kind` says: msgspec checks the types and leaves out the keys it does
    not know, so the result equals the value only when it has no key more either."""
    return msgspec.convert(value, kind) == value


@pytest.mark.parametrize("hours", [3, 800])
def test_the_summary_of_the_reference_and_of_the_book_have_their_type(hours):
    model = SymbolModel(ModelConfig())
    for t, p in series(hours):
        out = model.update(t, p)
    assert out is not None
    book = run_symbol("BTC", series(hours), ModelConfig()).summary  # the compiled core's book
    summaries = (model.summary(), book)
    for summary in summaries:
        assert typed(summary, ScoreSummary)
    if hours == 3:  # not every name scored yet, no volatility settled: left out, as the type allows
        assert "forecast" not in summaries[0]["6h"] and summaries[0]["volatility"] == {}
    view = contracts.decode_view(contracts.encode(store.view("BTC", out, model)))
    assert typed(view["stats"], ModelStats) and typed(view["accuracy"], ScoreSummary)


def test_the_backtest_summary_has_its_type():
    result = run_symbol("BTC", series(800), ModelConfig())
    summary = to_json([result]) | {"summary": "verdict", "rows": 800, "seconds": 0.5, "generated_ts": 1.0}
    assert typed(orjson.loads(orjson.dumps(summary)), BacktestSummary)
