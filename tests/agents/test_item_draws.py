"""``EngagementDraws`` (item_policy "engagement-cdf") draws what ``EngagementItems`` ranks:
the same distribution of k distinct items, recent items last, -1 past the cluster's size."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from agents.exploit import ExploitRecommender
from agents.items.simple import EngagementDraws, EngagementItems


@pytest.fixture(scope="module")
def setup():
    world = envs.make_world("tiny", backend="numpy")
    exploit = ExploitRecommender(world, 0)
    rng = np.random.default_rng(0)
    stats = exploit.stats  # learned rates that differ between items
    stats.item_shown[:] = 20.0
    stats.item_positive[:] = rng.integers(0, 20, stats.n_items)
    return world, exploit


def draws(policy, world, cluster, k, n, recent=None, seed=0):
    h = world.config.history_length
    items = np.full((n, h), -1, dtype=np.int64)
    if recent is not None:
        items[:, : len(recent)] = recent
    obs = {"items": items, "clusters": np.full((n, h), -1), "responses": np.zeros((n, h, 3), np.float32)}
    return policy.select(obs, np.full(n, cluster), k, np.random.default_rng(seed))


@pytest.mark.parametrize("k", [1, 3])
def test_same_distribution_as_the_gumbel_ranking(setup, k) -> None:
    world, exploit = setup
    cluster = 1
    members = np.flatnonzero(world.level.item_cluster == cluster)
    recent = members[:2]  # two of the cluster's items were just shown: ranked last
    n = 40_000
    cdf = draws(EngagementDraws(world, exploit), world, cluster, k, n, recent, seed=1)
    ref = draws(EngagementItems(world, exploit), world, cluster, k, n, recent, seed=2)
    for slot in range(k):  # each slot's item frequencies agree (two samples of 40,000)
        a = np.bincount(cdf[:, slot], minlength=world.corpus.n_items) / n
        b = np.bincount(ref[:, slot], minlength=world.corpus.n_items) / n
        assert np.abs(a - b).max() < 0.015, (slot, a[members], b[members])
    assert not np.isin(cdf, recent).any()  # the cluster has enough other items
    assert (np.sort(cdf, axis=1)[:, 1:] != np.sort(cdf, axis=1)[:, :-1]).all()  # distinct


def test_small_clusters_and_used_up_ones_follow_the_reference(setup) -> None:
    """More slots than items: every item once, then -1; with every item recent, the recent ones
    (the reference ranks them last, it does not drop them)."""
    world, exploit = setup
    cluster = 1
    members = np.flatnonzero(world.level.item_cluster == cluster)
    k = len(members) + 2
    out = draws(EngagementDraws(world, exploit), world, cluster, k, 50)
    assert (np.sort(out[:, : len(members)], axis=1) == np.sort(members)).all() and (out[:, len(members):] == -1).all()
    recent = members[: world.config.history_length]
    out = draws(EngagementDraws(world, exploit), world, cluster, 1, 200, recent)
    assert np.isin(out, members).all()
