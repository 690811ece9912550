"""Does exploration pay in a world, and can a learned selector tell journeys from noise?

The measurement behind the `journeys` world's defaults (issue 12), rerun with::

    python -m experiments.journeys_calibration                       # the default world
    python -m experiments.journeys_calibration --preset classic      # the world before it
    python -m experiments.journeys_calibration --set journey_predictability=0 --set boredom_rate=0

For a world, it logs organic interactions (as a run does: ``experiments.config.LogsSection``),
fits the count selector on them, and serves the same
users (per seed) with ``exploit`` and hierarchical agents exploring one slot with the random,
count, Markov and oracle selectors. It prints, per agent, novelty, enjoyment (watch minutes and
active days per user, each also as a difference to ``exploit`` paired by seed) and the explored
clusters' hit rate beside chance; and, on fresh users, each learned selector's hit rate beside
the Bayes ceiling and chance (``envs.ceiling``). Means over seeds with 95 % t intervals.
"""

from __future__ import annotations

import argparse
import time
from typing import Any

import numpy as np
import pandas as pd

from agents import make_agent
from agents.evaluate import ExplorationHits, run_agent
from envs import make_world
from envs.ceiling import ceiling, journey_probe
from envs.logs import organic_logs
from envs.metrics import summarize
from envs.world import World
from experiments.config import LogsSection, apply_overrides
from experiments.stats import mean_ci95

AGENTS = ("exploit", "hierarchical-random", "hierarchical-markov", "hierarchical-counts", "hierarchical-oracle")
LEARNED = ("markov", "counts")


def serve(world: World, name: str, logs: Any, n_users: int, n_steps: int, seed: int, slots: int,
          counts: dict[str, Any]) -> dict[str, float]:
    """One agent, one seed: headline metrics plus the explored clusters' hit rate."""
    kwargs: dict[str, Any] = {} if name == "exploit" else {"explore_slots": slots}
    if name.removeprefix("hierarchical-") in LEARNED:
        kwargs["logs"] = logs
    if name == "hierarchical-counts":
        kwargs["selector_kwargs"] = dict(counts)
    agent = make_agent(name, world, seed=seed, **kwargs)
    hits = ExplorationHits(world)
    log = run_agent(agent, world, n_users, n_steps, seed=seed, on_action=hits)
    return {**summarize(log, world.level.n_clusters, world.corpus.n_items, seed=seed), **hits.summary()}


def offline_hit_rates(world: World, logs: Any, n_users: int, seed: int, counts: dict[str, Any]) -> dict[str, float]:
    """Chance, the ceiling and each selector's hit rate on fresh users (``envs.ceiling``)."""
    from agents.registry import make_selector

    probe = journey_probe(world, n_users, seed=seed)
    c = ceiling(probe)
    out = {"chance": c.chance, "ceiling": c.estimate, "ceiling (half sample)": c.estimate_half}
    rng = np.random.default_rng(seed)
    for name in ("random", *LEARNED):
        selector = make_selector(name, world, 2, logs=logs, **(counts if name == "counts" else {}))
        out[name] = probe.hit_rate(selector.select(probe.histories, probe.windows, rng))
    return out


def fmt(values: Any, digits: int = 3) -> str:
    """Mean ± half-width of its 95 % interval (the mean alone for one seed)."""
    stats = mean_ci95(list(values))
    if stats["mean"] is None:
        return "n/a"
    if stats["ci95"] is None:
        return f"{stats['mean']:.{digits}f}"
    return f"{stats['mean']:.{digits}f} ± {(stats['ci95'][1] - stats['ci95'][0]) / 2:.{digits}f}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="default")
    parser.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="a WorldConfig override")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--slots", type=int, default=1, help="exploration slots per slate")
    parser.add_argument("--agents", default=",".join(AGENTS))
    parser.add_argument("--counts-power", type=float, default=3.0)
    parser.add_argument("--counts-min-returns", type=int, default=2,
                        help="count only targets new to the user and engaged again this many times (0 = every target)")
    args = parser.parse_args(argv)
    overrides = apply_overrides({}, args.set)
    counts = {"power": args.counts_power, "first_time_only": args.counts_min_returns > 0,
              "min_returns": args.counts_min_returns}
    world = make_world(args.preset, seed=0, **overrides)
    t0 = time.perf_counter()
    section = LogsSection()
    logs = organic_logs(world, section.n_users, section.n_steps, seed=section.seed, explore=section.explore)
    rows = []
    for seed in range(args.seeds):
        for name in args.agents.split(","):
            rows.append({"agent": name, "seed": seed, **serve(world, name, logs, args.users, args.steps, seed,
                                                              args.slots, counts)})
            print(f"  seed {seed} {name}: {time.perf_counter() - t0:.0f}s", flush=True)
    df = pd.DataFrame(rows)
    base = df[df.agent == "exploit"].set_index("seed")
    print(f"\nworld: preset {args.preset!r} {overrides}; {args.users} users x {args.steps} requests, "
          f"{args.seeds} seeds, {args.slots} exploration slot(s)\n")
    print("| agent | novel clusters / user | watch min / user | vs exploit | active days | vs exploit "
          "| positive rate | explore hit rate | chance |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, part in df.groupby("agent", sort=False):
        part = part.set_index("seed")
        watch_gain = (part.watch_time_per_user / base.watch_time_per_user - 1) * 100
        days_gain = (part.active_days_per_user / base.active_days_per_user - 1) * 100
        print(f"| {name} | {fmt(part.novel_clusters_per_user)} | {fmt(part.watch_time_per_user, 1)}"
              f" | {fmt(watch_gain, 1)} % | {fmt(part.active_days_per_user, 2)}"
              f" | {fmt(days_gain, 1)} % | {fmt(part.positive_rate)}"
              f" | {fmt(part.explore_hit_rate * 100, 2)} % | {fmt(part.explore_hit_chance * 100, 2)} % |")
    offline = offline_hit_rates(world, logs, 100_000, 99, counts)
    print("\nfresh users (100,000), top-1 hit rate on undiscovered latent clusters: "
          + ", ".join(f"{k} {v * 100:.2f} %" for k, v in offline.items()))
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
