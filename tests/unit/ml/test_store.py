"""What a batch of model outputs becomes in the store: keys, TTLs, and values that decode by contract."""

from __future__ import annotations

import numpy as np

from cryptoviz import contracts, names
from cryptoviz.ml import store
from cryptoviz.ml.store import STATE_TTL_S, Changes, MLBatch, documents, every_snapshot
from cryptoviz.models.book import BookModel, ModelBook
from cryptoviz.models.engine import ModelConfig, SymbolModel


def changes() -> Changes:
    out: Changes = {}
    for symbol, base in (("BTC", 60000.0), ("ETH", 3000.0)):
        model = SymbolModel(ModelConfig())
        last = None
        for hour in range(12):
            last = model.update(1_700_000_000 + hour * 3600, base + hour)
        assert last is not None
        out[symbol] = (last, model, (0, 11))
    return out


def test_each_symbol_has_a_view_a_summary_and_a_snapshot_with_their_ttls():
    docs = {key: (value, ttl) for key, value, ttl in documents(every_snapshot(changes()), 900)}
    for symbol in ("BTC", "ETH"):
        view, view_ttl = docs[names.ml_view_key(symbol)]
        summary, summary_ttl = docs[names.ml_summary_key(symbol)]
        state, state_ttl = docs[names.ml_state_key(symbol)]
        assert (view_ttl, summary_ttl, state_ttl) == (900, 900, STATE_TTL_S)
        decoded = contracts.decode_view(view)
        assert decoded["symbol"] == symbol and decoded["event_ts"] == 1_700_000_000 + 11 * 3600
        assert contracts.decode_summary(summary) == contracts.summary_of(decoded)
        snapshot = contracts.decode_state(state)
        assert (snapshot["partition"], snapshot["offset"]) == (0, 11)
    assert len(docs) == 6


def test_a_snapshot_restores_the_model_it_was_taken_from():
    batch = changes()
    state = contracts.decode_state(
        dict((k, v) for k, v, _ in documents(every_snapshot(batch), 60))[names.ml_state_key("BTC")]
    )
    restored = SymbolModel.from_state(state["model"], ModelConfig())
    original = batch["BTC"][1]
    assert restored.update(1_700_000_000 + 12 * 3600, 60012.0) == original.update(
        1_700_000_000 + 12 * 3600, 60012.0
    )


def test_a_batch_writes_the_snapshots_due_and_the_views_of_what_changed():
    changed = changes()
    btc_model, btc_position = changed["BTC"][1], changed["BTC"][2]
    keys = [
        k for k, _, _ in documents(MLBatch({"ETH": changed["ETH"]}, {"BTC": (btc_model, btc_position)}), 60)
    ]
    assert sorted(keys) == sorted(
        [names.ml_view_key("ETH"), names.ml_summary_key("ETH"), names.ml_state_key("BTC")]
    )


def test_a_summary_without_its_view_is_the_summary_of_the_view_for_the_reference_and_the_book():
    book = ModelBook(ModelConfig())
    rows = {s: book.row(s) for s in ("BTC", "ETH")}
    for symbol, (out, model, _) in changes().items():
        for hour in range(12):
            t = 1_700_000_000 + hour * 3600
            price = {"BTC": 60000.0, "ETH": 3000.0}[symbol] + hour
            result = book.apply(np.array([rows[symbol]]), np.array([float(t)]), np.array([price]))
        booked = (book.output(result[0], t, price), BookModel(book, symbol, result[0]))
        for o, m in ((out, model), booked):
            assert o is not None
            made = store.summary(symbol, o, m, 1.0)
            assert made == {**contracts.summary_of(store.view(symbol, o, m)), "updated_ts": 1.0}
            assert made["settled"]["6h"] > 0 and made["scored_1h"] > 0  # scored at both horizons
