"""Everything the dashboard reads from Redis, each in one round trip for all symbols."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar, cast

import redis

from cryptoviz import contracts, names, row_tables
from cryptoviz.contracts import CARD_SIZE, QUOTE_SIZE, BacktestSummary, Heartbeat, LatestQuote, MLCard, MLView
from cryptoviz.contracts.cards import Cards, decode_card, decode_card_table, decode_cards
from cryptoviz.contracts.quotes import decode_quote_records, decode_quote_table

T = TypeVar("T")
R = TypeVar("R")

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

    # symbol -> the latest quote (from a reader: Quotes, with their columns, unless one is in a form
    # from before QUOTE_LAYOUT)
    quotes: Mapping[str, LatestQuote]
    # symbol -> its card, those not past their expiry (from a reader: Cards, with their columns)
    ml: Mapping[str, MLCard]
    status: list[Heartbeat]
    backtest: BacktestSummary | None
    read_ms: float  # the round trip, the reply parsed into bytes (the rest is decoding)
    detail: MLView | None = None  # the full ML view of the symbol asked for, if any
    invalid: int = 0


class LiveReader:
    def __init__(self, client: redis.Redis) -> None:
        self.client = client
        self._script = client.register_script(_INDEX_MGET)

    def snapshot(self, detail: str | None = None) -> Snapshot:
        """Latest quotes, ML cards, statuses, the backtest summary and one symbol's full ML view
        (`detail`): one round trip, then one decode for all the quotes and one for all the cards
        (their tables, into columns)."""
        t0 = time.perf_counter()
        try:
            replies = self._read(detail)
        except redis.exceptions.NoScriptError:  # Redis restarted or flushed its scripts since
            self.client.script_load(_INDEX_MGET)
            replies = self._read(detail)
        quote_table, quote_count, card_table, card_count, (_, status_docs), backtest, view = replies
        quotes_raw = self._values_unless_whole(quote_table, quote_count, names.QUOTES_LATEST, QUOTE_SIZE)
        cards_raw = self._values_unless_whole(card_table, card_count, names.ML_CARDS, CARD_SIZE)
        read_ms = (time.perf_counter() - t0) * 1000
        bad = Invalid()
        now = time.time()
        quotes = bad.quote_table(quote_table) if quotes_raw is None else bad.quotes(quotes_raw)
        ml = (bad.card_table(card_table) if cards_raw is None else bad.cards(cards_raw)).live(now)
        status = [doc for d in status_docs if d and (doc := bad.decoded(contracts.decode_heartbeat, d))]
        backtest_doc = bad.decoded(contracts.decode_backtest, backtest) if backtest else None
        detail_doc = bad.decoded(contracts.decode_view, view) if view else None
        return Snapshot(quotes, ml, status, backtest_doc, read_ms, detail_doc, bad.count)

    def _values_unless_whole(
        self, table: bytes | None, count: int, key: str, size: int
    ) -> list[bytes] | None:
        """None when the table holds a row for each of the hash's `count` values; else the hash's
        values, a round trip more (HVALS): a value the table cannot hold (a form from before its
        layout), or no table yet (a writer from before it)."""
        return None if len(table or b"") == count * size else cast(list[bytes], self.client.hvals(key))

    def _read(self, detail: str | None) -> list:
        """The one round trip: the quotes' and the cards' tables (`row_tables`) with the number of
        values in their hashes, the statuses, the backtest and the view asked for. The statuses'
        script goes by its SHA: a redis-py Script object in a pipeline asks Redis whether it knows
        the script first (SCRIPT EXISTS), a round trip more."""
        pipe = self.client.pipeline(transaction=False)
        pipe.get(names.QUOTES_TABLE)
        pipe.hlen(names.QUOTES_LATEST)
        pipe.get(names.ML_CARDS_TABLE)
        pipe.hlen(names.ML_CARDS)
        pipe.evalsha(self._script.sha, 1, names.STATUS_INDEX, "")
        pipe.get(names.BACKTEST_SUMMARY)
        pipe.get(names.ml_view_key(detail or ""))
        return pipe.execute()

    def ml_views(self) -> dict[str, MLView]:
        members, docs = self._script(keys=[names.ML_INDEX], args=[names.ML_VIEW_PREFIX])
        return _by_member(members, docs, contracts.decode_view, Invalid())


class Invalid:
    """Counts the values a read left out because they broke their contract."""

    def __init__(self) -> None:
        self.count = 0

    def decoded(self, decode: Callable[[R], T], raw: R) -> T | None:
        try:
            return decode(raw)
        except contracts.ContractError:
            self.count += 1
            return None

    def quotes(self, raws: list[bytes]) -> Mapping[str, LatestQuote]:
        """Every quote in one decode; when one is not in the binary layout, each on its own (the
        forms written before it are read), those that are none left out and counted."""
        try:
            return decode_quote_records(raws)
        except contracts.ContractError:
            quotes = (self.decoded(contracts.decode_latest, raw) for raw in raws)
            return {q.symbol: q for q in quotes if q is not None}

    def quote_table(self, table: bytes | None) -> Mapping[str, LatestQuote]:
        """Every quote of the quotes' table in one decode; when a row is not a quote, each row on
        its own, those that are not quotes left out and counted."""
        try:
            return decode_quote_table(table or b"")
        except contracts.ContractError:
            return self.quotes(row_tables.rows(table or b"", QUOTE_SIZE))

    def cards(self, raws: list[bytes]) -> Cards:
        """Every card in one decode; when one is not in the binary layout, each on its own (a card
        in the msgpack written before it is read), those that are neither left out and counted."""
        try:
            return decode_cards(raws)
        except contracts.ContractError:
            return Cards.build(c for raw in raws if (c := self.decoded(decode_card, raw)) is not None)

    def card_table(self, table: bytes | None) -> Cards:
        """Every card of the cards' table in one decode; when a row is not a card, each row on its
        own, those that are not cards left out and counted."""
        try:
            return decode_card_table(table or b"")
        except contracts.ContractError:
            return self.cards(row_tables.rows(table or b"", CARD_SIZE))


def _by_member(
    members: list[bytes], docs: list[bytes | None], decode: Callable[[bytes], T], bad: Invalid
) -> dict[str, T]:
    """Index members with their decoded documents; one that expired or broke its contract is left out."""
    out: dict[str, T] = {}
    for m, d in zip(members, docs, strict=True):
        if d and (doc := bad.decoded(decode, d)) is not None:
            out[m.decode()] = doc
    return out
