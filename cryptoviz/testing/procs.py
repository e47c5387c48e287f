"""Process trees of the local stack, read from /proc: a process's descendants, their memory and
their CPU time (the stack benches)."""

from __future__ import annotations

import os
from pathlib import Path

TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def kids(pid: int) -> list[int]:
    """The processes `pid` started (its direct children) alive now."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        out += map(int, (task / "children").read_text().split() if (task / "children").exists() else [])
    return out


def children(pid: int) -> list[int]:
    """Every descendant of `pid` alive now."""
    out = []
    for kid in kids(pid):
        out += [kid, *children(kid)]
    return out


def tree(pid: int) -> list[int]:
    return [pid, *children(pid)]


def memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of one process. PSS divides shared pages among the processes sharing them, so
    forked workers (Spark's Python daemon) are not counted many times over as they are in RSS."""
    values = {"Rss:": 0.0, "Pss:": 0.0}
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            key = line.split(maxsplit=1)[0]
            if key in values:
                values[key] = int(line.split()[1]) / 1024
    except OSError:
        pass
    return values["Rss:"], values["Pss:"]


def private_mb(pid: int) -> float:
    """Memory of the process's own (USS: private clean and dirty pages): unlike PSS it does not move
    when other processes start or stop sharing a library's pages, so it shows growth of its own."""
    total = 0.0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1]) / 1024
    except OSError:
        pass
    return total


def cpu_s(pid: int) -> float:
    """CPU seconds of a process and of its children it has waited for (user + system): summed over
    a tree at two moments, the difference counts the children that ended in between too."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # after the command: state is field 3, so utime, stime, cutime, cstime (14-17) are 11-14 here
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / TICKS_PER_S


def tree_cpu_s(pid: int) -> float:
    return sum(cpu_s(p) for p in tree(pid))
