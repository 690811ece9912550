"""Typed errors for the whole project, in one place (STYLE.md #9).

Every package of noveltygym raises these (or subclasses of them) so callers can catch
one family. Messages name the bad value and say how to fix it.
"""

from __future__ import annotations


class NoveltyGymError(Exception):
    """Base class of every error noveltygym raises on purpose."""


class ConfigError(NoveltyGymError, ValueError):
    """A configuration value is invalid (size, name, level, preset, type)."""


class ActionError(NoveltyGymError, ValueError):
    """A slate (action) is malformed: wrong shape or dtype, out-of-range or duplicate ids."""


class StateError(NoveltyGymError, RuntimeError):
    """An object was used in the wrong state, e.g. stepping an env before reset or after it ended."""


class DataError(NoveltyGymError, ValueError):
    """Input data (logs, files, model outputs) is empty, malformed or inconsistent."""


class MissingExtraError(NoveltyGymError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the optional package {package!r}, which is not installed. "
            f"Install it with: pip install 'noveltygym[{extra}]'"
        )
        self.package = package
        self.extra = extra


def require_positive_int(name: str, value: object) -> None:
    """ConfigError naming ``name`` unless ``value`` is a positive int (bool is not)."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{name}={value!r} must be a positive integer")
