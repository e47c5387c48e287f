"""The monitor against the real broker, Redis and local webhook receivers: the topics report (read
only while the topics page is watched), alerts fired once, delivered through a receiver that fails
and recovers, and the service itself."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
import redis

from cryptoviz import bus, contracts, names
from cryptoviz.contracts import dead_letter as dead_letters
from cryptoviz.monitor import alerts as alerts_mod
from cryptoviz.monitor import topics
from cryptoviz.monitor.alerts import Alerts, fired_alerts, new_rule, save_rule
from cryptoviz.monitor.watch import mark_watched
from cryptoviz.schema import encode, make_quote
from cryptoviz.scraper import latest
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.harness import wait_for
from cryptoviz.testing.receiver import Receiver

from .conftest import STARTED

ROOT = Path(__file__).resolve().parents[2]
T0 = datetime(2025, 3, 1, tzinfo=UTC)


def set_price(client: redis.Redis, price: float, hours: float = 0.0, symbol: str = "BTC") -> None:
    q = make_quote(symbol, price, T0 + timedelta(hours=hours), source="replay")
    latest.write(client, [q])


def test_the_topics_report_has_offsets_lag_and_the_newest_messages(bootstrap, topic_factory):
    topic = topic_factory("monitor", partitions=2)
    prod = bus.producer(bootstrap)
    for i in range(12):
        prod.send(topic, key=f"K{i % 3}", value=orjson.dumps({"n": i}))
    prod.send(topic, key="K0", value=b"not json \xff")
    marker = uuid.uuid4().hex
    bus.dead_letter(prod, dead_letters.refused(marker.encode(), "bad_json", "test", detail="d")).get(
        timeout=30
    )
    prod.flush()
    prod.close()
    group = f"g-{uuid.uuid4().hex[:6]}"
    cons = bus.consumer(bootstrap, topic, group_id=group)
    got = [0]

    def five_read() -> bool:
        got[0] += sum(len(v) for v in cons.poll(timeout_ms=500, max_records=5 - got[0]).values())
        return got[0] == 5

    wait_for(five_read, 60, "five messages read by the group", every=0)
    cons.commit()
    cons.close()

    report = topics.inspect(bootstrap, latest_n=4)
    contracts.decode_topics(contracts.encode(report))  # the shape the page relies on
    mine = next(t for t in report["topics"] if t["name"] == topic)
    assert mine["messages"] == 13 and len(mine["partitions"]) == 2
    assert sum(p["end"] - p["start"] for p in mine["partitions"]) == 13
    g = next(g for g in report["groups"] if g["group"] == group)
    assert g["lag"] == 13 - 5
    assert {p["topic"] for p in g["partitions"]} == {topic}
    latest = report["latest"][topic]
    assert len(latest) == 4
    assert [m["ts"] for m in latest] == sorted((m["ts"] for m in latest), reverse=True)
    ends = {p["partition"]: p["end"] for p in mine["partitions"]}
    assert all(m["offset"] < ends[m["partition"]] for m in latest), "as of the offsets shown"
    everything = topics.inspect(bootstrap, latest_n=20)["latest"][topic]
    assert len(everything) == 13
    assert sorted(m["value"]["n"] for m in everything if isinstance(m["value"], dict)) == list(range(12))
    assert [m["value"] for m in everything if isinstance(m["value"], str)] == ["not json \ufffd"]
    dead = report["latest"][names.TOPIC_DEAD_LETTER]
    assert any(m["value"]["raw"] == marker and m["reason"] == "bad_json" for m in dead)


def test_a_rule_fires_once_and_is_delivered_after_the_receiver_recovers(redis_client):
    telemetry = Telemetry("monitor", None, instance="t")
    with Receiver() as receiver:
        alerts = Alerts(redis_client, telemetry, receiver.url, max_attempts=5)
        save_rule(redis_client, new_rule("BTC", "price_above", 100.0))
        set_price(redis_client, 90.0, 0)
        assert alerts.evaluate() == []  # the rule's first look: below
        set_price(redis_client, 110.0, 1)
        (fired,) = alerts.evaluate()
        assert fired["message"] == "BTC crossed above 100 USD (now 110 USD)"
        assert alerts.evaluate() == [], "still above: no second alert"
        receiver.fail_next(2, 503)
        now = fired["fired_ts"]
        assert alerts.deliver_due(now=now) == 0
        (pending,) = fired_alerts(redis_client)
        assert (pending["status"], pending["attempts"], pending["last_error"]) == ("pending", 1, "HTTP 503")
        assert pending["next_try_ts"] > now
        assert alerts.deliver_due(now=now) == 0, "not due yet: no try"
        assert alerts.deliver_due(now=now + 3600) == 0
        assert alerts.deliver_due(now=now + 7200) == 1
        (done,) = fired_alerts(redis_client)
        assert (done["status"], done["attempts"]) == ("delivered", 3)
        assert receiver.refused == 2 and len(receiver.received) == 1
        body = receiver.received[0]
        assert body["text"] == body["content"] == f"CryptoViz alert: {fired['message']}"
        assert body["alert"]["id"] == fired["id"]
        assert alerts.deliver_due(now=now + 9000) == 0 and len(receiver.received) == 1

        # the same quote seen again after the rule's state was lost: the same alert id, not sent twice
        redis_client.hset(names.ALERT_STATE, fired["rule_id"], "")
        assert alerts.evaluate() == []
        assert telemetry.counters["alerts_duplicate"] == 1
        assert len(fired_alerts(redis_client)) == 1


def test_a_refusing_receiver_fails_the_alert_at_once_and_a_dead_one_after_the_attempts(redis_client):
    telemetry = Telemetry("monitor", None, instance="t")
    with Receiver() as receiver:
        alerts = Alerts(redis_client, telemetry, receiver.url, max_attempts=2)
        save_rule(redis_client, new_rule("BTC", "price_below", 50.0))
        set_price(redis_client, 60.0, 0)
        alerts.evaluate()
        set_price(redis_client, 40.0, 1)
        (fired,) = alerts.evaluate()
        receiver.fail_next(1, 400)
        alerts.deliver_due(now=fired["fired_ts"])
        (failed,) = fired_alerts(redis_client)
        assert (failed["status"], failed["attempts"], failed["last_error"]) == ("failed", 1, "HTTP 400")
    dead_url = receiver.url  # closed: connection refused from now on
    alerts = Alerts(redis_client, telemetry, dead_url, max_attempts=2)
    set_price(redis_client, 60.0, 2)
    alerts.evaluate()
    set_price(redis_client, 40.0, 3)
    (second,) = alerts.evaluate()
    alerts.deliver_due(now=second["fired_ts"])
    alerts.deliver_due(now=second["fired_ts"] + 3600)
    newest = fired_alerts(redis_client)[0]
    assert (newest["status"], newest["attempts"], newest["last_error"]) == ("failed", 2, "ConnectionError")
    assert telemetry.counters["alerts_failed"] == 2


def test_without_a_webhook_alerts_are_listed_not_sent_and_bad_rules_are_counted(redis_client):
    telemetry = Telemetry("monitor", None, instance="t")
    alerts = Alerts(redis_client, telemetry, None)
    save_rule(redis_client, new_rule("BTC", "move_1h", 5.0))
    redis_client.hset(names.ALERT_RULES, "broken", b"{not json")
    for hour, price in enumerate([100.0, 101.0, 108.0]):
        set_price(redis_client, price, hour)
        fired = alerts.evaluate()
    assert [f["status"] for f in fired] == ["not_sent"]
    assert fired[0]["value"] == pytest.approx(100 * (108 / 101 - 1))
    assert alerts.deliver_due() == 0
    assert telemetry.counters["errors.rule_unreadable"] == 3
    with pytest.raises(ValueError, match="signal level"):
        new_rule("BTC", "signal", 0.4)
    with pytest.raises(ValueError, match="unknown alert kind"):
        new_rule("BTC", "price_sideways", 1.0)
    alerts_mod.delete_rule(redis_client, "broken")
    assert alerts_mod.load_rules(redis_client)[1] == 0


def test_a_rule_whose_value_is_unknown_for_a_while_keeps_its_state_and_fires_no_second_time(redis_client):
    """A monitor restarted has no hour of prices for move_1h: the move that fired before is not
    known, not over, and still under way an hour later is no new alert."""
    telemetry = Telemetry("monitor", None, instance="t")
    save_rule(redis_client, new_rule("BTC", "move_1h", 5.0))
    alerts = Alerts(redis_client, telemetry, None)
    for hour, price in enumerate([100.0, 101.0, 108.0]):
        set_price(redis_client, price, hour)
        fired = alerts.evaluate()
    assert [f["value"] for f in fired] == [pytest.approx(100 * (108 / 101 - 1))]
    restarted = Alerts(redis_client, telemetry, None)  # its price history starts empty
    set_price(redis_client, 109.0, 3)
    assert restarted.evaluate() == []
    set_price(redis_client, 116.0, 4)  # up 6.4 % on the hour: the same move, still under way
    assert restarted.evaluate() == []
    assert len(fired_alerts(redis_client)) == 1


def test_a_fire_left_half_done_is_listed_once_and_alerts_trimmed_before_delivery_are_counted(
    redis_client, monkeypatch
):
    """An alert stored but not in the order (a fire cut short between its steps, as one could be
    before a fire was one script) is listed when the same event is seen again, not fired twice; an
    alert the page's limit drops before it was delivered is counted."""
    telemetry = Telemetry("monitor", None, instance="t")
    alerts = Alerts(redis_client, telemetry, "http://127.0.0.1:9/never")
    rule = new_rule("BTC", "price_above", 100.0)
    save_rule(redis_client, rule)
    set_price(redis_client, 90.0, 0)
    alerts.evaluate()
    set_price(redis_client, 110.0, 1)
    (fired,) = alerts.evaluate()
    redis_client.zrem(names.ALERT_FIRED_ORDER, fired["id"])
    redis_client.hset(names.ALERT_STATE, rule["id"], "")
    assert alerts.evaluate() == [] and telemetry.counters["alerts_duplicate"] == 1
    assert [a["id"] for a in fired_alerts(redis_client)] == [fired["id"]]
    monkeypatch.setattr(alerts_mod, "KEEP_FIRED", 1)
    set_price(redis_client, 90.0, 2)
    alerts.evaluate()
    set_price(redis_client, 111.0, 3)
    (second,) = alerts.evaluate()  # the first, still pending, makes room for it
    assert [a["id"] for a in fired_alerts(redis_client)] == [second["id"]]
    assert telemetry.counters["alerts_dropped_undelivered"] == 1


def test_an_unreadable_latest_quote_is_counted_and_an_older_scrapers_json_still_read(redis_client):
    telemetry = Telemetry("monitor", None, instance="t")
    alerts = Alerts(redis_client, telemetry, None)
    set_price(redis_client, 100.0, symbol="BTC")
    old = make_quote("ETH", 3000.0, T0, source="replay")
    redis_client.hset(names.QUOTES_LATEST, "ETH", encode(old))  # the quote's JSON, as stored before
    redis_client.hset(names.QUOTES_LATEST, "SOL", b"\x9a\x01")  # cut short
    seen = alerts.observations()
    assert (seen["BTC"].price, seen["ETH"].price, seen["SOL"].price) == (100.0, 3000.0, None)
    assert seen["ETH"].event_ts == old.event_time
    assert telemetry.counters["errors.quote_unreadable"] == 1


def heartbeat(client: redis.Redis, pid: int) -> contracts.Heartbeat | None:
    raw = client.get(names.status_key(names.MONITOR, f"{socket.gethostname()}-{pid}"))
    return contracts.decode_heartbeat(raw) if raw else None


def skipped(client: redis.Redis, pid: int) -> int:
    beat = heartbeat(client, pid)
    return int(beat["counters"].get("topics_skipped.unwatched", 0)) if beat else 0


def test_the_monitor_service_reads_topics_only_while_watched_fires_and_stops_on_sigterm(real, redis_client):
    bus.ensure_topics(real.bootstrap)
    with Receiver() as receiver:
        env = (
            os.environ
            | real.env()
            | {
                "HEARTBEAT_INTERVAL_S": "0.5",
                "MONITOR_INTERVAL_S": "0.2",
                "TOPICS_INTERVAL_S": "1",
                "ALERT_WEBHOOK_URL": receiver.url,
            }
        )
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "monitor" / "main.py")], env=env, stderr=subprocess.PIPE, text=True
        )
        STARTED.append(proc)
        # nobody watches the topics page: the broker is not read, the readings skipped are counted
        wait_for(lambda: skipped(redis_client, proc.pid) >= 2, 60, "two readings skipped, nobody watching")
        beat = heartbeat(redis_client, proc.pid)
        assert beat and beat["gauges"]["topics_report"] == "not read: nobody has the topics page open"
        assert beat["gauges"]["topics_watched"] == 0 and beat["counters"]["topics_inspected"] == 0
        assert not redis_client.exists(names.TOPICS_REPORT)

        mark_watched(redis_client, 30)  # as the page does at each render
        report = wait_for(lambda: redis_client.get(names.TOPICS_REPORT), 60, "the topics report")
        names_seen = {t["name"] for t in contracts.decode_topics(report)["topics"]}
        assert set(names.ALL_TOPICS) <= names_seen
        wait_for(
            lambda: (b := heartbeat(redis_client, proc.pid)) and b["counters"]["topics_inspected"] >= 1,
            30,
            "the reading counted",
        )
        redis_client.delete(names.TOPICS_WATCHED)  # the page closed, its mark expired
        before = skipped(redis_client, proc.pid)
        wait_for(lambda: skipped(redis_client, proc.pid) > before, 30, "skips counted again")

        save_rule(redis_client, new_rule("ETH", "price_above", 2000.0))
        set_price(redis_client, 1900.0, 0, "ETH")
        rule_id = alerts_mod.load_rules(redis_client)[0][0]["id"]
        wait_for(lambda: redis_client.hget(names.ALERT_STATE, rule_id) is not None, 30, "a first look")
        set_price(redis_client, 2100.0, 1, "ETH")
        wait_for(lambda: receiver.received, 30, "the alert at the receiver")
        assert receiver.received[0]["alert"]["symbol"] == "ETH"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-2000:]
        assert "Traceback" not in err
        # watching starting and stopping are logged once each, not at every pass
        assert err.count("topics_page_watched") == 1 and err.count("topics_page_unwatched") == 2, err[-2000:]
