"""``make_agent(name, world, **kwargs)``: every agent by a name that says what it is.

Names: ``exploit``; ``hierarchical-{llm,oracle,markov,counts,random,ucb,thompson}`` (option selector +
item policy + exploit fill); ``ucb`` and ``thompson`` (the cluster bandits as agents, like
RecSim's ClusterBandit: the same hierarchy with a bandit choosing the cluster); flat
``random``, ``popularity``, ``epsilon-greedy``, ``boltzmann``, ``intrinsic``, ``entropy``; and
the SB3 item-policy variants ``hierarchical-{selector}-ppo``.

Hierarchical keyword arguments: ``item_policy`` (``"engagement"`` default, ``"engagement-cdf"`` (its
distribution drawn by inverse CDF, cheaper), ``"random"``,
``"quality"``, ``"sequence"``, ``"ppo"``, or an ``ItemPolicy``), ``item_model`` (path of a
saved sequence model / SB3 zip), ``explore_slots``, ``request_share``, ``context_length``,
``table`` (llm: a table folder or a table object), ``logs`` (markov, counts: logs to count, or
``markov_path`` a saved selector), selector keywords (``c``, ``prior_n``, ...) via
``selector_kwargs``. Flat agents take their own knobs (``epsilon``, ``temperature``, ``bonus``,
``entropy_weight``). ``exploit`` (an ``ExploitConfig`` or a dict of its fields, e.g.
``{"retrain": False}``) configures the exploitation recommender of ``exploit`` and of every
hierarchical agent.

Selectors are entries of ``SELECTORS`` (``register_selector`` adds one) that say what a run
must build for them: ``LOGS`` (logged interactions) or ``TABLE`` (a language model's table);
``agent_needs`` answers it for any agent name, so runs (``experiments.pipeline``) provide
what an agent declares instead of testing names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from agents.base import Agent
from agents.errors import ConfigError
from agents.exploit import ExploitConfig, ExploitRecommender
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
from agents.items.simple import EngagementDraws, EngagementItems, QualityItems, RandomItems
from agents.selectors.bandits import ThompsonSelector, UCBSelector
from agents.selectors.base import OptionSelector
from agents.selectors.counts import CountsSelector
from agents.selectors.llm_table import LLMTableSelector
from agents.selectors.markov import MarkovSelector
from agents.selectors.oracle import OracleSelector
from agents.selectors.random_novel import RandomNovelSelector
from envs.typed import from_dict
from envs.world import World

ITEM_POLICIES = ("engagement", "engagement-cdf", "random", "quality", "sequence", "ppo")
FLAT: dict[str, Callable[..., Agent]] = {
    "exploit": ExploitRecommender,
    "random": RandomAgent,
    "popularity": PopularityAgent,
    "epsilon-greedy": EpsilonGreedyAgent,
    "boltzmann": BoltzmannAgent,
    "intrinsic": IntrinsicAgent,
    "entropy": EntropyAgent,
}


# What an agent needs that a run must build for it (``experiments.pipeline`` provides each):
LOGS = "logs"  # logged interactions (envs.logs), passed as logs=
TABLE = "table"  # a language model's transition table (llm.table), passed as table=
PPO = "ppo"  # an SB3 item policy trained in the simulator, passed as item_model=


@dataclass(frozen=True)
class SelectorEntry:
    """How to build a selector, ``build(world, context_length, **kwargs)``, and what it needs
    (``LOGS``, ``TABLE``): a run builds those once and passes them as keyword arguments."""

    build: Callable[..., OptionSelector]
    needs: frozenset[str] = frozenset()


def _markov(world: World, context_length: int, logs: Any = None, markov_path: Any = None, **_: Any) -> MarkovSelector:
    sel = MarkovSelector(world.level.n_clusters, context_length)
    if markov_path is not None:
        return sel.load(markov_path)
    if logs is None:
        raise ConfigError(
            "the Markov selector counts transitions in logs: pass logs=envs.logs.organic_logs(world, ...) "
            "or markov_path= a saved selector"
        )
    return sel.fit(logs)


def _counts(world: World, context_length: int, logs: Any = None, power: float = 3.0,
            first_time_only: bool = True, min_returns: int = 2, **_: Any) -> CountsSelector:
    if logs is None:
        raise ConfigError(
            "the counts selector counts transitions in logs: pass logs=envs.logs.organic_logs(world, ...)"
        )
    return CountsSelector(world.level.n_clusters, context_length, power, first_time_only, min_returns).fit(logs)


def _llm(world: World, context_length: int, table: Any = None, **_: Any) -> LLMTableSelector:
    m = world.level.n_clusters
    if table is None:
        raise ConfigError("the LLM selector needs table= a transition table folder (llm.table) or table object")
    if isinstance(table, (str, bytes)) or hasattr(table, "__fspath__"):
        return LLMTableSelector.from_path(table, m)  # type: ignore[arg-type]
    return LLMTableSelector(table, m)


SELECTORS: dict[str, SelectorEntry] = {
    "llm": SelectorEntry(_llm, frozenset({TABLE})),
    "oracle": SelectorEntry(lambda world, context_length, **_: OracleSelector(world)),
    "markov": SelectorEntry(_markov, frozenset({LOGS})),
    "counts": SelectorEntry(_counts, frozenset({LOGS})),
    "random": SelectorEntry(lambda world, context_length, **_: RandomNovelSelector(world.level.n_clusters)),
    "ucb": SelectorEntry(lambda world, context_length, **kw: UCBSelector(world.level.n_clusters, **kw)),
    "thompson": SelectorEntry(lambda world, context_length, **kw: ThompsonSelector(world.level.n_clusters, **kw)),
}
_BANDIT_AGENTS = ("ucb", "thompson")  # the bandit selectors also run as agents under their own name


def register_selector(name: str, build: Callable[..., OptionSelector], needs: Iterable[str] = ()) -> None:
    """Add a selector: ``hierarchical-NAME`` (and ``hierarchical-NAME-ppo``) then runs everywhere
    agents run, and a run provides what it ``needs`` (``LOGS``, ``TABLE``)."""
    unknown = set(needs) - {LOGS, TABLE}
    if unknown:
        raise ConfigError(f"selector {name!r} needs {sorted(unknown)}; a run provides only {[LOGS, TABLE]}")
    if not name or name.endswith("-ppo"):
        raise ConfigError(f"selector name {name!r} must be non-empty and not end in '-ppo'")
    SELECTORS[name] = SelectorEntry(build, frozenset(needs))


def available_agents() -> list[str]:
    names = [*FLAT, *_BANDIT_AGENTS]
    names += [f"hierarchical-{s}" for s in SELECTORS] + [f"hierarchical-{s}-ppo" for s in SELECTORS]
    return sorted(names)


def _parse(name: str) -> tuple[str | None, bool]:
    """(selector name or None for a flat agent, whether the name asks for the PPO item policy);
    ConfigError for an unknown name."""
    if name in FLAT:
        return None, False
    selector, ppo = name, False
    if name not in _BANDIT_AGENTS:
        selector = name.removeprefix("hierarchical-") if name.startswith("hierarchical-") else ""
        if selector.endswith("-ppo"):
            selector, ppo = selector.removesuffix("-ppo"), True
    if selector not in SELECTORS:
        raise ConfigError(f"unknown agent {name!r}; choose one of {available_agents()}")
    return selector, ppo


def is_hierarchical(name: str) -> bool:
    """Whether ``name`` is a selector + item policy + exploit agent (takes explore_slots, ...)."""
    return _parse(name)[0] is not None


def agent_needs(name: str, item_policy: Any = None) -> frozenset[str]:
    """What a run must build for agent ``name`` (``LOGS``, ``TABLE``, ``PPO``), given the
    ``item_policy`` it is configured with; ConfigError for an unknown name."""
    selector, ppo = _parse(name)
    if selector is None:
        return frozenset()
    return SELECTORS[selector].needs | ({PPO} if ppo or item_policy == "ppo" else frozenset())


def make_selector(name: str, world: World, context_length: int = 2, **kwargs: Any) -> OptionSelector:
    if name not in SELECTORS:
        raise ConfigError(f"unknown selector {name!r}; choose one of {tuple(SELECTORS)}")
    return SELECTORS[name].build(world, context_length, **kwargs)


def make_item_policy(
    name: str | ItemPolicy, world: World, exploit: ExploitRecommender, item_model: Any = None
) -> ItemPolicy:
    if isinstance(name, ItemPolicy):
        return name
    if name == "engagement":
        return EngagementItems(world, exploit)
    if name == "engagement-cdf":
        return EngagementDraws(world, exploit)
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


_HIER_KEYS = ("explore_slots", "request_share", "context_length")


def exploit_config(value: Any) -> ExploitConfig:
    """An ``ExploitConfig`` from itself, a dict of its fields (checked by name and type, as
    config files are), or None (the defaults)."""
    if value is None or isinstance(value, ExploitConfig):
        return value or ExploitConfig()
    return from_dict(ExploitConfig, value, "exploit")


def make_agent(name: str, world: World, seed: int = 0, **kwargs: Any) -> Agent:
    """Build the agent called ``name`` for ``world`` (see the module docstring for names and knobs)."""
    exploit_settings = kwargs.pop("exploit", None)
    if name == "exploit":
        return ExploitRecommender(world, seed=seed, config=exploit_config(exploit_settings), **kwargs)
    if name in FLAT:
        if exploit_settings is not None:
            raise ConfigError(f"agent {name!r} takes no exploit= settings; only exploit and hierarchical agents do")
        return FLAT[name](world, seed=seed, **kwargs)
    selector_name, ppo = _parse(name)
    assert selector_name is not None  # flat names returned above
    if ppo:
        kwargs.setdefault("item_policy", "ppo")
    if "history_length" in kwargs:
        raise ConfigError(
            "make_agent's history_length was renamed context_length (the selector's context L); "
            "history_length names only the observation window H (WorldConfig.history_length)"
        )
    hier = {k: kwargs.pop(k) for k in _HIER_KEYS if k in kwargs}
    item_name = kwargs.pop("item_policy", "engagement")
    item_model = kwargs.pop("item_model", None)
    selector_kwargs = kwargs.pop("selector_kwargs", {})
    for key in ("table", "logs", "markov_path"):
        if key in kwargs:
            selector_kwargs[key] = kwargs.pop(key)
    if kwargs:
        raise ConfigError(f"make_agent({name!r}) got unknown arguments {sorted(kwargs)}")
    exploit = ExploitRecommender(world, seed, exploit_config(exploit_settings))
    selector = make_selector(selector_name, world, hier.get("context_length", 2), **selector_kwargs)
    items = make_item_policy(item_name, world, exploit, item_model)
    return HierarchicalAgent(world, selector, items, exploit, seed=seed, name=name, **hier)
