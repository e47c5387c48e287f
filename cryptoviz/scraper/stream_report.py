"""What the exchange streams put into the scraper's heartbeat and its Prometheus counters.

Per stream source (`stream.<name>.*` gauges): its state (connecting, live, stalled, down), the coins
it supplies now (comma-separated), frames and quotes per second since the previous report, the age
of its last frame and its last error. Counters, running totals of the connection's own
(`StreamStats`): `stream_frames.<name>`, `stream_quotes.<name>` (quotes the throttle handed over),
`stream_reconnects.<name>`, `stream_stalls.<name>`, `stream_limit_waits.<name>` (reconnects that
waited for the exchange's connection limit), `stream_resubscribes.<name>` (subscriptions sent again
without the coins an exchange refused), `stream_rejects.<name>.<reason>`; and of the
scraper's side: `stream_standby.<name>` (quotes of a source that did not supply the coin then),
`stream_handovers`, `stream_dropped` (the queue to the publisher was full: the oldest quote went),
`stream_held` (a coin's quotes before its warm start was done)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from cryptoviz.scraper.sources.streams.connection import LIVE, StreamStats
from cryptoviz.scraper.sources.streams.failover import SourceView

FIELDS = ("state", "coins", "frames_per_s", "quotes_per_s", "last_frame_age_s", "last_error")


def supplied_by(name: str, owners: Mapping[str, str | None], view: SourceView) -> list[str]:
    """The coins `name` supplies now: assigned to it by the failover and served by it now."""
    if view.state != LIVE:
        return []
    return sorted(coin for coin, owner in owners.items() if owner == name and coin in view.serving)


def stream_gauges(
    name: str,
    stats: StreamStats,
    previous: tuple[int, int] | None,
    elapsed_s: float,
    coins: list[str],
    now: datetime,
) -> dict[str, float | str | None]:
    """The gauges of one source; `previous` is (frames, quotes) at the last report, `elapsed_s` ago."""
    frames_per_s = quotes_per_s = None
    if previous is not None and elapsed_s > 0:
        frames_per_s = round((stats.frames - previous[0]) / elapsed_s, 2)
        quotes_per_s = round((stats.quotes - previous[1]) / elapsed_s, 2)
    age = None if stats.last_frame_ts is None else round((now - stats.last_frame_ts).total_seconds(), 2)
    values: dict[str, float | str | None] = {
        "state": stats.state,
        "coins": ",".join(coins),
        "frames_per_s": frames_per_s,
        "quotes_per_s": quotes_per_s,
        "last_frame_age_s": age,
        "last_error": stats.last_error,
    }
    return {f"stream.{name}.{key}": value for key, value in values.items()}


def stream_counters(name: str, stats: StreamStats) -> dict[str, int]:
    """The running totals of one source's connection, as telemetry counters."""
    out = {
        f"stream_frames.{name}": stats.frames,
        f"stream_quotes.{name}": stats.quotes,
        f"stream_reconnects.{name}": stats.reconnects,
        f"stream_stalls.{name}": stats.stalls,
        f"stream_limit_waits.{name}": stats.limit_waits,
        f"stream_resubscribes.{name}": stats.resubscribes,
        f"stream_untyped.{name}": stats.untyped,
        f"stream_sink_errors.{name}": stats.sink_errors,  # quotes the failover or the feed failed on
    }
    for reason, n in list(stats.rejects.items()):
        out[f"stream_rejects.{name}.{reason}"] = n
    return out


@dataclass
class Rates:
    """(frames, quotes) of each source at the previous report, and when it was (clock seconds)."""

    seen: dict[str, tuple[int, int]] = field(default_factory=dict)
    at: float | None = None

    def step(self, now: float) -> float:
        """Seconds since the previous report (0 at the first), and now is the previous."""
        elapsed = 0.0 if self.at is None else now - self.at
        self.at = now
        return elapsed
