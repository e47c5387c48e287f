"""The platform in containers, replaying real history: the tests run in order on one compose project.

Healthy services, every coin through both topics into Redis and the bucket, every dashboard page in
Chromium through the published port, two ML processors sharing the partitions, a restart that
loses and doubles nothing, `down` + `up` (with the cluster profile) keeping the lake and ML state,
the lake job on a Spark worker with the lake exactly once, and `down -v` leaving nothing.
"""

from __future__ import annotations

import json
import time
import urllib.request
from collections import Counter
from datetime import datetime
from pathlib import Path

import orjson

from cryptoviz import names
from cryptoviz.lake.reader import LakeReader
from cryptoviz.models.engine import ModelConfig, SymbolModel
from cryptoviz.scraper.sources.replay import read_history
from cryptoviz.testing.browser import render_pages
from cryptoviz.testing.harness import wait_for_snapshots_at

from .conftest import ARTIFACTS, COINS, HISTORY, REPLAY_FILE, REPLAY_START, Compose, wait_for

PROBE = Path(__file__).with_name("topics_probe.py")
METRICS_PROBE = Path(__file__).with_name("metrics_probe.py")
CLUSTER_MASTER = "spark://spark-master:7077"


def get_json(url: str):
    """A JSON document from a Spark UI, or None while it does not answer (a busy JVM can be slow)."""
    try:
        with urllib.request.urlopen(url, timeout=10) as resp:
            return json.load(resp)
    except (OSError, ValueError):
        return None


def replayed_rows():
    start = datetime.fromisoformat(REPLAY_START)
    return [r for r in read_history([HISTORY / REPLAY_FILE], COINS) if r.ts >= start]


def fresh(docs: list[dict], max_age_s: float = 10) -> list[dict]:
    return [d for d in docs if time.time() - d["heartbeat_ts"] < max_age_s]


def newest(stack: Compose, service: str) -> dict | None:
    docs = stack.statuses(service)
    return max(docs, key=lambda d: d["heartbeat_ts"]) if docs else None


def lake_rows(stack: Compose) -> Counter:
    # the lake job compacts closed days as it goes: `rows` reads each row once at every step of that
    table = LakeReader(f"{stack.env['LAKE_BUCKET']}/lake", fs=stack.s3()).rows(["symbol", "source_ts"])
    if table is None:
        return Counter()
    pairs = zip(table.column("symbol").to_pylist(), table.column("source_ts").to_pylist(), strict=True)
    return Counter((s, ts.timestamp()) for s, ts in pairs)


def expected_lake() -> Counter:
    return Counter((r.symbol, r.ts.timestamp()) for r in replayed_rows())


def scored_clean_pass_by_coin() -> dict[str, int]:
    """Predictions scored when every replayed quote is applied once, in order, by a fresh engine."""
    out = {}
    for sym in COINS:
        model = SymbolModel(ModelConfig())
        for r in (r for r in replayed_rows() if r.symbol == sym):
            model.update(r.ts.timestamp(), r.price)
        out[sym] = model.board.scored
    return out


def scored_stored_by_coin(stack: Compose) -> dict[str, int]:
    """Scored predictions in each coin's snapshot, once the snapshots hold the last replayed hour."""
    last = max(r.ts for r in replayed_rows()).timestamp()
    models = wait_for_snapshots_at(stack.redis(), COINS, last, 60)
    return {s: model["board"]["scored"] for s, model in models.items()}


def scored_stored(stack: Compose) -> int:
    return sum(scored_stored_by_coin(stack).values())


def assert_scored_once(stack: Compose) -> None:
    stored, clean = scored_stored_by_coin(stack), scored_clean_pass_by_coin()
    assert stored == clean, f"every prediction scored once (stored by coin {stored}, a clean pass {clean})"


def wait_for_the_replay_to_be_processed(stack: Compose, timeout: float, catch_up_s: float = 180) -> None:
    """The scraper done, then every coin's latest prediction at the last hour. `catch_up_s` covers a
    restart: the new processors are given partitions once the old members' sessions expire (6 s),
    then read again what was not committed; the count checks that follow say whether anything was
    lost."""
    wait_for(
        lambda: (d := newest(stack, "scraper")) and d["state"] == "idle", timeout, "the replay to finish"
    )
    last = max(r.ts for r in replayed_rows()).timestamp()
    client = stack.redis()

    def behind() -> dict:
        docs = dict(zip(COINS, client.mget([names.ml_summary_key(s) for s in COINS]), strict=True))
        return {
            s: d and orjson.loads(d)["event_ts"]
            for s, d in docs.items()
            if not d or orjson.loads(d)["event_ts"] != last
        }

    try:
        wait_for(lambda: not behind(), catch_up_s, "every coin's prediction at the last replayed hour")
    except AssertionError:
        raise AssertionError(
            f"coins behind the last hour {last}: {behind()}; {stack.statuses('ml-processor')}"
        ) from None


def test_every_service_becomes_healthy_and_the_lake_job_runs_local(compose: Compose, report):
    states = compose.states()
    services = {name.split("#")[0] for name in states}
    expected = {"redpanda", "redpanda-console", "redis", "minio", "minio-init"} | {
        "scraper",
        "ml-processor",
        "spark-streaming",
        "monitor",
        "dashboard",
    }
    assert expected <= services, states
    lake = wait_for(lambda: newest(compose, "spark-streaming"), 60, "the lake job's heartbeat")
    assert lake["gauges"]["spark_master"] == "local[2]", "no cluster profile: the job runs local"
    assert lake["gauges"]["lake_url"].startswith("s3://") and lake["gauges"]["compacts"] is True, lake
    print("healthy:", states, "in", report.get("healthy_s"), "s")


def test_the_lake_driver_maps_the_class_archive_built_into_its_image(compose: Compose):
    """The spark-streaming image's build made the driver's class archive (cryptoviz.lake.cds) for
    the Java runtime it runs, and the running driver's JVM has it mapped."""
    probe = compose.exec_python("spark-streaming", Path(__file__).with_name("class_archive_probe.py"))
    assert probe["exists"], probe
    assert any(cmd.endswith("java") for cmd in probe["mapped_by"]), probe


def test_quotes_for_every_coin_reach_both_topics(compose: Compose):
    def all_coins():
        seen = compose.exec_python("scraper", PROBE)
        return seen if all(set(COINS) <= set(seen[t]["keys"]) for t in seen) else None

    seen = wait_for(all_coins, 120, "quotes of every coin in both topics", every=3)
    assert set(seen) == {names.TOPIC_RAW, names.TOPIC_STREAMING}


def test_predictions_for_every_coin_reach_redis(compose: Compose):
    client = compose.redis()
    wait_for(
        lambda: all(client.exists(names.ml_summary_key(s)) for s in COINS), 120, "a prediction for every coin"
    )
    view = orjson.loads(client.get(names.ml_view_key("BTC")) or b"null")
    assert view, "the BTC view has content"


def test_parquet_reaches_the_bucket(compose: Compose):
    rows = wait_for(
        lambda: (c := lake_rows(compose)) and {s for s, _ in c} == set(COINS) and c,
        180,
        "Parquet rows of every coin in the bucket",
        every=3,
    )
    assert max(rows.values()) == 1, "no quote twice in the lake"


PAGES = [
    ("", "CryptoViz: system status", ["Services up", "Symbols with predictions"], False),
    ("market", "Live market", ["candles", "24 h volume", "Indicators"], True),
    ("predictions", "ML predictions", ["Signal", "consensus"], True),
    ("topics", "Topics", ["Consumer groups", "cryptoviz-ml", "Open Redpanda Console"], False),
    ("alerts", "Alerts", ["New rule", "No rule yet"], False),
]


def test_every_service_serves_metrics_on_the_compose_network(compose: Compose):
    def all_served():
        seen = compose.exec_python("dashboard", METRICS_PROBE)
        return seen if all(isinstance(v, list) for v in seen.values()) else None

    seen = wait_for(all_served, 60, "/metrics of every service", every=3)
    assert "cryptoviz_quotes_published_total" in seen["scraper"]
    assert "cryptoviz_ticks_in_total" in seen["ml-processor"]
    assert "cryptoviz_consumer_lag" in seen["ml-processor"]
    assert "cryptoviz_topics_inspected_total" in seen["monitor"]
    assert "cryptoviz_up_since_seconds" in seen["spark-streaming"]


def test_every_dashboard_page_renders_through_the_published_port(compose: Compose):
    # compose requires DASHBOARD_PASSWORD: every visit logs in first
    url = f"http://127.0.0.1:{compose.env['DASHBOARD_PORT']}"
    render_pages(url, PAGES, ARTIFACTS, password=compose.env["DASHBOARD_PASSWORD"])


def test_cryptoviz_backfill_runs_in_the_scraper_container(compose: Compose):
    # before the tests that restart and take down the stack: the scraper must be running
    # no route to CoinGecko here: the command runs, tries, and says which coin failed and why
    proc = compose.run(
        "exec",
        "-T",
        "-e",
        "COINGECKO_BASE_URL=http://127.0.0.1:9/api/v3",
        "scraper",
        "cryptoviz",
        "backfill",
        "--days",
        "2",
        "--symbols",
        "BTC",
        check=False,
        timeout=300,
    )
    said = proc.stdout + proc.stderr
    assert proc.returncode == 1 and "BTC: FAILED (connection)" in proc.stdout, said[-3000:]
    assert "the lake is not read here" in proc.stdout, said[-3000:]


def test_two_ml_processors_split_the_partitions(compose: Compose, report):
    started = time.monotonic()
    compose.run("up", "-d", "--no-recreate", "--scale", "ml-processor=2")
    partitions = int(compose.env["KAFKA_TOPIC_PARTITIONS"])

    def split():
        docs = fresh(compose.statuses("ml-processor"))
        owned = [set(filter(None, str(d["gauges"].get("partitions") or "").split(","))) for d in docs]
        wanted = {str(p) for p in range(partitions)}
        if len(docs) == 2 and all(owned) and not owned[0] & owned[1] and owned[0] | owned[1] == wanted:
            return owned
        return None

    owned = wait_for(split, 180, "two processors sharing every partition", every=2)
    report["scale_out_split_s"] = round(time.monotonic() - started, 1)
    print("partitions per processor:", owned)


def test_restarting_the_processors_loses_and_doubles_no_scored_prediction(compose: Compose, report):
    before = [d["instance"] for d in fresh(compose.statuses("ml-processor"))]
    report["restarted_mid_replay"] = (newest(compose, "scraper") or {}).get("state") != "idle"
    started = time.time()
    compose.run("restart", "-t", "30", "ml-processor")
    # back: a new process under each instance name, heartbeating. Whether one restores a symbol's
    # state depends on a message of it arriving after the group formed again, which races the end of
    # the replay; what must hold either way is checked below: every prediction scored exactly once.
    wait_for(
        lambda: all(
            (d := next((x for x in compose.statuses("ml-processor") if x["instance"] == i), None))
            and d["started_ts"] > started
            and time.time() - d["heartbeat_ts"] < 10
            for i in before
        ),
        180,
        "both processors back",
        every=2,
    )
    wait_for_the_replay_to_be_processed(compose, 600)
    report["restored_states"] = sum(
        d["counters"].get("states_restored", 0) for d in fresh(compose.statuses("ml-processor"), 60)
    )
    assert_scored_once(compose)  # none lost, none twice


def test_the_lake_holds_every_replayed_quote_once(compose: Compose):
    expected = expected_lake()
    wait_for(lambda: lake_rows(compose) == expected, 180, "every replayed quote once in the lake", every=3)


def test_down_then_up_with_the_cluster_profile_keeps_state_and_runs_the_lake_on_a_worker(
    compose: Compose, report
):
    scored = scored_stored(compose)
    lake = lake_rows(compose)
    compose.run("down", "-t", "30")
    assert not compose.containers(), "down leaves no container"
    # the second pass replays the same history fast: the republished quotes must change nothing
    text = compose.env_path.read_text().replace("REPLAY_SPEED=3600", "REPLAY_SPEED=36000")
    compose.env_path.write_text(text)
    started = time.monotonic()
    compose.run("--profile", "cluster", "up", "-d")
    wait_for(compose.redis_ready, 120, "Redis back, its AOF loaded")
    assert scored_stored(compose) == scored, "the ML state came back from the Redis volume"
    assert lake_rows(compose) == lake, "the lake came back from the MinIO volume"
    wait_for(compose.all_healthy, 300, "every service healthy, the Spark master and worker too", every=2)
    report["cluster_healthy_s"] = round(time.monotonic() - started, 1)

    wait_for(
        lambda: (
            (d := newest(compose, "spark-streaming")) and d["gauges"].get("spark_master") == CLUSTER_MASTER
        ),
        120,
        "the lake job on the cluster's master",
    )
    master_ui = f"http://127.0.0.1:{compose.env['SPARK_MASTER_UI_PORT']}/json/"
    driver_api = f"http://127.0.0.1:{compose.env['SPARK_UI_PORT']}/api/v1/applications"

    def app_with_executor():
        state = get_json(master_ui)
        if state is None:
            return None
        apps = [a for a in state.get("activeapps", []) if a["name"] == "cryptoviz-lake"]
        busy = [w for w in state.get("workers", []) if w["state"] == "ALIVE" and w["coresused"] > 0]
        return (apps, busy) if apps and busy else None

    apps, workers = wait_for(
        app_with_executor, 120, "the master listing the lake app and a busy worker", every=2
    )
    worker_hosts = {w["host"] for w in workers}

    def executors_on_the_worker():
        listed = get_json(driver_api)
        found = get_json(f"{driver_api}/{listed[0]['id']}/executors") if listed else None
        on = [
            e for e in found or [] if e["id"] != "driver" and e["hostPort"].rsplit(":", 1)[0] in worker_hosts
        ]
        return on or None

    executors = wait_for(executors_on_the_worker, 120, "an executor of the job on the worker", every=2)
    print("lake app on the cluster:", apps[0]["id"], "executors:", [e["hostPort"] for e in executors])

    wait_for_the_replay_to_be_processed(compose, 300)
    expected = expected_lake()
    wait_for(lambda: lake_rows(compose) == expected, 300, "the lake still exactly once", every=3)
    assert_scored_once(compose)  # the history replayed again scored nothing twice


def test_down_v_leaves_nothing(compose: Compose):
    compose.run("--profile", "cluster", "down", "-v", "-t", "30")
    label = f"label=com.docker.compose.project={compose.project}"
    assert not compose.containers()
    for kind in ("volume", "network"):
        out = compose_listing(kind, label)
        assert not out, f"{kind}s left after down -v: {out}"


def compose_listing(kind: str, label: str) -> list[str]:
    import subprocess

    proc = subprocess.run(["docker", kind, "ls", "-q", "--filter", label], capture_output=True, text=True)
    return proc.stdout.split()
