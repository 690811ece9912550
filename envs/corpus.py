"""The item corpus: embeddings, quality, length and text, generated from the taxonomy.

Geometry follows the words (DESIGN.md, envs): a subtopic's centre is its topic's centre plus
a small offset, a topic's is its domain's plus a larger one, and subtopics that share
keywords are pulled together. So clusters whose words are related are near each other, and
users, whose interests drift in this space, drift to near clusters more often than far ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from envs.taxonomy import Taxonomy, leaf_weights_by_domain

# Spread of each level around its parent, as a norm in embedding units (see module doc).
DOMAIN_SPREAD = 1.0
TOPIC_SPREAD = 0.5
SUBTOPIC_SPREAD = 0.25
WORD_PULL = 0.2


@dataclass(frozen=True)
class Corpus:
    """N items. Arrays are read-only after construction."""

    embeddings: np.ndarray  # (N, D) float32
    quality: np.ndarray  # (N,) float32, roughly N(0, quality_std)
    length: np.ndarray  # (N,) float32 minutes
    leaf: np.ndarray  # (N,) int32 finest taxonomy node (subtopic) of each item
    titles: tuple[str, ...]  # (N,) short text: subtopic name and keywords
    leaf_centers: np.ndarray  # (n_leaves, D) float32

    @property
    def n_items(self) -> int:
        return int(self.embeddings.shape[0])

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])


def _gaussian(rng: np.random.Generator, n: int, dim: int, spread: float) -> np.ndarray:
    # Scaled by 1/sqrt(dim) so that `spread` is the typical norm whatever the dimension.
    return rng.normal(0.0, spread / np.sqrt(dim), size=(n, dim))


def leaf_centers(taxonomy: Taxonomy, dim: int, rng: np.random.Generator) -> np.ndarray:
    """Centres of the subtopics, (n_leaves, dim), from the hierarchy and shared words."""
    domain_c = _gaussian(rng, len(taxonomy.domains), dim, DOMAIN_SPREAD)
    topic_c = domain_c[np.asarray(taxonomy.topic_domain)] + _gaussian(rng, len(taxonomy.topics), dim, TOPIC_SPREAD)
    leaf_c = topic_c[np.asarray(taxonomy.subtopic_topic)] + _gaussian(rng, taxonomy.n_leaves, dim, SUBTOPIC_SPREAD)
    vocab = {w: i for i, w in enumerate(taxonomy.vocabulary())}
    word_vec = _gaussian(rng, len(vocab), dim, 1.0)
    for leaf, (name, kws) in enumerate(zip(taxonomy.subtopics, taxonomy.keywords, strict=True)):
        words = [vocab[w] for w in (*name.split(), *kws)]
        leaf_c[leaf] += WORD_PULL * word_vec[words].mean(axis=0)
    return leaf_c.astype(np.float32)


def build_corpus(
    taxonomy: Taxonomy,
    n_items: int,
    dim: int,
    rng: np.random.Generator,
    item_noise: float = 0.12,
    quality_std: float = 1.0,
    domain_skew: float = 0.0,
) -> Corpus:
    """Generate ``n_items`` items over the taxonomy's subtopics: spread evenly, or with the k-th
    domain's subtopics sharing items in proportion to k^-domain_skew (``leaf_weights_by_domain``),
    every subtopic keeping at least one item."""
    centers = leaf_centers(taxonomy, dim, rng)
    n_leaves = taxonomy.n_leaves
    if n_items < n_leaves:
        leaf = np.sort(rng.choice(n_leaves, size=n_items, replace=False)).astype(np.int32)
    elif domain_skew == 0:  # every subtopic gets items; the rest are drawn uniformly
        leaf = np.sort(rng.permutation(np.arange(n_items) % n_leaves)).astype(np.int32)
    else:
        extra = rng.multinomial(n_items - n_leaves, leaf_weights_by_domain(taxonomy, domain_skew))
        leaf = np.repeat(np.arange(n_leaves), 1 + extra).astype(np.int32)
    emb = centers[leaf] + _gaussian(rng, n_items, dim, item_noise)
    leaf_quality = rng.normal(0.0, 0.5 * quality_std, size=n_leaves)
    quality = np.clip(leaf_quality[leaf] + rng.normal(0.0, 0.85 * quality_std, size=n_items), -3.0, 3.0)
    length = np.clip(np.exp(rng.normal(np.log(4.0), 0.5, size=n_items)), 0.5, 30.0)
    kw_pick = rng.integers(0, 1 << 30, size=(n_items, 2))
    titles = tuple(_title(taxonomy, int(lf), kw_pick[i]) for i, lf in enumerate(leaf))
    arrays = [emb.astype(np.float32), quality.astype(np.float32), length.astype(np.float32), leaf, centers]
    for a in arrays:
        a.setflags(write=False)
    return Corpus(arrays[0], arrays[1], arrays[2], leaf, titles, centers)


def _title(taxonomy: Taxonomy, leaf: int, pick: np.ndarray) -> str:
    kws = taxonomy.keywords[leaf]
    words = [taxonomy.subtopics[leaf]]
    if kws:
        first = kws[int(pick[0]) % len(kws)]
        second = kws[int(pick[1]) % len(kws)]
        words += [first] if first == second else [first, second]
    return " ".join(words)
