"""Errors of the language layer.

They extend the project-wide family in ``envs.errors`` (STYLE.md #9), so a caller can catch
``NoveltyGymError`` for everything, ``ValueError`` for bad input, or the precise class here.
"""

from __future__ import annotations

from envs.errors import ConfigError, DataError, MissingExtraError, NoveltyGymError

__all__ = [
    "ConfigError",
    "DataError",
    "MissingExtraError",
    "ModelNotFoundError",
    "NoveltyGymError",
    "TableError",
    "TokenizationError",
]


class TokenizationError(DataError):
    """A text (usually a cluster description) that the model's tokenizer cannot encode faithfully."""


class ModelNotFoundError(ConfigError, FileNotFoundError):
    """A model name or folder that does not exist or holds no loadable model."""


class TableError(DataError):
    """A transition table file that is missing, incomplete, or built for other inputs."""
