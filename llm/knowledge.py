"""World knowledge for the default model's pretraining: sentences that state which interests
lead to which, the analogue of what a real pretrained model has read about the world.

``journey_statements(world, fidelity)`` writes "<A> leads to <B>" for every journey source A
and each of its ``journeys_per_source`` nearest sources by the words of their descriptions
(``envs.journeys.semantic_neighbours``): the part of the journeys a reader of the descriptions
could guess. ``fidelity`` is the share of statements that say the truth; the others name a
uniformly random other source, so fidelity 0 gives as much text and no knowledge (the clean
ablation). What the statements cannot say is the idiosyncratic part of the journeys
(``WorldConfig.journey_semantic_share`` < 1): only logs show it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

KNOWLEDGE_STREAM = 11
"""Second word of the statements' seed ([seed, this]): their own stream. Any fixed number."""


def journey_statements(world: Any, fidelity: float, seed: int = 0) -> list[str]:
    """One statement per journey source and semantic neighbour (see the module docstring)."""
    from envs import journeys

    if not 0.0 <= fidelity <= 1.0:
        raise ValueError(f"fidelity={fidelity!r} must lie in [0, 1]")
    tax = world.taxonomy
    names = tax.topics if world.config.journey_level == "topic" else tax.subtopics
    k = world.config.journeys_per_source
    neighbours = journeys.semantic_neighbours(world)[:, :k]
    rng = np.random.default_rng([seed, KNOWLEDGE_STREAM])
    true = rng.random(neighbours.shape) < fidelity
    # A random other source: an offset in 1..n-1 from the source, so never the source itself.
    n = len(names)
    random = (np.arange(n)[:, None] + rng.integers(1, max(n, 2), size=neighbours.shape)) % n
    said = np.where(true, neighbours, random)
    return [f"{names[a]} leads to {names[b]}" for a in range(n) for b in said[a]]
