"""The model core's cost per tick in CPU instructions, counted by valgrind's callgrind: the same count
whatever else the machine is doing, so two commits' cores compare on a busy machine too.

Runs a driver twice under callgrind (the build `kernel` loads: the ahead-of-time module after
`make install`): 200 random-walk symbols with hourly ticks, WARM_HOURS of them applied first (every
volatility regime learnt: the steady state a running processor is in), then either nothing or
TICKS more. The difference of the two counts over TICKS is the instructions a tick costs, the
interpreter's start, the imports and the warm-up cancelling out.

    apt-get install valgrind; .venv/bin/python bench/core_instructions.py
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from cryptoviz.testing.benchlog import emit_json

SYMBOLS = 200
WARM_HOURS = 400
TICKS = 20_000


def drive(n: int) -> None:
    """Apply WARM_HOURS of every symbol, then n ticks more (what runs under callgrind)."""
    from cryptoviz.models.book import ModelBook
    from cryptoviz.models.engine import ModelConfig

    book = ModelBook(ModelConfig(), rows=256, slots=64)
    rng = random.Random(1)
    rows = np.array([book.row(f"S{i}") for i in range(SYMBOLS)], dtype=np.int64)
    prices = np.array([rng.uniform(1, 1000) for _ in range(SYMBOLS)])
    hours = WARM_HOURS + TICKS // SYMBOLS
    all_rows, all_ts, all_prices = [], [], []
    for hour in range(hours):
        prices = prices * np.exp(np.array([rng.gauss(0, 0.01) for _ in range(SYMBOLS)]))
        all_rows.append(rows)
        all_ts.append(np.full(SYMBOLS, hour * 3600.0))
        all_prices.append(prices)
    r, t, p = np.concatenate(all_rows), np.concatenate(all_ts), np.concatenate(all_prices)
    warm = WARM_HOURS * SYMBOLS
    book.apply(r[:warm], t[:warm], p[:warm])
    if n:
        book.apply(r[warm : warm + n], t[warm : warm + n], p[warm : warm + n])


def instructions(n: int, out: Path) -> int:
    run = subprocess.run(
        [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            __file__,
            "--drive",
            str(n),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    found = re.search(r"Collected : (\d+)", run.stderr)
    if not found:
        raise RuntimeError(f"callgrind printed no count: {run.stderr[-500:]}")
    return int(found.group(1))


def main() -> int:
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: apt-get install valgrind", file=sys.stderr)
        return 2
    from cryptoviz.models import kernel

    with tempfile.TemporaryDirectory() as tmp:
        base = instructions(0, Path(tmp) / "base.out")
        ticks = instructions(TICKS, Path(tmp) / "ticks.out")
    per_tick = (ticks - base) / TICKS
    print(f"core build {kernel.build}: {base:,} instructions for the warm-up alone, {ticks:,} with ticks")
    emit_json(
        {
            "bench": "core_instructions",
            "instructions_per_tick": round(per_tick),
            "core_build": kernel.build,
            "symbols": SYMBOLS,
            "warm_hours": WARM_HOURS,
            "ticks": TICKS,
        }
    )
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--drive"]:
        drive(int(sys.argv[2]))
    else:
        sys.exit(main())
