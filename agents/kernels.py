"""Compiled (numba) forms of the exploit slots' hot path: the same draws as the numpy
functions they mirror, value for value (tests/agents/test_kernels.py), a user at a time.

``window_clusters`` mirrors ``ExploitRecommender.fill_clusters`` (the weighted window and its
inverse CDF); ``spread_and_sample`` mirrors ``spread_within_groups`` followed by
``ClusterItems.sample_at``. The numpy forms run where numba does not import.
"""

from __future__ import annotations

import numpy as np
from numba import njit

jit = njit(nogil=True, cache=True)


@jit
def window_clusters(clusters, responses, recency, bonus, u, out, total):  # type: ignore[no-untyped-def]
    """out (B, n): clusters drawn from each user's window (B, H) with weights recency x
    (0.25 + bonus x (completion + liked)), by inverse CDF at ``u`` (B, n) float32 uniforms;
    total (B,): each window's weight (0: no history, ``out`` then holds -1)."""
    b, h = clusters.shape
    cdf = np.empty(h, dtype=np.float32)
    base, gain = np.float32(0.25), np.float32(bonus)
    for i in range(b):
        run = np.float32(0.0)
        for j in range(h):
            if clusters[i, j] >= 0:
                run += recency[j] * (base + gain * (responses[i, j, 1] + responses[i, j, 2]))
            cdf[j] = run
        total[i] = run
        # One ulp below the total, so rounding never lands past the last weighted slot.
        scale = np.nextafter(run, np.float32(0.0))
        for s in range(u.shape[1]):
            target = u[i, s] * scale
            pos = 0
            for j in range(h - 1):
                if cdf[j] <= target:
                    pos += 1
            out[i, s] = clusters[i, pos]


@jit
def spread_and_sample(groups, u, offset, cdf, items, width, steps, out):  # type: ignore[no-untyped-def]
    """out (B, n): an item of each slot's cluster ``groups`` (B, n), drawn through the
    within-cluster CDF (``ClusterItems``' (M·W,) ``cdf`` and ``items``) at a position that
    keeps slots of one cluster in disjoint strata (``spread_within_groups``)."""
    b, n = groups.shape
    x = np.empty(n)
    q = np.empty(n, dtype=np.int64)
    for i in range(b):
        for j in range(n):
            x[j] = u[i, j]
            if n <= 32:
                rank, count, first = 0, 1, j
                for k in range(n):
                    if k != j and groups[i, k] == groups[i, j]:
                        count += 1
                        if k < j:
                            rank += 1
                            first = min(first, k)
                x[j] = (rank + u[i, j]) / count + offset[i, first]
                x[j] -= x[j] >= 1.0
            q[j] = groups[i, j] * width
        # The row's slots search side by side: independent loads overlap. Branch-free, since
        # which way a search goes is a coin flip.
        for step in steps:
            for j in range(n):
                q[j] += step * (cdf[q[j] + step - 1] <= x[j])
        for j in range(n):
            out[i, j] = items[q[j]]
