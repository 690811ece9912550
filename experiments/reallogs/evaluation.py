"""Next-novel-cluster prediction on held-out users of real logs.

Users are split (train / test) so no user's transitions are on two sides. On the
test users' transitions (the paper's pipeline: positive engagements, repeats dropped, target
not among the last L clusters) every method ranks all clusters; a *hit* at k is the true next
cluster among its k best novel ones. Reported per method: top-1 and top-10 hit rates, the exact
match rate of free generation (language models), each with a 95 % interval from a bootstrap
over test users, on all held-out histories and separately on histories never seen in the
training users' transitions. Beside them: chance (1 / novel candidates) and the Bayes upper
bound (the best top-1 any predictor of the history could reach on these very examples).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from llm.data import extract_transitions
from llm.histories import history_index

SPLIT = (0.8, 0.2)
"""Shares of users for training (logs of every method; the language model's own validation is
a split by history inside them) and test."""
N_BOOT = 1000


def split_users(users: np.ndarray, seed: int = 0, shares: tuple[float, ...] = SPLIT) -> list[np.ndarray]:
    """Distinct user ids cut into parts of the given shares (train, test) by a seeded permutation."""
    order = np.random.default_rng(seed).permutation(np.unique(users))
    cuts = np.round(np.cumsum(shares)[:-1] * len(order)).astype(int)
    return [np.sort(part) for part in np.split(order, cuts)]


@dataclass(frozen=True)
class Examples:
    """Held-out transitions with the user each came from."""

    histories: np.ndarray  # (E, L)
    targets: np.ndarray  # (E,)
    users: np.ndarray  # (E,)

    def __len__(self) -> int:
        return len(self.targets)

    def subset(self, mask: np.ndarray) -> Examples:
        return Examples(self.histories[mask], self.targets[mask], self.users[mask])


def user_examples(logs: pd.DataFrame, context_length: int) -> Examples:
    """Every user's transitions (``llm.data.extract_transitions``), labelled with the user."""
    parts = []
    for user, frame in logs.groupby("user", sort=True):
        t, _ = extract_transitions(frame, context_length)
        if len(t):
            parts.append((t.histories, t.targets, np.full(len(t), user, dtype=np.int64)))
    if not parts:
        return Examples(np.zeros((0, context_length), np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64))
    histories, targets, users = (np.concatenate(x) for x in zip(*parts, strict=True))
    return Examples(histories, targets, users)


def novel_ranking(scores: np.ndarray, histories: np.ndarray, k: int) -> np.ndarray:
    """(N, k) best clusters by ``scores`` (N, M) outside each history (ties: lower id first)."""
    s = np.array(scores, dtype=np.float64)
    np.put_along_axis(s, histories, -np.inf, axis=1)
    return np.argsort(-s, axis=1, kind="stable")[:, :k]


def bootstrap(values: np.ndarray, users: np.ndarray, seed: int = 0, n_boot: int = N_BOOT) -> dict[str, float | list]:
    """Mean of per-example ``values`` and its 95 % percentile interval, resampling users."""
    if not len(values):
        return {"mean": float("nan"), "ci95": [float("nan"), float("nan")], "n": 0}
    ids, inverse = np.unique(users, return_inverse=True)
    per_user_sum = np.bincount(inverse, weights=values.astype(np.float64), minlength=len(ids))
    per_user_n = np.bincount(inverse, minlength=len(ids)).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(ids), size=(n_boot, len(ids)))
    means = per_user_sum[draws].sum(axis=1) / per_user_n[draws].sum(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"mean": float(values.mean()), "ci95": [float(lo), float(hi)], "n": len(values)}


def bayes_top1(histories: np.ndarray, targets: np.ndarray, n_clusters: int) -> float:
    """The best top-1 hit rate any function of the history reaches on these examples: for each
    distinct history, the share of its most frequent target (an upper bound for every method
    evaluated on the same examples, since each answers one cluster per history)."""
    if not len(targets):
        return float("nan")
    key = history_index(histories, n_clusters)
    pairs = pd.DataFrame({"h": key, "t": targets})
    best = pairs.groupby(["h", "t"]).size().groupby(level=0).max()
    return float(best.sum() / len(targets))


def chance_top1(histories: np.ndarray, n_clusters: int) -> float:
    """Expected top-1 hit rate of a uniform guess among the clusters outside the history."""
    distinct = np.array([len(set(h)) for h in histories.tolist()])
    return float(np.mean(1.0 / (n_clusters - distinct))) if len(distinct) else float("nan")


Scorer = Callable[[np.ndarray], np.ndarray]
"""histories (N, L) -> (N, M) scores, higher = more likely next."""


def parts(seen: np.ndarray) -> dict[str, np.ndarray]:
    """The example masks every figure is reported on: all, seen and unseen histories."""
    return {"all": np.ones(len(seen), dtype=bool), "seen": seen, "unseen": ~seen}


def evaluate_scorer(scorer: Scorer, ex: Examples, n_clusters: int, seen: np.ndarray, seed: int = 0,
                    top: int = 10) -> dict[str, dict]:
    """Top-1 and top-``top`` hit rates of ``scorer`` on all examples, seen and unseen histories."""
    uniq, inverse = np.unique(ex.histories, axis=0, return_inverse=True)
    ranking = novel_ranking(scorer(uniq), uniq, top)[inverse.ravel()]
    hit1 = ranking[:, 0] == ex.targets
    hitk = (ranking == ex.targets[:, None]).any(axis=1)
    out: dict[str, dict] = {}
    for part, mask in parts(seen).items():
        out[part] = {"top1": bootstrap(hit1[mask], ex.users[mask], seed),
                     f"top{top}": bootstrap(hitk[mask], ex.users[mask], seed)}
    return out


def seen_in(train: Examples, held_out: Examples, n_clusters: int) -> np.ndarray:
    """(E,) whether each held-out history occurs among the training transitions' histories."""
    return np.isin(history_index(held_out.histories, n_clusters), history_index(train.histories, n_clusters))
