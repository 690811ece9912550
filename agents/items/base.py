"""The item-policy interface (the low level of the hierarchy): items restricted to a cluster.

A policy scores the members of each user's cluster; the base class keeps the k best distinct
members (``agents.sampling.top_k_members``), ranking the user's recently clicked items last.
Stochastic policies add Gumbel noise to log-probabilities, which makes top-k an exact draw
without replacement.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from agents import compiled
from agents.sampling import ClusterItems, padded_members, top_k_members, valid_prefix
from agents.types import Obs
from envs.world import World


class ItemPolicy(ABC):
    """Chooses k items inside one given cluster per user."""

    name = "items"

    def __init__(self, world: World) -> None:
        self.world = world
        self.cluster_items = ClusterItems(world.level)
        self.members = padded_members(world.level)  # (M, P)
        self.member_lengths = valid_prefix(self.members)  # (M,) its layout, for the compiled ranking
        self.backend = world.backend  # see agents.compiled

    @abstractmethod
    def scores(self, obs: Obs, clusters: np.ndarray, members: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(B, P) score of each member (B, P; -1 = padding) of each user's cluster (B,)."""

    def additive_scores(self) -> tuple[np.ndarray, bool] | None:
        """For a policy whose ``scores`` are a term per item, plus ``gumbel(rng, (B, P))`` noise
        when the flag is set: the (N,) term (empty: no term, the noise alone) and the flag.
        The compiled path then scores and ranks members without building (B, P) arrays
        (``agents.compiled.cluster_top_k``); None (the default): scores are computed by ``scores``."""
        return None

    def select(self, obs: Obs, clusters: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
        """(B, k) distinct items of each user's cluster, best first; -1 where the cluster holds
        fewer than k items. Raises EmptyClusterError for a cluster without items."""
        clusters = np.asarray(clusters, dtype=np.int64)
        self.cluster_items.check(clusters)
        additive = self.additive_scores() if compiled.enabled(self.backend) else None
        if additive is not None:
            term, noisy = additive
            return compiled.cluster_top_k(self.members, self.member_lengths, clusters, term, noisy, k, obs["items"],
                                          self.world.level.item_cluster, rng)
        members = np.take(self.members, clusters, axis=0)  # (B, P)
        scores = self.scores(obs, clusters, members, rng)
        if compiled.enabled(self.backend):
            return compiled.top_k_members(members, scores, k, obs["items"], self.world.level.item_cluster)
        return top_k_members(members, scores, k, exclude=obs["items"])
