"""``make_agent(name, world, **kwargs)``: every agent by a name that says what it is.

Names: ``exploit``; ``hierarchical-{llm,oracle,markov,random,ucb,thompson}`` (option selector +
item policy + exploit fill); ``ucb`` and ``thompson`` (the cluster bandits as agents, like
RecSim's ClusterBandit: the same hierarchy with a bandit choosing the cluster); flat
``random``, ``popularity``, ``epsilon-greedy``, ``boltzmann``, ``intrinsic``, ``entropy``; and
the SB3 item-policy variants ``hierarchical-{selector}-ppo``.

Hierarchical keyword arguments: ``item_policy`` (``"engagement"`` default, ``"random"``,
``"quality"``, ``"sequence"``, ``"ppo"``, or an ``ItemPolicy``), ``item_model`` (path of a
saved sequence model / SB3 zip), ``explore_slots``, ``request_share``, ``history_length``,
``table`` (llm: a table folder or a table object), ``logs`` (markov: logs to count, or
``markov_path`` a saved selector), selector keywords (``c``, ``prior_n``, ...) via
``selector_kwargs``. Flat agents take their own knobs (``epsilon``, ``temperature``, ``bonus``,
``entropy_weight``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agents.base import Agent
from agents.errors import ConfigError
from agents.exploit import ExploitRecommender
from agents.flat import (
    BoltzmannAgent,
    EntropyAgent,
    EpsilonGreedyAgent,
    IntrinsicAgent,
    PopularityAgent,
    RandomAgent,
)
from agents.hierarchical import HierarchicalAgent
from agents.items.base import ItemPolicy
from agents.items.simple import EngagementItems, QualityItems, RandomItems
from agents.selectors.bandits import ThompsonSelector, UCBSelector
from agents.selectors.base import OptionSelector
from agents.selectors.llm_table import LLMTableSelector
from agents.selectors.markov import MarkovSelector
from agents.selectors.oracle import OracleSelector
from agents.selectors.random_novel import RandomNovelSelector
from envs.world import World

SELECTORS = ("llm", "oracle", "markov", "random", "ucb", "thompson")
ITEM_POLICIES = ("engagement", "random", "quality", "sequence", "ppo")
FLAT: dict[str, Callable[..., Agent]] = {
    "exploit": ExploitRecommender,
    "random": RandomAgent,
    "popularity": PopularityAgent,
    "epsilon-greedy": EpsilonGreedyAgent,
    "boltzmann": BoltzmannAgent,
    "intrinsic": IntrinsicAgent,
    "entropy": EntropyAgent,
}


def available_agents() -> list[str]:
    names = [*FLAT, "ucb", "thompson"]
    names += [f"hierarchical-{s}" for s in SELECTORS] + [f"hierarchical-{s}-ppo" for s in SELECTORS]
    return sorted(names)


def make_selector(name: str, world: World, history_length: int = 2, **kwargs: Any) -> OptionSelector:
    m = world.level.n_clusters
    if name == "oracle":
        return OracleSelector(world)
    if name == "random":
        return RandomNovelSelector(m)
    if name == "ucb":
        return UCBSelector(m, **kwargs)
    if name == "thompson":
        return ThompsonSelector(m, **kwargs)
    if name == "markov":
        sel = MarkovSelector(m, history_length)
        if kwargs.get("markov_path") is not None:
            return sel.load(kwargs["markov_path"])
        if kwargs.get("logs") is None:
            raise ConfigError(
                "the Markov selector counts transitions in logs: pass logs=envs.logs.organic_logs(world, ...) "
                "or markov_path= a saved selector"
            )
        return sel.fit(kwargs["logs"])
    if name == "llm":
        table = kwargs.get("table")
        if table is None:
            raise ConfigError("the LLM selector needs table= a transition table folder (llm.table) or table object")
        if isinstance(table, (str, bytes)) or hasattr(table, "__fspath__"):
            return LLMTableSelector.from_path(table, m)  # type: ignore[arg-type]
        return LLMTableSelector(table, m)
    raise ConfigError(f"unknown selector {name!r}; choose one of {SELECTORS}")


def make_item_policy(
    name: str | ItemPolicy, world: World, exploit: ExploitRecommender, item_model: Any = None
) -> ItemPolicy:
    if isinstance(name, ItemPolicy):
        return name
    if name == "engagement":
        return EngagementItems(world, exploit)
    if name == "random":
        return RandomItems(world)
    if name == "quality":
        return QualityItems(world)
    if name in ("sequence", "ppo"):
        if item_model is None:
            raise ConfigError(
                f"item_policy={name!r} needs item_model= the path of a trained model "
                + (
                    "(agents.items.sequence.train_sequence_model(...).save(path))"
                    if name == "sequence"
                    else "(agents.items.sb3.train_item_policy(...).save(path))"
                )
            )
        if name == "sequence":
            from agents.items.sequence import SequenceItems

            return SequenceItems.from_path(world, item_model)
        from agents.items.sb3 import SB3Items

        return SB3Items.from_path(world, item_model)
    raise ConfigError(f"unknown item policy {name!r}; choose one of {ITEM_POLICIES} or pass an ItemPolicy")


_HIER_KEYS = ("explore_slots", "request_share", "history_length")


def make_agent(name: str, world: World, seed: int = 0, **kwargs: Any) -> Agent:
    """Build the agent called ``name`` for ``world`` (see the module docstring for names and knobs)."""
    if name in FLAT:
        return FLAT[name](world, seed=seed, **kwargs)
    selector_name = None
    if name in ("ucb", "thompson"):
        selector_name = name
    elif name.startswith("hierarchical-"):
        selector_name = name.removeprefix("hierarchical-")
        if selector_name.endswith("-ppo"):
            selector_name = selector_name.removesuffix("-ppo")
            kwargs.setdefault("item_policy", "ppo")
    if selector_name not in SELECTORS:
        raise ConfigError(f"unknown agent {name!r}; choose one of {available_agents()}")
    hier = {k: kwargs.pop(k) for k in _HIER_KEYS if k in kwargs}
    item_name = kwargs.pop("item_policy", "engagement")
    item_model = kwargs.pop("item_model", None)
    selector_kwargs = kwargs.pop("selector_kwargs", {})
    for key in ("table", "logs", "markov_path"):
        if key in kwargs:
            selector_kwargs[key] = kwargs.pop(key)
    if kwargs:
        raise ConfigError(f"make_agent({name!r}) got unknown arguments {sorted(kwargs)}")
    exploit = ExploitRecommender(world, seed)
    selector = make_selector(selector_name, world, hier.get("history_length", 2), **selector_kwargs)
    items = make_item_policy(item_name, world, exploit, item_model)
    return HierarchicalAgent(world, selector, items, exploit, seed=seed, name=name, **hier)
