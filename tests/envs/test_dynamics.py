"""Invariants of the interest dynamics (Hypothesis) and behaviour tests of the world."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import envs
from envs import interest
from envs.choice import mnl_probabilities, proportional_probabilities, sample_choice
from envs.logs import items_from_clusters
from envs.state import map_rows, state_arrays
from tests.helpers import assert_same

from .conftest import exploit_slates


@given(
    utility=st.lists(st.floats(-50, 50), min_size=1, max_size=12),
    no_click=st.floats(-50, 50),
    temperature=st.floats(0.05, 10),
)
def test_mnl_probabilities_are_a_distribution(utility: list[float], no_click: float, temperature: float) -> None:
    p = mnl_probabilities(np.array([utility]), no_click, temperature)
    assert p.shape == (1, len(utility) + 1)
    assert (p >= 0).all() and abs(p.sum() - 1.0) < 1e-9


@given(score=st.lists(st.floats(-1, 1), min_size=1, max_size=12))
def test_proportional_probabilities_are_a_distribution(score: list[float]) -> None:
    p = proportional_probabilities(np.array([score]), 1.0, -1.0)
    assert (p >= 0).all() and abs(p.sum() - 1.0) < 1e-9


@given(u=st.floats(0, 1, exclude_max=True), k=st.integers(1, 8))
def test_sample_choice_is_in_range(u: float, k: int) -> None:
    p = np.full((1, k + 1), 1.0 / (k + 1))
    c = sample_choice(p, np.array([u]))
    assert -1 <= c[0] < k


def _frozen_copy(state):
    return map_rows(lambda a: a.copy(), state)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), steps=st.integers(1, 25))
def test_interest_state_stays_bounded(small_world: envs.World, seed: int, steps: int) -> None:
    rng = np.random.default_rng(seed)
    state = small_world.init_state(np.arange(16), rng)
    cfg = small_world.config
    for _ in range(steps):
        slate = np.stack([rng.choice(small_world.corpus.n_items, cfg.slate_size, replace=False) for _ in range(16)])
        before = _frozen_copy(state)
        response = small_world.respond(state, slate, rng)
        new, events = small_world.transition(state, slate, response, rng)
        # Pure: the input state is never mutated.
        map_rows(lambda a, b: np.testing.assert_array_equal(a, b), state, before)
        u = new.users
        assert ((u.anchor_strength >= 0) & (u.anchor_strength <= 1)).all()
        assert np.isfinite(u.anchor_pos).all()
        s = new.session
        assert (s.budget <= cfg.session_budget).all()
        # Within a session the budget only falls; a new session starts full.
        same = ~events.session_end & ~state.session.done
        assert (s.budget[same] < state.session.budget[same]).all()
        assert (events.watch_time >= 0).all() and (events.completion <= 1).all()
        assert not (events.novel & ~events.positive).any()
        assert (s.day >= state.session.day).all()
        state = new


def test_showing_latent_clusters_leads_to_discovery(small_world: envs.World) -> None:
    """Users shown items of their latent interests discover them; exploitation does not."""
    found = {}
    for policy in ("latent", "exploit"):
        env = envs.InterestExplorationVectorEnv(300, world=small_world, horizon_days=1000, churn_rate=0.0)
        world = env.world
        obs, _ = env.reset(seed=0)
        rng = np.random.default_rng(0)
        total = 0
        for _ in range(20):
            slate = exploit_slates(world, obs, rng)
            if policy == "latent":
                latent, _ = world.oracle_latent_clusters(env.state)
                slate[:, :3] = items_from_clusters(world, np.repeat(latent[:, :1], 3, axis=1), rng)
                slate = envs.logs.distinct_fill(slate, world.corpus.n_items, rng)
            obs, _, _, _, info = env.step(slate)
            total += info["discovered"].sum()
        found[policy] = total / 300
    assert found["latent"] > 0.5
    assert found["latent"] > 2 * found["exploit"]


def test_repeating_a_cluster_raises_satiation_and_lowers_enjoyment(small_world: envs.World) -> None:
    rng = np.random.default_rng(0)
    state = small_world.init_state(np.arange(50), rng)
    cluster = small_world.level.item_cluster[state.session.hist_items[:, -1]]
    slate = items_from_clusters(small_world, np.repeat(cluster[:, None], small_world.config.slate_size, 1), rng)
    slate = envs.logs.distinct_fill(slate, small_world.corpus.n_items, rng)
    before, _, _ = interest.utility(small_world, state, slate)
    for _ in range(5):  # the user clicks the first item every time
        forced = small_world.respond(state, slate, rng)._replace(choice=np.zeros(50, dtype=np.int64), item=slate[:, 0])
        forced = forced._replace(liked=np.zeros(50, dtype=bool), completion=np.full(50, 0.3, np.float32))
        state, _ = small_world.transition(state, slate, forced, rng)
    sat = interest.satiation(state.users, small_world.corpus.leaf[slate[:, :1]])
    assert (sat > 1.0).all()
    after, _, _ = interest.utility(small_world, state, slate)
    assert after[:, 0].mean() < before[:, 0].mean() - 1.0


def test_always_exploit_narrows_interests() -> None:
    """The feedback loop: under pure exploitation interest entropy falls, and consumption
    concentrates on fewer clusters than under organic browsing. On the classic world, whose
    latent interests fade too (in the default world they wait, at full strength, so the
    entropy of all interests falls less)."""
    small_world = envs.make_world("classic", n_items=4000, cluster_level="topic")

    def distinct_recent(obs: dict) -> float:
        return float(np.mean([len(set(row[row >= 0])) for row in obs["clusters"]]))

    results = {}
    for explore in (0.0, 0.5):
        env = envs.InterestExplorationVectorEnv(400, world=small_world, horizon_days=1000, churn_rate=0.0)
        world = env.world
        obs, _ = env.reset(seed=1)
        start = (world.oracle_interest_entropy(env.state).mean(), distinct_recent(obs))
        rng = np.random.default_rng(1)
        for _ in range(60):
            obs, *_ = env.step(envs.logs.organic_slates(world, obs, rng, explore=explore))
        results[explore] = (start, (world.oracle_interest_entropy(env.state).mean(), distinct_recent(obs)))
    (entropy_start, distinct_start), (entropy_end, distinct_end) = results[0.0]
    assert entropy_end < entropy_start - 0.02
    assert distinct_end < 0.8 * distinct_start
    assert distinct_end < results[0.5][1][1]


def test_tiny_world_has_the_documented_optimum(tiny_world: envs.World) -> None:
    """Showing beta (the latent interest) beats alpha (the history), which beats gamma."""
    returns = {}
    for name in ("alpha", "beta", "gamma"):
        items = tiny_world.level.items_in(tiny_world.level.index_of(name))
        best = items[np.argsort(-tiny_world.corpus.quality[items])][:3]
        env = envs.InterestExplorationVectorEnv(200, world=tiny_world)
        env.reset(seed=0)
        total = 0.0
        for _ in range(30):
            _, reward, _, _, _ = env.step(np.tile(best, (200, 1)))
            total += reward.sum()
        returns[name] = total
    assert returns["beta"] > 1.2 * returns["alpha"] > 1.2 * returns["gamma"]


def test_tiny_world_users_share_the_known_interests(tiny_world: envs.World) -> None:
    state = tiny_world.init_state(np.arange(5), np.random.default_rng(0))
    latent, discovered = tiny_world.oracle_latent_clusters(state)
    assert (latent == tiny_world.level.index_of("beta")).all() and not discovered.any()
    assert (state.session.hist_clusters == tiny_world.level.index_of("alpha")).all()


def test_cluster_utility_oracle_ranks_latent_first(tiny_world: envs.World) -> None:
    state = tiny_world.init_state(np.arange(3), np.random.default_rng(0))
    u = tiny_world.oracle_cluster_utility(state, np.tile([0, 1, 2], (3, 1)))
    assert (u.argmax(axis=1) == tiny_world.level.index_of("beta")).all()


def test_initial_history_comes_from_active_interests_only(small_world: envs.World) -> None:
    state = small_world.init_state(np.arange(200), np.random.default_rng(3))
    hist = state.session.hist_clusters
    users = state.users
    active_pos = users.anchor_pos[:, ~users.anchor_latent[0]]
    active_clusters = interest.nearest_clusters(active_pos, small_world.level.centroids)
    in_active = (hist[:, :, None] == active_clusters[:, None, :]).any(axis=2)
    assert in_active.mean() > 0.9
    dataclasses.replace(state)  # frozen dataclasses stay constructible


def test_state_view_is_the_live_state_read_only() -> None:
    env = envs.InterestExplorationVectorEnv(64, preset="tiny")
    assert env.state_view is None
    env.reset(seed=0)
    view, copy = env.state_view, env.state
    assert_same(state_arrays(view), state_arrays(copy))
    assert np.shares_memory(view.users.anchor_pos, env._state.users.anchor_pos)
    with pytest.raises(ValueError, match="read-only"):
        view.users.anchor_pos[0] = 0.0
    env.step(env.action_space.sample())
    assert_same(state_arrays(env.state_view), state_arrays(env.state))  # it follows the env's steps
    env.close()


@pytest.mark.parametrize("skew", [0.0, 1.0])
def test_interest_popularity_skew_weights_domains_by_zipf(skew):
    from envs.interest import _anchor_leaves

    world = envs.make_world("default", interest_popularity_skew=skew)
    leaves, _ = _anchor_leaves(world, 40_000, np.random.default_rng(0))
    tax = world.taxonomy
    domain = np.asarray(tax.topic_domain)[np.asarray(tax.subtopic_topic)][leaves[:, 0]]  # the "anywhere" draw
    share = np.bincount(domain, minlength=len(tax.domains)) / len(domain)
    k = np.arange(1, len(tax.domains) + 1)
    expected = k**-skew / (k**-skew).sum()
    np.testing.assert_allclose(share, expected, atol=0.01)


def test_a_negative_popularity_skew_is_refused():
    with pytest.raises(envs.ConfigError, match=r"interest_popularity_skew=-0\.5 must be >= 0"):
        envs.make_world("default", interest_popularity_skew=-0.5)


@pytest.mark.parametrize("skew", [0.5, 1.5])
def test_catalogue_skew_gives_domains_items_by_zipf(skew):
    """Beyond one item per subtopic, the k-th domain's share of the catalogue follows k^-skew;
    every subtopic keeps an item; 0 is the even spread, draw for draw."""
    from envs.corpus import build_corpus
    from envs.taxonomy import Taxonomy

    tax = Taxonomy.load(envs.WorldConfig().taxonomy)
    n_items = 60_000
    corpus = build_corpus(tax, n_items, 16, np.random.default_rng(0), domain_skew=skew)
    per_leaf = np.bincount(corpus.leaf, minlength=tax.n_leaves)
    assert per_leaf.sum() == n_items and per_leaf.min() >= 1
    domain = np.asarray(tax.topic_domain)[np.asarray(tax.subtopic_topic)]
    extra = np.bincount(domain, weights=per_leaf - 1, minlength=len(tax.domains))
    k = np.arange(1, len(tax.domains) + 1)
    np.testing.assert_allclose(extra / extra.sum(), k**-skew / (k**-skew).sum(), atol=0.01)
    even = build_corpus(tax, 5_000, 16, np.random.default_rng(1))
    np.testing.assert_array_equal(build_corpus(tax, 5_000, 16, np.random.default_rng(1), domain_skew=0.0).leaf,
                                  even.leaf)
    with pytest.raises(envs.ConfigError, match=r"catalogue_skew=-1\.0 must be >= 0"):
        envs.make_world("default", catalogue_skew=-1)
