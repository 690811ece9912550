"""Vectorized drawing of items inside clusters, and keeping slates free of repeats.

Two tools cover every item choice of the agents:

* ``segment_sample``: draw one entry of a contiguous segment with weights, given the running
  sum of the weights (inverse CDF by ``searchsorted``): O(log N) per draw whatever the
  segment size. Items of a cluster are a segment of ``level.members``; Markov counts of a
  context are a segment of their table.
* ``top_k_members``: for one cluster per user, score the cluster's members (a padded
  (B, P) matrix) and keep the k best distinct ones; with Gumbel noise added to log-weights this
  is exact sampling without replacement (the Gumbel-top-k trick, Kool et al. 2019).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from agents.errors import EmptyClusterError
from envs.clusters import ClusterLevel


def segment_sample(cum: np.ndarray, start: np.ndarray, end: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index in [start, end) drawn with probability ∝ weight, for every entry of ``start``.

    ``cum`` (E,) is the inclusive running sum of non-negative weights; ``u`` uniforms in [0, 1).
    A segment whose weights are all zero is drawn uniformly. ``start < end`` is required."""
    before = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
    total = cum[end - 1] - before
    idx = np.searchsorted(cum, before + u * total, side="right")
    uniform = start + (u * (end - start)).astype(np.int64)
    return np.where(total > 0, np.clip(idx, start, end - 1), uniform)


class ClusterItems:
    """Items of every cluster of one level, laid out for vectorized draws.

    ``set_weights`` takes (N,) non-negative item weights (e.g. learned engagement); ``sample``
    then draws an item of each given cluster with probability ∝ weight."""

    def __init__(self, level: ClusterLevel) -> None:
        self.level = level
        self.order, self.offsets = level.members  # items sorted by cluster, (M + 1,) offsets
        self.sizes = np.diff(self.offsets)
        self.cum = np.arange(1, len(self.order) + 1, dtype=np.float64)  # uniform until set

    def set_weights(self, weights: np.ndarray) -> None:
        self.cum = np.cumsum(np.asarray(weights, dtype=np.float64)[self.order])

    def check(self, clusters: np.ndarray) -> None:
        """EmptyClusterError if any of ``clusters`` holds no item."""
        c = np.asarray(clusters)
        empty = self.sizes[c] == 0
        if empty.any():
            bad = int(c[empty].ravel()[0])
            raise EmptyClusterError(
                f"cluster {bad} ({self.level.descriptions[bad]!r}) of level {self.level.name!r} holds no items; "
                "choose clusters with items (level.sizes > 0)"
            )

    def sample(self, clusters: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """An item of each cluster (any shape), drawn ∝ the item weights."""
        c = np.asarray(clusters, dtype=np.int64)
        self.check(c)
        idx = segment_sample(self.cum, self.offsets[c], self.offsets[c + 1], rng.random(c.shape))
        return self.order[idx]


@lru_cache(maxsize=16)
def padded_members(level: ClusterLevel) -> np.ndarray:
    """(M, P) item ids of each cluster, P = largest cluster size, padded with -1."""
    order, offsets = level.members
    sizes = np.diff(offsets)
    p = max(int(sizes.max()), 1)
    col = np.arange(p)
    idx = offsets[:-1, None] + col[None, :]
    out = np.where(col[None, :] < sizes[:, None], order[np.minimum(idx, len(order) - 1)], -1)
    out.setflags(write=False)
    return out


def gumbel(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return -np.log(-np.log(rng.random(shape) + 1e-20) + 1e-20)


def top_k_members(members: np.ndarray, scores: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """(B, k) the k best-scoring members of each row, best first; -1 where the row has fewer
    than k valid members. members (B, P) with -1 padding; scores (B, P) float; ``exclude``
    (B, X) item ids to skip (e.g. the user's recent items), -1 ignored."""
    s = np.where(members >= 0, scores, -np.inf)
    if exclude is not None and exclude.size:
        hit = (members[:, :, None] == exclude[:, None, :]).any(axis=2) & (members >= 0)
        # Excluded items rank after every other valid member, not out: a small cluster the user
        # has fully seen still yields items.
        s = np.where(hit, np.minimum(s, 0.0) - 1e9, s)
    k_eff = min(k, members.shape[1])
    if k_eff < members.shape[1]:
        part = np.argpartition(-s, k_eff - 1, axis=1)[:, :k_eff]
    else:
        part = np.broadcast_to(np.arange(k_eff), (len(s), k_eff))
    order = np.argsort(-np.take_along_axis(s, part, axis=1), axis=1, kind="stable")
    pick = np.take_along_axis(part, order, axis=1)
    items = np.take_along_axis(members, pick, axis=1)
    valid = np.isfinite(np.take_along_axis(s, pick, axis=1))
    out = np.full((len(s), k), -1, dtype=np.int64)
    out[:, :k_eff] = np.where(valid, items, -1)
    return out


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


def make_distinct(
    slate: np.ndarray,
    clusters: np.ndarray,
    sampler: ClusterItems,
    rng: np.random.Generator,
    fixed: np.ndarray | None = None,
    rounds: int = 8,
) -> np.ndarray:
    """Redraw repeated items of each row from the same cluster (a few rounds), then, for what
    still repeats (a cluster with fewer items than the slots asking for it), from the corpus.
    ``fixed`` positions are never changed. Returns a new (B, S) array of distinct rows."""
    slate = slate.copy()
    n_items = len(sampler.order)
    # Few rows repeat an item: find them with one sort, then work on those rows only.
    srt = np.sort(slate, axis=1)
    rows = np.flatnonzero((srt[:, 1:] == srt[:, :-1]).any(axis=1))
    if not len(rows):
        return slate
    for r in range(rounds + 64):
        sub = slate[rows]
        dup = duplicate_mask(sub, None if fixed is None else fixed[rows])
        redo = dup.any(axis=1)
        if not redo.any():
            return slate
        rows, sub, dup = rows[redo], sub[redo], dup[redo]  # later rounds touch only rows still repeating
        if r < rounds:
            sub[dup] = sampler.sample(clusters[rows][dup], rng)
        else:
            sub[dup] = rng.integers(0, n_items, size=int(dup.sum()))
        slate[rows] = sub
    raise EmptyClusterError(
        f"could not make slates of {slate.shape[1]} distinct items from a corpus of {n_items}; lower the slate size"
    )
