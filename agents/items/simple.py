"""Item policies without training: uniform random in the cluster, and best quality in the cluster."""

from __future__ import annotations

import numpy as np

from agents.errors import ConfigError
from agents.items.base import ItemPolicy
from agents.observations import in_window
from agents.sampling import gumbel, top_k_members
from agents.types import Obs
from envs.world import World


class RandomItems(ItemPolicy):
    """Uniformly random distinct items of the cluster (the reference every policy must beat)."""

    name = "random"

    def scores(self, obs: Obs, clusters: np.ndarray, members: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return gumbel(rng, members.shape)

    def additive_scores(self) -> tuple[np.ndarray, bool]:
        return np.zeros(0, dtype=np.float32), True


class QualityItems(ItemPolicy):
    """The cluster's highest-quality items. Quality is a corpus property a real system estimates
    from engagement; reading it directly makes this the "perfect item knowledge" reference.
    ``temperature`` > 0 samples ∝ exp(quality / T) instead of taking the top."""

    name = "quality"

    def __init__(self, world: World, temperature: float = 0.0) -> None:
        super().__init__(world)
        if temperature < 0:
            raise ConfigError(f"QualityItems temperature={temperature!r} must be >= 0")
        self.temperature = temperature

    def scores(self, obs: Obs, clusters: np.ndarray, members: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        q = self.world.corpus.quality[np.maximum(members, 0)].astype(np.float64)
        if self.temperature > 0:
            return q / self.temperature + gumbel(rng, members.shape)
        return q

    def additive_scores(self) -> tuple[np.ndarray, bool]:
        q = self.world.corpus.quality.astype(np.float64)
        return (q / self.temperature, True) if self.temperature > 0 else (q, False)


class EngagementItems(ItemPolicy):
    """Items ranked by the engagement rate the exploit recommender learned from its own logs
    (sampled ∝ rate^(1/T) through Gumbel noise): what a production system would use, with no
    privileged knowledge and no extra training."""

    name = "engagement"

    def __init__(self, world: World, stats_source: object, temperature: float = 0.5) -> None:
        super().__init__(world)
        if temperature <= 0:
            raise ConfigError(f"EngagementItems temperature={temperature!r} must be > 0")
        self.source = stats_source  # anything with .stats: EngagementStats (the exploit recommender)
        self.temperature = temperature

    def scores(self, obs: Obs, clusters: np.ndarray, members: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return np.take(self.log_weights(), np.maximum(members, 0)) + gumbel(rng, members.shape)

    def additive_scores(self) -> tuple[np.ndarray, bool]:
        return self.log_weights(), True

    def log_weights(self) -> np.ndarray:
        """(N,) float32 log rate^(1/T) of every item: one log per item, not per slot."""
        rate = self.source.stats.item_rate()  # type: ignore[attr-defined]
        return (np.log(rate) / self.temperature).astype(np.float32)


class EngagementDraws(EngagementItems):
    """``EngagementItems``' distribution, drawn by the cluster's inverse CDF: the same k
    distinct items ∝ rate^(1/T), without the user's recent items where the cluster has others,
    but one uniform per slot where the Gumbel ranking draws one per member of the cluster (95
    per user at the default world's topic level).

    Slot by slot: an item drawn ∝ weight, redrawn while it is a recent item or an earlier slot's
    (rejection keeps the conditional distribution exact: the sequential draw without replacement
    that the Gumbel top-k also is). A slot still rejected after ``rounds`` draws (a cluster
    nearly used up) is ranked by Gumbel noise among the members left. Same distribution, other
    random numbers: not the slates ``EngagementItems`` serves for the same seed."""

    name = "engagement-cdf"
    rounds = 8

    def select(self, obs: Obs, clusters: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        clusters = np.asarray(clusters, dtype=np.int64)
        self.cluster_items.check(clusters)
        rate = self.source.stats.item_rate()  # type: ignore[attr-defined]
        self.cluster_items.set_weights(rate ** (1.0 / self.temperature))  # the base's per-cluster CDF table
        recent = np.asarray(obs["items"])
        sizes = self.world.level.sizes[clusters]
        out = np.full((len(clusters), k), -1, dtype=np.int64)  # -1: the cluster has no item left
        for j in range(k):
            taken = np.concatenate([recent, out[:, :j]], axis=1)  # what slot j must not repeat
            rows = np.flatnonzero(sizes > j)
            for _ in range(self.rounds):
                out[rows, j] = self.cluster_items.sample(clusters[rows], rng)
                rows = rows[in_window(out[rows, j], taken[rows])]
                if not len(rows):
                    break
            if len(rows):  # a cluster nearly used up: rank the members left as the reference does
                members = np.take(self.members, clusters[rows], axis=0)
                members = np.where(in_window(members, out[rows, :j]), -1, members)  # earlier slots' items are gone
                scores = self.scores(obs, clusters[rows], members, rng)
                out[rows, j] = top_k_members(members, scores, 1, exclude=recent[rows])[:, 0]
        return out
