"""The oracle: reads the simulator's hidden latent interests (the upper bound of any selector).

It proposes a latent-interest cluster of the user, preferring one not discovered yet and not
in the recent window. Worlds without latent interests (RecSim) fall back to the cluster of
highest hidden utility outside the window.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents import compiled
from agents.errors import ConfigError, StateError
from agents.selectors.base import OptionSelector
from envs.world import World


class OracleSelector(OptionSelector):
    name = "oracle"

    def __init__(self, world: World) -> None:
        super().__init__(world.level.n_clusters)
        self.world = world
        self.env: Any = None

    def bind(self, env: Any) -> None:
        self.env = env

    def select(self, history: np.ndarray, window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        # The vector env's live state, read-only and uncopied, where it offers one.
        state = None if self.env is None else getattr(self.env, "state_view", None) or self.env.state
        if state is None:
            raise StateError(
                "the oracle selector reads the env's hidden state: call agent.bind(env) after env.reset() "
                "(run_agent does this)"
            )
        if state.session.n_users != len(window):
            raise StateError(
                f"the bound env has {state.session.n_users} users but the observation batch has {len(window)}; "
                "bind the env whose observations are served"
            )
        try:
            latent, discovered = self.world.oracle_latent_clusters(state)
            # Priority: not yet discovered (2) > outside the window (1) > random tie-break (< 1).
            if compiled.enabled(self.backend):
                return compiled.oracle_pick(latent, discovered, window, rng.random(latent.shape))
            score = 2.0 * ~discovered + 1.0 * ~self.in_window(latent, window) + rng.random(latent.shape)
        except ConfigError:  # RecSim users: hidden utility of every cluster instead
            latent = np.broadcast_to(np.arange(self.n_clusters), (len(window), self.n_clusters))
            score = self.world.oracle_cluster_utility(state, latent) - 1e6 * self.in_window(latent, window)
        return np.take_along_axis(latent, score.argmax(axis=1)[:, None], axis=1)[:, 0].astype(np.int64)
