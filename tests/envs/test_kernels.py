"""The compiled dynamics (envs.kernels) against the numpy reference (envs.interest, envs.recsim),
and the vector env's recycled output arrays (envs.buffers)."""

from __future__ import annotations

import dataclasses
import itertools
import os
import time

import numpy as np
import pytest

import envs
from envs import kernels
from envs.buffers import RecycledArrays
from envs.logs import organic_slates
from envs.state import Events, copy_state, map_rows
from envs.world import World
from tests.helpers import assert_same

WORLDS = {
    "default": {"n_items": 4000, "cluster_level": "topic"},
    "default, proportional choice": {"n_items": 4000, "choice_model": "proportional"},
    "default, short sessions": {"n_items": 4000, "session_budget": 20.0, "horizon_days": 6, "churn_rate": 0.3},
    "default, journeys": {  # every mechanism of the journeys world, strong enough to act often
        "n_items": 4000, "cluster_level": "topic", "journey_level": "topic", "journeys_per_source": 2,
        "journey_predictability": 0.9, "latent_fades": False, "boredom_rate": 0.2, "boredom_recovery": 0.3,
        "self_discovery_rate": 0.5, "session_budget": 15.0, "horizon_days": 30,
    },
    "tiny": {},
    "recsim-interest-evolution": {"dynamics_params": {"budget": 12.0}},  # short episodes: ends are compared too
}


def _pair(name: str) -> tuple[World, World]:
    preset = name.split(",")[0]
    config = envs.resolve_config(preset, **WORLDS[name])
    return World(config, seed=3, backend="numba"), World(config, seed=3, backend="numpy")


def _rows_equal(a: np.ndarray, b: np.ndarray, rows: np.ndarray) -> None:
    if a.dtype.kind == "f":
        np.testing.assert_allclose(a[rows], b[rows], rtol=1e-4, atol=1e-4)  # float32 rounding
    else:
        np.testing.assert_array_equal(a[rows], b[rows])


@pytest.mark.parametrize("name", list(WORLDS))
def test_kernels_follow_the_numpy_reference(name: str) -> None:
    """From the same state, slates and seed, both backends make the same choices and reach the
    same state and events (floats to rounding). Each step starts from the reference's state,
    so a rare choice that rounding tips the other way cannot spread."""
    fast, reference = _pair(name)
    n = 400
    state = reference.init_state(np.arange(n), np.random.default_rng(0))
    slate_rng = np.random.default_rng(1)
    agree, total, clicks, sessions_ended = 0, 0, 0, 0
    for t in range(25):
        slate = organic_slates(reference, reference.observe(state), slate_rng, explore=0.3)
        new_fast, ev_fast = fast.step(state, slate, np.random.default_rng([t, 9]))
        new_ref, ev_ref = reference.step(state, slate, np.random.default_rng([t, 9]))
        same = np.flatnonzero(ev_fast.item == ev_ref.item)
        agree, total = agree + len(same), total + n
        clicks += int(ev_ref.clicked.sum())
        sessions_ended += int(ev_ref.session_end.sum())
        for a, b in zip(ev_fast, ev_ref, strict=True):
            _rows_equal(a, b, same)
        map_rows(lambda a, b, rows=same: _rows_equal(a, b, rows), new_fast, new_ref)
        assert_same(fast.observe(new_ref), reference.observe(new_ref))  # the compiled observation
        state = new_ref
    assert agree >= 0.999 * total
    assert clicks > 0 and sessions_ended > 0  # the comparison covered clicks and session ends


@pytest.mark.parametrize("name", ["default", "default, journeys", "recsim-interest-evolution"])
def test_step_is_pure_and_step_owned_matches_it(name: str) -> None:
    world, _ = _pair(name)
    n = 64
    state = world.init_state(np.arange(n), np.random.default_rng(0))
    before = copy_state(state)
    slate = organic_slates(world, world.observe(state), np.random.default_rng(1), explore=0.3)
    new, events = world.step(state, slate, np.random.default_rng(2))
    assert_same(dataclasses.asdict(state), dataclasses.asdict(before))  # step left its input alone

    owned, owned_events, obs = copy_state(state), Events.empty(n), world.empty_observation(n)
    world.step_owned(owned, slate, np.random.default_rng(2), owned_events, obs)
    assert_same(dataclasses.asdict(owned), dataclasses.asdict(new))
    assert_same(owned_events._asdict(), events._asdict())
    assert_same(obs, world.observe(new))


def test_backends_reach_the_same_population_statistics() -> None:
    """Long runs of both backends through the vector env agree on what the metrics read."""
    results = {}
    for backend in ("numba", "numpy"):
        world = envs.make_world("default", n_items=4000, backend=backend)
        env = envs.InterestExplorationVectorEnv(512, world=world)
        obs, _ = env.reset(seed=0)
        rng = np.random.default_rng(0)
        clicks = positive = 0
        for _ in range(40):
            obs, _, _, _, info = env.step(organic_slates(world, obs, rng, explore=0.2))
            clicks += info["clicked"].sum()
            positive += info["positive"].sum()
        results[backend] = (clicks, positive)
    (c1, p1), (c2, p2) = results["numba"], results["numpy"]
    # Rounding tips a rare choice, after which the env's random stream shifts (resets draw
    # from it): the runs then differ by sampling noise, about 1 % here.
    assert abs(c1 - c2) <= 0.03 * c2 and abs(p1 - p2) <= 0.03 * p2


@pytest.mark.parametrize("compiled", [True, False])
def test_slate_check_finds_the_first_bad_entry(compiled: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    if not compiled:
        monkeypatch.setattr(kernels, "numba", None)  # the numpy form, used where numba is missing
    rng = np.random.default_rng(0)
    n_items = 20
    for shape in ((5, 4), (600, 2), (600, 10), (7, 1)):  # 600 rows: bad entries past the first block
        for trial in range(60):
            slate = np.argsort(rng.random((shape[0], n_items)), axis=1)[:, : shape[1]]  # distinct, valid
            if trial % 3:  # spoil one entry, late rows included
                i, j = rng.integers(shape[0]), rng.integers(shape[1])
                slate[i, j] = rng.choice([-1, n_items, 10**9, slate[i, (j + 1) % shape[1]]])
            if trial % 5 == 0:  # and sometimes a whole random slate
                slate = rng.integers(-2, n_items + 2, size=shape)
            row, col, kind = kernels.first_bad_slate_entry(slate, n_items)
            bad_rows = [i for i, r in enumerate(slate) if (r < 0).any() or (r >= n_items).any() or len(set(r)) < len(r)]
            assert row == (bad_rows[0] if bad_rows else -1), (shape, trial)
            if kind == 1:
                assert not 0 <= slate[row, col] < n_items
            if kind == 2:
                assert slate[row, col] in slate[row, :col]


def test_without_numba_worlds_step_with_the_numpy_reference(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "numba", None)
    monkeypatch.delenv("NOVELTYGYM_BACKEND", raising=False)
    world = World(envs.resolve_config("tiny"), seed=0)
    assert world.backend == "numpy"
    env = envs.InterestExplorationVectorEnv(4, world=world)
    env.reset(seed=0)
    env.step(np.tile(np.arange(3), (4, 1)))
    with pytest.raises(envs.ConfigError, match="pip install numba"):
        World(envs.resolve_config("tiny"), seed=0, backend="numba")


def test_unknown_backend_is_a_config_error() -> None:
    with pytest.raises(envs.ConfigError, match="backend='cuda'"):
        envs.make_world("tiny", backend="cuda")


def test_recycled_arrays_reuse_a_set_only_when_no_one_holds_any_of_it() -> None:
    pool = RecycledArrays(lambda: [np.empty(4, np.float32), np.empty((4, 2), np.int64)])
    first = pool.take()
    addresses = [a.__array_interface__["data"][0] for a in first]
    second = pool.take()
    assert not np.shares_memory(second[0], first[0])  # still held
    del first
    again = pool.take()
    assert [a.__array_interface__["data"][0] for a in again] == addresses
    del again
    kept_view = pool.take()[1][1:]  # a live view of one array keeps its whole set out
    assert not np.shares_memory(pool.take()[1], kept_view)
    del second


def test_vector_env_outputs_kept_by_the_caller_never_change() -> None:
    """The env recycles output arrays; whatever the caller keeps must stay as it was."""
    env = envs.InterestExplorationVectorEnv(8, preset="recsim-interest-evolution")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    kept, copies = [], []
    for t in range(30):
        slate = rng.permuted(np.tile(np.arange(env.world.corpus.n_items), (8, 1)), axis=1)[:, :2]
        out = env.step(slate)
        if t % 3 == 0:  # keep some steps' outputs, drop the others
            kept.append(out)
            copies.append(
                ({k: v.copy() for k, v in out[0].items()}, out[1].copy(), {k: np.copy(v) for k, v in out[4].items()
                                                                           if isinstance(v, np.ndarray)})
            )
    for (obs, reward, _, _, info), (obs_copy, reward_copy, info_copy) in zip(kept, copies, strict=True):
        assert_same(obs, obs_copy)
        assert_same(reward, reward_copy)
        assert_same({k: info[k] for k in info_copy}, info_copy)


def test_envs_step_safely_from_several_python_threads() -> None:
    """Envs stepped from a thread pool (their chunks sharing the kernels' own pool) give the
    same results as in sequence."""
    from concurrent.futures import ThreadPoolExecutor

    def rollout(seed: int) -> list[np.ndarray]:
        env = envs.InterestExplorationVectorEnv(600, preset="recsim-interest-evolution")
        env.reset(seed=seed)
        env.action_space.seed(seed)
        return [env.step(env.action_space.sample())[1].copy() for _ in range(30)]

    sequential = [rollout(s) for s in range(4)]
    with ThreadPoolExecutor(4) as pool:
        threaded = list(pool.map(rollout, range(4)))
    assert_same(threaded, sequential)


def test_chunks_cover_every_user_once_and_wait_for_each_other() -> None:
    from envs.kernels import chunks

    assert chunks.chunk_bounds(10, 3, 4) == [(0, 4), (4, 8), (8, 10)]
    assert chunks.chunk_bounds(5000, 2, 256) == [(0, 2560), (2560, 5000)]
    assert chunks.chunk_bounds(5000, 2, 256, head=1000) == [(0, 3072), (3072, 5000)]
    assert chunks.chunk_bounds(5000, 2, 256, head=10**6) == [(0, 3840), (3840, 5000)]  # head capped
    for n, k, head in ((10_000, 3, 700), (257, 2, 0), (9000, 4, 5000)):
        bounds = chunks.chunk_bounds(n, k, 256, head)
        assert bounds[0][0] == 0 and bounds[-1][1] == n and len(bounds) <= k
        assert all(a[1] == b[0] and b[0] % 256 == 0 for a, b in itertools.pairwise(bounds))
    n = 4 * chunks.MIN_CHUNK + 3
    seen = np.zeros(n, dtype=np.int64)
    chunks.set_threads(3)
    try:
        chunks.run_in_chunks(lambda lo, hi: seen.__setitem__(slice(lo, hi), seen[lo:hi] + 1), n, 256)
        assert (seen == 1).all()

        finished = []

        def fail_first(lo: int, hi: int) -> None:
            if lo == 0:
                raise ValueError("boom")
            time.sleep(0.05)
            finished.append(lo)

        with pytest.raises(ValueError, match="boom"):
            chunks.run_in_chunks(fail_first, n, 256)
        assert len(finished) == 2  # the other chunks were done before the error came back
    finally:
        chunks.set_threads(os.cpu_count() or 1)


def _forked_rollout(seed: int) -> float:
    env = envs.InterestExplorationVectorEnv(3 * 2048, preset="recsim-interest-evolution", num_threads=2)
    env.reset(seed=seed)
    env.action_space.seed(seed)
    return float(sum(env.step(env.action_space.sample())[1].sum() for _ in range(10)))


def test_chunked_steps_work_in_a_forked_child() -> None:
    """The parent's helper threads do not exist in a forked child: it starts its own."""
    import multiprocessing

    if "fork" not in multiprocessing.get_all_start_methods():
        pytest.skip("no fork on this platform")
    parent = _forked_rollout(1)  # starts the parent's helpers
    with multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.map_async(_forked_rollout, [1]).get(timeout=120) == [parent]  # no hang


@pytest.mark.parametrize("level", ["domain", "subtopic", 600])
def test_pruned_nearest_clusters_answer_what_the_full_search_answers(level: str | int) -> None:
    """The oracle's compiled search, from good, random or no guesses, and for interests near a
    centroid, between centroids, far from all, and on a centroid tie, answers as the reference."""
    from envs import interest
    from envs.kernels import interest as compiled

    world = World(envs.resolve_config("default", n_items=4000), seed=3, backend="numba")
    centroids = world.clusters.level(level).centroids
    m, d = centroids.shape
    rng = np.random.default_rng(0)
    near = centroids[rng.integers(0, m, 3000)] + rng.normal(0, 0.05, (3000, d))
    between = 0.5 * (centroids[rng.integers(0, m, 1000)] + centroids[rng.integers(0, m, 1000)])
    far = rng.normal(0, 10.0, (500, d))
    tie = 0.5 * (centroids[:1] + centroids[1:2]).repeat(4, axis=0)  # as near one as the other
    pos = np.concatenate([near, between, far, tie]).astype(np.float32).reshape(-1, 2, d)
    expected = interest.nearest_clusters(pos, centroids)
    sq_norms = (centroids**2).sum(axis=1)
    neighbours = compiled.centroid_neighbours(centroids)
    assert (neighbours[0][:, 0] == np.arange(m)).all()  # every centroid is its own nearest
    true_d2 = ((pos[:, :, None, :].astype(np.float64) - centroids.astype(np.float64)) ** 2).sum(axis=3)
    for guess in (None, expected, rng.integers(0, m, expected.shape), np.zeros_like(expected)):
        got = compiled.nearest_clusters(pos, centroids, sq_norms, neighbours, guess)
        # Midpoints are ties the reference's BLAS and the kernel may round apart; nothing else.
        differ = got != expected
        assert differ.reshape(-1)[: len(near)].sum() == 0
        d_got = np.take_along_axis(true_d2, got[..., None], axis=2)[differ]
        d_expected = np.take_along_axis(true_d2, expected[..., None], axis=2)[differ]
        np.testing.assert_allclose(d_got, d_expected, rtol=1e-5)
    # Read in place from a wider array of anchors (columns), the positions copied out for the next call.
    wide = np.concatenate([rng.normal(0, 1, pos.shape).astype(np.float32), pos], axis=1)[:, [2, 0, 3, 1]]
    seen = np.empty_like(pos)
    got = compiled.nearest_clusters(wide, centroids, sq_norms, neighbours, expected, pos, columns=np.array([0, 2]),
                                    seen=seen)
    np.testing.assert_array_equal(got, expected)  # unmoved positions keep their guess
    np.testing.assert_array_equal(seen, pos)
    searched = compiled.nearest_clusters(wide, centroids, sq_norms, neighbours, None, columns=np.array([0, 2]))
    assert (searched.reshape(-1)[: len(near)] == expected.reshape(-1)[: len(near)]).all()


def test_oracle_latent_clusters_agree_across_backends_while_interests_move() -> None:
    config = envs.resolve_config("default", n_items=4000)
    worlds = {b: World(config, seed=3, backend=b) for b in kernels.BACKENDS}
    env = envs.InterestExplorationVectorEnv(3000, world=worlds["numba"])
    env.reset(seed=5)
    for _ in range(8):
        state = env.state
        answers = {b: w.oracle_latent_clusters(state) for b, w in worlds.items()}
        assert_same(answers["numba"], answers["numpy"])
        env.step(env.action_space.sample())
    env.close()


def test_ring_history_is_the_shifted_window_rotated() -> None:
    """``record_ring`` (the rollout's history, a ring) keeps what ``record`` keeps: after the same
    clicks, each ring read from its oldest slot round is the shifted window, with the same
    novel/unexpected flags and engaged bitsets."""
    common = pytest.importorskip("envs.kernels.common")
    n, h, m = 300, 7, 20
    windows = {}
    for ring in (False, True):
        items, clusters = np.full((n, h), -1), np.full((n, h), -1)
        responses, engaged = np.zeros((n, h, 3), np.float32), np.zeros((n, (m + 7) // 8), np.uint8)
        oldest = np.zeros(n, dtype=np.int64)
        draws = np.random.default_rng(1)
        flags = []
        for _ in range(25):  # more clicks than the window holds
            ev = Events.empty(n)
            ev.clicked[:] = draws.random(n) < 0.6
            ev.cluster[:] = np.where(ev.clicked, draws.integers(0, m, n), -1)
            ev.item[:] = np.where(ev.clicked, draws.integers(0, 100, n), -1)
            ev.watch_time[:], ev.completion[:] = draws.random(n), draws.random(n)
            ev.liked[:] = draws.random(n) < 0.3
            ev.positive[:] = ev.clicked & (draws.random(n) < 0.5)
            if ring:
                common.record_ring(0, n, ev, items, clusters, responses, engaged, oldest)
            else:
                common.record(0, n, ev, items, clusters, responses, engaged)
            flags.append((ev.novel.copy(), ev.unexpected.copy()))
        order = (oldest[:, None] + np.arange(h)[None, :]) % h  # ring slots, oldest first
        rows = np.arange(n)[:, None]
        windows[ring] = (items[rows, order], clusters[rows, order], responses[rows, order], engaged, flags)
    shifted, ringed = windows[False], windows[True]
    for a, b in zip(shifted[:4], ringed[:4], strict=True):
        np.testing.assert_array_equal(a, b)
    for (novel_a, unexpected_a), (novel_b, unexpected_b) in zip(shifted[4], ringed[4], strict=True):
        np.testing.assert_array_equal(novel_a, novel_b)
        np.testing.assert_array_equal(unexpected_a, unexpected_b)
