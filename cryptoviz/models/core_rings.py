"""The compiled core's queues: ring buffers, one 3-D array per queue (symbol, slot, field), with
meta[i, q] = (head, length). Inlined into `core.run`."""

from __future__ import annotations

from cryptoviz.models.core_jit import helper
from cryptoviz.models.layout import (
    NQ,
)


@helper
def ring_push(ring, meta, i, q):
    cap = ring.shape[1]
    slot = (meta[i, q, 0] + meta[i, q, 1]) % cap
    meta[i, q, 1] += 1
    return slot


@helper
def ring_first(ring, meta, i, q):
    return meta[i, q, 0]


@helper
def ring_last(ring, meta, i, q):
    return (meta[i, q, 0] + meta[i, q, 1] - 1) % ring.shape[1]


@helper
def ring_second(ring, meta, i, q):
    return (meta[i, q, 0] + 1) % ring.shape[1]


@helper
def ring_pop(ring, meta, i, q):
    slot = meta[i, q, 0]
    meta[i, q, 0] = (slot + 1) % ring.shape[1]
    meta[i, q, 1] -= 1
    return slot


@helper
def ring_full(rings, meta, i):
    for q in range(NQ):
        if meta[i, q, 1] >= rings[q].shape[1]:
            return q
    return -1
