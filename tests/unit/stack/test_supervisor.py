"""The supervisor's decisions, over real processes and a stack double that keeps the state in memory."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator

from cryptoviz.contracts.stack_state import ServiceEntry, StackState
from cryptoviz.servers import pid_alive
from cryptoviz.stack.supervisor import (
    CRASH_LOOP_WINDOW_S,
    Supervisor,
    backoff_s,
    in_crash_loop,
    last_error_line,
)


class MemoryStack:
    """The two things the supervisor asks of a Stack; each start runs `script` as the service."""

    def __init__(self, script: str, log_path: str) -> None:
        self.script = script
        self.log_path = log_path
        self.state = StackState()
        self.procs: list[subprocess.Popen] = []

    @contextlib.contextmanager
    def edit(self) -> Iterator[StackState]:
        yield self.state

    def start_service(self, name: str, state: StackState) -> None:
        with open(self.log_path, "a") as log:
            proc = subprocess.Popen([sys.executable, "-c", self.script], stdout=log, stderr=log)
        self.procs.append(proc)
        info = state.services.setdefault(name, ServiceEntry(pid=proc.pid, log_path=self.log_path))
        info.pid, info.log_path = proc.pid, self.log_path

    def reap(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_to_a_cap_and_three_restarts_in_five_minutes_are_a_crash_loop():
    assert [backoff_s(n) for n in (1, 2, 3, 4, 7, 20)] == [1.0, 2.0, 4.0, 8.0, 60.0, 60.0]
    assert not in_crash_loop([100.0, 200.0], 250.0)
    assert in_crash_loop([100.0, 200.0, 240.0], 250.0)
    assert not in_crash_loop([100.0, 200.0, 240.0], 100.0 + CRASH_LOOP_WINDOW_S + 1)


def test_the_last_error_line_is_the_last_that_reads_like_one(tmp_path):
    log = tmp_path / "s.log"
    log.write_text("starting\nERROR kafka broker down\nretrying\n")
    assert last_error_line(str(log)) == "ERROR kafka broker down"
    log.write_text("just\nlines\n")
    assert last_error_line(str(log)) == "lines"
    assert last_error_line(str(tmp_path / "missing.log")) is None


def test_a_service_that_exits_is_started_again_after_its_backoff_and_a_crash_loop_shows(tmp_path):
    crash = "import sys; print('invalid setting ML_WEIGHTS'); sys.exit(2)"
    stack = MemoryStack(crash, str(tmp_path / "s.log"))
    clock = Clock()
    wall = Clock()
    sup = Supervisor(stack, clock=clock, wall=wall)
    try:
        stack.start_service("ml-processor", stack.state)
        stack.procs[-1].wait()
        starts = []
        for _ in range(4):
            assert sup.tick() == []  # found exited: recorded, not yet started
            info = stack.state.services["ml-processor"]
            assert info.last_error == "invalid setting ML_WEIGHTS"
            wait = backoff_s(sup.watches["ml-processor"].failures)
            clock.now += wait - 0.01
            assert sup.tick() == [], "not before the backoff"
            clock.now += 0.02
            wall.now += wait
            assert sup.tick() == ["ml-processor"]
            starts.append(wait)
            stack.procs[-1].wait()
        assert starts == [1.0, 2.0, 4.0, 8.0]
        info = stack.state.services["ml-processor"]
        assert info.restarts == 4
        assert in_crash_loop(info.restart_times, wall.now)
    finally:
        stack.reap()


def test_a_running_or_held_service_is_left_alone_and_a_long_run_resets_the_backoff(tmp_path):
    stack = MemoryStack("import time; time.sleep(60)", str(tmp_path / "s.log"))
    clock = Clock()
    sup = Supervisor(stack, clock=clock)
    try:
        stack.start_service("scraper", stack.state)
        pid = stack.state.services["scraper"].pid
        assert sup.tick() == [] and pid_alive(pid)
        sup.watches["scraper"].failures = 3
        clock.now += 61
        sup.tick()
        assert sup.watches["scraper"].failures == 0, "a run of a minute is a recovery"
        stack.state.services["scraper"].held = True
        stack.procs[-1].kill()
        stack.procs[-1].wait()
        clock.now += 120
        assert sup.tick() == [] and sup.tick() == [], "`cryptoviz restart` holds it"
        assert stack.state.services["scraper"].restarts == 0
    finally:
        stack.reap()
