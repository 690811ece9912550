"""Errors of the agents layer.

They extend the project-wide family in ``envs.errors`` (STYLE.md #9): catch ``NoveltyGymError``
for everything, ``ValueError`` for bad input, or the precise class here. Messages name the bad
value and say how to fix it.
"""

from __future__ import annotations

from envs.errors import ActionError, ConfigError, DataError, MissingExtraError, NoveltyGymError, StateError

__all__ = [
    "ActionError",
    "ConfigError",
    "DataError",
    "EmptyClusterError",
    "MissingExtraError",
    "ModelFileError",
    "NoveltyGymError",
    "ObservationError",
    "SelectorError",
    "StateError",
]


class ObservationError(DataError):
    """An observation batch that is not what the world produces (missing key, wrong shape/dtype)."""


class SelectorError(DataError):
    """An option selector (or its table) proposed a cluster that does not exist at the agent's level."""


class EmptyClusterError(DataError):
    """An item policy was asked for items of a cluster that holds none."""


class ModelFileError(DataError, FileNotFoundError):
    """A saved agent, model or table file that is missing or was written for something else."""
