"""What every world shares: recent-engagement history, the engaged-cluster bitset, sessions,
returns and the observation. Pure functions of (state, arrays, rng)."""

from __future__ import annotations

import dataclasses

import numpy as np

from envs.state import Events, Response, SessionState

SESSION_FIELDS: tuple[str, ...] = ("budget_left", "day", "session_step", "days_away")


def empty_session(user_id: np.ndarray, history: int, n_clusters: int, budget: float) -> SessionState:
    b = len(user_id)
    return SessionState(
        user_id=user_id.astype(np.int64),
        hist_items=np.full((b, history), -1, dtype=np.int64),
        hist_clusters=np.full((b, history), -1, dtype=np.int64),
        hist_responses=np.zeros((b, history, 3), dtype=np.float32),
        engaged=np.zeros((b, (n_clusters + 7) // 8), dtype=np.uint8),
        budget=np.full(b, budget, dtype=np.float32),
        day=np.zeros(b, dtype=np.int32),
        session_steps=np.zeros(b, dtype=np.int32),
        session_positive=np.zeros(b, dtype=np.int32),
        days_away=np.zeros(b, dtype=np.int32),
        done=np.zeros(b, dtype=bool),
        terminated=np.zeros(b, dtype=bool),
    )


def bit_test(bits: np.ndarray, rows: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """Whether cluster ``cluster[k]`` is set for user ``rows[k]``."""
    return ((bits[rows, cluster >> 3] >> (cluster & 7).astype(np.uint8)) & 1).astype(bool)


def bit_set(bits: np.ndarray, rows: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """A copy of ``bits`` with the given (user, cluster) bits set."""
    out = bits.copy()
    set_bits(out, rows, cluster)
    return out


def set_bits(bits: np.ndarray, rows: np.ndarray, cluster: np.ndarray) -> None:
    """Set the given (user, cluster) bits of ``bits`` in place."""
    np.bitwise_or.at(bits, (rows, cluster >> 3), (1 << (cluster & 7)).astype(np.uint8))


def shift_in(
    window: np.ndarray, new: np.ndarray | np.generic, mask: np.ndarray, keep: np.ndarray | None = None
) -> np.ndarray:
    """Where ``mask``, drop the oldest entry of each row of ``window`` (B, W, ...) and append
    ``new``; elsewhere keep the row of ``keep`` (default ``window``). Returns a new array."""
    shifted = np.empty_like(window)
    shifted[:, :-1] = window[:, 1:]
    shifted[:, -1] = new
    m = mask.reshape(mask.shape + (1,) * (window.ndim - 1))
    return np.where(m, shifted, window if keep is None else keep)


def push_history(
    s: SessionState, mask: np.ndarray, items: np.ndarray, clusters: np.ndarray, responses: np.ndarray
) -> SessionState:
    """Append one engagement (items (B,), clusters (B,), responses (B, 3)) for users where
    ``mask``, dropping their oldest one."""
    return dataclasses.replace(
        s,
        hist_items=shift_in(s.hist_items, items, mask),
        hist_clusters=shift_in(s.hist_clusters, clusters, mask),
        hist_responses=shift_in(s.hist_responses, responses, mask),
    )


def history_contains(hist_clusters: np.ndarray, cluster: np.ndarray) -> np.ndarray:
    """(B,) whether each user's recent window already holds ``cluster`` (B,)."""
    return (hist_clusters == cluster[:, None]).any(axis=1)


def engagement_events(
    s: SessionState, response: Response, item_cluster: np.ndarray, like_or_complete: np.ndarray
) -> tuple[Events, SessionState]:
    """Events of one step and the session state after the history/bitset update (no session end yet)."""
    active = ~s.done
    clicked = (response.choice >= 0) & active
    item = np.where(clicked, response.item, -1)
    cluster = np.where(clicked, np.take(item_cluster, np.maximum(item, 0)), -1).astype(np.int64)
    positive = clicked & like_or_complete
    pos_rows = np.flatnonzero(positive)
    novel = np.zeros_like(positive)
    novel[pos_rows] = ~bit_test(s.engaged, pos_rows, cluster[pos_rows])
    unexpected = clicked & ~history_contains(s.hist_clusters, cluster)
    resp_cols = np.stack([response.watch_time, response.completion, response.liked.astype(np.float32)], axis=1)
    engaged = bit_set(s.engaged, pos_rows, cluster[pos_rows]) if len(pos_rows) else s.engaged
    events = Events(
        user_id=s.user_id,
        active=active,
        clicked=clicked,
        item=item.astype(np.int64),
        cluster=cluster,
        watch_time=np.where(clicked, response.watch_time, 0.0).astype(np.float32),
        completion=np.where(clicked, response.completion, 0.0).astype(np.float32),
        liked=response.liked & clicked,
        positive=positive,
        novel=novel,
        unexpected=unexpected,
        discovered=np.zeros_like(positive),
        utility=np.where(clicked, response.utility, 0.0).astype(np.float32),
        day=s.day,
        session_end=np.zeros_like(positive),
    )
    new = dataclasses.replace(
        push_history(s, clicked, item, cluster, resp_cols),
        engaged=engaged,
        session_steps=s.session_steps + active,
        session_positive=s.session_positive + positive,
    )
    return events, new


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


def observe(s: SessionState, out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """The observation of a batch: only what a recommender could log, never hidden interests.

    Written into the arrays of ``out`` when given (the vector env passes slices of one batch)."""
    b = s.n_users
    h = s.hist_items.shape[1]
    if out is None:
        out = {
            "items": np.empty((b, h), dtype=np.int64),
            "clusters": np.empty((b, h), dtype=np.int64),
            "responses": np.empty((b, h, 3), dtype=np.float32),
            "session": np.empty((b, len(SESSION_FIELDS)), dtype=np.float32),
        }
    np.copyto(out["items"], s.hist_items)
    np.copyto(out["clusters"], s.hist_clusters)
    np.copyto(out["responses"], s.hist_responses)
    session = out["session"]
    np.maximum(s.budget, 0.0, out=session[:, 0])
    session[:, 1] = s.day
    session[:, 2] = s.session_steps
    session[:, 3] = s.days_away
    return out
