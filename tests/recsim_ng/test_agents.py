"""noveltygym's agents run on RecSim NG through the adapter, unchanged, and metrics come out."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from envs.metrics import EventLog, per_step_means, summarize
from envs.state import Events

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

agents = pytest.importorskip("agents", reason="the agents package is not importable")


def _serve(agent: Any, env: Any, n_steps: int, seed: int) -> EventLog:
    """The loop of ``agents.evaluate.run_agent``, on the adapter (run_agent builds its own env)."""
    from agents.types import Transition

    obs, _ = env.reset(seed=seed)
    agent.reset(seed=seed)
    agent.bind(env)
    log = EventLog()
    for _ in range(n_steps):
        action = agent.act_explained(obs)
        next_obs, reward, _, _, info = env.step(action.slates)
        log.append(Events.from_info(info), action.slates, exploratory=action.exploratory)
        agent.update(Transition(obs, action.slates, reward, next_obs, info, action.exploratory))
        obs = next_obs
    return log


@pytest.mark.parametrize("name", ["hierarchical-ucb", "hierarchical-random", "exploit", "random"])
def test_agent_runs_through_the_adapter_and_metrics_come_out(name: str, vector_env: Callable[..., Any]) -> None:
    from envs.metrics import exploration_split

    env = vector_env(32, horizon=4, num_topics=6, num_docs=60, slate_size=3)
    agent = agents.make_agent(name, env.world, seed=0)
    log = _serve(agent, env, n_steps=6, seed=0)  # crosses one autoreset
    world = env.world
    metrics = summarize(log, world.level.n_clusters, world.corpus.n_items)
    assert all(np.isfinite(v) for v in metrics.values())
    assert metrics["click_rate"] > 0 and metrics["novel_clusters_per_user"] > 0
    assert 0 < metrics["coverage"] <= 1
    assert per_step_means(log)["active_users"].tolist() == [32.0] * 6
    split = exploration_split(log)
    if name.startswith("hierarchical-"):
        assert split["explore_share"] == pytest.approx(1 / 3)  # one slot of three explores
    assert all(np.isfinite(v) for v in split.values())


def test_hierarchical_agent_is_deterministic_on_the_adapter(vector_env: Callable[..., Any]) -> None:
    runs = []
    for _ in range(2):
        env = vector_env(16, horizon=5, num_topics=6, num_docs=60, slate_size=3)
        log = _serve(agents.make_agent("hierarchical-ucb", env.world, seed=3), env, n_steps=5, seed=3)
        runs.append((np.stack(log.slates), log.stacked()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    for a, b in zip(runs[0][1], runs[1][1], strict=True):
        np.testing.assert_array_equal(a, b)


def test_oracle_is_refused_with_a_reason(vector_env: Callable[..., Any]) -> None:
    from envs.errors import ConfigError

    env = vector_env(4, num_topics=6, num_docs=60, slate_size=3)
    agent = agents.make_agent("hierarchical-oracle", env.world, seed=0)
    obs, _ = env.reset(seed=0)
    agent.reset(seed=0)
    agent.bind(env)
    with pytest.raises(ConfigError, match="not available on a RecSim NG world"):
        agent.act(obs)


def test_experiment_config_builds_its_env_and_agents() -> None:
    """The experiment config's [recsim_ng] section is the adapter's arguments, and every agent it
    lists can be built on that world (markov after counting logs collected through the adapter)."""
    from envs.logs import organic_slates
    from envs.recsim_ng import RecSimNGVectorEnv

    configs = Path(__file__).resolve().parents[2] / "experiments" / "configs"
    path = next(p for p in (configs / "recsim_ng.toml", configs / "recsim_ng.toml.draft") if p.exists())
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    section = dict(raw["recsim_ng"])
    assert section.pop("story") == "interest_evolution"
    section["horizon"] = 3  # the config's sizes, a short episode
    env = RecSimNGVectorEnv(8, graph_compile=False, **section)
    assert env.world.level.n_clusters == section["num_topics"]
    obs, _ = env.reset(seed=0)
    rng = np.random.default_rng(0)
    logs = EventLog()
    for _ in range(3):
        slates = organic_slates(env.world, obs, rng, explore=raw["logs"]["explore"])
        obs, _, _, _, info = env.step(slates)
        logs.append(Events(**{k: info[k] for k in Events._fields}), slates)
    for spec in raw["agents"]:
        kwargs = dict(raw["agent"]) if spec["name"].startswith("hierarchical-") else {}
        if spec["name"] == "hierarchical-markov":
            kwargs["logs"] = logs.to_frame()
        agent = agents.make_agent(spec["name"], env.world, seed=0, **kwargs)
        assert _serve(agent, env, n_steps=1, seed=0).stacked().active.all()
