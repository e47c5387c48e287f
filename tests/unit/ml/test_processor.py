"""The processor's step on in-memory doubles: records in -> store, dead letters, committed offsets.
(tests/integration/test_ml_processor.py runs the same code on a broker and Redis.)"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from kafka import TopicPartition
from kafka.errors import KafkaConnectionError, KafkaTimeoutError

from cryptoviz import contracts, names
from cryptoviz.interfaces import Offsets
from cryptoviz.ml.group import DropOnRevoke
from cryptoviz.ml.processor import Processor, next_due
from cryptoviz.ml.store import MLBatch, view
from cryptoviz.models.engine import ModelConfig, SymbolModel
from cryptoviz.retry import Backoff, Stopped
from cryptoviz.schema import encode, make_quote
from cryptoviz.service import Stop
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.compare import same
from cryptoviz.testing.doubles import ListConsumer, ListDeadLetters, ListRecord, MemoryStore

T0 = datetime(2025, 3, 1, tzinfo=UTC)
TOPIC = names.TOPIC_STREAMING


def quote_record(symbol: str, hour: int, offset: int, partition: int = 0, price: float = 100.0) -> ListRecord:
    value = encode(make_quote(symbol, price + hour, T0 + timedelta(hours=hour)))
    return ListRecord(TOPIC, partition, offset, symbol.encode(), value)


def hours(symbol: str, n: int, partition: int = 0) -> list[ListRecord]:
    return [quote_record(symbol, h, h, partition) for h in range(n)]


def processor(
    consumer: ListConsumer,
    store: MemoryStore | None = None,
    dlq: ListDeadLetters | None = None,
    snapshot_interval_s: float = 0.0,
    max_records: int = 2000,
    view_interval_s: float = 0.0,
) -> Processor:
    proc = Processor(
        consumer,
        dlq if dlq is not None else ListDeadLetters(),
        store if store is not None else MemoryStore(),
        Telemetry("ml-processor", None),
        ModelConfig(),
        symbols={"BTC", "ETH"},
        max_records=max_records,
        snapshot_interval_s=snapshot_interval_s,
        view_interval_s=view_interval_s,
    )
    proc.backoff = Backoff(base_s=0.001, cap_s=0.001)
    return proc


def test_a_batch_is_stored_then_committed_per_partition():
    store = MemoryStore()
    consumer = ListConsumer(hours("BTC", 8, partition=0) + hours("ETH", 5, partition=1))
    proc = processor(consumer, store)
    assert proc.step() == 13
    assert consumer.committed == {TopicPartition(TOPIC, 0): 8, TopicPartition(TOPIC, 1): 5}
    view = contracts.decode_view(store.values[names.ml_view_key("BTC")])
    assert view["price"] == 107.0 and view["event_ts"] == (T0 + timedelta(hours=7)).timestamp()
    state = store.load("ETH")
    assert state is not None and (state["partition"], state["offset"]) == (1, 4)
    assert names.ml_summary_key("ETH") in store.values
    assert proc.telemetry.counters["ticks_in"] == 13 and store.writes == 1
    assert proc.step() == 0  # nothing new: nothing written
    assert store.writes == 1


def test_the_batch_reports_how_long_its_oldest_quote_waited_from_scrape_to_store():
    now = datetime.now(UTC)
    scraped = [now - timedelta(seconds=5), now - timedelta(seconds=60), now]
    quotes = [
        make_quote("BTC", 100.0 + h, T0 + timedelta(hours=h), ingest_ts=t) for h, t in enumerate(scraped)
    ]
    records = [ListRecord(TOPIC, 0, h, b"BTC", encode(q)) for h, q in enumerate(quotes)]
    proc = processor(ListConsumer(records))
    assert proc.step() == 3
    waited_ms = proc.telemetry.gauges["quote_to_prediction_ms"]
    assert isinstance(waited_ms, float) and 60_000 <= waited_ms < 120_000  # the 60 s one, not the newest
    assert proc.telemetry.histograms["quote_to_prediction"].total == pytest.approx(waited_ms / 1000, abs=1e-3)
    # the batch's phases, each observed once, adding up to the batch's own time
    phases = [proc.telemetry.histograms[f"ml_{p}"] for p in ("models", "store", "commit")]
    assert [sum(h.counts) for h in phases] == [1, 1, 1]
    assert sum(h.total for h in phases) == pytest.approx(proc.telemetry.histograms["ml_batch"].total)


def test_a_bad_record_is_dead_lettered_with_its_reason_and_the_batch_goes_on():
    dlq = ListDeadLetters()
    good = hours("BTC", 3)
    bad = [
        ListRecord(TOPIC, 0, 3, b"BTC", b"{not json"),
        ListRecord(TOPIC, 0, 4, b"ETH", quote_record("BTC", 3, 4).value),  # key says ETH, quote BTC
        ListRecord(TOPIC, 0, 5, b"DOGE", quote_record("DOGE", 3, 5).value),  # not a configured coin
        ListRecord(TOPIC, 0, 6, None, quote_record("BTC", 4, 6).value),  # no key: not BTC's partition's
    ]
    consumer = ListConsumer(good + bad + [quote_record("BTC", 4, 7)])
    proc = processor(consumer, dlq=dlq)
    assert proc.step() == 8
    assert [(rec.offset, reason) for rec, reason in dlq.delivered] == [
        (3, "bad_json"),
        (4, "key_mismatch"),
        (5, "unknown_symbol"),
        (6, "key_mismatch"),
    ]
    assert consumer.committed == {TopicPartition(TOPIC, 0): 8}
    state = proc.store.load("BTC")
    assert state is not None and state["offset"] == 7
    assert proc.telemetry.counters["dead_letter.key_mismatch"] == 2


def test_dead_letters_not_acknowledged_mean_the_batch_is_read_again_and_nothing_is_stored():
    store, dlq = MemoryStore(), ListDeadLetters(refuse=1)
    consumer = ListConsumer([ListRecord(TOPIC, 0, 0, b"BTC", b"[]"), *hours("BTC", 4)[1:]])
    proc = processor(consumer, store, dlq)
    assert proc.step() == 0
    assert (
        store.values == {} and consumer.committed == {} and consumer.positions[TopicPartition(TOPIC, 0)] == 0
    )
    assert (
        proc.telemetry.counters["errors.dead_letter_not_acknowledged"] == 1
        and len(proc.book) == 0
        and proc.positions == {}
    )
    assert proc.step() == 4  # read again, whole
    assert [rec.offset for rec, _ in dlq.delivered] == [0]  # once
    assert proc.telemetry.counters["dead_letter.not_an_object"] == 1  # and counted once
    assert consumer.committed == {TopicPartition(TOPIC, 0): 4} and proc.dlq_failures == 0


def test_records_read_again_after_a_crash_before_the_commit_are_not_applied_twice():
    store = MemoryStore()
    records = hours("BTC", 30)
    first = processor(ListConsumer(records), store)
    first.step()
    scored = first.telemetry.counters["scored"]
    assert scored > 0
    # the commit never reached the broker: a successor reads everything again from the snapshot
    successor = processor(ListConsumer([*records, quote_record("BTC", 30, 30)]), store)
    assert successor.step() == 31
    assert successor.telemetry.counters["states_restored"] == 1
    assert successor.telemetry.counters["skipped_already_applied"] == 30
    state = store.load("BTC")
    assert state is not None and state["offset"] == 30


def test_a_store_that_is_away_is_retried_and_the_commit_waits_for_it():
    store = MemoryStore(fail_writes=2)
    consumer = ListConsumer(hours("BTC", 3))
    proc = processor(consumer, store)
    assert proc.step() == 3
    assert proc.telemetry.counters["errors.redis"] == 2 and store.writes == 1
    assert consumer.committed == {TopicPartition(TOPIC, 0): 3}


class LongAwayStore(MemoryStore):
    """Redis away for `fail_writes` writes, each failure standing for a minute of the outage."""

    def __init__(self, fail_writes: int) -> None:
        super().__init__(fail_writes=fail_writes)
        self.proc: Processor | None = None

    def write(self, batch: MLBatch) -> None:
        if self.fail_writes and self.proc is not None:
            self.proc.polled_at -= 60.0
        super().write(batch)


def test_a_member_that_waited_on_redis_past_the_poll_interval_writes_nothing_of_what_it_held():
    """The group has let it go by then, and another member may have its partitions, with newer
    snapshots: what it held is dropped unwritten and read again (by whoever owns it)."""
    store = LongAwayStore(fail_writes=3)
    consumer = ListConsumer(hours("BTC", 3))
    proc = processor(consumer, store)
    store.proc = proc
    assert proc.step() == 0  # three minutes without a poll: past 0.8 of the two-minute interval
    assert proc.telemetry.counters["errors.left_group"] == 1
    assert store.values == {} and consumer.committed == {} and len(proc.book) == 0
    assert consumer.positions[TopicPartition(TOPIC, 0)] == 0, "read again from the start"
    assert proc.step() == 3 and consumer.committed == {TopicPartition(TOPIC, 0): 3}
    assert store.load("BTC") is not None


def test_a_stop_while_the_store_is_away_leaves_the_batch_uncommitted():
    store = MemoryStore(fail_writes=10**6)
    consumer = ListConsumer(hours("BTC", 3))
    proc = processor(consumer, store)
    proc.stop.set()
    with pytest.raises(Stopped):
        proc.step()
    assert consumer.committed == {} and store.values == {}


def test_lag_is_what_the_partitions_hold_past_the_position():
    consumer = ListConsumer(hours("BTC", 10))
    proc = processor(consumer)
    proc.max_records = 4
    assert proc.lag() == 10
    proc.step()
    assert proc.lag() == 6


class AwayConsumer(ListConsumer):
    """A consumer whose first polls fail as kafka-python's do when the coordinator is away."""

    def __init__(self, records: list[ListRecord], failures: int) -> None:
        super().__init__(records)
        self.failures = failures

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        if self.failures:
            self.failures -= 1
            raise KafkaConnectionError("111 ECONNREFUSED")
        return super().poll(timeout_ms, max_records)


def test_a_poll_that_fails_is_counted_and_retried_never_raised():
    consumer = AwayConsumer(hours("BTC", 3), failures=2)
    proc = processor(consumer)
    assert proc.step() == 0 and proc.step() == 0
    assert proc.telemetry.counters["errors.poll"] == 2
    assert proc.step() == 3 and proc.poll_failures == 0


class StoppedWhileAway(ListConsumer):
    """A consumer whose polls fail once `away` is set, the service told to stop meanwhile."""

    def __init__(self, records: list[ListRecord], stop: Stop) -> None:
        super().__init__(records)
        self.stop = stop
        self.away = False

    def poll(self, timeout_ms: int = 0, max_records: int | None = None) -> dict:
        if self.away:
            self.stop.set()
            raise KafkaConnectionError("111 ECONNREFUSED")
        return super().poll(timeout_ms, max_records)


def test_a_stop_during_the_wait_after_a_failed_poll_ends_the_loop_and_flushes():
    """The broker away, then a stop: the loop ends, and the snapshots not written yet are (Redis
    is there), then committed."""
    records = hours("BTC", 8)
    store, stop = MemoryStore(), Stop()
    consumer = StoppedWhileAway(records, stop)
    proc = spaced(consumer, store)
    assert proc.step() == 4 and proc.step() == 4  # the second batch applied, in no snapshot yet
    consumer.away = True
    proc.run(stop)
    assert proc.telemetry.counters["errors.poll"] == 1
    assert same_state(store, reference(records), "BTC") and consumer.committed == {P0: 8}


class CommitAway(ListConsumer):
    """A consumer whose first commits time out."""

    def __init__(self, records: list[ListRecord], failures: int) -> None:
        super().__init__(records)
        self.failures = failures

    def commit(self, offsets: Offsets, timeout_ms: int | None = None) -> None:
        if self.failures:
            self.failures -= 1
            raise KafkaTimeoutError("commit")
        super().commit(offsets, timeout_ms)


def test_a_commit_that_failed_is_made_at_stop():
    consumer = CommitAway(hours("BTC", 4), failures=1)
    proc = processor(consumer)
    assert proc.step() == 4
    assert consumer.committed == {} and proc.telemetry.counters["errors.commit"] == 1
    proc.flush()
    assert consumer.committed == {P0: 4}


def test_a_snapshot_of_another_shape_starts_the_model_afresh_and_dead_letters_nothing():
    """A list where the snapshot had a mapping: not what `load` reads, whatever it raises."""
    store = MemoryStore()
    processor(ListConsumer(hours("BTC", 30)), store).step()
    state = store.load("BTC")
    assert state is not None
    state["model"]["board"]["moves"] = []
    store.values[names.ml_state_key("BTC")] = contracts.encode(state)
    dlq = ListDeadLetters()
    successor = processor(ListConsumer([*hours("BTC", 30), quote_record("BTC", 30, 30)]), store, dlq)
    assert successor.step() == 31
    assert dlq.delivered == [] and successor.telemetry.counters["errors.state_unreadable"] == 1


def test_a_snapshot_that_cannot_be_read_starts_the_model_afresh_and_dead_letters_nothing():
    store = MemoryStore()
    processor(ListConsumer(hours("BTC", 30)), store).step()
    state = store.load("BTC")
    assert state is not None
    del state["model"]["forecaster"]["vol"]  # what an older snapshot of the same version lacks
    store.values[names.ml_state_key("BTC")] = contracts.encode(state)
    dlq = ListDeadLetters()
    successor = processor(ListConsumer([*hours("BTC", 30), quote_record("BTC", 30, 30)]), store, dlq)
    assert successor.step() == 31
    assert dlq.delivered == [] and successor.telemetry.counters["errors.state_unreadable"] == 1
    assert successor.telemetry.counters["skipped_already_applied"] == 30  # its offset still holds
    restored = store.load("BTC")
    assert restored is not None and restored["offset"] == 30


P0, P1 = TopicPartition(TOPIC, 0), TopicPartition(TOPIC, 1)


def spaced(consumer: ListConsumer, store: MemoryStore, dlq: ListDeadLetters | None = None) -> Processor:
    """A processor that snapshots each symbol once (an hour apart) and reads 4 records a batch."""
    return processor(consumer, store, dlq, snapshot_interval_s=3600.0, max_records=4)


def reference(records: list[ListRecord]) -> MemoryStore:
    """The store after every record went through at once, a snapshot with every batch."""
    store = MemoryStore()
    processor(ListConsumer(records), store).step()
    return store


def same_state(store: MemoryStore, expected: MemoryStore, symbol: str) -> bool:
    return store.load(symbol) == expected.load(symbol)


def test_spaced_snapshots_hold_the_commit_back_to_the_first_message_no_snapshot_holds():
    records = hours("BTC", 8)
    store, consumer = MemoryStore(), ListConsumer(records)
    proc = spaced(consumer, store)
    assert proc.step() == 4  # BTC's first snapshot, at offset 3
    assert consumer.committed == {P0: 4} and store.load("BTC")["offset"] == 3
    assert proc.step() == 4  # applied and shown, not yet in a snapshot: not committed
    assert consumer.committed == {P0: 4} and store.load("BTC")["offset"] == 3
    assert contracts.decode_view(store.values[names.ml_view_key("BTC")])["price"] == 107.0
    proc.snapshot_due["BTC"] = time.monotonic()  # its next snapshot due now, with nothing new to read
    assert proc.step() == 0
    assert consumer.committed == {P0: 8} and same_state(store, reference(records), "BTC")
    proc.flush()  # at stop: nothing left to write or commit
    assert store.writes == 3


def test_at_stop_the_snapshots_not_written_yet_are_written_then_committed():
    records = hours("BTC", 8)
    store, consumer = MemoryStore(), ListConsumer(records)
    proc = spaced(consumer, store)
    assert proc.step() == 4 and proc.step() == 4
    assert consumer.committed == {P0: 4}
    proc.flush()
    assert consumer.committed == {P0: 8} and same_state(store, reference(records), "BTC")


def event_ts(store: MemoryStore, key: str) -> float:
    """The event time of the view or summary at `key`."""
    return orjson.loads(store.values[key])["event_ts"]


def hour(h: int) -> float:
    return (T0 + timedelta(hours=h)).timestamp()


def test_spaced_views_are_of_the_newest_tick_while_summaries_go_with_every_batch():
    store, consumer = MemoryStore(), ListConsumer(hours("BTC", 3) + hours("ETH", 2, partition=1))
    proc = processor(consumer, store, max_records=1, view_interval_s=3600.0)
    for _ in range(3):
        assert proc.step() == 1  # BTC's ticks, one a batch: its first view, then none
    assert event_ts(store, names.ml_view_key("BTC")) == hour(0)
    assert event_ts(store, names.ml_summary_key("BTC")) == hour(2)
    assert proc.telemetry.counters["views_written"] == 1
    proc.view_due["BTC"] = time.monotonic()  # its view due now: the next batch writes its newest
    assert proc.step() == 1  # ETH's first tick, and its first view
    assert event_ts(store, names.ml_view_key("BTC")) == hour(2)
    assert proc.step() == 1  # ETH's second: its view waits
    writes = store.writes
    assert proc.step() == 0 and store.writes == writes  # nothing new, no view due: nothing written
    proc.view_due["ETH"] = time.monotonic()  # a quiet stream still gets its views in time
    assert proc.step() == 0 and event_ts(store, names.ml_view_key("ETH")) == hour(1)
    assert proc.telemetry.counters["views_written"] == 4


def test_at_stop_the_views_not_written_yet_are_written():
    store, consumer = MemoryStore(), ListConsumer(hours("BTC", 3))
    proc = processor(consumer, store, max_records=1, view_interval_s=3600.0)
    for _ in range(3):
        proc.step()
    proc.flush()
    key = names.ml_view_key("BTC")
    got, expected = (contracts.decode_view(s.values[key]) for s in (store, reference(hours("BTC", 3))))
    assert got["event_ts"] == hour(2) and {**got, "updated_ts": 0} == {**expected, "updated_ts": 0}


def test_a_crash_with_snapshots_held_back_reads_again_from_the_commit_and_scores_each_tick_once():
    records = hours("BTC", 30) + hours("ETH", 20, partition=1)
    store, consumer = MemoryStore(), ListConsumer(records)
    first = spaced(consumer, store)
    for _ in range(6):
        first.step()
    assert consumer.committed[P0] < consumer.positions[P0]  # the crash loses applied ticks
    successor_consumer = ListConsumer(records)
    successor_consumer.positions.update(consumer.committed)
    successor = spaced(successor_consumer, store)
    while successor.step():
        pass
    successor.flush()
    expected = reference(records)
    assert same_state(store, expected, "BTC") and same_state(store, expected, "ETH")
    assert successor_consumer.committed == {P0: 30, P1: 20}


def test_a_batch_read_again_goes_back_to_what_no_snapshot_holds():
    records = [*hours("BTC", 8), ListRecord(TOPIC, 0, 8, b"BTC", b"{oops"), quote_record("BTC", 9, 9)]
    store, consumer, dlq = MemoryStore(), ListConsumer(records), ListDeadLetters(refuse=1)
    proc = spaced(consumer, store, dlq)
    assert proc.step() == 4 and proc.step() == 4  # offsets 4..7 applied, in no snapshot
    assert proc.step() == 0  # the dead letter is refused: read again from offset 4, not 8
    assert consumer.positions[P0] == 4 and len(proc.book) == 0 and proc.positions == {} and proc.unsaved == {}
    while proc.step():
        pass
    proc.flush()
    assert [rec.offset for rec, _ in dlq.delivered] == [8]
    good = [r for r in records if r.offset != 8]
    assert same_state(store, reference(good), "BTC") and consumer.committed == {P0: 10}


def test_a_rebalance_that_gives_a_partition_back_reads_again_what_no_snapshot_holds():
    records = hours("BTC", 12)
    store, consumer = MemoryStore(), ListConsumer(records)
    proc = spaced(consumer, store)
    assert proc.step() == 4 and proc.step() == 4  # offsets 4..7 applied, in no snapshot
    # the group rebalances and this member keeps the partition (kafka-python keeps its position)
    DropOnRevoke(proc).on_partitions_revoked([P0])
    assert consumer.positions[P0] == 4 and len(proc.book) == 0 and proc.positions == {}
    while proc.step():
        pass
    proc.flush()
    assert same_state(store, reference(records), "BTC") and consumer.committed == {P0: 12}


def test_the_views_and_snapshots_are_the_reference_engines():
    """The processor runs the compiled core; what it stores for a symbol is what the reference
    engine fed the same quotes gives (the view's predictions, signal, forecast, stats, accuracy;
    the snapshot), batch after batch, with a repeated and an older tick among the quotes."""
    ticks = [(T0 + timedelta(hours=h), 100.0 * 1.01 ** (h % 9) * 0.995 ** (h % 4)) for h in range(300)]
    quotes = [*ticks[:42], ticks[40], ticks[40], *ticks[42:]]  # hour 40 again after 40, then after 41
    records = [
        ListRecord(TOPIC, 0, offset, b"BTC", encode(make_quote("BTC", price, ts)))
        for offset, (ts, price) in enumerate(quotes)
    ]
    store = MemoryStore()
    proc = processor(ListConsumer(records), store, max_records=37)
    reference = SymbolModel(ModelConfig())
    applied = 0
    while proc.step():
        stored = contracts.decode_view(store.values[names.ml_view_key("BTC")])
        out = None
        while applied < len(ticks) and ticks[applied][0].timestamp() <= stored["event_ts"]:
            out = reference.update(ticks[applied][0].timestamp(), ticks[applied][1])
            applied += 1
        assert out is not None
        expected = contracts.decode_view(contracts.encode(view("BTC", out, reference)))
        for key in (
            "event_ts",
            "price",
            "predictions",
            "due_ts",
            "signal",
            "forecast",
            "expected_move_pct",
            "stats",
            "accuracy",
        ):
            same(expected[key], stored[key], key)
    assert applied == len(ticks)
    same(
        reference.to_state(),
        contracts.decode_state(store.values[names.ml_state_key("BTC")])["model"],
        "state",
    )


def test_symbols_first_written_together_fall_due_spread_over_the_interval():
    """A thousand symbols' first snapshots in one batch: their next ones fall due one interval later,
    each by a phase of its own within the next interval, not all at once; from then on every
    interval, so a snapshot is never due sooner than an interval after the last."""
    due: dict[str, float] = {}
    symbols = [f"S{i:04d}" for i in range(1000)]
    for s in symbols:
        next_due(due, s, 100.0, 5.0)
    offsets = sorted(due[s] - 105.0 for s in symbols)
    assert 0 <= offsets[0] < 0.05 and 4.95 < offsets[-1] < 5.0, "spread over the whole interval"
    per_tenth = [sum(1 for o in offsets if k / 10 <= o < (k + 1) / 10) for k in range(50)]
    assert max(per_tenth) <= 50, f"at most 50 due in any tenth of a second, of a thousand: {per_tenth}"
    written = due["S0000"] + 0.01  # written a batch after it fell due
    next_due(due, "S0000", written, 5.0)
    assert due["S0000"] == written + 5.0, "its phase once: then an interval after each write"
