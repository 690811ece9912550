"""Cluster descriptions: the vocabulary of answers the language model may give.

A cluster id is an index into one level's list of descriptions. Everything in ``llm`` takes
that list through :func:`as_descriptions`, so the rules (non-empty, unique, lowercase ASCII
words separated by single spaces) are checked in one place; uniqueness is what lets a generated
text map back to exactly one cluster.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from llm.errors import ConfigError, DataError

# Same rule as the taxonomy in envs/: words of lowercase ASCII letters/digits, one space apart.
_DESCRIPTION = re.compile(r"[a-z0-9]+(?: [a-z0-9]+)*")


@runtime_checkable
class HasDescriptions(Protocol):
    """What ``llm`` needs from ``envs.ClusterLevel``: its descriptions, in cluster-id order."""

    @property
    def descriptions(self) -> Sequence[str]: ...


DescriptionsLike = HasDescriptions | Sequence[str]


def as_descriptions(level: DescriptionsLike) -> tuple[str, ...]:
    """Return the validated descriptions of ``level`` (a ClusterLevel or a list of strings).

    Raises:
        DataError: empty list, a non-string, a malformed description, or a duplicate.
    """
    raw = level.descriptions if isinstance(level, HasDescriptions) else level
    if isinstance(raw, str):
        raise ConfigError(
            f"descriptions must be a list of strings, got the single string {raw!r}; wrap it in a list"
        )
    descriptions = tuple(raw)
    if not descriptions:
        raise DataError("the cluster level has no descriptions; pass a level with at least one cluster")
    seen: dict[str, int] = {}
    for i, text in enumerate(descriptions):
        if not isinstance(text, str) or not _DESCRIPTION.fullmatch(text):
            raise DataError(
                f"cluster {i} has description {text!r}; descriptions must be lowercase ASCII words "
                "separated by single spaces (e.g. 'jazz piano')"
            )
        if text in seen:
            raise DataError(
                f"description {text!r} is used by clusters {seen[text]} and {i}; descriptions must be "
                "unique within a level so a generated text maps back to one cluster"
            )
        seen[text] = i
    return descriptions


def description_index(descriptions: Sequence[str]) -> dict[str, int]:
    """Map each description to its cluster id (the inverse of the list)."""
    return {text: i for i, text in enumerate(descriptions)}


def words_of(descriptions: Sequence[str]) -> list[str]:
    """The distinct words of ``descriptions``, in first-seen order (for vocabularies)."""
    return list(dict.fromkeys(w for text in descriptions for w in text.split()))


def descriptions_sha(descriptions: Sequence[str]) -> str:
    """SHA-256 of the ordered descriptions: tables and models record which level they answer."""
    return hashlib.sha256("\n".join(descriptions).encode()).hexdigest()
