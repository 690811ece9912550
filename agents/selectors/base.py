"""The option-selector interface (the high level of the hierarchy) and its shared helpers.

A selector reads each user's last L engaged clusters (oldest first, -1 = unknown) and the
clusters of the whole observed window, and proposes one cluster per user to explore.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from agents import compiled
from agents.errors import SelectorError
from agents.observations import in_window


class OptionSelector(ABC):
    """Proposes a cluster to explore for every user of a batch."""

    name = "selector"
    backend = "numpy"  # 'numba': compiled passes (agents.compiled); the agent sets its own

    def __init__(self, n_clusters: int) -> None:
        self.n_clusters = n_clusters

    @abstractmethod
    def select(self, history: np.ndarray, window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(B,) int64 clusters for histories (B, L) and windows (B, H) of cluster ids."""

    def update(self, clusters: np.ndarray, reward: np.ndarray, explored: np.ndarray, ended: np.ndarray) -> None:
        """Feedback on the clusters explored last step: reward (B,) where ``explored`` (B,);
        ``ended`` (B,) marks slots whose user was replaced by a new one. Default: ignore."""
        del clusters, reward, explored, ended

    def bind(self, env: Any) -> None:
        """Access to the served env (the oracle reads hidden state through it)."""
        del env

    def reset(self) -> None:
        """Forget per-user memory."""
        return None

    def in_window(self, clusters: np.ndarray, window: np.ndarray) -> np.ndarray:
        """``agents.observations.in_window``, compiled where the agent's backend is numba."""
        return (compiled.in_window if compiled.enabled(self.backend) else in_window)(clusters, window)

    def validate(self, clusters: np.ndarray, n_users: int) -> np.ndarray:
        """The selector's output as (B,) int64, or SelectorError naming the bad cluster."""
        c = np.asarray(clusters)
        if c.shape != (n_users,):
            raise SelectorError(f"selector {self.name!r} returned shape {c.shape}; expected ({n_users},)")
        if c.dtype.kind not in "iu":
            raise SelectorError(f"selector {self.name!r} returned dtype {c.dtype}; expected integer cluster ids")
        bad = (c < 0) | (c >= self.n_clusters)
        if bad.any():
            u = int(np.flatnonzero(bad)[0])
            raise SelectorError(
                f"selector {self.name!r} proposed cluster {int(c[u])} for user {u}, which does not exist: "
                f"cluster ids lie in [0, {self.n_clusters - 1}]; was its table or model built for another level?"
            )
        return c.astype(np.int64, copy=False)


def redraw_in_window(
    clusters: np.ndarray,
    window: np.ndarray,
    draw: Callable[[np.ndarray], np.ndarray],
    rounds: int = 16,
    contains: Callable[[np.ndarray, np.ndarray], np.ndarray] = in_window,
) -> np.ndarray:
    """Redraw (with ``draw(rows) -> clusters``, one fresh draw per entry of ``rows``, which may
    repeat) the proposals that are in the user's window, up to ``rounds`` times; whatever is
    still not novel keeps its last draw (a user may have seen all).

    The redraws of a row are independent, so they are made in batches of 1, 4, 16, ...
    candidates per row, keeping the first novel one: the same outcome as one redraw at a time,
    in a few calls however stubborn the rows. ``contains`` is ``in_window`` or its compiled twin."""
    out = clusters.copy()
    rows = np.flatnonzero(contains(out, window))
    done, batch = 0, 1
    while len(rows) and done < rounds:
        n = min(batch, rounds - done)
        cand = np.asarray(draw(np.repeat(rows, n))).reshape(len(rows), n)
        novel = ~contains(cand, window[rows])
        found = novel.any(axis=1)
        first = np.where(found, novel.argmax(axis=1), n - 1)
        out[rows] = cand[np.arange(len(rows)), first]
        rows = rows[~found]
        done, batch = done + n, batch * 4
    return out
