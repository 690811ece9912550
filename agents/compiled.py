"""The compiled path of ``act()``: numpy-compatible wrappers around ``agents.kernels``.

Each function here has the signature and the result of a numpy function of agents, which stays
the reference (named in each docstring). Random numbers are drawn here, on the caller's
generator, with exactly the reference's calls, shapes and order; the kernels do the work between
draws. So an agent gives the same slates on either path from the same seed
(tests/agents/test_compiled.py).

Which path runs follows the world's backend (``World.backend``: ``NOVELTYGYM_BACKEND`` or
``make_world(..., backend=...)``): 'numba' runs these, 'numpy' the reference, and so does every
process where numba cannot be imported. Agents keep the choice in their ``backend`` attribute.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from agents.sampling import exclusion_shift, gumbel_in_place, no_distinct_slates
from agents.types import Obs
from envs.kernels.chunks import run_in_chunks
from envs.kernels.draws import RowDraws

if TYPE_CHECKING:
    from agents.exploit import ExploitRecommender
    from agents.sampling import ClusterItems
    from agents.selectors.markov import MarkovSelector

try:
    from agents import kernels
except ImportError:  # numba missing: the numpy reference only
    kernels = None  # type: ignore[assignment]

ALIGN = 64  # chunk starts, in users


def enabled(backend: str) -> bool:
    """Whether an agent with this backend runs the compiled path."""
    return backend == "numba" and kernels is not None


def last_distinct(window: np.ndarray, length: int) -> np.ndarray:
    """``agents.observations.last_distinct``."""
    return _last_distinct(window, np.zeros((0, 0, 0), dtype=np.float32), length)


def positive_history(obs: Obs, length: int) -> np.ndarray:
    """``last_distinct(positive_window(obs), length)`` in one pass, without the masked window."""
    return _last_distinct(obs["clusters"], obs["responses"], length)


def _last_distinct(window: np.ndarray, responses: np.ndarray, length: int) -> np.ndarray:
    w, r = np.ascontiguousarray(window), np.ascontiguousarray(responses)
    out = np.empty((len(w), length), dtype=np.int64)
    run_in_chunks(lambda lo, hi: kernels.last_distinct_rows(lo, hi, w, r, out), len(w), ALIGN, "agents.last_distinct")
    return out


def in_window(clusters: np.ndarray, window: np.ndarray) -> np.ndarray:
    """``agents.observations.in_window``."""
    c = np.ascontiguousarray(clusters if clusters.ndim == 2 else clusters[:, None])
    w = np.ascontiguousarray(window)
    out = np.empty(c.shape, dtype=bool)
    run_in_chunks(lambda lo, hi: kernels.in_window_rows(lo, hi, c, w, out), len(c), ALIGN, "agents.in_window")
    return out if clusters.ndim == 2 else out[:, 0]


def fill_clusters(exploit: ExploitRecommender, obs: Obs, n: int, rng: np.random.Generator) -> np.ndarray:
    """``ExploitRecommender.fill_clusters``."""
    cfg = exploit.config
    window = np.ascontiguousarray(obs["clusters"])
    b, h = window.shape
    recency = exploit.recency_weights(h)
    resp = np.ascontiguousarray(obs["responses"], dtype=np.float32)
    u = RowDraws(rng, (b, n), np.float32)
    clusters = np.empty((b, n), dtype=window.dtype)
    empty = np.empty(b, dtype=bool)
    base, bonus = np.float32(cfg.engagement_base), np.float32(cfg.engagement_bonus)

    def run(lo: int, hi: int) -> None:
        u.rows(lo, hi)
        kernels.fill_cluster_rows(lo, hi, window, resp, recency, base, bonus, u.out, clusters, empty)

    run_in_chunks(run, b, ALIGN, "agents.fill_clusters")
    if empty.any():  # no history yet
        clusters[empty] = exploit.popular_clusters(int(empty.sum()), n, rng)
    return clusters


def fill(exploit: ExploitRecommender, obs: Obs, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``ExploitRecommender.fill``: ``items.sample_at(clusters, spread_within_groups(clusters,
    u, offset))`` with its two uniform draws made chunk by chunk."""
    clusters = np.ascontiguousarray(fill_clusters(exploit, obs, n, rng), dtype=np.int64)
    u, offset = RowDraws(rng, clusters.shape), RowDraws(rng, clusters.shape)
    items = exploit.items
    out = np.empty(clusters.shape, dtype=items._items.dtype)
    bad = np.zeros(1, dtype=np.int64)

    def run(lo: int, hi: int) -> None:
        u.rows(lo, hi)
        offset.rows(lo, hi)
        kernels.spread_sample_rows(lo, hi, clusters, u.out, offset.out, items._cdf, items._coarse, items._items,
                                   items.width, items.block, items.sizes, out, bad)

    run_in_chunks(run, len(clusters), ALIGN, "agents.spread_sample")
    if bad[0]:
        items.check(clusters)  # raises the reference's EmptyClusterError
    return out, clusters


def top_k_members(
    members: np.ndarray, scores: np.ndarray, k: int, exclude: np.ndarray | None = None,
    item_cluster: np.ndarray | None = None,
) -> np.ndarray:
    """``agents.sampling.top_k_members``: one pass over every row, and a second over the few
    rows that hold an excluded item (a novel cluster holds none of the user's recent items).
    ``item_cluster`` (N,), when every row's members are a whole cluster of that level, finds
    those rows by cluster instead of comparing every member."""
    s = np.ascontiguousarray(scores)
    if s.dtype.kind != "f":
        s = s.astype(np.float64)
    rows = np.arange(len(members))
    return _ranked(np.ascontiguousarray(members), rows, s, np.zeros(0, s.dtype), s.dtype, k, exclude, item_cluster,
                   lengths=np.zeros(0, dtype=np.int64))


def cluster_top_k(
    table: np.ndarray, lengths: np.ndarray, clusters: np.ndarray, item_term: np.ndarray, noisy: bool, k: int,
    exclude: np.ndarray | None, item_cluster: np.ndarray, rng: np.random.Generator,
) -> np.ndarray:
    """``top_k_members(table[clusters], scores, k, exclude)`` for scores that are a per-item
    term, plus Gumbel noise ``agents.sampling.gumbel(rng, (B, P))`` when ``noisy`` (the item
    policies' ``additive_scores``), in one pass per chunk of users: the chunk's uniforms are
    drawn there (``RowDraws``: the numbers of the reference's one call), turned into noise by
    the reference's numpy expression, then scored and ranked by the kernel, reading members
    from the (M, P) table, whose layout ``lengths`` gives (``agents.sampling.valid_prefix``,
    computed once per table by its owner). The (B, P) members and scores the reference builds
    are never made."""
    b, p = len(clusters), table.shape[1]
    dtype = np.result_type(item_term.dtype, np.float32) if noisy else item_term.dtype
    term = np.ascontiguousarray(item_term)
    if not noisy:
        return _ranked(table, clusters, np.zeros((0, 0), dtype), term, dtype, k, exclude, item_cluster, lengths)
    draws = RowDraws(rng, (b, p), np.float32)
    # The noise's last step, a negation, is left to the kernel (t + (-x) rounds as t - x).
    return _ranked(table, clusters, draws.out, term, dtype, k, exclude, item_cluster, lengths,
                   prepare=lambda lo, hi: gumbel_in_place(draws.rows(lo, hi), negate=False), negated=True)


def _ranked(
    table: np.ndarray, row_of: np.ndarray, scores: np.ndarray, item_term: np.ndarray, dtype: np.dtype, k: int,
    exclude: np.ndarray | None, item_cluster: np.ndarray | None, lengths: np.ndarray,
    prepare: Callable[[int, int], object] | None = None, negated: bool = False,
) -> np.ndarray:
    """The k best members of each row (see ``kernels.top_k_rows``), scored in ``dtype``;
    ``prepare(lo, hi)`` first fills the chunk's rows of ``scores`` (on the chunk's thread);
    ``negated``: ``scores`` hold the noise's negation; ``lengths``: ``sampling.valid_prefix(table)``,
    or empty where unknown (the kernel then tests every member for padding)."""
    b = len(row_of)
    ex = np.ascontiguousarray(exclude) if exclude is not None and exclude.size else np.zeros((b, 0), table.dtype)
    by_cluster = np.zeros(0, dtype=np.int64) if item_cluster is None else item_cluster
    flagged = np.empty(b, dtype=bool)
    out = np.empty((b, k), dtype=np.int64)

    def run(lo: int, hi: int) -> None:
        if prepare is not None:
            prepare(lo, hi)
        scratch = np.empty(table.shape[1], dtype=dtype)
        kernels.top_k_rows(lo, hi, table, row_of, scores, item_term, negated, ex, by_cluster, lengths, flagged, out,
                           scratch)

    run_in_chunks(run, b, ALIGN, "agents.top_k" if prepare is None else "agents.cluster_top_k")
    rows = np.flatnonzero(flagged)
    if len(rows):  # rare: the reference's shift, from the bounds of every row's scores
        low, high = np.empty(b, dtype=dtype), np.empty(b, dtype=dtype)
        run_in_chunks(lambda lo, hi: kernels.score_bounds(lo, hi, table, row_of, scores, item_term, negated, low, high),
                      b, ALIGN, "agents.score_bounds")
        shift = exclusion_shift(low.min(initial=np.inf), high.max(initial=-np.inf), dtype).reshape(1)
        run_in_chunks(
            lambda lo, hi: kernels.top_k_excluded_rows(rows[lo:hi], table, row_of, scores, item_term, negated, ex,
                                                       by_cluster, shift, out),
            len(rows), ALIGN, "agents.top_k_excluded",
        )
    return out


def markov_draw(selector: MarkovSelector, history: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``MarkovSelector._draw``."""
    b, m = len(history), selector.n_clusters
    out = np.full(b, -1, dtype=np.int64)
    u = rng.random(b)
    for k in range(selector.context_length, 0, -1):
        tab = selector.tables.get(k)
        if tab is None or not len(tab["keys"]):
            continue
        dense = selector.dense_index(k)
        args = (np.ascontiguousarray(history[:, -k:]), m, tab["keys"],
                np.zeros(0, dtype=np.int32) if dense is None else dense,
                tab["offsets"], tab["targets"], tab["cum"], u, out)

        def run(lo: int, hi: int, a: tuple[object, ...] = args) -> None:
            kernels.markov_order_rows(lo, hi, *a)

        run_in_chunks(run, b, ALIGN, "agents.markov")
    rest = np.flatnonzero(out < 0)
    if len(rest):
        out[rest] = np.searchsorted(selector.target_cum, u[rest] * selector.target_cum[-1], side="right").clip(
            max=m - 1
        )
    return out


def make_distinct(
    slate: np.ndarray,
    clusters: np.ndarray,
    sampler: ClusterItems,
    rng: np.random.Generator,
    fixed: np.ndarray | None = None,
    rounds: int = 8,
) -> np.ndarray:
    """``agents.sampling.make_distinct``."""
    slate = np.array(slate, dtype=np.int64, order="C")
    b, s = slate.shape
    n_items = len(sampler.order)
    rep = np.empty(b, dtype=bool)
    run_in_chunks(lambda lo, hi: kernels.repeating_rows_of(lo, hi, slate, rep), b, ALIGN, "agents.repeats")
    rows = np.flatnonzero(rep)
    if not len(rows):
        return slate
    fix = np.zeros((b, s), dtype=bool) if fixed is None else np.ascontiguousarray(fixed)
    c = np.ascontiguousarray(clusters, dtype=np.int64)
    at_row, at_col = np.empty(len(rows) * s, dtype=np.int64), np.empty(len(rows) * s, dtype=np.int64)
    for r in range(rounds + 64):
        repeats = np.empty(len(rows), dtype=bool)
        n = kernels.duplicate_entries(rows, slate, fix, at_row, at_col, repeats)
        if not n:
            return slate
        rows = rows[repeats]  # later rounds touch only rows still repeating
        if r < rounds:
            u = rng.random(n)  # the reference's order: row-major over the entries redrawn
            if kernels.sample_entries(at_row[:n], at_col[:n], c, u, sampler._cdf, sampler._coarse, sampler._items,
                                      sampler.width, sampler.block, sampler.sizes, slate):
                sampler.check(c[at_row[:n], at_col[:n]])
        else:
            slate[at_row[:n], at_col[:n]] = rng.integers(0, n_items, size=n)
    raise no_distinct_slates(s, n_items)


def counts_draw(counts: np.ndarray, history: np.ndarray, window: np.ndarray, power: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``CountsSelector.select`` up to its fallback: (B,) proposals and (B,) row totals, drawing
    ``rng.random(B)`` as the reference does (whole powers only)."""
    h = np.ascontiguousarray(history, dtype=np.int64)
    w = np.ascontiguousarray(window, dtype=np.int64)
    u = rng.random(len(w))
    out = np.empty(len(w), dtype=np.int64)
    total = np.empty(len(w), dtype=np.float64)
    run_in_chunks(lambda lo, hi: kernels.counts_draw_rows(lo, hi, counts, h, w, power, u, out, total),
                  len(w), ALIGN, "agents.counts_draw")
    return out, total


def oracle_pick(latent: np.ndarray, discovered: np.ndarray, window: np.ndarray, u: np.ndarray) -> np.ndarray:
    """``OracleSelector.select``'s choice among the latent clusters, given its uniforms u."""
    lat, disc = np.ascontiguousarray(latent, dtype=np.int64), np.ascontiguousarray(discovered)
    w = np.ascontiguousarray(window, dtype=np.int64)
    out = np.empty(len(lat), dtype=np.int64)
    run_in_chunks(lambda lo, hi: kernels.oracle_pick_rows(lo, hi, lat, disc, w, u, out), len(lat), ALIGN,
                  "agents.oracle_pick")
    return out
