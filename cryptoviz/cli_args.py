"""Argument types and the parser of the `cryptoviz` command: a bad argument is one line and exit 2."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from typing import NoReturn

from cryptoviz.coins import COINS


class Parser(argparse.ArgumentParser):
    """argparse, but an error is one line (no usage block): `cryptoviz backfill: --days: ...`."""

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: {message} (see --help)", file=sys.stderr)
        sys.exit(2)


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{value} is not positive")
    return value


def symbol(text: str) -> str:
    sym = text.strip().upper()
    if sym not in COINS:
        raise argparse.ArgumentTypeError(f"unknown symbol {text!r}; known: {', '.join(COINS)}")
    return sym


def iso_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date (YYYY-MM-DD)") from None


def iso_datetime(text: str) -> datetime:
    """An ISO date or date-time, as UTC (a naive value is taken as UTC)."""
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date or date-time") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
