"""Interest journeys: which interests people who hold one tend to discover next.

The ground truth behind every exploration selector (DESIGN.md, "Interest journeys are ground
truth"). Each *source* (a subtopic, or a topic with ``journey_level='topic'``) has
``journeys_per_source`` fixed *targets*, drawn once per world among the nearest sources of
other topics (or, with ``journey_semantic_share``, a share of sources whose targets are those
their descriptions' words point to, the rest random); a latent interest follows a journey from
one of the user's active interests with probability ``journey_predictability``. The tables
are explicit arrays, so tests, the oracle and the ceiling (``envs.ceiling``) read the same truth
the users were drawn from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from envs.clusters import segments

if TYPE_CHECKING:
    from envs.world import World

NEIGHBOURS = 12  # candidate subtopics "near" an interest, for secondary active interests
JOURNEY_POOL = 30  # journey targets are drawn among this many nearest sources of other topics

JOURNEY_STREAM = 7
"""Second word of the seed of a world's journey tables ([world seed, this]): a stream of its
own, so tables do not move when other draws from the world seed change. Any fixed number."""


def _squared_distances(centres: np.ndarray) -> np.ndarray:
    c = centres.astype(np.float64)
    return (c**2).sum(1)[:, None] - 2 * c @ c.T + (c**2).sum(1)[None, :]


def leaf_neighbours(world: World) -> np.ndarray:
    """(n_leaves, k) nearest other subtopics of each subtopic, by centre distance."""
    c = world.corpus.leaf_centers
    if len(c) == 1:
        return np.zeros((1, 1), dtype=np.int64)
    d2 = _squared_distances(c)
    np.fill_diagonal(d2, np.inf)
    return np.argsort(d2, axis=1)[:, : min(NEIGHBOURS, len(c) - 1)]


def topic_centres(world: World) -> np.ndarray:
    """(n_topics, D) mean centre of each topic's subtopics."""
    topic = np.asarray(world.taxonomy.subtopic_topic)
    n_topics = len(world.taxonomy.topics)
    sums = np.zeros((n_topics, world.corpus.dim))
    np.add.at(sums, topic, world.corpus.leaf_centers.astype(np.float64))
    return sums / np.maximum(np.bincount(topic, minlength=n_topics), 1)[:, None]


def journey_table(world: World) -> np.ndarray:
    """(n_sources, journeys_per_source) targets of each source at the world's journey level
    (subtopic ids, or topic ids): fixed per world (seeded by the world's seed), drawn among the
    JOURNEY_POOL nearest sources of *other* topics, so a latent interest is usually a new topic
    yet predictable from the active ones."""
    cfg = world.config
    k = cfg.journeys_per_source
    topic_of_leaf = np.asarray(world.taxonomy.subtopic_topic)
    if cfg.journey_level == "topic":
        d2 = _squared_distances(topic_centres(world))
        np.fill_diagonal(d2, np.inf)
    else:
        d2 = _squared_distances(world.corpus.leaf_centers)
        d2[topic_of_leaf[:, None] == topic_of_leaf[None, :]] = np.inf  # not the same topic (nor itself)
    n = len(d2)
    if cfg.journey_semantic_share is not None and n > k:
        return _semantic_or_random_targets(world, cfg.journey_semantic_share, k, np.isfinite(d2))
    pool = np.argsort(d2, axis=1)[:, : min(JOURNEY_POOL, max(1, n - 1))]
    if not np.isfinite(np.take_along_axis(d2, pool, axis=1)).all():  # one-topic taxonomies
        return neighbours(world)[:, :k] if cfg.journey_level == "subtopic" else np.zeros((n, 1), np.int64)
    rng = np.random.default_rng([world.seed, JOURNEY_STREAM])  # the world's own stream for its journeys
    pick = np.argsort(rng.random(pool.shape), axis=1)[:, : min(k, pool.shape[1])]
    return np.take_along_axis(pool, pick, axis=1)


def _semantic_or_random_targets(world: World, share: float, k: int, allowed: np.ndarray) -> np.ndarray:
    """(n_sources, k): a source's ``k`` nearest allowed sources by words (``semantic_neighbours``)
    with probability ``share``, else ``k`` distinct allowed sources uniformly at random."""
    rng = np.random.default_rng([world.seed, JOURNEY_STREAM])
    semantic = rng.random(len(allowed)) < share
    random_order = np.argsort(np.where(allowed, rng.random(allowed.shape), np.inf), axis=1)[:, :k]
    return np.where(semantic[:, None], semantic_neighbours(world)[:, :k], random_order)


def source_words(world: World) -> list[set[str]]:
    """The words of each journey source's description: a subtopic's name and keywords; a topic's
    name and its subtopics' names and keywords."""
    tax = world.taxonomy
    leaf_words = [set(name.split()) | {w for kw in kws for w in kw.split()}
                  for name, kws in zip(tax.subtopics, tax.keywords, strict=True)]
    if world.config.journey_level == "subtopic":
        return leaf_words
    words = [set(name.split()) for name in tax.topics]
    for leaf, topic in enumerate(tax.subtopic_topic):
        words[topic] |= leaf_words[leaf]
    return words


def word_similarity(words: list[set[str]]) -> np.ndarray:
    """(n, n) cosine similarity of the sources' word sets (shared words over the geometric mean
    of their sizes): how related two descriptions read."""
    vocab = {w: i for i, w in enumerate(sorted(set().union(*words)))}
    bags = np.zeros((len(words), max(len(vocab), 1)))
    for row, ws in enumerate(words):
        bags[row, [vocab[w] for w in ws]] = 1.0
    norms = np.sqrt(np.maximum(bags.sum(axis=1), 1.0))
    return (bags @ bags.T) / norms[:, None] / norms[None, :]  # type: ignore[no-any-return]


def semantic_neighbours(world: World) -> np.ndarray:
    """(n_sources, n_sources - 1) the other sources of each source, most similar by words first
    (``word_similarity``; ties by id), sources of its own topic last at subtopic level: what the
    descriptions alone suggest, the part of the journeys a language model can know. Once per world."""
    def build(w: World) -> np.ndarray:
        sim = word_similarity(source_words(w))
        np.fill_diagonal(sim, -np.inf)
        if w.config.journey_level == "subtopic":
            topic = np.asarray(w.taxonomy.subtopic_topic)
            sim[topic[:, None] == topic[None, :]] = -np.inf
        order = np.argsort(-sim, axis=1, kind="stable")
        return order[:, : len(sim) - 1]

    return world.remembered("semantic_neighbours", build)  # type: ignore[no-any-return]


def targets(world: World) -> np.ndarray:
    """(n_sources, journeys_per_source) journey targets of each source subtopic or topic of
    ``world`` (``journey_table``), built once per world."""
    return world.remembered("journey_targets", journey_table)


def neighbours(world: World) -> np.ndarray:
    """(n_leaves, k) nearest other subtopics of each subtopic of ``world`` (``leaf_neighbours``),
    built once per world."""
    return world.remembered("leaf_neighbours", leaf_neighbours)


def journey_source(world: World, leaf: np.ndarray) -> np.ndarray:
    """The journey source of each subtopic ``leaf``: itself, or its topic."""
    return np.asarray(world.taxonomy.subtopic_topic)[leaf] if world.config.journey_level == "topic" else leaf


def follow_journeys(world: World, source_leaf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(n,) a subtopic reached by a random journey from each subtopic ``source_leaf`` (n,): one
    of its source's targets, uniformly; at topic level, a uniformly random subtopic of the target
    topic (one more uniform draw per user)."""
    table = targets(world)
    target = table[journey_source(world, source_leaf), rng.integers(0, table.shape[1], size=len(source_leaf))]
    if world.config.journey_level == "subtopic":
        return target
    order, offsets = topic_members(world)
    size = offsets[target + 1] - offsets[target]
    pick = np.minimum((rng.random(len(target)) * size).astype(np.int64), size - 1)
    return order[offsets[target] + pick]


def topic_members(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Subtopics grouped by topic: (order, offsets) as ``envs.clusters.segments``."""
    return segments(np.asarray(world.taxonomy.subtopic_topic), len(world.taxonomy.topics))
