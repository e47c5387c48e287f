"""What the scraper's heartbeat says of its sources, as `cryptoviz status` and the home page read it."""

from __future__ import annotations

from cryptoviz.scraper.report import mode_line, scraper_report, source_lines


def test_the_heartbeat_gauges_read_back_per_source_with_mode_and_interval():
    gauges = {
        "mode": "live (switched from replay)",
        "scrape_interval_s": 300.0,
        "source.coingecko.state": "rate_limited",
        "source.coingecko.last_error": "rate_limited",
        "source.coingecko.last_success_ts": 1.0,  # not part of the report
        "quota.coingecko.plan": "demo",
        "quota.coingecko.calls_month": 1234,
        "quota.coingecko.budget_month": 10_000,
        "quota.coingecko.projected_month": 9_100,
        "replay_event_time": "2025-06-01T00:00:00Z",
    }
    report = scraper_report(gauges)
    assert report["sources"] == {
        "coingecko": {
            "state": "rate_limited",
            "last_error": "rate_limited",
            "plan": "demo",
            "calls_month": 1234,
            "budget_month": 10_000,
            "projected_month": 9_100,
        }
    }
    assert mode_line(report) == "live (switched from replay), polling every 300 s"
    (line,) = source_lines(report)
    assert line.startswith("coingecko: rate_limited, 1,234 calls this month of 10,000")
    assert line.endswith("9,100 projected")


def test_a_replay_only_scraper_reports_no_interval_and_no_source():
    report = scraper_report({"mode": "replay"})
    assert mode_line(report) == "replay" and source_lines(report) == []
