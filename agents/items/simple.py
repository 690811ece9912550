"""Item policies without training: uniform random in the cluster, and best quality in the cluster."""

from __future__ import annotations

import numpy as np

from agents.errors import ConfigError
from agents.items.base import ItemPolicy
from agents.sampling import gumbel
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
