"""The dashboard's reader against a real Redis written by the real writers: one round trip for all
symbols, each value decoded by its contract, a value that breaks it left out and counted; the
all-symbols cards merged from processors that share the symbols between them, and expired; the
cards' table (what the reader takes) the hash's cards through all of it; the quotes' table the
hash's quotes, a quote it cannot hold read from the hash."""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from cryptoviz import contracts, names, row_tables, schema
from cryptoviz.contracts import CARD_SIZE, QUOTE_SIZE
from cryptoviz.dashboard.readers import LiveReader
from cryptoviz.ml import store
from cryptoviz.schema import make_quote
from cryptoviz.scraper import latest
from cryptoviz.testing.harness import wait_for
from cryptoviz.testing.seed import fill_dashboard_data

CARD_KEYS = (names.ML_CARDS, names.ML_CARDS_EXPIRY, names.ML_CARDS_TABLE, names.ML_CARDS_SLOTS)


def test_a_snapshot_holds_every_symbols_card_quote_and_heartbeat(redis_client, tmp_path):
    changed = fill_dashboard_data(redis_client, str(tmp_path / "lake"), symbols=("BTC", "ETH", "SOL"))
    snap = LiveReader(redis_client).snapshot(detail="ETH")
    assert set(snap.ml) == set(snap.quotes) == {"BTC", "ETH", "SOL"}
    for symbol, (out, _, _) in changed.items():
        assert snap.ml[symbol].price == out.price and snap.ml[symbol].event_ts == out.t
        assert snap.quotes[symbol].symbol == symbol and snap.quotes[symbol].price_usd > 0
    assert snap.detail is not None and snap.detail["symbol"] == "ETH"
    assert [hb["service"] for hb in snap.status] == ["scraper"]
    assert snap.backtest is None and snap.invalid == 0


def test_the_cards_say_what_the_per_symbol_summaries_say(redis_client, tmp_path):
    fill_dashboard_data(redis_client, str(tmp_path / "lake"), symbols=("BTC", "ETH", "SOL"))
    cards = LiveReader(redis_client).snapshot().ml
    for symbol, card in cards.items():
        summary = contracts.decode_summary(redis_client.get(names.ml_summary_key(symbol)))
        assert card == store.card(summary, card.expires_ts)
        assert 0 < card.expires_ts - summary["updated_ts"] <= 300  # the views' TTL, from when it was made


def test_a_value_that_breaks_its_contract_is_left_out_and_counted(redis_client, tmp_path):
    fill_dashboard_data(redis_client, str(tmp_path / "lake"), symbols=("BTC", "ETH", "SOL"))
    slot = int(redis_client.hget(names.ML_CARDS_SLOTS, "BTC"))
    redis_client.setrange(names.ML_CARDS_TABLE, slot * CARD_SIZE + 1, b"\x09")  # a layout version unknown
    slot = int(redis_client.hget(names.QUOTES_SLOTS, "SOL"))
    redis_client.setrange(names.QUOTES_TABLE, slot * QUOTE_SIZE + 10, b"\0")  # an empty symbol
    redis_client.set(names.BACKTEST_SUMMARY, b"not json")
    snap = LiveReader(redis_client).snapshot()
    assert set(snap.ml) == {"ETH", "SOL"} and set(snap.quotes) == {"BTC", "ETH"}
    assert snap.backtest is None and snap.invalid == 3


def test_an_expired_view_drops_out_of_the_index_read(redis_client, tmp_path):
    fill_dashboard_data(redis_client, str(tmp_path / "lake"))
    redis_client.delete(names.ml_view_key("ETH"))  # what a TTL does
    assert set(LiveReader(redis_client).ml_views()) == {"BTC"}


def test_two_processors_write_disjoint_symbols_and_the_reader_sees_both(real, redis_client, tmp_path):
    changed = fill_dashboard_data(redis_client, str(tmp_path / "lake"), symbols=("BTC", "ETH", "SOL"))
    redis_client.delete(*CARD_KEYS)
    first, second = store.RedisStore(real.redis_client(), 300), store.RedisStore(real.redis_client(), 300)
    first.write(store.MLBatch({"BTC": changed["BTC"], "SOL": changed["SOL"]}, {}))
    second.write(store.MLBatch({"ETH": changed["ETH"]}, {}))
    first.write(
        store.MLBatch({"SOL": changed["SOL"]}, {})
    )  # a processor's later batch keeps the other's cards
    snap = LiveReader(redis_client).snapshot()
    assert set(snap.ml) == {"BTC", "ETH", "SOL"} and snap.invalid == 0
    assert {s: c.price for s, c in snap.ml.items()} == {s: out.price for s, (out, _, _) in changed.items()}
    assert table_rows(redis_client) == hash_cards(redis_client)
    for key in CARD_KEYS:
        assert 0 < redis_client.ttl(key) <= 300, key


def test_a_card_expires_like_its_view_whoever_wrote_it(real, redis_client, tmp_path):
    changed = fill_dashboard_data(redis_client, str(tmp_path / "lake"), symbols=("BTC", "ETH"))
    redis_client.delete(*CARD_KEYS)
    stopped, running = store.RedisStore(real.redis_client(), 1), store.RedisStore(real.redis_client(), 300)
    stopped.write(store.MLBatch({"BTC": changed["BTC"]}, {}))  # its last batch, then it stops
    running.write(store.MLBatch({"ETH": changed["ETH"]}, {}))
    reader = LiveReader(redis_client)
    wait_for(lambda: set(reader.snapshot().ml) == {"ETH"}, 10, "BTC's card past its expiry left out")
    assert redis_client.hexists(names.ML_CARDS, "BTC")  # until a writer takes it out
    running.write(store.MLBatch({"ETH": changed["ETH"]}, {}))
    assert redis_client.hkeys(names.ML_CARDS) == [b"ETH"]
    assert redis_client.zrange(names.ML_CARDS_EXPIRY, 0, -1) == [b"ETH"]
    assert table_rows(redis_client) == hash_cards(redis_client) and set(table_rows(redis_client)) == {"ETH"}


def test_the_cards_table_is_built_anew_when_lost_or_from_a_hash_written_before_it(
    real, redis_client, tmp_path
):
    changed = fill_dashboard_data(redis_client, str(tmp_path / "lake"), symbols=("BTC", "ETH", "SOL"))
    writer = store.RedisStore(real.redis_client(), 300)
    redis_client.delete(names.ML_CARDS_TABLE)  # lost (an eviction), its slots kept
    writer.write(store.MLBatch({"ETH": changed["ETH"]}, {}))
    assert (
        set(table_rows(redis_client)) == {"BTC", "ETH", "SOL"} == set(LiveReader(redis_client).snapshot().ml)
    )
    old = msgspec.msgpack.encode(LiveReader(redis_client).snapshot().ml["SOL"])  # the form before the layout
    redis_client.hset(names.ML_CARDS, "SOL", old)
    redis_client.delete(names.ML_CARDS_TABLE, names.ML_CARDS_SLOTS)  # a hash from before the table
    writer.write(store.MLBatch({"ETH": changed["ETH"]}, {}))
    assert set(table_rows(redis_client)) == {"BTC", "ETH"}  # the old form stays in the hash alone
    redis_client.delete(names.ML_CARDS)  # the hash deleted behind the writers' back
    writer.write(store.MLBatch({"ETH": changed["ETH"]}, {}))
    assert set(table_rows(redis_client)) == {"ETH"}
    writer.write(store.MLBatch({"BTC": changed["BTC"]}, {}))
    redis_client.hset(names.ML_CARDS, "SOL", old)
    assert redis_client.hget(names.ML_CARDS, "SOL") == old
    writer.write(store.MLBatch({"SOL": changed["SOL"]}, {}))
    assert table_rows(redis_client) == hash_cards(redis_client) and len(hash_cards(redis_client)) == 3


def table_rows(client, table: str = names.ML_CARDS_TABLE, slots_key: str = names.ML_CARDS_SLOTS) -> dict:
    """A table by symbol, through its slots (the cards' unless told): one row each, no row without
    a symbol."""
    rows = row_tables.rows(client.get(table) or b"", QUOTE_SIZE if table == names.QUOTES_TABLE else CARD_SIZE)
    slots = {k.decode(): int(v) for k, v in client.hgetall(slots_key).items()}
    assert sorted(slots.values()) == list(range(len(rows))), (slots, len(rows))
    return {symbol: rows[slot] for symbol, slot in slots.items()}


def hash_cards(client, key: str = names.ML_CARDS) -> dict[str, bytes]:
    return {k.decode(): v for k, v in client.hgetall(key).items()}


def quote_rows(client) -> dict[str, bytes]:
    return table_rows(client, names.QUOTES_TABLE, names.QUOTES_SLOTS)


def test_the_quotes_table_is_the_hashs_quotes_and_a_quote_it_cannot_hold_is_read_from_the_hash(
    redis_client, tmp_path
):
    fill_dashboard_data(redis_client, str(tmp_path / "lake"), symbols=("BTC", "ETH", "SOL"))
    assert quote_rows(redis_client) == hash_cards(redis_client, names.QUOTES_LATEST)
    t = datetime.fromisoformat(LiveReader(redis_client).snapshot().quotes["BTC"].source_ts)
    latest.write(redis_client, [make_quote("XRP", 0.5, t, source="replay")])
    assert set(quote_rows(redis_client)) == {"BTC", "ETH", "SOL", "XRP"}
    long = msgspec.structs.replace(
        make_quote("XRP", 0.6, t + timedelta(minutes=1)), name="É" * 64
    )  # 128 bytes
    latest.write(redis_client, [long])
    assert set(quote_rows(redis_client)) == {"BTC", "ETH", "SOL"}  # its older row taken out
    redis_client.hset(
        names.QUOTES_LATEST, "DOGE", schema.encode(make_quote("DOGE", 0.1, t))
    )  # JSON, as before
    snap = LiveReader(redis_client).snapshot()
    assert set(snap.quotes) == {"BTC", "ETH", "SOL", "XRP", "DOGE"} and snap.invalid == 0
    assert (snap.quotes["XRP"].price_usd, snap.quotes["XRP"].name) == (0.6, "É" * 64)
    assert snap.quotes["BTC"] == contracts.decode_latest(redis_client.hget(names.QUOTES_LATEST, "BTC"))
    latest.write(redis_client, [make_quote("XRP", 0.7, t + timedelta(minutes=2), source="replay")])
    assert set(quote_rows(redis_client)) == {"BTC", "ETH", "SOL", "XRP"}


def test_the_cards_vanish_when_no_processor_writes(real, redis_client, tmp_path):
    changed = fill_dashboard_data(redis_client, str(tmp_path / "lake"), symbols=("BTC",))
    redis_client.delete(*CARD_KEYS)
    store.RedisStore(real.redis_client(), 1).write(store.MLBatch(changed, {}))
    wait_for(lambda: not redis_client.exists(*CARD_KEYS), 10, "the cards' keys expired")
    assert LiveReader(redis_client).snapshot().ml == {}


def test_the_read_loads_its_script_again_when_redis_lost_it(redis_client, tmp_path):
    fill_dashboard_data(redis_client, str(tmp_path / "lake"))
    reader = LiveReader(redis_client)
    redis_client.script_flush()  # what a restart does
    assert [hb["service"] for hb in reader.snapshot().status] == ["scraper"]
    scripts = script_calls(redis_client)
    assert [hb["service"] for hb in reader.snapshot().status] == ["scraper"]
    assert script_calls(redis_client) == scripts  # no SCRIPT EXISTS before the read: one round trip


def script_calls(client) -> int:
    """SCRIPT subcommands Redis ran (commandstats names them `cmdstat_script|exists`, ...)."""
    return sum(v["calls"] for k, v in client.info("commandstats").items() if k.startswith("cmdstat_script"))


def test_a_batch_is_written_in_one_command_and_after_redis_lost_the_script(real, redis_client, tmp_path):
    """The processor's write is one script call (by its SHA); after a restart or a SCRIPT FLUSH the
    first write sends the script itself, and every document and card lands all the same."""
    changed = fill_dashboard_data(redis_client, str(tmp_path / "lake"), symbols=("BTC", "ETH"))
    redis_client.delete(*CARD_KEYS, names.ML_INDEX)
    redis_client.delete(*(names.ml_summary_key(s) for s in changed))
    redis_client.script_flush()
    writer = store.RedisStore(real.redis_client(), 300)
    before = calls(redis_client)
    writer.write(store.MLBatch(changed, {}))
    ran = {k: n - before.get(k, 0) for k, n in calls(redis_client).items() if n != before.get(k, 0)}
    # the calls of the script itself: Redis counts the commands it runs among the rest
    assert (ran["evalsha"], ran["eval"]) == (1, 1) and not {"multi", "exec"} & set(ran), ran
    assert set(LiveReader(redis_client).snapshot().ml) == {"BTC", "ETH"}
    assert all(0 < redis_client.ttl(names.ml_summary_key(s)) <= 300 for s in changed)
    assert redis_client.zrange(names.ML_INDEX, 0, -1, withscores=True) == sorted(
        ((s.encode(), out.t) for s, (out, _, _) in changed.items()), key=lambda p: p[1]
    )
    before = calls(redis_client)
    writer.write(store.MLBatch(changed, {}))
    assert calls(redis_client)["evalsha"] - before["evalsha"] == 1 and "eval" not in {
        k for k, n in calls(redis_client).items() if n != before.get(k, 0)
    }, "the script is known now: by its SHA alone"


def calls(client) -> dict[str, int]:
    """Commands Redis ran, by name (commandstats), leaving out INFO itself."""
    stats = client.info("commandstats")
    return {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items() if k != "cmdstat_info"}
