"""The static side of a RecSim NG simulation as a noveltygym :class:`~envs.world.World`.

Agents, metrics and the language layer read a world's corpus, its interest clusters (with
unique descriptions) and its config, never its dynamics. :class:`RecSimNGWorld` builds those
parts from a RecSim NG corpus (topics become clusters, named from noveltygym's taxonomy) so
that everything written for noveltygym runs unchanged; the dynamics stay in TensorFlow and
are stepped by :class:`envs.recsim_ng.simulation.Simulation`.

Needs numpy only: the corpus arrives as plain arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, NoReturn

import numpy as np
from gymnasium import spaces

from envs.clusters import ClusterHierarchy, ClusterLevel
from envs.config import WorldConfig
from envs.corpus import Corpus
from envs.dynamics import Dynamics
from envs.errors import ConfigError, DataError
from envs.taxonomy import Taxonomy
from envs.world import World

DOMAIN = "recsim ng"


@dataclass(frozen=True)
class Documents:
    """A RecSim NG corpus as arrays (the ``available docs`` of a story). Shapes (N, ...)."""

    topic: np.ndarray  # (N,) int topic of each document: its interest cluster
    quality: np.ndarray  # (N,) float32, zeros when the story has no ``doc_quality``
    features: np.ndarray  # (N, D) float32, one-hot topics when the story has no ``doc_features``
    length: np.ndarray  # (N,) float32 minutes, ones when the story has no ``doc_length``

    @property
    def n_docs(self) -> int:
        return int(self.topic.shape[0])


def describe_topics(n_topics: int, names: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """Unique descriptions for RecSim NG's numbered topics.

    ``names`` are used as given; otherwise topics are named after the built-in taxonomy, at
    the coarsest level that has enough names (domains, then topics, then subtopics), taking
    names from each domain in turn so that few topics still read as varied interests."""
    if names is not None:
        if len(names) != n_topics or len(set(names)) != n_topics:
            raise ConfigError(
                f"topic_names must be {n_topics} unique names (one per RecSim NG topic), got {len(names)} "
                f"with {len(set(names))} distinct"
            )
        return tuple(names)
    taxonomy = Taxonomy.load()
    domain_of_topic = np.asarray(taxonomy.topic_domain)
    levels: tuple[tuple[tuple[str, ...], np.ndarray], ...] = (
        (taxonomy.domains, np.arange(len(taxonomy.domains))),
        (taxonomy.topics, domain_of_topic),
        (taxonomy.subtopics, domain_of_topic[np.asarray(taxonomy.subtopic_topic)]),
    )
    for level_names, domain in levels:
        if n_topics <= len(level_names):
            # Rank within its domain first, domain second: one name per domain, then the next.
            rank = np.zeros(len(domain), dtype=np.int64)
            for d in np.unique(domain):
                rank[domain == d] = np.arange(int((domain == d).sum()))
            order = np.lexsort((domain, rank))[:n_topics]
            return tuple(level_names[i] for i in order)
    base = taxonomy.subtopics
    return tuple(base[i % len(base)] + ("" if i < len(base) else f" {i // len(base) + 1}") for i in range(n_topics))


class RecSimNGWorld(World):
    """The static parts of a RecSim NG simulation (corpus, topic clusters, config).

    RecSim NG's topics are the interest clusters at level ``"topic"`` (topics without any
    document are dropped, as noveltygym drops empty clusters); any K clusters by k-means on
    the document features are available through ``clusters.level(K)`` as in other worlds.
    Dynamics methods raise: RecSim NG's users live in TensorFlow, stepped by the adapter.
    """

    def __init__(
        self,
        docs: Documents,
        slate_size: int,
        history_length: int,
        horizon: int,
        topic_names: tuple[str, ...],
        n_topics: int,
        seed: int = 0,
    ) -> None:
        # World.__init__ generates its own corpus; here the corpus comes from RecSim NG.
        if docs.topic.size and (docs.topic.min() < 0 or docs.topic.max() >= n_topics):
            raise DataError(
                f"RecSim NG doc_topic holds {int(docs.topic.min())}..{int(docs.topic.max())}, outside the "
                f"story's {n_topics} topics (config['num_topics']); fix the corpus or num_topics"
            )
        self.config = WorldConfig(
            dynamics="recsim-ng",
            n_items=docs.n_docs,
            embedding_dim=int(docs.features.shape[1]),
            cluster_level="topic",
            slate_size=slate_size,
            history_length=history_length,
            reward="watch_time",
        )
        self.seed = seed
        self.dynamics, self.params = DYNAMICS, None
        # No compiled dynamics here (the users live in TensorFlow); agents that follow their
        # world's backend serve it with the numpy reference of act().
        self.backend, self.kernels, self.scratch = "numpy", None, {}
        self.horizon = horizon
        self.topic_names = topic_names
        self.taxonomy = Taxonomy.from_dict(
            {"domains": [{"name": DOMAIN, "topics": [
                {"name": name, "subtopics": [{"name": f"{name} videos", "keywords": []}]} for name in topic_names
            ]}]},
            source="RecSim NG topics",
        )
        topic = docs.topic.astype(np.int32)
        arrays = {
            "embeddings": docs.features.astype(np.float32),
            "quality": docs.quality.astype(np.float32),
            "length": docs.length.astype(np.float32),
            "leaf": topic,
            "leaf_centers": _topic_centers(docs.features, topic, n_topics),
        }
        for a in arrays.values():
            a.setflags(write=False)
        titles = tuple(f"{topic_names[t]} video" for t in topic)
        self.corpus = Corpus(titles=titles, **arrays)
        self.clusters = ClusterHierarchy(self.taxonomy, self.corpus, seed=seed)
        self.level: ClusterLevel = self.clusters.level("topic")
        self.embedding_sq = (self.corpus.embeddings.astype(np.float32) ** 2).sum(axis=1)

    @cached_property
    def observation_space(self) -> spaces.Dict:
        """Like noveltygym's (``envs.session.observe``). RecSim NG has no time budget, days or
        returns: ``session`` is (requests left before the horizon, 0, requests so far, 0); the
        always-0 columns get the bound 1, as in noveltygym's RecSim preset (gymnasium warns on
        empty intervals)."""
        h, n, m = self.config.history_length, self.corpus.n_items, self.level.n_clusters
        response_high = np.tile(np.array([float(self.corpus.length.max()), 1.0, 1.0], dtype=np.float32), (h, 1))
        session_high = np.array([self.horizon, 1.0, self.horizon, 1.0], dtype=np.float32)
        return spaces.Dict(
            {
                "items": spaces.Box(-1, n - 1, shape=(h,), dtype=np.int64),
                "clusters": spaces.Box(-1, m - 1, shape=(h,), dtype=np.int64),
                "responses": spaces.Box(0.0, response_high, dtype=np.float32),
                "session": spaces.Box(0.0, session_high, dtype=np.float32),
            }
        )



class RecSimNGDynamics(Dynamics):
    """The users of a RecSim NG story, as far as a noveltygym World sees them: they live in
    TensorFlow (stepped by ``RecSimNGVectorEnv``), so every hook says so. Its catalogue comes
    from the story's documents (``RecSimNGWorld``), not from a config."""

    name = "recsim-ng"

    @staticmethod
    def _not_here(what: str) -> NoReturn:
        raise ConfigError(
            f"{what} is not available on a RecSim NG world: its users live in TensorFlow. Step them with "
            "envs.recsim_ng.RecSimNGVectorEnv (world=env.world gives agents this static view)"
        )

    def build_catalogue(self, config: WorldConfig, params: Any, rng: np.random.Generator) -> tuple[Taxonomy, Corpus]:
        self._not_here("a catalogue from a config (RecSimNGWorld builds it from the story's documents)")

    def init_state(self, world: World, user_id: np.ndarray, rng: np.random.Generator) -> Any:
        self._not_here("init_state")

    def respond(self, world: World, state: Any, slate: np.ndarray, rng: np.random.Generator) -> Any:
        self._not_here("respond")

    def transition(self, world: World, state: Any, slate: np.ndarray, response: Any,
                   rng: np.random.Generator) -> Any:
        self._not_here("transition")

    def latent_clusters(self, world: World, state: Any, level: ClusterLevel) -> Any:
        self._not_here("the oracle (hidden latent interests)")

    def cluster_utility(self, world: World, state: Any, clusters: np.ndarray, level: ClusterLevel) -> Any:
        self._not_here("the oracle (hidden cluster utility)")

    def interest_entropy(self, world: World, state: Any) -> Any:
        self._not_here("the oracle (hidden interest entropy)")


DYNAMICS = RecSimNGDynamics()  # registered by name in envs.dynamics


def _topic_centers(features: np.ndarray, topic: np.ndarray, n_topics: int) -> np.ndarray:
    """(T, D) mean document features per topic; a topic without documents gets its one-hot
    direction (or zeros when D < T), so every subtopic of the taxonomy has a centre."""
    d = features.shape[1]
    sums = np.zeros((n_topics, d), dtype=np.float64)
    np.add.at(sums, topic, features)
    counts = np.bincount(topic, minlength=n_topics)
    fallback = np.eye(n_topics, d, dtype=np.float64)
    centers = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], fallback)
    return centers.astype(np.float32)
