"""Vectorized drawing of items inside clusters, and keeping slates free of repeats.

Two tools cover every item choice of the agents:

* ``segment_sample``: draw one entry of a contiguous segment with weights, given the running
  sum of the weights (inverse CDF by a binary search inside the segment): O(log segment)
  per draw. Items of a cluster are a segment of ``level.members``; Markov counts of a
  context are a segment of their table.
* ``top_k_members``: for one cluster per user, score the cluster's members (a padded
  (B, P) matrix) and keep the k best distinct ones; with Gumbel noise added to log-weights this
  is exact sampling without replacement (the Gumbel-top-k trick, Kool et al. 2019).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from agents.errors import EmptyClusterError
from envs.clusters import ClusterLevel
from envs.spaces import duplicate_mask, repeating_rows


def segment_sample(cum: np.ndarray, start: np.ndarray, end: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index in [start, end) drawn with probability ∝ weight, for every entry of ``start``.

    ``cum`` (E,) is the inclusive running sum of non-negative weights; ``u`` uniforms in [0, 1).
    A segment whose weights are all zero is drawn uniformly. ``start < end`` is required.

    A branch-free binary search inside the segments (log2 of the longest segment gathers):
    unlike ``searchsorted`` over all of ``cum``, it stays within cached segments for random
    queries."""
    if not len(start):
        return np.zeros(0, dtype=np.int64)
    before = np.where(start > 0, np.take(cum, np.maximum(start - 1, 0)), 0.0)
    total = np.take(cum, end - 1) - before
    target = before + u * total
    # idx = start + #{j in [start, end - 1): cum[j] <= target}: steps of W/2, ..., 1 with W a
    # power of two >= the longest segment.
    idx = start.astype(np.int64, copy=True)
    last = end - 1
    width = 1 << int((end - start).max() - 1).bit_length()
    step = width >> 1
    while step:
        nxt = idx + step
        ok = (nxt <= last) & (np.take(cum, nxt - 1, mode="clip") <= target)
        idx += ok * step
        step >>= 1
    uniform = start + (u * (end - start)).astype(np.int64)
    return np.where(total > 0, idx, uniform)


COARSE_BLOCK = 8  # CDF entries per block of the compiled draw's first pass: one 64-byte line of float64


class ClusterItems:
    """Items of every cluster of one level, laid out for vectorized draws.

    ``set_weights`` takes (N,) non-negative item weights (e.g. learned engagement); ``sample``
    then draws an item of each given cluster with probability ∝ weight.

    Layout: a (M, W) table per cluster, W = the largest cluster size rounded up to a power of
    two, holding the cluster's items and the running share of its weight (the within-cluster
    CDF). A draw is a branch-free binary search of log2(W) gathers over that row: O(log W) per
    draw, no (B, W) temporaries, and it only touches a table that fits in cache."""

    def __init__(self, level: ClusterLevel) -> None:
        self.level = level
        self.order, self.offsets = level.members  # items sorted by cluster, (M + 1,) offsets
        self.sizes = np.diff(self.offsets)
        largest = max(int(self.sizes.max()) if len(self.sizes) else 1, 1)
        self.width = 1 << (largest - 1).bit_length()  # W >= largest, a power of two
        # Binary-search steps W/2, ..., 1: they add up to W - 1 >= the largest index a draw needs.
        self._steps = [self.width >> j for j in range(1, self.width.bit_length())]
        m, w = len(self.sizes), self.width
        col = np.arange(w)
        self._slot = self.offsets[:-1, None] + col[None, :]  # (M, W) position in ``order``
        self._valid = col[None, :] < self.sizes[:, None]  # (M, W)
        items = np.where(self._valid, self.order[np.minimum(self._slot, max(len(self.order) - 1, 0))], -1)
        self._items = items.reshape(m * w)  # (M·W,) item ids, -1 padding
        self.set_weights(np.ones(len(self.order)))

    def set_weights(self, weights: np.ndarray) -> None:
        w = np.asarray(weights, dtype=np.float64)
        row = np.where(self._valid, w[self.order[np.minimum(self._slot, max(len(self.order) - 1, 0))]], 0.0)
        cum = np.cumsum(row, axis=1)  # (M, W) running weight inside each cluster
        total = cum[:, -1:]
        uniform = np.cumsum(self._valid, axis=1) / np.maximum(self.sizes[:, None], 1)
        cdf = np.where(total > 0, cum / np.where(total > 0, total, 1.0), uniform)
        # The last item of a cluster (and the padding) ends the search: no u in [0, 1) passes it.
        last = np.arange(self.width)[None, :] >= (self.sizes[:, None] - 1)
        self._cdf = np.where(last, 2.0, cdf).reshape(-1)  # (M·W,) float64
        # The compiled draw (agents.kernels._sample_at) first counts the blocks of COARSE_BLOCK
        # entries that end at or below u, then the entries of the next block: two cache lines
        # in turn instead of log2(W) dependent loads. The same count as the binary search.
        self.block = min(COARSE_BLOCK, self.width)
        block_ends = self._cdf.reshape(-1, self.width)[:, self.block - 1 :: self.block]
        self._coarse = np.ascontiguousarray(block_ends).reshape(-1)  # (M·W/block,)

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
        return self.sample_at(c, rng.random(c.shape))

    def sample_at(self, clusters: np.ndarray, u: np.ndarray) -> np.ndarray:
        """The item of each cluster at CDF position ``u`` in [0, 1) (same shape): the inverse
        CDF of the item weights, so uniform ``u`` draws ∝ weight."""
        c = np.asarray(clusters, dtype=np.int64)
        self.check(c)
        q = c * self.width  # flat index of the cluster's first item; moves to the drawn one
        for s in self._steps:
            q += (np.take(self._cdf, q + (s - 1)) <= u) * s
        return np.take(self._items, q)


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


def valid_prefix(table: np.ndarray) -> np.ndarray:
    """(M,) for each row of a members table, how many valid members (>= 0) it starts with,
    where padding (-1) fills the rest of the row, as ``padded_members`` lays clusters out; -1
    for a row with padding between members."""
    valid = table >= 0
    lengths = valid.sum(axis=1)
    prefix = np.arange(table.shape[1])[None, :] < lengths[:, None]
    return np.where((valid == prefix).all(axis=1), lengths, -1).astype(np.int64)


def spread_within_groups(groups: np.ndarray, u: np.ndarray, offset: np.ndarray) -> np.ndarray:
    """(B, n) uniforms on [0, 1) that keep draws of one group apart (systematic sampling).

    In each row, the m slots sharing a value of ``groups`` (B, n) take disjoint strata: the
    r-th of them (slot order) gets (r + u) / m, and the group's strata are rotated by the
    ``offset`` of its first slot. ``u`` and ``offset`` are (B, n) independent uniforms, so
    every slot's value is still uniform on [0, 1) (its draw through an inverse CDF keeps its
    distribution), while items drawn for the same cluster repeat only when one item holds
    more than 1/m of the cluster's weight. Rows of more than 32 slots are returned as ``u``."""
    b, n = groups.shape
    if n > 32:
        return u
    g = np.ascontiguousarray(groups.T)  # (n, B): each slot's column contiguous
    rank = np.zeros((n, b), dtype=np.int8)  # earlier slots of the same group
    count = np.ones((n, b), dtype=np.int8)  # slots of the group
    first = np.repeat(np.arange(n, dtype=np.int8)[:, None], b, axis=1)  # the group's first slot
    for j in range(1, n):
        for i in range(j - 1, -1, -1):  # descending: the last match is the group's first slot
            eq = (g[i] == g[j]).view(np.int8)  # int8 arithmetic: no casts, no masked writes
            rank[j] += eq
            count[i] += eq
            count[j] += eq
            first[j] -= eq * (first[j] - np.int8(i))
    x = (rank.T + u) / count.T + np.take(offset, first.T + (np.arange(b) * n)[:, None])  # in [0, 2)
    x -= x >= 1.0  # modulo 1 (np.mod costs ten times more)
    return x


def gumbel(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard Gumbel noise, float32: ample resolution for ranking, and float32 logs cost a
    tenth of float64 ones."""
    return gumbel_in_place(rng.random(shape, dtype=np.float32))


def gumbel_in_place(u: np.ndarray, negate: bool = True) -> np.ndarray:
    """``u`` (float32 uniforms) turned into ``gumbel``'s noise, -log(-log(u + eps) + eps), in
    place (-log(u + eps) + eps computed as eps - log(u + eps), which rounds alike);
    ``negate=False`` stops before the last negation."""
    eps = np.float32(1e-20)
    np.add(u, eps, out=u)
    np.log(u, out=u)
    np.subtract(eps, u, out=u)
    np.log(u, out=u)
    return np.negative(u, out=u) if negate else u


def top_k_members(members: np.ndarray, scores: np.ndarray, k: int, exclude: np.ndarray | None = None) -> np.ndarray:
    """(B, k) the k best-scoring members of each row, best first; -1 where the row has fewer
    than k valid members. members (B, P) with -1 padding; scores (B, P) float; ``exclude``
    (B, X) item ids to skip (e.g. the user's recent items), -1 ignored."""
    b, p = members.shape
    # Work on (P, B): reductions over a row's P members then run across users in SIMD, about
    # ten times faster than along B short rows.
    mem = np.ascontiguousarray(members.T)
    valid = mem >= 0
    s = np.where(valid, scores.T, -np.inf)
    if exclude is not None and exclude.size:
        hit = np.zeros((p, b), dtype=bool)
        for row in np.ascontiguousarray(exclude.T):  # one (P, B) comparison per excluded slot
            hit |= mem == row
        hit &= valid
        # Excluded items rank after every other valid member, in their own order, not out: a
        # small cluster the user has fully seen still yields items.
        lo = np.min(s, where=valid, initial=np.inf)
        hi = np.max(s, where=valid, initial=-np.inf)
        np.subtract(s, exclusion_shift(lo, hi, s.dtype), out=s, where=hit)
    out = np.full((b, k), -1, dtype=np.int64)
    first_wins = np.arange(p, 0, -1, dtype=np.int16 if p < 2**15 else np.int64)[:, None]
    cols = np.arange(b)
    # k rounds of "take the best, then rule it out" (k is a few slots).
    for i in range(min(k, p)):
        best = s.max(axis=0)
        first = p - ((s == best) * first_wins).max(axis=0).astype(np.int64)
        pick = first * b + cols  # flat index of the row's first best member
        out[:, i] = np.where(best > -np.inf, np.take(mem, pick, mode="clip"), -1)
        np.put(s, pick, -np.inf, mode="clip")
    return out


def exclusion_shift(low: Any, high: Any, dtype: np.dtype) -> np.ndarray:
    """What ``top_k_members`` subtracts from excluded members' scores: the spread of all valid
    scores (``low``..``high``) plus one, so they rank after every other member; 1e9 when there
    is no valid score. A 0-d array of the scores' ``dtype``."""
    return np.asarray(high - low + 1.0 if np.isfinite(high - low) else 1e9, dtype=dtype)


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
    # Few rows repeat an item: find them, then work on those rows only.
    rows = np.flatnonzero(repeating_rows(slate))
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
    raise no_distinct_slates(slate.shape[1], n_items)


def no_distinct_slates(slate_size: int, n_items: int) -> EmptyClusterError:
    """The error of ``make_distinct`` (and its compiled twin) when rows keep repeating an item."""
    return EmptyClusterError(
        f"could not make slates of {slate_size} distinct items from a corpus of {n_items}; lower the slate size"
    )
