"""noveltygym's simulated world: users whose interests drift across interest clusters.

Needs only numpy, numba and gymnasium. Importing it registers the gymnasium ids
``noveltygym/InterestExploration-v3`` (the default world, with interest journeys, half of them
following the words of the descriptions), ``noveltygym/InterestExploration-v2`` (the same with
every journey in embedding space), ``noveltygym/InterestExploration-v1`` (the classic world
before journeys; the old ones kept so that their results can be reproduced),
``noveltygym/InterestExploration-Tiny-v1`` and ``noveltygym/RecSimInterestEvolution-v1`` (each
with a vector entry point for ``gym.make_vec``).
"""

from __future__ import annotations

import gymnasium as gym

from envs.clusters import ClusterHierarchy, ClusterLevel
from envs.config import PRESETS, WorldConfig, resolve_config
from envs.corpus import Corpus
from envs.env import InterestExplorationEnv, InterestExplorationVectorEnv
from envs.errors import ActionError, ConfigError, DataError, MissingExtraError, NoveltyGymError, StateError
from envs.state import Events, Response
from envs.taxonomy import Taxonomy
from envs.world import World, make_world

ENV_IDS: dict[str, str] = {
    "noveltygym/InterestExploration-v3": "default",
    "noveltygym/InterestExploration-v2": "v2",
    "noveltygym/InterestExploration-v1": "classic",
    "noveltygym/InterestExploration-Tiny-v1": "tiny",
    "noveltygym/RecSimInterestEvolution-v1": "recsim-interest-evolution",
}


def _register() -> None:
    for env_id, preset in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="envs.env:InterestExplorationEnv",
            vector_entry_point="envs.env:InterestExplorationVectorEnv",
            kwargs={"preset": preset},
        )


_register()

__all__ = [
    "ENV_IDS",
    "PRESETS",
    "ActionError",
    "ClusterHierarchy",
    "ClusterLevel",
    "ConfigError",
    "Corpus",
    "DataError",
    "Events",
    "InterestExplorationEnv",
    "InterestExplorationVectorEnv",
    "MissingExtraError",
    "NoveltyGymError",
    "Response",
    "StateError",
    "Taxonomy",
    "World",
    "WorldConfig",
    "make_world",
    "resolve_config",
]
