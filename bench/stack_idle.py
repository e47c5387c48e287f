"""CPU of each process `cryptoviz up` starts, over a minute of the stack as a user leaves it: the
default replay paced at one historical hour a minute (seven quotes a minute, what a live install
polling every minute also sees), every interval at its default.

Starts the whole stack in a temporary data folder on free ports (the default replay file, the
default settings), waits until the replay's warm-up has gone through (the quotes published, the ML
processor caught up, then one lake trigger), then reads every process tree's CPU time from /proc
at the start and the end of MEASURE_S. Reports each process's share of one core and the total;
the target is the whole stack under 10 % of one core.

    .venv/bin/python bench/stack_idle.py [SETTING=VALUE ...]   (the stack's settings, to try one)
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from cryptoviz import servers
from cryptoviz.settings import DEFAULT_REPLAY_FILES
from cryptoviz.testing.benchlog import emit_json
from cryptoviz.testing.harness import wait_for
from cryptoviz.testing.procs import tree_cpu_s

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.e2e.conftest import LocalStack

MEASURE_S = 60.0
SEVEN = "BTC,ETH,XRP,USDT,BNB,SOL,DOGE"
DEFAULTS = {  # LocalStack's test settings back to the platform's defaults
    "REPLAY_FILES": DEFAULT_REPLAY_FILES[0],
    "REPLAY_START": "",
    "REPLAY_WARMUP_HOURS": "72",
    "REPLAY_SPEED": "60",
    "COINS": SEVEN,
    "LAKE_TRIGGER_S": "30",
    "DASHBOARD_REFRESH_S": "10",
    "HEARTBEAT_INTERVAL_S": "5",
    "ML_PREDICTION_TTL_S": "300",
    "MONITOR_INTERVAL_S": "2",
    "TOPICS_INTERVAL_S": "10",
}


def processes(stack: LocalStack) -> dict[str, int]:
    return stack.state().pids()


def warmed_up(stack: LocalStack) -> bool:
    beats = stack.statuses()
    scraper, ml = beats.get("scraper"), beats.get("ml-processor")
    if not scraper or not ml:
        return False
    published = scraper.get("counters", {}).get("quotes_published", 0)
    return published >= 72 * 7 and ml.get("counters", {}).get("ticks_in", 0) >= published - 7


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tried = dict(arg.split("=", 1) for arg in sys.argv[1:])
        stack = LocalStack(Path(tmp), **DEFAULTS | tried)
        up = stack.cli("up", "--wait", "180")
        assert up.returncode == 0, up.stderr[-2000:]
        try:
            wait_for(lambda: warmed_up(stack), 300, "the replay's warm-up modelled", every=1)
            time.sleep(35)  # one lake trigger (30 s) past the warm-up: its batch is not the idle cost
            pids = processes(stack)
            before = {name: tree_cpu_s(pid) for name, pid in pids.items()}
            t0 = time.monotonic()
            time.sleep(MEASURE_S)
            after = {name: tree_cpu_s(pid) for name, pid in pids.items()}
            elapsed = time.monotonic() - t0
            published = stack.statuses()["scraper"]["counters"]["quotes_published"]
        finally:
            all_pids = stack.pids()
            stack.cli("down")
            assert not [p for p in all_pids if servers.pid_alive(p)]
    share = {name: (after[name] - before[name]) / elapsed * 100 for name in pids}
    total = sum(share.values())
    print(f"{elapsed:.0f} s of the idle stack ({published} quotes published by then), % of one core:")
    for name, pct in sorted(share.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<16} {pct:6.2f} %")
    print(f"total {total:.1f} % of one core (target: under 10 %)")
    emit_json(
        {
            "bench": "stack_idle",
            "total_pct_of_core": round(total, 2),
            "per_process_pct": {k: round(v, 2) for k, v in share.items()},
            "measured_s": round(elapsed, 1),
            "target_total_pct_of_core": 10,
        }
        | ({"settings": tried} if tried else {})
    )


if __name__ == "__main__":
    main()
