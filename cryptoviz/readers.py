"""Everything the dashboard reads from Redis, each in one round trip for all symbols."""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson
import redis

from cryptoviz import names

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
    """One refresh's worth of live data."""

    quotes: dict[str, dict]
    ml: dict[str, dict]  # symbol -> summary (signal, confidence, price, consensus)
    status: list[dict]
    backtest: dict | None
    read_ms: float
    detail: dict | None = None  # the full ML view of the symbol asked for, if any


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
        quotes = {k.decode(): orjson.loads(v) for k, v in quotes_raw.items()}
        ml = _by_member(ml_syms, ml_docs)
        status = [orjson.loads(d) for d in status_docs if d]
        backtest_doc = orjson.loads(backtest) if backtest else None
        return Snapshot(quotes, ml, status, backtest_doc, read_ms, orjson.loads(view) if view else None)

    def ml_views(self) -> dict[str, dict]:
        return _by_member(*self._script(keys=[names.ML_INDEX], args=[names.ML_VIEW_PREFIX]))


def _by_member(members: list[bytes], docs: list[bytes | None]) -> dict[str, dict]:
    """Index members with their decoded documents; a member whose document expired is left out."""
    return {m.decode(): orjson.loads(d) for m, d in zip(members, docs, strict=True) if d}
