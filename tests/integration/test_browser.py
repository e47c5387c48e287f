"""Every dashboard page in headless Chromium (Debian's), driven by Playwright, with screenshots."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from cryptoviz.servers import free_port
from cryptoviz.testing import CHROMIUM_ARGS, chromium_path, fill_dashboard_data

pytestmark = [pytest.mark.integration, pytest.mark.browser]
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def dashboard(real, redis_client, tmp_path):
    lake = str(tmp_path / "lake")
    fill_dashboard_data(redis_client, lake)
    port = free_port()
    env = os.environ | real.env() | {"LAKE_URL": lake, "DASHBOARD_REFRESH_S": "2"}
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "dashboard" / "app.py"),
        "--server.headless",
        "true",
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--browser.gatherUsageStats",
        "false",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
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
    ("market", "Live market", ["BTC price (USD)", "BTC 24 h volume (USD)", "history (lake)"], True),
    ("predictions", "ML predictions", ["Signal", "Confidence", "consensus"], True),
]


def test_every_page_renders_with_charts_and_no_exception(dashboard):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        for path, title, texts, chart in PAGES:
            page.goto(f"{dashboard}/{path}")
            page.get_by_text(title, exact=True).first.wait_for(timeout=30000)
            if chart:
                page.locator(".js-plotly-plot").first.wait_for(timeout=30000)
            page.wait_for_timeout(1500)  # let the data frames paint before the screenshot
            body = page.inner_text("body")
            for text in texts:
                assert text in body, f"{path or 'home'}: {text!r} not shown"
            assert page.locator('[data-testid="stException"]').count() == 0, f"{path}: an exception box"
            assert "Traceback" not in body
            page.screenshot(path=str(ARTIFACTS / f"page-{path or 'home'}.png"), full_page=True)
        browser.close()
