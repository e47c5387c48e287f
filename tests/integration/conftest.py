"""Processes the integration tests start are all stopped at the end of each test, passed or failed:
one left behind would poll a stopped broker for the rest of the run (and skew every benchmark)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def no_process_left_behind() -> Iterator[None]:
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
