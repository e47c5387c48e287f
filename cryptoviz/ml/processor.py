"""The ML processor loop: consume a batch, update the models, store the result, then commit offsets.

Written against `cryptoviz.interfaces` (a Consumer, DeadLetters) and `ml.store.StateStore`: the
service passes Kafka and Redis, unit tests the in-memory doubles, and `step` is the same code.

Exactly-once scoring across restarts: each symbol's snapshot in Redis carries the offset of the
last message it includes, written in the same transaction as the predictions. A message at or below
that offset (replayed after a crash between the Redis write and the commit) is skipped.

Snapshots may be spaced out (`snapshot_interval_s`; a symbol's is written at most that often, the
symbols' spread over the interval by `next_due`, and at stop): a snapshot is about 40 KB, a view a
fifth of that. The committed offset of a partition then stays at the first message some symbol's
snapshot does not include yet, so whatever a crash, a rebalance or a refused batch loses from
memory is read again from the broker and applied onto the snapshot, and what the snapshot already
holds is skipped as above.
"""

from __future__ import annotations

import math
import time
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import TypeVar

import numpy as np
import redis
from kafka import OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError

from cryptoviz import bus, logs, names
from cryptoviz.contracts.topics import STREAMING
from cryptoviz.interfaces import Consumer, DeadLetters, NotDelivered, Record
from cryptoviz.ml.group import IDLE_POLL_MS, idle_pause
from cryptoviz.ml.store import Changes, MLBatch, Snapshots, StateStore, Views
from cryptoviz.models.book import BookModel, ModelBook
from cryptoviz.models.engine import ModelConfig
from cryptoviz.models.layout import OUT_OK, OUT_SCORED
from cryptoviz.retry import Backoff, Stopped, retry
from cryptoviz.schema import MAX_FUTURE_S, InvalidQuote, Quote, internal_error
from cryptoviz.service import Stop
from cryptoviz.telemetry import Telemetry

log = logs.get(names.ML_PROCESSOR)
T = TypeVar("T")

COMMIT_TIMEOUT_MS = 3000  # a commit that cannot reach the broker gives up (the snapshots keep the offsets)
POLL_TIMEOUT_MS = 500  # a poll waits this long for records, fetching again as each fetch comes back empty
LAG_TIMEOUT_MS = 200  # a lag figure is not worth blocking the loop, above all with the broker away


def next_due(due: dict[str, float], symbol: str, now: float, interval_s: float) -> None:
    """The symbol's next write of a kind (snapshot, view) `interval_s` after this one, `now`. After
    its first, later by a phase of its own, a fraction of the interval taken from its name: symbols
    first seen in one batch would otherwise all fall due in one batch, again every interval (with
    a thousand symbols, a batch that stalls the stream while it builds every snapshot), where spread
    out each batch writes a few."""
    phase = 0.0 if symbol in due else interval_s * zlib.crc32(symbol.encode()) / 2**32
    due[symbol] = now + interval_s + phase


# a member that has not polled for this share of the group's poll interval takes itself for gone
# from the group (kafka-python leaves it at the whole interval; too early costs a batch read again)
LEFT_GROUP_AFTER = 0.8


class LeftGroup(Exception):
    """This member waited on Redis past the group's poll interval: its partitions may be another
    member's now, with newer snapshots than its own. It writes nothing more of what it holds
    (a snapshot of its would go back to older offsets), and reads again as a new member."""


class BatchNotDone(Exception):
    """The broker did not take the batch's dead letters: nothing of it is stored or committed, and
    it is read again."""


class Processor:
    def __init__(
        self,
        consumer: Consumer,
        dead_letters: DeadLetters,
        store: StateStore,
        telemetry: Telemetry,
        config: ModelConfig,
        symbols: Collection[str] | None = None,
        max_records: int = 2000,
        max_future_s: float = MAX_FUTURE_S,
        snapshot_interval_s: float = 0.0,
        idle_wait_s: float = 0.0,
        view_interval_s: float = 0.0,
        on_busy: Callable[[bool], None] | None = None,
        max_poll_interval_s: float = bus.MAX_POLL_INTERVAL_MS / 1000,
    ) -> None:
        self.consumer = consumer
        self.max_poll_interval_s = max_poll_interval_s
        self.polled_at = time.monotonic()
        self.dead_letters = dead_letters
        self.store = store
        self.telemetry = telemetry
        self.config = config
        self.symbols = symbols
        self.max_records = max_records
        self.max_future_s = max_future_s
        self.stop = Stop()  # run() replaces it with the service's
        self.book = ModelBook(config)  # every symbol's models, run by the compiled core
        self.positions: dict[str, tuple[int, int]] = {}  # symbol -> (partition, offset) its model includes
        self.backoff = Backoff(base_s=0.5, cap_s=30)
        self.dlq_failures = 0
        self.dead_lettered: Counter[str] = Counter()  # this batch's, by reason: counted once acknowledged
        self.poll_failures = 0
        self.oldest_ingest: datetime | None = None  # of the oldest quote applied in this batch
        self.snapshot_interval_s = snapshot_interval_s
        self.idle_wait_s = idle_wait_s  # the pause between polls once the stream is quiet (idle_pause)
        # told False at a poll that brought no record after one that did (a poll waits up to
        # POLL_TIMEOUT_MS for them), True at the next that brings some: the service sets its
        # consumer's fetch wait by it
        self.on_busy = on_busy or (lambda busy: None)
        # symbol -> (partition, offset) of the first message applied since its last snapshot
        self.unsaved: dict[str, tuple[int, int]] = {}
        self.snapshot_due: dict[str, float] = {}  # symbol -> when its next snapshot is due (monotonic)
        self.view_interval_s = view_interval_s
        self.unviewed: Views = {}  # symbol -> its newest output and model, once its view is not written
        self.view_due: dict[str, float] = {}  # symbol -> when its next view is due (monotonic)
        self.held_back: dict[TopicPartition, OffsetAndMetadata] = {}  # offsets read, not yet committed
        self.committed: dict[TopicPartition, int] = {}  # what this processor last committed

    def drop_unsaved(self, starts: Mapping[TopicPartition, int] | None = None) -> None:
        """Forget every model, each partition back to the first message no snapshot holds (or to
        `starts`, if earlier): whoever reads the partition next, this member too, applies the rest
        again onto the snapshots."""
        back = dict(starts or {})
        for tp, first in self._firsts_unsaved(list(self.consumer.assignment())).items():
            back[tp] = min(first, back.get(tp, first))
        for tp, offset in back.items():
            self.consumer.seek(tp, offset)
        self.forget()

    def forget(self) -> None:
        """Drop every model and what it held unsaved (they reload from their snapshots)."""
        self.book.forget()
        self.positions.clear()
        self.unsaved.clear()
        self.unviewed.clear()
        self.held_back.clear()
        self.committed.clear()

    def _position(self, symbol: str) -> tuple[int, int]:
        """The (partition, offset) the symbol's model includes; on first sight its model is loaded
        from its snapshot (or starts afresh)."""
        position = self.positions.get(symbol)
        if position is None:
            saved = self._with_retry(lambda: self.store.load(symbol), "load_state")
            position = (-1, -1)
            if saved:
                self._restore(symbol, saved["model"])
                position = (saved["partition"], saved["offset"])
            self.positions[symbol] = position
        return position

    def _restore(self, symbol: str, state: dict) -> None:
        """Load the model a snapshot holds; a snapshot this code cannot read (its shape changed
        without a new STATE_VERSION, or it is damaged) is counted and the model starts afresh: it
        must never turn every later message of the symbol into a dead letter. Whatever the load
        raises counts so (a list where a mapping was, a number past a float's range): it reads no
        server, so no error of its is one to wait out."""
        try:
            self.book.load(symbol, state)
        except Exception as exc:
            self.telemetry.incr("errors.state_unreadable")
            log.warning("state_unreadable_starting_afresh", symbol=symbol, error=repr(exc)[:300])
            return
        self.telemetry.incr("states_restored")

    def process(self, records: Sequence[Record], changed: Changes) -> None:
        """Apply a partition's records; what changed (symbol -> output, model, position) goes to `changed`.

        Each record is decoded and checked by the contract, then the quotes go through the compiled
        core in one call. A record that fails, by the contract or by an unexpected exception while
        handling it alone, goes to the dead-letter topic with its reason and is passed: it never
        stops the batch. The records' event times are checked against one clock reading (a quote
        too far ahead of it is refused), taken once for the batch."""
        ticks: list[tuple[Record, Quote, int]] = []
        now = datetime.now(UTC)
        for rec in records:
            try:
                tick = self._accept(rec, now)
            except InvalidQuote as exc:
                self._dead_letter(rec, exc.reason, exc.detail)
            except (redis.RedisError, Stopped, BatchNotDone):
                raise  # a server is down or we are stopping: the batch is not done, nothing is passed
            except Exception as exc:
                self._dead_letter(rec, internal_error(exc), repr(exc)[:300])
            else:
                if tick is not None:
                    ticks.append(tick)
        if ticks:
            self._apply(ticks, changed)

    def _accept(self, rec: Record, now: datetime) -> tuple[Record, Quote, int] | None:
        """The record's quote and its symbol's row in the book; None if its model already has it."""
        quote = STREAMING.decode(rec.value, self.symbols, now, self.max_future_s)
        # keyless too: a symbol's ticks in one partition is what keeps them in order, and one
        # member's (the commit held back per symbol assumes it)
        if rec.key is None or rec.key.decode("utf-8", "replace") != quote.symbol:
            raise InvalidQuote("key_mismatch", f"key {rec.key!r} for {quote.symbol}")
        part, offset = self._position(quote.symbol)
        if part == rec.partition and rec.offset <= offset:
            self.telemetry.incr("skipped_already_applied")
            return None
        self.positions[quote.symbol] = (rec.partition, rec.offset)
        return rec, quote, self.book.row(quote.symbol)

    def _apply(self, ticks: list[tuple[Record, Quote, int]], changed: Changes) -> None:
        n = len(ticks)
        rows = np.fromiter((row for _, _, row in ticks), dtype=np.int64, count=n)
        ts = np.fromiter((q.event_time for _, q, _ in ticks), dtype=np.float64, count=n)
        prices = np.fromiter((q.price_usd for _, q, _ in ticks), dtype=np.float64, count=n)
        out = self.book.apply(rows, ts, prices)
        latest: dict[str, int] = {}  # symbol -> its last tick that was applied
        scored = 0
        for k, (rec, quote, _) in enumerate(ticks):
            if not out[k, OUT_OK]:
                self.telemetry.incr("skipped_not_newer")
                continue
            scored += int(out[k, OUT_SCORED])
            latest[quote.symbol] = k
            self.unsaved.setdefault(quote.symbol, (rec.partition, rec.offset))
            if self.oldest_ingest is None or quote.ingest_ts < self.oldest_ingest:
                self.oldest_ingest = quote.ingest_ts
        self.telemetry.incr("scored", scored)
        for symbol, k in latest.items():
            rec, quote, _ = ticks[k]
            output = self.book.output(out[k], quote.event_time, quote.price_usd)
            assert output is not None  # the tick was applied
            changed[symbol] = (output, BookModel(self.book, symbol, out[k]), (rec.partition, rec.offset))

    def _dead_letter(self, rec: Record, reason: str, detail: str) -> None:
        self.dead_lettered[reason] += 1
        log.warning("dead_letter", reason=reason, detail=detail, partition=rec.partition, offset=rec.offset)
        try:
            self.dead_letters.send(rec, reason, detail)
        except NotDelivered as exc:
            raise BatchNotDone(str(exc)) from None

    def _deliver_dead_letters(self) -> None:
        """Wait for the broker to acknowledge this batch's dead letters (the wait looks at the stop
        signal); BatchNotDone if one was refused, Stopped if asked to stop."""
        try:
            if not self.dead_letters.deliver(lambda: bool(self.stop)):
                raise Stopped("dead letters")
        except NotDelivered as exc:
            raise BatchNotDone(str(exc)) from None
        for reason, n in self.dead_lettered.items():
            self.telemetry.incr(f"dead_letter.{reason}", n)

    def _rewind(self, batch: Mapping[TopicPartition, Sequence[Record]], exc: BatchNotDone) -> None:
        """Read the batch again, and what earlier batches applied that no snapshot holds yet: each
        partition back to the first such record, and the models dropped so they reload from their
        Redis snapshots (which this batch never reached)."""
        self.drop_unsaved({tp: records[0].offset for tp, records in batch.items()})
        self.dead_lettered.clear()  # sent again, and counted, with the batch read again
        self.dlq_failures += 1
        self.telemetry.incr("errors.dead_letter_not_acknowledged")
        delay = self.backoff.delay(self.dlq_failures)
        log.warning(
            "dead_letters_not_acknowledged_batch_read_again", error=str(exc), retry_in_s=round(delay, 2)
        )
        if self.stop.wait(delay):
            raise Stopped("dead letters")

    def step(self, timeout_ms: int = POLL_TIMEOUT_MS) -> int:
        """One poll -> models -> Redis -> commit. Returns the number of records consumed."""
        try:
            return self._step(timeout_ms)
        except LeftGroup as exc:
            self.telemetry.incr("errors.left_group")
            log.warning("left_the_group_batch_dropped", waited_s=round(exc.args[0], 1))
            self.drop_unsaved()  # read again from what the snapshots hold, by whoever owns it now
            return 0

    def _step(self, timeout_ms: int) -> int:
        try:
            self.polled_at = time.monotonic()
            batch = self.consumer.poll(timeout_ms=timeout_ms, max_records=self.max_records)
        except KafkaError as exc:  # the coordinator or the partitions' leader is away
            self.poll_failures += 1
            self.telemetry.incr("errors.poll")
            delay = self.backoff.delay(self.poll_failures)
            log.warning("poll_failed_retrying", error=exc, retry_in_s=round(delay, 2))
            self.stop.wait(delay)  # a stop meanwhile ends `run`'s loop, which flushes what Redis takes
            return 0
        self.poll_failures = 0
        if not batch:  # a quiet stream still gets its snapshots (and its commit) and views in time
            due = self._due()
            self._store({}, due)
            if due:
                self._commit({})
            return 0
        t0 = time.perf_counter()
        self.oldest_ingest = None
        self.dead_lettered.clear()
        changed: Changes = {}
        n = 0
        offsets: dict[TopicPartition, OffsetAndMetadata] = {}
        try:
            for tp, records in batch.items():
                n += len(records)
                self.process(records, changed)
                offsets[tp] = OffsetAndMetadata(records[-1].offset + 1, "", -1)
            self._deliver_dead_letters()
        except BatchNotDone as exc:
            self._rewind(batch, exc)
            return 0
        self.dlq_failures = 0
        t1 = time.perf_counter()
        self._store(changed, self._due())
        t2 = time.perf_counter()
        self._commit(offsets)
        t3 = time.perf_counter()
        # where a batch's time goes: the models, the Redis write, the commit
        self.telemetry.observe("ml_models", t1 - t0)
        self.telemetry.observe("ml_store", t2 - t1)
        self.telemetry.observe("ml_commit", t3 - t2)
        elapsed_ms = (t3 - t0) * 1000
        self.telemetry.incr("ticks_in", n)
        self.telemetry.incr("predictions_out", len(changed))
        self.telemetry.gauge("batch_latency_ms", round(elapsed_ms, 2))
        self.telemetry.observe("ml_batch", elapsed_ms / 1000)
        if changed and self.oldest_ingest is not None:  # the batch's oldest quote: scraped -> stored
            waited = max(0.0, time.time() - self.oldest_ingest.timestamp())
            self.telemetry.gauge("quote_to_prediction_ms", round(waited * 1000, 1))
            self.telemetry.observe("quote_to_prediction", waited)
        self.telemetry.gauge("symbols", len(self.book))
        return n

    def _due(self, everything: bool = False) -> list[str]:
        """The symbols whose snapshot is to be written now."""
        now = time.monotonic()
        return [s for s in self.unsaved if everything or now >= self.snapshot_due.get(s, -math.inf)]

    def _views_due(self, everything: bool = False) -> Views:
        """The views to write now: each symbol's at most every view_interval_s, of its newest output."""
        now = time.monotonic()
        return {
            s: v for s, v in self.unviewed.items() if everything or now >= self.view_due.get(s, -math.inf)
        }

    def _store(self, changed: Changes, due: list[str], every_view: bool = False) -> None:
        """Summaries and cards of what changed, the views that are due, the snapshots `due`."""
        self.unviewed.update({s: (out, model) for s, (out, model, _) in changed.items()})
        views = self._views_due(every_view)
        if not changed and not due and not views:
            return
        snapshots: Snapshots = {s: (BookModel(self.book, s), self.positions[s]) for s in due}
        batch = MLBatch(changed, snapshots, views)
        self._with_retry(lambda: self.store.write(batch), "write_batch", fenced=True)
        now = time.monotonic()
        for s in due:
            del self.unsaved[s]
            next_due(self.snapshot_due, s, now, self.snapshot_interval_s)
        for s in views:
            del self.unviewed[s]
            next_due(self.view_due, s, now, self.view_interval_s)
        self.telemetry.incr("snapshots_written", len(due))
        self.telemetry.incr("views_written", len(views))

    def _firsts_unsaved(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        """Of these partitions, those with messages no snapshot holds yet -> the first of them."""
        by_partition = {tp.partition: tp for tp in tps}
        firsts: dict[TopicPartition, int] = {}
        for partition, offset in self.unsaved.values():
            tp = by_partition.get(partition)
            if tp is not None:
                firsts[tp] = min(offset, firsts.get(tp, offset))
        return firsts

    def flush(self) -> None:
        """Write every snapshot and view not written yet, then commit what was held back (at stop)."""
        self._store({}, self._due(everything=True), every_view=True)
        self._commit({})

    def _commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        """Commit after the write, each partition at most up to the first message a snapshot does
        not include yet (the rest is held back until it does). A failure is counted, never fatal:
        the Redis snapshots carry the offsets they include, so whatever is read again after an
        uncommitted batch is skipped."""
        self.held_back.update(offsets)
        firsts = self._firsts_unsaved(list(self.held_back))
        capped = {}
        for tp, meta in self.held_back.items():
            first = firsts.get(tp)
            capped[tp] = meta if first is None or first >= meta.offset else OffsetAndMetadata(first, "", -1)
        due = {tp: m for tp, m in capped.items() if self.committed.get(tp) != m.offset}
        if due:
            try:
                self.consumer.commit(due, timeout_ms=COMMIT_TIMEOUT_MS)
            except KafkaError as exc:  # all held back still: the next commit, or the stop's, tries again
                self.telemetry.incr("errors.commit")
                log.warning("commit_failed_offsets_kept_in_redis", error=exc)
                return
            self.committed.update({tp: m.offset for tp, m in due.items()})
        self.held_back = {tp: m for tp, m in self.held_back.items() if capped[tp].offset < m.offset}

    def _with_retry(self, fn: Callable[[], T], what: str, fenced: bool = False) -> T:
        """fn() until Redis answers; Stopped when asked to stop meanwhile (the batch is then not
        committed, and is read again by whoever owns the partition next). `fenced` (a write of what
        this member holds): LeftGroup once it has waited so long that the group has let it go."""

        def wait(delay: float) -> bool:
            if self.stop.wait(delay):
                return True
            waited = time.monotonic() - self.polled_at
            if fenced and waited > LEFT_GROUP_AFTER * self.max_poll_interval_s:
                raise LeftGroup(waited)
            return False

        def failed(failures: int, exc: Exception, delay: float) -> None:
            self.telemetry.incr("errors.redis")
            log.warning(
                "redis_unavailable_retrying",
                op=what,
                failures=failures,
                retry_in_s=round(delay, 2),
                error=exc,
            )

        return retry(fn, retry_on=(redis.RedisError,), backoff=self.backoff, wait=wait, on_failure=failed)

    def lag(self) -> int | None:
        """Records behind the end of the assigned partitions, from what the last fetches said; None
        when that is not known without asking a broker that does not answer at once."""
        total = 0
        try:
            for tp in self.consumer.assignment():
                hw = self.consumer.highwater(tp)
                if hw is not None:
                    total += max(0, hw - self.consumer.position(tp, timeout_ms=LAG_TIMEOUT_MS))
        except KafkaError:
            return None
        return total

    def run(self, stop: Stop) -> None:
        self.stop = stop
        self.telemetry.publish("running")
        try:
            quiet_since, timeout_ms, busy = time.monotonic(), POLL_TIMEOUT_MS, True
            while not stop:
                got = self.step(timeout_ms) > 0
                if got:
                    quiet_since, pause = time.monotonic(), 0.0
                else:  # a member without partitions is joining the group: that takes polls that wait
                    quiet_s = time.monotonic() - quiet_since
                    pause = idle_pause(quiet_s, self.idle_wait_s) if self.consumer.assignment() else 0.0
                if got != busy:
                    busy = got
                    self.on_busy(busy)
                if pause:  # quiet: about one fetch a pause (a poll that waits sends one after another)
                    stop.wait(pause)
                timeout_ms = IDLE_POLL_MS if pause else POLL_TIMEOUT_MS
                if self.telemetry.counters and not stop:
                    self.telemetry.gauge("lag", self.lag())
                self.telemetry.maybe_publish()
            self.flush()
        except Stopped as exc:
            log.warning("stopped_before_the_batch_was_committed", waiting_for=str(exc))
        except LeftGroup as exc:  # at the stop's flush: what it held is another member's to write
            log.warning("stopped_after_leaving_the_group", waited_s=round(exc.args[0], 1))
        log.info("stopping_after_last_batch", signal=stop.signal)
