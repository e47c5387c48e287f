"""Alert rules: what holds, when a rule fires, and the move over the last hour."""

from __future__ import annotations

from typing import cast

import pytest

from cryptoviz.contracts import AlertKind, AlertRule, MLSummary
from cryptoviz.monitor.rules import HOUR_S, Observation, PriceHistory, fires, message, token


def rule(kind: str, level: float) -> AlertRule:
    return {"id": "r1", "symbol": "BTC", "kind": cast(AlertKind, kind), "level": level, "created_ts": 0.0}


def summary(action: str, confidence: float) -> MLSummary:
    return {
        "symbol": "BTC",
        "event_ts": 0.0,
        "price": 1.0,
        "action": action,
        "confidence": confidence,
        "p_up": confidence if action == "BUY" else 1 - confidence,
        "move_pct": 0.1,
        "consensus": {},
        "forecast": {},
        "updated_ts": 0.0,
    }


def seen(price=None, move=None, signal=None) -> Observation:
    return Observation(price, 0.0 if price is not None else None, move, signal)


def test_a_price_rule_fires_when_it_crosses_not_while_it_stays():
    up = rule("price_above", 100.0)
    tokens = [token(up, seen(p))[0] for p in (90, 99, 100, 120, 95, 101)]
    assert tokens == ["", "", "above", "above", "", "above"]
    previous: str | None = None
    fired = []
    for t in tokens:
        fired.append(fires(previous, t))
        previous = t
    assert fired == [False, False, True, False, False, True]


def test_a_new_rule_never_fires_on_what_already_holds():
    assert not fires(None, "above")
    assert fires("", "below") and not fires("below", "below") and not fires("below", "")


def test_price_below_move_and_signal_rules():
    assert token(rule("price_below", 50.0), seen(49.0)) == ("below", 49.0)
    assert token(rule("price_below", 50.0), seen(None)) == ("", None)
    assert token(rule("move_1h", 2.0), seen(move=-2.5)) == ("down", -2.5)
    assert token(rule("move_1h", 2.0), seen(move=1.9)) == ("", 1.9)
    assert token(rule("move_1h", 2.0), seen(move=None)) == ("", None)
    assert token(rule("signal", 0.6), seen(signal=summary("BUY", 0.65))) == ("BUY", 0.65)
    assert token(rule("signal", 0.6), seen(signal=summary("SELL", 0.59))) == ("", 0.59)
    assert token(rule("signal", 0.5), seen(signal=summary("HOLD", 0.9))) == ("", 0.9)
    # a BUY that turns into a SELL is a change: it fires again
    assert fires("BUY", "SELL")


def test_the_move_is_against_the_newest_price_an_hour_before():
    h = PriceHistory()
    for i, price in enumerate([100.0, 101.0, 102.0, 103.0, 104.0]):
        h.add("BTC", i * 900.0, price)  # every 15 min
    assert h.move_pct("BTC") == pytest.approx((104 / 100 - 1) * 100)  # 60 min after the first
    h.add("BTC", 4 * 900.0 + 60, 110.0)
    assert h.move_pct("BTC") == pytest.approx((110 / 100 - 1) * 100)  # 1 h 1 min: still the first
    h.add("BTC", 5 * 900.0, 99.0)
    assert h.move_pct("BTC") == pytest.approx((99 / 101 - 1) * 100)
    assert h.move_pct("ETH") is None


def test_no_move_before_an_hour_is_seen_and_old_points_go():
    h = PriceHistory(keep_s=2 * HOUR_S)
    h.add("BTC", 0.0, 100.0)
    h.add("BTC", 1800.0, 101.0)
    assert h.move_pct("BTC") is None
    h.add("BTC", 1800.0, 500.0)  # the same quote time again: ignored
    for i in range(2, 40):
        h.add("BTC", i * 1800.0, 100.0 + i)
    assert len(h.points["BTC"]) <= 6
    assert h.move_pct("BTC") == pytest.approx(((100 + 39) / (100 + 37) - 1) * 100)


def test_messages_read_like_a_sentence():
    assert message(rule("price_above", 100_000), "above", 100_500.0, 100_500.0) == (
        "BTC crossed above 100,000 USD (now 100,500 USD)"
    )
    assert message(rule("move_1h", 2), "down", -2.345, 95.0) == (
        "BTC moved -2.35 % in the last hour (alert at 2 %) (now 95 USD)"
    )
    signal = message(rule("signal", 0.6), "BUY", 0.654, None)
    assert signal == "BTC: BUY signal with confidence 65% (alert at 60%)"
