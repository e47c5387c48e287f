"""Everything the dashboard reads from Redis, each in one round trip for all symbols."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import orjson
import redis

from cryptoviz import contracts, names
from cryptoviz.contracts import BacktestSummary, Heartbeat, MLSummary, MLView

T = TypeVar("T")

# index key -> every member's document, in one round trip (the index holds symbols or full keys)
_INDEX_MGET = """
local members
if redis.call('TYPE', KEYS[1]).ok == 'zset' then
  members = redis.call('ZRANGE', KEYS[1], 0, -1)
else
  members = redis.call('SMEMBERS', KEYS[1])
end
if #members == 0 then return {{}, {}} end
local keys = {}
for i, m in ipairs(members) do keys[i] = ARGV[1] .. m end
return {members, redis.call('MGET', unpack(keys))}
"""


@dataclass(frozen=True)
class Snapshot:
    """One refresh's worth of live data, each value decoded by its contract (cryptoviz.contracts);
    a value that does not match its contract is left out and counted in `invalid`."""

    quotes: dict[str, dict]  # symbol -> the latest quote (cryptoviz.schema's fields)
    ml: dict[str, MLSummary]
    status: list[Heartbeat]
    backtest: BacktestSummary | None
    read_ms: float
    detail: MLView | None = None  # the full ML view of the symbol asked for, if any
    invalid: int = 0


class LiveReader:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._script = client.register_script(_INDEX_MGET)

    def snapshot(self, detail: str | None = None) -> Snapshot:
        """Latest quotes, ML summaries, statuses, the backtest summary and one symbol's full ML view
        (`detail`): one round trip."""
        t0 = time.perf_counter()
        pipe = self.client.pipeline(transaction=False)
        pipe.hgetall(names.QUOTES_LATEST)
        self._script(keys=[names.ML_INDEX], args=[names.ML_SUMMARY_PREFIX], client=pipe)
        self._script(keys=[names.STATUS_INDEX], args=[""], client=pipe)
        pipe.get(names.BACKTEST_SUMMARY)
        pipe.get(names.ml_view_key(detail or ""))
        quotes_raw, (ml_syms, ml_docs), (_, status_docs), backtest, view = pipe.execute()
        read_ms = (time.perf_counter() - t0) * 1000
        bad = Invalid()
        quotes = {k.decode(): orjson.loads(v) for k, v in quotes_raw.items()}
        ml = _by_member(ml_syms, ml_docs, contracts.decode_summary, bad)
        status = [doc for d in status_docs if d and (doc := bad.decoded(contracts.decode_heartbeat, d))]
        backtest_doc = bad.decoded(contracts.decode_backtest, backtest) if backtest else None
        detail_doc = bad.decoded(contracts.decode_view, view) if view else None
        return Snapshot(quotes, ml, status, backtest_doc, read_ms, detail_doc, bad.count)

    def ml_views(self) -> dict[str, MLView]:
        members, docs = self._script(keys=[names.ML_INDEX], args=[names.ML_VIEW_PREFIX])
        return _by_member(members, docs, contracts.decode_view, Invalid())


class Invalid:
    """Counts the values a read left out because they broke their contract."""

    def __init__(self) -> None:
        self.count = 0

    def decoded(self, decode: Callable[[bytes], T], raw: bytes) -> T | None:
        try:
            return decode(raw)
        except contracts.ContractError:
            self.count += 1
            return None


def _by_member(
    members: list[bytes], docs: list[bytes | None], decode: Callable[[bytes], T], bad: Invalid
) -> dict[str, T]:
    """Index members with their decoded documents; one that expired or broke its contract is left out."""
    out: dict[str, T] = {}
    for m, d in zip(members, docs, strict=True):
        if d and (doc := bad.decoded(decode, d)) is not None:
            out[m.decode()] = doc
    return out
