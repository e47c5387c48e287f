"""The live path as a user with internet meets it: the real scraper and ML processor against a local
CoinGecko serving real minute history moved to the present (`cryptoviz.testing.coingecko`), the real
broker and Redis, then the lake job over what they published. A warm start from CoinGecko's hourly
history, polls, a storm of 429s; auto mode replaying while CoinGecko is down and going live when it
answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow.dataset as ds
import pytest
from pydantic import SecretStr

from cryptoviz import bus, contracts, names
from cryptoviz.scraper import quota
from cryptoviz.scraper.loop import AUTO_REPLAYING, AUTO_SWITCHED
from cryptoviz.servers import free_port
from cryptoviz.settings import HISTORY_2025H1, MINUTES_2026, ScraperSettings
from cryptoviz.stack.probes import forecasts
from cryptoviz.testing.coingecko import LocalCoinGecko
from cryptoviz.testing.harness import RealServers, wait_for

from .conftest import STARTED

ROOT = Path(__file__).resolve().parents[2]
COINS = ["BTC", "ETH", "SOL", "XRP", "BNB"]  # the minute file's coins


@pytest.fixture
def real() -> Iterator[RealServers]:
    """A broker and Redis of this test's own: it reads every quote of the contract's topics."""
    with RealServers() as servers:
        yield servers


@pytest.fixture
def gecko() -> Iterator[LocalCoinGecko]:
    server = LocalCoinGecko([MINUTES_2026], COINS)
    yield server
    server.close()


def start(service: str, env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / service / "main.py")],
        env=os.environ | env,
        stderr=subprocess.PIPE,
        text=True,
    )
    STARTED.append(proc)
    return proc


def stop(proc: subprocess.Popen) -> str:
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err[-3000:]
    return err


def heartbeat(client, service: str) -> dict:
    docs: list[Any] = [contracts.decode_heartbeat(client.get(k)) for k in client.smembers(names.STATUS_INDEX)]
    mine = [d for d in docs if d["service"] == service]
    return max(mine, key=lambda d: d["heartbeat_ts"]) if mine else {}


def topic_quotes(bootstrap: str, topic: str) -> list[dict]:
    """Every quote of the topic (as many as its high watermarks say), in each partition's order."""
    expected = bus.topic_message_counts(bootstrap)[topic]
    consumer = bus.consumer(bootstrap, topic, group_id=None)
    out: list[dict] = []

    def read() -> bool:
        for records in consumer.poll(timeout_ms=500, max_records=50_000).values():
            out.extend(orjson.loads(r.value) for r in records)
        return len(out) >= expected

    wait_for(read, timeout=60, what=f"the {expected} messages of {topic}", every=0)
    consumer.close()
    return out


def lake_rows(real: RealServers, lake: Path) -> list[tuple[str, datetime]]:
    """(symbol, source_ts) of every row the lake job (`--once`, to the topic's end) writes."""
    env = real.env() | {
        "LAKE_URL": str(lake),
        "SPARK_UI_PORT": str(free_port()),
        "SPARK_LOCAL_IP": "127.0.0.1",
        "METRICS_PORT": "",
    }
    job = subprocess.run(
        [sys.executable, str(ROOT / "spark-streaming" / "main.py"), "--once"],
        env=os.environ | env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert job.returncode == 0, job.stderr[-3000:]
    table = ds.dataset(lake / names.LAKE_QUOTES, format="parquet", partitioning="hive").to_table()
    return list(zip(table.column("symbol").to_pylist(), table.column("source_ts").to_pylist(), strict=True))


def every_coin_calibrated(client) -> dict | None:
    """`cryptoviz status --json`'s forecasts, once every coin's say calibrated."""
    states = forecasts(client)
    done = len(states) == len(COINS) and all(s["state"] == "calibrated" for s in states.values())
    return states if done else None


def scraper_counter(client, name: str) -> int:
    return int(heartbeat(client, "scraper").get("counters", {}).get(name, 0))


def assert_the_quota_kept(client, gecko):
    """The calls counted for the month: every one answered, none ahead of the pace, one warm start,
    and the scraper's heartbeat says the same."""
    month, start_s, end_s = quota.month_bounds(time.time())
    counted = int(client.get(names.api_calls_key("coingecko", month)))
    assert counted == sum(gecko.calls.values())
    plan = quota.coingecko_plan(ScraperSettings(coingecko_api_key=SecretStr("demo")))
    pace = plan.monthly_calls * (time.time() - start_s) / (end_s - start_s) + plan.reserve(len(COINS))
    assert counted <= pace
    assert gecko.calls["market_chart"] == len(COINS)  # one warm start, a call per coin
    beat = heartbeat(client, "scraper")
    assert beat["gauges"]["quota.coingecko.calls_month"] == counted
    assert beat["gauges"]["quota.coingecko.budget_month"] == 10_000


def assert_each_coin_history_then_live(quotes: list[dict]) -> None:
    """Per coin: its backfilled history in event order, then its live quotes, none twice, none ahead of
    the clock."""
    by_symbol: dict[str, list[dict]] = defaultdict(list)
    for q in quotes:
        by_symbol[q["symbol"]].append(q)
    assert sorted(by_symbol) == sorted(COINS)
    for sym, seq in by_symbol.items():
        sources = [q["source"] for q in seq]
        first_live = sources.index("coingecko")
        # the history, in event order, before the coin's first live quote
        assert set(sources[:first_live]) == {"backfill"} and "backfill" not in sources[first_live:], sym
        history = [q["source_ts"] for q in seq[:first_live]]
        assert history == sorted(history) and len(history) == len(set(history)) >= 29 * 24, sym
        live = [q["source_ts"] for q in seq[first_live:]]
        assert len(live) == len(set(live)), f"{sym}: a live quote published twice"
        now = datetime.now(UTC).isoformat()
        assert max(history + live) <= now, f"{sym}: a quote dated after the clock"


@pytest.mark.spark
def test_a_fresh_live_install_warms_up_from_history_keeps_the_quota_and_rides_out_429s(real, gecko, tmp_path):
    client = real.redis_client()
    common = real.env() | {"COINS": ",".join(COINS), "HEARTBEAT_INTERVAL_S": "0.5", "METRICS_PORT": ""}
    ml = start("ml-processor", common | {"ML_SNAPSHOT_INTERVAL_S": "0"})
    started = time.monotonic()
    scraper = start(
        "scraper",
        common
        | {
            "SCRAPER_SOURCE": "live",
            "COINGECKO_BASE_URL": gecko.url,
            "COINGECKO_API_KEY": "demo-key-of-the-test",
            "SCRAPE_INTERVAL_S": "2",
            "BACKFILL_DAYS": "30",
            "STREAM_SOURCES": "",  # the polls alone: no exchange stream
        },
    )
    try:
        states = wait_for(lambda: every_coin_calibrated(client), 180, "every coin's forecasts calibrated")
        to_calibrated = time.monotonic() - started
        print(f"live: up -> every coin calibrated in {to_calibrated:.1f} s")
        for sym, state in states.items():
            assert state["settled"]["1h"] > 500 and state["settled"]["6h"] > 500, (sym, state)
        polled = gecko.calls["coins/markets"]
        wait_for(
            lambda: gecko.calls["coins/markets"] >= polled + 2, timeout=30, what="polls after the warm start"
        )
        gecko.storm(4, retry_after_s=1)
        wait_for(
            lambda: scraper_counter(client, "errors.coingecko.rate_limited") >= 1, 30, "the 429s counted"
        )
        after_storm = gecko.calls["coins/markets"]
        wait_for(
            lambda: gecko.calls["coins/markets"] >= after_storm + 2, timeout=60, what="polls after the storm"
        )
        published = scraper_counter(client, "quotes_published")
        wait_for(
            lambda: scraper_counter(client, "quotes_published") > published, 60, "quotes after the storm"
        )
    finally:
        err = stop(scraper)
        stop(ml)
    # the interval asked for exceeds the demo plan: said once, loudly, with the figures
    assert err.count("WOULD SPEND") == 1 and "10,000" in err
    # every call the local CoinGecko answered was counted against the month, and none ran ahead of its pace
    assert_the_quota_kept(client, gecko)
    quotes = topic_quotes(real.bootstrap, names.TOPIC_RAW)
    assert_each_coin_history_then_live(quotes)
    # the lake job over the topic: every quote once (a history point and the first live quote of
    # the same minute are one), nothing lost
    rows = lake_rows(real, tmp_path / "lake")
    assert len(rows) == len(set(rows)), "a quote twice in the lake"
    assert set(rows) == {(q["symbol"], datetime.fromisoformat(q["source_ts"])) for q in quotes}


def test_auto_mode_replays_while_coingecko_is_down_and_goes_live_when_it_answers(real, gecko):
    client = real.redis_client()
    gecko.down()
    scraper = start(
        "scraper",
        real.env()
        | {
            "COINS": ",".join(COINS),
            "HEARTBEAT_INTERVAL_S": "0.5",
            "METRICS_PORT": "",
            "SCRAPER_SOURCE": "auto",
            "COINGECKO_BASE_URL": gecko.url,
            "COINGECKO_API_KEY": "demo-key-of-the-test",  # 30 calls a minute: a probe a second fits
            "SCRAPE_INTERVAL_S": "1",
            "REPLAY_FILES": HISTORY_2025H1,
            "REPLAY_WARMUP_HOURS": "24",
            "REPLAY_SPEED": "3600",
            "BACKFILL_DAYS": "2",
            "STREAM_SOURCES": "",  # the polls alone: no exchange stream
        },
    )
    try:
        wait_for(lambda: scraper_counter(client, "quotes_published") > 100, 60, "replayed quotes")
        assert heartbeat(client, "scraper")["gauges"]["mode"] == AUTO_REPLAYING
        gecko.up()
        wait_for(
            lambda: heartbeat(client, "scraper").get("gauges", {}).get("mode") == AUTO_SWITCHED,
            timeout=60,
            what="the switch to live",
        )
        wait_for(lambda: scraper_counter(client, "quotes_in.coingecko") >= len(COINS), 60, "live quotes")
    finally:
        err = stop(scraper)
    assert "REPLAYING REAL HISTORY UNTIL ONE DOES" in err and "SWITCHING FROM REPLAY TO LIVE" in err
    sources = {q["source"] for q in topic_quotes(real.bootstrap, names.TOPIC_STREAMING)}
    assert {"replay", "backfill", "coingecko"} <= sources
