"""Each coin's hourly CoinGecko market chart, published through the same path: the scraper's warm
start (`scraper.warmstart`) and `cryptoviz backfill`.

One request per coin (CoinGecko gives hourly points for 2 to 90 days). Given a lake reader, hours
the lake already holds for a coin are not published again, so a backfill that stopped half way
resumes where it was; without one (the scraper's image reads no Parquet) they are, and the lake
job keeps each (symbol, time) once. A 429 waits for Retry-After, a 5xx or timeout backs off with
jitter, a coin that keeps failing is reported and the others go on; a 4xx other than 429, or a call
the plan's monthly pace refuses (`scraper.quota`), fails its coin at once. A coin whose history the
broker did not take (after the publisher's own retries) is reported as not delivered, and the
others go on; a stop ends the backfill there.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, Protocol

from cryptoviz import logs
from cryptoviz.interfaces import NotDelivered
from cryptoviz.retry import Backoff, Stopped, retry
from cryptoviz.schema import Quote
from cryptoviz.scraper.publisher import QuoteSink
from cryptoviz.scraper.sources.base import FetchResult, SourceError
from cryptoviz.scraper.sources.coingecko import CoinGecko
from cryptoviz.service import Stop


class History(Protocol):
    """What the backfill reads of the lake (`lake.reader.LakeReader`): a symbol's rows since a time."""

    def history(
        self, symbols: list[str], start: datetime | None = None, end: datetime | None = None
    ) -> Any: ...


log = logs.get("backfill")
CHUNK = 500


# failures that waiting a few seconds does not mend: the plan's month spent as far as its pace
# allows (scraper.quota), or a 4xx other than 429 (a coin the API does not know, a bad key)
FINAL = ("quota_paced", "client_error")


class GaveUp(Exception):
    """A fetch failed in a way a retry would not mend (FINAL)."""

    def __init__(self, exc: SourceError) -> None:
        super().__init__(str(exc))
        self.error = exc


def _unless_final(fetch: Callable[[], FetchResult]) -> FetchResult:
    try:
        return fetch()
    except SourceError as exc:
        if exc.kind in FINAL:
            raise GaveUp(exc) from None
        raise


@dataclass
class BackfillReport:
    published: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)  # hours the lake already had
    rejected: dict[str, int] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)  # symbol -> last error kind

    def merge(self, other: BackfillReport) -> None:
        """Take in another run's symbols (the warm start runs one per number of days)."""
        self.published.update(other.published)
        self.skipped.update(other.skipped)
        self.rejected.update(other.rejected)
        self.failed.update(other.failed)


def hour(ts: datetime) -> datetime:
    return ts.replace(minute=0, second=0, microsecond=0)


def hours_in_lake(reader: History | None, symbol: str, since: datetime) -> set[datetime]:
    if reader is None:
        return set()
    frame = reader.history([symbol], since, None)
    return {hour(ts.to_pydatetime()) for ts in frame["source_ts"]}


def backfill(
    source: CoinGecko,
    publisher: QuoteSink,
    symbols: list[str],
    days: int,
    lake: History | None,
    attempts: int = 5,
    backoff: Backoff | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_symbol: Callable[[str], None] | None = None,
    stop: Stop | None = None,
) -> BackfillReport:
    """Each symbol's history in event order, CHUNK quotes a write; a stop set meanwhile ends the
    wait for a retry and leaves the symbols not yet fetched out of the report."""
    report = BackfillReport()
    backoff = backoff or Backoff()

    def wait(seconds: float) -> bool:
        if stop is not None:
            return stop.wait(seconds)
        sleep(seconds)
        return False

    for symbol in symbols:
        if stop:
            break
        try:
            result = _fetch(source, symbol, days, attempts, backoff, wait)
        except Stopped:
            break
        except (SourceError, GaveUp) as exc:
            error = exc.error if isinstance(exc, GaveUp) else exc
            log.warning("backfill_gave_up", symbol=symbol, kind=error.kind, detail=error.detail)
            report.failed[symbol] = error.kind
            if on_symbol:
                on_symbol(symbol)
            continue
        try:
            _publish(publisher, report, symbol, result, lake)
        except NotDelivered as exc:  # the broker away past the publisher's retries, or stopping
            log.warning("backfill_not_delivered", symbol=symbol, error=str(exc)[:200])
            report.failed[symbol] = "not_delivered"
            if stop:
                break
        if on_symbol:
            on_symbol(symbol)
    return report


def _fetch(
    source: CoinGecko,
    symbol: str,
    days: int,
    attempts: int,
    backoff: Backoff,
    wait: Callable[[float], bool],
) -> FetchResult:
    """A symbol's market chart, retried on a SourceError (each failure logged) up to `attempts` times;
    raises GaveUp at once on a FINAL kind, Stopped when `wait` says stop."""

    def failed(attempt: int, exc: Exception, delay: float) -> None:
        kind = exc.kind if isinstance(exc, SourceError) else type(exc).__name__
        log.warning(
            "backfill_fetch_failed", symbol=symbol, kind=kind, attempt=attempt, retry_in_s=round(delay, 1)
        )

    return retry(
        partial(_unless_final, partial(source.market_chart, symbol, days)),
        retry_on=(SourceError,),
        backoff=backoff,
        wait=wait,
        attempts=attempts,
        retry_after=lambda exc: exc.retry_after if isinstance(exc, SourceError) else None,
        on_failure=failed,
    )


def _publish(
    publisher: QuoteSink, report: BackfillReport, symbol: str, result: FetchResult, lake: History | None
) -> None:
    """Write a symbol's quotes for hours the lake lacks, one per hour, and count them in the report."""
    earliest = min((hour(q.source_ts) for q in result.quotes), default=None)
    have = hours_in_lake(lake, symbol, earliest) if earliest else set()
    fresh = _one_per_new_hour(result.quotes, have)
    for start in range(0, len(fresh), CHUNK):
        publisher.write(fresh[start : start + CHUNK])
    report.published[symbol] = len(fresh)
    report.skipped[symbol] = len(result.quotes) - len(fresh)
    report.rejected[symbol] = sum(result.rejects.values())
    log.info(
        "backfilled",
        symbol=symbol,
        published=len(fresh),
        skipped=report.skipped[symbol],
        rejected=report.rejected[symbol],
    )


def _one_per_new_hour(quotes: list[Quote], have: set[datetime]) -> list[Quote]:
    """The first quote of each hour not in `have`, in the order given."""
    seen: set[datetime] = set()
    fresh: list[Quote] = []
    for q in quotes:
        h = hour(q.source_ts)
        if h in have or h in seen:
            continue
        seen.add(h)
        fresh.append(q)
    return fresh
