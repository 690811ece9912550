"""The vectorized draws behind act(): each keeps the distribution it promises (checked against
counts or a plain reference), so the fast layouts cannot drift from the semantics."""

from __future__ import annotations

import numpy as np

from agents.observations import last_distinct
from agents.sampling import ClusterItems, segment_sample, spread_within_groups, top_k_members
from agents.selectors.random_novel import uniform_outside


def test_cluster_items_draw_in_proportion_to_weights(default_world):
    level = default_world.level
    rng = np.random.default_rng(0)
    weights = rng.random(len(level.item_cluster)) ** 2
    weights[::5] = 0.0
    items = ClusterItems(level)
    items.set_weights(weights)
    cluster = 7
    members = np.flatnonzero(level.item_cluster == cluster)
    drawn = items.sample(np.full(200_000, cluster), rng)
    assert np.isin(drawn, members).all()
    share = np.bincount(drawn, minlength=len(weights))[members] / len(drawn)
    np.testing.assert_allclose(share, weights[members] / weights[members].sum(), atol=0.005)
    assert (share[weights[members] == 0] == 0).all()


def test_spread_keeps_each_slot_uniform_and_one_group_apart():
    rng = np.random.default_rng(1)
    groups = rng.integers(0, 3, (100_000, 6))
    u = spread_within_groups(groups, rng.random(groups.shape), rng.random(groups.shape))
    assert (u >= 0).all() and (u < 1).all()
    for slot in (0, 5):  # slot order must not bias the strata
        hist = np.histogram(u[:, slot], bins=10, range=(0, 1))[0] / len(u)
        np.testing.assert_allclose(hist, 0.1, atol=0.005)
    # Two slots of a group of exactly two lie in opposite halves of the circle.
    pair = (groups[:, 0] == groups[:, 1]) & ((groups == groups[:, :1]).sum(axis=1) == 2)
    gap = np.abs(u[pair, 0] - u[pair, 1])
    assert (np.minimum(gap, 1 - gap) <= 0.5 + 1e-12).all() and (gap > 0).all()


def test_segment_sample_matches_a_searchsorted_reference():
    rng = np.random.default_rng(2)
    sizes = rng.integers(1, 40, 300)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    weights = rng.random(offsets[-1]) * (rng.random(offsets[-1]) < 0.7)
    weights[offsets[3] : offsets[4]] = 0.0  # an all-zero segment: uniform
    cum = np.cumsum(weights)
    seg, u = rng.integers(0, 300, 50_000), rng.random(50_000)
    start, end = offsets[seg], offsets[seg + 1]
    before = np.where(start > 0, cum[np.maximum(start - 1, 0)], 0.0)
    total = cum[end - 1] - before
    ref = np.clip(np.searchsorted(cum, before + u * total, side="right"), start, end - 1)
    ref = np.where(total > 0, ref, start + (u * (end - start)).astype(np.int64))
    np.testing.assert_array_equal(segment_sample(cum, start, end, u), ref)


def test_top_k_ranks_excluded_items_last_in_their_own_order():
    members = np.array([[10, 11, 12, 13, -1], [20, 21, -1, -1, -1]])
    scores = np.array([[4.0, 3.0, 2.0, 1.0, 9.0], [1.0, 2.0, 9.0, 9.0, 9.0]])
    out = top_k_members(members, scores, 4, exclude=np.array([[10, 12, -1], [-1, -1, -1]]))
    np.testing.assert_array_equal(out, [[11, 13, 10, 12], [21, 20, -1, -1]])


def test_uniform_outside_is_uniform_over_the_free_clusters():
    rng = np.random.default_rng(3)
    window = np.tile(np.array([0, 1, 2, 3, 3]), (60_000, 1))
    window[::2, 0] = -1  # half the rows leave cluster 0 free
    out = uniform_outside(window, 6, rng)
    np.testing.assert_allclose(np.bincount(out[::2], minlength=6)[[0, 4, 5]] / 30_000, 1 / 3, atol=0.01)
    assert set(np.unique(out[1::2])) == {4, 5}
    full = uniform_outside(np.tile(np.arange(4), (10, 1)), 4, rng)  # nothing free: any cluster
    assert ((full >= 0) & (full < 4)).all()


def test_last_distinct_matches_a_loop():
    rng = np.random.default_rng(4)
    window = rng.integers(-1, 4, (500, 8))
    window[:20] = -1
    for length in (1, 2, 3):
        expected = np.full((len(window), length), -1)
        for r, row in enumerate(window):
            kept = [c for j, c in enumerate(row) if c >= 0 and (j == len(row) - 1 or row[j + 1] != c)]
            tail = kept[-length:]
            expected[r, length - len(tail) :] = tail
        np.testing.assert_array_equal(last_distinct(window, length), expected)
