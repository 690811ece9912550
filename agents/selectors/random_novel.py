"""Random novel cluster: uniform over the clusters outside the user's window (the naive explorer)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from agents.observations import in_window
from agents.sampling import duplicate_mask
from agents.selectors.base import OptionSelector


def uniform_outside(
    window: np.ndarray, n_clusters: int, rng: np.random.Generator, tries: int = 4,
    contains: Callable[[np.ndarray, np.ndarray], np.ndarray] = in_window,
) -> np.ndarray:
    """(B,) a cluster drawn uniformly from those not in each row's window (B, H), exactly.

    Rejection first: a uniform cluster, redrawn while it lies in the window (a window holds
    at most H of the M clusters, so few rows redraw). Rows still rejected after ``tries``
    draws (windows that cover most clusters) take the exact rank draw: the r-th free
    cluster, r < M - (distinct clusters in the window), found by stepping r past every
    excluded cluster at or below it, in ascending order. Rows whose window holds every
    cluster get any cluster."""
    out = rng.integers(0, n_clusters, size=len(window))
    rows = np.flatnonzero(contains(out, window))
    for _ in range(tries - 1):
        if not len(rows):
            return out
        out[rows] = rng.integers(0, n_clusters, size=len(rows))
        rows = rows[contains(out[rows], window[rows])]
    if len(rows):
        out[rows] = _rank_outside(window[rows], n_clusters, rng)
    return out


def _rank_outside(window: np.ndarray, n_clusters: int, rng: np.random.Generator) -> np.ndarray:
    big = np.iinfo(np.int64).max
    excluded = np.sort(np.where(duplicate_mask(window) | (window < 0), big, window.astype(np.int64)), axis=1)
    n_free = n_clusters - (excluded < big).sum(axis=1)
    u = rng.random(len(window))
    out = (u * np.maximum(n_free, 1)).astype(np.int64)
    for j in range(excluded.shape[1]):  # over the window's H slots, never over users
        out += excluded[:, j] <= out
    return np.where(n_free > 0, out, (u * n_clusters).astype(np.int64))


class RandomNovelSelector(OptionSelector):
    name = "random-novel"

    def select(self, history: np.ndarray, window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return uniform_outside(window, self.n_clusters, rng, contains=self.in_window)
