"""Every registered agent: shapes, distinct slates, seeded determinism, predict, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from agents import available_agents, make_agent, run_agent
from agents.errors import ConfigError, ObservationError
from agents.observations import all_per_row, any_per_row, in_window, last_distinct, pad_history
from agents.registry import LOGS, agent_needs
from envs.logs import organic_logs
from tests.agents.conftest import obs_batch

# Every agent a test can build on its own or with logs (a table or a PPO model have their own tests).
SIMPLE = [n for n in available_agents() if agent_needs(n) <= {LOGS}]


@pytest.mark.parametrize("name", SIMPLE)
def test_agent_serves_distinct_valid_slates_deterministically(tiny, name):
    runs = []
    kwargs = {"logs": organic_logs(tiny, 200, 30, seed=0)} if LOGS in agent_needs(name) else {}
    for _ in range(2):
        agent = make_agent(name, tiny, seed=3, **kwargs)
        log = run_agent(agent, tiny, n_users=16, n_steps=6, seed=1)
        slates = np.stack(log.slates)
        assert slates.shape == (6, 16, tiny.config.slate_size)
        srt = np.sort(slates, axis=2)
        assert not (srt[:, :, 1:] == srt[:, :, :-1]).any()
        assert len(log.extras["exploratory"]) == 6
        runs.append(slates)
    np.testing.assert_array_equal(runs[0], runs[1])


def test_predict_single_and_batched(tiny):
    agent = make_agent("hierarchical-random", tiny, seed=0)
    _, obs = obs_batch(tiny, 4)
    batched, state = agent.predict(obs)
    assert state is None and batched.shape == (4, tiny.config.slate_size)
    single, _ = agent.predict({k: v[0] for k, v in obs.items()})
    assert single.shape == (tiny.config.slate_size,)


def test_wrong_observation_shapes_name_the_problem(tiny):
    agent = make_agent("exploit", tiny)
    _, obs = obs_batch(tiny, 4)
    with pytest.raises(ObservationError, match=r"obs\['items'\] has shape"):
        agent.act({**obs, "items": obs["items"][:, :2]})
    with pytest.raises(ObservationError, match="lacks the keys"):
        agent.act({"items": obs["items"]})
    with pytest.raises(ObservationError, match=r"obs\['clusters'\]"):
        agent.act({**obs, "clusters": obs["clusters"][:2]})
    with pytest.raises(ObservationError, match="outside"):
        agent.act({**obs, "clusters": obs["clusters"] + 50})
    with pytest.raises(ObservationError, match="must be a dict"):
        agent.act(obs["items"])


def test_unknown_names_and_bad_knobs(tiny):
    with pytest.raises(ConfigError, match="unknown agent"):
        make_agent("hierarchical-telepathy", tiny)
    with pytest.raises(ConfigError, match="explore_slots"):
        make_agent("hierarchical-random", tiny, explore_slots=99)
    with pytest.raises(ConfigError, match="needs table"):
        make_agent("hierarchical-llm", tiny)
    with pytest.raises(ConfigError, match="logs"):
        make_agent("hierarchical-markov", tiny)
    with pytest.raises(ConfigError, match="unknown arguments"):
        make_agent("hierarchical-random", tiny, colour="blue")


def test_last_distinct_drops_repeats_and_pads():
    window = np.array([[3, 3, 5, 5, 5, 7], [-1, -1, -1, -1, 2, 2], [-1] * 6])
    np.testing.assert_array_equal(last_distinct(window, 2), [[5, 7], [-1, 2], [-1, -1]])
    padded, known = pad_history(last_distinct(window, 2))
    np.testing.assert_array_equal(padded[:2], [[5, 7], [2, 2]])
    np.testing.assert_array_equal(known, [True, True, False])
    assert in_window(np.array([7, 9, 1]), window).tolist() == [True, False, False]
    gaps = np.array([[-1, 4, -1, 6], [-1, -1, -1, -1], [1, -1, -1, 2]])  # unknown slots take the oldest known
    padded, known = pad_history(gaps)
    np.testing.assert_array_equal(padded, [[4, 4, 4, 6], [-1, -1, -1, -1], [1, 1, 1, 2]])
    np.testing.assert_array_equal(known, [True, False, True])


@pytest.mark.parametrize("columns", [0, 1, 2, 10])
def test_row_reductions_equal_numpys(columns):
    mask = np.random.default_rng(columns).random((300, columns)) < 0.2
    np.testing.assert_array_equal(any_per_row(mask), mask.any(axis=1))
    np.testing.assert_array_equal(all_per_row(~mask), (~mask).all(axis=1))


@pytest.mark.parametrize("name", ["exploit", "hierarchical-random"])
def test_exploit_learns_from_its_own_logs_only_when_retraining_is_on(tiny, name):
    weights = {}
    for retrain in (True, False):
        agent = make_agent(name, tiny, seed=0, exploit={"retrain": retrain})
        exploit = agent if name == "exploit" else agent.exploit
        before = exploit.item_weights.copy()
        run_agent(agent, tiny, n_users=32, n_steps=25, seed=0)
        assert exploit.stats.item_shown.sum() > 0  # it records either way
        weights[retrain] = (before, exploit.item_weights)
    assert not np.array_equal(*weights[True])
    np.testing.assert_array_equal(*weights[False])


def test_exploit_settings_are_checked(tiny):
    with pytest.raises(ConfigError, match=r"unknown config key 'exploit\.retrian'"):
        make_agent("exploit", tiny, exploit={"retrian": False})
    with pytest.raises(ConfigError, match="retrain='no' must be true or false"):
        make_agent("hierarchical-random", tiny, exploit={"retrain": "no"})
    with pytest.raises(ConfigError, match="takes no exploit= settings"):
        make_agent("popularity", tiny, exploit={"retrain": False})
