"""The SB3 item policy: env checkers on its task, seeded determinism, beating random items,
and its save/load round trip."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from agents import make_agent, run_agent
from agents.errors import ModelFileError
from agents.items.sb3 import SB3Items, train_item_policy
from agents.items.task import ClusterItemEnv, ClusterItemVecEnv
from envs.metrics import exploration_split
from tests.agents.conftest import obs_batch

STEPS = 4096


@pytest.fixture(scope="module")
def trained(tiny):
    return train_item_policy(tiny, total_timesteps=STEPS, seed=0)


def test_gymnasium_and_sb3_env_checkers_pass(tiny):
    from gymnasium.utils.env_checker import check_env as gym_check
    from stable_baselines3.common.env_checker import check_env as sb3_check

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gym_check(ClusterItemEnv(tiny))
        sb3_check(ClusterItemEnv(tiny), warn=False)


def test_vec_env_restarts_users_and_reports_terminal_observations(tiny):
    env = ClusterItemVecEnv(tiny, n_envs=4)
    env.seed(0)
    obs = env.reset()
    assert obs.shape == (4, env.observation_space.shape[0])
    done_seen = False
    for _ in range(200):
        obs, reward, done, infos = env.step(np.zeros((4, env.action_space.shape[0]), dtype=np.float32))
        assert reward.shape == (4,) and (reward >= 0).all()
        for i in np.flatnonzero(done):
            assert infos[i]["terminal_observation"].shape == obs.shape[1:]
            done_seen = True
    assert done_seen


def test_training_twice_with_one_seed_gives_identical_actions(tiny, trained):
    again = train_item_policy(tiny, total_timesteps=STEPS, seed=0)
    _, obs = obs_batch(tiny, 20)
    clusters = np.full(20, 1)
    rng = np.random.default_rng
    np.testing.assert_array_equal(trained.select(obs, clusters, 2, rng(0)), again.select(obs, clusters, 2, rng(0)))
    feats = np.random.default_rng(1).normal(size=(32, trained.model.observation_space.shape[0])).astype(np.float32)
    np.testing.assert_array_equal(
        trained.model.predict(feats, deterministic=True)[0], again.model.predict(feats, deterministic=True)[0]
    )


def test_sb3_item_policy_beats_random_items_inside_the_cluster(tiny, trained):
    def explore_watch(item):
        log = run_agent(make_agent("hierarchical-oracle", tiny, seed=0, item_policy=item), tiny, 300, 30, seed=0)
        return exploration_split(log)["explore_watch_per_slot"]

    # The tiny world's items differ mostly in length: the policy learns to pick long ones.
    assert explore_watch(trained) > 1.3 * explore_watch("random")


def test_sb3_item_policy_save_load_round_trip(tiny, trained, tmp_path):
    path = trained.save(tmp_path / "items.zip")
    loaded = SB3Items.from_path(tiny, path)
    _, obs = obs_batch(tiny, 10)
    c = np.full(10, 1)
    rng = np.random.default_rng
    np.testing.assert_array_equal(trained.select(obs, c, 1, rng(0)), loaded.select(obs, c, 1, rng(0)))
    agent = make_agent("hierarchical-oracle-ppo", tiny, item_model=path)
    assert isinstance(agent.item_policy, SB3Items)


def test_missing_sb3_model_file_is_a_clear_error(tiny, tmp_path):
    with pytest.raises(ModelFileError, match="no SB3 item policy at"):
        make_agent("hierarchical-oracle-ppo", tiny, item_model=tmp_path / "nope.zip")


def test_sb3_model_for_another_world_is_refused(tiny, default_world, trained, tmp_path):
    path = trained.save(tmp_path / "tiny.zip")
    with pytest.raises(ModelFileError, match="train it in this world"):
        SB3Items.from_path(default_world, path)


def test_the_task_serves_under_the_agents_rules(tiny, monkeypatch):
    """The task composes slates with the serving agent's composer and rules: with request_share
    1/2 about half the requests show the policy's items, with 1 all of them; the reward counts
    only clicks on them. A task that never explores is refused."""
    from agents.items import task as task_module
    from envs.errors import ConfigError

    shown: list[np.ndarray] = []

    def spy(*args, **kwargs):
        slates, fixed = compose(*args, **kwargs)
        shown.append(fixed.any(axis=1))
        return slates, fixed

    compose = task_module.compose_slates
    monkeypatch.setattr(task_module, "compose_slates", spy)
    for share in (1.0, 0.5):
        shown.clear()
        task = task_module.ItemTask(tiny, 2000, request_share=share)
        task.reset(seed=3)
        proto = np.zeros((2000, tiny.corpus.embeddings.shape[1] + 2), dtype=np.float32)
        rewards = [task.step(proto)[1] for _ in range(10)]
        task.close()
        share_shown = float(np.mean(shown))
        assert abs(share_shown - share) < 0.02, (share, share_shown)
        assert all((r[~s] == 0).all() for r, s in zip(rewards, shown, strict=True))  # no policy item, no reward
    with pytest.raises(ConfigError, match="request_share"):
        task_module.ItemTask(tiny, 4, request_share=0.0)
