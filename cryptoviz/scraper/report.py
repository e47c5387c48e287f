"""What the scraper's heartbeat says of its sources, read back for `cryptoviz status` and the home
page: the mode (live, replay, or auto's replay until a live source answers), the poll interval, per
polled source its state and its plan's calls this month against the budget and the month's
projection, and per exchange stream its state, the coins it supplies, frames and quotes per second
and the age of its last frame (`scraper.stream_report`)."""

from __future__ import annotations

from typing import Any, TypedDict


class SourceReport(TypedDict, total=False):
    state: str  # up | degraded | down | rate_limited | quota_paced | minute_limit
    last_error: str | None
    plan: str
    calls_month: int
    budget_month: int | None
    projected_month: int | None


class StreamReport(TypedDict, total=False):
    state: str  # connecting | live | stalled | down
    coins: str  # the coins it supplies now, comma-separated
    frames_per_s: float | None
    quotes_per_s: float | None
    last_frame_age_s: float | None
    last_error: str | None


class ScraperReport(TypedDict):
    mode: str | None
    interval_s: float | None
    sources: dict[str, SourceReport]
    streams: dict[str, StreamReport]


FIELDS = {
    "source": ("state", "last_error"),  # scraper.loop.LiveScraper._report
    "quota": ("plan", "calls_month", "budget_month", "projected_month"),  # scraper.quota.Meter.report
}
STREAM_FIELDS = StreamReport.__annotations__.keys()  # scraper.stream_report.stream_gauges


def scraper_report(gauges: dict[str, Any]) -> ScraperReport:
    """The heartbeat's `source.<name>.*` and `quota.<name>.*` gauges, per source."""
    sources: dict[str, SourceReport] = {}
    streams: dict[str, StreamReport] = {}
    for key, value in gauges.items():
        kind, _, rest = key.partition(".")
        name, _, field = rest.partition(".")
        if field in FIELDS.get(kind, ()):
            sources.setdefault(name, {})[field] = value  # type: ignore[literal-required]
        elif kind == "stream" and field in STREAM_FIELDS:
            streams.setdefault(name, {})[field] = value  # type: ignore[literal-required]
    interval = gauges.get("scrape_interval_s")
    return {
        "mode": gauges.get("mode"),
        "interval_s": float(interval) if isinstance(interval, int | float) else None,
        "sources": dict(sorted(sources.items())),
        "streams": streams,  # in the scraper's priority order (the heartbeat keeps it)
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
    return lines + [stream_line(name, s) for name, s in report.get("streams", {}).items()]


def stream_line(name: str, stream: StreamReport) -> str:
    """One exchange stream, e.g. `binance stream: live, supplies BTC, ETH; 12.5 frames/s, 2 quotes/s;
    last frame 0.1 s ago`."""
    text = f"{name} stream: {stream.get('state', 'not started')}"
    text += (
        f", supplies {stream['coins'].replace(',', ', ')}" if stream.get("coins") else ", supplies no coin"
    )
    rates = [
        f"{stream[key]:g} {what}/s"  # type: ignore[literal-required]
        for key, what in (("frames_per_s", "frames"), ("quotes_per_s", "quotes"))
        if isinstance(stream.get(key), int | float)
    ]
    if rates:
        text += "; " + ", ".join(rates)
    if isinstance(stream.get("last_frame_age_s"), int | float):
        text += f"; last frame {stream['last_frame_age_s']:g} s ago"
    if stream.get("state") not in ("live", stream.get("last_error")) and stream.get("last_error"):
        text += f" ({stream['last_error']})"
    return text
