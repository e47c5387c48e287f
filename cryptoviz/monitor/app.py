"""The monitor service's loop (the entry point calls `main`): alerts every MONITOR_INTERVAL_S,
the broker every TOPICS_INTERVAL_S while the topics page is open (`monitor.watch`); a server that
is down is counted and tried again next pass."""

from __future__ import annotations

import threading
import time

import redis

from cryptoviz import clients, contracts, logs, metrics, names
from cryptoviz.contracts import TopicsReport
from cryptoviz.monitor import topics, watch
from cryptoviz.monitor.alerts import Alerts
from cryptoviz.service import Stop
from cryptoviz.settings import KafkaSettings, MonitorSettings, RedisSettings, StackSettings, load
from cryptoviz.telemetry import Telemetry

log = logs.get(names.MONITOR)


def publish_topics(client: redis.Redis, bootstrap: str, latest_n: int, keep_s: float) -> TopicsReport:
    report = topics.inspect(bootstrap, latest_n)
    client.set(names.TOPICS_REPORT, contracts.encode(report), ex=max(60, int(keep_s)))
    return report


class TopicsInspector:
    """Reads the broker in a thread of its own: with the broker down a look can block for many
    seconds, and the loop must still see SIGTERM at once. A look still running at exit is dropped
    (it only writes the report, which the next look writes again)."""

    def __init__(self, client: redis.Redis, bootstrap: str, latest_n: int, interval_s: float) -> None:
        self.client, self.bootstrap, self.latest_n = client, bootstrap, latest_n
        self.keep_s = 6 * interval_s
        self.thread: threading.Thread | None = None
        self.outcome: TopicsReport | Exception | None = None

    def busy(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> None:
        self.outcome = None
        self.thread = threading.Thread(target=self._look, name="topics", daemon=True)
        self.thread.start()

    def _look(self) -> None:
        try:
            self.outcome = publish_topics(self.client, self.bootstrap, self.latest_n, self.keep_s)
        except Exception as exc:  # any failure of a look is counted, none ends the service
            self.outcome = exc

    def collect(self, telemetry: Telemetry) -> None:
        """Count the look that ended since the last call, if one did."""
        if self.busy() or self.outcome is None:
            return
        outcome, self.outcome = self.outcome, None
        if isinstance(outcome, Exception):
            telemetry.incr("errors.topics")
            log.warning("topics_not_inspected", error=outcome)
        else:
            telemetry.incr("topics_inspected")
            telemetry.gauge("topics", len(outcome["topics"]))


def inspect_if_watched(
    client: redis.Redis, schedule: watch.TopicsSchedule, inspector: TopicsInspector, telemetry: Telemetry
) -> None:
    """Start a reading of the broker when one is due and the topics page is watched; count the
    reading skipped when one is due and nobody watches. Watching starting or stopping is logged."""
    now = time.monotonic()
    if inspector.busy() or not schedule.due(now):
        return
    try:
        watched = watch.is_watched(client)
    except redis.RedisError:  # counted; the alerts' pass logs Redis being down
        telemetry.incr("errors.redis")
        return
    if schedule.change(watched):
        every = schedule.interval_s
        log.info("topics_page_watched" if watched else "topics_page_unwatched", topics_every_s=every)
        telemetry.gauge("topics_watched", int(watched))
        telemetry.gauge(
            "topics_report",
            f"read every {every:g} s: the topics page is open"
            if watched
            else "not read: nobody has the topics page open",
        )
    decision = schedule.decide(now, watched)
    if decision == "look":
        inspector.start()
    elif decision == "skip":
        telemetry.incr("topics_skipped.unwatched")


def main(stop: Stop) -> int:
    settings = load(MonitorSettings)
    kafka = load(KafkaSettings)
    rds = clients.redis_client(load(RedisSettings))
    telemetry = Telemetry(names.MONITOR, rds, load(StackSettings).heartbeat_interval_s)
    metrics.start(telemetry)
    telemetry.publish("starting")
    telemetry.gauge("webhook", "set" if settings.alert_webhook_url else "not set: alerts listed only")
    alerts = Alerts(
        rds, telemetry, settings.alert_webhook_url, settings.alert_max_attempts, settings.alert_timeout_s
    )
    log.info("started", webhook=bool(settings.alert_webhook_url), topics_every_s=settings.topics_interval_s)
    inspector = TopicsInspector(
        rds, kafka.kafka_bootstrap_servers, settings.topics_latest_n, settings.topics_interval_s
    )
    schedule = watch.TopicsSchedule(settings.topics_interval_s)
    for counter in ("topics_inspected", "topics_skipped.unwatched"):  # on /metrics from the start
        telemetry.incr(counter, 0)
    telemetry.state = "running"
    while not stop:
        started = time.perf_counter()
        try:
            fired = alerts.evaluate()
            alerts.deliver_due(stopping=lambda: bool(stop))
            telemetry.gauge("rules_fired_last_pass", len(fired))
        except redis.RedisError as exc:
            telemetry.incr("errors.redis")
            log.warning("redis_unavailable", error=exc)
        inspect_if_watched(rds, schedule, inspector, telemetry)
        inspector.collect(telemetry)
        telemetry.observe("monitor_pass", time.perf_counter() - started)
        telemetry.maybe_publish()
        stop.wait(settings.monitor_interval_s)
    telemetry.publish("stopped")
    log.info("stopped", fired=sum(v for k, v in telemetry.counters.items() if k.startswith("alerts_fired")))
    return 0
