"""All-symbols tables in Redis, for the reads that take every symbol at once.

Beside a hash symbol -> value whose values have one size (a binary layout), a table is one string
holding those values one after another, and a hash symbol -> its row's place. A reader takes every
symbol with one GET: one reply to parse and one buffer to decode, where HVALS gives a reply per
symbol for the client to parse and the server to build.

The writers keep the three in step inside their own scripts (Redis runs a script atomically, so no
reader sees a row half written): `LUA` defines the functions they call.

- `rt_put(table, slots, size, symbol, row)` writes the symbol's row in its place, a new symbol's at
  the end; a value of another size is not a row: it says whether the table holds an older row of
  the symbol (then the writer rebuilds the table, which leaves the symbol out);
- `rt_check(hash, table, slots, size)` builds the table anew from the hash when it cannot be the
  hash's rows (lost or evicted, the hash deleted or shorter, or a hash from before the table), and
  says whether it did;
- `rt_rebuild(hash, table, slots, size)` builds it anew: after a writer took symbols out of the hash
  (a removal is rare: the table stays dense, and a row never moves otherwise).

A value of another size (a form from before the layout, or one the layout cannot hold) stays in
the hash and out of the table: a reader that finds fewer rows than the hash has values reads the
hash instead (`dashboard.readers`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import redis

LUA = """
local function rt_rebuild(hash, tbl, slots, size)
  redis.call('DEL', tbl, slots)
  local kv = redis.call('HGETALL', hash)
  local rows, places = {}, {}
  for i = 1, #kv, 2 do
    if #kv[i + 1] == size then
      rows[#rows + 1] = kv[i + 1]
      places[#places + 1] = kv[i]
      places[#places + 1] = #rows - 1
      if #places == 1000 then
        redis.call('HSET', slots, unpack(places))
        places = {}
      end
    end
  end
  if #places > 0 then redis.call('HSET', slots, unpack(places)) end
  if #rows > 0 then redis.call('SET', tbl, table.concat(rows)) end
end

local function rt_check(hash, tbl, slots, size)
  local n, h = redis.call('HLEN', slots), redis.call('HLEN', hash)
  if redis.call('STRLEN', tbl) ~= n * size or h < n or (n == 0 and h > 0) then
    rt_rebuild(hash, tbl, slots, size)
    return true
  end
  return false
end

local function rt_put(tbl, slots, size, symbol, row)
  if #row ~= size then return redis.call('HEXISTS', slots, symbol) == 1 end
  local slot = redis.call('HGET', slots, symbol)
  if not slot then
    slot = redis.call('HLEN', slots)
    redis.call('HSET', slots, symbol, slot)
  end
  redis.call('SETRANGE', tbl, tonumber(slot) * size, row)
  return false
end
"""


def rows(table: bytes, size: int) -> list[bytes]:
    """The table's rows, each on its own (a reader's way round a row that breaks its layout); a
    tail shorter than a row is one value too, for the decode to refuse."""
    return [table[i : i + size] for i in range(0, len(table), size)]


class Script:
    """A writer's script, run by its SHA; sent whole when Redis does not know it (restarted, or
    its scripts flushed since): one round trip, two then. (redis-py's Script asks SCRIPT LOAD
    first: three.)"""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    def __call__(self, client: redis.Redis, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        try:
            return client.evalsha(self.sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return client.eval(self.text, len(keys), *keys, *args)
