"""The data folder of a local stack: `stack.json` (every process we started, by PID) under a lock,
`secrets.env` (credentials generated once, mode 0600), `logs/`, and ports chosen once."""

from __future__ import annotations

import contextlib
import fcntl
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

from cryptoviz import servers


class StackFolder:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir.resolve()
        self.state_file = self.dir / "stack.json"
        self.logs = self.dir / "logs"

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

    def log_paths(self) -> dict[str, Path]:
        state = self.read_state()
        both = {**state.get("servers", {}), **state.get("services", {})}
        return {name: Path(info["log_path"]) for name, info in both.items()}

    def stable_ports(self, name: str, n: int) -> list[int]:
        """Ports for a server's side listeners, chosen once and kept, so consoles keep their URLs."""
        path = self.dir / f"{name}.ports"
        if path.exists():
            ports = [int(p) for p in path.read_text().split()]
            if len(ports) == n and not any(servers.port_open("127.0.0.1", p) for p in ports):
                return ports
        ports = servers.free_ports(n)
        self.keep_ports(name, ports)
        return ports

    def keep_ports(self, name: str, ports: list[int]) -> None:
        """Remember the side ports a server runs on (it may have had to take others at its start)."""
        (self.dir / f"{name}.ports").write_text(" ".join(map(str, ports)))
