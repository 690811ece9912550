"""The built-in taxonomy of real-world interests: domains ▸ topics ▸ subtopics, in words.

The taxonomy is data (``envs/data/taxonomy.json``), not code, so a researcher can swap in
their own. Every name is unique across the whole file, which is what lets a generated
description map back to exactly one cluster.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from envs.errors import ConfigError

_NAME = re.compile(r"^[a-z]+( [a-z]+)*$")


@dataclass(frozen=True)
class Taxonomy:
    """Three levels of interest names; parents are given as indices into the level above."""

    domains: tuple[str, ...]
    topics: tuple[str, ...]
    topic_domain: tuple[int, ...]  # (n_topics,) index into domains
    subtopics: tuple[str, ...]
    subtopic_topic: tuple[int, ...]  # (n_subtopics,) index into topics
    keywords: tuple[tuple[str, ...], ...]  # (n_subtopics,) words describing each subtopic

    @property
    def n_leaves(self) -> int:
        return len(self.subtopics)

    def vocabulary(self) -> list[str]:
        """Every distinct word of the taxonomy, sorted (for word-level tokenizers)."""
        words: set[str] = set()
        for name in (*self.domains, *self.topics, *self.subtopics):
            words.update(name.split())
        for kws in self.keywords:
            words.update(kws)
        return sorted(words)

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "<dict>") -> Taxonomy:
        domains: list[str] = []
        topics: list[str] = []
        topic_domain: list[int] = []
        subtopics: list[str] = []
        subtopic_topic: list[int] = []
        keywords: list[tuple[str, ...]] = []
        try:
            for d in data["domains"]:
                domains.append(_checked_name(d["name"], source))
                for t in d["topics"]:
                    topic_domain.append(len(domains) - 1)
                    topics.append(_checked_name(t["name"], source))
                    for s in t["subtopics"]:
                        subtopic_topic.append(len(topics) - 1)
                        subtopics.append(_checked_name(s["name"], source))
                        keywords.append(tuple(_checked_name(k, source) for k in s.get("keywords", ())))
        except (KeyError, TypeError) as exc:
            raise ConfigError(
                f"taxonomy {source} is malformed ({exc!r}); expected "
                '{"domains": [{"name": ..., "topics": [{"name": ..., "subtopics": '
                '[{"name": ..., "keywords": [...]}]}]}]}'
            ) from exc
        if not subtopics:
            raise ConfigError(f"taxonomy {source} has no subtopics; give at least one domain > topic > subtopic")
        for level, names in (("domain", domains), ("topic", topics), ("subtopic", subtopics)):
            seen: set[str] = set()
            for name in names:
                if name in seen:
                    raise ConfigError(
                        f"taxonomy {source}: {level} name {name!r} appears twice; names must be unique "
                        "within a level so that a description maps back to one cluster"
                    )
                seen.add(name)
        return cls(
            tuple(domains), tuple(topics), tuple(topic_domain),
            tuple(subtopics), tuple(subtopic_topic), tuple(keywords),
        )

    @classmethod
    def load(cls, path: str | Path | None = None) -> Taxonomy:
        """Load a taxonomy JSON file; ``None`` loads the built-in one."""
        if path is None:
            text = resources.files("envs").joinpath("data/taxonomy.json").read_text(encoding="utf-8")
            return cls.from_dict(json.loads(text), source="built-in taxonomy")
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"taxonomy file {str(p)!r} does not exist; pass a JSON file or None for the built-in one")
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ConfigError(f"taxonomy file {str(p)!r} is not valid JSON: {exc}") from exc
        return cls.from_dict(data, source=str(p))


def _checked_name(value: Any, source: str) -> str:
    if not isinstance(value, str) or not _NAME.match(value):
        raise ConfigError(
            f"taxonomy {source}: name {value!r} is invalid; use lowercase ASCII words separated by single spaces"
        )
    return value


def leaf_weights_by_domain(taxonomy: Taxonomy, skew: float) -> np.ndarray:
    """(n_leaves,) weights that sum to 1: the k-th domain of the taxonomy (in its order) weighs
    k^-skew (Zipf), shared equally by its subtopics; skew 0 = every subtopic alike."""
    domain = np.asarray(taxonomy.topic_domain)[np.asarray(taxonomy.subtopic_topic)]
    domain_weight = np.arange(1, len(taxonomy.domains) + 1, dtype=np.float64) ** -skew
    weight = domain_weight[domain] / np.bincount(domain, minlength=len(taxonomy.domains))[domain]
    return weight / weight.sum()  # type: ignore[no-any-return]
