"""numpy's PCG64 float draws, compiled: the numbers ``Generator.random(out=..., dtype)`` writes
from a given PCG64 state, bit for bit, about twice as fast as numpy's loop (which calls the bit
generator through a function pointer for every number). ``envs.kernels.draws.RowDraws`` fills
its row chunks with them.

PCG64 (O'Neill 2014, numpy's default bit generator): a 128-bit LCG, state <- state * MULTIPLIER
+ inc, whose new state gives each 64-bit output by XSL-RR (high xor low word, rotated right by
the top six bits). numpy's float64 is (output >> 11) * 2^-53; its float32 takes 32-bit halves of
outputs, the lower first, the upper kept for the next float32 (``has_uint32``/``uinteger`` in
the state), as (half >> 8) * 2^-24. LLVM's 128-bit integers carry the LCG (numba has none:
an intrinsic emits them).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

MULTIPLIER = (2549297995355413924 << 64) + 4865540595714422341  # PCG_DEFAULT_MULTIPLIER_128
WORD = (1 << 64) - 1
jit = njit(nogil=True, cache=True)


@intrinsic
def _lcg_step(typingctx, hi, lo, inc_hi, inc_lo):  # type: ignore[no-untyped-def]
    """(hi, lo) words of state * MULTIPLIER + inc, the 128-bit state given as two uint64 words."""
    signature = types.UniTuple(types.uint64, 2)(types.uint64, types.uint64, types.uint64, types.uint64)

    def codegen(context, builder, sig, args):  # type: ignore[no-untyped-def]
        wide, word = ir.IntType(128), ir.IntType(64)
        shift = ir.Constant(wide, 64)

        def joined(high, low):  # type: ignore[no-untyped-def]
            return builder.or_(builder.shl(builder.zext(high, wide), shift), builder.zext(low, wide))

        state = builder.add(builder.mul(joined(args[0], args[1]), ir.Constant(wide, MULTIPLIER)),
                            joined(args[2], args[3]))
        words = [builder.trunc(builder.lshr(state, shift), word), builder.trunc(state, word)]
        return context.make_tuple(builder, sig.return_type, words)

    return signature, codegen


@njit(nogil=True, cache=True, inline="always")
def _output(hi, lo):  # type: ignore[no-untyped-def]
    """PCG's XSL-RR output of a state: (hi ^ lo) rotated right by hi's top six bits."""
    rot = hi >> np.uint64(58)
    x = hi ^ lo
    return (x >> rot) | (x << ((np.uint64(64) - rot) & np.uint64(63)))


@njit(nogil=True, cache=True, inline="always")
def _float32(half):  # type: ignore[no-untyped-def]
    return np.float32(np.uint32(half) >> np.uint32(8)) * np.float32(1.0 / 16777216.0)


@jit
def fill_float32(stream, out):  # type: ignore[no-untyped-def]
    """out (1-d float32) = numpy's next float32 numbers from ``stream`` (``stream_of``), the
    state kept in registers over the loop."""
    n, j = len(out), 0
    if n and stream[4]:  # the upper half left by the last output comes first
        out[0] = _float32(stream[5])
        j = 1
    hi, lo, inc_hi, inc_lo = stream[0], stream[1], stream[2], stream[3]
    while j < n:
        hi, lo = _lcg_step(hi, lo, inc_hi, inc_lo)  # type: ignore[call-arg]
        v = _output(hi, lo)
        out[j] = _float32(v & np.uint64(0xFFFFFFFF))
        if j + 1 < n:
            out[j + 1] = _float32(v >> np.uint64(32))
        j += 2


@jit
def fill_float64(stream, out):  # type: ignore[no-untyped-def]
    """out (1-d float64) = numpy's next float64 numbers from ``stream``."""
    hi, lo, inc_hi, inc_lo = stream[0], stream[1], stream[2], stream[3]
    for j in range(len(out)):
        hi, lo = _lcg_step(hi, lo, inc_hi, inc_lo)  # type: ignore[call-arg]
        out[j] = np.float64(_output(hi, lo) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


def stream_of(state: Mapping[str, Any]) -> np.ndarray:
    """A PCG64 ``bit_generator.state`` as the (6,) uint64 words the kernels read: the state's
    and the increment's high and low words, whether an upper half is left, that half."""
    pcg = state["state"]
    return np.array([pcg["state"] >> 64, pcg["state"] & WORD, pcg["inc"] >> 64, pcg["inc"] & WORD,
                     state["has_uint32"], state["uinteger"] & 0xFFFFFFFF], dtype=np.uint64)


def fill(state: Mapping[str, Any], out: np.ndarray) -> None:
    """``out`` (contiguous float32 or float64) = ``Generator(PCG64 in this state).random(out=out,
    dtype=out.dtype)``; the state itself is not moved."""
    (fill_float32 if out.dtype == np.float32 else fill_float64)(stream_of(state), out.reshape(-1))
