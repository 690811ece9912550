"""Batch passes every compiled world shares: the choice over each slate, and the engagement
record with the observation (history window, engaged-cluster bitset, novelty, unexpectedness).

A world's kernel (``envs.kernels.interest``, ``envs.kernels.recsim``) calls them once per
block of users, each a loop over the block. They mirror ``envs.choice`` and ``envs.session``,
the numpy reference. Why passes over blocks rather than per-user helpers: numba
reference-counts every array handed to a function call, and a call per user per array costs
more than the simulation itself; inside one loop, arrays are plain pointers.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# Compiled once, then loaded from the on-disk cache (envs/kernels/__pycache__).
jit = njit(nogil=True, cache=True)
BLOCK = 256  # users per block: a block's per-item temporaries stay small and in cache


@jit
def choose(
    utility: np.ndarray, mnl: bool, no_click: float, temperature: float, floor: float,
    uniforms: np.ndarray, choice: np.ndarray,
) -> None:
    """choice[i] = slate position drawn for user i, -1 = no click, from utility (B, S).

    mnl: multinomial logit, P(j) ∝ exp(u_j / temperature), no click ∝ exp(no_click / temperature)
    (``envs.choice.mnl_probabilities``); otherwise RecSim's proportional model, P(j) ∝
    max(u_j - floor, 0), no click ∝ max(no_click - floor, 0)
    (``envs.choice.proportional_probabilities``). Inverse-CDF draw with uniforms (B,)
    (``envs.choice.sample_choice``)."""
    n_users, n = utility.shape
    weights = np.empty(n + 1)
    inverse = 1.0 / temperature
    for i in range(n_users):
        if mnl:
            top = no_click
            for j in range(n):
                top = max(top, utility[i, j])
            for j in range(n):
                weights[j] = math.exp((utility[i, j] - top) * inverse)
            weights[n] = math.exp((no_click - top) * inverse)
        else:
            for j in range(n):
                weights[j] = max(utility[i, j] - floor, 0.0)
            weights[n] = max(no_click - floor, 0.0)
        total = 0.0
        for j in range(n + 1):
            total += weights[j]
        threshold = uniforms[i] * total  # compare unnormalized sums: no division per position
        cdf = 0.0
        pick = -1
        for j in range(n):
            cdf += weights[j]
            if cdf > threshold:
                pick = j
                break
        choice[i] = pick


@jit
def mark_inactive(i, ev):  # type: ignore[no-untyped-def]
    """Events of user i, whose episode has already ended: nothing happens (a rare path)."""
    ev.active[i] = False
    ev.clicked[i] = False
    ev.item[i] = -1
    ev.cluster[i] = -1
    ev.watch_time[i] = 0.0
    ev.completion[i] = 0.0
    ev.liked[i] = False
    ev.positive[i] = False
    ev.discovered[i] = False
    ev.utility[i] = 0.0
    ev.session_end[i] = False


@jit
def record_and_observe(
    lo, hi, ev, hist_items, hist_clusters, hist_responses, engaged, budget, day, session_steps, days_away,
    obs_items, obs_clusters, obs_responses, obs_session,
):  # type: ignore[no-untyped-def]
    """``record`` for users lo..hi-1, then every user's observation, history oldest first
    (``envs.session.observe``)."""
    record(lo, hi, ev, hist_items, hist_clusters, hist_responses, engaged)
    observe_rows(lo, hi, hist_items, hist_clusters, hist_responses, budget, day, session_steps, days_away,
                 obs_items, obs_clusters, obs_responses, obs_session)


@jit
def empty_session_row(
    i, budget0, hist_items, hist_clusters, hist_responses, engaged, budget, day, session_steps, session_positive,
    days_away, done, terminated,
):  # type: ignore[no-untyped-def]
    """Row i of a session as ``envs.session.empty_session`` makes it (user id aside): a new user
    in the slot, with a budget of ``budget0``."""
    hist_items[i, :] = -1
    hist_clusters[i, :] = -1
    hist_responses[i, :, :] = 0.0
    engaged[i, :] = 0
    budget[i] = budget0
    day[i] = 0
    session_steps[i] = 0
    session_positive[i] = 0
    days_away[i] = 0
    done[i] = False
    terminated[i] = False


def _recorder(ring: bool):  # type: ignore[no-untyped-def]
    """``record``'s body (ring False; ``oldest`` unused) or ``record_ring``'s: one body, ``ring``
    a compile-time constant (a kernel that chose at run time ran the rollout 2-4x slower)."""

    @jit
    def record_clicks(lo, hi, ev, hist_items, hist_clusters, hist_responses, engaged, oldest):  # type: ignore[no-untyped-def]
        clicked, positive, item, cluster = ev.clicked, ev.positive, ev.item, ev.cluster
        watch, completion, liked, novel, unexpected = ev.watch_time, ev.completion, ev.liked, ev.novel, ev.unexpected
        h = hist_items.shape[1]
        for i in range(lo, hi):
            novel[i] = False
            unexpected[i] = False
            if clicked[i]:
                c = cluster[i]
                unexpected[i] = True
                for k in range(h):
                    if hist_clusters[i, k] == c:
                        unexpected[i] = False
                        break
                if positive[i]:
                    byte, bit = c >> 3, np.uint8(1 << (c & 7))
                    novel[i] = (engaged[i, byte] & bit) == 0
                    engaged[i, byte] |= bit
                at = h - 1
                if ring:
                    at = oldest[i]
                    oldest[i] = at + 1 if at + 1 < h else 0
                else:
                    for k in range(h - 1):  # shift the window left (envs.session.shift_in)
                        hist_items[i, k] = hist_items[i, k + 1]
                    for k in range(h - 1):
                        hist_clusters[i, k] = hist_clusters[i, k + 1]
                    for k in range(h - 1):
                        hist_responses[i, k, 0] = hist_responses[i, k + 1, 0]  # RESPONSE_FIELDS, unrolled
                        hist_responses[i, k, 1] = hist_responses[i, k + 1, 1]
                        hist_responses[i, k, 2] = hist_responses[i, k + 1, 2]
                hist_items[i, at] = item[i]
                hist_clusters[i, at] = c
                hist_responses[i, at, 0] = watch[i]
                hist_responses[i, at, 1] = completion[i]
                hist_responses[i, at, 2] = np.float32(1.0) if liked[i] else np.float32(0.0)

    return record_clicks


_record_shifted = _recorder(ring=False)
record_ring = _recorder(ring=True)
record_ring.__doc__ = """For a pass that reads no observation (the RecSim rollout): ``record`` with the window
kept as a ring, a click overwriting the oldest slot, oldest[i], which then moves on (window i,
oldest first, is its slots from oldest[i] round). One slot written per click instead of the
whole window moved: ~13 % of a rollout step."""


@jit
def record(lo, hi, ev, hist_items, hist_clusters, hist_responses, engaged):  # type: ignore[no-untyped-def]
    """For users lo..hi-1, after a world's pass has written their clicks into ``ev``: set ``ev.novel`` and
    ``ev.unexpected``, append each click to the history window and positive ones to the
    engaged bitset (``envs.session.engagement_events``)."""
    _record_shifted(lo, hi, ev, hist_items, hist_clusters, hist_responses, engaged, np.zeros(0, dtype=np.int64))


@jit
def observe_rows(
    lo, hi, hist_items, hist_clusters, hist_responses, budget, day, session_steps, days_away,
    obs_items, obs_clusters, obs_responses, obs_session,
):  # type: ignore[no-untyped-def]
    """The observation of users lo..hi-1 (``envs.session.observe``): copies of their windows,
    one loop per array, which LLVM vectorizes."""
    h = hist_items.shape[1]
    for i in range(lo, hi):
        for k in range(h):
            obs_items[i, k] = hist_items[i, k]
        for k in range(h):
            obs_clusters[i, k] = hist_clusters[i, k]
        for k in range(h):
            obs_responses[i, k, 0] = hist_responses[i, k, 0]
            obs_responses[i, k, 1] = hist_responses[i, k, 1]
            obs_responses[i, k, 2] = hist_responses[i, k, 2]
        obs_session[i, 0] = max(budget[i], np.float32(0.0))
        obs_session[i, 1] = day[i]
        obs_session[i, 2] = session_steps[i]
        obs_session[i, 3] = days_away[i]


@jit
def first_bad_slate_entry(slate: np.ndarray, n_items: int) -> tuple[int, int, int]:
    """(row, column, kind) of the first invalid slate entry, kind 1 = not an item id,
    2 = repeats an earlier item of its row; (-1, -1, 0) when every slate is valid."""
    if not _any_bad_entry(slate, n_items):  # the common case, in passes the CPU vectorizes
        return -1, -1, 0
    for i in range(slate.shape[0]):
        for j in range(slate.shape[1]):
            item = slate[i, j]
            if item < 0 or item >= n_items:
                return i, j, 1
            for k in range(j):
                if slate[i, k] == item:
                    return i, j, 2
    return -1, -1, 0


@jit
def _any_bad_entry(slate: np.ndarray, n_items: int) -> bool:
    """Whether some entry is out of range or repeats another of its row: branch-free counts
    over whole columns (4x faster than a scan that stops at the first bad entry at slate
    10, 6x at slate 2)."""
    n, s = slate.shape
    flat = slate.ravel()
    limit = np.uint64(n_items)
    bad = 0
    for x in range(flat.shape[0]):
        bad += int(np.uint64(flat[x]) >= limit)  # negative ids wrap to huge unsigned ones
    if s == 2:  # RecSim's slates: one pair of columns, compared in place
        for i in range(n):
            bad += int(slate[i, 0] == slate[i, 1])
        return bad > 0
    cols = np.empty((s, BLOCK), dtype=slate.dtype)  # a block of rows, transposed
    for lo in range(0, n, BLOCK):
        m = min(lo + BLOCK, n) - lo
        for i in range(m):
            for j in range(s):
                cols[j, i] = slate[lo + i, j]
        for j in range(1, s):
            for k in range(j):
                for i in range(m):
                    bad += int(cols[j, i] == cols[k, i])
    return bad > 0
