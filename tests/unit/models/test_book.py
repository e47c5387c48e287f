"""The compiled core (through ModelBook) against the reference engine (SymbolModel): every output of
every tick, the summaries and the snapshots agree to 1e-9 relative, over real history and over
series made to reach the rare branches (gaps, duplicates, flat prices, ring growth, rescaling)."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import numpy as np
import pytest

from cryptoviz.models import HOUR
from cryptoviz.models.book import ModelBook
from cryptoviz.models.engine import ModelConfig, Output, SymbolModel
from cryptoviz.models.forecaster import ForecastConfig
from cryptoviz.scraper.sources.replay import read_history
from cryptoviz.settings import HISTORY_2025H1
from cryptoviz.testing.compare import same


def as_dict(out: Output | None) -> dict | None:
    if out is None:
        return None
    return {
        "t": out.t,
        "price": out.price,
        "predictions": out.predictions,
        "signal": out.signal.to_dict(),
        "scored": out.scored,
        "forecasts": {h: fc.to_list() for h, fc in out.forecasts.items()},
        "expected_moves": out.expected_moves,
    }


def drive(
    ticks: list[tuple[str, float, float]], config: ModelConfig, batch: int = 500
) -> tuple[dict, ModelBook]:
    """Both engines over the ticks (the book in batches); asserts every tick's outputs agree."""
    reference: dict[str, SymbolModel] = {}
    book = ModelBook(config, rows=2, slots=2)  # small, so rows and rings grow on the way
    for start in range(0, len(ticks), batch):
        chunk = ticks[start : start + batch]
        rows = np.array([book.row(s) for s, _, _ in chunk], dtype=np.int64)
        ts = np.array([t for _, t, _ in chunk])
        prices = np.array([p for _, _, p in chunk])
        out = book.apply(rows, ts, prices)
        for k, (symbol, t, price) in enumerate(chunk):
            model = reference.setdefault(symbol, SymbolModel(config))
            expected = model.update(t, price)
            same(as_dict(expected), as_dict(book.output(out[k], t, price)), f"{symbol}@{t}")
            if expected is not None:
                same(model.stats(), book.stats(out[k]), f"{symbol}@{t}.stats")
    return reference, book


@pytest.fixture(scope="module")
def history() -> list[tuple[str, float, float]]:
    rows = read_history([HISTORY_2025H1])
    return [(r.symbol, r.ts.timestamp(), r.price) for r in rows]


def test_every_output_of_every_tick_matches_the_reference_on_seven_coins(history):
    """The first 2,000 hours of each coin (window rebuilds, at 4,096 evictions, are reached by the
    irregular series below)."""
    ticks = history[:14000]
    assert len({s for s, _, _ in ticks}) == 7
    reference, book = drive(ticks, ModelConfig())
    for symbol, model in reference.items():
        same(model.board.summary(), book.summary(symbol), f"{symbol}.summary")
        same(model.forecast_scores(), book.forecast_scores(symbol), f"{symbol}.forecast_scores")
        same(model.to_state(), book.to_state(symbol), f"{symbol}.state")
        assert model.board.scored > 1000


def test_gaps_duplicates_flat_prices_and_rescaling_match_the_reference():
    """Irregular ticks (seconds to days apart, repeats, out of order, flat spells) with half-lives
    short enough that the histograms and binned rates rescale and the windows rebuild."""
    rng = random.Random(7)
    forecast = ForecastConfig(
        vol_halflife_h=2.0,
        regime_halflife=20.0,
        ridge_halflife=30.0,
        p_up_halflife=0.4,  # the binned rate's weights pass 1e100 every ~130 outcomes
        residual_halflife=0.4,
        move_halflife=20.0,
        vol_long_halflife_h=20.0,
        shrink_halflife=30.0,
    )
    config = ModelConfig(ma_window_s=2 * HOUR, trend_window_s=5 * HOUR, forecast=forecast)
    ticks: list[tuple[str, float, float]] = []
    clock = {"A": 0.0, "B": 0.0, "C": 0.0}
    price = {"A": 100.0, "B": 0.5, "C": 20000.0}
    for _ in range(15000):
        s = rng.choice("ABC")
        step = rng.choice([1.0, 30.0, 600.0, HOUR, HOUR, HOUR, 7 * HOUR, 3 * 24 * HOUR])
        kind = rng.random()
        if kind < 0.03:  # a repeat or an older tick: not newer, ignored by both
            ticks.append((s, clock[s] - rng.choice([0.0, 60.0]), price[s]))
            continue
        clock[s] += step
        if kind > 0.1:  # otherwise a flat price
            price[s] *= math.exp(rng.gauss(0, 0.01))
        ticks.append((s, clock[s], price[s]))
    reference, book = drive(ticks, config, batch=97)
    for symbol, model in reference.items():
        same(model.board.summary(), book.summary(symbol), f"{symbol}.summary")
        same(model.to_state(), book.to_state(symbol), f"{symbol}.state")
    assert max(len(m.ma.window.points) for m in reference.values()) > 2  # the rings grew
    assert all(m.ma.window.anchor != m.first[0] for m in reference.values() if m.first)  # rebuilt
    assert max(m.forecaster.horizons["1h"].p_up.g for m in reference.values()) < 1e100  # rescaled


def test_the_summary_matches_the_reference_from_the_first_tick(history):
    """After each of a coin's first 40 ticks, one at a time: counts at zero, rates and intervals not
    defined yet, t statistics waiting for enough lags, move tallies appearing one by one."""
    config = ModelConfig()
    book, model = ModelBook(config), SymbolModel(config)
    row = book.row("BTC")
    same(model.board.summary(), book.summary("BTC"), "BTC before any tick")
    for symbol, t, price in [tick for tick in history if tick[0] == "BTC"][:40]:
        model.update(t, price)
        book.apply(np.array([row]), np.array([t]), np.array([price]))
        same(model.board.summary(), book.summary(symbol), f"{symbol}@{t}.summary")
        same(model.forecast_scores(), book.forecast_scores(symbol), f"{symbol}@{t}.forecast_scores")
    assert all(book.forecast_scores("BTC").values())  # scored at every horizon by then


def test_a_snapshot_taken_in_and_resumed_runs_on_as_the_reference(history):
    """State out of the book, into a new book (and into the reference), then both run on alike."""
    config = ModelConfig()
    head, tail = history[:7000], history[7000:10000]
    _, book = drive(head, config)
    resumed = ModelBook(config)
    reference = {}
    for symbol in book.rows:
        state = book.to_state(symbol)
        resumed.load(symbol, state)
        reference[symbol] = SymbolModel.from_state(state, config)
    rows = np.array([resumed.row(s) for s, _, _ in tail], dtype=np.int64)
    out = resumed.apply(rows, np.array([t for _, t, _ in tail]), np.array([p for _, _, p in tail]))
    for k, (symbol, t, price) in enumerate(tail):
        same(as_dict(reference[symbol].update(t, price)), as_dict(resumed.output(out[k], t, price)), symbol)
    for symbol, model in reference.items():
        same(model.to_state(), resumed.to_state(symbol), f"{symbol}.state")


def test_after_forgetting_every_symbol_each_starts_afresh(history):
    config = ModelConfig()
    _, book = drive(history[:3000], config)
    book.forget()
    assert "BTC" not in book and len(book) == 0
    assert book.row("ETH") == 0  # the rows are reused, filled with a fresh model's state
    same(SymbolModel(config).to_state(), book.to_state("ETH"), "fresh")


def test_a_config_the_core_cannot_hold_is_refused():
    with pytest.raises(ValueError, match="P\\(up\\) edges"):
        ModelBook(ModelConfig(forecast=replace(ForecastConfig(), p_up_edges=(0.5,))))


def test_no_look_ahead_shuffling_the_future_inside_a_batch_changes_nothing_before_it(history):
    """The core takes a whole batch at once: what it outputs for a tick must not depend on the ticks
    after it, in the same call or later ones."""
    btc = [tick for tick in history if tick[0] == "BTC"][:1500]
    cut = 1000
    later = [p for _, _, p in btc[cut:]]
    random.Random(3).shuffle(later)
    shuffled = btc[:cut] + [(s, t, p) for (s, t, _), p in zip(btc[cut:], later, strict=True)]
    outputs = []
    for ticks in (btc, shuffled):
        book = ModelBook(ModelConfig())
        rows = np.full(len(ticks), book.row("BTC"), dtype=np.int64)
        out = book.apply(rows, np.array([t for _, t, _ in ticks]), np.array([p for _, _, p in ticks]))
        outputs.append(out)
    assert np.array_equal(outputs[0][:cut], outputs[1][:cut], equal_nan=True)
    assert not np.array_equal(outputs[0][cut:], outputs[1][cut:])


def test_whether_a_forecast_is_learnt_matches_the_reference_from_placeholder_to_learnt(history):
    """`learnt` (the intervals and P(up) from the regime's own residuals, not the placeholder) read
    from the arrays is the reference's, at every step from a model's first tick on."""
    ticks = [t for t in history if t[0] == "BTC"][:400]
    config = ModelConfig()
    model, book = SymbolModel(config), ModelBook(config)
    seen = set()
    for symbol, t, price in ticks:
        model.update(t, price)
        book.apply(np.array([book.row(symbol)], dtype=np.int64), np.array([t]), np.array([price]))
        for h in ("1h", "6h"):
            for regime in range(3):
                expected = model.learnt(h, regime)
                assert book.learnt(symbol, h, regime) == expected, (t, h, regime)
                seen.add(expected)
    assert seen == {False, True}, "the series runs from the placeholder to learnt forecasts"
