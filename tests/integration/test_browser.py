"""Every dashboard page in headless Chromium (Debian's), driven by Playwright, with screenshots."""

from __future__ import annotations

import os
import subprocess
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from cryptoviz import bus
from cryptoviz.monitor.alerts import Alerts, new_rule, save_rule
from cryptoviz.monitor.app import publish_topics
from cryptoviz.schema import make_quote
from cryptoviz.scraper import latest
from cryptoviz.servers import free_port
from cryptoviz.stack.services import SERVICES
from cryptoviz.telemetry import Telemetry
from cryptoviz.testing.browser import render_pages
from cryptoviz.testing.harness import wait_for
from cryptoviz.testing.receiver import Receiver
from cryptoviz.testing.seed import fill_dashboard_data

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def dashboard(real, redis_client, tmp_path):
    lake = str(tmp_path / "lake")
    fill_dashboard_data(redis_client, lake)
    fill_monitor_data(redis_client, real.bootstrap)
    port = free_port()
    env = os.environ | real.env() | {"LAKE_URL": lake, "DASHBOARD_REFRESH_S": "2"}
    spec = next(s for s in SERVICES if s.name == "dashboard")  # started as the stack starts it
    cmd = spec.command(port)
    proc = subprocess.Popen(
        cmd, env=env, cwd=spec.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=1) as resp:
                return resp.read() == b"ok"
        except OSError:
            return False

    try:
        wait_for(healthy, 60, "the dashboard to answer /_stcore/health", every=0.3)
    except AssertionError:
        proc.kill()
        raise
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def fill_monitor_data(client, bootstrap: str) -> None:
    """The topics report read from the real broker, and an alert fired and delivered to a local
    receiver, as the monitor service writes them."""
    bus.ensure_topics(bootstrap)
    publish_topics(client, bootstrap, 5, 60)
    with Receiver() as receiver:
        alerts = Alerts(client, Telemetry("monitor", None), receiver.url)
        save_rule(client, new_rule("SOL", "price_above", 100.0))
        for hour, price in ((0, 90.0), (1, 110.0)):
            q = make_quote("SOL", price, datetime(2024, 1, 29, tzinfo=UTC) + timedelta(hours=hour))
            latest.write(client, [q])
            alerts.evaluate()
        assert alerts.deliver_due() == 1 and len(receiver.received) == 1


PAGES = [
    (
        "",
        "CryptoViz: system status",
        ["Services up", "1 / 1", "Symbols with predictions", "Key figures", "Newest quote", "Live market"],
        False,
    ),
    ("market", "Live market", ["BTC: 4 h candles (UTC)", "BTC 4 h", "24 h volume", "Indicators"], True),
    ("predictions", "ML predictions", ["Signal", "P(up) 1h", "chance the price is higher", "forecast"], True),
    ("topics", "Topics", ["Consumer groups", "Newest messages", "crypto-dead-letter", "s ago."], False),
    ("alerts", "Alerts", ["SOL price crosses above 100 USD", "Fired", "Delivered", "New rule"], False),
]


def test_every_page_renders_with_charts_and_no_exception(dashboard):
    render_pages(dashboard, PAGES, ARTIFACTS)
