"""Novelty and enjoyment metrics, computed from per-step events without loops over users.

Every metric reads an :class:`EventLog` (events stacked over T steps, shape (T, B)); users
are identified by ``user_id``, so logs of vector envs whose slots were reset stay correct.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from envs.errors import DataError
from envs.session import bit_set
from envs.state import Events

_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.int64)


@dataclass
class EventLog:
    """Events of a run, appended step by step; ``stacked()`` gives (T, B) arrays."""

    steps: list[Events] = field(default_factory=list)
    slates: list[np.ndarray] = field(default_factory=list)  # (B, S) shown items per step
    extras: dict[str, list[np.ndarray]] = field(default_factory=dict)  # e.g. "exploratory" (B, S)

    def append(self, events: Events, slate: np.ndarray | None = None, **extras: np.ndarray) -> None:
        self.steps.append(events)
        if slate is not None:
            self.slates.append(np.asarray(slate))
        for k, v in extras.items():
            self.extras.setdefault(k, []).append(np.asarray(v))

    def __len__(self) -> int:
        return len(self.steps)

    def stacked(self) -> Events:
        if not self.steps:
            raise DataError("the event log is empty; step the environment at least once before computing metrics")
        return Events(*(np.stack(col) for col in zip(*self.steps, strict=True)))

    def to_frame(self, item_cluster: np.ndarray | None = None) -> Any:
        """Active steps as a pandas DataFrame: user, time, item, cluster, engagement, ... .

        ``item_cluster`` re-labels clicked items at another granularity."""
        import pandas as pd

        ev = self.stacked()
        t_idx, b_idx = np.nonzero(ev.active)
        item = ev.item[t_idx, b_idx]
        cluster = ev.cluster[t_idx, b_idx]
        if item_cluster is not None:
            cluster = np.where(item >= 0, item_cluster[np.maximum(item, 0)], -1)
        return pd.DataFrame(
            {
                "user": ev.user_id[t_idx, b_idx],
                "time": t_idx.astype(np.int64),
                "item": item,
                "cluster": cluster,
                "engagement": ev.positive[t_idx, b_idx].astype(np.int8),
                "clicked": ev.clicked[t_idx, b_idx],
                "watch_time": ev.watch_time[t_idx, b_idx],
                "liked": ev.liked[t_idx, b_idx],
                "day": ev.day[t_idx, b_idx],
            }
        )


def _dense_users(ev: Events) -> tuple[np.ndarray, int]:
    """(T, B) dense user index (-1 where inactive) and the number of users."""
    uid = np.where(ev.active, ev.user_id, -1)
    uniq, inv = np.unique(uid, return_inverse=True)
    inv = inv.reshape(uid.shape)
    if uniq[0] == -1:
        return inv - 1, len(uniq) - 1
    return inv, len(uniq)


def per_user_metrics(log: EventLog, n_clusters: int) -> dict[str, np.ndarray]:
    """One value per user (rows ordered by user id). Definitions:

    - ``novel_clusters``: positive engagements with a cluster the user had never engaged
      positively before, including the initial history (the paper's novelty, Wang et al. 2024).
    - ``engaged_clusters``: distinct clusters engaged positively in the run.
    - ``requests``, ``clicks``, ``positives``; ``watch_time`` in minutes.
    - ``active_days``: distinct days with at least one request (return visits show here).
    - ``entropy``: Shannon entropy (nats) of the user's positively engaged clusters.
    - ``serendipity``: share of clicks that were positive and outside the user's recent
      history window (relevant and unexpected; Chen et al. 2021, "Values of User Exploration").
    - ``discoveries``: latent interests found.
    """
    ev = log.stacked()
    user, n_users = _dense_users(ev)
    act = user >= 0
    u = user[act]

    def count(mask: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        w = None if weights is None else weights[act & mask]
        return np.bincount(user[act & mask], weights=w, minlength=n_users)

    out: dict[str, np.ndarray] = {
        "user_id": np.unique(ev.user_id[ev.active]),
        "requests": np.bincount(u, minlength=n_users),
        "clicks": count(ev.clicked),
        "positives": count(ev.positive),
        "novel_clusters": count(ev.novel),
        "discoveries": count(ev.discovered),
        "watch_time": count(ev.active, ev.watch_time.astype(np.float64)),
        "completion": count(ev.clicked, ev.completion.astype(np.float64)),
        "serendipity": count(ev.positive & ev.unexpected),
    }
    clicks = np.maximum(out["clicks"], 1)
    out["completion"] = out["completion"] / clicks
    out["serendipity"] = out["serendipity"] / clicks
    max_day = int(ev.day.max()) + 1
    day_keys = np.unique(u.astype(np.int64) * max_day + ev.day[act])
    out["active_days"] = np.bincount(day_keys // max_day, minlength=n_users)
    pos = act & ev.positive
    pair, pair_count = np.unique(user[pos].astype(np.int64) * n_clusters + ev.cluster[pos], return_counts=True)
    pair_user = pair // n_clusters
    out["engaged_clusters"] = np.bincount(pair_user, minlength=n_users)
    p = pair_count / np.maximum(out["positives"][pair_user], 1)
    out["entropy"] = np.bincount(pair_user, weights=-p * np.log(p), minlength=n_users)
    return out


def homogenization(log: EventLog, n_clusters: int, max_pairs: int = 20_000, seed: int = 0) -> float:
    """Mean Jaccard similarity of users' engaged-cluster sets over user pairs (filter bubbles:
    higher = users see the same things). All pairs when few, else ``max_pairs`` random pairs."""
    ev = log.stacked()
    user, n_users = _dense_users(ev)
    if n_users < 2:
        return float("nan")
    pos = (user >= 0) & ev.positive
    bits = bit_set(np.zeros((n_users, (n_clusters + 7) // 8), dtype=np.uint8), user[pos], ev.cluster[pos])
    if n_users * (n_users - 1) // 2 <= max_pairs:
        a, b = np.triu_indices(n_users, k=1)
    else:
        rng = np.random.default_rng(seed)
        a = rng.integers(0, n_users, max_pairs)
        b = (a + rng.integers(1, n_users, max_pairs)) % n_users
    inter = _POPCOUNT[bits[a] & bits[b]].sum(axis=1)
    union = _POPCOUNT[bits[a] | bits[b]].sum(axis=1)
    return float(np.mean(np.where(union > 0, inter / np.maximum(union, 1), 0.0)))


def windowed_homogenization(log: EventLog, n_clusters: int, window: int = 20, seed: int = 0) -> np.ndarray:
    """(T,) homogenization of the clusters engaged within consecutive windows of ``window``
    steps (each step gets its window's value): how alike users' recent consumption is."""
    out = np.full(len(log), np.nan)
    for start in range(0, len(log), window):
        part = EventLog(log.steps[start : start + window])
        out[start : start + window] = homogenization(part, n_clusters, seed=seed)
    return out


def coverage(log: EventLog, n_items: int) -> float:
    """Share of the corpus shown at least once (clicked items when slates were not logged)."""
    if log.slates:
        shown = np.unique(np.concatenate([s.ravel() for s in log.slates]))
    else:
        ev = log.stacked()
        shown = np.unique(ev.item[ev.clicked])
    return float(len(shown) / n_items)


def summarize(log: EventLog, n_clusters: int, n_items: int, seed: int = 0) -> dict[str, float]:
    """The headline metrics of a run (means over users unless said otherwise):
    ``novel_clusters_per_user``, ``ueuc`` (unique engaged user-cluster pairs, a total),
    ``positive_rate`` (positive engagements per request), ``completion_rate`` (mean completion
    of clicks), ``watch_time_per_user``, ``active_days_per_user``, ``entropy``, ``serendipity``,
    ``coverage``, ``homogenization``, ``discoveries_per_user``, ``click_rate``."""
    pu = per_user_metrics(log, n_clusters)
    requests = max(int(pu["requests"].sum()), 1)
    clicks = max(int(pu["clicks"].sum()), 1)
    return {
        "novel_clusters_per_user": float(pu["novel_clusters"].mean()),
        "ueuc": float(pu["engaged_clusters"].sum()),
        "positive_rate": float(pu["positives"].sum() / requests),
        "click_rate": float(pu["clicks"].sum() / requests),
        "completion_rate": float((pu["completion"] * pu["clicks"]).sum() / clicks),
        "watch_time_per_user": float(pu["watch_time"].mean()),
        "active_days_per_user": float(pu["active_days"].mean()),
        "entropy": float(pu["entropy"].mean()),
        "serendipity": float((pu["serendipity"] * pu["clicks"]).sum() / clicks),
        "coverage": coverage(log, n_items),
        "homogenization": homogenization(log, n_clusters, seed=seed),
        "discoveries_per_user": float(pu["discoveries"].mean()),
    }


def per_step_means(log: EventLog) -> dict[str, np.ndarray]:
    """(T,) means over active users per step: the curves of novelty and enjoyment over time."""
    ev = log.stacked()
    n = np.maximum(ev.active.sum(axis=1), 1)
    return {
        "active_users": ev.active.sum(axis=1).astype(np.float64),
        "novel_rate": ev.novel.sum(axis=1) / n,
        "positive_rate": ev.positive.sum(axis=1) / n,
        "watch_time": ev.watch_time.sum(axis=1) / n,
        "click_rate": ev.clicked.sum(axis=1) / n,
        "discovery_rate": ev.discovered.sum(axis=1) / n,
    }
