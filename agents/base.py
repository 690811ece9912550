"""The one agent interface: act on a batch of observations, learn from a batch of transitions.

Every policy (hierarchical, bandit, heuristic, RL) implements ``_act``; the same evaluation
loop (:func:`agents.evaluate.run_agent`) and the same SB3-style ``predict`` then work for all.
Agents draw every random number from their own ``numpy.random.Generator``, seeded by
``reset(seed)``, so one seed gives bit-identical slates (STYLE.md #5).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np

from agents.observations import check_obs
from agents.types import Action, Obs, Transition
from envs.world import World


class Agent(ABC):
    """Base of every agent. Subclasses implement ``_act`` and, when they learn, ``update``."""

    name = "agent"

    def __init__(self, world: World, seed: int = 0) -> None:
        self.world = world
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self.slate_size = world.config.slate_size
        self.backend = world.backend  # 'numba': act() runs agents.compiled, 'numpy' the reference

    def set_backend(self, backend: str) -> None:
        """Run ``act()`` compiled ('numba', where numba imports) or on the numpy reference ('numpy')."""
        self.backend = backend

    # --- the interface -------------------------------------------------------------------
    def act(self, obs: Obs) -> np.ndarray:
        """(B, S) int64 slates of distinct item ids for a batch of observations."""
        return self.act_explained(obs).slates

    def act_explained(self, obs: Obs) -> Action:
        """Slates plus which slots explored (for metrics split by exploration vs exploitation)."""
        return self._act(self.check(obs))

    def update(self, transition: Transition) -> None:
        """Learn from one batched step. Agents that do not learn online ignore it."""
        del transition

    def reset(self, seed: int | None = None) -> None:
        """Reseed and forget per-user memory (learned parameters stay; build a new agent for a
        fresh start)."""
        if seed is not None:
            self.seed = seed
        self.rng = np.random.default_rng(self.seed)
        self._reset_users()

    def bind(self, env: Any) -> None:
        """Give access to the env being served. Only the oracle uses it (to read hidden state)."""
        del env

    def predict(
        self,
        observation: Obs,
        state: Any = None,
        episode_start: np.ndarray | None = None,
        deterministic: bool = False,
    ) -> tuple[np.ndarray, None]:
        """stable-baselines3's signature, so SB3 models and our agents share evaluation code.

        A single user's observation (no batch axis) gives one slate (S,). ``deterministic`` is
        accepted for compatibility; exploration is part of these policies, so it is not turned off."""
        del state, episode_start, deterministic
        single = np.ndim(observation["items"]) == 1
        obs = {k: np.asarray(v)[None] for k, v in observation.items()} if single else observation
        slates = self.act(obs)
        return (slates[0] if single else slates), None

    # --- helpers for subclasses --------------------------------------------------------------
    @abstractmethod
    def _act(self, obs: Obs) -> Action: ...

    def _reset_users(self) -> None:
        """Drop per-user memory (bandit arms, ...). Default: nothing to drop."""
        return None

    def check(self, obs: Any) -> Obs:
        cfg = self.world.config
        return check_obs(obs, cfg.history_length, self.world.corpus.n_items, self.world.level.n_clusters)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, seed={self.seed})"


class Trainable(ABC):
    """Agents (and parts) with learned parameters: saved as safetensors or SB3 zips."""

    @abstractmethod
    def save(self, path: str | Path) -> Path: ...

    @abstractmethod
    def load(self, path: str | Path) -> Trainable: ...


def exploit_mask(action_shape: tuple[int, int]) -> np.ndarray:
    """(B, S) all False: a slate with no exploratory slot."""
    return np.zeros(action_shape, dtype=bool)
