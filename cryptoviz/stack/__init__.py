"""The local stack manager behind `cryptoviz up | down | restart | logs`: no Docker, real servers.

State lives under one data folder (default `.cryptoviz/`, see stack.folder). `up` starts the
servers, then the services (stack.services), waits for their health (stack.probes) and ends by
starting the supervisor (cryptoviz.stack.supervisor), which restarts a service that exits. `down` stops
only the PIDs it recorded: the supervisor, the services (SIGTERM: they flush and commit), then the
servers. Whoever changes `stack.json` holds its lock (`StackFolder.edit`).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cryptoviz import bus, logs, names, servers
from cryptoviz.contracts.stack_state import (
    ServerEntry,
    ServiceEntry,
    StackState,
    SupervisorEntry,
    server_entry,
)
from cryptoviz.settings import DashboardSettings, KafkaSettings, StackSettings, load
from cryptoviz.stack import probes
from cryptoviz.stack.folder import StackFolder
from cryptoviz.stack.services import (
    REPO,
    SERVER_ORDER,
    SERVICES,
    SUPERVISOR_METRICS_OFFSET,
    ServiceSpec,
    service_env,
)

log = logs.get("stack")


class Stack(StackFolder):
    """A stack's folder, and the processes it records there."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.settings = load(StackSettings)
        super().__init__(data_dir or self.settings.cryptoviz_data_dir)

    def service_env(self, state: StackState, creds: dict[str, str]) -> dict[str, str]:
        return service_env(state, creds, self.dir)

    def up(self, services: tuple[str, ...] | None = None, wait_s: float = 120) -> StackState:
        with self.exclusive():
            return self._up(services, wait_s)

    def _up(self, services: tuple[str, ...] | None, wait_s: float) -> StackState:
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
        state = StackState(started=time.time(), boot=servers.boot_id())
        t0 = time.monotonic()
        try:
            for name in SERVER_ORDER:
                self._start_server(name, state, creds)
            bus.ensure_topics(
                state.servers["broker"].address, partitions=load(KafkaSettings).kafka_topic_partitions
            )
            log.info("servers_ready", seconds=round(time.monotonic() - t0, 1))
            for spec in SERVICES:
                if (services is None or spec.name in services) and (REPO / spec.entry).exists():
                    self._start_service(spec, state, creds)
            probes.wait_healthy(state, creds, wait_s)
            self._start_supervisor(state, creds)
        except BaseException:
            log.error("up_failed_stopping_what_started")
            self._down()
            raise
        state.healthy_after_s = round(time.monotonic() - t0, 1)
        self.write_state(state)
        return state

    def _start_server(self, name: str, state: StackState, creds: dict[str, str]) -> None:
        """Start one server on its configured port (also what a restart does) and record its PID."""
        st = self.settings
        if name == "s3":
            other = self.stable_ports("s3", len(servers.WEED_PORT_FLAGS))
            server = servers.start_s3(
                self.dir / "s3",
                st.stack_s3_port,
                creds["S3_ACCESS_KEY"],
                creds["S3_SECRET_KEY"],
                ["lake", "tansu"],
                other_ports=other,
            )
            self.keep_ports("s3", server.extra["ports"])
        elif name == "broker":
            s3 = {
                "endpoint": state.servers["s3"].extra.endpoint,
                "access_key": creds["S3_ACCESS_KEY"],
                "secret_key": creds["S3_SECRET_KEY"],
            }
            server = servers.start_broker(self.dir / "broker", st.stack_broker_port, "s3://tansu/", s3)
        else:
            server = servers.start_redis(
                self.dir / "redis", st.stack_redis_port, creds["REDIS_PASSWORD"], persist=True
            )
        state.servers[name] = server_entry(server.to_json() | {"address": server.address})
        self.write_state(state)

    def _start_service(self, spec: ServiceSpec, state: StackState, creds: dict[str, str]) -> None:
        dash_port = load(DashboardSettings).dashboard_port
        log_path = self.logs / f"{spec.name}.log"
        metrics_port = spec.metrics_port(load(StackSettings).stack_metrics_port)
        env = self.service_env(state, creds) | {"METRICS_PORT": str(metrics_port or "")}
        proc = servers.spawn(spec.command(dash_port), log_path, env=env, cwd=spec.cwd)
        info = state.services.get(spec.name)  # kept: the supervisor's restart record
        if info is None:
            info = state.services[spec.name] = ServiceEntry(pid=proc.pid, log_path=str(log_path))
        info.pid, info.log_path, info.started_ts = proc.pid, str(log_path), time.time()
        info.metrics_port = metrics_port
        if spec.name == names.DASHBOARD:
            info.port = dash_port
        self.write_state(state)

    def start_service(self, name: str, state: StackState) -> None:
        """Start one service again as `up` did (the supervisor's and `restart`'s way)."""
        self._start_service(next(s for s in SERVICES if s.name == name), state, self.secrets())

    def _start_supervisor(self, state: StackState, creds: dict[str, str]) -> None:
        log_path = self.logs / "supervisor.log"
        cmd = [sys.executable, "-m", "cryptoviz.stack.supervisor", str(self.dir)]
        port = load(StackSettings).stack_metrics_port + SUPERVISOR_METRICS_OFFSET
        env = self.service_env(state, creds) | {"METRICS_PORT": str(port)}
        proc = servers.spawn(cmd, log_path, env=env, cwd=REPO)
        state.supervisor = SupervisorEntry(pid=proc.pid, log_path=str(log_path), metrics_port=port)
        self.write_state(state)

    def restart(self, name: str, kill: bool = False, down_for_s: float = 0.0) -> ServerEntry | ServiceEntry:
        """Stop one server or service (SIGKILL with `kill`), wait `down_for_s`, start it as `up` did.
        A service is held meanwhile, so the supervisor leaves it to us."""
        with self.edit() as state:
            info: ServerEntry | ServiceEntry | None = state.servers.get(name) or state.services.get(name)
            if info is None:
                raise servers.ServerError(f"{name} is not part of the running stack")
            info.held = True
        grace = 0.0 if kill else (1.0 if name == "broker" else 20.0)
        try:
            servers.stop_pid(info.pid, grace_s=grace, sig=signal.SIGKILL if kill else signal.SIGTERM)
            time.sleep(down_for_s)
            with self.edit() as state:
                if name in state.servers:
                    self._start_server(name, state, self.secrets())
                else:
                    self.start_service(name, state)
                started: ServerEntry | ServiceEntry = state.servers.get(name) or state.services[name]
                started.held = False
        except BaseException:  # interrupted, or its start failed: the supervisor's to start again
            with self.edit() as state:
                entry = state.servers.get(name) or state.services.get(name)
                if entry is not None:
                    entry.held = False
            raise
        return started

    # --- down / status ------------------------------------------------------------------------
    def down(self) -> list[str]:
        with self.exclusive():
            return self._down()

    def _down(self) -> list[str]:
        stopped = []
        supervisor = self.read_state().supervisor  # first: it would restart them
        if supervisor is not None and servers.stop_pid(supervisor.pid, grace_s=10):
            stopped.append("supervisor")
        state = self.read_state()  # after: with what a restart of its last moment started
        services = {name: info.pid for name, info in state.services.items()}
        gone = servers.stop_pids(services.values(), grace_s=20)  # side by side: each flushes its own
        stopped += [name for name, pid in services.items() if pid in gone]
        order = ("broker", "redis", "s3")  # the broker writes to S3: stop it first
        for name in order:
            server = state.servers.get(name)
            if server is None:
                continue
            # Tansu ignores SIGTERM and its data is already in S3; Redis fsyncs its AOF on SIGTERM
            grace = 1.0 if name == "broker" else 10.0
            if servers.stop_pid(server.pid, grace_s=grace):
                stopped.append(name)
        if self.state_file.exists():
            self.state_file.unlink()
        return stopped

    def status(self) -> dict:
        return probes.status(self)

    def urls(self, state: StackState) -> dict[str, str]:
        return probes.urls(state)

    def tail(self, name: str | None, lines: int, follow: bool) -> int:
        """`tail` of the logs (one service's, or all); its exit status (1: a log it could not read)."""
        paths = self.log_paths() or {p.stem: p for p in sorted(self.logs.glob("*.log"))}
        chosen = [p for n, p in paths.items() if name in (None, n)]
        if not chosen:
            raise servers.ServerError(f"no log for {name!r}; known: {', '.join(paths) or 'none'}")
        cmd = ["tail", "-n", str(lines)] + (["-F"] if follow else []) + [str(p) for p in chosen]
        return subprocess.run(cmd, check=False).returncode


def env_for_local_clients(data_dir: Path | None = None) -> dict[str, str]:
    """The variables that point a command (backfill, backtest) at the running local stack."""
    stack = Stack(data_dir)
    state = stack.read_state()
    if not state.servers:
        return {}
    return stack.service_env(state, stack.secrets())


def apply_local_stack_env(data_dir: Path | None = None) -> None:
    for key, value in env_for_local_clients(data_dir).items():
        os.environ.setdefault(key, value)
