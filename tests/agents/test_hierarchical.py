"""The hierarchical agent: exploratory items lie in the selected cluster (property), selectors
are checked, the LLM table and Markov selectors work, and bad clusters fail clearly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import envs
from agents import HierarchicalAgent, make_agent
from agents.errors import EmptyClusterError, SelectorError
from agents.hierarchical import default_explore_slots
from agents.items.simple import QualityItems, RandomItems
from agents.sampling import ClusterItems
from agents.selectors import LLMTableSelector, MarkovSelector, OptionSelector, RandomNovelSelector
from envs.clusters import ClusterLevel
from tests.agents.conftest import obs_batch


class ConstantSelector(OptionSelector):
    name = "constant"

    def __init__(self, n_clusters: int, value: int) -> None:
        super().__init__(n_clusters)
        self.value = value

    def select(self, history, window, rng):
        return np.full(len(window), self.value, dtype=np.int64)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    slots=st.integers(1, 3),
    users=st.integers(1, 40),
    item=st.sampled_from(["random", "quality", "engagement"]),
)
def test_every_exploratory_item_lies_in_the_selected_cluster(seed, slots, users, item):
    world = envs.make_world("tiny")
    agent = make_agent("hierarchical-random", world, seed=seed, explore_slots=slots, item_policy=item)
    _, obs = obs_batch(world, users, seed=seed % 1000)
    action = agent.act_explained(obs)
    cluster_of = world.level.item_cluster[action.slates]
    rows, cols = np.nonzero(action.exploratory)
    np.testing.assert_array_equal(cluster_of[rows, cols], action.clusters[rows])
    assert (action.exploratory.sum(axis=1) == slots).all()  # tiny clusters hold 10 items >= slots
    srt = np.sort(action.slates, axis=1)
    assert not (srt[:, 1:] == srt[:, :-1]).any()


def test_exploratory_items_in_cluster_on_default_world(default_world):
    agent = make_agent("hierarchical-random", default_world, seed=1, item_policy="quality")
    _, obs = obs_batch(default_world, 300)
    action = agent.act_explained(obs)
    rows, cols = np.nonzero(action.exploratory)
    assert len(rows) == 300 * default_explore_slots(default_world.config.slate_size)
    np.testing.assert_array_equal(default_world.level.item_cluster[action.slates[rows, cols]], action.clusters[rows])


def test_selector_proposing_a_missing_cluster_is_refused(tiny):
    agent = HierarchicalAgent(tiny, ConstantSelector(tiny.level.n_clusters, 7))
    _, obs = obs_batch(tiny, 3)
    with pytest.raises(SelectorError, match="proposed cluster 7 for user 0, which does not exist"):
        agent.act(obs)


def test_table_answering_a_missing_cluster_is_refused(tiny, fixed_table):
    agent = HierarchicalAgent(tiny, LLMTableSelector(fixed_table(3, 2, [1, 42]), 3))
    _, obs = obs_batch(tiny, 3)
    with pytest.raises(SelectorError, match="answered cluster 42"):
        agent.act(obs)


def test_empty_cluster_is_a_clear_error(tiny):
    level = tiny.level
    # A level whose last cluster holds no items (items of cluster 2 moved to cluster 1).
    broken = ClusterLevel("broken", (*level.descriptions, "delta"), np.minimum(level.item_cluster, 1), level.centroids)
    with pytest.raises(EmptyClusterError, match=r"cluster 2 \('gamma'\)"):
        ClusterItems(broken).sample(np.array([0, 2]), np.random.default_rng(0))


def test_llm_table_selector_follows_the_table_and_prefers_novel_answers(tiny, fixed_table):
    # Table answers alpha (in every tiny user's history) and beta: beta must always be chosen.
    sel = LLMTableSelector(fixed_table(3, 2, [0, 1]), 3)
    agent = HierarchicalAgent(tiny, sel, explore_slots=1)
    _, obs = obs_batch(tiny, 50)
    action = agent.act_explained(obs)
    assert (action.clusters == 1).all()


def test_llm_table_selector_rejects_a_table_for_another_level(tiny, fixed_table):
    with pytest.raises(Exception, match="built for 5 clusters"):
        LLMTableSelector(fixed_table(5, 2, [1]), 3)


def test_markov_selector_learns_logged_transitions():
    sel = MarkovSelector(4, context_length=2)
    # Every user goes 0 -> 1 -> 2 (positive), so after (0, 1) comes 2, after (x, 2) comes 3.
    import pandas as pd

    rows = []
    for u in range(30):
        for t, c in enumerate([0, 1, 2, 3]):
            rows.append({"user": u, "time": t, "item": c, "cluster": c, "engagement": 1})
    sel.fit(pd.DataFrame(rows))
    rng = np.random.default_rng(0)
    hist = np.array([[0, 1], [1, 2], [-1, 0]])
    window = np.array([[0, 1], [1, 2], [0, 0]])
    np.testing.assert_array_equal(sel.select(hist, window, rng), [2, 3, 1])


def test_random_novel_avoids_the_window():
    sel = RandomNovelSelector(5)
    window = np.tile(np.array([0, 1, 2, 3]), (200, 1))
    assert (sel.select(window[:, -2:], window, np.random.default_rng(0)) == 4).all()


def test_item_policies_fill_what_a_small_cluster_allows(tiny):
    _, obs = obs_batch(tiny, 5)
    for policy in (RandomItems(tiny), QualityItems(tiny)):
        out = policy.select(obs, np.full(5, 1), 12, np.random.default_rng(0))
        assert (out[:, :10] >= 0).all() and (out[:, 10:] == -1).all()
