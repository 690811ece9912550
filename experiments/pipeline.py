"""The work of a run: logged interactions, the language model and its table (cached, so
sweeps and reruns share them), then every agent evaluated under every seed."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from envs.metrics import per_step_means, per_user_metrics, summarize, windowed_homogenization
from envs.world import World
from experiments.config import AgentSpec, RunConfig
from experiments.rundir import file_lock, write_json, write_parquet

log = logging.getLogger("noveltygym")

# Above this many histories the table is computed lazily (on first lookup) unless told otherwise.
LAZY_TABLE_ROWS = 200_000


def cache_key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _world_key(cfg: RunConfig) -> Any:
    """What identifies the world in cache keys."""
    return cfg.recsim_ng.__dict__ if cfg.recsim_ng is not None else cfg.world.__dict__


@dataclass
class Artifacts:
    """What agents may need besides the world: logs (Markov, LLM) and the LLM's table."""

    logs: pd.DataFrame | None = None
    table: Any = None
    item_model: Path | None = None  # the SB3 item policy of *-ppo agents
    llm: dict[str, Any] = field(default_factory=dict)  # model folder, curve, timings, held-out metrics


def logged_interactions(world: World, cfg: RunConfig, cache: Path) -> pd.DataFrame:
    """Interactions logged under ``cfg.logs.policy``; cached as parquet by (world, logs) config."""
    from envs.logs import organic_logs

    section = cfg.logs
    path = cache / "logs" / f"{cache_key(_world_key(cfg), section.__dict__)}.parquet"
    with file_lock(path.with_suffix(".lock")):
        if path.exists():
            return pd.read_parquet(path)
        t0 = time.perf_counter()
        env = cfg.population(world, section.n_users)
        try:
            if section.policy == "organic":
                frame = organic_logs(world, section.n_users, section.n_steps, section.seed, section.explore, env=env)
            else:
                from agents import make_agent
                from agents.evaluate import run_agent

                agent = make_agent("exploit", world, seed=section.seed)
                frame = run_agent(agent, world, section.n_users, section.n_steps, seed=section.seed, env=env).to_frame()
        finally:
            env.close()
        write_parquet(path, frame)
        log.info("logged %d interactions (%s) in %.1fs", len(frame), section.policy, time.perf_counter() - t0)
        return frame


def llm_config(cfg: RunConfig) -> Any:
    """The llm.config.LLMConfig a run asks for: its settings, L from [agent], balancing."""
    from llm.config import LLMConfig

    raw = copy.deepcopy(cfg.llm.settings)
    data = raw.setdefault("data", {})
    data["context_length"] = cfg.agent.context_length
    data.setdefault("first_time_only", cfg.llm.first_time_only)
    data.setdefault("min_returns", cfg.llm.min_returns)
    if not cfg.llm.balance:
        data["cap_per_target"] = None
        data["cap_per_history"] = None
    return LLMConfig.from_dict(raw)


def language_model(world: World, cfg: RunConfig, logs: pd.DataFrame, cache: Path, progress: bool) -> tuple[Any, dict]:
    """The trained model and its transition table (built once per config, then reused)."""
    from llm.generation import ClusterLM
    from llm.pipeline import fine_tune_model, train_default_model, world_level
    from llm.table import LazyTransitionTable, build_table

    config = llm_config(cfg)
    key = cache_key(_world_key(cfg), cfg.logs.__dict__, cfg.llm.__dict__, config.to_dict())
    root = cache / "llm" / key
    level = world.level
    info: dict[str, Any] = {"model": cfg.llm.model, "cache": str(root)}
    with file_lock(root.with_suffix(".lock")):
        if cfg.llm.model == "default" or cfg.llm.fine_tune:
            model_dir = root / "model"
            meta_path = model_dir / "noveltygym.json"
            if not meta_path.exists() and cfg.llm.model == "default":
                log.info("training the default language model (%s clusters, L=%d)", level.n_clusters,
                         config.data.context_length)
                train_default_model(world, logs, config, model_dir, seed=cfg.llm.seed, progress=progress)
            elif not meta_path.exists():
                log.info("fine-tuning %s on the logs (%s clusters, L=%d)", cfg.llm.model, level.n_clusters,
                         config.data.context_length)
                fine_tune_model(cfg.llm.model, world_level(world), logs, model_dir, config, seed=cfg.llm.seed,
                                progress=progress)
            meta = json.loads(meta_path.read_text())
            info.update({k: meta.get(k) for k in ("curve", "pretrain_seconds", "sft_seconds", "test_metrics",
                                                  "few_shot_k", "few_shot_exact_match", "hit_rate_curve",
                                                  "best_step")})
        else:
            model_dir = Path(cfg.llm.model) if cfg.llm.model != "smollm2" else cfg.llm.model  # type: ignore[assignment]
            log.warning("llm.model=%r is served as given, not fine-tuned on the logs; set llm.fine_tune=true to "
                        "fine-tune it first, as the paper does (slow on a CPU for real pretrained models)",
                        cfg.llm.model)
        info["model_dir"] = str(model_dir)
        rows = level.n_clusters ** config.data.context_length
        lazy = cfg.llm.lazy_table if cfg.llm.lazy_table is not None else rows > LAZY_TABLE_ROWS
        info["table_rows"] = rows
        info["lazy_table"] = lazy
        if lazy:
            from llm.config import GenerationConfig

            lm = ClusterLM.load(model_dir, level)
            gen = GenerationConfig(temperature=cfg.llm.temperature, n_samples=cfg.llm.n_samples)
            return LazyTransitionTable(lm, config.data.context_length, gen, seed=cfg.llm.seed), info
        table_path = root / f"table-n{cfg.llm.n_samples}-t{cfg.llm.temperature}"
        cached = _cached_table(table_path, model_dir)
        if cached is not None:
            info["table_cached"] = True
            return cached, info
        t0 = time.perf_counter()
        table = build_table(
            model_dir, level, config.data.context_length, cfg.llm.n_samples, cfg.llm.temperature,
            seed=cfg.llm.seed, out_path=table_path, progress=progress,
        )
        info["table_seconds"] = time.perf_counter() - t0
        return table, info


def _cached_table(path: Path, model_dir: str | Path) -> Any:
    """The complete table at ``path`` built from the model in ``model_dir``, else None (an
    interrupted build resumes in ``build_table``). A table that cannot be used is named in the
    log with the reason, then rebuilt."""
    from llm.errors import TableError
    from llm.models import model_hash
    from llm.table import META_FILE, TransitionTable

    if not (path / META_FILE).is_file():
        return None
    try:
        table = TransitionTable.load(path)
    except (TableError, OSError, ValueError, TypeError) as exc:  # unreadable, truncated or old files
        log.warning("the cached transition table at %s cannot be loaded (%s); rebuilding it", path, exc)
        return None
    if table.meta.model_hash != model_hash(model_dir):
        log.warning("the cached transition table at %s was built from another model; rebuilding it", path)
        return None
    log.info("reusing the cached transition table at %s (%d histories)", path, table.meta.n_rows)
    return table


def prepare(world: World, cfg: RunConfig, cache: Path, progress: bool = True) -> Artifacts:
    """Build once what the configured agents declare they need (``agents.registry``)."""
    from agents.registry import LOGS, PPO, TABLE

    needs = frozenset().union(*(cfg.agent_needs(a) for a in cfg.agents))
    art = Artifacts()
    if needs & {LOGS, TABLE}:  # a language model is trained on the logs
        art.logs = logged_interactions(world, cfg, cache)
    if TABLE in needs:
        assert art.logs is not None
        art.table, art.llm = language_model(world, cfg, art.logs, cache, progress)
    if PPO in needs:
        art.item_model = item_policy_model(world, cfg, cache)
    return art


def item_policy_model(world: World, cfg: RunConfig, cache: Path) -> Path:
    """The SB3 item policy for ``*-ppo`` agents: trained in the simulator once per world, cached."""
    from agents.items.sb3 import train_item_policy

    a = cfg.agent
    share = 1.0 if a.request_share is None else a.request_share
    rules = (a.explore_slots, share, a.context_length)  # trained under the rules the agents serve with
    path = cache / "items" / f"ppo-{cache_key(_world_key(cfg), a.ppo_timesteps, rules)}.zip"
    with file_lock(path.with_suffix(".lock")):
        if not path.exists():
            t0 = time.perf_counter()
            policy = train_item_policy(world, total_timesteps=a.ppo_timesteps, seed=cfg.world.seed,
                                       explore_slots=a.explore_slots, request_share=share,
                                       context_length=a.context_length)
            policy.save(path)
            log.info("trained the PPO item policy (%d steps) in %.1fs", cfg.agent.ppo_timesteps,
                     time.perf_counter() - t0)
    return path


def make(world: World, cfg: RunConfig, spec: AgentSpec, art: Artifacts, seed: int) -> Any:
    from agents import make_agent
    from agents.registry import LOGS, PPO, TABLE

    kwargs = cfg.agent_kwargs(spec)
    needs = cfg.agent_needs(spec)
    if PPO in needs:
        kwargs["item_model"] = str(art.item_model)
    if TABLE in needs:
        kwargs.setdefault("table", art.table)
    if LOGS in needs:
        kwargs.setdefault("logs", art.logs)
    return make_agent(spec.name, world, seed=seed, **kwargs)


JOURNEY_PROBE_USERS = 100_000  # fresh users behind each run's ceiling (about 2 s at topic level)


def journey_hit_rates(world: World, cfg: RunConfig, art: Artifacts) -> dict[str, Any] | None:
    """On fresh users of ``world`` (``envs.ceiling``): chance, the Bayes ceiling, and the top-1
    hit rate of every configured hierarchical agent's selector, as proposed when serving (None
    for worlds without latent interests)."""
    from agents.errors import StateError
    from envs.ceiling import ceiling, journey_probe

    if cfg.recsim_ng is not None or not world.dynamics.has_journeys:
        return None
    probe = journey_probe(world, JOURNEY_PROBE_USERS, cfg.agent.context_length, seed=cfg.eval.seeds[0])
    c = ceiling(probe)
    seen = _logged_histories(probe.histories, art.logs, probe.n_clusters)
    by_part: dict[str, dict[str, float]] = {"seen in the logs": {}, "unseen": {}}
    selectors: dict[str, float] = {}
    for spec in cfg.agents:
        selector = getattr(make(world, cfg, spec, art, cfg.eval.seeds[0]), "selector", None)
        if selector is None:
            continue
        try:
            proposals = selector.select(probe.histories, probe.windows, np.random.default_rng(cfg.eval.seeds[0]))
        except StateError:  # the oracle reads a live env's hidden state; it hits whenever it can
            continue
        hits = probe.hits(proposals)
        selectors[spec.display_name] = float(hits.mean())
        if seen is not None:
            for part, rows in (("seen in the logs", seen), ("unseen", ~seen)):
                by_part[part][spec.display_name] = float(hits[rows].mean()) if rows.any() else float("nan")
    out: dict[str, Any] = {"n_users": c.n_users, "context_length": cfg.agent.context_length, **c.as_dict(),
                           "selectors": selectors}
    if seen is not None:
        out["seen_share"] = float(seen.mean())
        out["by_history"] = by_part
    return out


def _logged_histories(histories: np.ndarray, logs: pd.DataFrame | None, n_clusters: int) -> np.ndarray | None:
    """(N,) whether each history (N, L) occurs as the context of a logged transition between
    positive engagements (``llm.data.extract_transitions``, no filter); None without logs."""
    if logs is None:
        return None
    from llm.data import extract_transitions
    from llm.histories import history_index

    logged, _ = extract_transitions(logs, histories.shape[1])
    complete = (histories >= 0).all(axis=1)
    keys = history_index(np.maximum(histories, 0), n_clusters)
    return complete & np.isin(keys, history_index(logged.histories, n_clusters))


@dataclass
class TrialResult:
    """One agent under one seed."""

    agent: str
    seed: int
    summary: dict[str, float]
    per_step: pd.DataFrame
    per_user: pd.DataFrame
    seconds: float


def simulate(world: World, cfg: RunConfig, spec: AgentSpec, art: Artifacts, seed: int,
             on_action: Any = None) -> tuple[Any, list[float]]:
    """Serve ``cfg.eval.n_users`` users with the agent of ``spec`` for ``cfg.eval.n_steps`` steps:
    the event log, and the mean entropy of users' hidden interests after each step (NaN for
    RecSim NG, which keeps them inside TensorFlow). ``on_action`` as ``run_agent``'s."""
    from agents.evaluate import run_agent

    agent = make(world, cfg, spec, art, seed)
    entropy: list[float] = []

    def record(env: Any) -> None:
        state = getattr(env, "population_state", None)
        entropy.append(float(world.oracle_interest_entropy(state).mean()) if state is not None else float("nan"))

    env = cfg.population(world, cfg.eval.n_users)
    try:
        event_log = run_agent(agent, world, cfg.eval.n_users, cfg.eval.n_steps, seed=seed, on_step=record, env=env,
                              on_action=on_action)
    finally:
        env.close()
    return event_log, entropy


def step_frame(event_log: Any, entropy: list[float], n_clusters: int, n_users: int, seed: int) -> pd.DataFrame:
    """Per-step means of a run: novelty, enjoyment, hidden-interest entropy, homogenization,
    new clusters per user so far."""
    steps = pd.DataFrame(per_step_means(event_log))
    steps.insert(0, "step", np.arange(len(steps)))
    steps["interest_entropy"] = entropy
    steps["homogenization"] = windowed_homogenization(event_log, n_clusters, seed=seed)
    steps["novel_cumulative"] = (steps["novel_rate"] * steps["active_users"]).cumsum() / n_users
    return steps


def evaluate_one(world: World, cfg: RunConfig, spec: AgentSpec, art: Artifacts, seed: int) -> TrialResult:
    from agents.evaluate import ExplorationHits

    t0 = time.perf_counter()
    hits = ExplorationHits(world)
    event_log, entropy = simulate(world, cfg, spec, art, seed, on_action=hits)
    m = world.level.n_clusters
    summary = summarize(event_log, m, world.corpus.n_items, seed=seed)
    summary.update(hits.summary())
    steps = step_frame(event_log, entropy, m, cfg.eval.n_users, seed)
    users = pd.DataFrame(per_user_metrics(event_log, m))
    for frame in (steps, users):
        frame.insert(0, "seed", seed)
        frame.insert(0, "agent", spec.display_name)
    return TrialResult(spec.display_name, seed, summary, steps, users, time.perf_counter() - t0)


def save_trial(out: Path, result: TrialResult) -> None:
    """Per-trial files, written atomically (the unit a resumed sweep skips)."""
    stem = f"{result.agent}__seed{result.seed}"
    write_parquet(out / "trials" / f"{stem}.steps.parquet", result.per_step)
    write_parquet(out / "trials" / f"{stem}.users.parquet", result.per_user)
    write_json(out / "trials" / f"{stem}.json", {
        "agent": result.agent, "seed": result.seed, "summary": result.summary, "seconds": result.seconds,
    })
