"""The compiled path of ``act()`` (agents.compiled) makes the decisions of the numpy reference:
every hierarchical agent, run on a running population (histories filled, learning online) with
either path from the same seeds, serves the same slates, exploratory slots and clusters."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from agents import compiled, make_agent
from agents.observations import in_window, last_distinct, positive_window
from agents.sampling import duplicate_mask, top_k_members
from agents.types import Transition
from envs import interest
from envs.logs import organic_logs

pytestmark = pytest.mark.skipif(compiled.kernels is None, reason="numba does not import here")

USERS = 4500  # above two kernel chunks (envs.kernels.chunks.MIN_CHUNK), so chunk seams are crossed


class VariedTable:
    """A transition-table stand-in with three answers per history, differing between histories."""

    def __init__(self, n_clusters: int, context_length: int) -> None:
        self.n_clusters, self.context_length = n_clusters, context_length
        self.answers = np.random.default_rng(5).integers(0, n_clusters, size=(n_clusters**context_length, 3))

    def lookup(self, histories: np.ndarray) -> np.ndarray:
        rows = histories[:, 0].astype(np.int64)
        for j in range(1, self.context_length):
            rows = rows * self.n_clusters + histories[:, j]
        return self.answers[rows]


@pytest.fixture(scope="module")
def world():
    return envs.make_world("default")


def rollout(world, name: str, backend: str, steps: int, **kw):
    agent = make_agent(name, world, seed=7, **kw)
    agent.set_backend(backend)
    env = envs.InterestExplorationVectorEnv(USERS, world=world)
    obs, _ = env.reset(seed=3)
    agent.reset(seed=7)
    agent.bind(env)
    actions = []
    for _ in range(steps):
        action = agent.act_explained(obs)
        actions.append(action)
        next_obs, reward, _, _, info = env.step(action.slates)
        agent.update(Transition(obs, action.slates, reward, next_obs, info, action.exploratory))
        obs = next_obs
    env.close()
    return actions


@pytest.mark.parametrize("name", ["hierarchical-llm", "hierarchical-markov", "hierarchical-counts",
                                  "hierarchical-random", "hierarchical-oracle"])
def test_both_paths_make_the_same_decisions(world, name) -> None:
    kw = {
        "hierarchical-llm": lambda: {"table": VariedTable(world.level.n_clusters, 2)},
        "hierarchical-markov": lambda: {"logs": organic_logs(world, 300, 40, seed=1)},
        "hierarchical-counts": lambda: {"logs": organic_logs(world, 2000, 100, seed=1)},
    }.get(name, dict)()
    steps = 14  # past the exploit recommender's first retraining (every 10 steps)
    reference = rollout(world, name, "numpy", steps, **kw)
    fast = rollout(world, name, "numba", steps, **kw)
    for t, (a, b) in enumerate(zip(reference, fast, strict=True)):
        assert np.array_equal(a.slates, b.slates), f"{name}: slates differ at step {t}"
        assert np.array_equal(a.exploratory, b.exploratory), f"{name}: exploratory slots differ at step {t}"
        assert np.array_equal(a.clusters, b.clusters), f"{name}: explored clusters differ at step {t}"


def test_kernels_match_the_reference_on_edge_cases() -> None:
    """Empty windows, runs of one cluster, ties of scores, excluded and padded members."""
    rng = np.random.default_rng(0)
    window = rng.integers(-1, 4, size=(300, 10))
    window[:20] = -1
    window[20:40] = 2
    responses = rng.random((300, 10, 3)).astype(np.float32)
    responses[..., 2] = rng.random((300, 10)) < 0.3  # liked
    obs = {"clusters": window, "responses": responses}
    for length in (1, 2, 5, 12):
        assert np.array_equal(compiled.last_distinct(window, length), last_distinct(window, length))
        expected = last_distinct(positive_window(obs), length)
        assert np.array_equal(compiled.positive_history(obs, length), expected)
    clusters = rng.integers(0, 5, size=(300, 3))
    assert np.array_equal(compiled.in_window(clusters, window), in_window(clusters, window))
    assert np.array_equal(compiled.in_window(clusters[:, 0], window), in_window(clusters[:, 0], window))
    members = rng.integers(-1, 30, size=(300, 12))
    scores = np.round(rng.normal(size=(300, 12)), 1).astype(np.float32)  # many ties
    exclude = rng.integers(-1, 30, size=(300, 6))
    for k in (1, 3, 15):
        for ex in (None, exclude):
            assert np.array_equal(compiled.top_k_members(members, scores, k, ex), top_k_members(members, scores, k, ex))
    slate = rng.integers(0, 6, size=(300, 8))
    fixed = rng.random((300, 8)) < 0.3
    fixed[np.arange(300), rng.integers(0, 8, 300)] = False  # rows with repeats among free slots
    rows = np.arange(0, 300, 2)
    at_row, at_col, repeats = np.empty(slate.size, np.int64), np.empty(slate.size, np.int64), np.empty(150, bool)
    n = compiled.kernels.duplicate_entries(rows, slate, fixed, at_row, at_col, repeats)
    mask = duplicate_mask(slate[rows], fixed[rows])
    expected_row, expected_col = np.nonzero(mask)  # row-major, the reference's order of redraws
    assert np.array_equal(at_row[:n], rows[expected_row]) and np.array_equal(at_col[:n], expected_col)
    assert np.array_equal(repeats, mask.any(axis=1))


def test_cluster_top_k_on_any_table_layout() -> None:
    """The fused pass ranks as the reference on tables whose rows are valid members then
    padding (its one-pass path), have padding between members, or hold no member, with item
    terms that tie or are -inf, with and without noise, k = 1 and 3."""
    from agents.sampling import gumbel, valid_prefix

    rng = np.random.default_rng(5)
    table = np.stack([rng.permutation(40)[:12] for _ in range(6)])
    table[1, 7:] = -1  # a short cluster
    table[2, [3, 8]] = -1  # padding between members
    table[3] = -1  # no member
    lengths = valid_prefix(table)
    assert lengths.tolist() == [12, 7, -1, 0, 12, 12]
    term = np.round(0.5 * rng.normal(size=40), 0).astype(np.float32)  # mostly -1, 0, 1: ties at the top
    term[rng.integers(0, 40, 8)] = -np.inf
    term[table[5]] = -np.inf  # a row whose every member scores -inf
    clusters = rng.integers(0, 6, 500)
    members = np.take(table, clusters, axis=0)
    for noisy in (False, True):
        for k in (1, 3):
            rng_a, rng_b = np.random.default_rng(k), np.random.default_rng(k)
            scores = term[np.maximum(members, 0)] + (gumbel(rng_a, members.shape) if noisy else 0)
            expected = top_k_members(members, scores, k)
            got = compiled.cluster_top_k(table, lengths, clusters, term, noisy, k, None, np.zeros(0, np.int64), rng_b)
            assert np.array_equal(got, expected), f"noisy={noisy}, k={k}"


def test_oracle_reuse_of_unmoved_users_is_exact(world) -> None:
    """``World.oracle_latent_clusters`` recomputes only users whose interests moved; it answers
    what a fresh computation answers."""
    agent = make_agent("hierarchical-oracle", world, seed=0)
    env = envs.InterestExplorationVectorEnv(2000, world=world)
    obs, _ = env.reset(seed=1)
    agent.bind(env)
    for _ in range(6):
        latent, _ = world.oracle_latent_clusters(env.state)
        users = env.state.users
        fresh = interest.nearest_clusters(users.anchor_pos[:, users.anchor_latent[0]], world.level.centroids)
        assert np.array_equal(latent, fresh)
        obs, *_ = env.step(agent.act(obs))
    env.close()


def test_top_k_finds_excluded_members_by_cluster(world) -> None:
    """Given the level's item clusters, rows holding an excluded item are found by cluster; the
    answer is the reference's, with whole clusters as members, ties and -1 padding included."""
    from agents.sampling import padded_members

    rng = np.random.default_rng(3)
    clusters = rng.integers(0, world.level.n_clusters, 2000)
    members = np.take(padded_members(world.level), clusters, axis=0)
    scores = np.round(rng.normal(size=members.shape), 1).astype(np.float32)  # many ties
    exclude = rng.integers(-1, world.corpus.n_items, size=(2000, 6))
    exclude[::3, 0] = members[::3, 0]  # a third of the rows hold an excluded member
    for k in (1, 3, 25):
        expected = top_k_members(members, scores, k, exclude)
        assert np.array_equal(compiled.top_k_members(members, scores, k, exclude, world.level.item_cluster), expected)


@pytest.mark.parametrize("policy", ["random", "quality", "quality-sampled", "engagement"])
def test_item_policies_pick_the_references_items(world, policy) -> None:
    """The fused compiled pass (``compiled.cluster_top_k``: noise drawn in chunks, members read
    from the cluster table) picks the reference's items and leaves the generator where the
    reference does, for every policy with additive scores, excluded items and k up to the
    size of the smallest clusters included."""
    from agents.exploit import ExploitRecommender
    from agents.items.simple import EngagementItems, QualityItems, RandomItems

    exploit = ExploitRecommender(world, 0)
    make = {
        "random": lambda: RandomItems(world),
        "quality": lambda: QualityItems(world),
        "quality-sampled": lambda: QualityItems(world, temperature=0.3),
        "engagement": lambda: EngagementItems(world, exploit),
    }[policy]
    env = envs.InterestExplorationVectorEnv(USERS + 1, world=world)  # odd: float32 draws leave a half
    obs, _ = env.reset(seed=2)
    for _ in range(3):
        obs, *_ = env.step(exploit.act(obs))
    env.close()
    rng = np.random.default_rng(4)
    sizes = world.level.sizes
    clusters = rng.choice(np.flatnonzero(sizes > 0), USERS + 1)
    clusters[::5] = world.level.item_cluster[np.maximum(obs["items"][::5, -1], 0)]  # rows holding recent items
    for k in (1, 3, int(sizes[sizes > 0].min()) + 1):
        reference, fast = make(), make()
        reference.backend, fast.backend = "numpy", "numba"
        rng_a, rng_b = np.random.default_rng(k), np.random.default_rng(k)
        rng_a.random(3, dtype=np.float32)  # a leftover half from an earlier float32 draw
        rng_b.random(3, dtype=np.float32)
        expected = reference.select(obs, clusters, k, rng_a)
        assert np.array_equal(fast.select(obs, clusters, k, rng_b), expected), f"{policy}, k={k}"
        assert rng_a.random() == rng_b.random()


def test_gumbel_noise_is_the_formula_it_always_was() -> None:
    """``gumbel`` computes its noise in place and in fewer passes than the expression it
    replaced; every slate drawn with it depends on the two agreeing bit for bit, zeros included."""
    from agents.sampling import gumbel

    eps = np.float32(1e-20)
    u = np.random.default_rng(3).random((500, 97), dtype=np.float32)
    u[0, :5] = 0.0
    expected = -np.log(-np.log(u + eps) + eps)

    class Replay:
        def random(self, shape, dtype):
            return u.copy()

    assert np.array_equal(gumbel(Replay(), u.shape), expected)  # type: ignore[arg-type]
