"""The 'interest' dynamics (``envs.interest``) compiled: respond, transition and observation
in passes over blocks of users, chunks of blocks on several threads (``envs.kernels.chunks``),
updating a state the caller owns in place.

``envs.interest`` is the readable reference; this kernel draws the same random numbers in
the same order and follows it step by step (tests/envs/test_kernels.py checks that both
agree). Each pass is one loop over users that keeps a user's anchors, history and slate in
cache; the numpy form spends its time on many passes over (B, S, ...) temporaries.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

from envs.interest import POSITIVE_COMPLETION, choice_floor, drift_interests, self_discover
from envs.kernels.chunks import run_in_chunks
from envs.kernels.common import BLOCK, choose, jit, mark_inactive, record_and_observe
from envs.state import Events, InterestState

if TYPE_CHECKING:
    from envs.clusters import ClusterLevel
    from envs.world import World


class Params(NamedTuple):
    """The config values the kernel reads, as plain numbers (numba passes them by value)."""

    w_affinity: float
    w_quality: float
    w_satiation: float
    width: float
    mnl: bool
    no_click_utility: float
    temperature: float
    proportional_floor: float
    like_threshold: float
    learning_rate: float
    strength_decay: float
    strength_gain: float
    discovery_affinity: float
    satiation_decay: float
    no_click_cost: float
    max_session_steps: int
    churn_rate: float
    return_bias: float
    return_slope: float
    horizon_days: int
    session_budget: float
    latent_fades: bool
    boredom_rate: float
    boredom_recovery: float
    completion_offset: float
    completion_noise: float
    like_slope: float
    return_midpoint: float


def params(world: World) -> Params:
    cfg = world.config
    return Params(
        w_affinity=cfg.w_affinity, w_quality=cfg.w_quality, w_satiation=cfg.w_satiation,
        width=cfg.affinity_width, mnl=cfg.choice_model == "mnl", no_click_utility=cfg.no_click_utility,
        temperature=cfg.choice_temperature, proportional_floor=choice_floor(cfg),
        like_threshold=cfg.like_threshold, learning_rate=cfg.interest_learning_rate,
        strength_decay=cfg.strength_decay, strength_gain=cfg.strength_gain,
        discovery_affinity=cfg.discovery_affinity, satiation_decay=cfg.satiation_decay,
        no_click_cost=cfg.no_click_cost, max_session_steps=cfg.max_session_steps, churn_rate=cfg.churn_rate,
        return_bias=cfg.return_bias, return_slope=cfg.return_slope, horizon_days=cfg.horizon_days,
        session_budget=cfg.session_budget, latent_fades=cfg.latent_fades, boredom_rate=cfg.boredom_rate,
        boredom_recovery=cfg.boredom_recovery, completion_offset=cfg.completion_offset,
        completion_noise=cfg.completion_noise, like_slope=cfg.like_slope, return_midpoint=cfg.return_midpoint,
    )


def step_inplace(world: World, state: InterestState, slate: np.ndarray, rng: np.random.Generator,
                 events: Events, obs: dict[str, np.ndarray]) -> None:
    """One step of every user of ``state`` (mutated), events and observation written into
    ``events`` and ``obs``. ``slate`` must have passed ``World.validate_slate``."""
    u, s, c = state.users, state.session, world.corpus
    n = len(slate)
    respond_uniforms = rng.random((n, 3))  # the draws of envs.interest.respond ...
    session_uniforms = rng.random((n, 2))  # ... and of its session update, in that order
    again = np.empty(n, dtype=np.bool_)

    def run(lo: int, hi: int) -> None:
        _step(
            world.kernel_params, lo, hi, slate, respond_uniforms, session_uniforms,
            c.embeddings, world.embedding_sq, c.quality, c.leaf, c.length, world.level.item_cluster,
            u.anchor_pos, u.anchor_strength, u.anchor_latent, u.anchor_discovered, u.sat_leaf, u.sat_weight,
            u.anchor_boredom, s.user_id, s.hist_items, s.hist_clusters, s.hist_responses, s.engaged, s.budget, s.day,
            s.session_steps, s.session_positive, s.days_away, s.done, s.terminated,
            events, obs["items"], obs["clusters"], obs["responses"], obs["session"], again,
        )

    run_in_chunks(run, n, BLOCK, key="interest")
    rows = np.flatnonzero(again)
    drift_interests(u.anchor_pos, rows, world.config.drift_std, rng)
    if world.config.self_discovery_rate and len(rows):
        found = self_discover(world, u, s, rows, rng)
        obs["items"][found] = s.hist_items[found]
        obs["clusters"][found] = s.hist_clusters[found]
        obs["responses"][found] = s.hist_responses[found]


@njit(nogil=True, cache=True, fastmath={"reassoc", "contract"})
def _utility(p, lo, hi, slate, emb, emb_sq, quality, leaf, anchor_pos, anchor_strength, sat_leaf, sat_weight,
             anchor_boredom, util, aff, which):  # type: ignore[no-untyped-def]
    """util, aff, which (hi - lo, S): for users lo..hi-1, the utility of each slate item, its
    affinity term and the interest attaining it (``envs.interest.utility``). Reassociation
    (fastmath) lets LLVM vectorize the short dot products; the order of their sums is immaterial."""
    n_slate = slate.shape[1]
    n_anchors, dim, n_window = anchor_pos.shape[1], anchor_pos.shape[2], sat_leaf.shape[1]
    width2 = p.width * p.width
    bias = np.empty(n_anchors)
    for i in range(lo, hi):
        for a in range(n_anchors):
            norm2 = np.float32(0.0)
            for d in range(dim):
                norm2 += anchor_pos[i, a, d] * anchor_pos[i, a, d]
            strength = anchor_strength[i, a] * (np.float32(1.0) - anchor_boredom[i, a])  # effective_strength
            bias[a] = width2 * math.log(max(strength, np.float32(1e-12))) - 0.5 * norm2
        for j in range(n_slate):
            item = slate[i, j]
            best, best_a = 0.0, 0
            for a in range(n_anchors):
                dot = np.float32(0.0)
                for d in range(dim):
                    dot += anchor_pos[i, a, d] * emb[item, d]
                score = dot + bias[a]
                if a == 0 or score > best:
                    best, best_a = score, a
            affinity = math.exp(np.float32(min((best - 0.5 * emb_sq[item]) / width2, 0.0)))  # float32: expf is faster
            aff[i - lo, j] = affinity
            which[i - lo, j] = best_a
            value = affinity * p.w_affinity + p.w_quality * quality[item]
            if p.w_satiation != 0.0:
                sat = np.float32(0.0)
                for k in range(n_window):
                    if sat_leaf[i, k] == leaf[item]:
                        sat += sat_weight[i, k]
                value -= p.w_satiation * sat
            util[i - lo, j] = value


@jit
def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@jit
def _step(
    p, first, last, slate, respond_uniforms, session_uniforms,
    emb, emb_sq, quality, leaf, length, item_cluster,
    anchor_pos, anchor_strength, anchor_latent, anchor_discovered, sat_leaf, sat_weight, anchor_boredom,
    user_id, hist_items, hist_clusters, hist_responses, engaged, budget, day,
    session_steps, session_positive, days_away, done, terminated,
    ev, obs_items, obs_clusters, obs_responses, obs_session, again,
):  # type: ignore[no-untyped-def]
    """Users first..last-1, a block at a time."""
    n_slate = slate.shape[1]
    for lo in range(first, last, BLOCK):
        hi = min(lo + BLOCK, last)
        util = np.empty((hi - lo, n_slate), dtype=np.float32)
        aff = np.empty((hi - lo, n_slate), dtype=np.float32)
        which = np.empty((hi - lo, n_slate), dtype=np.int64)
        _utility(p, lo, hi, slate, emb, emb_sq, quality, leaf, anchor_pos, anchor_strength, sat_leaf, sat_weight,
                 anchor_boredom, util, aff, which)
        choice = np.empty(hi - lo, dtype=np.int64)
        choose(util, p.mnl, p.no_click_utility, p.temperature, p.proportional_floor, respond_uniforms[lo:hi, 0], choice)
        _respond_and_update(
            p, lo, hi, slate, choice, util, aff, which, respond_uniforms, session_uniforms,
            emb, leaf, length, item_cluster,
            anchor_pos, anchor_strength, anchor_latent, anchor_discovered, sat_leaf, sat_weight, anchor_boredom,
            user_id, budget, day, session_steps, session_positive, days_away, done, terminated, ev, again,
        )
        record_and_observe(lo, hi, ev, hist_items, hist_clusters, hist_responses, engaged, budget, day,
                           session_steps, days_away, obs_items, obs_clusters, obs_responses, obs_session)


@jit
def _respond_and_update(
    p, lo, hi, slate, choice, util, aff, which, respond_uniforms, session_uniforms,
    emb, leaf, length, item_cluster,
    anchor_pos, anchor_strength, anchor_latent, anchor_discovered, sat_leaf, sat_weight, anchor_boredom,
    user_id, budget, day, session_steps, session_positive, days_away, done, terminated, ev, again,
):  # type: ignore[no-untyped-def]
    """For users lo..hi-1 who chose ``choice`` (block-relative rows of choice, util, aff,
    which): the response, the interests, and the session's end (``envs.interest.respond`` and
    ``transition`` but for the history, which ``record_and_observe`` keeps)."""
    n_anchors, n_window = anchor_pos.shape[1], sat_leaf.shape[1]
    for i in range(lo, hi):
        ev.user_id[i] = user_id[i]
        ev.day[i] = day[i]
        again[i] = False
        if done[i]:
            mark_inactive(i, ev)
            continue
        # --- watch, completion and like of the chosen item (envs.interest.respond) ---------
        clicked = choice[i - lo] >= 0
        pos = max(choice[i - lo], 0)
        chosen = util[i - lo, pos]
        r = respond_uniforms[i, 1]
        noise = math.log(r + 1e-12) - math.log1p(-r + 1e-12)  # logistic noise
        completion64 = _sigmoid(chosen - p.completion_offset + p.completion_noise * noise)
        completion = np.float32(completion64)
        liked = clicked and respond_uniforms[i, 2] < _sigmoid(p.like_slope * (chosen - p.like_threshold))
        item = slate[i, pos] if clicked else -1
        watch = np.float32(completion64 * length[max(item, 0)])
        positive = clicked and (liked or completion >= POSITIVE_COMPLETION)
        ev.active[i] = True
        ev.clicked[i] = clicked
        ev.item[i] = item
        ev.cluster[i] = item_cluster[item] if clicked else -1
        ev.watch_time[i] = watch if clicked else np.float32(0.0)
        ev.completion[i] = completion if clicked else np.float32(0.0)
        ev.liked[i] = liked
        ev.positive[i] = positive
        ev.utility[i] = chosen if clicked else np.float32(0.0)
        session_steps[i] += 1
        if positive:
            session_positive[i] += 1
        # --- interests (envs.interest._update_interests) ---------------------------------------
        discovered = False
        if clicked:
            b = which[i - lo, pos]
            bored = anchor_boredom[i, b]
            closeness = np.float32(min(aff[i - lo, pos] / max(anchor_strength[i, b] * (np.float32(1.0) - bored), 1e-12),
                                       1.0))
            old = anchor_strength[i, b]
            if positive:
                rate = np.float32(p.learning_rate)
                for d in range(anchor_pos.shape[2]):
                    anchor_pos[i, b, d] += rate * (emb[item, d] - anchor_pos[i, b, d])
            keep = np.float32(1.0 - p.strength_decay)
            for a in range(n_anchors):
                if p.latent_fades or not anchor_latent[i, a] or anchor_discovered[i, a]:
                    anchor_strength[i, a] *= keep
            gained = old + (p.strength_gain if positive else -p.strength_gain)
            anchor_strength[i, b] = min(max(gained, 0.0), 1.0)
            discovered = bool(positive and anchor_latent[i, b] and not anchor_discovered[i, b]
                              and closeness >= p.discovery_affinity)
            if discovered:
                anchor_discovered[i, b] = True
            if p.boredom_rate != 0.0:
                anchor_boredom[i, b] = bored + np.float32(p.boredom_rate) * (np.float32(1.0) - bored)
            decay = np.float32(p.satiation_decay)
            for k in range(n_window - 1):
                sat_leaf[i, k] = sat_leaf[i, k + 1]
                sat_weight[i, k] = sat_weight[i, k + 1] * decay
            sat_leaf[i, n_window - 1] = leaf[item]
            sat_weight[i, n_window - 1] = 1.0
        ev.discovered[i] = discovered
        # --- session end, return or churn (envs.interest._update_session) ----------------------
        left = budget[i] - (watch if clicked else np.float32(p.no_click_cost))
        ended = left <= 0.0 or session_steps[i] >= p.max_session_steps
        budget[i] = left
        if ended:
            satisfaction = session_positive[i] / max(session_steps[i], 1)
            churn = session_uniforms[i, 0] < p.churn_rate * (1.0 - satisfaction)
            pull = p.return_bias + p.return_slope * (satisfaction - p.return_midpoint)
            p_return = min(max(_sigmoid(pull), 1e-3), 1.0 - 1e-9)
            delay = 1 + math.floor(math.log1p(-session_uniforms[i, 1]) / math.log1p(-p_return))
            if churn or day[i] + delay >= p.horizon_days:
                done[i] = True
                terminated[i] = terminated[i] or churn
            else:
                again[i] = True
                budget[i] = p.session_budget
                day[i] += delay
                session_steps[i] = 0
                session_positive[i] = 0
                days_away[i] = delay
                if p.boredom_recovery != 0.0:
                    fade = np.float32((1.0 - p.boredom_recovery) ** float(delay))
                    for a in range(n_anchors):
                        anchor_boredom[i, a] *= fade
        ev.session_end[i] = ended


# --- the oracle's nearest clusters -------------------------------------------------------------
NEIGHBOURS = 32  # nearest other centroids kept per cluster for the pruned search


def centroid_neighbours(centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(M, R) int64 the R = min(M, NEIGHBOURS) centroids nearest each centroid (itself first),
    and (M, R) float64 their distances, ascending. Built a block of rows at a time, so a level
    of any K costs O(M·R) memory."""
    c = centroids.astype(np.float64)
    m = len(c)
    r = min(m, NEIGHBOURS)
    order = np.empty((m, r), dtype=np.int64)
    dist = np.empty((m, r), dtype=np.float64)
    sq = (c * c).sum(axis=1)
    for lo in range(0, m, 1024):
        d2 = np.maximum(sq[lo : lo + 1024, None] - 2.0 * c[lo : lo + 1024] @ c.T + sq[None, :], 0.0)
        d2[np.arange(len(d2)), np.arange(lo, lo + len(d2))] = -1.0  # itself first, even on ties
        near = np.argpartition(d2, r - 1, axis=1)[:, :r] if r < m else np.broadcast_to(np.arange(m), d2.shape)
        near_d2 = np.take_along_axis(d2, near, axis=1)
        sort = np.argsort(near_d2, axis=1, kind="stable")
        order[lo : lo + len(d2)] = np.take_along_axis(near, sort, axis=1)
        dist[lo : lo + len(d2)] = np.sqrt(np.maximum(np.take_along_axis(near_d2, sort, axis=1), 0.0))
    return order, dist


@lru_cache(maxsize=16)
def level_search_tables(level: ClusterLevel) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """What ``nearest_clusters`` needs of a level, built once per level: its centroids' squared
    norms as the reference computes them, and ``centroid_neighbours``."""
    return (level.centroids**2).sum(axis=1), centroid_neighbours(level.centroids)


def nearest_clusters(anchor_pos: np.ndarray, centroids: np.ndarray, sq_norms: np.ndarray,
                     neighbours: tuple[np.ndarray, np.ndarray], guess: np.ndarray | None,
                     guess_pos: np.ndarray | None = None, columns: np.ndarray | None = None,
                     seen: np.ndarray | None = None) -> np.ndarray:
    """(B, K) what ``envs.interest.nearest_clusters`` answers for positions (B, K, D), found by
    a pruned exact search from ``guess`` (B, K), e.g. the last answer; None (or -1) scans all.
    ``guess_pos`` (B, K, D), the positions ``guess`` answered: a position equal to its own
    there keeps its guess without a search (most interests did not move since the last call).
    ``columns`` (K,): search anchor_pos[:, columns] (B, A, D) instead of all of anchor_pos,
    read in place; ``seen`` (B, K, D), when given, receives the positions searched (the next
    call's ``guess_pos``), copied on the kernel threads instead of by a serial np.take.

    Exact by the triangle inequality: no centroid farther than 2·|mu - c_guess| from the guess
    can be nearer than it, and the guess's precomputed neighbours are sorted by distance. An
    interest sits next to its cluster, so one or two distances replace all M. Candidates are
    scored like the reference (float32, -2·mu·c + |c|^2, first index on ties); only a tie
    within float32 rounding could be resolved differently (BLAS sums in another order)."""
    cols = np.arange(anchor_pos.shape[1]) if columns is None else np.ascontiguousarray(columns, dtype=np.int64)
    b, k = anchor_pos.shape[0], len(cols)
    start = np.full((b, k), -1, dtype=np.int64) if guess is None else np.ascontiguousarray(guess, dtype=np.int64)
    pos = np.ascontiguousarray(anchor_pos, dtype=np.float32)
    cent = np.ascontiguousarray(centroids, dtype=np.float32)
    out = np.empty((b, k), dtype=np.int64)
    same = np.zeros((0, 0, 0), dtype=np.float32) if guess_pos is None else np.ascontiguousarray(guess_pos, np.float32)
    copy = np.zeros((0, 0, 0), dtype=np.float32) if seen is None else seen

    def run(lo: int, hi: int) -> None:
        _nearest_rows(lo, hi, pos, cols, cent, sq_norms, neighbours[0], neighbours[1], start, same, copy, out)

    run_in_chunks(run, b, BLOCK, key="nearest")
    return out


@jit
def _score(pos: np.ndarray, u: int, a: int, centroids: np.ndarray, sq_norms: np.ndarray, c: int) -> float:
    acc = np.float32(0.0)
    for x in range(pos.shape[2]):
        acc += (np.float32(-2.0) * pos[u, a, x]) * centroids[c, x]
    return acc + sq_norms[c]


@jit
def _nearest_rows(lo: int, hi: int, pos: np.ndarray, cols: np.ndarray, centroids: np.ndarray, sq_norms: np.ndarray,
                  neighbours: np.ndarray, neighbour_dist: np.ndarray, guess: np.ndarray, guess_pos: np.ndarray,
                  seen: np.ndarray, out: np.ndarray) -> None:
    m, r, d = centroids.shape[0], neighbours.shape[1], pos.shape[2]
    for u in range(lo, hi):
        for j in range(len(cols)):
            a = cols[j]
            if seen.shape[0] > 0:
                for x in range(d):
                    seen[u, j, x] = pos[u, a, x]
            c0 = guess[u, j]
            if c0 >= 0 and guess_pos.shape[0] > 0:
                moved = False
                for x in range(d):
                    moved |= pos[u, a, x] != guess_pos[u, j, x]
                if not moved:
                    out[u, j] = c0
                    continue
            radius = np.inf
            if c0 >= 0:
                t = 0.0
                for x in range(pos.shape[2]):
                    diff = float(pos[u, a, x]) - float(centroids[c0, x])
                    t += diff * diff
                # Margin for rounding: near-ties of the float32 scores stay candidates.
                radius = 2.0 * math.sqrt(t) * (1.0 + 1e-5) + 1e-6
            best, best_score = -1, np.inf
            if radius <= neighbour_dist[c0 if c0 >= 0 else 0, r - 1]:
                for i in range(r):
                    if neighbour_dist[c0, i] > radius:
                        break
                    c = neighbours[c0, i]
                    s = _score(pos, u, a, centroids, sq_norms, c)
                    if s < best_score or (s == best_score and c < best):
                        best, best_score = c, s
            else:
                for c in range(m):
                    s = _score(pos, u, a, centroids, sq_norms, c)
                    if s < best_score:
                        best, best_score = c, s
            out[u, j] = best
