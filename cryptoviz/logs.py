"""Structured one-line logs: `ts level service event key=value ...`."""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime


class _OneLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        ts = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        fields = getattr(record, "fields", {})
        kv = " ".join(f"{k}={_fmt(v)}" for k, v in fields.items())
        line = f"{ts} {record.levelname:<7} {record.name} {record.getMessage()}"
        if kv:
            line += " " + kv
        if record.exc_info:
            line += " exc=" + _fmt(repr(record.exc_info[1]))
        return line


def _fmt(value: object) -> str:
    text = str(value)
    if not text or any(c in text for c in ' ="\n'):
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    return text


class Log:
    """A logger whose calls take an event name and keyword fields."""

    def __init__(self, name: str) -> None:
        self._log = logging.getLogger(name)

    def _emit(self, level: int, event: str, exc: bool, fields: dict) -> None:
        if self._log.isEnabledFor(level):
            self._log.log(level, event, extra={"fields": fields}, exc_info=exc)

    def debug(self, event: str, **fields: object) -> None:
        self._emit(logging.DEBUG, event, False, fields)

    def info(self, event: str, **fields: object) -> None:
        self._emit(logging.INFO, event, False, fields)

    def warning(self, event: str, **fields: object) -> None:
        self._emit(logging.WARNING, event, False, fields)

    def error(self, event: str, exc: bool = False, **fields: object) -> None:
        self._emit(logging.ERROR, event, exc, fields)


def setup(level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("kafka", "urllib3", "py4j", "botocore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def get(name: str) -> Log:
    return Log(name)
