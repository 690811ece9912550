"""``World.rollout_random``: the compiled RecSim rollout with random slates drawn in the kernel
(envs.kernels.recsim.rollout). Deterministic for a seed whatever the threads, and the same
users in distribution as the vector env served uniformly random slates (its own draws, so
per-slot statistics are compared, not draws)."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from envs.errors import ConfigError
from envs.kernels.chunks import MIN_CHUNK, get_threads, set_threads

N_USERS = 2 * MIN_CHUNK + 300  # two chunks on two threads, and a partial last block
HORIZON = 60

WORLDS = {
    "benchmark story": {"n_items": 100, "slate_size": 2, "history_length": 15},
    # ~5 users per slot
    "short budgets, long slates": {"n_items": 40, "slate_size": 10, "dynamics_params": {"budget": 30.0}},
}


def _world(backend: str = "numba", **overrides: object) -> envs.World:
    # The rollout is compiled code: its worlds are numba worlds even where the tests run on the
    # numpy reference (NOVELTYGYM_BACKEND=numpy, as CI does for tests/envs).
    return envs.make_world("recsim-interest-evolution", backend=backend, **overrides)


def test_same_seed_same_rollout_whatever_the_threads() -> None:
    world = _world(**WORLDS["short budgets, long slates"])
    first = world.rollout_random(N_USERS, 20, seed=3)
    threads = get_threads()
    set_threads(1)
    try:
        serial = world.rollout_random(N_USERS, 20, seed=3)
    finally:
        set_threads(threads)
    for a, b in zip(first, serial, strict=True):
        np.testing.assert_array_equal(a, b)
    other = world.rollout_random(N_USERS, 20, seed=4)
    assert not np.array_equal(first.clicks, other.clicks)
    assert (first.user_steps == 20).all()  # an ended user's slot is served a new user at once
    assert first.episodes_ended.sum() > 0


def _vector_env_totals(world: envs.World, n_users: int, horizon: int) -> dict[str, np.ndarray]:
    """Per-slot totals of the vector env served uniformly random slates of distinct items."""
    env = envs.InterestExplorationVectorEnv(n_users, world=world)
    env.reset(seed=11)
    rng = np.random.default_rng(12)
    clicks, watch, ended = np.zeros(n_users), np.zeros(n_users), np.zeros(n_users)
    for _ in range(horizon):
        slate = np.argsort(rng.random((n_users, world.corpus.n_items)), axis=1)[:, : world.config.slate_size]
        _, _, terminated, _, info = env.step(slate)
        clicks += info["clicked"]
        watch += info["watch_time"]
        ended += terminated
    env.close()
    return {"clicks": clicks, "watch_time": watch, "episodes_ended": ended}


@pytest.mark.parametrize("name", list(WORLDS))
def test_rollout_agrees_with_the_vector_env_in_distribution(name: str) -> None:
    world = _world(**WORLDS[name])
    stats = world.rollout_random(N_USERS, HORIZON, seed=5)
    assert (stats.user_steps == HORIZON).all()
    reference = _vector_env_totals(world, N_USERS, HORIZON)
    for field in ("clicks", "watch_time", "episodes_ended"):
        ours = getattr(stats, field) / HORIZON  # per user-step, one value per slot (independent slots)
        theirs = reference[field] / HORIZON
        se = np.sqrt(ours.var(ddof=1) / len(ours) + theirs.var(ddof=1) / len(theirs))
        z = (ours.mean() - theirs.mean()) / se
        assert abs(z) < 4.5, f"{name}: {field} per user-step {ours.mean():.4f} vs {theirs.mean():.4f}, z={z:.1f}"
    if name == "short budgets, long slates":
        assert stats.episodes_ended.mean() > 3  # the renewal path ran many times


def test_rollout_needs_compiled_recsim_dynamics() -> None:
    with pytest.raises(ConfigError, match="recsim-interest-evolution"):
        envs.make_world("tiny").rollout_random(10, 5)
    with pytest.raises(ConfigError, match="backend='numba'"):
        _world(backend="numpy").rollout_random(10, 5)
    with pytest.raises(ConfigError, match="horizon=0"):
        _world().rollout_random(10, 0)
