"""quotes:latest and its table (`row_tables`): each symbol's last quote (`contracts.encode_latest`),
in the hash and in the table the dashboard reads all at once, in one script (Redis runs it
atomically). The one way quotes:latest is written: a quote set in the hash alone would leave the
table's row of its symbol behind."""

from __future__ import annotations

from collections.abc import Iterable

import redis

from cryptoviz import contracts, names, row_tables
from cryptoviz.schema import Quote

# KEYS: the hash, its table and the table's slots. ARGV: symbol, encoded quote, symbol, ...
_WRITE = row_tables.Script(
    row_tables.LUA
    + f"local QUOTE_SIZE = {contracts.QUOTE_SIZE}\n"
    + """
local hash, tbl, slots = KEYS[1], KEYS[2], KEYS[3]
rt_check(hash, tbl, slots, QUOTE_SIZE)
local stale = false
for i = 1, #ARGV, 2 do
  redis.call('HSET', hash, ARGV[i], ARGV[i + 1])
  stale = rt_put(tbl, slots, QUOTE_SIZE, ARGV[i], ARGV[i + 1]) or stale
end
if stale then rt_rebuild(hash, tbl, slots, QUOTE_SIZE) end
return #ARGV / 2
"""
)
KEYS = (names.QUOTES_LATEST, names.QUOTES_TABLE, names.QUOTES_SLOTS)


def write(client: redis.Redis, quotes: Iterable[Quote]) -> None:
    """Each symbol's last quote of `quotes` (in their order), in the hash and its table."""
    latest = {q.symbol: contracts.encode_latest(q) for q in quotes}
    if latest:
        _WRITE(client, KEYS, [v for pair in latest.items() for v in pair])
