"""Compiled forms (numba) of the deterministic passes of ``act()``: one loop over a range of
users each, run on the world's kernel threads (``envs.kernels.chunks.run_in_chunks``).

The numpy functions they mirror are the reference: ``agents.observations.last_distinct`` and
``in_window``, ``ExploitRecommender.fill_clusters`` (window weights and the inverse-CDF draw),
``agents.sampling.spread_within_groups`` + ``ClusterItems.sample_at``, ``top_k_members``,
``duplicate_mask`` and ``envs.spaces.repeating_rows``. Every random number stays a numpy draw on
the agent's generator, made by the caller with the same call, shape and order as the reference,
and passed in: a kernel computes only what lies between draws, with the reference's float32 or
float64 arithmetic in its order, so both paths give the same slates bit for bit
(tests/agents/test_compiled.py). An agent runs them where its world's backend is 'numba'
(``agents.compiled``); this module imports numba, the rest of agents does not need it.
"""

from __future__ import annotations

import numpy as np
from numba import njit

jit = njit(nogil=True, cache=True)  # on-disk cache next to this file, like envs.kernels
BLOCK = 256  # users per block in two-pass kernels: the block's temporaries stay in cache


@jit
def last_distinct_rows(lo, hi, window, out):  # type: ignore[no-untyped-def]
    """``last_distinct`` for users lo..hi-1: out (B, L) the last L clusters of each window
    (B, H), dropping -1 and keeping the last of each run of equal slots, oldest first, -1 padded."""
    h, length = window.shape[1], out.shape[1]
    for i in range(lo, hi):
        t = length
        for j in range(h - 1, -1, -1):
            c = window[i, j]
            if c < 0 or (j < h - 1 and window[i, j + 1] == c):
                continue
            if t == 0:
                break
            t -= 1
            out[i, t] = c
        for j in range(t):
            out[i, j] = -1


@jit
def in_window_rows(lo, hi, clusters, window, out):  # type: ignore[no-untyped-def]
    """``in_window`` for users lo..hi-1: out (B, K) whether clusters (B, K) occur in the window (B, H)."""
    h, k = window.shape[1], clusters.shape[1]
    for i in range(lo, hi):
        for a in range(k):
            c = clusters[i, a]
            hit = False
            for j in range(h):
                if window[i, j] == c:
                    hit = True
                    break
            out[i, a] = hit


@jit
def fill_cluster_rows(lo, hi, window, responses, recency, bonus, u, out, empty):  # type: ignore[no-untyped-def]
    """``ExploitRecommender.fill_clusters`` for users lo..hi-1, before the draw for users
    without a history: out (B, n) the window cluster at each float32 uniform u (B, n) of the
    running float32 weights (0.25 + bonus·(completion + liked)) · recency, scaled to one ulp
    below the total; empty (B,) where the total is 0 (out is then to be replaced)."""
    h, n = window.shape[1], u.shape[1]
    cdf = np.empty(h, dtype=np.float32)
    quarter = np.float32(0.25)
    zero = np.float32(0.0)
    for i in range(lo, hi):
        acc = zero
        for j in range(h):
            w = zero
            if window[i, j] >= 0:
                w = recency[j] * (quarter + bonus * (responses[i, j, 1] + responses[i, j, 2]))
            acc += w
            cdf[j] = acc
        empty[i] = acc <= zero
        scale = np.nextafter(acc, zero)
        for s in range(n):
            x = u[i, s] * scale
            pos = 0
            for j in range(h - 1):
                if cdf[j] <= x:
                    pos += 1
            out[i, s] = window[i, pos]


@jit
def _sample_at(cdf, items, width, c, x):  # type: ignore[no-untyped-def]
    """``ClusterItems.sample_at`` of one cluster c at CDF position x."""
    q = c * width
    step = width >> 1
    while step:  # branch-free: a taken/not-taken branch here is a coin flip the CPU mispredicts
        q += step * (cdf[q + step - 1] <= x)
        step >>= 1
    return items[q]


@jit
def spread_sample_rows(lo, hi, groups, u, offset, cdf, items, width, sizes, out, bad):  # type: ignore[no-untyped-def]
    """``ClusterItems.sample_at(groups, spread_within_groups(groups, u, offset))`` for users
    lo..hi-1: out (B, n) items. bad[0] is set to 1 where a cluster holds no item (the caller
    then raises the reference's error)."""
    n = groups.shape[1]
    x = np.empty(n)
    q = np.empty(n, dtype=np.int64)
    rank = np.empty(n, dtype=np.int64)  # earlier slots of the same group
    count = np.empty(n, dtype=np.int64)  # slots of the group
    first = np.empty(n, dtype=np.int64)  # the group's first slot
    for i in range(lo, hi):
        for j in range(n):
            g = groups[i, j]
            if sizes[g] == 0:
                bad[0] = 1
                g = 0
            q[j] = g * width
            rank[j], count[j], first[j] = 0, 1, j
        if n > 32:
            for j in range(n):
                x[j] = u[i, j]
        else:
            for j in range(1, n):  # every pair once, branch-free, as the reference
                for a in range(j - 1, -1, -1):
                    eq = groups[i, a] == groups[i, j]
                    rank[j] += eq
                    count[a] += eq
                    count[j] += eq
                    first[j] = a if eq else first[j]
            for j in range(n):
                v = (rank[j] + u[i, j]) / count[j] + offset[i, first[j]]
                x[j] = v - 1.0 if v >= 1.0 else v
        # The binary searches of a row's slots side by side: n independent chains of loads in
        # flight, where one search at a time waits on each load in turn (4x slower).
        step = width >> 1
        while step:
            for j in range(n):
                q[j] += step * (cdf[q[j] + step - 1] <= x[j])
            step >>= 1
        for j in range(n):
            out[i, j] = items[q[j]]


@jit
def sample_entries(rows, cols, clusters, u, cdf, items, width, sizes, slate):  # type: ignore[no-untyped-def]
    """slate[rows[t], cols[t]] = the item of clusters[rows[t], cols[t]] at CDF position u[t]
    (``make_distinct``'s redraws); returns 1 if a cluster holds no item, else 0."""
    for t in range(len(rows)):
        c = clusters[rows[t], cols[t]]
        if sizes[c] == 0:
            return 1
        slate[rows[t], cols[t]] = _sample_at(cdf, items, width, c, u[t])
    return 0


@jit
def top_k_rows(lo, hi, members, scores, exclude, item_cluster, low, high, flagged, out):  # type: ignore[no-untyped-def]
    """``top_k_members`` for users lo..hi-1 whose row holds none of their row of exclude
    (B, X): out (B, k) the k best-scoring valid members, first index winning ties, -1 past the
    valid ones. Rows that hold one are only flagged: they need the reference's shift, a bound
    over all rows (``top_k_excluded_rows``), so low, high (B,) get each row's min and max valid
    score. With ``item_cluster`` (N,) (members are whole
    clusters, as ``padded_members`` lays them out), an excluded item is a member when it lies
    in the row's cluster: X lookups instead of X·P comparisons; empty: compare with members."""
    p, x = members.shape[1], exclude.shape[1]
    s = np.empty(p, dtype=scores.dtype)
    for i in range(lo, hi):
        hit = False
        if len(item_cluster):
            head = members[i, 0]
            if head >= 0:
                c = item_cluster[head]
                for e in range(x):
                    item = exclude[i, e]
                    if item >= 0 and item_cluster[item] == c:
                        hit = True
        else:
            for e in range(x):
                item = exclude[i, e]
                for j in range(p):
                    hit |= (members[i, j] == item) & (item >= 0)
        flagged[i] = hit
        a, b = np.inf, -np.inf
        for j in range(p):
            s[j] = scores[i, j] if members[i, j] >= 0 else -np.inf
            if members[i, j] >= 0:
                a = min(a, s[j])
                b = max(b, s[j])
        low[i], high[i] = a, b
        if not hit:
            _take_best(s, members, i, out)


@jit
def top_k_excluded_rows(rows, members, scores, exclude, item_cluster, shift, out):  # type: ignore[no-untyped-def]
    """``top_k_rows`` for the flagged ``rows``: members found in the row of exclude score
    ``shift`` less, so they rank after the others, in their own order. With ``item_cluster``
    (see ``top_k_rows``) only the excluded items of the row's cluster are compared."""
    p, x = members.shape[1], exclude.shape[1]
    s = np.empty(p, dtype=scores.dtype)
    candidates = np.empty(x, dtype=exclude.dtype)  # the row's excluded items that may be members
    for i in rows:
        n = 0
        for a in range(x):
            item = exclude[i, a]
            if item >= 0 and (len(item_cluster) == 0 or item_cluster[item] == item_cluster[members[i, 0]]):
                candidates[n] = item
                n += 1
        for j in range(p):
            m = members[i, j]
            if m < 0:
                s[j] = -np.inf
                continue
            v = scores[i, j]
            for a in range(n):
                if candidates[a] == m:
                    v = v - shift
                    break
            s[j] = v
        _take_best(s, members, i, out)


@jit
def _take_best(s, members, i, out):  # type: ignore[no-untyped-def]
    """k rounds of "take the best of s, then rule it out" into out[i] (-1 once none is left)."""
    p = len(s)
    for r in range(out.shape[1]):
        if r >= p:
            out[i, r] = -1
            continue
        best, at = s[0], 0
        for j in range(1, p):
            if s[j] > best:
                best, at = s[j], j
        out[i, r] = members[i, at] if best > -np.inf else -1
        s[at] = -np.inf


@jit
def repeating_rows_of(lo, hi, slate, out):  # type: ignore[no-untyped-def]
    """``envs.spaces.repeating_rows`` for users lo..hi-1: out (B,) whether a row holds an item twice."""
    s = slate.shape[1]
    for i in range(lo, hi):
        rep = False
        for j in range(1, s):
            v = slate[i, j]
            for a in range(j):
                if slate[i, a] == v:
                    rep = True
                    break
            if rep:
                break
        out[i] = rep


@jit
def duplicate_entries(rows, slate, fixed, at_row, at_col, repeats):  # type: ignore[no-untyped-def]
    """``duplicate_mask`` of slate[rows] as a list: the (row, column) entries to redraw, in
    row-major order, into at_row/at_col (returns how many); repeats[t] whether rows[t] has any."""
    s = slate.shape[1]
    n = 0
    for t in range(len(rows)):
        i = rows[t]
        repeats[t] = False
        for j in range(s):
            if fixed[i, j]:
                continue
            v = slate[i, j]
            kept = -1
            for a in range(s):  # the first fixed occurrence
                if fixed[i, a] and slate[i, a] == v:
                    kept = a
                    break
            if kept < 0:
                for a in range(s):  # else the first occurrence
                    if slate[i, a] == v:
                        kept = a
                        break
            if kept != j:
                at_row[n], at_col[n] = i, j
                n += 1
                repeats[t] = True
    return n


@jit
def markov_order_rows(lo, hi, context, m, keys, dense, offsets, targets, cum, u, out):  # type: ignore[no-untyped-def]
    """One order k = context.shape[1] of ``MarkovSelector._draw`` for users lo..hi-1: users
    still without a draw (out < 0) whose context (B, k) is fully known and was logged draw
    out[i] = a target of that context ∝ its count, at uniform u[i] (``segment_sample``).
    ``dense`` (M^k,) maps context keys to table rows (-1 unseen); empty: search ``keys``."""
    k = context.shape[1]
    rows = np.empty(BLOCK, dtype=np.int64)
    for b0 in range(lo, hi, BLOCK):
        b1 = min(b0 + BLOCK, hi)
        # Pass 1, the table row of every context of the block: independent gathers from a
        # table bigger than the cache, which the CPU overlaps when no search sits between them.
        for i in range(b0, b1):
            row = -1
            if out[i] < 0:
                key = 0
                for j in range(k):
                    c = context[i, j]
                    if c < 0:
                        key = -1
                        break
                    key = key * m + c
                if key >= 0:
                    if len(dense):
                        row = dense[key]
                    else:
                        row = int(np.searchsorted(keys, key))
                        if row == len(keys) or keys[row] != key:
                            row = -1
            rows[i - b0] = row
        # Pass 2: draw in the logged contexts' segments.
        for i in range(b0, b1):
            row = rows[i - b0]
            if row < 0:
                continue
            start, end = offsets[row], offsets[row + 1]
            before = cum[start - 1] if start > 0 else 0.0
            total = cum[end - 1] - before
            if total > 0:
                target = before + u[i] * total
                # start + #{j in [start, end - 1): cum[j] <= target}, the reference's binary search
                idx = start + np.searchsorted(cum[start:end - 1], target, side="right")
            else:
                idx = start + np.int64(u[i] * (end - start))
            out[i] = targets[idx]


@jit
def counts_draw_rows(lo, hi, counts, history, window, power, u, out, total):  # type: ignore[no-untyped-def]
    """``CountsSelector.select`` for users lo..hi-1 before its fallback draw: the score of every
    cluster (float32 sum of the history clusters' count rows, in history order), zero inside the
    window, raised to the whole ``power`` by repeated float32 products, then the inverse-CDF
    draw over the float64 running sum: out (B,) the first cluster whose running sum exceeds
    u * total, total (B,) the row's sum (0 = no evidence: the caller draws instead)."""
    m, n_hist, h = counts.shape[0], history.shape[1], window.shape[1]
    seen = np.zeros(m, dtype=np.bool_)
    weight = np.empty(m, dtype=np.float32)
    for i in range(lo, hi):
        for j in range(h):
            if window[i, j] >= 0:
                seen[window[i, j]] = True
        acc = 0.0
        for c in range(m):
            w = np.float32(0.0)
            if not seen[c]:  # the window's clusters keep 0
                for j in range(n_hist):
                    if history[i, j] >= 0:
                        w += counts[history[i, j], c]
            base = w
            for _ in range(power - 1):
                w *= base
            weight[c] = w
            acc += float(w)
        total[i] = acc
        target = u[i] * acc
        pick, running = 0, 0.0
        for c in range(m):
            running += weight[c]
            if running <= target:
                pick += 1
        out[i] = min(pick, m - 1)
        for j in range(h):
            if window[i, j] >= 0:
                seen[window[i, j]] = False
