"""The option-selector interface (the high level of the hierarchy) and its shared helpers.

A selector reads each user's last L engaged clusters (oldest first, -1 = unknown) and the
clusters of the whole observed window, and proposes one cluster per user to explore.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

import numpy as np

from agents.errors import SelectorError
from agents.observations import in_window


class OptionSelector(ABC):
    """Proposes a cluster to explore for every user of a batch."""

    name = "selector"

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
) -> np.ndarray:
    """Redraw (with ``draw(rows) -> clusters``) the proposals that are in the user's window,
    up to ``rounds`` times; whatever is still not novel is kept (a user may have seen all)."""
    out = clusters.copy()
    for _ in range(rounds):
        rows = np.flatnonzero(in_window(out, window))
        if not len(rows):
            break
        out[rows] = draw(rows)
    return out
