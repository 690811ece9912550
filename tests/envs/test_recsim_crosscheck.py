"""The RecSim preset beside RecSim's own interest_evolution env (recsim-no-tf) under the same
uniformly random policy: per episode, length, clicks, watch time and click rate must agree
within |z| < 3 (two-sample z on the means, 3,000 episodes a side).

Skipped without RecSim (``pip install -e '.[recsim]'``). As a script it prints the figures:
``python tests/envs/test_recsim_crosscheck.py [EPISODES]``.

Counted alike on both sides, per episode: length = steps taken, the one that spends the
budget included (as RecSim's runner_lib counts ``episode_length``); clicks; watch time (the
reward of both: RecSim's ``clicked_watchtime_reward``); click rate = clicks / length.
The policies: RecSim's ``RandomAgent`` shows 2 of its 10 candidates, which RecSim samples
afresh at every step, so 2 independent fresh documents; ours shows 2 distinct items drawn
uniformly from the preset's fixed 2,000-item corpus.
"""

from __future__ import annotations

import sys
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from envs.spaces import SlateSpace  # importing envs registers the gymnasium ids

EPISODES = 3_000
SEED = 0
FIGURES = ("length", "clicks", "watch_time", "click_rate")
MAX_Z = 3.0


def _import_recsim() -> tuple[Any, Any]:
    """RecSim's interest_evolution module and RandomAgent class (gym 0.26 complains on import)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from recsim.agents.random_agent import RandomAgent
        from recsim.environments import interest_evolution
    return interest_evolution, RandomAgent


def recsim_episodes(n: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """Per-episode figures of RecSim's own env (its default settings: 10 candidates resampled
    every step, slate 2) under its RandomAgent.

    Its config seed seeds the user and document samplers, ``random_seed`` the agent; the
    choice model and the interest update draw from the global ``np.random``, so that is
    seeded too, and restored afterwards."""
    interest_evolution, random_agent = _import_recsim()
    saved = np.random.get_state()  # noqa: NPY002  (RecSim reads the legacy global generator)
    np.random.seed(seed)  # noqa: NPY002
    try:
        env = interest_evolution.create_environment(
            {"num_candidates": 10, "slate_size": 2, "resample_documents": True, "seed": seed}
        )
        agent = random_agent(env.action_space, random_seed=seed)
        length, clicks, watch = np.zeros(n), np.zeros(n), np.zeros(n)
        for i in range(n):
            obs, done = env.reset(), False
            while not done:
                obs, reward, done, _ = env.step(agent.step(0.0, obs))
                length[i] += 1
                clicks[i] += sum(r["click"] for r in obs["response"])
                watch[i] += reward
    finally:
        np.random.set_state(saved)  # noqa: NPY002
    return {"length": length, "clicks": clicks, "watch_time": watch, "click_rate": clicks / length}


def noveltygym_episodes(n: int, seed: int = SEED) -> dict[str, np.ndarray]:
    """Per-episode figures of ``noveltygym/RecSimInterestEvolution-v1``: n users of the vector
    env, each slot's first episode, slates of 2 distinct items drawn uniformly."""
    env = gym.make_vec("noveltygym/RecSimInterestEvolution-v1", num_envs=n, vectorization_mode="vector_entry_point")
    assert isinstance(env.single_action_space, SlateSpace)
    n_items = env.single_action_space.n_items
    rng = np.random.default_rng(seed)
    env.reset(seed=seed)
    running = np.ones(n, dtype=bool)  # still in its first episode (later ones are not counted)
    length, clicks, watch = np.zeros(n), np.zeros(n), np.zeros(n)
    while running.any():
        first = rng.integers(0, n_items, size=n)
        second = rng.integers(0, n_items - 1, size=n)
        second += second >= first  # distinct, uniform over the other items
        _, reward, terminated, truncated, info = env.step(np.stack([first, second], axis=1))
        length += running
        clicks += running & info["clicked"]
        watch += np.where(running, reward, 0.0)
        running &= ~(terminated | truncated)
    env.close()
    return {"length": length, "clicks": clicks, "watch_time": watch, "click_rate": clicks / length}


def two_sample_z(a: np.ndarray, b: np.ndarray) -> float:
    """(mean a - mean b) / its standard error, samples independent."""
    se = np.sqrt(a.var(ddof=1) / len(a) + b.var(ddof=1) / len(b))
    return float((a.mean() - b.mean()) / se)


def compare(n: int = EPISODES, seed: int = SEED) -> dict[str, dict[str, float]]:
    """{figure: {noveltygym, recsim (means), z}} over n episodes a side."""
    ours, theirs = noveltygym_episodes(n, seed), recsim_episodes(n, seed)
    return {
        f: {"noveltygym": ours[f].mean(), "recsim": theirs[f].mean(), "z": two_sample_z(ours[f], theirs[f])}
        for f in FIGURES
    }


@pytest.fixture(scope="module")
def figures() -> dict[str, dict[str, float]]:
    pytest.importorskip(
        "recsim.environments.interest_evolution",
        reason="RecSim is not installed; pip install -e '.[recsim]' to cross-check the RecSim preset",
    )
    return compare()


@pytest.mark.parametrize("figure", FIGURES)
def test_preset_matches_recsim(figures: dict[str, dict[str, float]], figure: str) -> None:
    f = figures[figure]
    assert abs(f["z"]) < MAX_Z, (
        f"{figure} per episode: noveltygym {f['noveltygym']:.4f}, RecSim {f['recsim']:.4f}, z = {f['z']:+.2f} "
        f"over {EPISODES} episodes a side"
    )


def main(argv: list[str]) -> None:
    n = int(argv[0]) if argv else EPISODES
    print(f"per episode, {n} episodes a side, uniformly random slates of 2 distinct items")
    print(f"{'figure':<11} {'noveltygym':>11} {'RecSim':>11} {'diff':>8} {'z':>6}")
    for name, f in compare(n).items():
        diff = f["noveltygym"] / f["recsim"] - 1
        print(f"{name:<11} {f['noveltygym']:>11.4f} {f['recsim']:>11.4f} {diff:>+8.2%} {f['z']:>+6.2f}")


if __name__ == "__main__":
    main(sys.argv[1:])
