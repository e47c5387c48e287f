"""ML views and snapshots built by the real model and the real writers' builders, for tests."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from cryptoviz import contracts
from cryptoviz.contracts import Heartbeat
from cryptoviz.dashboard.readers import Snapshot
from cryptoviz.ml import store
from cryptoviz.models.engine import ModelConfig, SymbolModel

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def ml_views() -> dict[str, contracts.MLView]:
    out: dict[str, contracts.MLView] = {}
    for n, sym in enumerate(("BTC", "ETH")):
        model = SymbolModel(ModelConfig())
        last = None
        for i in range(40):
            last = model.update((T0 + timedelta(hours=i)).timestamp(), 100.0 * (n + 1) + i % 6)
        assert last is not None
        out[sym] = store.view(sym, last, model)
    return out


def cards(views: dict[str, contracts.MLView]) -> dict[str, contracts.MLCard]:
    """Each view's card as the processor's store builds it, expiring 300 s after it was made."""
    return {s: store.card(contracts.summary_of(d), d["updated_ts"] + 300) for s, d in views.items()}


def snapshot(status: Iterable[Heartbeat] = ()) -> Snapshot:
    v = ml_views()
    return Snapshot({}, cards(v), list(status), None, 1.0, v["BTC"])
