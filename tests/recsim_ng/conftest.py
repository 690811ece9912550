"""RecSim NG interop tests.

They need the ``recsim-ng`` extra (TensorFlow and friends). Without it every test here is
skipped with the reason, except those marked ``no_extra_needed``, which check what a user
without the extra sees. Test modules import adapter names inside tests and fixtures only,
so collecting them never needs TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from envs.errors import MissingExtraError
from envs.recsim_ng import compat


def _missing_extra() -> str | None:
    try:
        compat.check_installed()
    except MissingExtraError as exc:
        return str(exc)
    return None


MISSING_EXTRA = _missing_extra()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "no_extra_needed: runs without the recsim-ng extra")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A skip mark at collection, not a skip inside a fixture: module- and session-scoped
    # fixtures (test_compat's compat.ensure()) would otherwise run first and error.
    if MISSING_EXTRA is None:
        return
    skip = pytest.mark.skip(reason=f"the recsim-ng extra is not installed ({MISSING_EXTRA})")
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents and item.get_closest_marker("no_extra_needed") is None:
            item.add_marker(skip)


def random_slates(rng: np.random.Generator, n_users: int, n_items: int, slate_size: int) -> np.ndarray:
    """(B, S) uniformly random slates of distinct items."""
    return np.argsort(rng.random((n_users, n_items)), axis=1)[:, :slate_size]


@pytest.fixture(scope="session")
def vector_env() -> Callable[..., Any]:
    """Factory of RecSim NG interest-evolution vector envs (imports TensorFlow on first use).
    Eager by default: tracing the compiled step (~2 s) outweighs a few test steps, and
    test_adapter checks that compiled steps give the same results."""

    def make(num_envs: int = 8, horizon: int = 4, graph_compile: bool = False, **kwargs: Any) -> Any:
        from envs.recsim_ng import RecSimNGVectorEnv

        return RecSimNGVectorEnv(num_envs, horizon=horizon, graph_compile=graph_compile, **kwargs)

    return make
