"""The journeys world's mechanisms on tiny worlds whose answers are known by hand: journeys and
their predictability, the ceiling, boredom and its recovery, latent interests that wait, and
self-discovery. (Their compiled twins are compared with these in test_kernels.py.)"""

from __future__ import annotations

import numpy as np
import pytest

import envs
from envs import journeys
from envs.ceiling import ceiling, journey_probe
from envs.errors import ConfigError

JOURNEYS = {"journey_level": "topic", "journeys_per_source": 2, "journey_predictability": 0.9}


def _tiny(backend: str = "numpy", **overrides: object) -> envs.World:
    return envs.make_world("tiny", backend=backend, **overrides)


def _alpha_slates(world: envs.World, n: int) -> np.ndarray:
    """Slates of alpha's items only: every click is on the user's known interest."""
    alpha = world.level.items_in(world.level.index_of("alpha"))
    return np.tile(alpha[: world.config.slate_size], (n, 1))


def _serve(world: envs.World, state, slates: np.ndarray, steps: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    events = []
    for _ in range(steps):
        state, ev = world.step(state, slates, rng)
        events.append(ev)
    return state, events


@pytest.mark.parametrize("level", ["subtopic", "topic"])
def test_every_source_has_its_number_of_journeys_into_other_topics(level: str) -> None:
    world = envs.make_world("default", n_items=4000, journey_level=level, journeys_per_source=2)
    table = journeys.targets(world)
    topic = np.asarray(world.taxonomy.subtopic_topic)
    n_sources = len(world.taxonomy.topics) if level == "topic" else world.taxonomy.n_leaves
    assert table.shape == (n_sources, 2)
    assert (table[:, 0] != table[:, 1]).all()
    target_topic = table if level == "topic" else topic[table]
    source_topic = np.arange(n_sources) if level == "topic" else topic
    assert (target_topic != source_topic[:, None]).all()


def test_latent_interests_follow_journeys_with_the_stated_probability() -> None:
    """With one active interest, a latent one is a journey target of its topic exactly when the
    journey was taken (predictability 1: always; 0: only by chance, about 2 in 220)."""
    shares = {}
    for p in (0.0, 0.5, 1.0):
        config = {**JOURNEYS, "journey_predictability": p}
        world = envs.make_world("default", n_items=4000, n_active_anchors=1, **config)
        users = world.init_state(np.arange(20_000), np.random.default_rng(0)).users
        topic = np.asarray(world.taxonomy.subtopic_topic)
        source, latent = topic[users.anchor_leaf[:, 0]], topic[users.anchor_leaf[:, 1:]]
        on_journey = (latent[:, :, None] == journeys.targets(world)[source][:, None, :]).any(axis=2)
        shares[p] = on_journey.mean()
    assert shares[1.0] == 1.0
    assert abs(shares[0.5] - (0.5 + 0.5 * 2 / 220)) < 0.02
    assert shares[0.0] < 0.02


def test_the_ceiling_is_certainty_where_the_latent_interest_is_known() -> None:
    """Tiny: every user's history is alpha and their latent interest beta. The best selector
    always names beta (ceiling 1); a random novel cluster is beta or gamma (chance 1/2)."""
    c = ceiling(journey_probe(_tiny(), n_users=200))
    assert c.estimate == 1.0 and c.estimate_half == 1.0
    assert c.chance == 0.5


def test_without_journeys_the_ceiling_is_chance_and_with_them_far_above() -> None:
    base = {"n_items": 4000, "cluster_level": "topic", **JOURNEYS}
    flat = ceiling(journey_probe(envs.make_world("default", **{**base, "journey_predictability": 0.0}), 50_000))
    rich = ceiling(journey_probe(envs.make_world("default", **base), 50_000))
    assert flat.estimate < 2 * flat.chance  # chance is about 1 %: nothing to learn
    assert rich.estimate > 10 * rich.chance


def test_probe_hits_count_only_undiscovered_latent_clusters() -> None:
    world = _tiny()
    probe = journey_probe(world, n_users=10)
    beta, gamma = world.level.index_of("beta"), world.level.index_of("gamma")
    assert probe.hit_rate(np.full(10, beta)) == 1.0
    assert probe.hit_rate(np.full(10, gamma)) == 0.0
    with pytest.raises(ConfigError, match="one per probed user"):
        probe.hit_rate(np.zeros(3, dtype=np.int64))


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_boredom_grows_with_clicks_lowers_the_pull_and_recovers_on_days_away(backend: str) -> None:
    world = _tiny(backend, boredom_rate=0.3, boredom_recovery=0.5, horizon_days=30)
    state = world.init_state(np.arange(200), np.random.default_rng(0))
    slates = _alpha_slates(world, 200)
    util_before = world.oracle_cluster_utility(state, np.zeros(200, dtype=np.int64))
    state, events = _serve(world, state, slates, steps=5)
    clicks = np.sum([ev.clicked for ev in events], axis=0)
    bored = state.users.anchor_boredom[:, 0]
    # Known by hand: each click keeps 70 % of what is left, unless a new session began (recovery).
    no_break = ~np.any([ev.session_end for ev in events], axis=0)
    np.testing.assert_allclose(bored[no_break], 1 - 0.7 ** clicks[no_break], rtol=1e-5)
    assert (state.users.anchor_boredom[:, 1] == 0).all()  # beta was never clicked
    util_after = world.oracle_cluster_utility(state, np.zeros(200, dtype=np.int64))
    tired = no_break & (clicks > 0)
    assert (util_after[tired] < util_before[tired]).all()
    # Serve until sessions end: a user back after d days keeps (1 - 0.5)^d of their boredom.
    before_end = state.users.anchor_boredom[:, 0].copy()
    rng = np.random.default_rng(1)
    for _ in range(30):
        new, ev = world.step(state, slates, rng)
        restarted = ev.session_end & ~new.session.done
        if restarted.any():
            u = np.flatnonzero(restarted)
            grown = before_end[u] + 0.3 * (1 - before_end[u]) * ev.clicked[u]  # this step's click first
            expected = grown * 0.5 ** new.session.days_away[u]
            np.testing.assert_allclose(new.users.anchor_boredom[u, 0], expected, rtol=1e-5)
            return
        state, before_end = new, new.users.anchor_boredom[:, 0].copy()
    pytest.fail("no session ended within 30 steps")


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_latent_interests_wait_when_they_do_not_fade(backend: str) -> None:
    strengths = {}
    for fades in (True, False):
        world = _tiny(backend, strength_decay=0.1, latent_fades=fades)
        state = world.init_state(np.arange(100), np.random.default_rng(0))
        state, events = _serve(world, state, _alpha_slates(world, 100), steps=8)
        assert np.sum([ev.clicked for ev in events]) > 0
        strengths[fades] = state.users.anchor_strength[:, 1]
    np.testing.assert_array_equal(strengths[False], 1.0)  # tiny's latent strength, untouched
    assert (strengths[True] < 1.0).any()


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_self_discovery_puts_the_latent_interest_in_the_history_without_an_event(backend: str) -> None:
    for rate in (0.0, 1.0):
        world = _tiny(backend, self_discovery_rate=rate, horizon_days=30, max_session_steps=2)
        state = world.init_state(np.arange(50), np.random.default_rng(0))
        beta = world.level.index_of("beta")
        state, events = _serve(world, state, _alpha_slates(world, 50), steps=4)
        restarted = np.any([ev.session_end for ev in events], axis=0) & ~state.session.done
        assert restarted.sum() > 40  # two requests per session: most users began a new one
        found = state.users.anchor_discovered[:, 1]
        assert not np.any([ev.discovered for ev in events])  # alpha slates: nothing recommended found beta
        in_history = (world.observe(state)["clusters"] == beta).any(axis=1)
        if rate == 0.0:
            assert not found.any() and not in_history.any()
        else:
            assert found[restarted].all() and in_history[restarted].all()
            assert not found[~restarted & (state.session.day == 0)].any()  # only at a new session


def test_new_knobs_reject_bad_values() -> None:
    with pytest.raises(ConfigError, match="journey_predictability"):
        envs.WorldConfig(journey_predictability=1.5)
    with pytest.raises(ConfigError, match="journey_level"):
        envs.WorldConfig(journey_level="domain")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="journeys_per_source"):
        envs.WorldConfig(journeys_per_source=0)
    with pytest.raises(ConfigError, match="boredom_rate"):
        envs.WorldConfig(boredom_rate=-0.1)


def test_a_user_with_two_latent_interests_in_one_cluster_does_not_leak_into_the_ceiling() -> None:
    """Targets independent of histories, each user's repeated (two interests, one cluster): the
    leave-one-out ceiling must stay at chance (counted twice, a user's own answer would win)."""
    from envs.ceiling import JourneyProbe

    rng = np.random.default_rng(0)
    n, m = 20_000, 50
    histories = np.stack([rng.integers(0, m, n), rng.integers(0, m, n)], axis=1)
    histories[:, 1] = np.where(histories[:, 1] == histories[:, 0], (histories[:, 0] + 1) % m, histories[:, 1])
    target = (histories[:, 1] + 1 + rng.integers(0, m - 2, n)) % m
    target = np.where(target == histories[:, 0], (target + 1) % m, target)
    target = np.where(np.isin(target, histories[:, 1]) & (target == histories[:, 1]), (target + 1) % m, target)
    ok = (target != histories[:, 0]) & (target != histories[:, 1])
    probe = JourneyProbe(histories[ok], histories[ok], np.stack([target[ok], target[ok]], axis=1), m)
    c = ceiling(probe)
    assert abs(c.chance - 1 / (m - 2)) < 1e-9
    assert c.estimate < 1.5 * c.chance


def test_semantic_share_draws_targets_from_the_words_or_at_random() -> None:
    """journey_semantic_share: 1 = every source's targets are its nearest sources by the words of
    the descriptions; 0 = distinct random other sources; in between, about that share of
    sources; None keeps v2's embedding-nearest targets (the same tables as before the knob)."""
    k = 2
    semantic = journeys.semantic_neighbours(envs.make_world("default", journey_semantic_share=1.0))[:, :k]
    names = envs.make_world("default").taxonomy.topics
    investing = names.index("investing")
    assert "cryptocurrency" in [names[t] for t in semantic[investing]]  # the words say so
    tables = {s: journeys.targets(envs.make_world("default", journey_semantic_share=s)) for s in (1.0, 0.5, 0.0)}
    np.testing.assert_array_equal(tables[1.0], semantic)
    n = len(semantic)
    for table in tables.values():
        assert (table != np.arange(n)[:, None]).all() and (table[:, 0] != table[:, 1]).all()
    share = (tables[0.5] == semantic).all(axis=1).mean()
    assert 0.4 < share < 0.6
    assert (tables[0.0] == semantic).all(axis=1).mean() < 0.05
    assert envs.make_world("default").config.journey_semantic_share == 0.5  # world v3
    v2 = envs.make_world("v2")
    assert v2.config.journey_semantic_share is None
    assert not (journeys.targets(v2) == semantic).all(axis=1).all()
    with pytest.raises(ConfigError, match=r"journey_semantic_share=1\.5 must lie in \[0, 1\]"):
        envs.make_world("default", journey_semantic_share=1.5)
