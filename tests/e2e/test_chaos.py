"""Faults under a running replay: the scraper killed three times, broker, Redis, ML processor and Spark job
killed and restarted in turn, the Spark checkpoint lost, a compaction killed midway and rerun, malformed
messages on both topics. Run alone with `pytest -m chaos`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import orjson
import pyarrow.dataset as ds
import pytest

from cryptoviz import bus, names, servers
from cryptoviz.lake.compact import STAGED, is_data_file
from cryptoviz.models.engine import ModelConfig, SymbolModel
from cryptoviz.testing.harness import wait_for_snapshots_at
from cryptoviz.testing.malformed import malformed

from .conftest import SYMBOLS, LocalStack, replayed_rows, wait_for, wait_for_predictions_at

pytestmark = pytest.mark.chaos
START = "2026-01-01T00:00:00+00:00"  # ~19 days at 4 h/s: about 110 s of replay to break things in
# what shows a service taking quotes again after a fault: its newest instance's counter moving on
FLOWING = {"ml-processor": "ticks_in", "spark-streaming": "rows_written"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    # the job's own compaction off: `cryptoviz lake compact`, killed midway and rerun below, is a
    # second compactor, and two must never work on one lake at once
    s = LocalStack(tmp_path_factory.mktemp("chaos"), REPLAY_START=START, LAKE_COMPACT_MAX_FILES="0")
    up = s.cli("up", "--wait", "180")
    assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
    yield s
    pids = s.pids()
    assert s.cli("down").returncode == 0
    assert not [p for p in pids if servers.pid_alive(p)]


def flowing_again(stack: LocalStack, services: tuple[str, ...] = tuple(FLOWING)) -> None:
    """Until each of `services` has taken quotes since this call (its counter moved on, or a new
    instance counted some), or the replay has ended and there is nothing left to take. What the
    next fault waits for: it falls on a stack that has recovered from the last one."""
    before = stack.statuses()  # Redis just restarted may not hold a service's yet

    def moved(name: str, now: dict) -> bool:
        doc, was = now.get(name), before.get(name)
        if not doc:
            return False
        count = doc["counters"].get(FLOWING[name], 0)
        if was and doc["instance"] == was["instance"]:
            return count > was["counters"].get(FLOWING[name], 0)
        return count > 0

    def flowing() -> bool:
        now = stack.statuses()
        replayed = now.get("scraper", {}).get("state") == "idle"
        return replayed or all(moved(name, now) for name in services)

    wait_for(flowing, 120, f"{', '.join(services)} taking quotes again")


def lose_the_checkpoint(stack: LocalStack) -> None:
    """The Spark job SIGKILLed and its checkpoint deleted while it is down: it starts again from the
    topic's first offset, batch ids from 0. Deleted before the new job starts: the new checkpoint's
    query id proves it."""
    checkpoint = stack.root / "lake" / "_checkpoint"
    before = orjson.loads((checkpoint / "metadata").read_bytes())["id"]
    old = stack.state().services["spark-streaming"].pid
    restart = subprocess.Popen(
        [sys.executable, "-m", "cryptoviz.cli", "restart", "spark-streaming", "--kill", "--down-for", "10"],
        env=stack.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    wait_for(lambda: not servers.pid_alive(old), 30, "the Spark job killed")
    shutil.rmtree(checkpoint)
    _, err = restart.communicate(timeout=120)
    assert restart.returncode == 0, err[-2000:]
    wait_for(lambda: (checkpoint / "metadata").exists(), 120, "a new checkpoint")
    assert orjson.loads((checkpoint / "metadata").read_bytes())["id"] != before


def split_partitions(stack: LocalStack) -> list[str]:
    """The quotes' partition folders that hold two data files or more (more than one batch wrote to
    them): what a compaction has to merge."""
    files = Counter(
        str(f.parent)
        for f in (stack.root / "lake" / names.LAKE_QUOTES).rglob("*.parquet")
        if is_data_file(f.name)
    )
    return [folder for folder, n in files.items() if n >= 2]


def compaction_killed_midway_then_rerun(stack: LocalStack) -> None:
    """`cryptoviz lake compact` killed in step 3 of a partition (its rows staged, one of its files
    gone), while the job writes into the same days; then run again to the end. Which partitions
    hold two files depends on how the job's batches fell (a slow machine can write each day in one
    batch for a while): waited for, not assumed."""
    lake = str(stack.root / "lake")
    wait_for(lambda: split_partitions(stack), 180, "a partition written by two batches")
    killed = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("compact_killed.py")), lake],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert killed.returncode == 137, killed.stderr[-2000:]
    staged = list((stack.root / "lake" / names.LAKE_QUOTES).rglob(STAGED))
    assert staged, "killed with a partition's rows staged"
    rerun = stack.cli("lake", "compact")
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert not list((stack.root / "lake" / names.LAKE_QUOTES).rglob(STAGED))


def test_faults_lose_nothing_and_count_nothing_twice(stack):
    rows = replayed_rows(START)
    bootstrap = stack.state().servers["broker"].address
    bad = malformed()
    pids = {name: svc.pid for name, svc in stack.state().services.items()}
    prod = bus.producer(bootstrap)
    for key, value, _ in bad:
        for topic in (names.TOPIC_STREAMING, names.TOPIC_RAW):
            prod.send(topic, key=key, value=value)
    prod.flush()
    prod.close()
    dlq = lambda: bus.topic_message_counts(bootstrap, (names.TOPIC_DEAD_LETTER,))[names.TOPIC_DEAD_LETTER]  # noqa: E731
    wait_for(lambda: dlq() == len(bad), 60, "the malformed messages in the dead-letter topic")

    def dead_lettered_and_published() -> bool:  # published after the batch that committed them
        counters = stack.statuses()["ml-processor"]["counters"]
        return sum(v for k, v in counters.items() if k.startswith("dead_letter.")) == len(bad)

    def quarantined() -> int:
        counters = stack.statuses()["spark-streaming"]["counters"]
        return sum(v for k, v in counters.items() if k.startswith("quarantined."))

    wait_for(dead_lettered_and_published, 60, "the dead letters counted by the processor")
    wait_for(lambda: quarantined() == len(bad), 120, "the malformed messages in the quarantine")
    assert {name: svc.pid for name, svc in stack.state().services.items()} == pids
    assert all(servers.pid_alive(p) for p in pids.values()), "no message stopped a service"

    # The scraper is killed three times first, each time once its successor has published: each new
    # one replays from the start again (its warm-up and all); the lake and the models must not take
    # any quote twice. A client's own retries can absorb a short outage whole (a 3 s one once
    # showed in no counter): 10 s outlasts them (cryptoviz.clients: 2 retries, backoff under 1 s),
    # so a heartbeat (every second) issued in the outage fails and is counted.
    for _ in range(3):
        pid = stack.state().services["scraper"].pid
        wait_for(
            lambda pid=pid: (
                (s := stack.statuses().get("scraper"))
                and s["instance"].endswith(f"-{pid}")
                and s["counters"].get("quotes_published", 0) > 0
            ),
            60,
            "the scraper publishing",
        )
        done = stack.cli("restart", "scraper", "--kill")
        assert done.returncode == 0, done.stderr[-2000:]
    faults = [("broker", False, 3.0), ("redis", False, 10.0), ("ml-processor", True, 0.0)]
    for name, kill, down_for in faults:
        flowing_again(stack)
        args = ["restart", name] + (["--kill"] if kill else []) + ["--down-for", str(down_for)]
        done = stack.cli(*args)
        assert done.returncode == 0, done.stderr[-2000:]

    flowing_again(stack)
    lose_the_checkpoint(stack)
    flowing_again(stack, ("spark-streaming",))
    compaction_killed_midway_then_rerun(stack)

    scraper = wait_for(
        lambda: (s := stack.statuses().get("scraper")) and s["state"] == "idle" and s,
        400,
        "the replay to finish",
    )
    published = scraper["counters"]["quotes_published"]
    assert published >= len(rows)  # the last scraper's replay, from the start
    expected = Counter((r.symbol, r.ts) for r in rows)
    try:
        wait_for(
            lambda: Counter(stack.lake_rows()) == expected,
            300,
            "every replayed quote once in the lake",
            every=2,
        )
    except AssertionError:
        got = Counter(stack.lake_rows())
        missing, extra = expected - got, got - expected
        lake_log = stack.cli("logs", "spark-streaming", "-n", "60").stdout
        raise AssertionError(
            f"lake: {len(missing)} missing {sorted(missing)[:3]}, {len(extra)} extra {sorted(extra)[:3]}; "
            f"lake job log:\n{lake_log}"
        ) from None

    quarantine = ds.dataset(
        stack.root / "lake" / names.LAKE_QUARANTINE, format="parquet", partitioning="hive"
    )
    assert Counter(quarantine.to_table().column("reason").to_pylist()) == Counter(r for _, _, r in bad)
    assert dlq() == len(bad), "no malformed message dead-lettered twice across the restarts"

    wait_for_predictions_at(stack, max(r.ts for r in rows).timestamp(), 120)
    client = stack.redis()
    clean = 0
    for sym in SYMBOLS:
        model = SymbolModel(ModelConfig())
        for r in (r for r in rows if r.symbol == sym):
            model.update(r.ts.timestamp(), r.price)
        clean += model.board.scored
    models = wait_for_snapshots_at(client, SYMBOLS, max(r.ts for r in rows).timestamp(), 60)
    stored = sum(model["board"]["scored"] for model in models.values())
    assert stored == clean, "every prediction scored once: none lost, none twice"

    state = stack.state()
    assert all(servers.pid_alive(p.pid) for p in state.services.values()), "no service died"
    counters = {svc: doc["counters"] for svc, doc in stack.statuses().items()}
    errors = {
        svc: {k: v for k, v in c.items() if k.startswith(("errors.", "dead_letter.", "quarantined."))}
        for svc, c in counters.items()
    }
    print("error counters after the faults:", errors)
    dead = [
        v
        for d in stack.all_statuses("ml-processor")
        for k, v in d["counters"].items()
        if k.startswith("dead_")
    ]
    assert sum(dead) == len(bad), "each malformed message counted once, over both processor instances"
    redis_errors = sum(v for c in counters.values() for k, v in c.items() if "redis" in k)
    assert redis_errors > 0, "Redis being down for 10 s shows in some service's counters"
    assert counters["ml-processor"].get("states_restored", 0) >= 1, "the new processor restored its state"
