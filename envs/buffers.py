"""Recycling of a vector env's per-step output arrays.

Every step returns new observation, event and final-observation arrays, which the caller may
keep as long as it likes. Allocating megabytes afresh each step is slow where the operating
system hands out fresh pages lazily (each first touch faults): on a 2-core VM it cost more
than stepping the RecSim preset itself. So the env takes its outputs from ``RecycledArrays``,
which hands back arrays it gave out before only once nothing else refers to them (CPython's
reference count): an array the caller still holds, or holds a view of, is never reused.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np

# References to a pooled array while the pool inspects it: the pool's list, the generator's
# variable and getrefcount's own argument. Any more and someone else holds it.
_POOL_ONLY = 3
_refcount = getattr(sys, "getrefcount", None)


class RecycledArrays:
    """Sets of arrays made by ``make`` (one set: e.g. a step's observation arrays), handed out
    again once no one else holds any array of the set.

    Whole sets rather than single arrays: one reference-count pass over a set costs a
    microsecond, while looking up and checking each array alone cost about as much as
    stepping 1,000 RecSim users."""

    def __init__(self, make: Callable[[], list[np.ndarray]], keep: int = 4) -> None:
        self._make, self._keep = make, keep
        self._sets: list[list[np.ndarray]] = []

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_sets": []}  # a copy starts with a pool of its own

    def take(self) -> list[np.ndarray]:
        """A set no one else holds (a recycled one, else a new one), as a new list."""
        if _refcount is not None:  # no recycling where reference counts are unknown (PyPy)
            for arrays in self._sets:
                if all(_refcount(a) <= _POOL_ONLY for a in arrays):
                    return arrays[:]  # a copy: the caller's list must not count as the pool's
        arrays = self._make()
        if len(self._sets) < self._keep:  # beyond that the caller keeps many: let them go
            self._sets.append(arrays)
        return arrays[:]
