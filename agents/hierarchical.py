"""The hierarchical agent (Wang et al. 2024, §3): an option selector names a novel cluster, an
item policy restricted to that cluster fills the exploration slots, and the exploitation
recommender fills the rest of the slate.

Exploration share: ``explore_slots`` slots of every exploring slate, and ``request_share`` of
requests explore at all (the paper's two ways to spend the budget). Every exploratory slot is
marked in the returned :class:`~agents.types.Action`, so metrics split by exploration.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from agents import compiled
from agents.base import Agent, Trainable
from agents.errors import ConfigError
from agents.exploit import ExploitRecommender
from agents.items.base import ItemPolicy
from agents.items.simple import EngagementItems
from agents.observations import all_per_row, any_per_row, last_distinct, positive_window
from agents.sampling import make_distinct
from agents.selectors.base import OptionSelector
from agents.types import Action, Obs, Transition
from envs.world import World


def default_explore_slots(slate_size: int) -> int:
    """About 10 % of the slate (1 of 10, the share the default world was calibrated with: three
    slots cost more enjoyment than any selector's discoveries return), at least one."""
    return max(1, round(0.1 * slate_size))


def exploring_rows(rng: np.random.Generator, n: int, request_share: float) -> np.ndarray:
    """(n,) which requests explore: all of them at request_share 1 (no draw), else a uniform
    draw per request below the share. The agent and the item task draw them alike."""
    return rng.random(n) < request_share if request_share < 1.0 else np.ones(n, dtype=bool)


def compose_slates(
    exploit: ExploitRecommender, obs: Obs, k: int, clusters: np.ndarray, explores: np.ndarray,
    pick_items: Callable[[], np.ndarray], rng: np.random.Generator, fast: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """The slates of a hierarchical agent, and the item task its item policies are trained in
    (``agents.items.task``): one composer, so training and serving follow the same rules.

    The exploit recommender fills slots k..S; ``pick_items()`` gives (B, k) items of each row's
    cluster ``clusters`` (-1 where the cluster holds too few) for the exploration slots of rows
    that explore (``explores``); the exploit recommender fills the exploration slots of the
    other rows and the missing items; repeats are then redrawn outside the fixed exploration
    items. ``fast``: the compiled passes (``agents.compiled``). Returns (B, S) slates and (B, S)
    whether each slot holds an exploration item."""
    b, s = len(clusters), exploit.slate_size
    slates = np.empty((b, s), dtype=np.int64)
    slot_clusters = np.empty((b, s), dtype=np.int64)
    fixed = np.zeros((b, s), dtype=bool)
    if k < s:  # the exploit slots
        slates[:, k:], slot_clusters[:, k:] = exploit.fill(obs, s - k, rng)
    if k:
        explore = pick_items()  # (B, k), -1 = cluster too small
        use = explores[:, None] & (explore >= 0)
        slates[:, :k], slot_clusters[:, :k] = explore, clusters[:, None]
        fixed[:, :k] = use
        # Exploit fills the exploration slots only of rows that do not explore them all.
        rows = np.flatnonzero(~all_per_row(use))
        if len(rows):
            items, item_clusters = exploit.fill({key: v[rows] for key, v in obs.items()}, k, rng)
            slates[rows, :k] = np.where(use[rows], slates[rows, :k], items)
            slot_clusters[rows, :k] = np.where(use[rows], slot_clusters[rows, :k], item_clusters)
    distinct = compiled.make_distinct if fast else make_distinct
    return distinct(slates, slot_clusters, exploit.items, rng, fixed), fixed


class HierarchicalAgent(Agent, Trainable):
    """Selector (high level) + item policy (low level) + exploitation fill."""

    name = "hierarchical"

    def __init__(
        self,
        world: World,
        selector: OptionSelector,
        item_policy: ItemPolicy | None = None,
        exploit: ExploitRecommender | None = None,
        explore_slots: int | None = None,
        request_share: float = 1.0,
        context_length: int = 2,
        seed: int = 0,
        name: str | None = None,
    ) -> None:
        super().__init__(world, seed)
        s = world.config.slate_size
        k = default_explore_slots(s) if explore_slots is None else explore_slots
        if isinstance(k, bool) or not isinstance(k, int) or not 0 <= k <= s:
            raise ConfigError(f"explore_slots={explore_slots!r} must be an integer in [0, slate_size={s}]")
        if not 0.0 <= request_share <= 1.0:
            raise ConfigError(f"request_share={request_share!r} must lie in [0, 1]")
        if isinstance(context_length, bool) or not isinstance(context_length, int) or context_length < 1:
            raise ConfigError(f"context_length={context_length!r} must be a positive integer")
        if selector.n_clusters != world.level.n_clusters:
            raise ConfigError(
                f"selector {selector.name!r} serves {selector.n_clusters} clusters but the world's level has "
                f"{world.level.n_clusters}"
            )
        self.selector = selector
        self.exploit = exploit or ExploitRecommender(world, seed)
        self.item_policy = item_policy or EngagementItems(world, self.exploit)
        self.explore_slots = k
        self.request_share = request_share
        self.context_length = context_length
        if name is not None:
            self.name = name
        self._last_clusters = np.zeros(0, dtype=np.int64)
        self.set_backend(self.backend)  # the parts follow the agent's backend

    def set_backend(self, backend: str) -> None:
        super().set_backend(backend)
        self.exploit.set_backend(backend)
        self.item_policy.backend = backend
        self.selector.backend = backend

    def bind(self, env: Any) -> None:
        self.selector.bind(env)

    def _reset_users(self) -> None:
        self.selector.reset()

    def _act(self, obs: Obs) -> Action:
        rng, k = self.rng, self.explore_slots
        fast = compiled.enabled(self.backend)
        window = obs["clusters"]
        b = len(window)
        explores = exploring_rows(rng, b, self.request_share)
        if fast:
            history = compiled.positive_history(obs, self.context_length)
        else:
            history = last_distinct(positive_window(obs), self.context_length)
        clusters = self.selector.validate(self.selector.select(history, window, rng), b)
        slates, fixed = compose_slates(
            self.exploit, obs, k, clusters, explores, lambda: self.item_policy.select(obs, clusters, k, rng), rng, fast
        )
        chosen = np.where(any_per_row(fixed[:, :k]), clusters, -1)  # only the first k slots explore
        self._last_clusters = chosen
        return Action(slates, fixed, chosen)

    def update(self, transition: Transition) -> None:
        self.exploit.update(transition)
        if transition.exploratory is None or len(self._last_clusters) != len(transition.reward):
            return
        ev = transition.events
        hit = (transition.slates == ev.item[:, None]) & transition.exploratory
        reward = (hit.any(axis=1) & ev.positive).astype(np.float32)
        explored = self._last_clusters >= 0
        self.selector.update(np.maximum(self._last_clusters, 0), reward, explored, transition.ended)

    # --- persistence: a folder with one file per trained part ----------------------------------
    def save(self, path: str | Path) -> Path:
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        self.exploit.save(folder / "exploit.safetensors")
        if isinstance(self.selector, Trainable):
            self.selector.save(folder / "selector.safetensors")
        if isinstance(self.item_policy, Trainable):
            self.item_policy.save(folder / f"items{self.item_policy.suffix}")  # type: ignore[attr-defined]
        return folder

    def load(self, path: str | Path) -> HierarchicalAgent:
        folder = Path(path)
        self.exploit.load(folder / "exploit.safetensors")
        if isinstance(self.selector, Trainable):
            self.selector.load(folder / "selector.safetensors")
        if isinstance(self.item_policy, Trainable):
            self.item_policy.load(folder / f"items{self.item_policy.suffix}")  # type: ignore[attr-defined]
        return self
