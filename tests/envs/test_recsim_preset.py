"""RecSim interest_evolution, checked against hand-computed cases from its published rules."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

import envs
from envs import recsim
from envs.state import Response


@pytest.fixture(scope="module")
def world() -> envs.World:
    return envs.make_world("recsim-interest-evolution")


def _state(world: envs.World, interests: list[float] | np.ndarray, budget: float = 200.0):
    n = 1 if np.ndim(interests) == 1 else len(interests)
    st = world.init_state(np.arange(n), np.random.default_rng(0))
    x = np.array(interests, dtype=np.float32).reshape(n, -1)
    full = np.zeros((n, recsim.N_TOPICS), dtype=np.float32)
    full[:, : x.shape[1]] = x
    session = dataclasses.replace(st.session, budget=np.full(n, budget, dtype=np.float32))
    return dataclasses.replace(st, interests=full, session=session)


def _item_of_topic(world: envs.World, topic: int, k: int = 0) -> int:
    return int(world.level.items_in(topic)[k])


def test_corpus_follows_recsim(world: envs.World) -> None:
    assert world.level.n_clusters == 20
    np.testing.assert_allclose(recsim.topic_quality_means()[:14], np.linspace(-3, 0, 14))
    np.testing.assert_allclose(recsim.topic_quality_means()[14:], np.linspace(0, 3, 6))
    means = np.array([world.corpus.quality[world.level.items_in(t)].mean() for t in range(20)])
    np.testing.assert_allclose(means, recsim.topic_quality_means(), atol=0.06)
    assert (world.corpus.length == 4.0).all()


def test_proportional_choice_probabilities() -> None:
    # scores 0.5 and -0.5: weights 1.5 and 0.5, no click (1 - (-1)) = 2; total 4.
    p = envs.choice.proportional_probabilities(np.array([[0.5, -0.5]]), 1.0, -1.0)
    np.testing.assert_allclose(p, [[0.375, 0.125, 0.5]])


def test_choice_frequencies_match(world: envs.World) -> None:
    n = 40_000
    st = _state(world, np.tile([0.5, -0.5], (n, 1)))
    slate = np.tile([_item_of_topic(world, 0), _item_of_topic(world, 1)], (n, 1))
    r = world.respond(st, slate, np.random.default_rng(0))
    freq = [(r.choice == 0).mean(), (r.choice == 1).mean(), (r.choice == -1).mean()]
    np.testing.assert_allclose(freq, [0.375, 0.125, 0.5], atol=0.01)


def test_watch_time_is_min_of_budget_and_length(world: envs.World) -> None:
    st = _state(world, np.tile([1.0], (200, 1)), budget=2.5)
    slate = np.tile([_item_of_topic(world, 0), _item_of_topic(world, 1)], (200, 1))
    r = world.respond(st, slate, np.random.default_rng(1))
    assert set(np.round(r.watch_time[r.choice >= 0], 5)) == {2.5}


def _click(item: int, n: int, watch: float = 4.0) -> Response:
    return Response(
        choice=np.zeros(n, dtype=np.int64), item=np.full(n, item), watch_time=np.full(n, watch, dtype=np.float32),
        completion=np.full(n, watch / 4.0, dtype=np.float32), liked=np.zeros(n, dtype=bool),
        utility=np.zeros(n, dtype=np.float32), interest=np.zeros(n, dtype=np.int64),
        closeness=np.zeros(n, dtype=np.float32),
    )


def test_interest_update_on_click(world: envs.World) -> None:
    n, x = 20_000, 0.2
    item = _item_of_topic(world, 3)
    st = _state(world, np.tile([0, 0, 0, x], (n, 1)))
    new, _ = world.transition(st, np.tile([item, item + 1], (n, 1)), _click(item, n), np.random.default_rng(2))
    delta = 0.3 * (1 - abs(x)) * (1 - x)  # 0.192
    after = new.interests[:, 3]
    np.testing.assert_allclose(np.unique(np.round(after, 5)), np.round([x - delta, x + delta], 5))
    # Up with probability (x + 1) / 2 = 0.6.
    assert abs((after > x).mean() - 0.6) < 0.015
    # Other topics do not move; the input state is not mutated.
    np.testing.assert_array_equal(new.interests[:, :3], 0.0)
    np.testing.assert_array_equal(st.interests[:, 3], np.float32(x))


def test_interest_stays_clipped(world: envs.World) -> None:
    item = _item_of_topic(world, 0)
    st = _state(world, np.tile([0.999], (500, 1)))
    new, _ = world.transition(st, np.tile([item, item + 1], (500, 1)), _click(item, 500), np.random.default_rng(3))
    assert (np.abs(new.interests) <= 1.0).all()


def test_budget_update(world: envs.World) -> None:
    item = _item_of_topic(world, 19)  # a nutritious topic
    q = float(world.corpus.quality[item])
    st = _state(world, [0.5], budget=100.0)
    new, _ = world.transition(st, np.array([[item, item + 1]]), _click(item, 1), np.random.default_rng(0))
    assert new.session.budget[0] == pytest.approx(100.0 - 4.0 + (0.9 / 3.4) * 4.0 * q, rel=1e-5)
    no_click = _click(item, 1)._replace(choice=np.array([-1]), item=np.array([-1]), watch_time=np.zeros(1, np.float32))
    new, _ = world.transition(st, np.array([[item, item + 1]]), no_click, np.random.default_rng(0))
    assert new.session.budget[0] == pytest.approx(99.5)


def test_episode_ends_when_budget_is_spent(world: envs.World) -> None:
    env = envs.InterestExplorationEnv(world=world)
    env.reset(seed=0)
    steps, total, terminated = 0, 0.0, False
    rng = np.random.default_rng(0)
    while not terminated:
        _, reward, terminated, truncated, _ = env.step(rng.choice(world.corpus.n_items, 2, replace=False))
        total += reward
        steps += 1
        assert not truncated
    assert steps > 10
    assert 0 < total
