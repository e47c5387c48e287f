"""What the processor writes to Redis, in one transaction per batch: views (TTL), state, the index."""

from __future__ import annotations

import time
from typing import cast

import redis

from cryptoviz import contracts, names
from cryptoviz.contracts import MLSignal, MLState, MLView
from cryptoviz.models.engine import Output, SymbolModel

STATE_TTL_S = 30 * 24 * 3600


def view(symbol: str, out: Output, model: SymbolModel) -> MLView:
    return {
        "symbol": symbol,
        "event_ts": out.t,
        "price": out.price,
        "predictions": out.predictions,
        "due_ts": {h: out.t + s for h, s in model.board.horizons.items()},
        "signal": cast(MLSignal, out.signal.to_dict()),
        "stats": model.stats(),
        "accuracy": model.board.summary(),
        "updated_ts": time.time(),
    }


def load_state(client: redis.Redis, symbol: str) -> MLState | None:
    """The symbol's snapshot; ContractError when what Redis holds is not one."""
    raw = client.get(names.ml_state_key(symbol))
    return contracts.decode_state(cast(bytes, raw)) if raw else None


def write_batch(
    client: redis.Redis,
    changed: dict[str, tuple[Output, SymbolModel, tuple[int, int]]],
    ttl_s: int,
) -> None:
    """Views, snapshots (with the partition/offset they include) and the index, atomically."""
    pipe = client.pipeline(transaction=True)
    index: dict[str, float] = {}
    for symbol, (out, model, (partition, offset)) in changed.items():
        doc = view(symbol, out, model)
        pipe.set(names.ml_view_key(symbol), contracts.encode(doc), ex=ttl_s)
        pipe.set(names.ml_summary_key(symbol), contracts.encode(contracts.summary_of(doc)), ex=ttl_s)
        state: MLState = {"model": model.to_state(), "partition": partition, "offset": offset}
        pipe.set(names.ml_state_key(symbol), contracts.encode(state), ex=STATE_TTL_S)
        index[symbol] = out.t
    if index:
        pipe.zadd(names.ML_INDEX, index)
    pipe.execute()
