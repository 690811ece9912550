"""Recycling of a vector env's per-step output arrays.

Every step returns new observation, event and final-observation arrays, which the caller may
keep as long as it likes. Allocating megabytes afresh each step is slow where the operating
system hands out fresh pages lazily (each first touch faults): on a 2-core VM it cost more
than stepping the RecSim preset itself. So the env takes its outputs from an ``ArrayPool``,
which hands back an array it gave out before only once nothing else refers to it (CPython's
reference count): an array the caller still holds, or holds a view of, is never reused.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike

# References to a pooled array while the pool inspects it: the pool's list, the loop
# variable and getrefcount's own argument. Any more and someone else holds it.
_POOL_ONLY = 3
_refcount = getattr(sys, "getrefcount", None)


# How outputs are allocated: ``allocate(name, shape, dtype)`` -> an uninitialized array for the
# output called ``name`` (an observation key or an event field).
Allocate = Callable[[str, tuple[int, ...], DTypeLike], np.ndarray]


def fresh(name: str, shape: tuple[int, ...], dtype: DTypeLike) -> np.ndarray:
    """A new uninitialized array (the default ``Allocate``; ``name`` plays no part)."""
    return np.empty(shape, dtype=dtype)


class ArrayPool:
    """An ``Allocate`` whose arrays are recycled once no one else holds them."""

    def __init__(self, per_output: int = 4) -> None:
        self._per_output = per_output
        self._arrays: dict[tuple[str, tuple[int, ...], str], list[np.ndarray]] = {}

    def empty(self, name: str, shape: tuple[int, ...], dtype: DTypeLike) -> np.ndarray:
        # One list per output: a step hands out several arrays of one shape and dtype (8 bool
        # event fields), and each of them needs its own arrays to recycle.
        kind = (name, tuple(shape), np.dtype(dtype).str)
        arrays = self._arrays.setdefault(kind, [])
        if _refcount is not None:  # no recycling where reference counts are unknown (PyPy)
            for a in arrays:
                if _refcount(a) <= _POOL_ONLY:
                    return a
        a = np.empty(shape, dtype=dtype)
        if len(arrays) < self._per_output:  # beyond that the caller keeps many: let them go
            arrays.append(a)
        return a
