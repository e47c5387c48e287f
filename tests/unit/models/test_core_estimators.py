"""The compiled core's histogram, which keeps its bins summed by blocks as well, against the reference
`DecayedHistogram` on the same stream: every quantile and CDF to 1e-9 relative, through rescaling,
empty blocks, values past both edges and ties of whole weights."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from cryptoviz.models.core_estimators import blocked_cdf, blocked_quantile, blocked_total, hist_add
from cryptoviz.models.estimators import DecayedHistogram

LO, HI, BINS, BLOCK = -6.0, 6.0, 400, 20
COL, SO = 0, 2 + BINS  # the histogram's column (g, total, bins), then its block sums
PROBS = (0.001, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.999)


def core_row(
    values: list[float], weights: list[float], halflife: float
) -> tuple[np.ndarray, DecayedHistogram]:
    """The values added to a core row and to the reference, each with its weight."""
    reference = DecayedHistogram(LO, HI, BINS, halflife)
    fixed = np.zeros((1, SO + BINS // BLOCK))
    fixed[0, COL] = 1.0  # g, as the reference starts
    width = (HI - LO) / BINS
    for x, w in zip(values, weights, strict=True):
        reference.add(x, w)
        hist_add(fixed, 0, COL, BINS, LO, width, reference.decay**w, x, w, SO, BLOCK)
    return fixed, reference


def close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


STREAMS = {
    # most of the weight in a few blocks, long empty runs between them and past both edges
    "clustered": lambda rng: [
        rng.choice((-9.0, -4.1, 0.3, 0.31, 2.7, 8.0)) + rng.gauss(0, 0.05) for _ in range(3000)
    ],
    "normal": lambda rng: [rng.gauss(0, 1) for _ in range(3000)],
    # whole weights in four blocks, a quarter in each: the running sums meet p * total exactly at the
    # blocks' ends
    "whole_weights": lambda rng: rng.sample(
        [LO + (b + 0.5) * (HI - LO) / BINS for b in (150, 170, 190, 210)] * 50, 200
    ),
}


@pytest.mark.parametrize("stream", list(STREAMS))
@pytest.mark.parametrize("halflife", [1.0, 500.0, math.inf])  # 1: rescaled several times over; inf: no fading
def test_block_sums_answer_as_the_reference_histogram(stream: str, halflife: float) -> None:
    rng = random.Random(3)
    values = STREAMS[stream](rng)
    weights = (
        [1.0] * len(values) if stream == "whole_weights" else [rng.choice((1.0, 1 / 60, 0.5)) for _ in values]
    )
    fixed, reference = core_row(values, weights, halflife)
    width = (HI - LO) / BINS
    blocks = fixed[0, SO:]
    bins = fixed[0, COL + 2 : COL + 2 + BINS]
    assert np.allclose(blocks, bins.reshape(-1, BLOCK).sum(axis=1), rtol=1e-12, atol=0)
    assert np.array_equal(bins, np.array(reference.counts))  # the bins themselves: the same additions
    total = blocked_total(fixed, 0, SO, BINS // BLOCK)
    expected = reference.quantiles(PROBS)
    got = [blocked_quantile(fixed, 0, COL, SO, BINS, BLOCK, LO, HI, width, total, p) for p in PROBS]
    assert all(close(a, b) for a, b in zip(expected, got, strict=True)), (expected, got)
    for x in np.linspace(LO - 1, HI + 1, 257):
        assert close(reference.cdf(x), blocked_cdf(fixed, 0, COL, SO, BINS, BLOCK, LO, width, x)), x


def test_a_quantile_past_every_bin_is_the_upper_edge() -> None:
    fixed, reference = core_row([0.0, 1.0], [1.0, 1.0], 1e12)
    total = blocked_total(fixed, 0, SO, BINS // BLOCK)
    width = (HI - LO) / BINS
    assert (
        blocked_quantile(fixed, 0, COL, SO, BINS, BLOCK, LO, HI, width, total, 1.5)
        == HI
        == reference.quantiles([1.5])[0]
    )
