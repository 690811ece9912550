"""One evaluation loop for every policy: our agents, and anything with an SB3-style ``predict``."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.errors import ConfigError
from agents.types import Transition
from envs.env import InterestExplorationVectorEnv
from envs.metrics import EventLog
from envs.state import Events
from envs.world import World


def run_agent(
    agent: Any, world: World, n_users: int, n_steps: int, seed: int = 0, learn: bool = True
) -> EventLog:
    """Serve ``n_users`` users of ``world`` for ``n_steps`` requests and log the events.

    The env is reset with ``seed`` and the agent with ``seed`` too (its own generator, so the
    two streams never interleave). The log's slates carry an ``exploratory`` (B, S) extra for
    metrics split by exploration. With ``learn`` the agent's ``update`` sees every step (the
    online feedback loop); SB3 models (anything with ``predict`` but no ``act_explained``)
    are served as they are, with no exploratory slots marked."""
    if isinstance(n_users, bool) or not isinstance(n_users, int) or n_users < 1:
        raise ConfigError(f"n_users={n_users!r} must be a positive integer")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int) or n_steps < 1:
        raise ConfigError(f"n_steps={n_steps!r} must be a positive integer")
    ours = hasattr(agent, "act_explained")
    if not ours and not hasattr(agent, "predict"):
        raise ConfigError(f"{type(agent).__name__} has neither act_explained() nor predict(); pass an agent")
    env = InterestExplorationVectorEnv(n_users, world=world)
    try:
        obs, _ = env.reset(seed=seed)
        if ours:
            agent.reset(seed=seed)
            agent.bind(env)
        log = EventLog()
        for _ in range(n_steps):
            if ours:
                action = agent.act_explained(obs)
                slates, exploratory = action.slates, action.exploratory
            else:
                slates = np.asarray(agent.predict(obs, deterministic=True)[0])
                exploratory = np.zeros(slates.shape, dtype=bool)
            next_obs, reward, _, _, info = env.step(slates)
            log.append(Events(**{k: info[k] for k in Events._fields}), slates, exploratory=exploratory)
            if ours and learn:
                agent.update(Transition(obs, slates, reward, next_obs, info, exploratory))
            obs = next_obs
    finally:
        env.close()
    return log
