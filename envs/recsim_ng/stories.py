"""RecSim NG stories the adapter can drive, and what it needs from them.

A RecSim NG *story* wires entities (user, corpus, recommender, metrics) into a network of
variables. The adapter keeps the story and swaps its recommender for one that serves the
agent's slates, so any story with the interface of RecSim NG's
``recommendation_simulation.recs_story(config, user_ctor, corpus_ctor, recommender_ctor,
metrics_ctor)`` runs through gymnasium. What the adapter reads (checked up front, with the
missing name in the error) is listed in :data:`REQUIRED_FIELDS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from envs.errors import ConfigError

Constructor = Callable[..., Any]

# Network variable -> fields the adapter reads from it, and why.
REQUIRED_FIELDS: dict[str, dict[str, str]] = {
    "available docs": {
        "doc_topic": "each document's topic, which becomes its interest cluster",
    },
    "user response": {
        "choice": "the chosen slate position (slate_size = nothing chosen)",
        "consumed_time": "the watch time of the choice (negative = nothing chosen)",
    },
}
# Fields read when present; defaults are used otherwise (see envs.recsim_ng.world.Documents).
OPTIONAL_DOC_FIELDS: tuple[str, ...] = ("doc_quality", "doc_features", "doc_length")
CONFIG_KEYS: tuple[str, ...] = ("num_users", "num_docs", "num_topics", "slate_size")


@dataclass(frozen=True)
class Story:
    """A RecSim NG recommendation story, minus its recommender (the agent recommends).

    ``build(config, user_ctor, corpus_ctor, recommender_ctor, metrics_ctor)`` returns the
    network's variables; RecSim NG's ``recs_story`` is the default. ``config`` is the story's
    RecSim NG config and needs at least :data:`CONFIG_KEYS`. The corpus must be the same in
    every episode (noveltygym's agents know the items by id), as a frozen corpus is.
    """

    name: str
    config: Mapping[str, Any]
    user_ctor: Constructor
    corpus_ctor: Constructor
    metrics_ctor: Constructor
    build: Constructor | None = None
    """None = ``recsim_ng.stories.recommendation_simulation.recs_story``."""
    topic_names: tuple[str, ...] | None = field(default=None)
    """Descriptions of the topics; None = generated from noveltygym's taxonomy."""

    def __post_init__(self) -> None:
        missing = [k for k in CONFIG_KEYS if k not in self.config]
        if missing:
            raise ConfigError(
                f"story {self.name!r}: config lacks {missing}; a RecSim NG recommendation config holds "
                f"{list(CONFIG_KEYS)} (got {sorted(self.config)})"
            )
        for key in CONFIG_KEYS:
            value = self.config[key]
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"story {self.name!r}: config[{key!r}]={value!r} must be a positive integer")
        if self.config["slate_size"] > self.config["num_docs"]:
            raise ConfigError(
                f"story {self.name!r}: slate_size={self.config['slate_size']} exceeds num_docs="
                f"{self.config['num_docs']}; a slate holds distinct documents"
            )

    @property
    def num_users(self) -> int:
        return int(self.config["num_users"])

    def with_users(self, num_users: int) -> Story:
        """The same story for another number of users."""
        return Story(
            self.name, {**self.config, "num_users": num_users}, self.user_ctor, self.corpus_ctor,
            self.metrics_ctor, self.build, self.topic_names,
        )


def interest_evolution_story(
    num_users: int = 1000,
    num_topics: int = 2,
    num_docs: int = 100,
    slate_size: int = 2,
    topic_names: tuple[str, ...] | None = None,
) -> Story:
    """RecSim NG's interest-evolution application (``recsys_partially_observable_rl``) with its
    own user, corpus and metrics entities and its defaults (2 topics, 100 documents, slate 2),
    as ``simulation_config.create_interest_evolution_simulation_network`` wires them with a
    frozen corpus. (Its ``history_length`` key is read only by RecSim NG's own recommender,
    which the agent replaces.)"""
    from envs.recsim_ng import compat

    compat.ensure()
    from recsim_ng.applications.recsys_partially_observable_rl import corpus, metrics, user

    def frozen_corpus(config: Mapping[str, Any]) -> Any:
        # Sampled once when the story is built: the same documents in every episode.
        return corpus.StaticCorpus(config, corpus.CorpusWithTopicAndQuality(config).initial_state())

    config = {
        "num_users": num_users,
        "num_topics": num_topics,
        "num_docs": num_docs,
        "slate_size": slate_size,
    }
    return Story(
        name="interest_evolution",
        config=config,
        user_ctor=user.InterestEvolutionUser,
        corpus_ctor=frozen_corpus,
        metrics_ctor=metrics.ConsumedTimeAsRewardMetrics,
        topic_names=topic_names,
    )
