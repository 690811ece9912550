"""How well can anyone name a user's undiscovered interests from their last L clusters?

A *journey probe* is a population of fresh users (``World.init_state``), each with the last L
distinct clusters of their history (what a selector reads), their observed window, and the
*targets*: the clusters of their latent interests at the level asked, outside the window (a
selector proposes clusters new to the user). A proposal hits when it names a target.

Two figures frame every selector's top-1 hit rate on a probe:
- **chance**: a uniformly random cluster outside the window;
- **ceiling**: the Bayes-optimal selector's, which knows P(c is a target | last L clusters)
  exactly. Estimated by leave-one-out counting on the probe (each user's proposal is the most
  frequent target among the *other* users with the same history, backing off to shorter
  histories): an estimate from below that converges to the ceiling as the probe grows, so it
  is given on the whole probe and on half of it (close together = enough users). The in-sample
  maximum is no estimate at all: with rare histories it is high even without any structure.
With ``journey_predictability = 0`` the ceiling falls to chance: there is nothing to learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from envs.errors import ConfigError, require_positive_int
from envs.session import last_distinct
from envs.spaces import duplicate_mask

if TYPE_CHECKING:
    from envs.world import World


@dataclass(frozen=True)
class JourneyProbe:
    """Fresh users' last L clusters, windows and undiscovered latent clusters at one level."""

    histories: np.ndarray  # (N, L) int64 last L distinct clusters, oldest first, -1 = none
    windows: np.ndarray  # (N, H) int64 clusters of the observed history window, -1 = empty
    targets: np.ndarray  # (N, K) int64 latent clusters outside the window, -1 = none
    n_clusters: int

    def hits(self, proposals: np.ndarray) -> np.ndarray:
        """(N,) whether each proposal (N,) names one of the user's targets."""
        p = np.asarray(proposals)
        if p.shape != (len(self.targets),):
            raise ConfigError(f"proposals have shape {p.shape}; expected ({len(self.targets)},), one per probed user")
        return (self.targets == p[:, None]).any(axis=1) & (p >= 0)

    def hit_rate(self, proposals: np.ndarray) -> float:
        return float(self.hits(proposals).mean())


@dataclass(frozen=True)
class Ceiling:
    """Chance and the Bayes ceiling's bracket for top-1 hit rates on one probe."""

    chance: float
    estimate: float  # the ceiling, estimated on all probed users (from below)
    estimate_half: float  # the same on half of them: close to ``estimate`` once the sample suffices
    n_users: int

    def as_dict(self) -> dict[str, float]:
        return {"chance": self.chance, "ceiling": self.estimate, "ceiling_half_sample": self.estimate_half}


def journey_probe(
    world: World, n_users: int = 100_000, context_length: int = 2, level: str | int | None = None, seed: int = 0
) -> JourneyProbe:
    """``n_users`` fresh users of ``world`` (seeded by ``seed``) read at ``level`` (default: the
    world's). Needs latent interests (the 'interest' dynamics)."""
    require_positive_int("n_users", n_users)
    require_positive_int("context_length", context_length)
    lvl = world.level if level is None else world.clusters.level(level)
    state = world.init_state(np.arange(n_users), np.random.default_rng(seed))
    items = state.session.hist_items
    windows = np.where(items >= 0, lvl.item_cluster[np.maximum(items, 0)], -1).astype(np.int64)
    targets = undiscovered_targets(world, state, windows, level)
    return JourneyProbe(last_distinct(windows, context_length), windows, targets, lvl.n_clusters)


def undiscovered_targets(world: World, state: Any, windows: np.ndarray, level: str | int | None = None) -> np.ndarray:
    """(B, K) int64 the clusters (at ``level``) of each user's undiscovered latent interests
    that are not in their window (B, H), -1 elsewhere: what an exploration proposal can hit."""
    latent, discovered = world.oracle_latent_clusters(state, level)
    in_window = (latent[:, :, None] == windows[:, None, :]).any(axis=2)
    return np.where(discovered | in_window, -1, latent).astype(np.int64)


def chance_of_hit(targets: np.ndarray, windows: np.ndarray, n_clusters: int) -> np.ndarray:
    """(B,) the chance that a uniformly random cluster outside each window hits a target."""
    return distinct_per_row(targets) / np.maximum(n_clusters - distinct_per_row(windows), 1)


def _keys(histories: np.ndarray, n_clusters: int) -> np.ndarray:
    """(N,) int64 index of each history; -1 (none) is a value of its own."""
    key = np.zeros(len(histories), dtype=np.int64)
    for j in range(histories.shape[1]):
        key = key * (n_clusters + 1) + histories[:, j] + 1
    return key


def _top_per_key(keys: np.ndarray, targets: np.ndarray, m: int, top: int) -> tuple[np.ndarray, ...]:
    """Distinct keys (U,) and, per key, its ``top`` most frequent targets (U, top) with their
    counts (U, top), most frequent first, then lower id; padded with -1 / 0."""
    rows, cols = np.nonzero(targets >= 0)
    pair, count = np.unique(keys[rows] * m + targets[rows, cols], return_counts=True)
    key, cluster = pair // m, pair % m
    order = np.lexsort((cluster, -count, key))
    key, cluster, count = key[order], cluster[order], count[order]
    distinct, first = np.unique(key, return_index=True)
    rank = np.arange(len(key)) - np.repeat(first, np.diff(np.r_[first, len(key)]))
    keep = rank < top
    row = np.searchsorted(distinct, key[keep])
    best = np.full((len(distinct), top), -1, dtype=np.int64)
    best_count = np.zeros((len(distinct), top), dtype=np.int64)
    best[row, rank[keep]], best_count[row, rank[keep]] = cluster[keep], count[keep]
    return distinct, best, best_count


def leave_one_out_guess(keys: list[np.ndarray], targets: np.ndarray, m: int) -> np.ndarray:
    """(N,) for each user, the most frequent target among *the other* users with the same
    context (longest first in ``keys``, backing off to shorter ones where no one else shares
    it), then the most frequent target overall: the counting selector with all the data but the
    user's own, so its hit rate estimates the Bayes ceiling from below and converges to it."""
    targets = _without_repeats(targets)  # a user counts once per cluster, or leave-one-out leaks it
    n, top = len(targets), targets.shape[1] + 1  # dropping a user's own targets demotes at most K
    counts = np.bincount(targets[targets >= 0], minlength=m)
    guess = np.full(n, int(counts.argmax()), dtype=np.int64)
    todo = np.ones(n, dtype=bool)
    for key in keys:
        distinct, best, best_count = _top_per_key(key, targets, m, top)
        if not len(distinct):
            continue
        rows = np.flatnonzero(todo)
        pos = np.minimum(np.searchsorted(distinct, key[rows]), len(distinct) - 1)
        shared = distinct[pos] == key[rows]
        rows, pos = rows[shared], pos[shared]
        cand = best[pos]  # (R, top)
        own = (cand[:, :, None] == targets[rows][:, None, :]).any(axis=2) & (cand >= 0)
        others = best_count[pos] - own  # the counts without this user
        # Ties go to the lower id, never to the order of the totals (which count the user's own
        # targets and would leak them); the first K + 1 candidates hold every possible winner.
        pick = (others * (m + 1) + (m - cand)).argmax(axis=1)
        known = others[np.arange(len(rows)), pick] > 0
        guess[rows[known]] = cand[np.arange(len(rows)), pick][known]
        todo[rows[known]] = False
    return guess


def _without_repeats(a: np.ndarray) -> np.ndarray:
    """``a`` (N, K) with every repeat of an id within its row set to -1 (two latent interests
    in one cluster are one target)."""
    return np.where(duplicate_mask(a), -1, a)


def distinct_per_row(a: np.ndarray) -> np.ndarray:
    """(N,) how many distinct ids >= 0 each row of ``a`` (N, K) holds."""
    return ((a >= 0) & ~duplicate_mask(a)).sum(axis=1)


def ceiling(probe: JourneyProbe) -> Ceiling:
    """Chance and the Bayes ceiling's estimates on ``probe`` (see the module docstring)."""
    m, n = probe.n_clusters, len(probe.targets)
    if n < 4:
        raise ConfigError(f"a ceiling needs at least 4 probed users, got {n}")
    chance = float(chance_of_hit(probe.targets, probe.windows, m).mean())

    def rate(rows: slice) -> float:
        hist, targets = probe.histories[rows], probe.targets[rows]
        keys = [_keys(hist[:, -k:], m) for k in range(hist.shape[1], 0, -1)]
        return float((targets == leave_one_out_guess(keys, targets, m)[:, None]).any(axis=1).mean())

    return Ceiling(chance=chance, estimate=rate(slice(None)), estimate_half=rate(slice(0, n // 2)), n_users=n)
