"""Compiled forms of the dynamics, with numba: passes over blocks of users, chunks of users on
several threads (``envs.kernels.chunks``).

The numpy modules ``envs.interest``, ``envs.recsim``, ``envs.choice`` and ``envs.session`` are
the readable reference: they say what a user does, batched over arrays, and they are what
``World.respond`` and ``World.transition`` run. ``World.step`` runs these kernels instead,
which draw the same random numbers in the same order and compute the same quantities one
user at a time, several times faster (benchmarks/bench_env.py). ``NOVELTYGYM_BACKEND=numpy``
(or ``make_world(..., backend="numpy")``) steps with the reference instead, and so does every
world where numba cannot be imported: envs itself needs only numpy and gymnasium.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from envs.errors import ConfigError
from envs.kernels.chunks import set_threads
from envs.spaces import duplicate_mask
from envs.state import SessionState

if TYPE_CHECKING:
    from envs.dynamics import Dynamics

try:
    import numba
except ImportError:  # e.g. a Python release numba does not support yet
    numba = None  # type: ignore[assignment]

if numba is not None:
    from envs.kernels.common import first_bad_slate_entry as compiled_slate_check
    from envs.kernels.common import observe_rows

BACKENDS: tuple[str, ...] = ("numba", "numpy")
__all__ = ["BACKENDS", "first_bad_slate_entry", "kernels_for", "observe_compiled", "resolve_backend", "set_threads"]


def resolve_backend(backend: str | None) -> str:
    """``backend``, else ``$NOVELTYGYM_BACKEND``, else 'numba' where numba imports ('numpy'
    elsewhere). Raises ConfigError if unknown, or 'numba' without numba."""
    name = backend or os.environ.get("NOVELTYGYM_BACKEND") or ("numba" if numba is not None else "numpy")
    if name not in BACKENDS:
        raise ConfigError(f"backend={name!r} is unknown; use one of {list(BACKENDS)} (NOVELTYGYM_BACKEND)")
    if name == "numba" and numba is None:
        raise ConfigError("backend='numba' needs numba, which does not import here: pip install numba, "
                          "or use backend='numpy' (NOVELTYGYM_BACKEND=numpy)")
    return name


def kernels_for(dynamics: Dynamics) -> ModuleType | None:
    """The compiled twin of a world's dynamics (the module its ``kernels`` names), or None for
    dynamics that have only their numpy form. A named module that does not import, or lacks
    ``step_inplace`` and ``params``, is a ConfigError: never a silent fallback to numpy."""
    if dynamics.kernels is None:
        return None
    try:
        module = importlib.import_module(dynamics.kernels)
    except ModuleNotFoundError as exc:
        if exc.name != dynamics.kernels:
            raise
        raise ConfigError(
            f"dynamics {dynamics.name!r} names the compiled module {dynamics.kernels!r}, which does not exist; "
            "fix Dynamics.kernels, or set it to None to step with the numpy functions"
        ) from exc
    missing = [f for f in ("step_inplace", "params") if not hasattr(module, f)]
    if missing:
        raise ConfigError(f"compiled module {dynamics.kernels!r} of dynamics {dynamics.name!r} lacks {missing}")
    return module


def observe_compiled(s: SessionState, out: dict[str, np.ndarray]) -> None:
    """``envs.session.observe`` compiled (where numba imports), written into ``out``."""
    observe_rows(0, s.n_users, s.hist_items, s.hist_clusters, s.hist_responses, s.budget, s.day,
                 s.session_steps, s.days_away, out["items"], out["clusters"], out["responses"], out["session"])


def first_bad_slate_entry(slate: np.ndarray, n_items: int) -> tuple[int, int, int]:
    """(row, column, kind) of the first invalid entry of slates (B, S), in row order: kind 1
    = not an item id, 2 = repeats an earlier item of its row; (-1, -1, 0) when all are valid."""
    if numba is not None:
        return compiled_slate_check(slate, n_items)  # type: ignore[no-any-return]
    bad = (slate < 0) | (slate >= n_items) | duplicate_mask(slate)  # a repeat: equal to an earlier entry of its row
    if not bad.any():
        return -1, -1, 0
    row, col = (int(x) for x in np.argwhere(bad)[0])
    return row, col, 1 if not 0 <= slate[row, col] < n_items else 2
