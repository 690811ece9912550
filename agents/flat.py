"""Flat baselines: one policy over the whole slate, no option selector.

* ``RandomAgent``: uniformly random distinct items.
* ``PopularityAgent``: the items with most positive engagements in its own logs.
* ``EpsilonGreedyAgent``: the exploit slate with each slot replaced by a random item w.p. ε.
* Cluster-softmax family, over candidate clusters per user (the window's clusters, their
  nearest clusters by centroid similarity, and the clusters engaging best overall), valued by
  content affinity to the user's weighted window plus the learned engagement rate of the cluster:
  ``BoltzmannAgent`` samples each slot's cluster ∝ exp(value / T); ``IntrinsicAgent`` adds a
  bonus to clusters outside the recent window before sampling (the intrinsic-motivation reward
  of Chen et al. 2021, "Values of User Exploration in Recommender Systems");
  ``EntropyAgent`` picks slot by slot the cluster maximizing value + λ · gain in the entropy of
  the slate's cluster distribution (entropy-regularized slate construction).
Slots whose cluster lies outside the user's window count as exploratory.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from agents.base import Agent, Trainable, exploit_mask
from agents.errors import ConfigError
from agents.exploit import ExploitRecommender
from agents.observations import in_window
from agents.sampling import duplicate_mask, gumbel, make_distinct
from agents.types import Action, Obs, Transition
from envs.clusters import ClusterLevel
from envs.logs import distinct_fill
from envs.world import World


class RandomAgent(Agent):
    name = "random"

    def _act(self, obs: Obs) -> Action:
        n, b = self.world.corpus.n_items, len(obs["items"])
        slates = distinct_fill(self.rng.integers(0, n, size=(b, self.slate_size)), n, self.rng)
        return Action(slates, np.ones(slates.shape, dtype=bool))


class ExploitingAgent(Agent, Trainable):
    """Base of the flat agents that learn through an embedded exploit recommender's counts."""

    def __init__(self, world: World, seed: int = 0, exploit: ExploitRecommender | None = None) -> None:
        super().__init__(world, seed)
        self.exploit = exploit or ExploitRecommender(world, seed)

    def update(self, transition: Transition) -> None:
        self.exploit.update(transition)

    def save(self, path: str | Path) -> Path:
        return self.exploit.save(path)

    def load(self, path: str | Path) -> ExploitingAgent:
        self.exploit.load(path)
        return self


class PopularityAgent(ExploitingAgent):
    """Most positive engagements first (ties in a fixed random order), skipping recent items."""

    name = "popularity"

    def _act(self, obs: Obs) -> Action:
        stats = self.exploit.stats
        h = obs["items"].shape[1]
        # Tie-break once per retrain period, so equal items keep their order between retrains.
        noise = np.random.default_rng([self.seed, self.exploit.steps // self.exploit.config.retrain_every])
        key = stats.item_positive + 1e-3 * noise.random(stats.n_items)
        top = np.argsort(-key, kind="stable")[: self.slate_size + h]
        cand = np.broadcast_to(top, (len(obs["items"]), len(top)))
        seen = (cand[:, :, None] == obs["items"][:, None, :]).any(axis=2)
        order = np.argsort(seen, axis=1, kind="stable")[:, : self.slate_size]
        slates = np.take_along_axis(cand, order, axis=1).astype(np.int64)
        return Action(slates, exploit_mask(slates.shape))


class EpsilonGreedyAgent(ExploitingAgent):
    name = "epsilon-greedy"

    def __init__(
        self, world: World, seed: int = 0, epsilon: float = 0.1, exploit: ExploitRecommender | None = None
    ) -> None:
        super().__init__(world, seed, exploit)
        if not 0.0 <= epsilon <= 1.0:
            raise ConfigError(f"epsilon={epsilon!r} must lie in [0, 1]")
        self.epsilon = epsilon

    def _act(self, obs: Obs) -> Action:
        rng = self.rng
        items, clusters = self.exploit.fill(obs, self.slate_size, rng)
        swap = rng.random(items.shape) < self.epsilon
        items[swap] = rng.integers(0, self.world.corpus.n_items, size=int(swap.sum()))
        clusters[swap] = self.world.level.item_cluster[items[swap]]
        slates = make_distinct(items, clusters, self.exploit.items, rng)
        novel = ~in_window(self.world.level.item_cluster[slates].astype(np.int64), obs["clusters"])
        return Action(slates, swap & novel)


@lru_cache(maxsize=16)
def nearest_clusters(level: ClusterLevel, k: int) -> np.ndarray:
    """(M, k) the k clusters most similar to each cluster (centroid cosine), itself excluded."""
    sim = level.similarity.copy()
    np.fill_diagonal(sim, -np.inf)
    k = min(k, max(level.n_clusters - 1, 1))
    return np.argsort(-sim, axis=1, kind="stable")[:, :k].astype(np.int64)


class ClusterSoftmaxAgent(ExploitingAgent):
    """Candidate clusters and their values; subclasses choose the slate's clusters."""

    def __init__(
        self,
        world: World,
        seed: int = 0,
        temperature: float = 0.1,
        neighbours: int = 3,
        popular: int = 10,
        rate_weight: float = 0.2,
        exploit: ExploitRecommender | None = None,
    ) -> None:
        super().__init__(world, seed, exploit)
        if temperature <= 0:
            raise ConfigError(f"temperature={temperature!r} must be > 0")
        self.temperature = temperature
        self.neighbours = nearest_clusters(world.level, neighbours)
        self.popular = popular
        self.rate_weight = rate_weight

    def candidates(self, obs: Obs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(B, C) candidate clusters (-1 = none), their (B, C) values, and whether each is novel."""
        window = obs["clusters"]
        b = len(window)
        rate = self.exploit.stats.cluster_rate()
        top = np.argsort(-rate, kind="stable")[: self.popular]
        near = np.where(window[:, :, None] >= 0, self.neighbours[np.maximum(window, 0)], -1).reshape(b, -1)
        cand = np.concatenate([window, near, np.broadcast_to(top, (b, len(top)))], axis=1)
        cand = np.where(duplicate_mask(cand), -1, cand)
        # Content affinity: similarity to the window's clusters, weighted by recency and engagement.
        w = self.exploit.window_weights(obs)
        w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
        sim = self.world.level.similarity[np.maximum(cand, 0)[:, :, None], np.maximum(window, 0)[:, None, :]]
        affinity = (sim * w[:, None, :]).sum(axis=2)
        value = affinity + self.rate_weight * np.log(rate[np.maximum(cand, 0)] / rate.mean())
        value = np.where(cand >= 0, value, -np.inf)
        return cand, value, ~in_window(cand, window) & (cand >= 0)

    def choose(self, value: np.ndarray, novel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(B, S) indices into the candidates, one per slot: Boltzmann sampling by default."""
        g = gumbel(rng, (value.shape[0], self.slate_size, value.shape[1]))
        return (value[:, None, :] / self.temperature + g).argmax(axis=2)

    def _act(self, obs: Obs) -> Action:
        cand, value, novel = self.candidates(obs)
        pick = self.choose(value, novel, self.rng)
        clusters = np.take_along_axis(cand, pick, axis=1)
        items = self.exploit.items.sample(clusters, self.rng)
        slates = make_distinct(items, clusters, self.exploit.items, self.rng)
        return Action(slates, np.take_along_axis(novel, pick, axis=1))


class BoltzmannAgent(ClusterSoftmaxAgent):
    name = "boltzmann"


class IntrinsicAgent(ClusterSoftmaxAgent):
    name = "intrinsic"

    def __init__(self, world: World, seed: int = 0, bonus: float = 0.2, **kwargs: object) -> None:
        super().__init__(world, seed, **kwargs)  # type: ignore[arg-type]
        self.bonus = bonus

    def choose(self, value: np.ndarray, novel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return super().choose(value + self.bonus * novel, novel, rng)


class EntropyAgent(ClusterSoftmaxAgent):
    name = "entropy"

    def __init__(self, world: World, seed: int = 0, entropy_weight: float = 0.3, **kwargs: object) -> None:
        super().__init__(world, seed, **kwargs)  # type: ignore[arg-type]
        self.entropy_weight = entropy_weight

    def choose(self, value: np.ndarray, novel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        b, c = value.shape
        counts = np.zeros((b, c))
        nlogn = np.zeros(b)  # Σ n_i log n_i of the slate so far
        out = np.zeros((b, self.slate_size), dtype=np.int64)
        rows = np.arange(b)

        def xlogx(x: np.ndarray) -> np.ndarray:
            return x * np.log(np.maximum(x, 1.0))

        # Greedy: each slot adds the cluster with the best value + λ · entropy of the result
        # (H = log T - Σ n log n / T); a few slots, so the loop is over slots, never users.
        tie = 1e-6 * rng.random((b, c))
        for t in range(self.slate_size):
            total = t + 1.0
            new = nlogn[:, None] - xlogx(counts) + xlogx(counts + 1.0)
            entropy = np.log(total) - new / total
            j = (value + self.entropy_weight * entropy + tie).argmax(axis=1)
            out[:, t] = j
            nlogn = new[rows, j]
            counts[rows, j] += 1.0
        return out
