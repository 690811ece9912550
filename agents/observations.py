"""Checking observation batches and reading cluster histories out of them, vectorized."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.errors import ObservationError
from agents.types import Obs
from envs.interest import POSITIVE_COMPLETION
from envs.session import last_distinct

__all__ = ["OBS_KEYS", "all_per_row", "any_per_row", "check_obs", "in_window", "last_distinct", "pad_history",
           "positive_window"]

OBS_KEYS: tuple[str, ...] = ("items", "clusters", "responses", "session")


def check_obs(obs: Any, history_length: int, n_items: int, n_clusters: int) -> Obs:
    """``obs`` as a batched dict of arrays (B, H, ...); raises ObservationError naming the problem.

    Only shapes, dtypes and id ranges are checked (O(B·H)); values are what the world wrote."""
    if not isinstance(obs, dict):
        raise ObservationError(
            f"observation must be a dict with keys {OBS_KEYS}, got {type(obs).__name__}; "
            "pass the vector env's observation batch"
        )
    missing = [k for k in OBS_KEYS if k not in obs]
    if missing:
        raise ObservationError(f"observation lacks the keys {missing}; got {sorted(obs)}")
    items = np.asarray(obs["items"])
    if items.ndim != 2 or items.shape[1] != history_length:
        raise ObservationError(
            f"obs['items'] has shape {items.shape}; expected (n_users, {history_length}) = (B, history_length). "
            "A single user's observation needs a batch axis: use predict(), which adds it"
        )
    b = items.shape[0]
    expected = {"clusters": (b, history_length), "responses": (b, history_length, 3)}
    for key, shape in expected.items():
        if np.shape(obs[key]) != shape:
            raise ObservationError(f"obs[{key!r}] has shape {np.shape(obs[key])}; expected {shape}")
    session = np.asarray(obs["session"])
    if session.ndim != 2 or session.shape[0] != b:
        raise ObservationError(f"obs['session'] has shape {session.shape}; expected ({b}, n_session_fields)")
    clusters = np.asarray(obs["clusters"])
    for key, arr, hi in (("items", items, n_items), ("clusters", clusters, n_clusters)):
        if arr.dtype.kind not in "iu":
            raise ObservationError(f"obs[{key!r}] must hold integer ids, got dtype {arr.dtype}")
        if arr.size and (arr.min() < -1 or arr.max() >= hi):
            bad = arr[(arr < -1) | (arr >= hi)][0]
            raise ObservationError(
                f"obs[{key!r}] holds {bad}, outside [-1, {hi - 1}]; is the observation from another world?"
            )
    return {"items": items, "clusters": clusters, "responses": np.asarray(obs["responses"]), "session": session}


def positive_window(obs: Obs) -> np.ndarray:
    """(B, H) the window's clusters where the engagement was positive (liked, or watched at
    least ``POSITIVE_COMPLETION``: ``envs.interest.is_positive``), -1 elsewhere: the history the
    language layer is trained on (``llm.data`` keeps positive engagements only), so serving
    reads the same."""
    responses = obs["responses"]
    positive = (responses[..., 2] > 0) | (responses[..., 1] >= POSITIVE_COMPLETION)
    return np.where(positive, obs["clusters"], -1)


def pad_history(history: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left padding (-1) replaced by the oldest known cluster, so partial histories are still
    valid table keys; returns the padded (B, L) history and (B,) whether any cluster was known."""
    known = history >= 0
    oldest = history[:, -1].copy()  # ends as each row's first known cluster (-1 if none)
    for j in range(history.shape[1] - 1, -1, -1):  # a column at a time: L is short
        np.copyto(oldest, history[:, j], where=known[:, j])
    return np.where(known, history, oldest[:, None]), any_per_row(known)


def any_per_row(mask: np.ndarray) -> np.ndarray:
    """``mask.any(axis=1)`` for a (B, n) mask with few columns, a column at a time: numpy's
    reduction along a short last axis cost ~130 us at 10k rows, the columns ~8 us."""
    out = mask[:, 0].copy() if mask.shape[1] else np.zeros(len(mask), dtype=bool)
    for j in range(1, mask.shape[1]):
        out |= mask[:, j]
    return out


def all_per_row(mask: np.ndarray) -> np.ndarray:
    """``mask.all(axis=1)``, as ``any_per_row``."""
    return ~any_per_row(~mask)


def in_window(clusters: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Whether each of ``clusters`` (B,) or (B, K) appears in the row's window (B, H): same shape."""
    c = clusters if clusters.ndim == 2 else clusters[:, None]
    hit = np.zeros(c.shape, dtype=bool)
    for j in range(window.shape[1]):  # one (B, K) comparison per window slot, no (B, K, H) temporary
        hit |= c == window[:, j, None]
    return hit if clusters.ndim == 2 else hit[:, 0]
