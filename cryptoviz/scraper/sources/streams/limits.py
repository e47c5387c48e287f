"""The exchanges' connection limits, kept by each stream's reconnect loop (pure: the clock is passed
in). An exchange counts connection attempts per IP over a window (Binance: 300 per 5 minutes) and
bans an IP that keeps going over; a stream that connects, gives a tick and drops at once would
otherwise reconnect about once a second for as long as that goes on."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class ConnectLimit:
    """At most `attempts` connection attempts in any `window_s` seconds."""

    attempts: int
    window_s: float

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.window_s <= 0:
            raise ValueError(f"a connect limit needs attempts >= 1 and window_s > 0, got {self}")


@dataclass
class ConnectWindow:
    """The attempts made in the current window: `wait_s(now)` is how long until one more keeps the
    limit (0: now), `note(now)` records one made."""

    limit: ConnectLimit
    made: deque[float] = field(default_factory=deque)

    def wait_s(self, now: float) -> float:
        self._forget(now)
        if len(self.made) < self.limit.attempts:
            return 0.0
        return max(0.0, self.made[0] + self.limit.window_s - now)

    def note(self, now: float) -> None:
        self._forget(now)
        self.made.append(now)

    def _forget(self, now: float) -> None:
        while self.made and self.made[0] <= now - self.limit.window_s:
            self.made.popleft()
