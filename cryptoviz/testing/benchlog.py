"""How a bench ends: one JSON line of its figures with the commit and the machine beside them,
printed and appended to `bench/results/<bench>.jsonl`, the machine-written record that
`docs/benchmarks.md` is generated from (`python -m cryptoviz.testing.benchdoc`)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from cryptoviz.provenance import ROOT, commit, machine

RESULTS = ROOT / "bench" / "results"


def pct(values: list[float], q: float) -> float:
    """The q-quantile of `values`: the value at index int(n * q) of them sorted (the last for q = 1)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def emit_json(figures: dict[str, Any], record: bool = True) -> dict[str, Any]:
    """Print the bench's last line; unless `record` is False (or BENCH_RECORD=0), append it to its
    results file."""
    line = {**figures, "commit": commit(), "machine": machine(), "ts": round(time.time())}
    text = json.dumps(line)
    print(text, flush=True)
    if record and os.environ.get("BENCH_RECORD", "1") != "0":
        RESULTS.mkdir(parents=True, exist_ok=True)
        with open(RESULTS / f"{figures['bench']}.jsonl", "a") as f:
            f.write(text + "\n")
    return line
