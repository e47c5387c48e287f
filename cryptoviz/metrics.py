"""Prometheus text on /metrics for a service's Telemetry (prometheus_client's exposition and server).

The heartbeat's counters and gauges are turned into metrics at scrape time, so a service counts a
thing once, in Telemetry, and both the status page and Prometheus see it:
- counter `family` or `family.kind` -> `cryptoviz_<family>_total{kind="<kind>"}` (e.g.
  `dead_letter.bad_json` -> `cryptoviz_dead_letter_total{kind="bad_json"}`,
  `quotes_out.coingecko` -> `cryptoviz_quotes_out_total{kind="coingecko"}`);
- numeric gauge `a.b` -> `cryptoviz_a_b` (the consumer lag of either consumer: `cryptoviz_consumer_lag`);
- `Telemetry.observe(name, seconds)` -> the histogram `cryptoviz_<name>_seconds`.
Every sample carries `service` and `instance` labels.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import ThreadingWSGIServer
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from cryptoviz import logs

if TYPE_CHECKING:
    from cryptoviz.telemetry import Telemetry

log = logs.get("metrics")
PREFIX = "cryptoviz_"
# the same figure under one name whichever service measures it
GAUGE_NAMES = {"lag": "consumer_lag", "offsets_behind": "consumer_lag"}


def metric_name(raw: str) -> str:
    """A valid Prometheus name from a telemetry name: lower case, anything else than [a-z0-9_] -> _."""
    return re.sub(r"[^a-z0-9_]", "_", raw.lower()).strip("_") or "unnamed"


class TelemetryCollector(Collector):
    """Reads a Telemetry's counters, gauges and histograms at every scrape."""

    def __init__(self, telemetry: Telemetry) -> None:
        self.telemetry = telemetry

    def collect(self) -> Iterator[Metric]:
        t = self.telemetry
        base = {"service": t.service, "instance": t.instance}
        counters: dict[str, CounterMetricFamily] = {}
        for raw, value in sorted(t.counters.items()):
            family, _, kind = raw.partition(".")
            name = PREFIX + metric_name(family)
            labels = ["service", "instance", "kind"]
            if name not in counters:
                counters[name] = CounterMetricFamily(name, f"{family} counted by the service", labels=labels)
            counters[name].add_metric([base["service"], base["instance"], kind], value)
        yield from counters.values()
        for raw, reading in sorted(t.gauges.items()):
            if isinstance(reading, bool) or not isinstance(reading, int | float):
                continue  # text gauges (mode, URLs) stay on the status page
            name = PREFIX + metric_name(GAUGE_NAMES.get(raw, raw))
            gauge = GaugeMetricFamily(name, f"{raw} as last reported", labels=["service", "instance"])
            gauge.add_metric([base["service"], base["instance"]], reading)
            yield gauge
        for raw, histogram in sorted(t.histograms.items()):
            name = PREFIX + metric_name(raw) + "_seconds"
            durations = HistogramMetricFamily(name, f"{raw} duration", labels=["service", "instance"])
            durations.add_metric([base["service"], base["instance"]], histogram.cumulative(), histogram.total)
            yield durations
        up = GaugeMetricFamily(PREFIX + "up_since_seconds", "when the service started (unix time)")
        up.add_metric([], t.started)
        yield up


class _Quiet(WSGIRequestHandler):
    """No access log line per scrape."""

    def log_message(self, format: str, *args: object) -> None:
        return


def registry_for(telemetry: Telemetry) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(TelemetryCollector(telemetry))
    return registry


def start(telemetry: Telemetry) -> str | None:
    """Serve /metrics as METRICS_PORT and METRICS_HOST say (see `serve`)."""
    from cryptoviz.settings import MetricsSettings, load

    settings = load(MetricsSettings)
    return serve(telemetry, settings.metrics_port, settings.metrics_host)


def _reachable_host(host: str) -> str:
    """The host a scraper uses: this machine's name when the server listens on every interface."""
    try:
        unspecified = not host or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        unspecified = False
    return socket.gethostname() if unspecified else host


def serve(telemetry: Telemetry, port: int | None, host: str) -> str | None:
    """Serve /metrics for `telemetry` on host:port (0: a free port; host "": every interface) in a
    daemon thread. Returns the URL, which the heartbeat carries as `metrics_url`; None when disabled
    or the port is taken (logged, counted)."""
    if port is None:
        return None
    try:
        server = make_server(
            host, port, make_wsgi_app(registry_for(telemetry)), ThreadingWSGIServer, handler_class=_Quiet
        )
    except OSError as exc:
        telemetry.incr("errors.metrics_port")
        log.warning("metrics_not_served", service=telemetry.service, port=port, error=exc)
        return None
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    url = f"http://{_reachable_host(host)}:{server.server_port}/metrics"
    telemetry.gauge("metrics_url", url)
    log.info("metrics_served", service=telemetry.service, url=url)
    return url
