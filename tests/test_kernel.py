"""The ahead-of-time build of the core gives what numba's JIT of the same source gives."""

from __future__ import annotations

import random

import numpy as np
import pytest

from cryptoviz.models import kernel
from cryptoviz.models.book import ModelBook
from cryptoviz.models.engine import ModelConfig


def test_the_module_is_named_for_the_source_it_was_built_from(tmp_path, monkeypatch):
    before = kernel.fingerprint()
    copy = tmp_path / "core.py"
    copy.write_bytes(kernel.SOURCE.read_bytes() + b"\n# edited\n")
    monkeypatch.setattr(kernel, "SOURCE", copy)
    assert kernel.fingerprint() != before  # an edited core is never served by an older module


@pytest.mark.skipif(kernel.build != "aot", reason="no ahead-of-time module (make install builds it)")
def test_the_ahead_of_time_core_matches_the_jit(monkeypatch):
    from cryptoviz.models import core

    rng = random.Random(5)
    symbols = [f"S{i}" for i in range(20)]
    prices = {s: rng.uniform(1, 1000) for s in symbols}
    ticks = []
    for hour in range(400):
        for s in symbols:
            prices[s] *= 1 + rng.gauss(0, 0.01)
            ticks.append((s, hour * 3600.0 + rng.choice([0.0, 60.0]), prices[s]))
    outputs = []
    for run in (kernel.run, core.run):
        monkeypatch.setattr(kernel, "run", run)
        book = ModelBook(ModelConfig(), rows=4, slots=2)
        rows = np.array([book.row(s) for s, _, _ in ticks], dtype=np.int64)
        outputs.append(
            book.apply(rows, np.array([t for _, t, _ in ticks]), np.array([p for _, _, p in ticks]))
        )
    assert np.allclose(outputs[0], outputs[1], rtol=1e-9, atol=1e-12, equal_nan=True)
