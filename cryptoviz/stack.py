"""The local stack manager behind `cryptoviz up | down | status | logs`: no Docker, real servers.

State lives under one data folder (default `.cryptoviz/`): `stack.json` names every process we
started (by PID), `logs/` holds their output, `secrets.env` the generated credentials (mode 0600).
`up` ends by starting the supervisor (cryptoviz.supervisor), which restarts a service that exits.
`down` stops only those PIDs: the supervisor, the services (SIGTERM: they flush and commit), then
the servers. Whoever changes `stack.json` holds its lock (`Stack.edit`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
import redis

from cryptoviz import bus, logs, names, servers
from cryptoviz.health import service_state
from cryptoviz.settings import DashboardSettings, KafkaSettings, LakeSettings, StackSettings, load

log = logs.get("stack")
REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    entry: str  # path of the entry point, relative to the repo

    def command(self, dashboard_port: int) -> list[str]:
        if self.name == "dashboard":
            return [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(REPO / self.entry),
                "--server.headless",
                "true",
                "--server.address",
                "127.0.0.1",
                "--server.port",
                str(dashboard_port),
                "--browser.gatherUsageStats",
                "false",
            ]
        return [sys.executable, str(REPO / self.entry)]


SERVER_ORDER = ("s3", "broker", "redis")  # the broker keeps its log in S3
SERVICES = (
    ServiceSpec("scraper", "scraper/main.py"),
    ServiceSpec("ml-processor", "ml-processor/main.py"),
    ServiceSpec("spark-streaming", "spark-streaming/main.py"),
    ServiceSpec("dashboard", "dashboard/app.py"),
)


class Stack:
    def __init__(self, data_dir: Path | None = None) -> None:
        self.settings = load(StackSettings)
        self.dir = (data_dir or self.settings.cryptoviz_data_dir).resolve()
        self.state_file = self.dir / "stack.json"
        self.logs = self.dir / "logs"

    # --- state ------------------------------------------------------------------------------
    def read_state(self) -> dict:
        if self.state_file.exists():
            return json.loads(self.state_file.read_text())
        return {"servers": {}, "services": {}}

    def write_state(self, state: dict) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.state_file)  # readers never see half a file

    @contextlib.contextmanager
    def edit(self) -> Iterator[dict]:
        """The state, read and written back under the folder's lock (the CLI and the supervisor)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "stack.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self.read_state()
            yield state
            if state.get("servers") or state.get("services"):
                self.write_state(state)

    def secrets(self) -> dict[str, str]:
        """Credentials generated once per data folder; never in the repo."""
        path = self.dir / "secrets.env"
        if not path.exists():
            self.dir.mkdir(parents=True, exist_ok=True)
            values = {
                "S3_ACCESS_KEY": "cv" + secrets.token_hex(8),
                "S3_SECRET_KEY": secrets.token_hex(20),
                "REDIS_PASSWORD": secrets.token_hex(16),
            }
            path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
            path.chmod(0o600)
        return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)

    def running(self) -> dict[str, dict]:
        state = self.read_state()
        both = {**state["servers"], **state["services"]}
        return {name: p for name, p in both.items() if servers.pid_alive(p["pid"])}

    # --- up ----------------------------------------------------------------------------------
    def service_env(self, state: dict, creds: dict[str, str]) -> dict[str, str]:
        s3 = state["servers"]["s3"]
        return {
            "KAFKA_BOOTSTRAP_SERVERS": state["servers"]["broker"]["address"],
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(state["servers"]["redis"]["port"]),
            "REDIS_PASSWORD": creds["REDIS_PASSWORD"],
            "S3_ENDPOINT_URL": s3["extra"]["endpoint"],
            "S3_ACCESS_KEY": creds["S3_ACCESS_KEY"],
            "S3_SECRET_KEY": creds["S3_SECRET_KEY"],
            "CRYPTOVIZ_DATA_DIR": str(self.dir),
            "PYTHONUNBUFFERED": "1",
            "PYSPARK_PYTHON": sys.executable,
            "SPARK_LOCAL_IP": "127.0.0.1",
        }

    def up(self, services: tuple[str, ...] | None = None, wait_s: float = 120) -> dict:
        alive = self.running()
        if alive:
            raise servers.ServerError(
                f"the stack in {self.dir} is already running ({', '.join(alive)}); `cryptoviz down` first"
            )
        creds = self.secrets()
        st = self.settings
        wanted = {"STACK_BROKER_PORT": st.stack_broker_port, "STACK_REDIS_PORT": st.stack_redis_port}
        wanted["STACK_S3_PORT"] = st.stack_s3_port
        for what, port in wanted.items():
            if servers.port_open("127.0.0.1", port):
                raise servers.ServerError(f"port {port} ({what}) is taken by another program: set {what}")
        state: dict = {"servers": {}, "services": {}, "started": time.time()}
        t0 = time.monotonic()
        try:
            for name in SERVER_ORDER:
                self._start_server(name, state, creds)
            bus.ensure_topics(
                state["servers"]["broker"]["address"], partitions=load(KafkaSettings).kafka_topic_partitions
            )
            log.info("servers_ready", seconds=round(time.monotonic() - t0, 1))
            for spec in SERVICES:
                if (services is None or spec.name in services) and (REPO / spec.entry).exists():
                    self._start_service(spec, state, creds)
            self.wait_healthy(state, creds, wait_s)
            self._start_supervisor(state, creds)
        except BaseException:
            log.error("up_failed_stopping_what_started")
            self.down()
            raise
        state["healthy_after_s"] = round(time.monotonic() - t0, 1)
        self.write_state(state)
        return state

    def _start_server(self, name: str, state: dict, creds: dict[str, str]) -> None:
        """Start one server on its configured port (also what a restart does) and record its PID."""
        st = self.settings
        if name == "s3":
            other = self._stable_ports("s3", len(servers.WEED_PORT_FLAGS))
            server = servers.start_s3(
                self.dir / "s3",
                st.stack_s3_port,
                creds["S3_ACCESS_KEY"],
                creds["S3_SECRET_KEY"],
                ["lake", "tansu"],
                other_ports=other,
            )
        elif name == "broker":
            s3 = {
                "endpoint": state["servers"]["s3"]["extra"]["endpoint"],
                "access_key": creds["S3_ACCESS_KEY"],
                "secret_key": creds["S3_SECRET_KEY"],
            }
            server = servers.start_broker(self.dir / "broker", st.stack_broker_port, "s3://tansu/", s3)
        else:
            server = servers.start_redis(
                self.dir / "redis", st.stack_redis_port, creds["REDIS_PASSWORD"], persist=True
            )
        state["servers"][name] = server.to_json() | {"address": server.address}
        self.write_state(state)

    def _start_service(self, spec: ServiceSpec, state: dict, creds: dict[str, str]) -> None:
        dash_port = load(DashboardSettings).dashboard_port
        log_path = self.logs / f"{spec.name}.log"
        proc = servers.spawn(spec.command(dash_port), log_path, env=self.service_env(state, creds), cwd=REPO)
        info = state["services"].setdefault(spec.name, {})  # keeps the supervisor's restart record
        info |= {"pid": proc.pid, "log_path": str(log_path), "started_ts": time.time()}
        if spec.name == "dashboard":
            info["port"] = dash_port
        self.write_state(state)

    def start_service(self, name: str, state: dict) -> None:
        """Start one service again as `up` did (the supervisor's and `restart`'s way)."""
        self._start_service(next(s for s in SERVICES if s.name == name), state, self.secrets())

    def _start_supervisor(self, state: dict, creds: dict[str, str]) -> None:
        log_path = self.logs / "supervisor.log"
        cmd = [sys.executable, "-m", "cryptoviz.supervisor", str(self.dir)]
        proc = servers.spawn(cmd, log_path, env=self.service_env(state, creds), cwd=REPO)
        state["supervisor"] = {"pid": proc.pid, "log_path": str(log_path)}
        self.write_state(state)

    def restart(self, name: str, kill: bool = False, down_for_s: float = 0.0) -> dict:
        """Stop one server or service (SIGKILL with `kill`), wait `down_for_s`, start it as `up` did.
        A service is held meanwhile, so the supervisor leaves it to us."""
        with self.edit() as state:
            info = state["servers"].get(name) or state["services"].get(name)
            if info is None:
                raise servers.ServerError(f"{name} is not part of the running stack")
            info["held"] = True
        grace = 0.0 if kill else (1.0 if name == "broker" else 20.0)
        servers.stop_pid(info["pid"], grace_s=grace, sig=signal.SIGKILL if kill else signal.SIGTERM)
        time.sleep(down_for_s)
        with self.edit() as state:
            if name in state["servers"]:
                self._start_server(name, state, self.secrets())
            else:
                self.start_service(name, state)
            started = state["servers"].get(name) or state["services"][name]
            started.pop("held", None)
        return started

    def _stable_ports(self, name: str, n: int) -> list[int]:
        """Ports for a server's side listeners, chosen once and kept, so consoles keep their URLs."""
        path = self.dir / f"{name}.ports"
        if path.exists():
            ports = [int(p) for p in path.read_text().split()]
            if len(ports) == n and not any(servers.port_open("127.0.0.1", p) for p in ports):
                return ports
        ports = servers.free_ports(n)
        path.write_text(" ".join(map(str, ports)))
        return ports

    def wait_healthy(self, state: dict, creds: dict[str, str], wait_s: float) -> None:
        deadline = time.monotonic() + wait_s
        pending = set(state["services"])
        client = self.redis_client(state, creds)
        while pending and time.monotonic() < deadline:
            for name in list(pending):
                info = state["services"][name]
                if not servers.pid_alive(info["pid"]):
                    raise servers.ServerError(f"{name} exited during start-up; see {info['log_path']}")
                if self.service_health(name, info, client)[0] == "up":
                    pending.discard(name)
            time.sleep(0.3)
        if pending:
            raise servers.ServerError(f"not healthy after {wait_s:.0f}s: {', '.join(sorted(pending))}")

    def redis_client(self, state: dict, creds: dict[str, str]) -> redis.Redis:
        port = state["servers"]["redis"]["port"]
        return redis.Redis(host="127.0.0.1", port=port, password=creds["REDIS_PASSWORD"], socket_timeout=2)

    def service_health(self, name: str, info: dict, client: redis.Redis) -> tuple[str, str]:
        """(up | starting | down, detail) for one service process."""
        if not servers.pid_alive(info["pid"]):
            return "down", "process not running"
        if name == "dashboard":
            try:
                url = f"http://127.0.0.1:{info['port']}/_stcore/health"
                with urllib.request.urlopen(url, timeout=1) as resp:
                    return ("up", "health ok") if resp.read().strip() == b"ok" else ("starting", "")
            except OSError:
                return "starting", "http not answering yet"
        try:
            raw = client.get(names.status_key(name, f"{socket.gethostname()}-{info['pid']}"))
        except redis.RedisError as exc:
            return "starting", f"redis: {exc}"
        if raw is None:
            return "starting", "no heartbeat yet"
        doc = orjson.loads(raw)
        detail = f"state={doc.get('state')} heartbeat {time.time() - doc['heartbeat_ts']:.1f}s ago"
        fresh = service_state(doc) == "up"
        return ("up" if fresh and doc.get("state") != "starting" else "starting"), detail

    # --- down / status ------------------------------------------------------------------------
    def down(self) -> list[str]:
        state = self.read_state()
        stopped = []
        supervisor = state.get("supervisor")
        if supervisor and servers.stop_pid(supervisor["pid"], grace_s=10):  # first: it would restart them
            stopped.append("supervisor")
        for name, info in state.get("services", {}).items():
            if servers.stop_pid(info["pid"], grace_s=20):
                stopped.append(name)
        order = ("broker", "redis", "s3")  # the broker writes to S3: stop it first
        for name in order:
            info = state.get("servers", {}).get(name)
            if info is None:
                continue
            # Tansu ignores SIGTERM and its data is already in S3; Redis fsyncs its AOF on SIGTERM
            grace = 1.0 if name == "broker" else 10.0
            if servers.stop_pid(info["pid"], grace_s=grace):
                stopped.append(name)
        if self.state_file.exists():
            self.state_file.unlink()
        return stopped

    def status(self) -> dict:
        state = self.read_state()
        out: dict = {
            "data_dir": str(self.dir),
            "servers": {},
            "services": {},
            "topics": {},
            "urls": self.urls(state),
        }
        if not state["servers"]:
            return out
        creds = self.secrets()
        for name, info in state["servers"].items():
            ok = servers.pid_alive(info["pid"]) and servers.port_open("127.0.0.1", info["port"])
            out["servers"][name] = {
                "state": "up" if ok else "down",
                "address": info["address"],
                "pid": info["pid"],
            }
        client = self.redis_client(state, creds)
        for name, info in state["services"].items():
            health, detail = self.service_health(name, info, client)
            out["services"][name] = {"state": health, "detail": detail, "pid": info["pid"]}
            out["services"][name] |= restart_record(info)
        supervisor = state.get("supervisor")
        if supervisor:
            alive = servers.pid_alive(supervisor["pid"])
            out["supervisor"] = {"state": "up" if alive else "down", "pid": supervisor["pid"]}
        if out["servers"].get("broker", {}).get("state") == "up":
            try:
                out["topics"] = bus.topic_message_counts(state["servers"]["broker"]["address"])
            except Exception as exc:
                out["topics"] = {"error": str(exc)}
        return out

    def urls(self, state: dict) -> dict[str, str]:
        urls: dict[str, str] = {}
        dash = state.get("services", {}).get("dashboard")
        if dash:
            urls["dashboard"] = f"http://127.0.0.1:{dash['port']}"
        if "spark-streaming" in state.get("services", {}):
            urls["spark_ui"] = f"http://127.0.0.1:{load(LakeSettings).spark_ui_port}"
        if "s3" in state.get("servers", {}):
            urls["s3"] = state["servers"]["s3"]["extra"]["endpoint"]
            urls["s3_filer_console"] = state["servers"]["s3"]["extra"]["console"]
        if "broker" in state.get("servers", {}):
            urls["kafka_bootstrap"] = state["servers"]["broker"]["address"]
        if "redis" in state.get("servers", {}):
            urls["redis"] = f"redis://127.0.0.1:{state['servers']['redis']['port']}"
        return urls

    def log_paths(self) -> dict[str, Path]:
        state = self.read_state()
        both = {**state.get("servers", {}), **state.get("services", {})}
        return {name: Path(info["log_path"]) for name, info in both.items()}

    def tail(self, name: str | None, lines: int, follow: bool) -> None:
        paths = self.log_paths() or {p.stem: p for p in sorted(self.logs.glob("*.log"))}
        chosen = [p for n, p in paths.items() if name in (None, n)]
        if not chosen:
            raise servers.ServerError(f"no log for {name!r}; known: {', '.join(paths) or 'none'}")
        cmd = ["tail", "-n", str(lines)] + (["-F"] if follow else []) + [str(p) for p in chosen]
        subprocess.run(cmd, check=False)


def restart_record(info: dict) -> dict:
    """What the supervisor recorded of one service: restarts, whether it is in a crash loop, and
    the last error line it logged before it exited."""
    from cryptoviz.supervisor import in_crash_loop

    return {
        "restarts": info.get("restarts", 0),
        "crash_loop": in_crash_loop(info.get("restart_times", []), time.time()),
        "last_error": info.get("last_error"),
    }


def env_for_local_clients(data_dir: Path | None = None) -> dict[str, str]:
    """The variables that point a command (backfill, backtest) at the running local stack."""
    stack = Stack(data_dir)
    state = stack.read_state()
    if not state["servers"]:
        return {}
    return stack.service_env(state, stack.secrets())


def apply_local_stack_env(data_dir: Path | None = None) -> None:
    for key, value in env_for_local_clients(data_dir).items():
        os.environ.setdefault(key, value)
