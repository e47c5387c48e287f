"""The platform in containers: docker-compose.yml built and run on this machine's Docker engine.

`make test-compose` (tests/compose/run.sh) installs and starts the engine and makes the images
available (real ones where a registry answers, stand-ins built from Debian's archive where not),
then runs these tests. One compose project per run, on free ports bound to 127.0.0.1, with a
generated .env; `down -v` at the end, whatever happened.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import redis

from cryptoviz import names
from cryptoviz.servers import free_ports, pid_alive
from cryptoviz.testing.harness import wait_for

ROOT = Path(__file__).resolve().parents[2]
HISTORY = ROOT / "data"  # what .env.example's REPLAY_DATA_DIR (./data) mounts
ARTIFACTS = ROOT / "test-artifacts" / "compose"
REPLAY_FILE = "binance_1h_2025h1.csv.gz"
REPLAY_START = "2025-06-11T00:00:00+00:00"
COINS = ["BTC", "ETH", "XRP", "USDT", "BNB", "SOL", "DOGE"]
APP_SERVICES = ["scraper", "ml-processor", "spark-streaming", "monitor", "dashboard"]
PUBLISHED = [
    "REDPANDA_EXTERNAL_PORT",
    "REDPANDA_CONSOLE_PORT",
    "REDIS_EXTERNAL_PORT",
    "MINIO_API_PORT",
    "MINIO_CONSOLE_PORT",
    "DASHBOARD_PORT",
    "SPARK_UI_PORT",
    "SPARK_MASTER_UI_PORT",
]


def compose_command() -> list[str]:
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return ["docker", "compose"]


def env_file(path: Path, overrides: dict[str, str]) -> dict[str, str]:
    """.env.example with generated secrets, free ports and the test's overrides, written 0600."""
    values: dict[str, str] = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = value
    values |= {
        "REDIS_PASSWORD": secrets.token_hex(12),
        "S3_ACCESS_KEY": "cv" + secrets.token_hex(6),
        "S3_SECRET_KEY": secrets.token_hex(16),
        "DASHBOARD_PASSWORD": secrets.token_hex(8),
        "BIND_ADDRESS": "127.0.0.1",
        "ADMIN_BIND_ADDRESS": "127.0.0.1",
        "REPLAY_FILE": REPLAY_FILE,
    }
    values |= dict(zip(PUBLISHED, map(str, free_ports(len(PUBLISHED))), strict=True))
    values |= overrides
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    path.chmod(0o600)
    return values


class Compose:
    """One compose project: the repo's docker-compose.yml plus the stand-in override when one is used."""

    def __init__(self, project: str, env_path: Path, env: dict[str, str], override: str | None) -> None:
        self.project = project
        self.env_path = env_path
        self.env = env
        # the data-ports override publishes Redis and the S3 API, which the tests read from the host
        files = ["-f", str(ROOT / "docker-compose.yml"), "-f", str(ROOT / "docker-compose.data-ports.yml")]
        if override:
            files += ["-f", override]
        self.base = [*compose_command(), "--project-directory", str(ROOT), *files]
        self.base += ["--env-file", str(env_path), "-p", project]

    def run(self, *args: str, timeout: float = 900, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run([*self.base, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"compose {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
            )
        return proc

    def containers(self, all_states: bool = True) -> list[dict]:
        """`docker inspect` of every container of the project."""
        ids = subprocess.run(
            [
                "docker",
                "ps",
                "-q",
                *(["-a"] if all_states else []),
                "--filter",
                f"label=com.docker.compose.project={self.project}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        if not ids:
            return []
        out = subprocess.run(["docker", "inspect", *ids], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)

    def states(self) -> dict[str, str]:
        """`service#n` -> health (or the exit state of a container without a healthcheck)."""
        result = {}
        for c in self.containers():
            labels = c["Config"]["Labels"]
            name = f"{labels['com.docker.compose.service']}#{labels['com.docker.compose.container-number']}"
            health = (c["State"].get("Health") or {}).get("Status")
            exited = c["State"]["Status"] == "exited"
            result[name] = health or (f"exited({c['State']['ExitCode']})" if exited else c["State"]["Status"])
        return result

    def all_healthy(self) -> dict[str, str] | None:
        """The states, once every container is healthy (the one-shot bucket job: exited with 0)."""
        states = self.states()
        ok = all(
            s == "healthy" or (name.startswith("minio-init#") and s == "exited(0)")
            for name, s in states.items()
        )
        return states if states and ok else None

    def exec_python(self, service: str, script: Path, timeout: float = 120) -> dict:
        with open(script, "rb") as stdin:
            proc = subprocess.run(
                [*self.base, "exec", "-T", service, "python", "-"],
                stdin=stdin,
                capture_output=True,
                timeout=timeout,
                cwd=ROOT,
            )
        assert proc.returncode == 0, proc.stderr.decode()[-3000:]
        return json.loads(proc.stdout.decode().strip().splitlines()[-1])

    def redis(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=int(self.env["REDIS_EXTERNAL_PORT"]),
            password=self.env["REDIS_PASSWORD"],
            socket_timeout=5,
        )

    def redis_ready(self) -> bool:
        try:
            return bool(self.redis().ping())
        except redis.RedisError:  # refused while the container starts, LOADING while the AOF is read
            return False

    def statuses(self, service: str) -> list[dict]:
        client = self.redis()
        docs = [orjson.loads(raw) for k in client.smembers(names.STATUS_INDEX) if (raw := client.get(k))]
        return [d for d in docs if d.get("service") == service]

    def s3(self):
        import pyarrow.fs as pafs

        return pafs.S3FileSystem(
            endpoint_override=f"127.0.0.1:{self.env['MINIO_API_PORT']}",
            scheme="http",
            access_key=self.env["S3_ACCESS_KEY"],
            secret_key=self.env["S3_SECRET_KEY"],
            region="us-east-1",
        )

    def logs(self) -> str:
        return self.run("logs", "--no-color", "--tail", "400", check=False, timeout=120).stdout

    def down_everything(self) -> None:
        self.run(
            "--profile", "cluster", "down", "-v", "--remove-orphans", "-t", "20", check=False, timeout=300
        )


def image_mb(image: str) -> int:
    out = subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Size}}", image], capture_output=True, text=True, check=True
    )
    return round(int(out.stdout.strip()) / 1e6)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture(autouse=True)
def logs_on_failure(request):
    """When a test fails, every container's log goes to test-artifacts/compose/<test>.log."""
    yield
    rep = getattr(request.node, "rep_call", None)
    stack = request.node.funcargs.get("compose")
    if rep is not None and rep.failed and stack is not None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        (ARTIFACTS / f"{request.node.name}.log").write_text(stack.logs())


@pytest.fixture(scope="session")
def report() -> Iterator[dict]:
    """Figures measured along the way, written to test-artifacts/compose/report.json and printed."""
    figures: dict = {}
    yield figures
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "report.json").write_text(json.dumps(figures, indent=2))
    print("\ncompose figures:", json.dumps(figures))


PROJECT_PREFIX = "cryptoviz-test-"


def stale(project: str) -> bool:
    """A test project whose pytest process (its pid is in the name) is gone."""
    if not project.startswith(PROJECT_PREFIX) or not project[len(PROJECT_PREFIX) :].isdigit():
        return False
    return not pid_alive(int(project[len(PROJECT_PREFIX) :]))


def remove_stale_test_projects() -> None:
    """Containers, volumes and networks of an earlier test run that died before its `down -v`."""
    listings = {
        "container": (["docker", "ps", "-a"], "{{.ID}}", ["docker", "rm", "-f", "-v"]),
        "volume": (["docker", "volume", "ls"], "{{.Name}}", ["docker", "volume", "rm"]),
        "network": (["docker", "network", "ls"], "{{.ID}}", ["docker", "network", "rm"]),
    }
    for kind, (ls, ident, rm) in listings.items():
        fmt = ident + ' {{.Label "com.docker.compose.project"}}'
        out = subprocess.run([*ls, "--format", fmt], capture_output=True, text=True, check=True).stdout
        left = [f[0] for f in map(str.split, out.splitlines()) if len(f) == 2 and stale(f[1])]
        if left:
            print(f"removing {len(left)} {kind}(s) left by an earlier test run")
            subprocess.run([*rm, *left], capture_output=True, check=False)


@pytest.fixture(scope="session")
def compose(tmp_path_factory, report) -> Iterator[Compose]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    remove_stale_test_projects()
    assert (HISTORY / REPLAY_FILE).is_file(), f"the repository's history is missing: {HISTORY / REPLAY_FILE}"
    override = os.environ.get("CRYPTOVIZ_COMPOSE_OVERRIDE") or None
    env_path = tmp_path_factory.mktemp("compose") / ".env"
    env = env_file(
        env_path,
        {
            "SCRAPER_SOURCE": "replay",
            "REPLAY_START": REPLAY_START,
            "REPLAY_SPEED": "3600",
            "REPLAY_WARMUP_HOURS": "72",
            "LAKE_TRIGGER_S": "5",
            "HEARTBEAT_INTERVAL_S": "2",
            "ML_PREDICTION_TTL_S": "7200",
            "DASHBOARD_REFRESH_S": "5",
            "KAFKA_SESSION_TIMEOUT_MS": "6000",
        },
    )
    stack = Compose(f"{PROJECT_PREFIX}{os.getpid()}", env_path, env, override)
    report["standins"] = bool(override)
    build = {}
    for service in APP_SERVICES:
        started = time.monotonic()
        stack.run("build", service, timeout=1800)
        build[service] = round(time.monotonic() - started, 1)
    report["build_s"] = build
    report["image_mb"] = {s: image_mb(f"cryptoviz/{s}:local") for s in APP_SERVICES}
    report["base_image_mb"] = image_mb("python:3.11.11-slim-bookworm")
    started = time.monotonic()
    try:
        stack.run("up", "-d")
        report["up_s"] = round(time.monotonic() - started, 1)
        wait_for(stack.all_healthy, 300, "every service healthy", every=2)
        report["healthy_s"] = round(time.monotonic() - started, 1)
        yield stack
    finally:
        (ARTIFACTS / "compose.log").write_text(stack.logs())
        stack.down_everything()
