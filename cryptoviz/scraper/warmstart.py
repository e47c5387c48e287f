"""The scraper's warm start: before the first live poll, each coin whose model has no recent state
gets the hourly history CoinGecko gives (`/coins/{id}/market_chart`), published in event order, so
the models learn it before the coin's first live quote and a fresh install forecasts from what was
learnt within minutes instead of hours.

"No recent state" is read from the ML processor's index (`ml:symbols`: each symbol's latest
modelled event time): a coin never modelled gets BACKFILL_DAYS; a coin last modelled more than
STALE_AFTER_S ago gets the days since (at most BACKFILL_DAYS, at least two: CoinGecko gives hourly
points from two days on), so an install that was off for a while fills the gap. A model drops quotes
older than its latest, and the lake keeps each (symbol, time) once, so history sent twice (a restart
before the processor caught up) costs calls, never a duplicate.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable

import redis

from cryptoviz import logs, names
from cryptoviz.scraper.backfill import BackfillReport, backfill
from cryptoviz.scraper.publisher import QuoteSink
from cryptoviz.scraper.sources.coingecko import CoinGecko
from cryptoviz.service import Stop
from cryptoviz.telemetry import Telemetry

log = logs.get(names.SCRAPER)

STALE_AFTER_S = 2 * 3600.0
MIN_DAYS = 2


def last_modelled(client: redis.Redis | None, symbols: list[str]) -> dict[str, float | None]:
    """Each symbol's latest modelled event time (epoch s), None when it has none or Redis is down."""
    if client is None:
        return dict.fromkeys(symbols)
    try:
        pipe = client.pipeline(transaction=False)
        for sym in symbols:
            pipe.zscore(names.ML_INDEX, sym)
        scores = pipe.execute()
    except redis.RedisError as exc:
        log.warning("warm_start_index_unreadable", error=exc)
        return dict.fromkeys(symbols)
    return {sym: (float(s) if s is not None else None) for sym, s in zip(symbols, scores, strict=True)}


def days_to_fetch(last: float | None, now: float, max_days: int) -> int | None:
    """Days of history a coin needs, None when its model is recent enough."""
    if last is None:
        return max_days
    gap = now - last
    if gap < STALE_AFTER_S:
        return None
    return min(max_days, max(MIN_DAYS, math.ceil(gap / 86400)))


def warm_start(
    source: CoinGecko,
    publisher: QuoteSink,
    symbols: list[str],
    max_days: int,
    client: redis.Redis | None,
    telemetry: Telemetry,
    stop: Stop,
    now: float | None = None,
    on_symbol: Callable[[str], None] | None = None,
) -> BackfillReport:
    """Publish the history each coin needs; failures are logged and counted, never fatal (the live
    polls start all the same). `on_symbol(coin)` is called once a coin is done with: at once for a
    coin that needs no history, else after its history is published or its fetch failed."""
    now = time.time() if now is None else now
    done = on_symbol or (lambda symbol: None)
    need: dict[int, list[str]] = defaultdict(list)
    for sym, last in last_modelled(client, symbols).items():
        days = days_to_fetch(last, now, max_days)
        if days is None:
            done(sym)
        else:
            need[days].append(sym)
    report = BackfillReport()
    if not need:
        log.info("warm_start_not_needed", symbols=",".join(symbols))
        return report
    telemetry.publish("warming up")
    for days, group in sorted(need.items(), reverse=True):
        log.info("warm_start", days=days, symbols=",".join(group))
        report.merge(backfill(source, publisher, group, days, None, attempts=3, on_symbol=done, stop=stop))
    published = sum(report.published.values())
    telemetry.incr("warm_start.quotes", published)
    for sym, kind in report.failed.items():
        telemetry.incr(f"warm_start.failed.{kind}")
        log.warning("warm_start_failed", symbol=sym, kind=kind)
    log.info("warm_start_done", quotes=published, symbols=len(report.published), failed=len(report.failed))
    return report
