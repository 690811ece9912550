from __future__ import annotations

import numpy as np
import pytest

import envs
from envs.logs import organic_slates


@pytest.fixture(scope="session")
def tiny_world() -> envs.World:
    return envs.make_world("tiny")


@pytest.fixture(scope="session")
def default_world() -> envs.World:
    return envs.make_world("default")


@pytest.fixture(scope="session")
def small_world() -> envs.World:
    """The default dynamics on a smaller corpus at the topic level (about 18 items a cluster)."""
    return envs.make_world("default", n_items=4000, cluster_level="topic")


def exploit_slates(world: envs.World, obs: dict[str, np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Always more of the user's recent clusters: the feedback-loop policy."""
    return organic_slates(world, obs, rng, explore=0.0)
