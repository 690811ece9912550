"""The settings a class can choose on the feedback-loop page, and the simulations behind them.

A setting is the share of the feed given to exploration, how the novel cluster is chosen, and
whether the recommender retrains on its own logs. Settings that do not explore (a share of 0,
or no chooser) are the same run: exploitation only. Every run serves the same simulated people
(one seed), so a setting and exploitation only can be compared person by person.

Each run is cached as one JSON file named by what determines it (world, population, logs,
language model, setting, seed), so a rerun of the page is instant and a changed config reruns
only what changed.
"""

from __future__ import annotations

import itertools
import json
import logging
import multiprocessing
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from envs.world import World
from experiments import pipeline
from experiments.config import AgentSpec, RunConfig
from experiments.rundir import write_json

log = logging.getLogger("noveltygym")

EXPLORE_SHARES = (0, 10, 20, 30, 50)
"""Percent of each slate given to the chosen novel cluster (rounded to whole slots)."""
CHOOSERS = {
    "none": ("nobody (no exploration)", None),
    "random": ("at random", "hierarchical-random"),
    "markov": ("what usually comes next (counting logs)", "hierarchical-markov"),
    "llm": ("the language model", "hierarchical-llm"),
}
"""How the novel cluster is chosen: key -> (words for the page, agent name)."""
METRICS = ("interest_entropy", "novel_cumulative", "homogenization", "watch_time")
"""The per-step figures the page plots (columns of ``pipeline.step_frame``)."""
JOURNEY_USER = 0
"""The user slot whose journey the page draws (the same person in every run of a seed)."""
RUN_FORMAT = 2
"""Version of a cached run's JSON: raise it when ``simulate_setting`` changes what it writes."""


@dataclass(frozen=True)
class Setting:
    """One position of the page's controls."""

    share: int
    """Percent of the slate that explores (one of EXPLORE_SHARES)."""
    chooser: str
    """Key of CHOOSERS."""
    retrain: bool
    """Whether the recommender retrains on its own logs."""

    def __post_init__(self) -> None:
        if self.share not in EXPLORE_SHARES:
            raise ValueError(f"share={self.share!r} must be one of {EXPLORE_SHARES} (percent of the slate)")
        if self.chooser not in CHOOSERS:
            raise ValueError(f"chooser={self.chooser!r} must be one of {tuple(CHOOSERS)}")

    @property
    def explores(self) -> bool:
        return self.share > 0 and self.chooser != "none"

    def run(self) -> Setting:
        """The setting whose run this one shows: every non-exploring setting shares one run."""
        return self if self.explores else Setting(0, "none", self.retrain)

    def baseline(self) -> Setting:
        """Exploitation only, with the same retraining: what the page compares against."""
        return Setting(0, "none", self.retrain)

    @property
    def key(self) -> str:
        return f"{self.share}-{self.chooser}-{'retrain' if self.retrain else 'frozen'}"

    def agent(self, slate_size: int) -> AgentSpec:
        exploit = {"exploit": {"retrain": self.retrain}}
        if not self.explores:
            return AgentSpec("exploit", label=self.key, params=exploit)
        slots = max(1, round(self.share / 100 * slate_size))
        name = CHOOSERS[self.chooser][1]
        assert name is not None  # only "none" has no agent, and it does not explore
        return AgentSpec(name, label=self.key, params={"explore_slots": slots, **exploit})


def all_settings() -> list[Setting]:
    """Every position of the controls (5 shares x 4 choosers x 2)."""
    return [Setting(s, c, r) for s, c, r in itertools.product(EXPLORE_SHARES, CHOOSERS, (True, False))]


def distinct_runs(settings: Iterable[Setting]) -> list[Setting]:
    """The runs behind ``settings``, each once, in a stable order."""
    return sorted({s.run() for s in settings}, key=lambda s: (not s.retrain, s.share, list(CHOOSERS).index(s.chooser)))


def needed_agents(settings: Iterable[Setting], slate_size: int) -> list[AgentSpec]:
    return [s.agent(slate_size) for s in distinct_runs(settings)]


def simulate_setting(world: World, cfg: RunConfig, art: pipeline.Artifacts, setting: Setting, seed: int) -> dict:
    """One run: per-step figures (lists, by METRICS) and the journey of one person, as JSON data."""
    spec = setting.agent(world.config.slate_size)
    event_log, entropy = pipeline.simulate(world, cfg, spec, art, seed)
    steps = pipeline.step_frame(event_log, entropy, world.level.n_clusters, cfg.eval.n_users, seed)
    return {
        "setting": setting.key,
        "seed": seed,
        "steps": {m: np.asarray(steps[m], dtype=float).round(5).tolist() for m in METRICS},
        "journey": journey(event_log, world),
        "summary": {
            "novel_per_user": float(steps["novel_cumulative"].iloc[-1]),
            "watch_per_request": float(np.average(steps["watch_time"], weights=steps["active_users"])),
            "interest_spread_end": float(steps["interest_entropy"].iloc[-1]),
        },
    }


def journey(event_log: Any, world: World, slot: int = JOURNEY_USER) -> dict[str, list]:
    """The positive engagements of the first person served in ``slot``: step, cluster name, and
    whether the cluster was new to them."""
    ev = event_log.stacked()
    first = ev.user_id[0, slot]
    mine = (ev.user_id[:, slot] == first) & ev.active[:, slot] & ev.positive[:, slot]
    steps = np.flatnonzero(mine)
    names = world.level.descriptions
    return {
        "step": steps.tolist(),
        "cluster": [names[c] for c in ev.cluster[steps, slot]],
        "novel": ev.novel[steps, slot].astype(bool).tolist(),
    }


def _cache_key(cfg: RunConfig, setting: Setting, seed: int) -> str:
    # What decides a run: the world, the population, the logs and the language model (which
    # train the Markov and LLM choosers), the agents' shared knobs, the setting and the seed.
    raw = cfg.to_dict()
    parts = {k: raw[k] for k in ("world", "eval", "logs", "llm", "agent")}
    return pipeline.cache_key(parts, setting.key, seed, RUN_FORMAT)


def run_settings(
    world: World,
    cfg: RunConfig,
    art: pipeline.Artifacts,
    settings: Iterable[Setting],
    cache: Path,
    workers: int = 1,
    progress: bool = True,
) -> dict[str, dict]:
    """Every run behind ``settings`` (cached under ``cache/settings``), by setting key."""
    seed = cfg.eval.seeds[0]
    runs = distinct_runs(settings)
    paths = {s.key: cache / "settings" / f"{s.key}-{_cache_key(cfg, s, seed)}.json" for s in runs}
    todo = [s for s in runs if not paths[s.key].exists()]
    if len(todo) < len(runs):
        log.info("feedback page: %d of %d runs cached in %s", len(runs) - len(todo), len(runs), cache / "settings")
    bar = tqdm(total=len(todo), desc="feedback-loop runs", unit="run", disable=not progress)

    def done(result: dict) -> None:
        write_json(paths[result["setting"]], result)
        bar.update(1)

    if workers <= 1 or len(todo) <= 1:
        for s in todo:
            done(simulate_setting(world, cfg, art, s, seed))
    else:
        _run_parallel(cfg, cache, todo, seed, workers, done)
    bar.close()
    return {key: json.loads(path.read_text()) for key, path in paths.items()}


# --- parallel runs: each worker builds the world and loads the cached logs and table once --------
_WORKER: dict[str, Any] = {}


def _init_worker(raw: dict, cache: str) -> None:
    import torch

    from experiments.config import config_from_dict

    torch.set_num_threads(1)
    cfg = config_from_dict(raw)
    world = cfg.build_world()
    _WORKER.update(cfg=cfg, world=world, art=pipeline.prepare(world, cfg, Path(cache), progress=False))


def _run_in_worker(key: tuple[int, str, bool], seed: int) -> dict:
    w = _WORKER
    return simulate_setting(w["world"], w["cfg"], w["art"], Setting(*key), seed)


def _run_parallel(cfg: RunConfig, cache: Path, todo: list[Setting], seed: int, workers: int,
                  done: Callable[[dict], None]) -> None:
    ctx = multiprocessing.get_context("spawn")  # no fork: torch and thread pools are not fork-safe
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker,
                             initargs=(cfg.to_dict(), str(cache))) as pool:
        futures = [pool.submit(_run_in_worker, (s.share, s.chooser, s.retrain), seed) for s in todo]
        for fut in as_completed(futures):
            done(fut.result())
