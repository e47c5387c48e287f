"""A whole local stack (`cryptoviz up`) in a temporary data folder, on free ports, replaying history."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis

from cryptoviz import names, servers
from cryptoviz.coins import DEFAULT_COINS
from cryptoviz.contracts.stack_state import StackState, decode_state
from cryptoviz.lake.reader import LakeReader
from cryptoviz.scraper.sources.replay import read_history
from cryptoviz.settings import DEFAULT_REPLAY_FILES, HISTORY_2024_2026
from cryptoviz.testing.harness import wait_for
from cryptoviz.testing.receiver import Receiver

SYMBOLS = ["BTC", "ETH", "SOL", "XRP"]
REPLAY_START = "2026-01-08T00:00:00+00:00"
# the platform test's stack: the default replay file, all seven default coins, its last 12 days
# (about 75 s of replay at 4 h/s; the tests that need a price to move make it move themselves)
PLATFORM_SYMBOLS = list(DEFAULT_COINS)
PLATFORM_START = "2025-06-06T00:00:00+00:00"
PLATFORM_FILES = DEFAULT_REPLAY_FILES[0]


class LocalStack:
    def __init__(self, root: Path, **overrides: str) -> None:
        self.root = root
        self.receiver = Receiver()  # the alerts' webhook
        broker, rds, s3, dash, ui = servers.free_ports(5)
        self.env = (
            os.environ
            | {
                "CRYPTOVIZ_DATA_DIR": str(root),
                "STACK_BROKER_PORT": str(broker),
                "STACK_REDIS_PORT": str(rds),
                "STACK_S3_PORT": str(s3),
                "DASHBOARD_PORT": str(dash),
                "SPARK_UI_PORT": str(ui),
                "STACK_METRICS_PORT": str(servers.free_port_run(10)),
                "SCRAPER_SOURCE": "replay",
                "REPLAY_FILES": HISTORY_2024_2026,
                "REPLAY_START": REPLAY_START,
                "REPLAY_WARMUP_HOURS": "48",
                "REPLAY_SPEED": "14400",
                "COINS": ",".join(SYMBOLS),
                "LAKE_TRIGGER_S": "3",
                "DASHBOARD_REFRESH_S": "2",
                "HEARTBEAT_INTERVAL_S": "1",
                "ML_PREDICTION_TTL_S": "3600",
                "ALERT_WEBHOOK_URL": self.receiver.url,
                "MONITOR_INTERVAL_S": "0.5",
                "TOPICS_INTERVAL_S": "2",
            }
            | overrides
        )
        self.dashboard = f"http://127.0.0.1:{dash}"

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "cryptoviz.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def state(self) -> StackState:
        return decode_state((self.root / "stack.json").read_bytes())

    def pids(self) -> list[int]:
        return list(self.state().pids().values())

    def redis(self) -> redis.Redis:
        secrets = dict(line.split("=", 1) for line in (self.root / "secrets.env").read_text().splitlines())
        return redis.Redis(port=int(self.env["STACK_REDIS_PORT"]), password=secrets["REDIS_PASSWORD"])

    def statuses(self) -> dict[str, dict]:
        """Latest status document per service (the newest instance of each)."""
        client = self.redis()
        out: dict[str, dict] = {}
        for key in client.smembers(names.STATUS_INDEX):
            raw = client.get(key)
            if raw:
                doc = orjson.loads(raw)
                if doc["service"] not in out or doc["heartbeat_ts"] > out[doc["service"]]["heartbeat_ts"]:
                    out[doc["service"]] = doc
        return out

    def all_statuses(self, service: str) -> list[dict]:
        client = self.redis()
        docs = [orjson.loads(client.get(k) or b"{}") for k in client.smembers(names.STATUS_INDEX)]
        return [d for d in docs if d.get("service") == service]

    def lake_rows(self) -> list[tuple[str, object]]:
        """(symbol, source_ts) of every row in the lake, each as often as the lake holds it: read as
        the dashboard reads, which lists again when the lake's compaction took a listed file away."""
        table = LakeReader(str(self.root / "lake")).rows(["symbol", "source_ts"])
        if table is None:
            return []
        return list(
            zip(table.column("symbol").to_pylist(), table.column("source_ts").to_pylist(), strict=True)
        )


def replayed_rows(start_iso: str = REPLAY_START, files: str = HISTORY_2024_2026, symbols=tuple(SYMBOLS)):
    from datetime import datetime

    start = datetime.fromisoformat(start_iso)
    return [r for r in read_history([files], list(symbols)) if r.ts >= start]


def wait_for_predictions_at(
    stack: LocalStack, event_ts: float, timeout: float, symbols=tuple(SYMBOLS)
) -> None:
    """Until every symbol's latest prediction is for the tick at `event_ts`."""
    client = stack.redis()

    def at_last() -> bool:
        docs = client.mget([names.ml_summary_key(s) for s in symbols])
        return all(d and orjson.loads(d)["event_ts"] == event_ts for d in docs)

    wait_for(at_last, timeout, "every symbol's prediction at the last replayed hour")


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory) -> Iterator[LocalStack]:
    stack = LocalStack(
        tmp_path_factory.mktemp("stack"),
        COINS=",".join(PLATFORM_SYMBOLS),
        REPLAY_FILES=PLATFORM_FILES,
        REPLAY_START=PLATFORM_START,
    )
    up = stack.cli("up", "--wait", "180")
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
    try:
        yield stack
    finally:
        stack.receiver.close()
        pids = stack.pids()
        down = stack.cli("down")
        assert down.returncode == 0, down.stderr
        alive = [p for p in pids if servers.pid_alive(p)]
        assert not alive, f"processes of ours still running after down: {alive}"
