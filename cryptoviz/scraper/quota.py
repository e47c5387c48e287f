"""The API plans the scraper keeps to: calls a month and a minute, the poll interval that fits them,
and the month's count kept in Redis, so that a restart does not forget what was spent.

A plan's monthly budget is shared by the polls, the warm start's and `cryptoviz backfill`'s history
calls and the probes of `auto` mode. `auto_interval_s` leaves a reserve for those; `Meter` paces
every call to the month (a call is refused while more than the month's elapsed share of the budget,
plus the reserve, is spent), so an interval set too short slows down instead of running the quota
dry in a week.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import redis

from cryptoviz import logs, names
from cryptoviz.scraper.sources.base import SourceError
from cryptoviz.settings import ScraperSettings
from cryptoviz.telemetry import Telemetry

log = logs.get(names.SCRAPER)

MONTH_S = 31 * 86400  # the longest month: an interval that fits it fits every month
COUNT_TTL_S = 40 * 86400  # a month's count outlives the month, then goes


@dataclass(frozen=True)
class Plan:
    source: str
    name: str
    monthly_calls: int | None  # None: no monthly cap (CoinGecko without a key: a per-IP rate only)
    per_minute: int
    min_interval_s: float  # how often the provider refreshes its prices: a faster poll repeats them
    per_call: int = 250  # coins one call answers for

    def calls_per_cycle(self, coins: int) -> int:
        return max(1, math.ceil(coins / self.per_call))

    def reserve(self, coins: int) -> int:
        """Calls kept back from the polls: a tenth of the budget, and at least four warm starts."""
        return 0 if self.monthly_calls is None else max(4 * coins, self.monthly_calls // 10)


def coingecko_plan(settings: ScraperSettings) -> Plan:
    """CoinGecko's published limits: without a key, 5-15 calls a minute per IP (the low end taken);
    the demo key 30 a minute and 10,000 a month; a paid key COINGECKO_MONTHLY_CALLS. Prices refresh
    every 60 s on the public and demo APIs, every 30 s or faster on paid plans."""
    if settings.coingecko_api_key is None:
        return Plan("coingecko", "public", None, 5, 60.0)
    if settings.coingecko_api_plan == "demo":
        return Plan("coingecko", "demo", 10_000, 30, 60.0)
    return Plan("coingecko", "pro", settings.coingecko_monthly_calls, 500, 30.0)


def coinmarketcap_plan(settings: ScraperSettings) -> Plan:
    """CoinMarketCap's basic plan: 10,000 credits a month (COINMARKETCAP_MONTHLY_CREDITS), 30 calls
    a minute, a credit per call of up to 100 coins; prices refresh every 60 s."""
    return Plan("coinmarketcap", "key", settings.coinmarketcap_monthly_credits, 30, 60.0, per_call=100)


def auto_interval_s(plan: Plan, coins: int) -> float:
    """The shortest poll interval, in whole 10 s, whose calls fit the plan's month (after the
    reserve) and minute, and no faster than the provider refreshes."""
    per_cycle = plan.calls_per_cycle(coins)
    need = max(plan.min_interval_s, 60.0 * per_cycle / plan.per_minute)
    if plan.monthly_calls is not None:
        usable = max(1, plan.monthly_calls - plan.reserve(coins))
        need = max(need, MONTH_S * per_cycle / usable)
    return float(math.ceil(need / 10.0) * 10)


def projected_month(plan: Plan, coins: int, interval_s: float) -> int:
    """Calls a month of polls at `interval_s` makes, the reserve included."""
    return math.ceil(MONTH_S / interval_s) * plan.calls_per_cycle(coins) + plan.reserve(coins)


def over_budget_line(plan: Plan, coins: int, interval_s: float) -> str | None:
    """One loud line when an explicit interval would spend more than the plan's month, else None."""
    if plan.monthly_calls is None:
        return None
    projected = projected_month(plan, coins, interval_s)
    if projected <= plan.monthly_calls:
        return None
    days = plan.monthly_calls / (projected / 31)
    return (
        f"SCRAPE_INTERVAL_S={interval_s:g} WOULD SPEND {projected:,} {plan.source.upper()} CALLS A MONTH "
        f"AGAINST THE {plan.name} PLAN'S {plan.monthly_calls:,} ({projected / plan.monthly_calls:.1f}x, "
        f"dry after {days:.0f} days): calls are paced to the month instead; "
        f"SCRAPE_INTERVAL_S=auto polls every {auto_interval_s(plan, coins):g} s"
    )


def month_bounds(now: float) -> tuple[str, float, float]:
    """('YYYY-MM', start, end) of the UTC month holding `now` (epoch seconds)."""
    t = datetime.fromtimestamp(now, UTC)
    start = datetime(t.year, t.month, 1, tzinfo=UTC)
    end = datetime(t.year + (t.month == 12), t.month % 12 + 1, 1, tzinfo=UTC)
    return t.strftime("%Y-%m"), start.timestamp(), end.timestamp()


@dataclass
class Meter:
    """Counts one source's calls this month (in Redis, shared by restarts) and refuses a call that
    would run ahead of the month's pace, with the wait until it would not."""

    plan: Plan
    coins: int
    client: redis.Redis | None
    telemetry: Telemetry | None = None
    interval_s: float | None = None  # the poll interval, for the projection
    clock: Callable[[], float] = time.time
    _month: str = ""
    _calls: int = 0  # this month, as far as this process knows
    _unsynced: int = 0  # counted here, not yet added in Redis (it was down)
    _recent: list[float] = field(default_factory=list)  # call times of the last minute

    def __post_init__(self) -> None:
        self._load()

    def _load(self) -> None:
        self._month = month_bounds(self.clock())[0]
        self._calls, self._unsynced = 0, 0
        if self.client is None:
            return
        try:
            raw = self.client.get(names.api_calls_key(self.plan.source, self._month))
            self._calls = int(raw) if raw is not None else 0
        except (redis.RedisError, ValueError) as exc:
            log.warning("quota_count_unreadable", source=self.plan.source, error=exc)

    @property
    def calls_month(self) -> int:
        return self._calls

    def allowed_in(self) -> float:
        """Seconds until the next call keeps to the plan (0: now)."""
        return max(self._minute_wait(), self._month_wait())

    def _minute_wait(self) -> float:
        now = self.clock()
        self._recent = [t for t in self._recent if t > now - 60]
        return self._recent[0] + 60 - now if len(self._recent) >= self.plan.per_minute else 0.0

    def _month_wait(self) -> float:
        now = self.clock()
        if month_bounds(now)[0] != self._month:
            self._load()
        if self.plan.monthly_calls is None:
            return 0.0
        _, start, end = month_bounds(now)
        budget = self.plan.monthly_calls
        if self._calls + 1 > budget:
            return end - now
        # the month's pace: by time t, a share (t - start) / (end - start) of the budget, plus the reserve
        due = start + (self._calls + 1 - self.plan.reserve(self.coins)) / budget * (end - start)
        return max(0.0, due - now)

    def spend(self) -> None:
        """Count one call; when the plan says not yet, raise SourceError instead: "quota_paced" for
        the month's pace (hours, days), "minute_limit" for the calls a minute (seconds)."""
        month, minute = self._month_wait(), self._minute_wait()
        if month > 0 or minute > 0:
            kind = "quota_paced" if month > 0 else "minute_limit"
            if self.telemetry is not None:
                self.telemetry.incr(f"{kind}.{self.plan.source}")
            detail = f"{self._calls:,} calls this month" if month > 0 else f"{self.plan.per_minute} a minute"
            raise SourceError(kind, detail, retry_after=max(month, minute))
        self._recent.append(self.clock())
        self._calls += 1
        self._unsynced += 1
        self._sync()
        self.report()

    def _sync(self) -> None:
        if self.client is None:
            return
        key = names.api_calls_key(self.plan.source, self._month)
        try:
            pipe = self.client.pipeline(transaction=False)
            pipe.incrby(key, self._unsynced)
            pipe.expire(key, COUNT_TTL_S)
            total, _ = pipe.execute()
            self._calls, self._unsynced = int(total), 0
        except redis.RedisError as exc:  # kept here, added with the next call that reaches Redis
            log.warning("quota_count_not_saved", source=self.plan.source, unsynced=self._unsynced, error=exc)

    def projected(self) -> int | None:
        """This month's calls so far plus what the polls will make by its end."""
        if self.interval_s is None:
            return None
        now = self.clock()
        left = month_bounds(now)[2] - now
        return self._calls + math.ceil(left / self.interval_s) * self.plan.calls_per_cycle(self.coins)

    def report(self) -> None:
        if self.telemetry is None:
            return
        src = self.plan.source
        self.telemetry.gauge(f"quota.{src}.plan", self.plan.name)
        self.telemetry.gauge(f"quota.{src}.calls_month", self._calls)
        self.telemetry.gauge(f"quota.{src}.budget_month", self.plan.monthly_calls)
        self.telemetry.gauge(f"quota.{src}.projected_month", self.projected())
