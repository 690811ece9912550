"""One evaluation loop for every policy: our agents, and anything with an SB3-style ``predict``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from agents.errors import ConfigError
from agents.types import Transition
from envs.ceiling import chance_of_hit, undiscovered_targets
from envs.env import InterestExplorationVectorEnv
from envs.metrics import EventLog
from envs.state import Events, InterestState
from envs.world import World


def run_agent(
    agent: Any,
    world: World,
    n_users: int,
    n_steps: int,
    seed: int = 0,
    learn: bool = True,
    on_step: Callable[[Any], None] | None = None,
    env: Any = None,
    on_action: Callable[[Any, Any], None] | None = None,
) -> EventLog:
    """Serve ``n_users`` users of ``world`` for ``n_steps`` requests and log the events.

    The env is reset with ``seed`` and the agent with ``seed`` too (its own generator, so the
    two streams never interleave). The log's slates carry an ``exploratory`` (B, S) extra for
    metrics split by exploration. With ``learn`` the agent's ``update`` sees every step (the
    online feedback loop); SB3 models (anything with ``predict`` but no ``act_explained``)
    are served as they are, with no exploratory slots marked. ``env`` serves another batched
    population with the same interface (e.g. ``envs.recsim_ng.RecSimNGVectorEnv``) instead of
    a new noveltygym vector env; it must hold ``n_users`` users and is not closed here.
    ``on_action(env, action)``, when given, sees each of our agents' actions (an
    ``agents.types.Action``: slates, exploratory slots, explored clusters) before it is served."""
    if isinstance(n_users, bool) or not isinstance(n_users, int) or n_users < 1:
        raise ConfigError(f"n_users={n_users!r} must be a positive integer")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ConfigError(f"n_steps={n_steps!r} must be a positive integer")
    ours = hasattr(agent, "act_explained")
    if not ours and not hasattr(agent, "predict"):
        raise ConfigError(f"{type(agent).__name__} has neither act_explained() nor predict(); pass an agent")
    owned = env is None
    if owned:
        env = InterestExplorationVectorEnv(n_users, world=world)
    elif env.num_envs != n_users:
        raise ConfigError(f"env serves {env.num_envs} users but n_users={n_users}; build it with num_envs={n_users}")
    try:
        obs, _ = env.reset(seed=seed)
        if ours:
            agent.reset(seed=seed)
            agent.bind(env)
        log = EventLog()
        for _ in range(n_steps):
            if on_step is not None:  # e.g. record hidden-state statistics before each request
                on_step(env)
            if ours:
                action = agent.act_explained(obs)
                slates, exploratory = action.slates, action.exploratory
                if on_action is not None:
                    on_action(env, action)
            else:
                slates = np.asarray(agent.predict(obs, deterministic=True)[0])
                exploratory = np.zeros(slates.shape, dtype=bool)
            next_obs, reward, _, _, info = env.step(slates)
            log.append(Events.from_info(info), slates, exploratory=exploratory)
            if ours and learn:
                agent.update(Transition(obs, slates, reward, next_obs, info, exploratory))
            obs = next_obs
    finally:
        if owned:
            env.close()
    return log


class ExplorationHits:
    """An ``on_action`` recorder for ``run_agent``: how often an explored cluster names one of
    the user's undiscovered latent interests outside their window (a *hit*, read from hidden
    state), beside how often a uniformly random cluster outside the window would (*chance*).
    Worlds without latent interests (RecSim dynamics) record nothing."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.explored = 0
        self.hits = 0
        self.chance = 0.0

    def __call__(self, env: Any, action: Any) -> None:
        state = getattr(env, "population_state", None)
        if action.clusters is None or not isinstance(state, InterestState):
            return
        rows = np.flatnonzero(action.clusters >= 0)
        if not len(rows):
            return
        windows = state.session.hist_clusters
        targets = undiscovered_targets(self.world, state, windows)[rows]
        self.explored += len(rows)
        self.hits += int((targets == action.clusters[rows, None]).any(axis=1).sum())
        self.chance += float(chance_of_hit(targets, windows[rows], self.world.level.n_clusters).sum())

    def summary(self) -> dict[str, float]:
        """``explore_hit_rate`` and ``explore_hit_chance`` (NaN when nothing was explored)."""
        n = self.explored
        return {
            "explore_hit_rate": self.hits / n if n else float("nan"),
            "explore_hit_chance": self.chance / n if n else float("nan"),
        }
