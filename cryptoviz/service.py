"""What every long-running entry point shares: logging, settings errors, SIGTERM handling."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable

from cryptoviz import logs
from cryptoviz.settings import SettingsError, StackSettings, load


class Stop:
    """Set by SIGTERM or SIGINT; the service loop checks it and finishes its batch."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signal: str | None = None

    def install(self) -> Stop:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: object) -> None:
        self.signal = signal.Signals(signum).name
        self._event.set()

    def set(self) -> None:
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True if asked to stop meanwhile."""
        return self._event.wait(max(0.0, seconds))


def run(name: str, main: Callable[[Stop], int]) -> None:
    """Run a service's main: one clear line and exit 2 on a bad setting, exit 0 after a clean stop."""
    try:
        logs.setup(load(StackSettings).log_level)
        code = main(Stop().install())
    except SettingsError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        sys.exit(2)
    sys.exit(code)
