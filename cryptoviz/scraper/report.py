"""What the scraper's heartbeat says of its sources, read back for `cryptoviz status` and the home
page: the mode (live, replay, or auto's replay until a live source answers), the poll interval, and
per source its state and its plan's calls this month against the budget and the month's projection."""

from __future__ import annotations

from typing import Any, TypedDict


class SourceReport(TypedDict, total=False):
    state: str  # up | degraded | down | rate_limited | quota_paced | minute_limit
    last_error: str | None
    plan: str
    calls_month: int
    budget_month: int | None
    projected_month: int | None


class ScraperReport(TypedDict):
    mode: str | None
    interval_s: float | None
    sources: dict[str, SourceReport]


FIELDS = {
    "source": ("state", "last_error"),  # scraper.loop.LiveScraper._report
    "quota": ("plan", "calls_month", "budget_month", "projected_month"),  # scraper.quota.Meter.report
}


def scraper_report(gauges: dict[str, Any]) -> ScraperReport:
    """The heartbeat's `source.<name>.*` and `quota.<name>.*` gauges, per source."""
    sources: dict[str, SourceReport] = {}
    for key, value in gauges.items():
        kind, _, rest = key.partition(".")
        name, _, field = rest.partition(".")
        if field in FIELDS.get(kind, ()):
            sources.setdefault(name, {})[field] = value  # type: ignore[literal-required]
    interval = gauges.get("scrape_interval_s")
    return {
        "mode": gauges.get("mode"),
        "interval_s": float(interval) if isinstance(interval, int | float) else None,
        "sources": dict(sorted(sources.items())),
    }


def mode_line(report: ScraperReport) -> str:
    """The scraper's mode and, when it polls, how often."""
    every = f", polling every {report['interval_s']:g} s" if report["interval_s"] else ""
    return f"{report['mode']}{every}"


def source_lines(report: ScraperReport) -> list[str]:
    """One line per source, for a terminal or a caption."""
    lines = []
    for name, src in report["sources"].items():
        text = f"{name}: {src.get('state', 'not asked yet')}"
        if src.get("calls_month") is not None:
            budget = src.get("budget_month")
            text += f", {src['calls_month']:,} calls this month"
            text += (
                f" of {budget:,} ({src.get('plan')})" if budget else f" ({src.get('plan')}, no monthly cap)"
            )
            if src.get("projected_month") is not None:
                text += f", {src['projected_month']:,} projected"
        lines.append(text)
    return lines
