"""Where a measured figure comes from: the machine it ran on and the commit it measured (benches'
results, generated docs)."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
# what measuring writes, left out of "is the tree the commit's?"
GENERATED = (":!bench/results", ":!docs/benchmarks.md", ":!docs/models")


def machine() -> dict[str, Any]:
    """The CPU model, cores, memory and Python of this machine."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024**2)
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "arch": platform.machine(),
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
    }


def commit() -> str:
    """The checked-out commit, `+dirty` when tracked files other than the generated ones differ from
    it; `unknown` outside git."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=7", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *GENERATED],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def machine_name(m: dict[str, Any] | None = None) -> str:
    m = m or machine()
    return f"{m.get('cpu')}, {m.get('cores')} cores, {m.get('memory_gb')} GB, Python {m.get('python')}"
