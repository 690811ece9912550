"""Every registered env: gymnasium's and SB3's checkers, same-seed determinism, and the single
env equal to a vector env of one user (STYLE.md #6)."""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

import envs
from tests.envs.conftest import exploit_slates
from tests.helpers import assert_same

IDS = sorted(envs.ENV_IDS)


def _rollout(env: gym.Env, seed: int, steps: int) -> list:
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    out = [obs]
    n = env.action_space.nvec[0]
    for _ in range(steps):
        slate = rng.choice(n, size=len(env.action_space.nvec), replace=False)
        obs, reward, terminated, truncated, info = env.step(slate)
        out.append((obs, reward, terminated, truncated, info))
        if terminated or truncated:
            obs, _ = env.reset()
            out.append(obs)
    return out


@pytest.mark.parametrize("env_id", IDS)
def test_gymnasium_env_checker(env_id: str) -> None:
    gym_check_env(gym.make(env_id).unwrapped, skip_render_check=True)


@pytest.mark.parametrize("env_id", IDS)
def test_sb3_env_checker(env_id: str) -> None:
    sb3_check_env(gym.make(env_id).unwrapped, warn=False)


@pytest.mark.parametrize("env_id", IDS)
def test_same_seed_same_rollout(env_id: str) -> None:
    assert_same(_rollout(gym.make(env_id), 3, 60), _rollout(gym.make(env_id), 3, 60))


@pytest.mark.parametrize("env_id", IDS)
def test_different_seed_different_rollout(env_id: str) -> None:
    a, b = _rollout(gym.make(env_id), 1, 5), _rollout(gym.make(env_id), 2, 5)
    with pytest.raises(AssertionError):
        assert_same(a, b)


@pytest.mark.parametrize("env_id", IDS)
def test_single_env_equals_vector_env_of_one(env_id: str) -> None:
    single = gym.make(env_id).unwrapped
    vec = gym.make_vec(env_id, num_envs=1, vectorization_mode="vector_entry_point")
    obs_s, _ = single.reset(seed=7)
    obs_v, _ = vec.reset(seed=7)
    rng = np.random.default_rng(0)
    n = single.action_space.nvec[0]
    for _ in range(40):
        assert_same(obs_s, {k: v[0] for k, v in obs_v.items()})
        slate = rng.choice(n, size=len(single.action_space.nvec), replace=False)
        obs_s, r_s, te_s, tr_s, info_s = single.step(slate)
        obs_v, r_v, te_v, tr_v, info_v = vec.step(slate[None])
        assert r_s == r_v[0] and te_s == te_v[0] and tr_s == tr_v[0]
        for k in envs.Events._fields:
            np.testing.assert_array_equal(info_s[k], info_v[k][0])
        if te_s or tr_s:
            break


def test_vector_env_results_do_not_depend_on_threads(default_world: envs.World) -> None:
    """Each thread steps its own chunk of users, so 1, 2 or 3 threads give identical rollouts."""
    n = 9000  # enough users for 3 chunks (envs.kernels.chunks.MIN_CHUNK)
    runs = []
    for threads in (1, 2, 3):
        env = envs.InterestExplorationVectorEnv(n, world=default_world, num_threads=threads)
        obs, _ = env.reset(seed=5)
        rng = np.random.default_rng(0)
        rewards, ended = [], 0
        for _ in range(25):
            slate = rng.integers(0, default_world.corpus.n_items - 10, size=(n, 1)) + np.arange(10)
            obs, r, terminated, truncated, _ = env.step(slate)
            rewards.append(r)
            ended += int((terminated | truncated).sum())
        assert ended > 0  # new users replaced ended ones too
        runs.append((obs, rewards))
        env.close()
    assert_same(runs[0], runs[1])
    assert_same(runs[0], runs[2])


def test_vector_env_autoresets_same_step(tiny_world: envs.World) -> None:
    env = envs.InterestExplorationVectorEnv(4, world=tiny_world)
    obs, _ = env.reset(seed=0)
    slate = np.tile(np.arange(3), (4, 1))
    seen_end = False
    for _ in range(200):
        obs, _, terminated, truncated, info = env.step(slate)
        ended = terminated | truncated
        if ended.any():
            seen_end = True
            assert info["_final_obs"].tolist() == ended.tolist()
            # The returned observation already belongs to a fresh user in the ended slots.
            assert (obs["session"][ended, 1] == 0).all()
            break
    assert seen_end


@pytest.mark.parametrize("preset", ["tiny", "recsim-interest-evolution"])
def test_worlds_and_envs_pickle(preset: str) -> None:
    """Worker processes receive worlds and envs by pickle; an unpickled world steps the same."""
    world = envs.make_world(preset)
    copy = pickle.loads(pickle.dumps(world))
    rollouts = []
    for w in (world, copy):
        env = pickle.loads(pickle.dumps(envs.InterestExplorationVectorEnv(20, world=w)))
        env.reset(seed=3)
        env.action_space.seed(3)
        rollouts.append([env.step(env.action_space.sample())[:2] for _ in range(5)])
    assert_same(rollouts[0], rollouts[1])


def test_final_obs_holds_the_ended_users_last_observations(small_world: envs.World) -> None:
    env = envs.InterestExplorationVectorEnv(64, world=small_world)
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(400):
        previous = {k: v.copy() for k, v in obs.items()}
        obs, _, terminated, truncated, info = env.step(exploit_slates(small_world, obs, rng))
        ended = terminated | truncated
        if not ended.any():
            assert "final_obs" not in info
            continue
        final = info["final_obs"]
        assert sorted(final) == sorted(obs)
        for key in obs:  # slots that did not end repeat their current observation
            assert_same(final[key][~ended], obs[key][~ended])
        # An ended user's last history is the previous one, or it shifted by one click.
        same = (final["items"][ended] == previous["items"][ended]).all(axis=1)
        shifted = (final["items"][ended, :-1] == previous["items"][ended, 1:]).all(axis=1)
        assert (same | shifted).all()
        assert (obs["session"][ended, 2] == 0).all()  # new users in those slots
        checked += int(ended.sum())
        if checked >= 20:
            break
    assert checked >= 20


def test_an_old_version_names_the_current_one() -> None:
    """Ids change with their trajectories (gymnasium's convention); an old id says which is current."""
    with pytest.raises(gym.error.DeprecatedEnv, match="InterestExploration-v3"):
        gym.make("noveltygym/InterestExploration-v0")
