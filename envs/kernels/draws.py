"""One large uniform draw, made in row chunks on the kernel threads with the same numbers.

``rng.random((B, P), dtype)`` fills B·P numbers from one stream on one thread: at 10k users ×
a 95-item cluster that alone cost 3-5 ms here, a third of a world step. PCG64 (numpy's
default) can jump its stream ahead (``advance``) in O(log n), so the numbers of rows lo..hi-1
can be drawn from a copy of the generator advanced past rows 0..lo-1, on any thread, and
every chunking of the rows gives the array that one call gives (tests/envs/test_draws.py).
``random`` uses one 64-bit output per float64 and one 32-bit half per float32, the lower half
first (numpy's ``next_uint32`` keeps the upper half for the next float), which fixes the jump.

Where numba imports, the numbers themselves come from ``envs.kernels.pcg64`` (numpy's own,
bit for bit, about twice as fast); other bit generators draw the whole array at once instead
(same numbers, one thread).
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

try:
    from envs.kernels import pcg64
except ImportError:  # numba missing: numpy draws the chunks
    pcg64 = None  # type: ignore[assignment]

_spares = threading.local()


class RowDraws:
    """The numbers of ``rng.random(shape, dtype)``, drawn row chunk by row chunk.

    Made on the caller's thread: the generator moves at once to where the whole draw leaves
    it, as if ``rng.random(shape, dtype)`` had been called. ``rows(lo, hi)`` then fills and
    returns rows lo..hi-1 of ``out`` from a private copy of the stream (thread-safe; each row
    range once)."""

    def __init__(self, rng: np.random.Generator, shape: tuple[int, ...], dtype: type = np.float64) -> None:
        self.dtype = np.dtype(dtype)
        if self.dtype not in (np.float32, np.float64):
            raise ValueError(f"RowDraws dtype={self.dtype} must be float32 or float64 (as Generator.random)")
        self.out = np.empty(shape, dtype=self.dtype)
        self.per_row = int(np.prod(shape[1:], dtype=np.int64))
        bit_generator = rng.bit_generator
        self._start: Any = None  # the generator's state before the draw (a PCG64 state dict)
        if type(bit_generator) is not np.random.PCG64:
            rng.random(out=self.out, dtype=self.dtype)  # no jump possible: one draw now
            return
        self._start = state = bit_generator.state
        # float32 numbers take 32-bit halves, and a half left over by an earlier float32 draw
        # comes first; float64 numbers take whole outputs and leave such a half where it is.
        self._halves = self.dtype == np.float32
        self._spare = int(state["has_uint32"]) if self._halves else 0
        _jump(bit_generator, self.out.size - self._spare, self._halves)
        if not self._halves and state["has_uint32"]:
            moved = bit_generator.state
            moved["has_uint32"], moved["uinteger"] = state["has_uint32"], state["uinteger"]
            bit_generator.state = moved

    def rows(self, lo: int, hi: int) -> np.ndarray:
        """Rows lo..hi-1 of the draw (a view of ``out``), filled on the calling thread."""
        chunk = self.out[lo:hi]
        if self._start is not None:
            bit_generator = self._generator_at(lo * self.per_row)
            if pcg64 is not None:
                pcg64.fill(bit_generator.state, chunk)
            else:
                np.random.Generator(bit_generator).random(out=chunk.reshape(-1), dtype=self.dtype)
        return chunk

    def _generator_at(self, skip: int) -> np.random.PCG64:
        """A bit generator of this thread whose next number is number ``skip`` of the draw."""
        bit_generator = _spare_pcg64()
        bit_generator.state = self._start
        if skip >= self._spare:  # past the leftover half: jump over whole outputs
            _jump(bit_generator, skip - self._spare, self._halves)
        return bit_generator


def _jump(bit_generator: np.random.PCG64, numbers: int, halves: bool) -> None:
    """Move ``bit_generator`` (any leftover half not counted in ``numbers``) past
    ``numbers`` fresh float32 (``halves``) or float64 numbers."""
    if not halves:
        bit_generator.advance(numbers)
        return
    bit_generator.advance(numbers // 2)  # also drops any leftover half
    if numbers % 2:  # end inside an output: its upper half stays for the next float32
        np.random.Generator(bit_generator).random(dtype=np.float32)


def _spare_pcg64() -> np.random.PCG64:
    """A PCG64 of the calling thread's to set a state into (a fresh one seeds itself from the
    operating system's entropy first, which costs more than the draw of a small chunk)."""
    spare = getattr(_spares, "pcg64", None)
    if spare is None:
        spare = _spares.pcg64 = np.random.PCG64(0)
    return spare
