"""Typed experiment configuration: one dataclass per section, loaded from TOML (or YAML), with
``--set dotted.path=value`` overrides. Unknown keys and wrong types name the dotted path.

A run config file looks like::

    name = "quickstart"
    [world]                 # preset + any envs.WorldConfig field
    preset = "default"
    cluster_level = "topic"
    [eval]
    n_users = 2000
    n_steps = 100
    seeds = [0]
    [agent]                 # knobs shared by every hierarchical agent
    explore_slots = 2
    context_length = 2
    [[agents]]
    name = "exploit"
    [[agents]]
    name = "hierarchical-llm"

``extends = "default"`` at the top starts from another config (``load_raw``).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_type_hints

from envs import WorldConfig, make_world
from envs.errors import ConfigError
from envs.typed import check_fields, convert, from_dict, renamed_field_error, to_dict
from envs.world import World

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_DIR = Path(__file__).parent / "configs"


@dataclass
class WorldSection:
    """The simulated world: a preset plus any ``envs.WorldConfig`` field as an override."""

    preset: str = "default"
    seed: int = 0
    """Seed of the corpus (items, clusters); users are seeded by ``eval.seeds``."""
    overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_fields(self, "WorldSection")

    def build(self) -> World:
        try:
            return make_world(self.preset, seed=self.seed, **self.overrides)
        except ConfigError as exc:
            raise ConfigError(f"world: {exc}") from exc


@dataclass
class RecSimNGSection:
    """A RecSim NG story served through ``envs.recsim_ng`` instead of a noveltygym world
    (needs the ``recsim-ng`` extra). When present, ``[world]`` is not used."""

    story: Literal["interest_evolution"] = "interest_evolution"
    num_topics: int = 20
    """RecSim NG topics: the interest clusters agents explore."""
    num_docs: int = 500
    slate_size: int = 5
    topic_names: list[str] | None = None
    """One unique description per topic; default: names from noveltygym's taxonomy."""
    horizon: int = 100
    """Requests per user episode (RecSim NG's users never leave on their own)."""
    history_length: int = 10
    world_seed: int = 0

    def __post_init__(self) -> None:
        check_fields(self, "RecSimNGSection")
        for name in ("num_topics", "num_docs", "slate_size", "horizon", "history_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"recsim_ng.{name}={getattr(self, name)!r} must be a positive integer")

    def vector_env(self, n_users: int) -> Any:
        from envs.recsim_ng import RecSimNGVectorEnv

        kwargs: dict[str, Any] = {"num_topics": self.num_topics, "num_docs": self.num_docs,
                                  "slate_size": self.slate_size}
        if self.topic_names is not None:
            kwargs["topic_names"] = self.topic_names
        try:
            return RecSimNGVectorEnv(n_users, horizon=self.horizon, history_length=self.history_length,
                                     world_seed=self.world_seed, **kwargs)
        except ConfigError as exc:
            raise ConfigError(f"recsim_ng: {exc}") from exc


@dataclass
class EvalSection:
    """How each agent is evaluated: users, requests per user slot, seeds."""

    n_users: int = 2000
    n_steps: int = 100
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])

    def __post_init__(self) -> None:
        check_fields(self, "EvalSection")  # types first, then ranges
        if self.n_users < 1 or self.n_steps < 1:
            raise ConfigError(f"eval.n_users={self.n_users} and eval.n_steps={self.n_steps} must be positive")
        if not self.seeds:
            raise ConfigError("eval.seeds is empty; give at least one seed, e.g. seeds = [0]")


@dataclass
class LogsSection:
    """Interactions logged before evaluation, to train the LLM and count Markov transitions."""

    policy: Literal["organic", "exploit"] = "organic"
    """'organic': part of each slate from recent clusters, the rest random (envs.logs);
    'exploit': the exploitation recommender."""
    explore: float = 0.5
    n_users: int = 20_000
    """Logged users: the language model and the count selector learn journeys only from the few
    users whose logs hold a discovery that stuck, so logs are large (20,000 x 100 take ~5 s)."""
    n_steps: int = 100
    seed: int = 1000

    def __post_init__(self) -> None:
        check_fields(self, "LogsSection")
        if not 0.0 <= self.explore <= 1.0:
            raise ConfigError(f"logs.explore={self.explore!r} must lie in [0, 1]")
        if self.n_users < 1 or self.n_steps < 1:
            raise ConfigError(f"logs.n_users={self.n_users} and logs.n_steps={self.n_steps} must be positive")


@dataclass
class LLMSection:
    """The language model behind ``hierarchical-llm`` (see ``llm.config.LLMConfig``)."""

    model: str = "default"
    """'default' (trained here), 'smollm2', or a transformers model name/path."""
    seed: int = 0
    """Seed of the model's initialization, data split and table sampling."""
    n_samples: int = 8
    """Answers kept per history in the table; serving picks one of them outside the user's window
    at random, so a user is not shown the same cluster over and over."""
    temperature: float = 0.3
    """Sampling temperature of the table's answers. Below 1 it concentrates on the model's most
    likely journeys (at 1, a nearly flat distribution gives a hit rate near chance)."""
    first_time_only: bool = True
    """Fine-tuning targets: only clusters the user engaged with for the first time in the logs..."""
    min_returns: int = 2
    """... and came back to at least this many times (an interest that stuck; 0 keeps every
    target). Most other logged transitions are clicks on whatever an organic slate showed."""
    balance: bool = True
    """Cap examples per target and per history (the paper's balancing); False = raw counts."""
    settings: dict[str, Any] = field(default_factory=dict)
    """Overrides of ``llm.config.LLMConfig`` by section: model (n_embd, n_layer, ...), data,
    train (pretrain_steps, sft_steps, time_budget_s, ...), generation."""
    lazy_table: bool | None = None
    """Compute table rows on first use; None = automatically when M^L > 200,000."""
    fine_tune: bool = False
    """For a pretrained ``model`` ('smollm2' or a path): fine-tune it on the logs first, as the
    paper does (slow on a CPU for real models); False serves it as given and says so in the log.
    The 'default' model is always trained here."""

    def __post_init__(self) -> None:
        check_fields(self, "LLMSection")
        if self.n_samples < 1:
            raise ConfigError(f"llm.n_samples={self.n_samples!r} must be a positive integer")
        if not self.temperature >= 0:
            raise ConfigError(f"llm.temperature={self.temperature!r} must be >= 0 (0 = greedy)")
        if self.min_returns < 0:
            raise ConfigError(f"llm.min_returns={self.min_returns!r} must be an integer >= 0")


@dataclass
class AgentDefaults:
    """Knobs shared by every hierarchical agent (and the LLM's history length L)."""

    explore_slots: int | None = None
    """Slots per slate given to the selector's cluster (None = the agent's default)."""
    request_share: float | None = None
    """Share of requests that explore (alternative to slots)."""
    context_length: int = 2
    item_policy: str | None = None
    ppo_timesteps: int = 50_000
    """Training steps of the SB3 item policy that ``*-ppo`` agents use when no item_model is given
    (trained once per world and cached)."""

    def __post_init__(self) -> None:
        check_fields(self, "AgentDefaults")
        if self.context_length < 1 or self.ppo_timesteps < 1:
            raise ConfigError(
                f"agent.context_length={self.context_length!r} and agent.ppo_timesteps={self.ppo_timesteps!r} "
                "must be positive integers"
            )


@dataclass
class AgentSpec:
    """One agent to evaluate: an ``agents.make_agent`` name, an optional label, its knobs."""

    name: str = "exploit"
    label: str | None = None
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_fields(self, "AgentSpec")

    @property
    def display_name(self) -> str:
        return self.label or self.name

    @property
    def is_hierarchical(self) -> bool:
        from agents.registry import is_hierarchical

        return is_hierarchical(self.name)


@dataclass
class ReportSection:
    plots: bool = True
    tensorboard: bool = False
    """Also write per-step metrics as TensorBoard scalars (needs the `tensorboard` package)."""

    def __post_init__(self) -> None:
        check_fields(self, "ReportSection")


@dataclass
class RunConfig:
    """Everything one ``noveltygym run`` needs."""

    name: str = "run"
    world: WorldSection = field(default_factory=WorldSection)
    eval: EvalSection = field(default_factory=EvalSection)
    logs: LogsSection = field(default_factory=LogsSection)
    llm: LLMSection = field(default_factory=LLMSection)
    agent: AgentDefaults = field(default_factory=AgentDefaults)
    agents: list[AgentSpec] = field(default_factory=lambda: [AgentSpec("exploit")])
    report: ReportSection = field(default_factory=ReportSection)
    recsim_ng: RecSimNGSection | None = None
    """A RecSim NG story instead of ``world`` (see RecSimNGSection)."""

    def __post_init__(self) -> None:
        check_fields(self, "RunConfig")  # types first, then ranges
        names = [a.display_name for a in self.agents]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"agents: names {dup} appear twice; give them distinct `label`s")
        if not self.agents:
            raise ConfigError("agents is empty; add at least one [[agents]] entry")

    def to_dict(self) -> dict[str, Any]:
        return dict(to_dict(self))

    def build_world(self) -> World:
        """The world agents are built for: the noveltygym world, or the RecSim NG story's view."""
        if self.recsim_ng is not None:
            env = self.recsim_ng.vector_env(1)
            world: World = env.world
            env.close()
            return world
        return self.world.build()

    def population(self, world: World, n_users: int) -> Any:
        """A batched env of ``n_users`` users of ``world`` (RecSim NG's when configured)."""
        if self.recsim_ng is not None:
            return self.recsim_ng.vector_env(n_users)
        from envs import InterestExplorationVectorEnv

        return InterestExplorationVectorEnv(n_users, world=world)

    def fingerprint(self) -> str:
        return hashlib.sha256(json.dumps(self.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:16]

    def agent_kwargs(self, spec: AgentSpec) -> dict[str, Any]:
        """make_agent keyword arguments: shared defaults for hierarchical agents, then the spec's own."""
        kwargs: dict[str, Any] = {}
        if spec.is_hierarchical:
            d = self.agent
            shared = {
                "explore_slots": d.explore_slots, "request_share": d.request_share,
                "context_length": d.context_length, "item_policy": d.item_policy,
            }
            kwargs.update({k: v for k, v in shared.items() if v is not None})
        kwargs.update(spec.params)
        return kwargs

    def agent_needs(self, spec: AgentSpec) -> frozenset[str]:
        """What a run builds for this agent, as the agent's registry entry declares it
        (``agents.registry.agent_needs``: logs, a language model's table, a PPO item policy)."""
        from agents.registry import PPO, agent_needs

        kwargs = self.agent_kwargs(spec)
        needs = agent_needs(spec.name, kwargs.get("item_policy"))
        return needs - {PPO} if "item_model" in kwargs else needs  # a given item model is used as is


def _world_from_raw(raw: Any) -> WorldSection:
    """``[world]`` holds preset, seed and any WorldConfig field (checked by name and type)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"world must be a table, got {raw!r}")
    raw = dict(raw)
    preset = convert(str, raw.pop("preset", "default"), "world.preset")
    seed = convert(int, raw.pop("seed", 0), "world.seed")
    overrides = dict(raw.pop("overrides", {}) or {})
    overrides.update(raw)
    hints = get_type_hints(WorldConfig)
    fields = {f.name for f in dataclasses.fields(WorldConfig)}
    checked = {}
    for key, value in overrides.items():
        if key not in fields:
            renamed = renamed_field_error("WorldConfig", key, "world")
            if renamed is not None:
                raise renamed
            raise ConfigError(f"unknown config key 'world.{key}'; world takes preset, seed and any of {sorted(fields)}")
        checked[key] = convert(hints[key], value, f"world.{key}")
    return WorldSection(preset=preset, seed=seed, overrides=checked)


def config_from_dict(raw: dict[str, Any]) -> RunConfig:
    raw = copy.deepcopy(raw)
    world = _world_from_raw(raw.pop("world", {}))
    cfg = from_dict(RunConfig, raw)
    cfg.world = world
    return cfg


def load_raw(path: str | Path) -> dict[str, Any]:
    """The raw dict of a TOML (or YAML) config file; a bare name looks in experiments/configs.

    A file may start from another: ``extends = "default"`` (a shipped name, or a path relative
    to the file) takes that config and overrides it table by table; any value that is not a
    table (numbers, strings, lists, ``[[agents]]``) replaces the base's whole."""
    return _load_raw(path, ())


def _load_raw(path: str | Path, chain: tuple[Path, ...]) -> dict[str, Any]:
    p = _config_path(path, chain[-1] if chain else None)
    chain = (*chain, p.resolve())
    if chain[-1] in chain[:-1]:
        cycle = " -> ".join(str(c) for c in chain)
        raise ConfigError(f"config {str(p)!r} extends itself through {cycle}; remove one `extends`")
    data = _parse(p)
    base = data.pop("extends", None)
    if base is None:
        return data
    if not isinstance(base, str):
        raise ConfigError(f"config {str(p)!r}: extends must be a config name or path, got {base!r}")
    relative = p.parent / base
    base_path = relative if relative.is_file() else base
    return _merged(_load_raw(base_path, chain), data)


def _merged(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``base`` overridden by ``update``: tables merge key by key, anything else replaces."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _config_path(path: str | Path, extended_by: Path | None = None) -> Path:
    p = Path(path)
    # A folder of that name here (e.g. a run's output) must not hide a shipped config.
    if not p.is_file() and not p.suffix and (CONFIG_DIR / f"{p}.toml").exists():
        p = CONFIG_DIR / f"{p}.toml"
    if not p.is_file():
        shipped = sorted(x.stem for x in CONFIG_DIR.glob("*.toml"))
        where = f" (extended by {str(extended_by)!r})" if extended_by else ""
        raise ConfigError(f"config file {str(path)!r}{where} does not exist; give a path or one of {shipped}")
    return p


def _parse(p: Path) -> dict[str, Any]:
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix in (".yaml", ".yml"):
            try:
                import yaml
            except ImportError as exc:
                raise ConfigError("YAML configs need PyYAML: pip install pyyaml (or use TOML)") from exc
            data = yaml.safe_load(text) or {}
        else:
            data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as exc:
        raise ConfigError(f"config file {str(p)!r} could not be parsed: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"config file {str(p)!r} must hold a table of sections")
    return data


_PART = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)(?:\[(\d+)\])?$")


def parse_value(text: str) -> Any:
    """A command-line value as TOML (numbers, booleans, lists, quoted strings); else a plain string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def set_path(raw: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``raw[a][b][i][c] = value`` for ``dotted = "a.b[i].c"`` (creating tables as needed)."""
    node: Any = raw
    parts = dotted.split(".")
    for n, part in enumerate(parts):
        m = _PART.match(part)
        if not m:
            raise ConfigError(f"--set {dotted!r}: {part!r} is not a field name (use a.b.c or agents[0].name)")
        key, index = m.group(1), m.group(2)
        last = n == len(parts) - 1
        if index is None:
            if last:
                node[key] = value
                return
            node = node.setdefault(key, {})
        else:
            seq = node.setdefault(key, [])
            i = int(index)
            if not isinstance(seq, list) or i >= len(seq):
                raise ConfigError(f"--set {dotted!r}: {key} has {len(seq)} entries, no index {i}")
            if last:
                seq[i] = value
                return
            node = seq[i]
        if not isinstance(node, dict):
            raise ConfigError(f"--set {dotted!r}: {'.'.join(parts[: n + 1])} is not a table")


def apply_overrides(raw: dict[str, Any], assignments: list[str]) -> dict[str, Any]:
    raw = copy.deepcopy(raw)
    for item in assignments:
        if "=" not in item:
            raise ConfigError(f"--set {item!r} must look like field.path=value")
        key, value = item.split("=", 1)
        set_path(raw, key.strip(), parse_value(value.strip()))
    return raw


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    return config_from_dict(apply_overrides(load_raw(path), overrides or []))
