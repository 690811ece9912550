"""Checking observation batches and reading cluster histories out of them, vectorized."""

from __future__ import annotations

from typing import Any

import numpy as np

from agents.errors import ObservationError
from agents.types import Obs

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


def last_distinct(window: np.ndarray, length: int) -> np.ndarray:
    """(B, L) the last ``length`` clusters of each window (B, H), oldest first, after dropping
    empty slots (-1) and consecutive repeats: the history format the language layer learns
    from (llm/data.py drops consecutive repeats). Rows with fewer are left-padded with -1."""
    # On (H, B): the scans over a row's H slots run across users, not along B short rows.
    w = np.ascontiguousarray(window.T)
    keep = w >= 0
    # Keep the last of each run of equal clusters (the following slot differs or is the end).
    keep[:-1] &= w[:-1] != w[1:]
    # Position from the end among kept slots: 1 = newest kept.
    from_end = np.cumsum(keep[::-1], axis=0, dtype=np.int32)[::-1]
    out = np.empty((length, w.shape[1]), dtype=np.int64)
    for t in range(1, length + 1):  # at most one kept slot per user has from_end == t
        out[length - t] = np.where(keep & (from_end == t), w, -1).max(axis=0, initial=-1)
    return np.ascontiguousarray(out.T)


def pad_history(history: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Left padding (-1) replaced by the oldest known cluster, so partial histories are still
    valid table keys; returns the padded (B, L) history and (B,) whether any cluster was known."""
    known = history >= 0
    any_known = known.any(axis=1)
    first = np.argmax(known, axis=1)
    oldest = history[np.arange(len(history)), first]
    return np.where(known, history, oldest[:, None]), np.asarray(any_known)


def in_window(clusters: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Whether each of ``clusters`` (B,) or (B, K) appears in the row's window (B, H): same shape."""
    c = clusters if clusters.ndim == 2 else clusters[:, None]
    hit = np.zeros(c.shape, dtype=bool)
    for j in range(window.shape[1]):  # one (B, K) comparison per window slot, no (B, K, H) temporary
        hit |= c == window[:, j, None]
    return hit if clusters.ndim == 2 else hit[:, 0]
