"""The slate action space: distinct item ids, for one user or a batch of users."""

from __future__ import annotations

from copy import deepcopy
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space


class SlateSpace(spaces.MultiDiscrete):
    """``slate_size`` distinct ids out of ``n_items``; with ``n_users``, one such slate per user
    (shape ``(n_users, slate_size)``, the vector env's action space).

    A ``MultiDiscrete`` (so libraries that know that space accept it) whose ``sample`` draws
    without replacement and whose ``contains`` rejects repeated ids, the same rule the
    environments enforce.
    """

    def __init__(
        self, n_items: int, slate_size: int, seed: int | np.random.Generator | None = None, n_users: int | None = None
    ) -> None:
        shape = (slate_size,) if n_users is None else (n_users, slate_size)
        super().__init__(np.full(shape, n_items, dtype=np.int64), seed=seed)
        self.n_items = n_items
        self.slate_size = slate_size
        self.n_users = n_users

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        if mask is not None or probability is not None:
            raise NotImplementedError("SlateSpace.sample does not support masks; draw the slate yourself")
        rng, n, s = self.np_random, self.n_items, self.slate_size
        if self.n_users is None:
            return rng.choice(n, size=s, replace=False).astype(np.int64)
        if 2 * s > n:  # dense slates: rejection would rarely succeed
            return np.stack([rng.choice(n, size=s, replace=False) for _ in range(self.n_users)]).astype(np.int64)
        slates = rng.integers(0, n, size=(self.n_users, s))
        while len(bad := np.flatnonzero(repeating_rows(slates))):  # redraw the few rows that repeat an id
            slates[bad] = rng.integers(0, n, size=(len(bad), s))
        return slates

    def contains(self, x: Any) -> bool:
        if not super().contains(x):
            return False
        return not repeating_rows(np.asarray(x).reshape(-1, self.slate_size)).any()

    def __repr__(self) -> str:
        users = "" if self.n_users is None else f", n_users={self.n_users}"
        return f"SlateSpace(n_items={self.n_items}, slate_size={self.slate_size}{users})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SlateSpace) and (self.n_items, self.slate_size, self.n_users) == (
            other.n_items, other.slate_size, other.n_users
        )

    __hash__ = None  # type: ignore[assignment]


def duplicate_mask(slate: np.ndarray, fixed: np.ndarray | None = None) -> np.ndarray:
    """(B, S) positions to redraw so each row is distinct: every repeat of an item except one
    occurrence, and never a ``fixed`` position (fixed positions must be distinct among
    themselves)."""
    b, s = slate.shape
    # Sort with fixed positions first among equal ids, so the kept occurrence is a fixed one.
    key = slate.astype(np.int64) * 2 + (0 if fixed is None else (~fixed).astype(np.int64))
    order = np.argsort(key, axis=1, kind="stable")
    srt = np.take_along_axis(slate, order, axis=1)
    dup_sorted = np.zeros((b, s), dtype=bool)
    dup_sorted[:, 1:] = srt[:, 1:] == srt[:, :-1]
    dup = np.zeros((b, s), dtype=bool)
    np.put_along_axis(dup, order, dup_sorted, axis=1)
    return dup if fixed is None else dup & ~fixed


def repeating_rows(slate: np.ndarray) -> np.ndarray:
    """(B,) whether each row of ``slate`` (B, S) holds an item twice. Short slates compare
    every pair of slots, each a contiguous (B,) column: cheaper than sorting B short rows."""
    b, s = slate.shape
    if s > 16:
        srt = np.sort(slate, axis=1)
        return (srt[:, 1:] == srt[:, :-1]).any(axis=1)
    cols = np.ascontiguousarray(slate.T)
    rep = np.zeros(b, dtype=bool)
    for j in range(1, s):
        for i in range(j):
            rep |= cols[i] == cols[j]
    return rep


@batch_space.register(SlateSpace)
def _batch_slate_space(space: SlateSpace, n: int = 1) -> SlateSpace:
    """gymnasium would batch a MultiDiscrete into a Box, whose samples repeat ids."""
    if space.n_users is not None:
        raise NotImplementedError("a batched SlateSpace cannot be batched again")
    return SlateSpace(space.n_items, space.slate_size, seed=deepcopy(space.np_random), n_users=n)
