"""The platform as a user runs it: `cryptoviz up` with replay, every page in Chromium, lake and ML checked."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import orjson

from cryptoviz import names
from cryptoviz.scraper import latest
from cryptoviz.testing.browser import CHROMIUM_ARGS, chromium_path
from cryptoviz.testing.prometheus import Prometheus

from .conftest import (
    PLATFORM_FILES,
    PLATFORM_START,
    PLATFORM_SYMBOLS,
    replayed_rows,
    wait_for,
    wait_for_predictions_at,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def test_status_shows_every_server_and_service_up(local_stack):
    status = local_stack.cli("status", "--json")
    assert status.returncode == 0, status.stdout
    doc = orjson.loads(status.stdout)
    assert {n: s["state"] for n, s in doc["servers"].items()} == {"s3": "up", "broker": "up", "redis": "up"}
    assert set(doc["services"]) == {"scraper", "ml-processor", "spark-streaming", "monitor", "dashboard"}


def test_lake_compact_refuses_beside_the_lake_job_that_compacts_the_lake(local_stack):
    """The stack's lake job compacts its lake itself and says so in its heartbeat: a second
    compactor is refused, and nothing of the lake is touched."""
    job = wait_for(lambda: local_stack.statuses().get("spark-streaming"), 60, "the lake job's heartbeat")
    assert job["gauges"]["compacts"] is True, job["gauges"]
    done = local_stack.cli("lake", "compact")
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "the lake job compacts it itself" in done.stderr


def turn_btcs_hour(client) -> Callable[[], object]:
    """Once the monitor has evaluated the new rule on BTC's 1 h move (its first evaluation records
    what holds without firing), a quote of BTC an hour after the latest, moved 1 % against what
    held: the rule's token changes to a direction, so it fires whether or not the replay still moves
    prices. The quote is written again at each call until the alert arrives (a replay still running
    may overwrite the latest quote before the monitor reads it; the monitor keeps the newest)."""
    from datetime import datetime, timedelta

    from cryptoviz import contracts
    from cryptoviz.monitor.alerts import load_rules
    from cryptoviz.schema import make_quote

    rule = wait_for(
        lambda: next((r["id"] for r in load_rules(client)[0] if r["kind"] == "move_1h"), None),
        30,
        "the rule in Redis",
    )
    wait_for(lambda: client.hexists(names.ALERT_STATE, rule), 30, "the rule's first evaluation")
    held = client.hget(names.ALERT_STATE, rule)  # b"" when nothing held
    last = contracts.decode_latest(client.hget(names.QUOTES_LATEST, "BTC"))
    factor = 0.99 if held == b"up" else 1.01
    at = datetime.fromisoformat(last.source_ts) + timedelta(hours=1)
    turn = make_quote("BTC", last.price_usd * factor, at, source=last.source)
    return lambda: latest.write(client, [turn])


def test_a_rule_made_on_the_alerts_page_fires_to_the_webhook(local_stack):
    """A rule on the 1 h move of BTC at 0.05 %, made on the page, fires to the webhook when the
    hourly direction turns (the test turns it: the replay may have ended by now)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1100})
        page.goto(f"{local_stack.dashboard}/alerts")
        page.get_by_text("New rule", exact=True).wait_for(timeout=60000)
        page.get_by_role("combobox", name="When").click()
        page.get_by_role("option", name="moves in 1 h by at least").click()
        level = page.get_by_label("Level (%)")
        level.fill("0.05")
        level.press("Enter")
        page.get_by_role("button", name="Add rule").click()
        page.get_by_text("BTC moves in 1 h by at least 0.05 %", exact=True).wait_for(timeout=30000)
        turn = turn_btcs_hour(local_stack.redis())

        def alerted() -> list:
            if not local_stack.receiver.received:
                turn()
            return local_stack.receiver.received

        wait_for(alerted, 90, "an alert at the local webhook receiver")
        alert = local_stack.receiver.received[0]
        assert alert["alert"]["symbol"] == "BTC" and "in the last hour" in alert["text"]
        page.get_by_text("Delivered", exact=True).wait_for(timeout=30000)
        assert page.locator('[data-testid="stException"]').count() == 0
        page.screenshot(path=str(ARTIFACTS / "e2e-alerts.png"), full_page=True)
        page.goto(f"{local_stack.dashboard}/topics")
        page.get_by_text("cryptoviz-ml", exact=False).first.wait_for(timeout=60000)
        for topic in names.ALL_TOPICS:  # the topic buttons (the table's cells are drawn, not text)
            page.get_by_role("radio", name=topic).wait_for(state="attached", timeout=30000)
        body = page.inner_text("body")
        assert "Deploy" not in body and "Traceback" not in body
        page.screenshot(path=str(ARTIFACTS / "e2e-topics.png"), full_page=True)
        browser.close()


def test_prometheus_scrapes_every_service_and_queries_their_counters(local_stack, tmp_path):
    doc = orjson.loads(local_stack.cli("status", "--json").stdout)
    targets = {n: s["metrics_url"] for n, s in doc["services"].items() if "metrics_url" in s}
    targets["supervisor"] = doc["supervisor"]["metrics_url"]
    assert set(targets) == {"scraper", "ml-processor", "spark-streaming", "monitor", "supervisor"}
    assert doc["urls"]["metrics_ml_processor"] == targets["ml-processor"]
    with Prometheus(tmp_path / "prometheus", targets) as prom:
        # scraped at least once each: with a 1 s interval (and so a 1 s scrape timeout) a service
        # busy on a loaded machine can miss a scrape or several, which says nothing of its metrics
        wait_for(
            lambda: (
                sorted(r["metric"]["job"] for r in prom.query("max_over_time(up[5m]) == 1"))
                == sorted(targets)
            ),
            60,
            "Prometheus scraping every service",
            show=lambda: f"up: {[(r['metric']['job'], r['value'][1]) for r in prom.query('up')]}",
        )

        def counted(expr: str) -> float:
            found = prom.query(expr)
            return float(found[0]["value"][1]) if found else 0.0

        wait_for(lambda: counted('cryptoviz_quotes_published_total{service="scraper"}') > 0, 60, "quotes")
        wait_for(lambda: counted("sum(cryptoviz_ticks_in_total)") > 0, 60, "ticks into the ML processor")
        wait_for(lambda: counted("sum(cryptoviz_ml_batch_seconds_count)") > 0, 60, "ML batch durations")
        wait_for(lambda: counted("sum(cryptoviz_lake_batch_seconds_count)") > 0, 120, "lake batch durations")
        assert prom.query('cryptoviz_quotes_out_total{kind="replay"}'), "quotes out by source"


def test_pages_show_live_values_that_change_between_refreshes(local_stack):
    from playwright.sync_api import sync_playwright

    client = local_stack.redis()
    wait_for(
        lambda: all(client.get(names.ml_summary_key(s)) for s in PLATFORM_SYMBOLS),
        120,
        "a prediction per symbol",
    )
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        for path, title in (("", "CryptoViz: system status"), ("market", "Live market")):
            page.goto(f"{local_stack.dashboard}/{path}")
            page.get_by_text(title, exact=True).first.wait_for(timeout=30000)
            drawn = ".js-plotly-plot" if path else '[data-testid="stMetric"]'
            page.locator(drawn).first.wait_for(timeout=60000)
            body = page.inner_text("body")
            for sym in PLATFORM_SYMBOLS:  # a card (home) or a coin button (market) per default coin
                assert sym in body, f"{path or 'home'}: {sym} not shown"
            assert "no quote yet" not in body, "every default coin has a quote"
            assert page.locator('[data-testid="stException"]').count() == 0
            assert "Deploy" not in body and "Traceback" not in body
            page.screenshot(path=str(ARTIFACTS / f"e2e-{path or 'home'}.png"), full_page=True)
        page.goto(f"{local_stack.dashboard}/predictions")
        page.locator(".js-plotly-plot").first.wait_for(timeout=60000)
        price = page.locator('[data-testid="stMetricValue"]').nth(2)
        first = price.inner_text()
        # the replay may have ended by now: a new price in the shown coin's view makes the change
        # this test waits for happen whatever the timing (the page must show it on its next refresh)
        key = names.ml_view_key(PLATFORM_SYMBOLS[0])
        view = orjson.loads(client.get(key))
        view["price"] = view["price"] * 1.01 + 1
        client.set(key, orjson.dumps(view), keepttl=True)
        wait_for(lambda: price.inner_text() != first, 30, "the price to move on a refresh", every=0.5)
        assert page.locator('[data-testid="stException"]').count() == 0
        browser.close()


def test_replay_lands_in_the_lake_once_and_every_symbol_has_predictions(local_stack):
    rows = replayed_rows(PLATFORM_START, PLATFORM_FILES, PLATFORM_SYMBOLS)
    scraper = wait_for(
        lambda: (s := local_stack.statuses().get("scraper")) and s["state"] == "idle" and s,
        240,
        "the replay to finish",
    )
    assert scraper["counters"]["quotes_published"] == len(rows)
    expected = Counter((r.symbol, r.ts) for r in rows)
    wait_for(lambda: len(local_stack.lake_rows()) >= len(rows), 180, "every replayed row in the lake")
    got = Counter(local_stack.lake_rows())
    assert got == expected, "each replayed quote exactly once, in its symbol and date"
    dates = {p.name for p in (local_stack.root / "lake" / names.LAKE_QUOTES).glob("symbol=*/date=*")}
    assert dates == {f"date={d}" for d in {r.ts.date().isoformat() for r in rows}}
    wait_for_predictions_at(local_stack, max(r.ts for r in rows).timestamp(), 60, PLATFORM_SYMBOLS)
    ml = local_stack.statuses()["ml-processor"]
    assert ml["counters"]["ticks_in"] == len(rows) and ml["counters"]["scored"] > 0


def test_a_service_that_dies_is_started_again_by_the_supervisor(local_stack):
    import os
    import signal

    from cryptoviz import servers

    before = local_stack.state().services["ml-processor"].pid
    os.kill(before, signal.SIGKILL)

    def restarted():
        doc = orjson.loads(local_stack.cli("status", "--json").stdout)
        ml = doc["services"]["ml-processor"]
        return doc if ml["pid"] != before and ml["state"] == "up" and ml["restarts"] == 1 else None

    doc = wait_for(restarted, 120, "the ML processor started again and healthy")
    assert doc["supervisor"]["state"] == "up"
    assert not servers.pid_alive(before)
    assert not doc["services"]["ml-processor"]["crash_loop"]
    sup = wait_for(lambda: local_stack.statuses().get("supervisor"), 30, "the supervisor's heartbeat")
    wait_for(
        lambda: local_stack.statuses()["supervisor"]["counters"].get("restarts.ml-processor") == 1,
        30,
        "the restart counted on the status page",
    )
    assert sup["state"] == "supervising"
