"""A new user dynamics from this module alone: one Dynamics subclass and one registry entry,
run through the registered-env path under gymnasium's and stable-baselines3's checkers, the
vector env and the agents (issue 11). Also the registry's errors."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import gymnasium as gym
import numpy as np
import pytest

import envs
from envs.choice import mnl_probabilities, sample_choice
from envs.corpus import build_corpus
from envs.dynamics import Dynamics, dynamics_names, get_dynamics, register_dynamics
from envs.errors import ConfigError
from envs.metrics import summarize
from envs.session import empty_session, engagement_events
from envs.state import Response, SessionState
from envs.taxonomy import Taxonomy


@dataclass(frozen=True)
class FixedParams:
    """The toy's own typed config section (``WorldConfig.dynamics_params``)."""

    temperature: float = 1.0
    """Temperature of the click model."""


@dataclass(frozen=True)
class FixedState:
    preference: np.ndarray  # (B, D) float32, never changes
    session: SessionState


class FixedPreference(Dynamics):
    """Users with a fixed preference vector: utility = preference · item embedding, a
    multinomial-logit click, the session budget spent by watching (1 minute per skipped slate)."""

    name = "test-fixed-preference"
    params_type = FixedParams

    def build_catalogue(self, config, params, rng):  # type: ignore[no-untyped-def]
        taxonomy = Taxonomy.load(config.taxonomy)
        corpus = build_corpus(taxonomy, config.n_items, config.embedding_dim, rng, config.item_noise,
                              config.quality_std)
        return taxonomy, corpus

    def init_state(self, world, user_id, rng):  # type: ignore[no-untyped-def]
        cfg = world.config
        preference = rng.normal(size=(len(user_id), cfg.embedding_dim)).astype(np.float32)
        return FixedState(preference, empty_session(user_id, cfg.history_length, world.level.n_clusters,
                                                    cfg.session_budget))

    def respond(self, world, state, slate, rng):  # type: ignore[no-untyped-def]
        rows = np.arange(len(slate))
        util = np.einsum("bsd,bd->bs", world.corpus.embeddings[slate], state.preference)
        choice = sample_choice(mnl_probabilities(util, 0.0, world.params.temperature), rng.random(len(slate)))
        clicked = choice >= 0
        item = np.where(clicked, slate[rows, np.maximum(choice, 0)], -1)
        length = world.corpus.length[np.maximum(item, 0)]
        completion = np.where(clicked, rng.random(len(slate)), 0.0).astype(np.float32)
        return Response(
            choice=choice, item=item, watch_time=(completion * length).astype(np.float32), completion=completion,
            liked=np.zeros(len(slate), dtype=bool),
            utility=np.where(clicked, util[rows, np.maximum(choice, 0)], 0.0).astype(np.float32),
            interest=np.full(len(slate), -1), closeness=np.zeros(len(slate), dtype=np.float32),
        )

    def transition(self, world, state, slate, response, rng):  # type: ignore[no-untyped-def]
        events, s = engagement_events(state.session, response, world.level.item_cluster, response.completion >= 0.5)
        budget = s.budget - np.where(events.clicked, response.watch_time, 1.0).astype(np.float32)
        over = events.active & (budget <= 0)
        s = dataclasses.replace(s, budget=budget, done=s.done | over, terminated=s.terminated | over)
        return FixedState(state.preference, s), events._replace(session_end=over)

    def interest_entropy(self, world, state):  # type: ignore[no-untyped-def]
        return np.zeros(len(state.preference))


DYNAMICS = register_dynamics(FixedPreference())
ENV_ID = "test/FixedPreference-v0"
CONFIG = envs.WorldConfig(dynamics=DYNAMICS.name, n_items=300, session_budget=30.0, horizon_days=3,
                          dynamics_params={"temperature": 0.5})
if ENV_ID not in gym.registry:
    gym.register(id=ENV_ID, entry_point="envs.env:InterestExplorationEnv",
                 vector_entry_point="envs.env:InterestExplorationVectorEnv", kwargs={"preset": CONFIG})


def test_a_new_dynamics_passes_gymnasium_and_sb3_checkers() -> None:
    from gymnasium.utils.env_checker import check_env

    env = gym.make(ENV_ID)
    check_env(env.unwrapped, skip_render_check=True)
    sb3 = pytest.importorskip("stable_baselines3.common.env_checker")
    sb3.check_env(env.unwrapped, warn=True)
    env.close()


def test_a_new_dynamics_runs_vectorized_and_serves_agents() -> None:
    """The vector env from the registered id, the numpy path (no compiled twin), and an agent
    run through it with its metrics: the toy's users click, watch and end sessions."""
    from agents import make_agent, run_agent

    vec = gym.make_vec(ENV_ID, num_envs=64, vectorization_mode="vector_entry_point")
    obs, _ = vec.reset(seed=0)
    world = vec.unwrapped.world
    assert world.dynamics is DYNAMICS and world.kernels is None and world.backend == "numpy"
    clicked = 0.0
    for _ in range(10):
        obs, _, _, _, info = vec.step(vec.action_space.sample())
        clicked += info["clicked"].mean()
        assert vec.single_observation_space.contains({k: v[0] for k, v in obs.items()})
    vec.close()
    assert clicked > 0
    log = run_agent(make_agent("hierarchical-random", world, seed=0), world, 50, 20, seed=0)
    summary = summarize(log, world.level.n_clusters, world.corpus.n_items, seed=0)
    assert summary["watch_time_per_user"] > 0 and summary["novel_clusters_per_user"] > 0
    with pytest.raises(ConfigError, match="no latent interests"):
        world.oracle_latent_clusters(world.init_state(np.arange(3), np.random.default_rng(0)))


def test_the_registry_names_what_is_wrong() -> None:
    assert {"interest", "recsim", DYNAMICS.name} <= set(dynamics_names())
    assert get_dynamics("interest").kernels == "envs.kernels.interest"
    register_dynamics(DYNAMICS)  # the same object again: fine
    with pytest.raises(ConfigError, match="already registered"):
        register_dynamics(FixedPreference())
    with pytest.raises(ConfigError, match=r"'no-such' is unknown.*register_dynamics"):
        envs.WorldConfig(dynamics="no-such")
    with pytest.raises(ConfigError, match="not registered"):
        get_dynamics("no-such")

    class Misnamed(FixedPreference):
        name = "test-misnamed-kernels"
        kernels = "envs.kernels.no_such_module"

    register_dynamics(Misnamed())
    config = CONFIG.replace(dynamics=Misnamed.name)
    with pytest.raises(ConfigError, match=r"no_such_module.*does not exist"):
        envs.World(config, backend="numba")
    assert envs.World(config, backend="numpy").kernels is None  # the numpy path never looks


def test_a_new_dynamics_has_its_own_typed_section() -> None:
    """Its parameters come from WorldConfig.dynamics_params, checked field by field like every
    config; the built-in dynamics take none."""
    world = envs.World(CONFIG, backend="numpy")
    assert world.params == FixedParams(temperature=0.5)
    assert envs.World(CONFIG.replace(dynamics_params={}), backend="numpy").params == FixedParams()
    with pytest.raises(ConfigError, match=r"dynamics_params\.temperature"):
        CONFIG.replace(dynamics_params={"temperature": "hot"})
    with pytest.raises(ConfigError, match=r"unknown config key 'WorldConfig\.dynamics_params\.heat'"):
        CONFIG.replace(dynamics_params={"heat": 1.0})
    with pytest.raises(ConfigError, match="'interest' takes no dynamics_params"):
        envs.WorldConfig(dynamics_params={"temperature": 0.5})
