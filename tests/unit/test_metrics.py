"""Telemetry as Prometheus text: names, labels, histograms, and the HTTP endpoint."""

from __future__ import annotations

import socket
import urllib.request

import numpy as np
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cryptoviz.metrics import metric_name, registry_for, serve
from cryptoviz.telemetry import BUCKETS, Histogram, Telemetry


def samples(t: Telemetry) -> dict[tuple[str, tuple], float]:
    text = generate_latest(registry_for(t)).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def telemetry() -> Telemetry:
    t = Telemetry("ml-processor", None, instance="host-1")
    t.incr("ticks_in", 7)
    t.incr("dead_letter.bad_json", 2)
    t.incr("dead_letter.schema", 1)
    t.gauge("lag", 12)
    t.gauge("mode", "replay")  # text: not a metric
    t.gauge("batch_latency_ms", 3.5)
    return t


def test_counters_become_totals_with_their_kind_and_gauges_keep_their_value():
    got = samples(telemetry())
    base = (("instance", "host-1"), ("service", "ml-processor"))
    assert got[("cryptoviz_ticks_in_total", (*base[:1], ("kind", ""), *base[1:]))] == 7
    assert got[("cryptoviz_dead_letter_total", (*base[:1], ("kind", "bad_json"), *base[1:]))] == 2
    assert got[("cryptoviz_dead_letter_total", (*base[:1], ("kind", "schema"), *base[1:]))] == 1
    assert got[("cryptoviz_consumer_lag", base)] == 12
    assert got[("cryptoviz_batch_latency_ms", base)] == 3.5
    assert not any("mode" in name for name, _ in got)


def test_histograms_count_like_numpy_and_are_cumulative():
    rng = np.random.default_rng(2)
    values = rng.exponential(0.05, size=500)
    t = Telemetry("spark-streaming", None, instance="h")
    for v in values:
        t.observe("lake_batch", float(v))
    got = samples(t)
    base = (("instance", "h"), ("service", "spark-streaming"))
    for bound in BUCKETS:
        key = ("cryptoviz_lake_batch_seconds_bucket", tuple(sorted((*base, ("le", repr(bound))))))
        assert got[key] == int((values <= bound).sum())
    assert got[("cryptoviz_lake_batch_seconds_bucket", tuple(sorted((*base, ("le", "+Inf")))))] == 500
    assert got[("cryptoviz_lake_batch_seconds_count", base)] == 500
    assert abs(got[("cryptoviz_lake_batch_seconds_sum", base)] - values.sum()) < 1e-9


def test_a_value_on_a_bound_falls_in_that_bucket():
    h = Histogram((0.1, 1.0))
    for v in (0.1, 0.5, 1.0, 2.0):
        h.observe(v)
    assert h.cumulative() == [("0.1", 1), ("1.0", 3), ("+Inf", 4)]


def test_names_are_made_valid():
    assert metric_name("quotes_out.Coin-Gecko") == "quotes_out_coin_gecko"
    assert metric_name("...") == "unnamed"


def test_the_endpoint_serves_the_text_and_a_taken_port_is_counted_not_raised():
    t = telemetry()
    url = serve(t, 0, "127.0.0.1")
    assert url is not None and t.gauges["metrics_url"] == url
    with urllib.request.urlopen(url, timeout=5) as resp:
        body = resp.read().decode()
    assert 'cryptoviz_ticks_in_total{instance="host-1",kind="",service="ml-processor"} 7.0' in body
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        other = Telemetry("scraper", None)
        assert serve(other, taken.getsockname()[1], "127.0.0.1") is None
        assert other.counters["errors.metrics_port"] == 1
    assert serve(Telemetry("scraper", None), None, "") is None


def test_an_empty_host_listens_on_every_interface():
    t = telemetry()
    url = serve(t, 0, "")
    assert url is not None and socket.gethostname() in url
    port = url.rsplit(":", 1)[1].split("/")[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        assert b"cryptoviz_ticks_in_total" in resp.read()
