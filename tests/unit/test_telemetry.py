"""Telemetry: counters, gauges and state in one heartbeat document; Redis down is counted, never raised."""

from __future__ import annotations

from cryptoviz import contracts
from cryptoviz.telemetry import Telemetry


def test_counters_gauges_and_state_land_in_the_heartbeat():
    t = Telemetry("ml-processor", None, 2.0, instance="host-7")
    t.incr("ticks_in", 3)
    t.incr("ticks_in")
    t.gauge("lag", 12)
    t.publish("running")
    doc = contracts.decode_heartbeat(contracts.encode(t.document()))
    assert doc["service"] == "ml-processor" and doc["instance"] == "host-7"
    assert doc["state"] == "running" and doc["interval_s"] == 2.0
    assert doc["counters"] == {"ticks_in": 4} and doc["gauges"] == {"lag": 12}


def test_without_a_client_a_publish_says_so_and_raises_nothing():
    t = Telemetry("scraper", None)
    assert t.publish("starting") is False
    assert t.state == "starting"
