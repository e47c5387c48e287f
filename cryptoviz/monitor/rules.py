"""Alert rules evaluated on what the platform already publishes (no I/O here).

A rule fires on a change, never on what merely still holds: each evaluation gives a token ("" when
the condition does not hold, else what holds: "above", "up", "BUY", ...), and the rule fires when
the token changes to a non-empty one. The first evaluation of a new rule records its token without
firing, so a rule made while the price is already above its level waits for the next crossing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from cryptoviz.contracts import AlertRule, MLSummary

HOUR_S = 3600.0


class PriceHistory:
    """Each symbol's (event time, price) seen over the last `keep_s` of event time, to measure the
    move over the last hour: against the newest price at or before an hour ago."""

    def __init__(self, keep_s: float = 2 * HOUR_S) -> None:
        self.keep_s = keep_s
        self.points: dict[str, deque[tuple[float, float]]] = {}

    def add(self, symbol: str, ts: float, price: float) -> None:
        points = self.points.setdefault(symbol, deque())
        if points and ts <= points[-1][0]:
            return  # not newer: the same quote seen again, or an older one
        points.append((ts, price))
        while len(points) > 1 and points[1][0] <= ts - self.keep_s:
            points.popleft()

    def move_pct(self, symbol: str, horizon_s: float = HOUR_S) -> float | None:
        """The move from the price an hour before the newest to the newest, in %; None until an
        hour of event time has been seen."""
        points = self.points.get(symbol)
        if not points:
            return None
        ts, price = points[-1]
        before = None
        for t, p in points:
            if t > ts - horizon_s:
                break
            before = p
        if before is None or before == 0:
            return None
        return (price / before - 1) * 100


@dataclass(frozen=True)
class Observation:
    """What a rule looks at for its symbol: the latest quote, the move, the latest signal."""

    price: float | None
    event_ts: float | None
    move_pct: float | None
    signal: MLSummary | None


def token(rule: AlertRule, seen: Observation) -> tuple[str, float | None]:
    """(what holds, the value it holds at): "" when the condition does not hold or is unknown."""
    kind, level = rule["kind"], rule["level"]
    if kind in ("price_above", "price_below"):
        if seen.price is None:
            return "", None
        if kind == "price_above":
            return ("above" if seen.price >= level else ""), seen.price
        return ("below" if seen.price <= level else ""), seen.price
    if kind == "move_1h":
        if seen.move_pct is None or abs(seen.move_pct) < level:
            return "", seen.move_pct
        return ("up" if seen.move_pct > 0 else "down"), seen.move_pct
    s = seen.signal
    if s is None or s["action"] == "HOLD" or s["confidence"] < level:
        return "", s["confidence"] if s else None
    return s["action"], s["confidence"]


def fires(previous: str | None, now: str) -> bool:
    """A change to something that holds; None: the rule's first evaluation, which never fires."""
    return previous is not None and now != "" and now != previous


def message(rule: AlertRule, held: str, value: float | None, price: float | None) -> str:
    """One line a person reads in Slack or Discord."""
    sym, level = rule["symbol"], rule["level"]
    at = f" (now {price:,.6g} USD)" if price is not None else ""
    if rule["kind"] == "price_above":
        return f"{sym} crossed above {level:,.6g} USD{at}"
    if rule["kind"] == "price_below":
        return f"{sym} crossed below {level:,.6g} USD{at}"
    if rule["kind"] == "move_1h":
        return f"{sym} moved {value:+.2f} % in the last hour (alert at {level:g} %){at}"
    return f"{sym}: {held} signal with confidence {value:.0%} (alert at {level:.0%}){at}"
