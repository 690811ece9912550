"""Interest clusters at a chosen granularity, each with a unique language description.

The taxonomy gives three named levels (domain, topic, subtopic); any other K comes from
k-means on the item embeddings, with descriptions made of the names of the subtopics the
cluster holds most, so that K is a free knob of granularity (the paper's design choice).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from envs.corpus import Corpus
from envs.errors import ConfigError, DataError
from envs.taxonomy import Taxonomy

LEVEL_NAMES: tuple[str, ...] = ("domain", "topic", "subtopic")


@dataclass(frozen=True, eq=False)
class ClusterLevel:
    """One granularity: M clusters over the corpus."""

    name: str
    descriptions: tuple[str, ...]  # (M,) unique
    item_cluster: np.ndarray  # (N,) int32 cluster of each item
    centroids: np.ndarray  # (M, D) float32 mean embedding of the cluster's items
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        index = {d: i for i, d in enumerate(self.descriptions)}
        if len(index) != len(self.descriptions):
            dup = next(d for d in self.descriptions if self.descriptions.count(d) > 1)
            raise ConfigError(f"cluster level {self.name!r}: description {dup!r} is not unique")
        object.__setattr__(self, "_index", index)

    @property
    def n_clusters(self) -> int:
        return len(self.descriptions)

    def index_of(self, description: str) -> int:
        """The cluster a description names; raises DataError for anything else."""
        try:
            return self._index[description]
        except KeyError:
            raise DataError(
                f"{description!r} is not a cluster description of level {self.name!r} "
                f"({self.n_clusters} clusters, e.g. {self.descriptions[0]!r})"
            ) from None

    def contains(self, description: str) -> bool:
        return description in self._index

    @cached_property
    def _members(self) -> tuple[np.ndarray, np.ndarray]:
        return segments(self.item_cluster, self.n_clusters)

    def items_in(self, cluster: int) -> np.ndarray:
        """Item ids of one cluster (sorted by id)."""
        if not 0 <= cluster < self.n_clusters:
            raise DataError(f"cluster {cluster} does not exist at level {self.name!r} (0..{self.n_clusters - 1})")
        order, offsets = self._members
        return order[offsets[cluster] : offsets[cluster + 1]]

    @property
    def members(self) -> tuple[np.ndarray, np.ndarray]:
        """(items sorted by cluster, offsets (M+1,)): items of c are items[offsets[c]:offsets[c+1]]."""
        return self._members

    @cached_property
    def sizes(self) -> np.ndarray:
        return np.bincount(self.item_cluster, minlength=self.n_clusters)

    @cached_property
    def similarity(self) -> np.ndarray:
        """(M, M) cosine similarity of the cluster centroids."""
        c = self.centroids / np.maximum(np.linalg.norm(self.centroids, axis=1, keepdims=True), 1e-9)
        return (c @ c.T).astype(np.float32)


def segments(labels: np.ndarray, n_groups: int) -> tuple[np.ndarray, np.ndarray]:
    """Ids grouped by label: the ids of group g are ``order[offsets[g]:offsets[g + 1]]``."""
    order = np.argsort(labels, kind="stable").astype(np.int64)
    offsets = np.zeros(n_groups + 1, dtype=np.int64)
    np.cumsum(np.bincount(labels, minlength=n_groups), out=offsets[1:])
    return order, offsets


def uniform_member(order: np.ndarray, offsets: np.ndarray, groups: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A uniformly random member of each group (``u`` uniforms in [0, 1), same shape as
    ``groups``); -1 for a group without members."""
    start, size = offsets[groups], offsets[groups + 1] - offsets[groups]
    index = np.minimum(start + (u * size).astype(np.int64), len(order) - 1)
    return np.where(size > 0, order[index], -1)


def _centroids(embeddings: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    sums = np.zeros((k, embeddings.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, embeddings)
    counts = np.bincount(labels, minlength=k)[:, None]
    return (sums / np.maximum(counts, 1)).astype(np.float32)


class ClusterHierarchy:
    """All granularities of one corpus: the named taxonomy levels and any K on request."""

    def __init__(self, taxonomy: Taxonomy, corpus: Corpus, seed: int = 0) -> None:
        self.taxonomy = taxonomy
        self.corpus = corpus
        self._seed = seed
        self._levels: dict[str | int, ClusterLevel] = {}
        leaf = corpus.leaf
        topic_of_leaf = np.asarray(taxonomy.subtopic_topic, dtype=np.int32)
        domain_of_topic = np.asarray(taxonomy.topic_domain, dtype=np.int32)
        self._named = {
            "domain": (taxonomy.domains, domain_of_topic[topic_of_leaf[leaf]]),
            "topic": (taxonomy.topics, topic_of_leaf[leaf]),
            "subtopic": (taxonomy.subtopics, leaf),
        }

    @property
    def levels(self) -> tuple[str, ...]:
        return LEVEL_NAMES

    def level(self, name_or_k: str | int) -> ClusterLevel:
        """A level by name ('domain', 'topic', 'subtopic') or K clusters by k-means."""
        if name_or_k in self._levels:
            return self._levels[name_or_k]
        if isinstance(name_or_k, str):
            if name_or_k not in self._named:
                raise ConfigError(f"unknown cluster level {name_or_k!r}; use one of {LEVEL_NAMES} or an int K")
            names, labels = self._named[name_or_k]
            # Only clusters that hold items exist (a small corpus may leave some empty).
            used = np.unique(labels)
            remap = np.full(len(names), -1, dtype=np.int32)
            remap[used] = np.arange(len(used), dtype=np.int32)
            item_cluster = remap[labels]
            descriptions = tuple(names[i] for i in used)
        elif isinstance(name_or_k, int) and not isinstance(name_or_k, bool):
            item_cluster, descriptions = self._kmeans_level(name_or_k)
        else:
            raise ConfigError(f"cluster level {name_or_k!r} must be a level name or an int K")
        item_cluster = item_cluster.astype(np.int32)
        item_cluster.setflags(write=False)
        lvl = ClusterLevel(
            name=str(name_or_k),
            descriptions=descriptions,
            item_cluster=item_cluster,
            centroids=_centroids(self.corpus.embeddings, item_cluster, len(descriptions)),
        )
        self._levels[name_or_k] = lvl
        return lvl

    def _kmeans_level(self, k: int) -> tuple[np.ndarray, tuple[str, ...]]:
        n = self.corpus.n_items
        if not 1 <= k <= n:
            raise ConfigError(f"cannot make K={k} clusters from {n} items; choose 1 <= K <= {n}")
        labels = kmeans(self.corpus.embeddings, k, np.random.default_rng(self._seed))
        return labels, describe_clusters(labels, k, self.corpus.leaf, self.taxonomy)


def kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 25) -> np.ndarray:
    """Lloyd's k-means, vectorized; every cluster ends non-empty. Returns (N,) labels."""
    n = x.shape[0]
    centers = x[rng.choice(n, size=k, replace=False)].astype(np.float64)
    sq = (x.astype(np.float64) ** 2).sum(axis=1)
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        d = sq[:, None] - 2.0 * x @ centers.T + (centers**2).sum(axis=1)[None, :]
        labels = d.argmin(axis=1)
        counts = np.bincount(labels, minlength=k)
        empty = np.flatnonzero(counts == 0)
        if len(empty):
            # Re-seed empty clusters at the points farthest from their centres.
            far = np.argsort(d[np.arange(n), labels])[::-1][: len(empty)]
            labels[far] = empty
        new_centers = _centroids(x, labels, k).astype(np.float64)
        if np.allclose(new_centers, centers):
            break
        centers = new_centers
    return labels


def describe_clusters(labels: np.ndarray, k: int, leaf: np.ndarray, taxonomy: Taxonomy) -> tuple[str, ...]:
    """Unique descriptions for arbitrary clusters: the names of their most frequent subtopics."""
    counts = np.zeros((k, taxonomy.n_leaves), dtype=np.int64)
    np.add.at(counts, (labels, leaf), 1)
    ranked = np.argsort(-counts, axis=1, kind="stable")
    used: set[str] = set()
    out: list[str] = []
    for c in range(k):
        present = [int(i) for i in ranked[c] if counts[c, i] > 0]
        desc = ""
        for depth in range(1, len(present) + 1):
            desc = " and ".join(taxonomy.subtopics[i] for i in present[:depth])
            if desc not in used:
                break
        while desc in used:  # same set of subtopics split in two: say which part
            desc += " more"
        used.add(desc)
        out.append(desc)
    return tuple(out)
