"""World knowledge for the default model's pretraining: text that says which interests lead to
which, the analogue of what a real pretrained model has read about the world.

The knowledge is the semantic part of the journeys: for every journey source A, its
``journeys_per_source`` nearest sources by the words of their descriptions
(``envs.journeys.semantic_neighbours``), what a reader of the descriptions could guess. What it
cannot say is the idiosyncratic part (``WorldConfig.journey_semantic_share`` < 1): only logs
show it. ``fidelity`` is the share of (A, B) pairs that say the truth; the others name a
uniformly random other source, so fidelity 0 gives as much text and no knowledge (the clean
ablation).

Two forms of the same pairs (``TrainConfig.knowledge_form``):

- ``"sentence"``: "<A> leads to <B>", once per pair: how a real model reads it, in prose.
- ``"prompt"``: the pair written in the prompt template the model is later asked in
  (``llm.prompts``), ``contexts`` times, each with A at a random position of a history of
  random other clusters: "<X> ; <A> -> <B> .". A one-million-parameter model trained from
  scratch does not carry prose over to the prompt's form (the sentences were worth under a
  point of hit rate, README); a large model does, so this form stands for what a large model
  brings, and fidelity 0 keeps the comparison honest (the same text with random answers).

Fine-tuning on the logs alone overwrites what pretraining put in, so the default model also
replays the prompt-form examples (:func:`knowledge_transitions`) in a share
``TrainConfig.knowledge_replay`` of its fine-tuning batches (``llm.pipeline.fine_tune``).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from llm import prompts
from llm.data import Transitions, in_random_contexts
from llm.errors import ConfigError

KNOWLEDGE_STREAM = 11
"""Second word of the statements' seed ([seed, this]): their own stream. Any fixed number."""

KnowledgeForm = Literal["sentence", "prompt"]


def journey_pairs(world: Any, fidelity: float, seed: int = 0) -> np.ndarray:
    """(n_sources * k, 2) int array of (source, said target), sources in order, k per source."""
    from envs import journeys

    if not 0.0 <= fidelity <= 1.0:
        raise ValueError(f"fidelity={fidelity!r} must lie in [0, 1]")
    if world.config.journey_semantic_share is None:
        raise ConfigError(
            "world knowledge states the journeys that follow the words of the descriptions, and this world's "
            "follow none (journey_semantic_share=None, as in presets 'v2' and 'classic'); set "
            "world.journey_semantic_share (the default world has 0.5) or leave knowledge_fidelity unset"
        )
    k = world.config.journeys_per_source
    neighbours = journeys.semantic_neighbours(world)[:, :k]
    n = len(neighbours)
    rng = np.random.default_rng([seed, KNOWLEDGE_STREAM])
    true = rng.random(neighbours.shape) < fidelity
    # A random other source: an offset in 1..n-1 from the source, so never the source itself.
    random = (np.arange(n)[:, None] + rng.integers(1, max(n, 2), size=neighbours.shape)) % n
    said = np.where(true, neighbours, random)
    return np.stack([np.repeat(np.arange(n), k), said.ravel()], axis=1)


def cluster_pairs(world: Any, fidelity: float, seed: int = 0) -> np.ndarray:
    """:func:`journey_pairs` as (P, 2) cluster ids at the world's cluster level.

    Sources are taxonomy indices and clusters exist only where items do, so sources are matched
    to the journey level's clusters by name (pairs naming a cluster without items are dropped),
    then carried to the cluster level through the items both levels share: at a coarser level
    (domains for topic journeys) a pair names the clusters that hold its two sources, and is
    dropped where they are the same; at a finer level (subtopics) every cluster of the source
    leads to one cluster of the target, drawn at random (a journey lands on a random subtopic of
    its target topic)."""
    journey_level = world.clusters.level(world.config.journey_level)
    cluster_of = {d: i for i, d in enumerate(journey_level.descriptions)}
    as_cluster = np.array([cluster_of.get(name, -1) for name in _source_names(world)])
    pairs = as_cluster[journey_pairs(world, fidelity, seed)]
    pairs = pairs[(pairs >= 0).all(axis=1)]
    if world.level.name == journey_level.name:
        return pairs
    # The world-level clusters each journey-level cluster's items fall in.
    members = [np.unique(world.level.item_cluster[journey_level.items_in(c)]) for c in range(journey_level.n_clusters)]
    rng = np.random.default_rng([seed, KNOWLEDGE_STREAM, 2])
    carried = [(a, rng.choice(members[target])) for source, target in pairs.tolist() for a in members[source]]
    out = np.array(carried, dtype=np.int64).reshape(-1, 2)
    return out[out[:, 0] != out[:, 1]]


def knowledge_transitions(world: Any, fidelity: float, seed: int = 0, contexts: int = 16,
                          context_length: int = 2) -> Transitions:
    """The pairs as examples at the world's cluster level (:func:`cluster_pairs`): each pair
    ``contexts`` times, the source at a random position of a history of ``context_length`` random
    clusters, the said target as the answer (the prompt form's content, and what fine-tuning
    replays)."""
    rng = np.random.default_rng([seed, KNOWLEDGE_STREAM, 1])
    return in_random_contexts(cluster_pairs(world, fidelity, seed), len(world.level.descriptions), contexts,
                              context_length, rng)


def journey_statements(
    world: Any,
    fidelity: float,
    seed: int = 0,
    form: KnowledgeForm = "sentence",
    contexts: int = 16,
    context_length: int = 2,
) -> list[str]:
    """The knowledge as text, in ``form`` (see the module docstring)."""
    if form == "sentence":
        names = _source_names(world)
        return [f"{names[a]} leads to {names[b]}" for a, b in journey_pairs(world, fidelity, seed).tolist()]
    if form != "prompt":
        raise ConfigError(f"knowledge form {form!r} is not one of 'sentence', 'prompt'")
    examples = knowledge_transitions(world, fidelity, seed, contexts, context_length)
    names = world.level.descriptions
    # Without the end mark: pretraining adds it to every text (llm.training.text_examples), which
    # makes each line exactly prompts.example(history, target).
    return [prompts.prompt([names[c] for c in h]) + " " + names[t]
            for h, t in zip(examples.histories.tolist(), examples.targets.tolist(), strict=True)]


def _source_names(world: Any) -> tuple[str, ...]:
    """Journey sources' names; topic (subtopic) names are the topic (subtopic) clusters' descriptions."""
    return world.taxonomy.topics if world.config.journey_level == "topic" else world.taxonomy.subtopics
