"""Shared fixtures: the tiny world (known optimum: beta is every user's best cluster) and a small
transition table with the interface of ``llm.table.TransitionTable``."""

from __future__ import annotations

import numpy as np
import pytest

import envs


@pytest.fixture(scope="session")
def tiny():
    return envs.make_world("tiny")


@pytest.fixture(scope="session")
def default_world():
    return envs.make_world("default")


class FixedTable:
    """A transition table whose answer to every history is ``answers`` (n samples)."""

    def __init__(self, n_clusters: int, context_length: int, answers: list[int]) -> None:
        self.n_clusters = n_clusters
        self.context_length = context_length
        self.answers = np.asarray(answers, dtype=np.int64)

    def lookup(self, histories: np.ndarray) -> np.ndarray:
        histories = np.asarray(histories)
        assert histories.shape[1] == self.context_length
        return np.broadcast_to(self.answers, (len(histories), len(self.answers))).copy()


@pytest.fixture(scope="session")
def fixed_table():
    return FixedTable


def obs_batch(world, n_users: int = 8, seed: int = 0):
    env = envs.InterestExplorationVectorEnv(n_users, world=world)
    obs, _ = env.reset(seed=seed)
    return env, obs
