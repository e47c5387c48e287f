"""The model core at another commit against this tree's, on the same ticks, in one process.

Two runs of `ml_throughput` minutes apart on a shared machine differ by more than most changes to
the core gain; here both cores run the same ticks, chunk by chunk in turn, each on its own copy of
the same warmed state, so whatever slows the machine slows both alike. The result is the ratio of
their times (this tree's over the other's), with each one's median and quartiles per chunk.

    .venv/bin/python bench/core_compare.py <commit> [symbols]

Both run as numba's JIT of their source (the ahead-of-time module exists for one fingerprint only),
compiled afresh in a scratch cache. The other commit's core files (`core*.py` but `core_jit` and
`core_source`, and `layout.py`) are copied into a scratch package with their imports of each
other pointed at it; its layout must lay out a symbol's row as this tree's does (the book that holds
the state is this tree's).
"""

from __future__ import annotations

import copy
import importlib
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from cryptoviz.provenance import ROOT
from cryptoviz.testing.benchlog import emit_json, pct

WARM_HOURS = 400  # every volatility regime learnt before the clock starts, as in ml_throughput
TICKS = 1_000_000  # timed, in chunks of CHUNK, each core in turn
CHUNK = 20_000
BATCH = 1000
SHARED = ("core_jit.py", "core_source.py")  # this tree's: the JIT's options and cache


def other_core(commit: str, into: Path) -> ModuleType:
    """Import `core` as it is at `commit`, from a copy under `into`."""
    package = "core_at_" + re.sub(r"\W", "_", commit)
    folder = into / package
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    names = subprocess.run(
        ["git", "ls-tree", "--name-only", commit, "cryptoviz/models/"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    files = [Path(n).name for n in names if re.fullmatch(r"(core\w*|layout)\.py", Path(n).name)]
    local = [f[:-3] for f in files if f not in SHARED]
    for name in files:
        if name in SHARED:
            continue
        text = subprocess.run(
            ["git", "show", f"{commit}:cryptoviz/models/{name}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for module in local:
            text = re.sub(rf"\bcryptoviz\.models\.{module}\b", f"{package}.{module}", text)
        (folder / name).write_text(text)
    sys.path.insert(0, str(into))
    return importlib.import_module(f"{package}.core")


def ticks(book: Any, symbols: int, timed: int = TICKS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Hourly random walks of `symbols` symbols: WARM_HOURS and then `timed` ticks more, in time order."""
    rng = np.random.default_rng(1)
    rows = np.array([book.row(f"S{i:04d}") for i in range(symbols)], dtype=np.int64)
    prices = rng.uniform(1, 1000, symbols)
    all_rows, all_ts, all_prices = [], [], []
    for hour in range(WARM_HOURS + timed // symbols + 1):
        prices = prices * np.exp(rng.normal(0, 0.01, symbols))
        all_rows.append(rows)
        all_ts.append(np.full(symbols, hour * 3600.0))
        all_prices.append(prices)
    return np.concatenate(all_rows), np.concatenate(all_ts), np.concatenate(all_prices)


def main() -> int:
    if len(sys.argv) < 2:
        print("usage: bench/core_compare.py <commit> [symbols]", file=sys.stderr)
        return 2
    commit, symbols = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1000
    if subprocess.run(
        ["git", "cat-file", "-e", f"{commit}^{{commit}}"], cwd=ROOT, stderr=subprocess.DEVNULL
    ).returncode:
        print(f"{commit}: no such commit here", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["NUMBA_CACHE_DIR"] = str(Path(tmp) / "numba")  # read when the core is imported
        from cryptoviz.models import core, kernel, layout
        from cryptoviz.models.book import ModelBook
        from cryptoviz.models.engine import ModelConfig

        other = other_core(commit, Path(tmp))
        other_layout = sys.modules[other.__name__.rsplit(".", 1)[0] + ".layout"]
        if (other_layout.WIDTH, other_layout.NQ) != (layout.WIDTH, layout.NQ):
            print(f"{commit}'s layout differs from this tree's: not comparable", file=sys.stderr)
            return 2
        cores = {commit: other.run, "this tree": core.run}
        book = ModelBook(ModelConfig())
        book._work = np.zeros(max(layout.WORK, other_layout.WORK))
        r, t, p = ticks(book, symbols)
        warm = WARM_HOURS * symbols
        kernel.run = core.run
        for b in range(0, warm, BATCH):
            book.apply(r[b : b + BATCH], t[b : b + BATCH], p[b : b + BATCH])
        books = {name: copy.deepcopy(book) for name in cores}
        for name, run in cores.items():  # compile, on a tick of its own
            kernel.run = run
            books[name].apply(r[warm : warm + 1], t[warm : warm + 1], p[warm : warm + 1])
        per_chunk: dict[str, list[float]] = {name: [] for name in cores}
        for start in range(warm + 1, warm + 1 + TICKS - CHUNK + 1, CHUNK):
            for name, run in cores.items():
                kernel.run = run
                began = time.perf_counter()
                for b in range(start, start + CHUNK, BATCH):
                    books[name].apply(r[b : b + BATCH], t[b : b + BATCH], p[b : b + BATCH])
                per_chunk[name].append((time.perf_counter() - began) / CHUNK * 1e6)
    for name, us in per_chunk.items():
        print(
            f"{name}: median {pct(us, 0.5):.2f} us a tick, quartiles {pct(us, 0.25):.2f}-{pct(us, 0.75):.2f}"
        )
    ratio = sum(per_chunk["this tree"]) / sum(per_chunk[commit])
    print(
        f"{len(per_chunk[commit])} chunks of {CHUNK} ticks, {symbols} symbols: "
        f"this tree takes {ratio:.3f}x the time"
    )
    emit_json(
        {
            "bench": "core_compare",
            "against": commit,
            "symbols": symbols,
            "other_median_us": round(pct(per_chunk[commit], 0.5), 2),
            "this_median_us": round(pct(per_chunk["this tree"], 0.5), 2),
            "time_ratio": round(ratio, 3),
        }
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
