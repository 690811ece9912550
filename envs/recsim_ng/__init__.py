"""RecSim NG interop: RecSim NG simulations as gymnasium envs for noveltygym's agents and metrics.

Needs the ``recsim-ng`` extra (``pip install 'noveltygym[recsim-ng]'``: TensorFlow,
tensorflow-probability, tf-keras, edward2, gym, recsim-ng). Importing this package needs
none of it; the names below load on first use, and raise
:class:`~envs.errors.MissingExtraError` naming the extra when it is missing.

Modules, each with one job:
    compat       make recsim-ng 0.1.2 import and run on current numpy, scipy, TF and gym
    stories      what the adapter needs from a RecSim NG story; RecSim NG's interest evolution
    world        the static view (corpus, topic clusters, config) as a noveltygym World
    recommender  the RecSim NG recommender entities: one serves the agent's slate, one draws
                 random slates inside the graph (the engine alone, for benchmarks)
    simulation   a story stepped one slate at a time, with noveltygym's event bookkeeping
    adapter      the gymnasium front doors: RecSimNGEnv (one user), RecSimNGVectorEnv (B users)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from envs.recsim_ng.adapter import RecSimNGEnv, RecSimNGVectorEnv
    from envs.recsim_ng.stories import Story, interest_evolution_story
    from envs.recsim_ng.world import RecSimNGWorld

_LAZY: dict[str, str] = {
    "RecSimNGEnv": "envs.recsim_ng.adapter",
    "RecSimNGVectorEnv": "envs.recsim_ng.adapter",
    "Story": "envs.recsim_ng.stories",
    "interest_evolution_story": "envs.recsim_ng.stories",
    "RecSimNGWorld": "envs.recsim_ng.world",
}


def __getattr__(name: str) -> Any:
    # PEP 562: import TensorFlow only when an adapter name is first used.
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'envs.recsim_ng' has no attribute {name!r}")


__all__ = ["RecSimNGEnv", "RecSimNGVectorEnv", "RecSimNGWorld", "Story", "interest_evolution_story"]
