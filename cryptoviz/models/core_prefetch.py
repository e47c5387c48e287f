"""The compiled core's prefetching: with many symbols the core waits on memory more than it computes
(a symbol's state is tens of KB, a thousand symbols' far more than the caches hold), and the symbols
of the ticks ahead in a batch are known, so their state is asked for while this tick is computed.
A prefetch changes no value and never faults, whatever the address. Inlined into `core.run`."""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from cryptoviz.models.core_jit import helper
from cryptoviz.models.layout import ALPHA, NQ, SIGMAS

AHEAD = 4  # ticks: the distance at which a symbol's state is prefetched (its queues' heads, at twice that)
LINE = 8  # float64s (or int64s) per cache line


@intrinsic
def prefetch(typingctx, array, offset):
    """Ask the CPU to bring the cache line holding element `offset` (counted flat) of a C-contiguous
    `array` into its caches."""
    if not isinstance(array, types.Array) or not isinstance(offset, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        data = context.make_array(signature.args[0])(context, builder, args[0]).data
        i8p, i32 = ir.IntType(8).as_pointer(), ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32])
        # named for the pointer type as this LLVM spells it (.p0, or .p0i8 with typed pointers)
        fn = builder.module.declare_intrinsic("llvm.prefetch", [i8p], fnty)
        address = builder.bitcast(builder.gep(data, [args[1]]), i8p)
        builder.call(fn, [address, i32(0), i32(3), i32(1)])  # a read, kept in every level, data
        return context.get_dummy_value()

    return types.void(array, offset), codegen


@helper
def prefetch_meta(meta, j):
    """Symbol j's queues' heads and lengths, read by `prefetch_symbol` AHEAD ticks later."""
    for c in range(0, NQ * 2, LINE):
        prefetch(meta, j * NQ * 2 + c)


@helper
def prefetch_symbol(fixed, rings, meta, j):
    """Symbol j's state that every tick touches: its row but the histograms' bins (a tick reads
    their block sums, prefetched, then the few blocks of bins where its quantiles fall), and each
    queue's first slot (settled) and next one (filled)."""
    base = j * fixed.shape[1]
    for c in range(0, SIGMAS + 2, LINE):  # to the sigma history's weight
        prefetch(fixed, base + c)
    for c in range(ALPHA, fixed.shape[1], LINE):
        prefetch(fixed, base + c)
    for q in range(NQ):
        ring = rings[q]
        cap, fields = ring.shape[1], ring.shape[2]
        head, size = meta[j, q, 0], meta[j, q, 1]
        nxt = head + size if head + size < cap else head + size - cap
        prefetch(ring, (j * cap + head) * fields)
        prefetch(ring, (j * cap + nxt) * fields)
