"""The ahead-of-time build of the core gives what numba's JIT of the same source gives: every
tick's outputs and every summary."""

from __future__ import annotations

import random

import numpy as np
import pytest

from cryptoviz.models import core_source, kernel
from cryptoviz.models.book import ModelBook
from cryptoviz.models.engine import ModelConfig
from cryptoviz.testing.compare import same


@pytest.mark.parametrize("edited", range(len(core_source.SOURCES)))
def test_the_module_is_named_for_the_source_it_was_built_from(tmp_path, monkeypatch, edited):
    before = core_source.fingerprint()
    sources = list(core_source.SOURCES)
    copy = tmp_path / sources[edited].name
    copy.write_bytes(sources[edited].read_bytes() + b"\n# edited\n")
    sources[edited] = copy
    monkeypatch.setattr(core_source, "SOURCES", tuple(sources))
    assert core_source.fingerprint() != before  # an edited core is never served by an older module


def test_every_module_of_the_core_is_among_its_sources():
    names = {p.name for p in core_source.SOURCES}
    assert {"core.py", "core_jit.py", "core_estimators.py", "core_summary.py"} <= names


@pytest.mark.skipif(kernel.build != "aot", reason="no ahead-of-time module (make install builds it)")
def test_the_ahead_of_time_core_matches_the_jit(monkeypatch):
    from cryptoviz.models import core, core_summary

    rng = random.Random(5)
    symbols = [f"S{i}" for i in range(20)]
    prices = {s: rng.uniform(1, 1000) for s in symbols}
    ticks = []
    for hour in range(400):
        for s in symbols:
            prices[s] *= 1 + rng.gauss(0, 0.01)
            ticks.append((s, hour * 3600.0 + rng.choice([0.0, 60.0]), prices[s]))
    outputs, summaries = [], []
    for run, summarize in ((kernel.run, kernel.summarize), (core.run, core_summary.summarize)):
        monkeypatch.setattr(kernel, "run", run)
        monkeypatch.setattr(kernel, "summarize", summarize)
        book = ModelBook(ModelConfig(), rows=4, slots=2)
        rows = np.array([book.row(s) for s, _, _ in ticks], dtype=np.int64)
        outputs.append(
            book.apply(rows, np.array([t for _, t, _ in ticks]), np.array([p for _, _, p in ticks]))
        )
        summaries.append([book.summary(s) for s in symbols])
    assert np.allclose(outputs[0], outputs[1], rtol=1e-9, atol=1e-12, equal_nan=True)
    same(summaries[0], summaries[1])
