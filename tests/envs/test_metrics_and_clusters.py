"""Metrics on hand-made event logs with known answers; cluster hierarchy invariants."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from envs.errors import DataError
from envs.metrics import EventLog, homogenization, per_user_metrics, summarize
from envs.state import Events


def _events(**cols) -> Events:
    n = len(next(iter(cols.values())))
    base = {f: np.zeros(n) for f in Events._fields}
    base.update(
        user_id=np.arange(n), active=np.ones(n, bool), clicked=np.zeros(n, bool), item=np.full(n, -1),
        cluster=np.full(n, -1), liked=np.zeros(n, bool), positive=np.zeros(n, bool), novel=np.zeros(n, bool),
        unexpected=np.zeros(n, bool), discovered=np.zeros(n, bool), day=np.zeros(n, int), session_end=np.zeros(n, bool),
    )
    base.update({k: np.asarray(v) for k, v in cols.items()})
    return Events(**base)


def _log() -> EventLog:
    """Two users over three steps. User 0 engages clusters 1 then 2 (both new) then 1 again;
    user 1 clicks cluster 1 without enjoying it, then engages 1, then skips (day 3)."""
    log = EventLog()
    click = dict(clicked=[True, True], positive=[True, False], novel=[True, False], cluster=[1, 1], item=[10, 11])
    log.append(_events(**click, watch_time=[3.0, 1.0], completion=[1.0, 0.2]), slate=np.array([[10, 12], [11, 13]]))
    log.append(_events(clicked=[True, True], positive=[True, True], novel=[True, True], cluster=[2, 1], item=[20, 11],
                       unexpected=[True, False], watch_time=[2.0, 4.0], completion=[0.5, 1.0]))
    log.append(_events(clicked=[True, False], positive=[True, False], cluster=[1, -1], item=[10, -1],
                       watch_time=[1.0, 0.0], completion=[1.0, 0.0], day=[0, 3]))
    return log


def test_per_user_metrics_known_answers() -> None:
    pu = per_user_metrics(_log(), n_clusters=4)
    np.testing.assert_array_equal(pu["novel_clusters"], [2, 1])
    np.testing.assert_array_equal(pu["engaged_clusters"], [2, 1])
    np.testing.assert_array_equal(pu["active_days"], [1, 2])
    np.testing.assert_allclose(pu["watch_time"], [6.0, 5.0])
    # User 0 engaged clusters 1, 2, 1: p = (2/3, 1/3).
    np.testing.assert_allclose(pu["entropy"], [-(2 / 3) * np.log(2 / 3) - (1 / 3) * np.log(1 / 3), 0.0])
    np.testing.assert_allclose(pu["serendipity"], [1 / 3, 0.0])


def test_summary_known_answers() -> None:
    s = summarize(_log(), n_clusters=4, n_items=20)
    assert s["ueuc"] == 3
    assert s["novel_clusters_per_user"] == 1.5
    assert s["positive_rate"] == pytest.approx(4 / 6)
    assert s["coverage"] == pytest.approx(4 / 20)  # items 10, 11, 12, 13 shown
    # Sets {1, 2} and {1}: Jaccard 1/2.
    assert s["homogenization"] == pytest.approx(0.5)


def test_metrics_follow_users_not_slots() -> None:
    """A slot reused by a new user (autoreset) counts as two users."""
    log = EventLog()
    log.append(_events(user_id=[0], clicked=[True], positive=[True], novel=[True], cluster=[1], item=[1]))
    log.append(_events(user_id=[5], clicked=[True], positive=[True], novel=[True], cluster=[2], item=[2]))
    pu = per_user_metrics(log, 4)
    np.testing.assert_array_equal(pu["user_id"], [0, 5])
    assert homogenization(log, 4) == 0.0


def test_empty_log_is_an_error() -> None:
    with pytest.raises(DataError, match="empty"):
        summarize(EventLog(), 4, 10)


def test_log_to_frame(tiny_world: envs.World) -> None:
    df = envs.logs.organic_logs(tiny_world, n_users=3, n_steps=4, seed=0)
    assert list(df.columns[:5]) == ["user", "time", "item", "cluster", "engagement"]
    assert len(df) == 12 and set(df.cluster) <= {-1, 0, 1, 2}


def test_named_levels(default_world: envs.World) -> None:
    sizes = {name: default_world.clusters.level(name).n_clusters for name in ("domain", "topic", "subtopic")}
    assert sizes["domain"] >= 20 and sizes["topic"] >= 200 and sizes["subtopic"] >= 1000
    tax = default_world.taxonomy
    assert len(tax.domains) >= 20 and tax.n_leaves >= 300


@pytest.mark.parametrize("level", ["domain", "topic", "subtopic", 37])
def test_levels_partition_the_corpus_with_unique_descriptions(default_world: envs.World, level) -> None:
    lvl = default_world.clusters.level(level)
    assert len(set(lvl.descriptions)) == lvl.n_clusters
    assert lvl.item_cluster.shape == (default_world.corpus.n_items,)
    assert (lvl.sizes > 0).all() and lvl.sizes.sum() == default_world.corpus.n_items
    for c in (0, lvl.n_clusters - 1):
        assert lvl.index_of(lvl.descriptions[c]) == c
        assert (lvl.item_cluster[lvl.items_in(c)] == c).all()
    np.testing.assert_allclose(np.diag(lvl.similarity), 1.0, atol=1e-5)


def test_coarser_levels_nest_finer_ones(default_world: envs.World) -> None:
    sub = default_world.clusters.level("subtopic").item_cluster
    topic = default_world.clusters.level("topic").item_cluster
    pairs = np.unique(np.stack([sub, topic]), axis=1)
    assert len(np.unique(pairs[0])) == pairs.shape[1]  # each subtopic lies in one topic


def test_related_clusters_are_near(default_world: envs.World) -> None:
    """Words and geometry agree: sibling subtopics are more similar than unrelated ones."""
    tax = default_world.taxonomy
    lvl = default_world.clusters.level("subtopic")
    parent = np.asarray(tax.subtopic_topic)
    sim = lvl.similarity
    same = parent[:, None] == parent[None, :]
    np.fill_diagonal(same, False)
    other_domain = np.asarray(tax.topic_domain)[parent][:, None] != np.asarray(tax.topic_domain)[parent][None, :]
    assert sim[same].mean() > sim[other_domain].mean() + 0.3


def test_unknown_description_is_an_error(tiny_world: envs.World) -> None:
    with pytest.raises(DataError, match="'delta' is not a cluster description"):
        tiny_world.level.index_of("delta")


def test_item_titles_use_their_cluster_words(default_world: envs.World) -> None:
    lvl = default_world.clusters.level("subtopic")
    for i in (0, 1234, 19_999):
        assert default_world.corpus.titles[i].startswith(lvl.descriptions[lvl.item_cluster[i]])
