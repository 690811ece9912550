"""Novelty and enjoyment metrics, computed from per-step events without loops over users.

Every metric reads an :class:`EventLog` (events stacked over T steps, shape (T, B)); users
are identified by ``user_id``, so logs of vector envs whose slots were reset stay correct.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np

from envs.errors import ConfigError, DataError
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


@dataclass
class RunLog:
    """What a summary metric reads: a run's event log and the world's sizes, with the shared
    per-user and per-slot tables computed once for all metrics."""

    log: EventLog
    n_clusters: int
    n_items: int
    seed: int = 0

    @cached_property
    def per_user(self) -> dict[str, np.ndarray]:
        return per_user_metrics(self.log, self.n_clusters)

    @cached_property
    def requests(self) -> int:
        return max(int(self.per_user["requests"].sum()), 1)

    @cached_property
    def clicks(self) -> int:
        return max(int(self.per_user["clicks"].sum()), 1)

    @cached_property
    def exploration(self) -> dict[str, float]:
        return exploration_split(self.log)


SummaryMetric = Callable[[RunLog], float]
SUMMARY_METRICS: dict[str, tuple[SummaryMetric, tuple[str, ...]]] = {}
"""name -> (metric, the log extras it needs): every number ``summarize`` reports, in order."""


def summary_metric(name: str, needs: tuple[str, ...] = ()) -> Callable[[SummaryMetric], SummaryMetric]:
    """Register ``fn(run: RunLog) -> float`` as the summary metric ``name`` (its docstring is
    its definition); ``needs``: log extras without which a run does not report it (e.g.
    'exploratory', logged by ``agents.run_agent``). Runs, reports, sweeps and the command line
    then carry it: one function is a new metric."""

    def register(fn: SummaryMetric) -> SummaryMetric:
        if name in SUMMARY_METRICS and SUMMARY_METRICS[name][0] is not fn:
            raise ConfigError(f"summary metric {name!r} is already registered; choose another name")
        SUMMARY_METRICS[name] = (fn, tuple(needs))
        return fn

    return register


def summarize(log: EventLog, n_clusters: int, n_items: int, seed: int = 0) -> dict[str, float]:
    """Every registered summary metric (``SUMMARY_METRICS``) of a run whose log holds what the
    metric needs, as floats, in registration order (the definitions are the functions below)."""
    run = RunLog(log, n_clusters, n_items, seed)
    return {
        name: float(fn(run))
        for name, (fn, needs) in SUMMARY_METRICS.items()
        if all(extra in log.extras for extra in needs)
    }


@summary_metric("novel_clusters_per_user")
def _novel_clusters_per_user(run: RunLog) -> float:
    """Positive engagements with a cluster new to the user, per user (the paper's novelty)."""
    return float(run.per_user["novel_clusters"].mean())


@summary_metric("ueuc")
def _ueuc(run: RunLog) -> float:
    """Unique engaged user-cluster pairs, a total over users (the paper's UEUC)."""
    return float(run.per_user["engaged_clusters"].sum())


@summary_metric("positive_rate")
def _positive_rate(run: RunLog) -> float:
    """Positive engagements (liked, or at least half watched) per request."""
    return float(run.per_user["positives"].sum() / run.requests)


@summary_metric("click_rate")
def _click_rate(run: RunLog) -> float:
    """Clicks per request."""
    return float(run.per_user["clicks"].sum() / run.requests)


@summary_metric("completion_rate")
def _completion_rate(run: RunLog) -> float:
    """Mean completion (watched share of the item) of clicks."""
    pu = run.per_user
    return float((pu["completion"] * pu["clicks"]).sum() / run.clicks)


@summary_metric("watch_time_per_user")
def _watch_time_per_user(run: RunLog) -> float:
    """Minutes watched per user (the default world's enjoyment reward)."""
    return float(run.per_user["watch_time"].mean())


@summary_metric("active_days_per_user")
def _active_days_per_user(run: RunLog) -> float:
    """Distinct days with a request, per user: return visits."""
    return float(run.per_user["active_days"].mean())


@summary_metric("entropy")
def _entropy(run: RunLog) -> float:
    """Mean over users of the entropy (nats) of their positively engaged clusters."""
    return float(run.per_user["entropy"].mean())


@summary_metric("serendipity")
def _serendipity(run: RunLog) -> float:
    """Share of clicks that were positive and outside the user's recent history window
    (relevant and unexpected; Chen et al. 2021, "Values of User Exploration")."""
    pu = run.per_user
    return float((pu["serendipity"] * pu["clicks"]).sum() / run.clicks)


@summary_metric("coverage")
def _coverage(run: RunLog) -> float:
    """Share of the corpus shown at least once (``coverage``)."""
    return coverage(run.log, run.n_items)


@summary_metric("homogenization")
def _homogenization(run: RunLog) -> float:
    """Mean Jaccard similarity of users' engaged-cluster sets (``homogenization``)."""
    return homogenization(run.log, run.n_clusters, seed=run.seed)


@summary_metric("discoveries_per_user")
def _discoveries_per_user(run: RunLog) -> float:
    """Latent interests found per user (read from the world's events)."""
    return float(run.per_user["discoveries"].mean())


def exploration_split(log: EventLog) -> dict[str, float]:
    """Engagement split by slot kind, from the log's ``exploratory`` extra:
    ``explore_click_rate`` / ``exploit_click_rate`` (clicks per shown slot of that kind),
    ``explore_positive_rate`` / ``exploit_positive_rate`` (positive engagements per shown slot),
    ``explore_watch_per_slot`` (minutes watched per exploratory slot shown) and
    ``explore_share`` (share of shown slots that were exploratory)."""
    if "exploratory" not in log.extras or not log.slates:
        raise ConfigError("the log has no 'exploratory' extra; log with run_agent (or pass exploratory=...)")
    ev = log.stacked()
    slates = np.stack(log.slates)  # (T, B, S)
    expl = np.stack(log.extras["exploratory"]) & ev.active[:, :, None]
    shown_exploit = (~expl & ev.active[:, :, None]).sum()
    on = (slates == ev.item[:, :, None]) & ev.clicked[:, :, None]  # (T, B, S) the clicked slot
    click_e, click_x = (on & expl).sum(), (on & ~expl).sum()
    pos = on & ev.positive[:, :, None]
    watch = (on & expl).any(axis=2) * ev.watch_time
    n_e, n_x = max(int(expl.sum()), 1), max(int(shown_exploit), 1)
    return {
        "explore_share": float(expl.sum() / max(int(ev.active.sum()) * slates.shape[2], 1)),
        "explore_click_rate": float(click_e / n_e),
        "exploit_click_rate": float(click_x / n_x),
        "explore_positive_rate": float((pos & expl).sum() / n_e),
        "exploit_positive_rate": float((pos & ~expl).sum() / n_x),
        "explore_watch_per_slot": float(watch.sum() / n_e),
    }


def _register_exploration_split() -> None:
    """The split's numbers as summary metrics of runs that log slot kinds (``exploration_split``)."""
    def reader(key: str) -> SummaryMetric:
        return lambda run: run.exploration[key]

    for key in ("explore_share", "explore_click_rate", "exploit_click_rate", "explore_positive_rate",
                "exploit_positive_rate", "explore_watch_per_slot"):
        summary_metric(key, needs=("exploratory",))(reader(key))


_register_exploration_split()


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
