"""Compiled forms of the dynamics: one fused pass per user, with numba.

The numpy modules ``envs.interest``, ``envs.recsim``, ``envs.choice`` and ``envs.session`` are
the readable reference: they say what a user does, batched over arrays, and they are what
``World.respond`` and ``World.transition`` run. ``World.step`` runs these kernels instead,
which draw the same random numbers in the same order and compute the same quantities one
user at a time, several times faster (benchmarks/bench_env.py). ``NOVELTYGYM_BACKEND=numpy``
(or ``make_world(..., backend="numpy")``) steps with the reference instead.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import numba

from envs.errors import ConfigError

BACKENDS: tuple[str, ...] = ("numba", "numpy")


def resolve_backend(backend: str | None) -> str:
    """``backend``, else ``$NOVELTYGYM_BACKEND``, else 'numba'; raises ConfigError if unknown."""
    name = backend or os.environ.get("NOVELTYGYM_BACKEND") or "numba"
    if name not in BACKENDS:
        raise ConfigError(f"backend={name!r} is unknown; use one of {list(BACKENDS)} (NOVELTYGYM_BACKEND)")
    return name


def kernels_for(dynamics: str) -> ModuleType:
    """The kernel module of a world's dynamics ('interest' or 'recsim')."""
    return importlib.import_module(f"envs.kernels.{dynamics}")


def set_threads(n: int) -> None:
    """Threads the compiled dynamics use when called from this Python thread (at most
    numba's NUMBA_NUM_THREADS, which defaults to every core)."""
    numba.set_num_threads(max(1, min(n, numba.config.NUMBA_NUM_THREADS)))  # type: ignore[attr-defined]
