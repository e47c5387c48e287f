"""What the processor writes to Redis, in one transaction per batch: views (TTL), state, the index."""

from __future__ import annotations

import time

import orjson
import redis

from cryptoviz import names
from cryptoviz.models.engine import Output, SymbolModel

STATE_TTL_S = 30 * 24 * 3600


def view(symbol: str, out: Output, model: SymbolModel) -> dict:
    return {
        "symbol": symbol,
        "event_ts": out.t,
        "price": out.price,
        "predictions": out.predictions,
        "due_ts": {h: out.t + s for h, s in model.board.horizons.items()},
        "signal": out.signal.to_dict(),
        "stats": model.stats(),
        "accuracy": model.board.summary(),
        "updated_ts": time.time(),
    }


def summary(view: dict) -> dict:
    """What an all-symbols list needs of a view: small, so a refresh of 1,000 symbols stays cheap."""
    return {
        "symbol": view["symbol"],
        "event_ts": view["event_ts"],
        "price": view["price"],
        "action": view["signal"]["action"],
        "confidence": view["signal"]["confidence"],
        "move_pct": view["signal"]["move_pct"],
        "consensus": {h: p["consensus"] for h, p in view["predictions"].items()},
        "updated_ts": view["updated_ts"],
    }


def load_state(client: redis.Redis, symbol: str) -> dict | None:
    raw = client.get(names.ml_state_key(symbol))
    return orjson.loads(raw) if raw else None


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
        pipe.set(names.ml_view_key(symbol), orjson.dumps(doc), ex=ttl_s)
        pipe.set(names.ml_summary_key(symbol), orjson.dumps(summary(doc)), ex=ttl_s)
        state = {"model": model.to_state(), "partition": partition, "offset": offset}
        pipe.set(names.ml_state_key(symbol), orjson.dumps(state), ex=STATE_TTL_S)
        index[symbol] = out.t
    if index:
        pipe.zadd(names.ML_INDEX, index)
    pipe.execute()
