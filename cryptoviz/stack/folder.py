"""The data folder of a local stack: `stack.json` (every process we started, by PID; typed in
`contracts.stack_state`) under a lock, `secrets.env` (credentials generated once, mode 0600),
`logs/`, and ports chosen once."""

from __future__ import annotations

import contextlib
import fcntl
import secrets
from collections.abc import Iterator
from pathlib import Path

from cryptoviz import servers
from cryptoviz.contracts import ContractError
from cryptoviz.contracts.stack_state import ServerEntry, ServiceEntry, StackState, decode_state, encode_state


class StackFolder:
    def __init__(self, data_dir: Path) -> None:
        self.dir = data_dir.resolve()
        self.state_file = self.dir / "stack.json"
        self.logs = self.dir / "logs"

    def read_state(self) -> StackState:
        """The state (`contracts.stack_state`); an empty one when no stack was started here, or when
        the one started here ran before the machine restarted: none of its pids is its process any
        more (`down` would signal whatever took them)."""
        if not self.state_file.exists():
            return StackState()
        try:
            state = decode_state(self.state_file.read_bytes())
        except ContractError as exc:
            raise servers.ServerError(f"{self.state_file} is unreadable ({exc})") from None
        if state.boot and state.boot != servers.boot_id():
            return StackState()
        return state

    def write_state(self, state: StackState) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_bytes(encode_state(state))
        tmp.replace(self.state_file)  # readers never see half a file

    @contextlib.contextmanager
    def edit(self) -> Iterator[StackState]:
        """The state, read and written back under the folder's lock (the CLI and the supervisor)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "stack.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            state = self.read_state()
            yield state
            if state.servers or state.services:
                self.write_state(state)

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """While `up` or `down` is at work here; another one is refused at once: two `up`s side by
        side would start a second set of servers on one folder, and the one that failed would stop
        the other's, and write its own credentials over the other's."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with open(self.dir / "up.lock", "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise servers.ServerError(
                    f"another `cryptoviz up` or `down` is at work on {self.dir}"
                ) from None
            yield

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
            servers.write_private(path, "".join(f"{k}={v}\n" for k, v in values.items()))
        return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)

    def running(self) -> dict[str, ServerEntry | ServiceEntry]:
        return {name: p for name, p in self.processes().items() if servers.pid_alive(p.pid)}

    def log_paths(self) -> dict[str, Path]:
        return {name: Path(info.log_path) for name, info in self.processes().items()}

    def processes(self) -> dict[str, ServerEntry | ServiceEntry]:
        """Every server and service in the state, by name."""
        state = self.read_state()
        both: dict[str, ServerEntry | ServiceEntry] = dict(state.servers)
        both.update(state.services)
        return both

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
