"""Telemetry against the real Redis: the status index keeps the instances whose heartbeat is there."""

from __future__ import annotations

from cryptoviz import names
from cryptoviz.telemetry import Telemetry


def test_a_start_takes_the_instances_whose_status_expired_out_of_the_index(redis_client):
    """Every start of a service adds an instance to the index, and its status expires a week after
    it stopped: the dashboard reads every member at every refresh, so the gone ones are taken out."""
    alive = Telemetry("ml-processor", redis_client, instance="alive")
    alive.publish("running")
    redis_client.sadd(names.STATUS_INDEX, names.status_key("ml-processor", "gone-a-week-ago"))
    Telemetry("scraper", redis_client, instance="started-now").publish("starting")
    assert redis_client.smembers(names.STATUS_INDEX) == {
        names.status_key("ml-processor", "alive").encode(),
        names.status_key("scraper", "started-now").encode(),
    }
