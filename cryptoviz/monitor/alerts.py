"""Alerts in Redis: the rules the alerts page writes, their evaluation on the latest quotes and
signals, the fired alerts with their delivery status, and delivery to the webhook with retries.

An alert's id is its rule's id and the event time that fired it, set once (HSETNX): evaluating the
same quote again, or a second monitor, cannot fire it twice. Delivery is at least once to the
receiver (a lost answer is posted again, with the same id), each alert retried with backoff until
it is delivered, refused (4xx) or out of attempts.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import redis
import requests

from cryptoviz import contracts, logs, names, row_tables
from cryptoviz.contracts import AlertKind, AlertRule, FiredAlert, MLSummary
from cryptoviz.monitor import rules, webhook
from cryptoviz.retry import Backoff
from cryptoviz.telemetry import Telemetry

log = logs.get("alerts")
KEEP_FIRED = 500  # the newest fired alerts kept for the page

# A fire in one step (a script runs atomically): the alert under its id unless it is there already,
# its place in the order, the rule's state. KEYS: fired, order, states; ARGV: id, alert, fired time,
# rule id, state. An alert already there is given its place if it lacks one; returns 1 if fired.
_FIRE = row_tables.Script(
    """
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then
  redis.call('ZADD', KEYS[2], 'NX', ARGV[3], ARGV[1])
  return 0
end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
redis.call('HSET', KEYS[3], ARGV[4], ARGV[5])
return 1
"""
)


LEVELS = {  # what a level means per kind, and the range it must be in
    "price_above": ("USD", 0.0, float("inf")),
    "price_below": ("USD", 0.0, float("inf")),
    "move_1h": ("%", 0.0, 1000.0),
    "signal": ("confidence", 0.5, 1.0),
}


def new_rule(symbol: str, kind: str, level: float, now: float | None = None) -> AlertRule:
    """A rule with a fresh id; ValueError naming the problem when the kind or level is not valid."""
    if kind not in LEVELS:
        raise ValueError(f"unknown alert kind {kind!r}; one of {', '.join(LEVELS)}")
    unit, low, high = LEVELS[kind]
    if not (low < level <= high if kind != "signal" else low <= level <= high):
        raise ValueError(f"a {kind} level ({unit}) must be in ({low:g}, {high:g}], got {level:g}")
    return {
        "id": uuid.uuid4().hex[:12],
        "symbol": symbol,
        "kind": cast(AlertKind, kind),
        "level": float(level),
        "created_ts": now or time.time(),
    }


def save_rule(client: redis.Redis, rule: AlertRule) -> None:
    client.hset(names.ALERT_RULES, rule["id"], contracts.encode(rule))


def delete_rule(client: redis.Redis, rule_id: str) -> None:
    pipe = client.pipeline(transaction=False)
    pipe.hdel(names.ALERT_RULES, rule_id)
    pipe.hdel(names.ALERT_STATE, rule_id)
    pipe.execute()


def load_rules(client: redis.Redis) -> tuple[list[AlertRule], int]:
    """The rules, oldest first, and how many stored values were unreadable (skipped)."""
    out, bad = [], 0
    for raw in client.hvals(names.ALERT_RULES):
        try:
            out.append(contracts.decode_rule(raw))
        except contracts.ContractError:
            bad += 1
    return sorted(out, key=lambda r: r["created_ts"]), bad


def fired_alerts(client: redis.Redis, limit: int = 100) -> list[FiredAlert]:
    """The newest fired alerts first."""
    ids = cast(list[bytes], client.zrevrange(names.ALERT_FIRED_ORDER, 0, limit - 1))
    if not ids:
        return []
    out = []
    for raw in client.hmget(names.ALERT_FIRED, ids):
        if raw is not None:
            try:
                out.append(contracts.decode_fired(raw))
            except contracts.ContractError:
                continue
    return out


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@dataclass
class Alerts:
    """Evaluates the rules and delivers what fired: `evaluate`, then `deliver_due`, each monitor pass."""

    client: redis.Redis
    telemetry: Telemetry
    webhook_url: str | None
    max_attempts: int = 8
    timeout_s: float = 5.0
    backoff: Backoff = field(default_factory=lambda: Backoff(base_s=2.0, cap_s=300.0))
    history: rules.PriceHistory = field(default_factory=rules.PriceHistory)
    session: requests.Session = field(default_factory=requests.Session)

    def observations(self) -> dict[str, rules.Observation]:
        quotes = {_text(k): cast(bytes, v) for k, v in self.client.hgetall(names.QUOTES_LATEST).items()}
        symbols = sorted(quotes)
        summaries = self.client.mget([names.ml_summary_key(s) for s in symbols]) if symbols else []
        out = {}
        for sym, raw_summary in zip(symbols, summaries, strict=True):
            price = ts = None
            try:
                q = contracts.decode_latest(quotes[sym])
                price, ts = q.price_usd, q.event_time
                self.history.add(sym, ts, price)
            except ValueError:  # ContractError, or a timestamp that is not ISO 8601
                self.telemetry.incr("errors.quote_unreadable")
            signal: MLSummary | None = None
            if raw_summary is not None:
                try:
                    signal = contracts.decode_summary(raw_summary)
                except contracts.ContractError:
                    self.telemetry.incr("errors.summary_unreadable")
            out[sym] = rules.Observation(price, ts, self.history.move_pct(sym), signal)
        return out

    def evaluate(self, now: float | None = None) -> list[FiredAlert]:
        """Every rule against the latest observations; returns the alerts fired now."""
        now = now or time.time()
        all_rules, bad = load_rules(self.client)
        if bad:
            self.telemetry.incr("errors.rule_unreadable", bad)
        seen = self.observations()
        states = {_text(k): _text(v) for k, v in self.client.hgetall(names.ALERT_STATE).items()}
        fired = []
        for rule in all_rules:
            obs = seen.get(rule["symbol"])
            if obs is None:
                continue
            held, value = rules.token(rule, obs)
            if value is None:  # not known now (no price, no hour of prices since a restart, no
                continue  # signal while the processor is away): the rule's state stands
            previous = states.get(rule["id"])
            if rules.fires(previous, held):
                event_ts = obs.signal["event_ts"] if rule["kind"] == "signal" and obs.signal else obs.event_ts
                alert = self._fire(rule, held, value, obs.price, event_ts or now, now)
                if alert is not None:
                    fired.append(alert)
            if previous != held:
                self.client.hset(names.ALERT_STATE, rule["id"], held)
        return fired

    def _fire(
        self, rule: AlertRule, held: str, value: float, price: float | None, event_ts: float, now: float
    ) -> FiredAlert | None:
        alert: FiredAlert = {
            "id": f"{rule['id']}:{int(event_ts)}",
            "rule_id": rule["id"],
            "symbol": rule["symbol"],
            "kind": rule["kind"],
            "message": rules.message(rule, held, value, price),
            "value": value,
            "event_ts": event_ts,
            "fired_ts": now,
            "status": "pending" if self.webhook_url else "not_sent",
            "attempts": 0,
            "next_try_ts": now,
            "last_error": None,
            "delivered_ts": None,
        }
        keys = (names.ALERT_FIRED, names.ALERT_FIRED_ORDER, names.ALERT_STATE)
        if not _FIRE(self.client, keys, (alert["id"], contracts.encode(alert), now, rule["id"], held)):
            self.telemetry.incr("alerts_duplicate")  # fired for this event already
            return None
        self._trim()
        self.telemetry.incr(f"alerts_fired.{rule['kind']}")
        log.info("alert_fired", alert=alert["id"], symbol=rule["symbol"], message=alert["message"])
        return alert

    def _trim(self) -> None:
        old = cast(list[bytes], self.client.zrange(names.ALERT_FIRED_ORDER, 0, -KEEP_FIRED - 1))
        if old:
            pending = 0
            for raw in self.client.hmget(names.ALERT_FIRED, old):
                with contextlib.suppress(contracts.ContractError):  # unreadable: no status to tell
                    pending += raw is not None and contracts.decode_fired(raw)["status"] == "pending"
            if pending:  # not delivered yet, and never will be: counted, said
                self.telemetry.incr("alerts_dropped_undelivered", pending)
                log.warning("alerts_dropped_undelivered", alerts=pending, kept=KEEP_FIRED)
            pipe = self.client.pipeline(transaction=False)
            pipe.zrem(names.ALERT_FIRED_ORDER, *old)
            pipe.hdel(names.ALERT_FIRED, *old)
            pipe.execute()

    def deliver_due(self, stopping: Callable[[], bool] = lambda: False, now: float | None = None) -> int:
        """Post every pending alert whose next try is due; returns how many were delivered."""
        if not self.webhook_url:
            return 0
        delivered = 0
        for alert in fired_alerts(self.client, KEEP_FIRED):
            if stopping():
                break
            t = now or time.time()
            if alert["status"] == "pending" and alert["next_try_ts"] <= t:
                delivered += self._deliver(alert, self.webhook_url, t)
                self.client.hset(names.ALERT_FIRED, alert["id"], contracts.encode(alert))
        return delivered

    def _deliver(self, alert: FiredAlert, url: str, t: float) -> bool:
        """One try; updates the alert's status, attempts, next try and error in place."""
        outcome = webhook.post(self.session, url, alert, self.timeout_s)
        alert["attempts"] += 1
        if outcome.delivered:
            alert["status"], alert["delivered_ts"], alert["last_error"] = "delivered", t, None
            self.telemetry.incr("alerts_delivered")
            return True
        error = outcome.error or "unknown"
        alert["last_error"] = error
        self.telemetry.incr(f"errors.webhook.{error.replace(' ', '_')}")
        if not outcome.retry or alert["attempts"] >= self.max_attempts:
            alert["status"] = "failed"
            self.telemetry.incr("alerts_failed")
            log.error("alert_not_delivered", alert=alert["id"], error=error, tries=alert["attempts"])
            return False
        wait = self.backoff.delay(alert["attempts"], outcome.retry_after_s)
        alert["next_try_ts"] = t + wait
        log.warning("alert_delivery_failed", alert=alert["id"], error=error, retry_in_s=round(wait, 1))
        return False
