"""Logged interactions without a trained recommender: "organic" browsing.

Real logs come from a system that mostly shows more of what users engaged with and
sometimes something else. ``organic_slates`` imitates that: part of each slate comes from
the clusters of the user's recent engagements, the rest is random across the corpus, so
users now and then stumble on a latent interest and the logs hold the transitions between
interests that the language layer learns from (Wang et al. 2024, section 3).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from envs.clusters import uniform_member
from envs.env import InterestExplorationVectorEnv
from envs.errors import ConfigError
from envs.metrics import EventLog
from envs.spaces import duplicate_mask
from envs.state import Events

if TYPE_CHECKING:
    from envs.world import World


def distinct_fill(slate: np.ndarray, n_items: int, rng: np.random.Generator) -> np.ndarray:
    """Replace repeated ids within each row by random items (slates hold distinct items): every
    repeat but the first occurrence (``envs.spaces.duplicate_mask``), redrawn until none is left."""
    slate = slate.copy()
    for _ in range(64):
        dup = duplicate_mask(slate)
        if not dup.any():
            return slate
        slate[dup] = rng.integers(0, n_items, size=int(dup.sum()))
    raise ConfigError("could not fill slates with distinct items; the corpus is too small for the slate size")


def items_from_clusters(world: World, clusters: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random item of each cluster (any shape) at the world's level."""
    order, offsets = world.level.members
    c = np.asarray(clusters, dtype=np.int64)
    return uniform_member(order, offsets, c, rng.random(c.shape))


def organic_slates(
    world: World, obs: dict[str, np.ndarray], rng: np.random.Generator, explore: float = 0.5
) -> np.ndarray:
    """(B, S) slates: a share ``explore`` of random items, the rest from recent clusters."""
    clusters = obs["clusters"]  # (B, H)
    b, s = clusters.shape[0], world.config.slate_size
    n_random = round(explore * s)
    # Users with an empty history get random items only.
    pick = rng.integers(0, clusters.shape[1], size=(b, s - n_random))
    recent = np.take_along_axis(clusters, pick, axis=1)
    recent = np.where(recent >= 0, recent, rng.integers(0, world.level.n_clusters, size=recent.shape))
    slate = np.concatenate(
        [items_from_clusters(world, recent, rng), rng.integers(0, world.corpus.n_items, size=(b, n_random))], axis=1
    )
    return distinct_fill(slate, world.corpus.n_items, rng)


def organic_log(
    world: World, n_users: int, n_steps: int, seed: int = 0, explore: float = 0.5, env: Any = None
) -> EventLog:
    """Step ``n_users`` users for ``n_steps`` requests under organic browsing (in ``env``, a
    batched population of ``world``, when given; else a new vector env of ``world``)."""
    if n_users <= 0 or n_steps <= 0:
        raise ConfigError(f"n_users={n_users} and n_steps={n_steps} must be positive")
    owned = env is None
    env = InterestExplorationVectorEnv(n_users, world=world) if owned else env
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng([seed, 1])
    log = EventLog()
    for _ in range(n_steps):
        slate = organic_slates(world, obs, rng, explore)
        obs, _, _, _, info = env.step(slate)
        log.append(Events.from_info(info), slate)
    if owned:
        env.close()
    return log


def organic_logs(
    world: World, n_users: int, n_steps: int, seed: int = 0, explore: float = 0.5, env: Any = None
) -> Any:
    """Logged interactions as a DataFrame with columns user, time, item, cluster (at the
    world's level), engagement (1 = positive), plus clicked, watch_time, liked, day."""
    return organic_log(world, n_users, n_steps, seed, explore, env).to_frame()

