"""Typed, batched state (STYLE.md #4): frozen dataclasses of arrays whose first axis is the user.

Transitions never mutate a state; they return a new one (arrays that did not change are shared).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import numpy as np

T = TypeVar("T")

# Columns of SessionState.hist_responses.
RESPONSE_FIELDS: tuple[str, ...] = ("watch_time", "completion", "liked")


@dataclass(frozen=True)
class SessionState:
    """What every world tracks per user: recent engagements, sessions, days. Shapes (B, ...)."""

    user_id: np.ndarray  # (B,) int64 unique per simulated user (slots get new ids on reset)
    # The last H clicks, oldest first (a click shifts the row left and lands in the last
    # column), as the observation shows them: observing is a plain copy, which the compiled
    # kernels vectorize (a ring buffer saved the shifts but cost more to read out in order).
    hist_items: np.ndarray  # (B, H) int64 recent clicked items, -1 = empty
    hist_clusters: np.ndarray  # (B, H) int64 their clusters at the reported level, -1 = empty
    hist_responses: np.ndarray  # (B, H, 3) float32 RESPONSE_FIELDS of those clicks
    engaged: np.ndarray  # (B, ceil(M/8)) uint8 bitset of clusters ever engaged positively
    budget: np.ndarray  # (B,) float32 minutes left in the current session
    day: np.ndarray  # (B,) int32 day of the current session (0-based)
    session_steps: np.ndarray  # (B,) int32 requests so far in this session
    session_positive: np.ndarray  # (B,) int32 positive engagements so far in this session
    days_away: np.ndarray  # (B,) int32 days between the previous session and this one
    done: np.ndarray  # (B,) bool the user's episode has ended
    terminated: np.ndarray  # (B,) bool ended by the user (churn, budget spent), not by the horizon

    @property
    def n_users(self) -> int:
        return int(self.user_id.shape[0])


@dataclass(frozen=True)
class InterestUsers:
    """Hidden per-user interests of the 'interest' dynamics: a mixture of A anchors."""

    anchor_pos: np.ndarray  # (B, A, D) float32 interest centres in embedding space
    anchor_strength: np.ndarray  # (B, A) float32 in [0, 1]
    anchor_latent: np.ndarray  # (B, A) bool latent (never in the history) vs active
    anchor_discovered: np.ndarray  # (B, A) bool latent interest engaged positively at least once
    sat_leaf: np.ndarray  # (B, W) int32 subtopics of the last W clicks, -1 = empty
    sat_weight: np.ndarray  # (B, W) float32 their decayed weights (satiation)
    anchor_leaf: np.ndarray  # (B, A) int32 home subtopic each interest was drawn at
    anchor_boredom: np.ndarray  # (B, A) float32 in [0, 1): boredom, scales the interest's pull by (1 - b)


@dataclass(frozen=True)
class InterestState:
    users: InterestUsers
    session: SessionState


@dataclass(frozen=True)
class RecSimState:
    """RecSim interest_evolution: one interest in [-1, 1] per topic."""

    interests: np.ndarray  # (B, T) float32
    session: SessionState


class Response(NamedTuple):
    """The user's answer to a slate. Shapes (B,)."""

    choice: np.ndarray  # int64 slate position clicked, -1 = no click
    item: np.ndarray  # int64 item clicked, -1 = none
    watch_time: np.ndarray  # float32 minutes
    completion: np.ndarray  # float32 watch_time / item length in [0, 1]
    liked: np.ndarray  # bool
    utility: np.ndarray  # float32 the user's utility for the clicked item, 0 without a click
    interest: np.ndarray  # int64 hidden: which interest (anchor) explains the click, -1 = none/n.a.
    closeness: np.ndarray  # float32 hidden: kernel between the clicked item and that interest


class Events(NamedTuple):
    """Per-step, per-user events: the only thing metrics read. Shapes (B,), arrays only."""

    user_id: np.ndarray  # int64
    active: np.ndarray  # bool the user was served this step (False once its episode ended)
    clicked: np.ndarray  # bool
    item: np.ndarray  # int64, -1 without a click
    cluster: np.ndarray  # int64 at the reported level, -1 without a click
    watch_time: np.ndarray  # float32
    completion: np.ndarray  # float32
    liked: np.ndarray  # bool
    positive: np.ndarray  # bool positive engagement: liked or completion >= 0.5
    novel: np.ndarray  # bool positive engagement with a cluster never engaged before
    unexpected: np.ndarray  # bool clicked cluster is outside the user's recent history window
    discovered: np.ndarray  # bool this engagement discovered a latent interest
    utility: np.ndarray  # float32
    day: np.ndarray  # int32
    session_end: np.ndarray  # bool the session ended after this step

    @classmethod
    def empty(cls, n_users: int) -> Events:
        """Uninitialized event arrays for ``n_users`` users (to be written by a step)."""
        return cls(*(np.empty(n_users, dtype=dt) for dt in EVENT_DTYPES))

    def as_info(self) -> dict[str, np.ndarray]:
        return self._asdict()

    @classmethod
    def from_info(cls, info: dict[str, Any]) -> Events:
        """The events of a vector env's ``info`` (which may hold other keys, e.g. final_obs)."""
        return cls(**{k: info[k] for k in cls._fields})


EVENT_DTYPES: tuple[type, ...] = (
    np.int64, np.bool_, np.bool_, np.int64, np.int64, np.float32, np.float32, np.bool_,
    np.bool_, np.bool_, np.bool_, np.bool_, np.float32, np.int32, np.bool_,
)  # Events fields in order


def copy_state(state: T) -> T:
    """A deep copy of a state (every array copied, C-contiguous): one its holder owns."""
    return map_rows(np.array, state)


def map_rows(fn: Any, *states: T) -> T:
    """Apply ``fn(*arrays)`` to every array field of nested state dataclasses."""
    first = states[0]
    if dataclasses.is_dataclass(first):
        values = {
            f.name: map_rows(fn, *(getattr(s, f.name) for s in states)) for f in dataclasses.fields(first)
        }
        return type(first)(**values)  # type: ignore[return-value,misc]
    return fn(*states)  # type: ignore[no-any-return]


def state_arrays(state: Any) -> list[np.ndarray]:
    """Every array of a (nested) state dataclass, in field order."""
    out: list[np.ndarray] = []
    for f in dataclasses.fields(state):
        value = getattr(state, f.name)
        if dataclasses.is_dataclass(value):
            out.extend(state_arrays(value))
        else:
            out.append(value)
    return out


def state_nbytes(state: Any) -> int:
    return sum(a.nbytes for a in state_arrays(state))
