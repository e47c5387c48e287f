"""The topics and alerts pages' tables (no Streamlit here), from the monitor's documents in Redis."""

from __future__ import annotations

import time

import orjson
import pandas as pd

from cryptoviz.contracts import AlertRule, FiredAlert, TopicsReport
from cryptoviz.monitor.alerts import LEVELS

KIND_NAMES = {
    "price_above": "price crosses above",
    "price_below": "price crosses below",
    "move_1h": "moves in 1 h by at least",
    "signal": "BUY/SELL signal with confidence of at least",
}


def topics_table(report: TopicsReport) -> pd.DataFrame:
    rows = [
        {
            "topic": t["name"],
            "partitions": len(t["partitions"]),
            "messages": t["messages"],
            "log_start": ", ".join(str(p["start"]) for p in t["partitions"]),
            "log_end": ", ".join(str(p["end"]) for p in t["partitions"]),
        }
        for t in report["topics"]
    ]
    return pd.DataFrame(rows)


def groups_table(report: TopicsReport) -> pd.DataFrame:
    rows = [
        {
            "group": g["group"],
            "topic": p["topic"],
            "partition": p["partition"],
            "committed": p["committed"],
            "end": p["end"],
            "lag": p["lag"],
        }
        for g in report["groups"]
        for p in g["partitions"]
    ]
    return pd.DataFrame(rows)


def messages_table(report: TopicsReport, topic: str) -> pd.DataFrame:
    """The newest messages of `topic`: key, partition, offset, time and the value (dead letters:
    the reason and origin first)."""
    rows = []
    for m in report["latest"].get(topic, []):
        value = m["value"]
        shown = value if isinstance(value, str) else orjson.dumps(value).decode()
        row = {
            "time": pd.to_datetime(m["ts"], unit="s", utc=True),
            "key": m["key"] or "",
            "partition": m["partition"],
            "offset": m["offset"],
        }
        if "reason" in m:
            row |= {"reason": m.get("reason") or "", "origin": m.get("origin") or ""}
        rows.append(row | {"value": shown})
    return pd.DataFrame(rows)


def rule_text(rule: AlertRule) -> str:
    unit = LEVELS[rule["kind"]][0]
    level = rule["level"]
    shown = f"{level:.0%}" if unit == "confidence" else f"{level:,.6g} {unit}"
    return f"{rule['symbol']} {KIND_NAMES[rule['kind']]} {shown}"


def fired_table(fired: list[FiredAlert], now: float | None = None) -> pd.DataFrame:
    now = now or time.time()
    rows = [
        {
            "fired": pd.to_datetime(a["fired_ts"], unit="s", utc=True),
            "symbol": a["symbol"],
            "alert": a["message"],
            "delivery": _delivery(a, now),
            "tries": a["attempts"],
        }
        for a in fired
    ]
    return pd.DataFrame(rows)


def _delivery(alert: FiredAlert, now: float) -> str:
    status = alert["status"]
    if status == "delivered":
        return "delivered"
    if status == "not_sent":
        return "not sent (no webhook set)"
    if status == "failed":
        return f"failed: {alert['last_error']}"
    wait = max(0.0, alert["next_try_ts"] - now)
    error = f" after {alert['last_error']}" if alert["last_error"] else ""
    return f"retrying in {wait:.0f} s{error}" if alert["attempts"] else "sending"
