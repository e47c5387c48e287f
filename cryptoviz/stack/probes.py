"""Health probes of a local stack: a service is up when its process lives and its heartbeat is
fresh (the dashboard: when its HTTP health answers ok); `status` gathers every probe for the CLI."""

from __future__ import annotations

import socket
import time
import urllib.request
from typing import cast

import redis

from cryptoviz import bus, contracts, names, servers
from cryptoviz.contracts.stack_state import ServiceEntry, StackState, SupervisorEntry
from cryptoviz.health import service_state
from cryptoviz.scraper.report import scraper_report
from cryptoviz.settings import LakeSettings, load
from cryptoviz.stack.folder import StackFolder

# three restarts within five minutes: a crash loop (the supervisor keeps the restart times)
CRASH_LOOP_RESTARTS = 3
CRASH_LOOP_WINDOW_S = 300.0


def in_crash_loop(restart_times: list[float], now: float) -> bool:
    return sum(1 for t in restart_times if now - t <= CRASH_LOOP_WINDOW_S) >= CRASH_LOOP_RESTARTS


def redis_client(state: StackState, creds: dict[str, str]) -> redis.Redis:
    port = state.servers["redis"].port
    return redis.Redis(host="127.0.0.1", port=port, password=creds["REDIS_PASSWORD"], socket_timeout=2)


def service_health(name: str, info: ServiceEntry, client: redis.Redis) -> tuple[str, str]:
    """(up | starting | down, detail) for one service process."""
    if not servers.pid_alive(info.pid):
        return "down", "process not running"
    if name == names.DASHBOARD:
        try:
            url = f"http://127.0.0.1:{info.port}/_stcore/health"
            with urllib.request.urlopen(url, timeout=1) as resp:
                return ("up", "health ok") if resp.read().strip() == b"ok" else ("starting", "")
        except OSError:
            return "starting", "http not answering yet"
    doc = heartbeat(name, info, client)
    if isinstance(doc, str):
        return "starting", doc
    detail = f"state={doc.get('state')} heartbeat {time.time() - doc['heartbeat_ts']:.1f}s ago"
    fresh = service_state(doc) == "up"
    return ("up" if fresh and doc.get("state") != "starting" else "starting"), detail


def heartbeat(name: str, info: ServiceEntry, client: redis.Redis) -> contracts.Heartbeat | str:
    """The heartbeat of the service process the stack started, or why there is none."""
    try:
        raw = client.get(names.status_key(name, f"{socket.gethostname()}-{info.pid}"))
    except redis.RedisError as exc:
        return f"redis: {exc}"
    if raw is None:
        return "no heartbeat yet"
    try:
        return contracts.decode_heartbeat(cast(bytes, raw))
    except contracts.ContractError as exc:
        return f"heartbeat unreadable: {exc}"


def forecasts(client: redis.Redis) -> dict[str, dict]:
    """Each modelled symbol's forecast state (`contracts.forecast_state`), from the ML summaries."""
    try:
        symbols = sorted(s.decode() for s in cast(list[bytes], client.zrange(names.ML_INDEX, 0, -1)))
        raws = cast(list, client.mget([names.ml_summary_key(s) for s in symbols])) if symbols else []
    except redis.RedisError as exc:
        return {"error": {"state": f"redis: {exc}", "settled": {}}}
    out = {}
    for sym, raw in zip(symbols, raws, strict=True):
        if raw is not None:
            try:
                out[sym] = contracts.forecast_state(contracts.decode_summary(raw))
            except contracts.ContractError:
                continue
    return out


def wait_healthy(state: StackState, creds: dict[str, str], wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    pending = set(state.services)
    client = redis_client(state, creds)
    while pending and time.monotonic() < deadline:
        for name in list(pending):
            info = state.services[name]
            if not servers.pid_alive(info.pid):
                raise servers.ServerError(f"{name} exited during start-up; see {info.log_path}")
            if service_health(name, info, client)[0] == "up":
                pending.discard(name)
        time.sleep(0.3)
    if pending:
        raise servers.ServerError(f"not healthy after {wait_s:.0f}s: {', '.join(sorted(pending))}")


def status(folder: StackFolder) -> dict:
    state = folder.read_state()
    out: dict = {
        "data_dir": str(folder.dir),
        "servers": {},
        "services": {},
        "topics": {},
        "urls": urls(state),
    }
    if not state.servers:
        return out
    creds = folder.secrets()
    for name, server in state.servers.items():
        ok = servers.pid_alive(server.pid) and servers.port_open("127.0.0.1", server.port)
        out["servers"][name] = {
            "state": "up" if ok else "down",
            "address": server.address,
            "pid": server.pid,
        }
    client = redis_client(state, creds)
    for name, info in state.services.items():
        health, detail = service_health(name, info, client)
        out["services"][name] = {"state": health, "detail": detail, "pid": info.pid}
        out["services"][name] |= restart_record(info) | metrics_url(info)
    scraper = state.services.get(names.SCRAPER)
    doc = heartbeat(names.SCRAPER, scraper, client) if scraper is not None else None
    if isinstance(doc, dict):
        out[names.SCRAPER] = scraper_report(doc.get("gauges", {}))
    out["forecasts"] = forecasts(client)
    supervisor = state.supervisor
    if supervisor is not None:
        alive = servers.pid_alive(supervisor.pid)
        out["supervisor"] = {"state": "up" if alive else "down", "pid": supervisor.pid}
        out["supervisor"] |= metrics_url(supervisor)
    if out["servers"].get("broker", {}).get("state") == "up":
        try:
            out["topics"] = bus.topic_message_counts(state.servers["broker"].address)
        except Exception as exc:
            out["topics"] = {"error": str(exc)}
    return out


def urls(state: StackState) -> dict[str, str]:
    urls: dict[str, str] = {}
    dash = state.services.get(names.DASHBOARD)
    if dash is not None:
        urls[names.DASHBOARD] = f"http://127.0.0.1:{dash.port}"
    if names.LAKE in state.services:
        urls["spark_ui"] = f"http://127.0.0.1:{load(LakeSettings).spark_ui_port}"
    if "s3" in state.servers:
        urls["s3"] = state.servers["s3"].extra.endpoint
        urls["s3_filer_console"] = state.servers["s3"].extra.console
    if "broker" in state.servers:
        urls["kafka_bootstrap"] = state.servers["broker"].address
    if "redis" in state.servers:
        urls["redis"] = f"redis://127.0.0.1:{state.servers['redis'].port}"
    processes: list[tuple[str, ServiceEntry | SupervisorEntry]] = [*state.services.items()]
    if state.supervisor is not None:
        processes.append(("supervisor", state.supervisor))
    for name, info in processes:
        if info.metrics_port:
            urls[f"metrics_{name.replace('-', '_')}"] = metrics_url(info)["metrics_url"]
    return urls


def metrics_url(info: ServiceEntry | SupervisorEntry) -> dict:
    """{"metrics_url": ...} of a process the stack gave a metrics port, else {}."""
    port = info.metrics_port
    return {"metrics_url": f"http://127.0.0.1:{port}/metrics"} if port else {}


def restart_record(info: ServiceEntry) -> dict:
    """What the supervisor recorded of one service: restarts, whether it is in a crash loop, and
    the last error line it logged before it exited."""
    return {
        "restarts": info.restarts,
        "crash_loop": in_crash_loop(info.restart_times, time.time()),
        "last_error": info.last_error,
    }
