"""The adapter: gymnasium conformance, seeded determinism, autoreset, events and metrics that
mean what they mean in noveltygym, and errors that name the bad value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from envs.errors import ActionError, ConfigError, DataError, StateError
from envs.metrics import EventLog, summarize
from envs.state import Events
from tests.helpers import assert_same
from tests.recsim_ng.conftest import random_slates

VecFactory = Callable[..., Any]


def _rollout(env: Any, seed: int, steps: int, slate_seed: int = 0) -> list[Any]:
    obs, _ = env.reset(seed=seed)
    rng = np.random.default_rng(slate_seed)
    out: list[Any] = [obs]
    for _ in range(steps):
        slate = random_slates(rng, env.num_envs, env.world.corpus.n_items, env.world.config.slate_size)
        out.append(env.step(slate))
    return out


# --- conformance ---------------------------------------------------------------------------
def test_gymnasium_env_checker() -> None:
    from gymnasium.utils.env_checker import check_env

    from envs.recsim_ng import RecSimNGEnv

    check_env(RecSimNGEnv(horizon=5, graph_compile=False), skip_render_check=True)


def test_sb3_env_checker() -> None:
    from stable_baselines3.common.env_checker import check_env

    from envs.recsim_ng import RecSimNGEnv

    check_env(RecSimNGEnv(horizon=5, graph_compile=False), warn=False)


def test_observations_lie_in_the_spaces(vector_env: VecFactory) -> None:
    env = vector_env(6, horizon=3)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    for step in _rollout(env, 0, 5)[1:]:
        obs, reward, terminated, truncated, info = step
        assert env.observation_space.contains(obs)
        assert reward.shape == terminated.shape == truncated.shape == (6,)
        assert set(Events._fields) <= set(info)


# --- determinism -------------------------------------------------------------------------------
def test_same_seed_same_rollout(vector_env: VecFactory) -> None:
    # horizon 3 and 7 steps: the rollout crosses two autoresets.
    assert_same(_rollout(vector_env(5, horizon=3), 4, 7), _rollout(vector_env(5, horizon=3), 4, 7))


def test_different_seed_different_rollout(vector_env: VecFactory) -> None:
    with pytest.raises(AssertionError):
        assert_same(_rollout(vector_env(5), 1, 3), _rollout(vector_env(5), 2, 3))


def test_rollout_does_not_depend_on_other_envs_stepping_in_between(vector_env: VecFactory) -> None:
    """TensorFlow's random state is global; reseeding per step keeps each env's stream its own."""
    alone = _rollout(vector_env(5), 3, 3)
    a, other = vector_env(5), vector_env(7)
    obs_a, _ = a.reset(seed=3)
    other.reset(seed=99)
    rng, rng_other = np.random.default_rng(0), np.random.default_rng(1)
    mixed: list[Any] = [obs_a]
    for _ in range(3):
        mixed.append(a.step(random_slates(rng, 5, a.world.corpus.n_items, 2)))
        other.step(random_slates(rng_other, 7, other.world.corpus.n_items, 2))
    assert_same(alone, mixed)


def test_compiled_steps_equal_eager_steps(vector_env: VecFactory) -> None:
    """One seed, one rollout, whether the step is a TensorFlow graph or eager Python (and
    across separately built networks, whose variables RecSim NG may order differently)."""
    compiled = vector_env(5, horizon=3, graph_compile=True)
    assert_same(_rollout(compiled, 4, 5), _rollout(vector_env(5, horizon=3), 4, 5))
    assert compiled.sim.graph_compile  # interest evolution draws only through edward2


def test_story_with_draws_outside_edward2_steps_eagerly_and_stays_seeded() -> None:
    import tensorflow as tf
    from recsim_ng.applications.recsys_partially_observable_rl import user
    from recsim_ng.core.value import Value

    from envs.recsim_ng import RecSimNGVectorEnv, Story, interest_evolution_story

    class JitteryUser(user.InterestEvolutionUser):  # type: ignore[misc]
        def next_response(self, previous_state: Any, slate_docs: Any) -> Any:
            response = super().next_response(previous_state, slate_docs)
            jitter = tf.random.uniform(tf.shape(response.get("consumed_time")), maxval=0.01)
            return Value(choice=response.get("choice"), consumed_time=response.get("consumed_time") + jitter)

    base = interest_evolution_story()
    story = Story("jittery", base.config, JitteryUser, base.corpus_ctor, base.metrics_ctor)
    runs = []
    for _ in range(2):
        env = RecSimNGVectorEnv(4, story=story, horizon=3)
        with pytest.warns(RuntimeWarning, match="outside edward2"):
            runs.append(_rollout(env, 0, 3))
        assert not env.sim.graph_compile
    assert_same(*runs)


def test_single_env_equals_vector_env_of_one(vector_env: VecFactory) -> None:
    from envs.recsim_ng import RecSimNGEnv

    single, vec = RecSimNGEnv(horizon=4, graph_compile=False), vector_env(1, horizon=4)
    obs_s, _ = single.reset(seed=7)
    obs_v, _ = vec.reset(seed=7)
    rng = np.random.default_rng(0)
    for _ in range(4):
        assert_same(obs_s, {k: v[0] for k, v in obs_v.items()})
        slate = random_slates(rng, 1, single.world.corpus.n_items, 2)
        obs_s, r_s, te_s, tr_s, info_s = single.step(slate[0])
        obs_v, r_v, te_v, tr_v, info_v = vec.step(slate)
        assert (r_s, te_s, tr_s) == (r_v[0], te_v[0], tr_v[0])
        assert_same(info_s, {k: info_v[k][0] for k in info_s})


def test_world_seed_fixes_the_corpus(vector_env: VecFactory) -> None:
    a, b, c = vector_env(2, world_seed=1), vector_env(2, world_seed=1), vector_env(2, world_seed=2)
    np.testing.assert_array_equal(a.world.corpus.quality, b.world.corpus.quality)
    assert not np.array_equal(a.world.corpus.quality, c.world.corpus.quality)


# --- episodes -------------------------------------------------------------------------------
def test_autoreset_at_the_horizon_brings_new_users(vector_env: VecFactory) -> None:
    env = vector_env(4, horizon=2)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    _, _, _, truncated, info = env.step(random_slates(rng, 4, 100, 2))
    assert not truncated.any() and "final_obs" not in info
    assert info["user_id"].tolist() == [0, 1, 2, 3]
    obs, _, terminated, truncated, info = env.step(random_slates(rng, 4, 100, 2))
    assert truncated.all() and not terminated.any() and info["_final_obs"].all()
    assert info["session_end"].all()
    assert (info["final_obs"]["session"][:, 2] == 2).all()  # two requests served
    assert (obs["items"] == -1).all() and (obs["session"][:, 0] == 2).all()  # fresh users
    _, _, _, _, info = env.step(random_slates(rng, 4, 100, 2))
    assert info["user_id"].tolist() == [4, 5, 6, 7]


def test_single_env_refuses_to_step_after_the_horizon() -> None:
    from envs.recsim_ng import RecSimNGEnv

    env = RecSimNGEnv(horizon=1, graph_compile=False)
    env.reset(seed=0)
    _, _, terminated, truncated, _ = env.step(np.array([0, 1]))
    assert truncated and not terminated
    with pytest.raises(StateError, match="after the episode ended"):
        env.step(np.array([0, 1]))


# --- events mean what they mean in noveltygym ------------------------------------------------------
def test_events_follow_the_served_slates_and_topics(vector_env: VecFactory) -> None:
    env = vector_env(64, horizon=6, num_topics=5, num_docs=40)
    world = env.world
    env.reset(seed=1)
    rng = np.random.default_rng(1)
    log = EventLog()
    for _ in range(6):
        slate = random_slates(rng, 64, 40, 2)
        _, reward, _, _, info = env.step(slate)
        ev = Events.from_info(info)
        log.append(ev, slate)
        clicked = ev.clicked
        assert clicked.any() and (~clicked).any()  # RecSim NG's users may choose nothing
        for u in np.flatnonzero(clicked):
            assert ev.item[u] in slate[u]
        np.testing.assert_array_equal(ev.cluster[clicked], world.level.item_cluster[ev.item[clicked]])
        assert (ev.item[~clicked] == -1).all() and (ev.cluster[~clicked] == -1).all()
        np.testing.assert_array_equal(reward, ev.watch_time)
        assert (ev.watch_time <= world.corpus.length[np.maximum(ev.item, 0)] + 1e-6).all()
        assert (ev.positive == clicked).all()  # every choice is an engagement, as in RecSim
    ev = log.stacked()
    # Novelty: a user's first positive engagement with a cluster, and only that one.
    for u in range(64):
        seen: set[int] = set()
        for t in range(6):
            if ev.positive[t, u]:
                c = int(ev.cluster[t, u])
                assert bool(ev.novel[t, u]) == (c not in seen)
                seen.add(c)
    metrics = summarize(log, world.level.n_clusters, world.corpus.n_items)
    assert metrics["click_rate"] > 0 and metrics["novel_clusters_per_user"] > 0
    assert all(np.isfinite(v) for v in metrics.values())


def test_world_has_topic_clusters_with_unique_descriptions(vector_env: VecFactory) -> None:
    env = vector_env(2, num_topics=6, num_docs=120)
    level = env.world.level
    assert level.n_clusters == 6
    assert len(set(level.descriptions)) == 6
    assert level.index_of(level.descriptions[3]) == 3
    np.testing.assert_array_equal(level.item_cluster, env.world.corpus.leaf)
    assert env.world.corpus.embeddings.shape == (120, 6)  # RecSim NG's doc_features


def test_topic_names_are_used_as_given(vector_env: VecFactory) -> None:
    env = vector_env(2, topic_names=("cats", "dogs"))
    assert env.world.level.descriptions == ("cats", "dogs")


# --- bad input --------------------------------------------------------------------------------------
def test_bad_slates_name_the_problem(vector_env: VecFactory) -> None:
    env = vector_env(3)
    env.reset(seed=0)
    with pytest.raises(ActionError, match="repeats an item"):
        env.step(np.array([[1, 1], [0, 1], [0, 1]]))
    with pytest.raises(ActionError, match=r"expected \(3, 2\)"):
        env.step(np.zeros((3, 3), dtype=np.int64))
    with pytest.raises(ActionError, match="is not an item id"):
        env.step(np.array([[0, 100], [0, 1], [0, 1]]))


def test_step_before_reset() -> None:
    from envs.recsim_ng import RecSimNGEnv, RecSimNGVectorEnv

    with pytest.raises(StateError, match="before reset"):
        RecSimNGVectorEnv(2).step(np.array([[0, 1], [0, 1]]))
    with pytest.raises(StateError, match="before reset"):
        RecSimNGEnv(graph_compile=False).step(np.array([0, 1]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"num_envs": 0}, "num_envs=0"),
        ({"horizon": 0}, "horizon=0"),
        ({"history_length": -1}, "history_length=-1"),
        ({"num_topics": 0}, r"config\['num_topics'\]=0"),
        ({"slate_size": 101}, "slate_size=101 exceeds num_docs=100"),
        ({"topic_names": ("a",)}, "topic_names must be 2 unique names"),
    ],
)
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    from envs.recsim_ng import RecSimNGVectorEnv

    kwargs = {"num_envs": 2, **kwargs}
    with pytest.raises(ConfigError, match=match):
        RecSimNGVectorEnv(**kwargs)


def test_story_and_story_keywords_together_is_an_error() -> None:
    from envs.recsim_ng import RecSimNGVectorEnv, interest_evolution_story

    with pytest.raises(ConfigError, match="story keywords"):
        RecSimNGVectorEnv(2, story=interest_evolution_story(), num_topics=3)


def test_story_config_missing_a_key() -> None:
    from envs.recsim_ng import Story, interest_evolution_story

    base = interest_evolution_story()
    config = {k: v for k, v in base.config.items() if k != "num_topics"}
    with pytest.raises(ConfigError, match=r"config lacks \['num_topics'\]"):
        Story("custom", config, base.user_ctor, base.corpus_ctor, base.metrics_ctor)


def test_story_whose_user_response_lacks_a_field_names_it() -> None:
    from recsim_ng.applications.recsys_partially_observable_rl import user
    from recsim_ng.core import value

    from envs.recsim_ng import RecSimNGVectorEnv, Story, interest_evolution_story

    class SilentUser(user.InterestEvolutionUser):  # type: ignore[misc]
        def specs(self) -> Any:
            spec = super().specs()
            response = {k: v for k, v in spec.get("response").as_dict.items() if k != "consumed_time"}
            return spec.at("state", "observation").union(value.ValueSpec(**response).prefixed_with("response"))

    base = interest_evolution_story()
    story = Story("silent", base.config, SilentUser, base.corpus_ctor, base.metrics_ctor)
    with pytest.raises(DataError, match="'user response' has no field 'consumed_time'"):
        RecSimNGVectorEnv(2, story=story)


def test_story_without_a_needed_variable_names_it() -> None:
    from recsim_ng.stories import recommendation_simulation

    from envs.recsim_ng import RecSimNGVectorEnv, Story, interest_evolution_story

    def no_response(*args: Any) -> list[Any]:
        return [v for v in recommendation_simulation.recs_story(*args) if v.name != "user response"]

    base = interest_evolution_story()
    story = Story("partial", base.config, base.user_ctor, base.corpus_ctor, base.metrics_ctor, build=no_response)
    with pytest.raises(DataError, match="no variable 'user response'"):
        RecSimNGVectorEnv(2, story=story)


def test_story_that_ignores_the_recommender_is_refused() -> None:
    from recsim_ng.applications.recsys_partially_observable_rl import recommender
    from recsim_ng.stories import recommendation_simulation

    from envs.recsim_ng import RecSimNGVectorEnv, Story, interest_evolution_story

    def own_recommender(config: Any, user_ctor: Any, corpus_ctor: Any, _: Any, metrics_ctor: Any) -> Any:
        return recommendation_simulation.recs_story(
            config, user_ctor, corpus_ctor, recommender.CollabFilteringRecommender, metrics_ctor
        )

    base = interest_evolution_story()
    story = Story(
        "own", {**base.config, "history_length": 3}, base.user_ctor, base.corpus_ctor, base.metrics_ctor,
        build=own_recommender,
    )
    with pytest.raises(ConfigError, match="never built a recommender"):
        RecSimNGVectorEnv(2, story=story)


def test_corpus_redrawn_each_episode_is_refused() -> None:
    from recsim_ng.applications.recsys_partially_observable_rl import corpus

    from envs.recsim_ng import RecSimNGVectorEnv, Story, interest_evolution_story

    base = interest_evolution_story()
    story = Story("fresh corpus", base.config, base.user_ctor, corpus.CorpusWithTopicAndQuality, base.metrics_ctor)
    env = RecSimNGVectorEnv(2, story=story, horizon=1, graph_compile=False)
    env.reset(seed=0)
    with pytest.raises(DataError, match="different corpus"):
        env.step(np.array([[0, 1], [0, 1]]))
