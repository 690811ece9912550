"""Cluster bandits: one multi-armed bandit per user over the clusters (like RecSim's
``ClusterBandit`` agent), with UCB1 (Auer et al. 2002) or Thompson sampling (Beta-Bernoulli).

The reward of an arm is a positive engagement with an exploratory item of that cluster. With
hundreds of arms and a few hundred requests per user, a bandit that knows nothing must waste
most pulls (UCB1 tries every arm once), so each user's arms start from a population prior:
``prior_n`` pseudo-pulls at the rate this cluster earned over all users so far (shared
across users, learned online). Arms in the user's recent window are not proposed (novelty).
State is (B, M) float32 per user; memory grows as B·M.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from agents.base import Trainable
from agents.errors import ConfigError
from agents.persistence import load_arrays, save_arrays
from agents.selectors.base import OptionSelector

PRIOR_SHRINK = 10.0
"""Pseudo-pulls at ``prior_rate`` that each arm's population rate starts from, so that an arm
pulled a few times over all users does not set every user's prior (set by hand)."""


class ClusterBandit(OptionSelector, Trainable):
    """Shared state and learning; subclasses define the index of an arm."""

    def __init__(self, n_clusters: int, prior_n: float = 1.0, prior_rate: float = 0.1) -> None:
        super().__init__(n_clusters)
        if prior_n < 0 or not 0.0 <= prior_rate <= 1.0:
            raise ConfigError(f"prior_n={prior_n!r} must be >= 0 and prior_rate={prior_rate!r} in [0, 1]")
        self.prior_n = prior_n
        self.prior_rate = prior_rate
        self.pop_pulls = np.zeros(n_clusters)
        self.pop_wins = np.zeros(n_clusters)
        self.pulls = np.zeros((0, n_clusters), dtype=np.float32)
        self.wins = np.zeros((0, n_clusters), dtype=np.float32)

    def reset(self) -> None:
        self.pulls = np.zeros((0, self.n_clusters), dtype=np.float32)
        self.wins = np.zeros((0, self.n_clusters), dtype=np.float32)

    def _users(self, n: int) -> None:
        if self.pulls.shape[0] != n:  # a new population: per-user arms start over
            self.pulls = np.zeros((n, self.n_clusters), dtype=np.float32)
            self.wins = np.zeros((n, self.n_clusters), dtype=np.float32)

    def prior_mean(self) -> np.ndarray:
        """(M,) population rate of each arm, shrunk to ``prior_rate`` by PRIOR_SHRINK pseudo-pulls."""
        return (self.pop_wins + PRIOR_SHRINK * self.prior_rate) / (self.pop_pulls + PRIOR_SHRINK)

    def posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """(B, M) pseudo-wins and pseudo-pulls: the user's own plus the population prior."""
        n = self.pulls + np.float32(self.prior_n)
        w = self.wins + (self.prior_n * self.prior_mean()).astype(np.float32)
        return w, n

    def index(self, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def select(self, history: np.ndarray, window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        self._users(len(window))
        score = self.index(rng)
        rows = np.repeat(np.arange(len(window)), window.shape[1])
        cols = window.ravel()
        valid = cols >= 0
        score[rows[valid], cols[valid]] = -np.inf  # recent clusters are not exploration
        return score.argmax(axis=1).astype(np.int64)

    def update(self, clusters: np.ndarray, reward: np.ndarray, explored: np.ndarray, ended: np.ndarray) -> None:
        self._users(len(clusters))
        rows = np.flatnonzero(explored)
        c = clusters[rows]
        r = np.asarray(reward, dtype=np.float32)[rows]
        np.add.at(self.pulls, (rows, c), 1.0)
        np.add.at(self.wins, (rows, c), r)
        self.pop_pulls += np.bincount(c, minlength=self.n_clusters)
        self.pop_wins += np.bincount(c, weights=r, minlength=self.n_clusters)
        if ended.any():  # the slot now serves a new user
            self.pulls[ended] = 0.0
            self.wins[ended] = 0.0

    def _meta(self) -> dict[str, int]:
        return {"n_clusters": self.n_clusters}

    def save(self, path: str | Path) -> Path:
        arrays: dict[str, np.ndarray] = {
            "pop_pulls": self.pop_pulls, "pop_wins": self.pop_wins, "pulls": self.pulls, "wins": self.wins,
        }
        return save_arrays(path, type(self).__name__, arrays, self._meta())

    def load(self, path: str | Path) -> ClusterBandit:
        arrays, _ = load_arrays(path, type(self).__name__, self._meta())
        self.pop_pulls, self.pop_wins = arrays["pop_pulls"].copy(), arrays["pop_wins"].copy()
        self.pulls, self.wins = arrays["pulls"].copy(), arrays["wins"].copy()
        return self


class UCBSelector(ClusterBandit):
    """UCB1: mean + c·sqrt(2 ln t / n), t = the user's pulls so far (+1), ties broken at random."""

    name = "ucb"

    def __init__(self, n_clusters: int, c: float = 1.0, prior_n: float = 1.0, prior_rate: float = 0.1) -> None:
        super().__init__(n_clusters, prior_n, prior_rate)
        self.c = c

    def index(self, rng: np.random.Generator) -> np.ndarray:
        w, n = self.posterior()
        t = self.pulls.sum(axis=1, keepdims=True) + 1.0
        with np.errstate(divide="ignore"):
            bonus = self.c * np.sqrt(2.0 * np.log(t + 1.0) / n)  # n = 0 (no prior): +inf, try it first
        return np.where(n > 0, w / np.maximum(n, 1e-9), 0.0) + bonus + 1e-6 * rng.random(n.shape)


class ThompsonSelector(ClusterBandit):
    """Thompson sampling: draw each arm's rate from Beta(1 + wins, 1 + pulls - wins), take the best."""

    name = "thompson"

    def index(self, rng: np.random.Generator) -> np.ndarray:
        w, n = self.posterior()
        return rng.beta(1.0 + w, 1.0 + np.maximum(n - w, 0.0))
