"""Types shared by every agent (STYLE.md #13): observations, slates and transitions."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.state import Events

Obs = dict[str, np.ndarray]
"""A batch of observations as the vector env returns them: ``items`` (B, H), ``clusters``
(B, H), ``responses`` (B, H, 3), ``session`` (B, 4)."""


@dataclass(frozen=True)
class Action:
    """What an agent served: the slates and which slots were exploratory."""

    slates: np.ndarray  # (B, S) int64 distinct item ids per row
    exploratory: np.ndarray  # (B, S) bool the slot was spent on exploration
    clusters: np.ndarray | None = None  # (B,) int64 the explored cluster per user, -1 = none


@dataclass(frozen=True)
class Transition:
    """One batched step: what the agent saw, served and got back. Arrays over B users."""

    obs: Obs
    slates: np.ndarray  # (B, S)
    reward: np.ndarray  # (B,) float32
    next_obs: Obs
    info: dict[str, Any] = field(default_factory=dict)  # the vector env's info: Events fields (B,)
    exploratory: np.ndarray | None = None  # (B, S) bool, as returned with the action

    @property
    def events(self) -> Events:
        """The step's per-user events (``envs.state.Events``) read from ``info``."""
        return Events.from_info(self.info)

    @property
    def ended(self) -> np.ndarray:
        """(B,) the slot's user finished with this step (its next observation is a new user)."""
        done = self.info.get("_final_obs")
        return np.zeros(len(self.reward), dtype=bool) if done is None else np.asarray(done, dtype=bool)
