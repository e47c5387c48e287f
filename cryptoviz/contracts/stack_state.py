"""`stack.json`: what a local stack started, by PID. One typed definition with its codec, for whoever
writes it (`cryptoviz up | restart`, the supervisor's restart record) and whoever reads it (the
supervisor, `cryptoviz status | down | logs`, the tests). The file lives in the data folder, under
its lock (`cryptoviz.stack.folder.StackFolder`).

The Structs are mutable: the CLI and the supervisor change an entry in place under the lock and
write the whole state back. A field left at its default is left out of the file (as before: a
service the supervisor never restarted has no `restarts`, a stack without a supervisor yet has no
`supervisor`), and a field the file lacks reads as its default, so a file from an older stack reads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import msgspec

from cryptoviz.contracts import ContractError


class ServerExtra(msgspec.Struct, omit_defaults=True):
    """A server's side listeners (`servers.Server.extra`): the S3 server's alone has any."""

    endpoint: str = ""  # the S3 API's URL
    console: str = ""  # the filer's web console
    ports: list[int] = []  # the side ports it runs on


class ServerEntry(msgspec.Struct, omit_defaults=True):
    """A server the stack started: `servers.Server.to_json()` and its `address`."""

    name: str
    pid: int
    host: str
    port: int
    log_path: str
    address: str  # host:port
    extra: ServerExtra = msgspec.field(default_factory=ServerExtra)
    held: bool = False  # `cryptoviz restart` has it stopped: the supervisor leaves it alone


class ServiceEntry(msgspec.Struct, omit_defaults=True):
    """A service the stack started, and the supervisor's record of its restarts."""

    pid: int
    log_path: str
    started_ts: float | None = None  # epoch seconds of its latest start
    metrics_port: int | None = None  # serves /metrics there (None: none)
    port: int | None = None  # the dashboard's HTTP port
    held: bool = False  # `cryptoviz restart` is at it: the supervisor leaves it alone
    restarts: int = 0  # starts by the supervisor
    restart_times: list[float] = []  # epoch seconds of those within the crash-loop window
    last_error: str | None = None  # its log's last error line when it was last found exited
    last_exit_ts: float | None = None  # when it was last found exited


class SupervisorEntry(msgspec.Struct, omit_defaults=True):
    """The supervisor process (`cryptoviz.stack.supervisor`)."""

    pid: int
    log_path: str
    metrics_port: int | None = None


class StackState(msgspec.Struct, omit_defaults=True):
    """The whole file. A stack whose supervisor has not started yet has none."""

    servers: dict[str, ServerEntry] = {}
    services: dict[str, ServiceEntry] = {}
    started: float | None = None  # epoch seconds of `cryptoviz up`
    supervisor: SupervisorEntry | None = None
    healthy_after_s: float | None = None  # seconds `up` took until every service was healthy
    boot: str = ""  # the boot its processes started in (`servers.boot_id`); "": a file from before

    def pids(self) -> dict[str, int]:
        """Every process the stack started, by name: the servers, the services, the supervisor."""
        out = {name: server.pid for name, server in self.servers.items()}
        out |= {name: service.pid for name, service in self.services.items()}
        if self.supervisor is not None:
            out["supervisor"] = self.supervisor.pid
        return out


_DECODER = msgspec.json.Decoder(StackState)


def encode_state(state: StackState) -> bytes:
    """Indented JSON, as people read it too."""
    return msgspec.json.format(msgspec.json.encode(state), indent=2)


def decode_state(raw: bytes | str) -> StackState:
    """The state in `raw`; ContractError naming the field when it is not one."""
    try:
        return _DECODER.decode(raw)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise ContractError(f"stack state: {exc}") from None


def server_entry(doc: Mapping[str, Any]) -> ServerEntry:
    """The entry of a server from its JSON form (`servers.Server.to_json()` and its `address`)."""
    try:
        return msgspec.convert(doc, ServerEntry)
    except msgspec.ValidationError as exc:
        raise ContractError(f"stack state server: {exc}") from None
