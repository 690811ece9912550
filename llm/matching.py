"""Mapping free-generated text back to clusters, with a policy for texts that match none."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from llm.config import UnmatchedPolicy
from llm.descriptions import description_index


class DescriptionMatcher:
    """Exact match of parsed text to a description; ``nearest`` maps the rest by word overlap.

    Nearest = highest Jaccard similarity of word sets, ties to the lower cluster id; a text with
    no word in common with any description stays unmatched (-1) under both policies.
    """

    def __init__(self, descriptions: Sequence[str]) -> None:
        self.index = description_index(descriptions)
        self.words = [set(d.split()) for d in descriptions]
        self._by_word: dict[str, list[int]] = {}
        for i, ws in enumerate(self.words):
            for w in ws:
                self._by_word.setdefault(w, []).append(i)

    def exact(self, text: str) -> int:
        return self.index.get(text, -1)

    def nearest(self, text: str) -> int:
        words = set(text.split())
        candidates = sorted({i for w in words for i in self._by_word.get(w, ())})
        if not candidates:
            return -1
        scores = [len(words & self.words[i]) / len(words | self.words[i]) for i in candidates]
        return candidates[int(np.argmax(scores))]

    def match(self, texts: Sequence[str], policy: UnmatchedPolicy) -> tuple[np.ndarray, np.ndarray]:
        """Cluster per text (-1 = unmatched after the policy) and whether it matched exactly."""
        exact = np.array([self.exact(t) for t in texts], dtype=np.int64)
        clusters = exact.copy()
        if policy == "nearest":
            for i in np.flatnonzero(exact < 0):
                clusters[i] = self.nearest(texts[int(i)])
        return clusters, exact >= 0
