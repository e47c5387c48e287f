"""Weighted consensus of the three models' predictions."""

from __future__ import annotations

from collections.abc import Sequence


def consensus(predictions: Sequence[float], weights: Sequence[float]) -> float:
    total = sum(weights)
    return sum(p * w for p, w in zip(predictions, weights, strict=True)) / total
