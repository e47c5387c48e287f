"""What the processor stores per batch: the views (with a TTL), each symbol's snapshot (state + the
offset it includes) and the index. `RedisStore` writes them in one Redis transaction; the in-memory
`cryptoviz.testing.doubles.MemoryStore` implements the same `StateStore` for unit tests."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import NamedTuple, Protocol, TypeAlias, cast

import redis

from cryptoviz import contracts, names
from cryptoviz.contracts import MLSignal, MLState, MLView
from cryptoviz.models import HORIZONS
from cryptoviz.models.engine import Output
from cryptoviz.models.forecaster import REGIMES

STATE_TTL_S = 30 * 24 * 3600


class Model(Protocol):
    """What the store reads of a symbol's model: the processor's `book.BookModel`, or the reference
    `SymbolModel` (seeds and tests)."""

    def stats(self) -> dict: ...
    def summary(self) -> dict: ...
    def to_state(self) -> dict: ...
    def learnt(self, horizon: str, regime: int) -> bool: ...


# symbol -> (its newest output, its model, the (partition, offset) of the last record it includes)
Changes: TypeAlias = dict[str, tuple[Output, Model, tuple[int, int]]]
# symbol -> (its model, the (partition, offset) of the last record the model includes)
Snapshots: TypeAlias = dict[str, tuple[Model, tuple[int, int]]]


class MLBatch(NamedTuple):
    """What one processor batch stores: the views and summaries of the symbols that changed, and
    the snapshots that are due (every changed symbol's, unless snapshots are spaced out)."""

    changed: Changes
    snapshots: Snapshots


class StateStore(Protocol):
    """A sink of MLBatch (`interfaces.Sink[MLBatch, None]`) that also gives a symbol's snapshot back."""

    def load(self, symbol: str) -> MLState | None: ...
    def write(self, batch: MLBatch) -> None: ...


class RedisStore:
    def __init__(self, client: redis.Redis, ttl_s: int) -> None:
        self.client = client
        self.ttl_s = ttl_s

    def load(self, symbol: str) -> MLState | None:
        return load_state(self.client, symbol)

    def write(self, batch: MLBatch) -> None:
        write_batch(self.client, batch, self.ttl_s)


def view(symbol: str, out: Output, model: Model) -> MLView:
    return {
        "symbol": symbol,
        "event_ts": out.t,
        "price": out.price,
        "predictions": out.predictions,
        "due_ts": {h: out.t + s for h, s in HORIZONS.items()},
        "signal": cast(MLSignal, out.signal.to_dict()),
        "forecast": {
            h: {
                "point": fc.point,
                "intervals": {name: list(bounds) for name, bounds in fc.intervals.items()},
                "p_up": fc.p_up,
                "regime": REGIMES[fc.regime],
                "volatility_pct": fc.sigma * 100,
                "learnt": model.learnt(h, fc.regime),
            }
            for h, fc in out.forecasts.items()
        },
        "expected_move_pct": out.expected_moves,
        "stats": model.stats(),
        "accuracy": model.summary(),
        "updated_ts": time.time(),
    }


def load_state(client: redis.Redis, symbol: str) -> MLState | None:
    """The symbol's snapshot; ContractError when what Redis holds is not one."""
    raw = client.get(names.ml_state_key(symbol))
    return contracts.decode_state(cast(bytes, raw)) if raw else None


def every_snapshot(changed: Changes) -> MLBatch:
    """The batch that snapshots every symbol that changed (seeds, benches and tests)."""
    return MLBatch(changed, {symbol: (model, pos) for symbol, (_, model, pos) in changed.items()})


def documents(batch: MLBatch, ttl_s: int) -> Iterator[tuple[str, bytes, int]]:
    """(key, encoded value, ttl) of everything a batch stores: each changed symbol's view and
    summary, each due snapshot."""
    for symbol, (out, model, _) in batch.changed.items():
        doc = view(symbol, out, model)
        yield names.ml_view_key(symbol), contracts.encode(doc), ttl_s
        yield names.ml_summary_key(symbol), contracts.encode(contracts.summary_of(doc)), ttl_s
    for symbol, (model, (partition, offset)) in batch.snapshots.items():
        state: MLState = {"model": model.to_state(), "partition": partition, "offset": offset}
        yield names.ml_state_key(symbol), contracts.encode(state), STATE_TTL_S


def write_batch(client: redis.Redis, batch: MLBatch, ttl_s: int) -> None:
    """Views, snapshots (with the partition/offset they include) and the index, atomically."""
    pipe = client.pipeline(transaction=True)
    for key, value, ttl in documents(batch, ttl_s):
        pipe.set(key, value, ex=ttl)
    if batch.changed:
        pipe.zadd(names.ML_INDEX, {symbol: out.t for symbol, (out, _, _) in batch.changed.items()})
    pipe.execute()
