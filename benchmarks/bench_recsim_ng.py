"""RecSim NG's interest evolution beside noveltygym's engine on a matching configuration.

    python benchmarks/bench_recsim_ng.py           # 1,000 and 10,000 users, horizon 100
    python benchmarks/bench_recsim_ng.py --quick   # 1,000 users, horizon 20 (about a minute)

Needs the ``recsim-ng`` extra. The matching configuration is RecSim's: 20 topics (noveltygym's
RecSim preset has RecSim's 20), 100 documents (RecSim NG's default), slates of 2, history 15,
``horizon`` requests per user, random slates. Measured per size, in user-steps per second:

- ``recsim_ng``: RecSim NG's interest-evolution story (its user, corpus and metrics entities)
  run by its own ``TFRuntime`` compiled to a TensorFlow graph, with the slate fixed for the
  run: the simulation engine alone, as fast as RecSim NG runs it. The headline.
- ``recsim_ng_app``: the application as published, its collaborative-filtering recommender
  choosing the slates inside the graph (the policy's cost included).
- ``adapter``: RecSim NG stepped through this project's gymnasium adapter, what agents see:
  one slate per call, the step compiled to a graph (traced in the warm-up), seeded per step,
  observations and events returned to Python every step.
- ``noveltygym``: noveltygym's vector env on its RecSim preset with the same sizes (also one
  slate per call, observations and events every step).

The last line is one JSON object: ``recsim_ng_user_steps_per_s``,
``noveltygym_user_steps_per_s`` and ``ratio`` (noveltygym / RecSim NG) at the largest size,
then the per-size figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import envs
from envs.recsim_ng import compat

N_TOPICS = 20
N_DOCS = 100
SLATE_SIZE = 2
HISTORY = 15


def _timed(run: Callable[[], None], reps: int) -> float:
    """Seconds per call of ``run`` (after one warm-up call: tracing, caches)."""
    run()
    start = time.perf_counter()
    for _ in range(reps):
        run()
    return (time.perf_counter() - start) / reps


def recsim_ng_engine(n_users: int, horizon: int, reps: int) -> float:
    """Interest evolution with a fixed slate, graph-compiled by RecSim NG's runtime."""
    from recsim_ng.lib.tensorflow import runtime

    from envs.recsim_ng.simulation import Simulation
    from envs.recsim_ng.stories import interest_evolution_story

    story = interest_evolution_story(num_users=n_users, num_topics=N_TOPICS, num_docs=N_DOCS, slate_size=SLATE_SIZE)
    sim = Simulation(story, horizon=horizon, history_length=HISTORY)
    rt = runtime.TFRuntime(sim.network)
    seconds = _timed(lambda: rt.execute(num_steps=horizon), reps)
    return n_users * horizon / seconds


def recsim_ng_app(n_users: int, horizon: int, reps: int) -> float:
    """The published application: its own recommender inside the compiled graph."""
    from recsim_ng.applications.recsys_partially_observable_rl import simulation_config
    from recsim_ng.core import network as network_lib
    from recsim_ng.lib.tensorflow import runtime

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*Box bound precision lowered.*")
        variables, _ = simulation_config.create_interest_evolution_simulation_network(
            num_users=n_users, num_topics=N_TOPICS, num_docs=N_DOCS, history_length=HISTORY
        )
    rt = runtime.TFRuntime(network_lib.Network(variables))
    seconds = _timed(lambda: rt.execute(num_steps=horizon), reps)
    return n_users * horizon / seconds


def _slates(n_users: int, k: int, seed: int) -> list[np.ndarray]:
    """Pre-drawn random slates of distinct documents, so the policy costs nothing."""
    rng = np.random.default_rng(seed)
    return [np.argsort(rng.random((n_users, N_DOCS)), axis=1)[:, :SLATE_SIZE] for _ in range(k)]


def adapter(n_users: int, horizon: int) -> float:
    """One episode through the gymnasium adapter."""
    from envs.recsim_ng import RecSimNGVectorEnv

    env = RecSimNGVectorEnv(
        n_users, horizon=horizon, history_length=HISTORY, num_topics=N_TOPICS, num_docs=N_DOCS, slate_size=SLATE_SIZE
    )
    slates = _slates(n_users, 8, 1)

    def episode() -> None:
        env.reset(seed=0)
        for t in range(horizon):
            env.step(slates[t % len(slates)])

    return n_users * horizon / _timed(episode, 1)


def noveltygym(n_users: int, horizon: int, reps: int) -> float:
    """noveltygym's vector env, RecSim preset, same sizes and random slates."""
    world = envs.make_world("recsim-interest-evolution", n_items=N_DOCS, slate_size=SLATE_SIZE, history_length=HISTORY)
    env = envs.InterestExplorationVectorEnv(n_users, world=world)
    slates = _slates(n_users, 8, 1)

    def episode() -> None:
        env.reset(seed=0)
        for t in range(horizon):
            env.step(slates[t % len(slates)])

    seconds = _timed(episode, reps)
    env.close()
    return n_users * horizon / seconds


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 users, horizon 20, one repetition")
    parser.add_argument("--horizon", type=int, default=None, help="requests per user (default 100; quick 20)")
    parser.add_argument("--reps", type=int, default=None, help="timed repetitions of compiled runs (default 3)")
    args = parser.parse_args(argv)
    horizon = args.horizon or (20 if args.quick else 100)
    reps = args.reps or (1 if args.quick else 3)
    sizes = (1_000,) if args.quick else (1_000, 10_000)
    compat.ensure()
    import tensorflow as tf

    print(
        f"{N_TOPICS} topics, {N_DOCS} documents, slate {SLATE_SIZE}, horizon {horizon}; "
        f"TensorFlow {tf.__version__}, recsim-ng {metadata.version('recsim-ng')}, "
        f"numpy {np.__version__}, {os.cpu_count()} cores, {platform.processor() or platform.machine()}"
    )
    print(f"{'users':>7} {'RecSim NG':>12} {'NG + its rec.':>14} {'NG adapter':>12} {'noveltygym':>12} {'ratio':>7}")
    per_size: dict[str, dict[str, float]] = {}
    for n in sizes:
        row = {
            "recsim_ng": recsim_ng_engine(n, horizon, reps),
            "recsim_ng_app": recsim_ng_app(n, horizon, reps),
            "adapter": adapter(n, horizon),
            "noveltygym": noveltygym(n, horizon, reps),
        }
        row["ratio"] = row["noveltygym"] / row["recsim_ng"]
        per_size[str(n)] = {k: round(v, 2) if k == "ratio" else round(v) for k, v in row.items()}
        print(
            f"{n:>7,} {row['recsim_ng']:>12,.0f} {row['recsim_ng_app']:>14,.0f} {row['adapter']:>12,.0f} "
            f"{row['noveltygym']:>12,.0f} {row['ratio']:>6.1f}x"
        )
    top = per_size[str(sizes[-1])]
    print(
        f"at {sizes[-1]:,} users noveltygym runs {top['ratio']:.1f}x the user-steps per second of RecSim NG "
        "(user-steps/s; ratio = noveltygym / RecSim NG)"
    )
    out: dict[str, Any] = {
        "recsim_ng_user_steps_per_s": top["recsim_ng"],
        "noveltygym_user_steps_per_s": top["noveltygym"],
        "ratio": top["ratio"],
        "users": sizes[-1],
        "horizon": horizon,
        "per_size": per_size,
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
