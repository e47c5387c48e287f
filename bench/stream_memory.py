"""The scraper's memory over a long run on exchange streams: does anything grow with the hours?

Starts the real scraper process in live mode (`scraper/main.py`, STREAM_SOURCES=binance,coinbase,
kraken) against three local exchange servers (`cryptoviz.testing.exchange_ws`) sending a frame per
pair every FRAME_INTERVAL_S (10 ms: 100 frames a second per pair, about the busiest pairs' trade
rate on the real exchanges), a local CoinGecko for the warm start and the market data, and the real
broker and Redis. Once the streams are live, samples the scraper's RSS, PSS and private memory
(USS) (`/proc`, `cryptoviz.testing.procs`) every SAMPLE_S until the duration has passed, then
reports the start, the end, the peak and the slope (least squares, MB per hour) over all samples,
and the private memory's over the second half (after the allocator has settled). PSS also moves
when other processes on the machine start or stop sharing the scraper's library pages; the private
memory is the scraper's own, the figure that shows a leak.

    .venv/bin/python bench/stream_memory.py [seconds, default 600] [frame interval s, default 0.01]
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptoviz import bus, servers
from cryptoviz.health import fresh_instances
from cryptoviz.settings import MINUTES_2026
from cryptoviz.testing.benchlog import emit_json
from cryptoviz.testing.coingecko import LocalCoinGecko
from cryptoviz.testing.exchange_ws import EXCHANGES, LocalExchange
from cryptoviz.testing.harness import RealServers, wait_for
from cryptoviz.testing.procs import memory_mb, private_mb, tree

ROOT = Path(__file__).resolve().parent.parent
COINS = ["BTC", "ETH", "SOL", "XRP", "BNB"]  # the minute file's coins
DURATION_S = 600.0
FRAME_INTERVAL_S = 0.01
SAMPLE_S = 10.0


def slope_per_hour(samples: list[tuple[float, float]]) -> float | None:
    """Least-squares slope of (seconds, MB) in MB per hour; None under two samples."""
    if len(samples) < 2:
        return None
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return None
    return sum((t - mean_t) * (m - mean_m) for t, m in samples) / var * 3600


def streams_live(real: RealServers) -> bool:
    docs = fresh_instances(real.redis_client(), "scraper")
    gauges = docs[0].get("gauges", {}) if docs else {}
    return all(gauges.get(f"stream.{name}.state") == "live" for name in EXCHANGES)


def scraper_env(real: RealServers, gecko: LocalCoinGecko, exchanges: dict[str, LocalExchange]) -> dict:
    env = real.env() | {
        "COINS": ",".join(COINS),
        "METRICS_PORT": "",
        "LOG_LEVEL": "WARNING",
        "SCRAPER_SOURCE": "live",
        "COINGECKO_BASE_URL": gecko.url,
        "COINGECKO_API_KEY": "demo-key-of-the-bench",
        "BACKFILL_DAYS": "2",
        "STREAM_SOURCES": ",".join(EXCHANGES),
    }
    return env | {f"{name.upper()}_WS_URL": server.url for name, server in exchanges.items()}


Sample = tuple[float, float, float, float]  # seconds since the first sample, RSS, PSS, USS (MB)


def sample_memory(pid: int, proc: subprocess.Popen, seconds: float) -> list[Sample]:
    """A sample every SAMPLE_S for `seconds`."""
    samples: list[Sample] = []
    t0 = time.monotonic()
    while True:
        assert proc.poll() is None, f"the scraper exited with {proc.returncode}"
        pids = tree(pid)
        per = [memory_mb(p) for p in pids]
        at = time.monotonic() - t0
        samples.append((at, sum(r for r, _ in per), sum(p for _, p in per), sum(map(private_mb, pids))))
        _, rss, pss, uss = samples[-1]
        print(f"  {at:6.0f} s  RSS {rss:6.1f} MB  PSS {pss:6.1f} MB  private {uss:6.1f} MB", flush=True)
        if at >= seconds:
            return samples
        time.sleep(min(SAMPLE_S, max(seconds - at, 0.0)))  # the sampling period, not a wait on a condition


def run(seconds: float, frame_interval_s: float, logs: Path) -> tuple[list[Sample], dict]:
    with RealServers() as real:
        bus.ensure_topics(real.bootstrap)
        gecko = LocalCoinGecko([MINUTES_2026], COINS)
        exchanges = {
            name: LocalExchange(name, [MINUTES_2026], COINS, frame_interval_s=frame_interval_s)
            for name in EXCHANGES
        }
        with open(logs, "w") as err:
            proc = subprocess.Popen(
                [sys.executable, str(ROOT / "scraper" / "main.py")],
                env=os.environ | scraper_env(real, gecko, exchanges),
                stderr=err,
            )
        try:
            wait_for(lambda: streams_live(real), 120, "every stream live")
            samples = sample_memory(proc.pid, proc, seconds)
            counters = fresh_instances(real.redis_client(), "scraper")[0].get("counters", {})
        finally:
            servers.stop_pid(proc.pid, grace_s=20)
            for server in exchanges.values():
                server.close()
            gecko.close()
    return samples, counters


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else DURATION_S
    frame_interval_s = float(sys.argv[2]) if len(sys.argv) > 2 else FRAME_INTERVAL_S
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}")
    print(
        f"scraper on {len(EXCHANGES)} local exchange streams, {len(COINS)} coins, a frame per pair every "
        f"{frame_interval_s * 1000:g} ms, for {seconds:g} s; memory every {SAMPLE_S:g} s"
    )
    with tempfile.TemporaryDirectory() as tmp:
        samples, counters = run(seconds, frame_interval_s, Path(tmp) / "scraper.log")
    figures: dict[str, object] = {
        "bench": "stream_memory",
        "duration_s": round(samples[-1][0]),
        "samples": len(samples),
        "frame_interval_ms": frame_interval_s * 1000,
    }
    for i, what in ((1, "rss"), (2, "pss"), (3, "uss")):
        series = [(s[0], s[i]) for s in samples]
        figures |= {
            f"{what}_start_mb": round(series[0][1], 1),
            f"{what}_end_mb": round(series[-1][1], 1),
            f"{what}_max_mb": round(max(m for _, m in series), 1),
            f"{what}_slope_mb_per_h": round(slope_per_hour(series) or 0.0, 2),
        }
    half = [(s[0], s[3]) for s in samples if s[0] >= samples[-1][0] / 2]
    figures["uss_slope_second_half_mb_per_h"] = round(slope_per_hour(half) or 0.0, 2)
    frames = sum(v for k, v in counters.items() if k.startswith("stream_frames."))
    figures |= {
        "frames": frames,
        "quotes_published": counters.get("quotes_published", 0),
        "stream_dropped": counters.get("stream_dropped", 0),
    }
    print(
        f"private {figures['uss_start_mb']} -> {figures['uss_end_mb']} MB (peak {figures['uss_max_mb']}), "
        f"slope {figures['uss_slope_mb_per_h']} MB/h ({figures['uss_slope_second_half_mb_per_h']} MB/h "
        f"over the second half); PSS {figures['pss_start_mb']} -> {figures['pss_end_mb']} MB; "
        f"{frames:,} frames, {figures['quotes_published']:,} quotes published"
    )
    emit_json(figures)


if __name__ == "__main__":
    main()
