"""What the processor stores per batch: each changed symbol's summary and card (the card in the
all-symbols hash and its table, `row_tables`) and the index, the views that are due (all three
with a TTL), each due symbol's snapshot (state + the offset it includes). `RedisStore` writes them
in one Redis transaction (one script call: Redis runs a script atomically); the in-memory
`cryptoviz.testing.doubles.MemoryStore` implements the same `StateStore` for unit tests (the
documents, not the cards)."""

from __future__ import annotations

import time
from typing import Any, NamedTuple, Protocol, TypeAlias, cast

import redis

from cryptoviz import contracts, names, row_tables
from cryptoviz.contracts import MLCard, MLSignal, MLState, MLSummary, MLView
from cryptoviz.models import HORIZONS
from cryptoviz.models.engine import ModelStats, Output
from cryptoviz.models.forecaster import REGIMES
from cryptoviz.scoring.summary import ModelScore, ScoreSummary

STATE_TTL_S = 30 * 24 * 3600

# One batch's write, in one command (a script runs atomically). KEYS: the documents' keys, then the
# index, the cards' hash, the cards' expiry set, their table and its slots (row_tables). ARGV: n
# documents, m cards, now, the cards' expiry time and TTL; the n documents' values, then their TTLs;
# then each card's symbol, event time and encoded card. Then every card whose expiry has passed
# (whoever wrote it) is taken out, and the cards' keys expire a TTL after the last write, as the
# views do. The numbers arrive as the strings Python wrote: no arithmetic here rounds them.
_WRITE_BATCH = row_tables.Script(
    row_tables.LUA
    + f"local CARD_SIZE = {contracts.CARD_SIZE}\n"
    + """
local n, m = tonumber(ARGV[1]), tonumber(ARGV[2])
local now, expires, ttl = ARGV[3], ARGV[4], ARGV[5]
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[5 + i], 'EX', ARGV[5 + n + i])
end
if m == 0 then return 0 end
local index, cards, expiry, tbl, slots = KEYS[n + 1], KEYS[n + 2], KEYS[n + 3], KEYS[n + 4], KEYS[n + 5]
rt_check(cards, tbl, slots, CARD_SIZE)
local stale = false
local c = 5 + 2 * n
for j = 0, m - 1 do
  local symbol, card = ARGV[c + 3 * j + 1], ARGV[c + 3 * j + 3]
  redis.call('ZADD', index, ARGV[c + 3 * j + 2], symbol)
  redis.call('HSET', cards, symbol, card)
  stale = rt_put(tbl, slots, CARD_SIZE, symbol, card) or stale
  redis.call('ZADD', expiry, expires, symbol)
end
local gone = redis.call('ZRANGEBYSCORE', expiry, '-inf', now)
for _, symbol in ipairs(gone) do redis.call('HDEL', cards, symbol) end
if #gone > 0 then redis.call('ZREMRANGEBYSCORE', expiry, '-inf', now) end
if #gone > 0 or stale then rt_rebuild(cards, tbl, slots, CARD_SIZE) end
for _, key in ipairs({cards, expiry, tbl, slots}) do redis.call('EXPIRE', key, ttl) end
return #gone
"""
)


class Model(Protocol):
    """What the store reads of a symbol's model: the processor's `book.BookModel`, or the reference
    `SymbolModel` (seeds and tests)."""

    def stats(self) -> ModelStats: ...
    def summary(self) -> ScoreSummary: ...
    def forecast_scores(self) -> dict[str, ModelScore | None]: ...
    def to_state(self) -> dict: ...
    def learnt(self, horizon: str, regime: int) -> bool: ...


# symbol -> (its newest output, its model, the (partition, offset) of the last record it includes)
Changes: TypeAlias = dict[str, tuple[Output, Model, tuple[int, int]]]
# symbol -> (its model, the (partition, offset) of the last record the model includes)
Snapshots: TypeAlias = dict[str, tuple[Model, tuple[int, int]]]
# symbol -> (its newest output, its model)
Views: TypeAlias = dict[str, tuple[Output, Model]]


class MLBatch(NamedTuple):
    """What one processor batch stores: the summaries and cards of the symbols that changed, the
    views that are due (None: every changed symbol's) and the snapshots that are due (every
    changed symbol's, unless snapshots are spaced out)."""

    changed: Changes
    snapshots: Snapshots
    views: Views | None = None


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


def summary(symbol: str, out: Output, model: Model, updated_ts: float) -> MLSummary:
    """The summary `contracts.summary_of` gives of the symbol's view, without building the view."""
    tick: contracts.SummaryTick = {
        "symbol": symbol,
        "event_ts": out.t,
        "price": out.price,
        "predictions": out.predictions,
        "updated_ts": updated_ts,
    }
    return contracts.make_summary(
        tick,
        cast(MLSignal, out.signal.to_dict()),
        model.forecast_scores(),
        [model.learnt(h, fc.regime) for h, fc in out.forecasts.items()],
    )


def load_state(client: redis.Redis, symbol: str) -> MLState | None:
    """The symbol's snapshot; ContractError when what Redis holds is not one."""
    raw = client.get(names.ml_state_key(symbol))
    return contracts.decode_state(cast(bytes, raw)) if raw else None


def every_snapshot(changed: Changes) -> MLBatch:
    """The batch that snapshots every symbol that changed (seeds, benches and tests)."""
    return MLBatch(changed, {symbol: (model, pos) for symbol, (_, model, pos) in changed.items()})


def card(summary: MLSummary, expires_ts: float) -> MLCard:
    """The summary as the all-symbols card (contracts.MLCard: a field per horizon)."""
    settled = summary.get("settled") or {}
    per_horizon: dict[str, Any] = {}
    for h in contracts.HORIZON_NAMES:
        per_horizon[f"consensus_{h}"] = summary["consensus"].get(h)
        per_horizon[f"forecast_{h}"] = summary["forecast"].get(h)
        per_horizon[f"settled_{h}"] = settled.get(h, 0)
    return MLCard(
        symbol=summary["symbol"],
        event_ts=summary["event_ts"],
        price=summary["price"],
        action=summary["action"],
        confidence=summary["confidence"],
        p_up=summary["p_up"],
        move_pct=summary["move_pct"],
        updated_ts=summary["updated_ts"],
        expires_ts=expires_ts,
        hits_1h=summary.get("hits_1h", 0),
        scored_1h=summary.get("scored_1h", 0),
        calibrated=summary.get("calibrated", False),
        **per_horizon,
    )


class Encoded(NamedTuple):
    documents: list[tuple[str, bytes, int]]  # (key, encoded value, ttl)
    cards: dict[str, bytes]  # symbol -> its encoded MLCard


def encoded(batch: MLBatch, ttl_s: int, now: float) -> Encoded:
    """Everything a batch stores: each changed symbol's summary and card (expiring at `now` +
    `ttl_s`), each due view, each due snapshot."""
    docs: list[tuple[str, bytes, int]] = []
    cards: dict[str, bytes] = {}
    views = batch.views if batch.views is not None else {s: (o, m) for s, (o, m, _) in batch.changed.items()}
    viewed: dict[str, MLView] = {}  # a symbol's view and its summary in one batch: of the same tick
    for symbol, (out, model) in views.items():
        viewed[symbol] = view(symbol, out, model)
        docs.append((names.ml_view_key(symbol), contracts.encode(viewed[symbol]), ttl_s))
    for symbol, (out, model, _) in batch.changed.items():
        same_tick = viewed.get(symbol)
        short = contracts.summary_of(same_tick) if same_tick else summary(symbol, out, model, now)
        docs.append((names.ml_summary_key(symbol), contracts.encode(short), ttl_s))
        cards[symbol] = contracts.encode_card(card(short, now + ttl_s))
    for symbol, (model, (partition, offset)) in batch.snapshots.items():
        state: MLState = {"model": model.to_state(), "partition": partition, "offset": offset}
        docs.append((names.ml_state_key(symbol), contracts.encode(state), STATE_TTL_S))
    return Encoded(docs, cards)


def documents(batch: MLBatch, ttl_s: int) -> list[tuple[str, bytes, int]]:
    """(key, encoded value, ttl) of the documents a batch stores (`encoded` without the cards)."""
    return encoded(batch, ttl_s, time.time()).documents


def write_batch(client: redis.Redis, batch: MLBatch, ttl_s: int) -> None:
    """Views, snapshots (with the partition/offset they include), the index and the cards,
    atomically, in one command (`_WRITE_BATCH`, by its SHA). The cards' hash holds every
    processor's symbols: each writer sets its own, and takes out any card past its expiry (whoever
    wrote it); the cards' table (what the dashboard reads) follows the hash in the same script.
    The hash expires `ttl_s` after the last write, as the views do, and the table with it."""
    now = time.time()
    enc = encoded(batch, ttl_s, now)
    docs = enc.documents
    keys: list[Any] = [key for key, _, _ in docs]
    args: list[Any] = [len(docs), len(enc.cards), now, now + ttl_s, ttl_s]
    args += [value for _, value, _ in docs]
    args += [ttl for _, _, ttl in docs]
    if enc.cards:
        keys += [
            names.ML_INDEX,
            names.ML_CARDS,
            names.ML_CARDS_EXPIRY,
            names.ML_CARDS_TABLE,
            names.ML_CARDS_SLOTS,
        ]
        for symbol, (out, _, _) in batch.changed.items():
            args += [symbol, out.t, enc.cards[symbol]]
    _WRITE_BATCH(client, keys, args)
