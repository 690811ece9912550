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

from envs.interest import POSITIVE_COMPLETION

jit = njit(nogil=True, cache=True)  # on-disk cache next to this file, like envs.kernels
BLOCK = 256  # users per block in two-pass kernels: the block's temporaries stay in cache


@jit
def last_distinct_rows(lo, hi, window, responses, out):  # type: ignore[no-untyped-def]
    """``last_distinct`` for users lo..hi-1: out (B, L) the last L clusters of each window
    (B, H), dropping -1 and keeping the last of each run of equal slots, oldest first, -1 padded.
    With responses (B, H, 3) (not empty), of ``positive_window``'s window instead: slots without
    a positive engagement read -1."""
    h, length = window.shape[1], out.shape[1]
    masked = responses.shape[0] > 0
    for i in range(lo, hi):
        t = length
        after = -1  # the slot to the right, as the window the reference reads holds it
        for j in range(h - 1, -1, -1):
            c = window[i, j]
            if masked and not (responses[i, j, 2] > 0 or responses[i, j, 1] >= POSITIVE_COMPLETION):
                c = -1
            right, after = after, c
            if c < 0 or (j < h - 1 and right == c):
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
def fill_cluster_rows(lo, hi, window, responses, recency, base, bonus, u, out, empty):  # type: ignore[no-untyped-def]
    """``ExploitRecommender.fill_clusters`` for users lo..hi-1, before the draw for users
    without a history: out (B, n) the window cluster at each float32 uniform u (B, n) of the
    running float32 weights (base + bonus·(completion + liked)) · recency, scaled to one ulp
    below the total; empty (B,) where the total is 0 (out is then to be replaced)."""
    h, n = window.shape[1], u.shape[1]
    cdf = np.empty(h, dtype=np.float32)
    zero = np.float32(0.0)
    for i in range(lo, hi):
        acc = zero
        for j in range(h):
            w = zero
            if window[i, j] >= 0:
                w = recency[j] * (base + bonus * (responses[i, j, 1] + responses[i, j, 2]))
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


@njit(nogil=True, cache=True, inline="always")
def _count_at_most(a, start, n, x):  # type: ignore[no-untyped-def]
    """How many of a[start:start + n] are <= x. Counted eight at a time: a loop of constant
    length compiles to vector compares, a loop of n (known only at run time) to one compare per
    entry, which made a CDF draw cost ~40 ns instead of ~15."""
    k = 0
    whole = n - n % 8
    for b in range(start, start + whole, 8):
        for t in range(8):
            k += a[b + t] <= x
    for b in range(start + whole, start + n):
        k += a[b] <= x
    return k


@njit(nogil=True, cache=True, inline="always")
def _sample_at(cdf, coarse, items, width, block, c, x):  # type: ignore[no-untyped-def]
    """``ClusterItems.sample_at`` of one cluster c at CDF position x: the number of the
    cluster's CDF entries <= x, which its binary search finds, counted as whole blocks whose
    last entry is <= x (``coarse``) plus the entries <= x of the next block (the CDF never
    falls, and its last entry, 2, exceeds every x)."""
    blocks = width // block
    k = _count_at_most(coarse, c * blocks, blocks, x)
    q = c * width + min(k, blocks - 1) * block
    return items[q + _count_at_most(cdf, q, block, x)]


@jit
def spread_sample_rows(lo, hi, groups, u, offset, cdf, coarse, items, width, block, sizes, out, bad):  # type: ignore[no-untyped-def]
    """``ClusterItems.sample_at(groups, spread_within_groups(groups, u, offset))`` for users
    lo..hi-1: out (B, n) items. bad[0] is set to 1 where a cluster holds no item (the caller
    then raises the reference's error)."""
    n = groups.shape[1]
    x = np.empty(n)
    rank = np.empty(n, dtype=np.int64)  # earlier slots of the same group
    count = np.empty(n, dtype=np.int64)  # slots of the group
    first = np.empty(n, dtype=np.int64)  # the group's first slot
    for i in range(lo, hi):
        if n > 32:
            for j in range(n):
                x[j] = u[i, j]
        else:
            for j in range(n):
                rank[j], count[j], first[j] = 0, 1, j
            for j in range(1, n):  # every pair once, branch-free, as the reference
                g = groups[i, j]
                for a in range(j - 1, -1, -1):
                    eq = groups[i, a] == g
                    rank[j] += eq
                    count[a] += eq
                    count[j] += eq
                    first[j] = a if eq else first[j]
            for j in range(n):
                v = (rank[j] + u[i, j]) / count[j] + offset[i, first[j]]
                x[j] = v - 1.0 if v >= 1.0 else v
        for j in range(n):
            g = groups[i, j]
            if sizes[g] == 0:
                bad[0] = 1
                g = 0
            out[i, j] = _sample_at(cdf, coarse, items, width, block, g, x[j])


@jit
def sample_entries(rows, cols, clusters, u, cdf, coarse, items, width, block, sizes, slate):  # type: ignore[no-untyped-def]
    """slate[rows[t], cols[t]] = the item of clusters[rows[t], cols[t]] at CDF position u[t]
    (``make_distinct``'s redraws); returns 1 if a cluster holds no item, else 0."""
    for t in range(len(rows)):
        c = clusters[rows[t], cols[t]]
        if sizes[c] == 0:
            return 1
        slate[rows[t], cols[t]] = _sample_at(cdf, coarse, items, width, block, c, u[t])
    return 0


@njit(nogil=True, cache=True, inline="always")
def _score(i, j, m, scores, item_term, negated, with_term, with_scores):  # type: ignore[no-untyped-def]
    """The score of valid member m at column j of row i (see ``_member_scores``)."""
    if not with_scores:
        return item_term[m]
    if with_term:  # t + (-x) and t - x round alike
        return item_term[m] - scores[i, j] if negated else item_term[m] + scores[i, j]
    return -scores[i, j] if negated else scores[i, j]


@jit
def _member_scores(i, table, row_of, scores, item_term, negated, s):  # type: ignore[no-untyped-def]
    """Row i's member scores into s (P,): member j is table[row_of[i], j] (-1 = padding, scored
    -inf) and scores scores[i, j] (-scores[i, j] when ``negated``), plus item_term[member] when
    item_term is not empty; with scores of shape (0, 0), item_term[member] alone."""
    r = row_of[i]
    with_term, with_scores = len(item_term) > 0, scores.shape[0] > 0
    for j in range(table.shape[1]):
        m = table[r, j]
        s[j] = -np.inf if m < 0 else _score(i, j, m, scores, item_term, negated, with_term, with_scores)


@njit(nogil=True, cache=True, inline="always")
def _best_of_prefix(i, table, r, length, scores, item_term, negated, candidates, n, skip):  # type: ignore[no-untyped-def]
    """The column of the first best-scoring of members table[r, :length] (all valid) for row i,
    skipping the first n ``candidates`` (excluded items), -1 if none scores above -inf:
    ``_member_scores`` then the first maximum, in one pass without the scores row (about
    twice as fast: the loop has no padding to test). skip (P,): scratch, all False."""
    with_term, with_scores = len(item_term) > 0, scores.shape[0] > 0
    for a in range(n):  # mark the excluded members' columns: one compare per member and candidate
        for j in range(length):
            skip[j] |= table[r, j] == candidates[a]
    best, at = -np.inf, -1
    for j in range(length):
        if skip[j]:
            continue
        v = _score(i, j, table[r, j], scores, item_term, negated, with_term, with_scores)
        if v > best:
            best, at = v, j
    if n:
        skip[:length] = False
    return at


@jit
def score_bounds(lo, hi, table, row_of, scores, item_term, negated, low, high):  # type: ignore[no-untyped-def]
    """low, high (B,) the min and max valid member score of rows lo..hi-1 (``_member_scores``;
    inf, -inf for a row without valid members): what the reference's exclusion shift bounds."""
    s = np.empty(table.shape[1], dtype=low.dtype)
    for i in range(lo, hi):
        _member_scores(i, table, row_of, scores, item_term, negated, s)
        a, b = np.inf, -np.inf
        for j in range(len(s)):
            if table[row_of[i], j] >= 0:
                a = min(a, s[j])
                b = max(b, s[j])
        low[i], high[i] = a, b


@jit
def top_k_rows(lo, hi, table, row_of, scores, item_term, negated, exclude, item_cluster, lengths, flagged, out, s):  # type: ignore[no-untyped-def]
    """``top_k_members`` for users lo..hi-1 (members and scores: ``_member_scores``): out (B, k)
    the k best-scoring valid members, first index winning ties, -1 past the valid ones. The
    reference ranks members found in the row of exclude (B, X) after all others, shifted by a
    bound over all rows; a row with at least k others scored above -inf picks only among those,
    which needs no shift. The rest are only flagged (B,) for ``top_k_excluded_rows``. With
    ``item_cluster`` (N,) (members are whole clusters, as ``padded_members`` lays them out),
    only excluded items of the row's cluster are compared with members; empty: all of them.
    lengths (M,), when not empty: table row r holds valid members up to lengths[r] and padding
    after it (-1: not so laid out). s (P,) is the caller's scratch row, of the scores' dtype."""
    p, k = table.shape[1], out.shape[1]
    candidates = np.empty(exclude.shape[1], dtype=exclude.dtype)
    skip = np.zeros(p, dtype=np.bool_)
    for i in range(lo, hi):
        r = row_of[i]
        n = _excluded_members(i, table, r, exclude, item_cluster, candidates)
        flagged[i] = False
        if k == 1 and len(lengths) and lengths[r] >= 0:  # the usual case: one pass
            at = _best_of_prefix(i, table, r, lengths[r], scores, item_term, negated, candidates, n, skip)
            out[i, 0] = table[r, at] if at >= 0 else -1
            flagged[i] = n > 0 and at < 0  # only excluded members left: the reference's shift
            continue
        if n == 0 and k == 1:  # one pass, the first best member
            _member_scores(i, table, row_of, scores, item_term, negated, s)
            best, at = -np.inf, 0
            for j in range(p):
                if s[j] > best:
                    best, at = s[j], j
            out[i, 0] = table[r, at] if best > -np.inf else -1
            continue
        _member_scores(i, table, row_of, scores, item_term, negated, s)
        if n:
            others = 0
            for j in range(p):
                if _is_candidate(table[r, j], candidates, n):
                    s[j] = -np.inf
                elif s[j] > -np.inf:
                    others += 1
            if others < k:
                flagged[i] = True
                continue
        _take_best(s, table, r, i, out)


@jit
def top_k_excluded_rows(rows, table, row_of, scores, item_term, negated, exclude, item_cluster, shift, out):  # type: ignore[no-untyped-def]
    """``top_k_rows`` for the flagged ``rows``: members found in the row of exclude score
    ``shift`` less, so they rank after the others, in their own order."""
    p = table.shape[1]
    s = np.empty(p, dtype=shift.dtype)
    candidates = np.empty(exclude.shape[1], dtype=exclude.dtype)
    for i in rows:
        r = row_of[i]
        _member_scores(i, table, row_of, scores, item_term, negated, s)
        n = _excluded_members(i, table, r, exclude, item_cluster, candidates)
        for j in range(p):
            if _is_candidate(table[r, j], candidates, n):
                s[j] = s[j] - shift[0]
        _take_best(s, table, r, i, out)


@jit
def _excluded_members(i, table, r, exclude, item_cluster, candidates):  # type: ignore[no-untyped-def]
    """Row i's excluded items that may be members of table[r] into candidates; returns how
    many (with ``item_cluster``: those in the members' cluster, else every item >= 0)."""
    n = 0
    head = table[r, 0]
    for a in range(exclude.shape[1]):
        item = exclude[i, a]
        if item >= 0 and (len(item_cluster) == 0 or (head >= 0 and item_cluster[item] == item_cluster[head])):
            candidates[n] = item
            n += 1
    return n


@jit
def _is_candidate(member, candidates, n):  # type: ignore[no-untyped-def]
    """Whether a valid member is one of the first n candidates."""
    if member < 0:
        return False
    for a in range(n):
        if candidates[a] == member:
            return True
    return False


@jit
def _take_best(s, table, r, i, out):  # type: ignore[no-untyped-def]
    """k rounds of "take the best of s, then rule it out" into out[i], members table[r]
    (-1 once none is left)."""
    p = len(s)
    for q in range(out.shape[1]):
        if q >= p:
            out[i, q] = -1
            continue
        best, at = s[0], 0
        for j in range(1, p):
            if s[j] > best:
                best, at = s[j], j
        out[i, q] = table[r, at] if best > -np.inf else -1
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
    u * total, total (B,) the row's sum (0 = no evidence: the caller draws instead).

    A running sum is a chain of dependent float64 adds (M of them), which bounded the kernel;
    users go four at a time so that their four chains interleave."""
    m = counts.shape[0]
    weight = np.zeros((4, m), dtype=np.float32)
    base = np.empty(m, dtype=np.float32)
    cum = np.empty((4, m), dtype=np.float64)
    for i in range(lo, hi, 4):
        g = min(4, hi - i)
        for r in range(g):
            _counts_scores(counts, history, window, power, i + r, weight[r], base)
        for r in range(g, 4):
            weight[r] = 0.0  # a short last group: rows that add nothing
        _running_sums4(weight, cum)
        for r in range(g):
            acc = cum[r, m - 1]
            total[i + r] = acc
            # The reference counts the running sums <= u * total; they never fall, so a
            # binary search counts them.
            out[i + r] = min(_count_at_most_sorted(cum[r], u[i + r] * acc), m - 1)


@njit(nogil=True, cache=True, inline="always")
def _count_at_most_sorted(a, x):  # type: ignore[no-untyped-def]
    """How many entries of the non-decreasing a are <= x: a binary search whose steps are
    conditional moves, not branches (a random target mispredicts half of them)."""
    n = len(a)
    if n == 0:
        return 0
    base = 0
    while n > 1:
        half = n >> 1
        base = base + half if a[base + half - 1] <= x else base
        n -= half
    return base + (a[base] <= x)


@njit(nogil=True, cache=True, inline="always")
def _running_sums4(weight, cum):  # type: ignore[no-untyped-def]
    """cum[r] = the float64 running sum of weight[r] (4, M), each in order, the four interleaved."""
    a0 = a1 = a2 = a3 = 0.0
    for c in range(weight.shape[1]):
        a0 += weight[0, c]
        a1 += weight[1, c]
        a2 += weight[2, c]
        a3 += weight[3, c]
        cum[0, c], cum[1, c], cum[2, c], cum[3, c] = a0, a1, a2, a3


@njit(nogil=True, cache=True, inline="always")
def _counts_scores(counts, history, window, power, i, weight, base):  # type: ignore[no-untyped-def]
    """User i's float32 cluster scores into weight (M,): its history clusters' count rows
    summed in history order (from 0), raised to ``power`` by repeated products, zero inside
    its window (zero either way: 0 ** power is 0). One pass over the clusters for one or two
    history clusters and powers up to 3, the usual case (ten times faster than a pass per
    operation); base: scratch."""
    x0, x1, valid = -1, -1, 0
    for j in range(history.shape[1]):
        if history[i, j] >= 0:
            valid += 1
            if valid == 1:
                x0 = history[i, j]
            elif valid == 2:
                x1 = history[i, j]
    zero = np.float32(0.0)
    if valid == 1 and power <= 3:
        for c in range(len(weight)):
            weight[c] = _power_of(zero + counts[x0, c], power)
    elif valid == 2 and power <= 3:
        for c in range(len(weight)):
            weight[c] = _power_of((zero + counts[x0, c]) + counts[x1, c], power)
    else:  # any other case: the reference's passes
        weight[:] = 0.0
        for j in range(history.shape[1]):
            x = history[i, j]
            if x >= 0:
                for c in range(len(weight)):
                    weight[c] += counts[x, c]
        if power > 1:
            base[:] = weight
            for _ in range(power - 1):
                for c in range(len(weight)):
                    weight[c] *= base[c]
    for j in range(window.shape[1]):  # the window's clusters score 0
        if window[i, j] >= 0:
            weight[window[i, j]] = 0.0


@njit(nogil=True, cache=True, inline="always")
def _power_of(a, power):  # type: ignore[no-untyped-def]
    """a ** power for power 1..3 as the reference's products, (a * a) * a (a branch the
    compiler moves out of the loop over clusters)."""
    if power == 1:
        return a
    if power == 2:
        return a * a
    return (a * a) * a


@jit
def oracle_pick_rows(lo, hi, latent, discovered, window, u, out):  # type: ignore[no-untyped-def]
    """``OracleSelector.select`` for users lo..hi-1: out (B,) the latent cluster (B, K) of the
    highest float64 score 2·undiscovered + 1·outside the window (B, H) + u (B, K), first on ties."""
    k, h = latent.shape[1], window.shape[1]
    for i in range(lo, hi):
        best, at = -np.inf, 0
        for a in range(k):
            c = latent[i, a]
            outside = 1.0
            for j in range(h):
                if window[i, j] == c:
                    outside = 0.0
                    break
            score = (2.0 * (not discovered[i, a]) + 1.0 * outside) + u[i, a]
            if score > best:
                best, at = score, a
        out[i] = latent[i, at]
