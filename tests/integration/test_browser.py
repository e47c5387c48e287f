"""Every dashboard page in headless Chromium (Debian's), driven by Playwright, with screenshots."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from cryptoviz.servers import free_port
from cryptoviz.stack.services import SERVICES
from cryptoviz.testing.browser import render_pages
from cryptoviz.testing.seed import fill_dashboard_data

pytestmark = [pytest.mark.integration, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def dashboard(real, redis_client, tmp_path):
    lake = str(tmp_path / "lake")
    fill_dashboard_data(redis_client, lake)
    port = free_port()
    env = os.environ | real.env() | {"LAKE_URL": lake, "DASHBOARD_REFRESH_S": "2"}
    spec = next(s for s in SERVICES if s.name == "dashboard")  # started as the stack starts it
    cmd = spec.command(port)
    proc = subprocess.Popen(
        cmd, env=env, cwd=spec.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as resp:
                if resp.read() == b"ok":
                    break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("the dashboard did not answer /_stcore/health")
    yield url
    proc.terminate()
    proc.wait(timeout=20)


PAGES = [
    ("", "CryptoViz: system status", ["Services up", "1 / 1", "Symbols with predictions"], False),
    ("market", "Live market", ["BTC: 4 h candles", "BTC 4 h", "24 h volume", "Indicators"], True),
    ("predictions", "ML predictions", ["Signal", "P(up) 1h", "chance the price is higher", "forecast"], True),
]


def test_every_page_renders_with_charts_and_no_exception(dashboard):
    render_pages(dashboard, PAGES, ARTIFACTS)
