"""Benchmark of the agents layer (issue 4).

1. Cost of ``act()`` of each hierarchical agent (LLM, Markov, counts, random, oracle selectors)
   for 10,000 users against one env step of the default world, timed in turns in the same run
   on a population the agent has served and learned from for 30 steps (median of repeats):
   target ratio <= 1 (0.97-1.00 for the worst agent in three runs here; the README's
   "Benchmarks" says what bounds it). Then
   the same agents with the ``engagement-cdf`` item policy (the default's distribution drawn
   by inverse CDF, other slates for a seed): ``act_over_step_ratio_cdf``.
2. Novelty and enjoyment of every agent in a short default-world run (same seeds for all).

    python benchmarks/bench_agents.py            # 2,000 users x 150 steps, SB3 item policy trained
    python benchmarks/bench_agents.py --quick    # 1,000 users x 50 steps, under ~2 minutes
    python benchmarks/bench_agents.py --table runs/llm/table   # add the LLM selector from a real table

The last line is one JSON object: ``act_over_step_ratio`` (the worst agent's, named in
``act_over_step_worst``, with its ``act_ms`` and ``step_ms``), ``timing`` per agent, and per agent
``novel_clusters_per_user``, ``watch_time_per_user``, ``positive_rate``, ``explore_share``.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

import envs
from agents import make_agent, run_agent
from agents.types import Transition
from envs.logs import organic_logs
from envs.metrics import summarize

FLAT = ["exploit", "random", "popularity", "epsilon-greedy", "boltzmann", "intrinsic", "entropy", "ucb", "thompson"]


class RandomTable:
    """A stand-in with the lookup cost of ``llm.table.TransitionTable`` (one gather over M^L rows),
    used only for timing when no real table is given."""

    def __init__(self, n_clusters: int, context_length: int, seed: int = 0) -> None:
        self.n_clusters, self.context_length = n_clusters, context_length
        rng = np.random.default_rng(seed)
        self.answers = rng.integers(0, n_clusters, size=(n_clusters**context_length, 1), dtype=np.int32)

    def lookup(self, histories: np.ndarray) -> np.ndarray:
        rows = histories[:, 0].astype(np.int64)
        for j in range(1, self.context_length):
            rows = rows * self.n_clusters + histories[:, j]
        return self.answers[rows]


def act_vs_step(world, agent, n_users: int, repeats: int, warmup: int = 30) -> dict[str, float]:
    """Median ms of ``agent.act`` and of one env step, timed in turns on a running population:
    ``warmup`` steps served and learned from by the agent first, so histories are filled and
    item rates learned as in a real run (flat rates would make some passes cheaper)."""
    env = envs.InterestExplorationVectorEnv(n_users, world=world)
    obs, _ = env.reset(seed=0)
    agent.bind(env)
    for _ in range(warmup):  # also warms caches, kernel threads, first-touch memory
        action = agent.act_explained(obs)
        next_obs, reward, _, _, info = env.step(action.slates)
        agent.update(Transition(obs, action.slates, reward, next_obs, info, action.exploratory))
        obs = next_obs
    # Interleaved, so that both see the same phases of a machine whose speed wanders.
    act_times, step_times = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        slates = agent.act(obs)
        act_times.append(time.perf_counter() - t)
        t = time.perf_counter()
        obs, *_ = env.step(slates)
        step_times.append(time.perf_counter() - t)
    act_ms, step_ms = 1000.0 * float(np.median(act_times)), 1000.0 * float(np.median(step_times))
    env.close()
    return {"act_ms": act_ms, "step_ms": step_ms, "ratio": act_ms / step_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer users and steps, no SB3 training")
    parser.add_argument("--table", default=None, help="folder of a transition table built by llm.table")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    world = envs.make_world("default")
    users, steps = (1000, 50) if args.quick else (2000, 150)
    seed = args.seed

    # --- 1. act() vs env step for 10k users ------------------------------------------------
    logs = organic_logs(world, 1000, 100, seed=seed + 1)
    table = args.table if args.table else RandomTable(world.level.n_clusters, 2, seed)
    timing: dict[str, dict[str, float]] = {}
    timing_cdf: dict[str, dict[str, float]] = {}
    for items, into in (("engagement", timing), ("engagement-cdf", timing_cdf)):
        for label, name, kw in (
            ("hierarchical-llm", "hierarchical-llm", {"table": table}),
            ("hierarchical-markov", "hierarchical-markov", {"logs": logs}),
            ("hierarchical-counts", "hierarchical-counts", {"logs": logs}),
            ("hierarchical-random", "hierarchical-random", {}),
            ("hierarchical-oracle", "hierarchical-oracle", {}),
        ):
            agent = make_agent(name, world, seed=seed, item_policy=items, **kw)
            into[label] = t = act_vs_step(world, agent, 10_000, 15 if args.quick else 31)
            print(f"{label:22s} {items:15s} act {t['act_ms']:.1f} ms  env step {t['step_ms']:.1f} ms  "
                  f"ratio {t['ratio']:.2f}")

    # --- 2. novelty and enjoyment per agent -----------------------------------------------------
    specs: dict[str, dict] = {name: {} for name in FLAT}
    specs["hierarchical-oracle"] = {}
    specs["hierarchical-random"] = {}
    specs["hierarchical-markov"] = {"logs": logs}
    specs["hierarchical-counts"] = {"logs": logs}
    if args.table:
        specs["hierarchical-llm"] = {"table": args.table}
    if not args.quick:
        from agents.items.sb3 import train_item_policy

        t = time.perf_counter()
        ppo = train_item_policy(world, total_timesteps=50_000, seed=seed)
        print(f"SB3 PPO item policy trained in {time.perf_counter() - t:.1f} s")
        specs["hierarchical-oracle-ppo"] = {"item_policy": ppo}
        specs["hierarchical-oracle+random-items"] = {"item_policy": "random"}
    results = {}
    for label, kw in specs.items():
        name = label.split("+")[0]
        t = time.perf_counter()
        log = run_agent(make_agent(name, world, seed=seed, **kw), world, users, steps, seed=seed)
        s = summarize(log, world.level.n_clusters, world.corpus.n_items, seed=seed)
        results[label] = {
            "novel_clusters_per_user": round(s["novel_clusters_per_user"], 3),
            "watch_time_per_user": round(s["watch_time_per_user"], 2),
            "positive_rate": round(s["positive_rate"], 4),
            "discoveries_per_user": round(s["discoveries_per_user"], 3),
            "explore_share": round(s["explore_share"], 3),
            "explore_watch_per_slot": round(s["explore_watch_per_slot"], 4),
        }
        r = results[label]
        print(
            f"{label:34s} novel {r['novel_clusters_per_user']:5.2f}  watch {r['watch_time_per_user']:6.1f}  "
            f"positive {r['positive_rate']:.3f}  explore-watch/slot {r['explore_watch_per_slot']:.3f}  "
            f"({time.perf_counter() - t:.1f} s)"
        )
    worst = max(timing, key=lambda label: timing[label]["ratio"])
    head = timing[worst]
    worst_cdf = max(timing_cdf, key=lambda label: timing_cdf[label]["ratio"])
    print(
        json.dumps(
            {
                "act_over_step_ratio": round(head["ratio"], 3),
                "act_over_step_worst": worst,
                "act_ms": round(head["act_ms"], 2),
                "step_ms": round(head["step_ms"], 2),
                "timing_users": 10_000,
                "timing": {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in timing.items()},
                "act_over_step_ratio_cdf": round(timing_cdf[worst_cdf]["ratio"], 3),
                "act_over_step_worst_cdf": worst_cdf,
                "timing_cdf": {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in timing_cdf.items()},
                "run": {"world": "default", "users": users, "steps": steps, "seed": seed, "quick": args.quick},
                "agents": results,
            }
        )
    )


if __name__ == "__main__":
    main()
