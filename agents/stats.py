"""Engagement counts a recommender learns from its own logs: the data side of the feedback loop.

Only what was *shown* can be counted, so items and clusters the system never shows keep their
prior: the bias that makes an exploitation-only recommender narrow (Chaney et al. 2018,
"How algorithmic confounding in recommendation systems increases homogeneity").
"""

from __future__ import annotations

import numpy as np

from envs.state import Events


class EngagementStats:
    """Per item and per cluster: times shown, clicks and positive engagements (float64 counts)."""

    FIELDS = ("item_shown", "item_clicks", "item_positive", "cluster_shown", "cluster_positive")

    def __init__(self, item_cluster: np.ndarray, n_clusters: int) -> None:
        self.item_cluster = np.asarray(item_cluster, dtype=np.int64)
        self.n_items = len(self.item_cluster)
        self.n_clusters = n_clusters
        self.clear()

    def clear(self) -> None:
        self.item_shown = np.zeros(self.n_items)
        self.item_clicks = np.zeros(self.n_items)
        self.item_positive = np.zeros(self.n_items)
        self.cluster_shown = np.zeros(self.n_clusters)
        self.cluster_positive = np.zeros(self.n_clusters)

    def record(self, slates: np.ndarray, events: Events) -> None:
        """Add one step: slates (B, S) served to the users in ``events`` (inactive rows skipped)."""
        shown = np.asarray(slates)[events.active].ravel()
        self.item_shown += np.bincount(shown, minlength=self.n_items)
        self.cluster_shown += np.bincount(self.item_cluster[shown], minlength=self.n_clusters)
        self.item_clicks += np.bincount(events.item[events.clicked], minlength=self.n_items)
        pos = events.item[events.positive]
        self.item_positive += np.bincount(pos, minlength=self.n_items)
        self.cluster_positive += np.bincount(self.item_cluster[pos], minlength=self.n_clusters)

    def item_rate(self, prior_rate: float = 0.05, prior_n: float = 20.0) -> np.ndarray:
        """(N,) positive engagements per impression, shrunk to ``prior_rate`` (Beta prior of
        ``prior_n`` pseudo-impressions), so rarely shown items are neither loved nor dismissed."""
        return (self.item_positive + prior_rate * prior_n) / (self.item_shown + prior_n)

    def cluster_rate(self, prior_rate: float = 0.05, prior_n: float = 50.0) -> np.ndarray:
        """(M,) positive engagements per impression of each cluster, shrunk like ``item_rate``."""
        return (self.cluster_positive + prior_rate * prior_n) / (self.cluster_shown + prior_n)

    def state_arrays(self) -> dict[str, np.ndarray]:
        return {f: getattr(self, f) for f in self.FIELDS}

    def load_state_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        for f in self.FIELDS:
            setattr(self, f, np.asarray(arrays[f], dtype=np.float64).copy())
