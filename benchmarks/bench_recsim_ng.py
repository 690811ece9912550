"""noveltygym's RecSim engine beside RecSim NG's, in the same two settings, in one run.

    python benchmarks/bench_recsim_ng.py           # 1k, 10k users at horizon 100; 100k at horizon 20
    python benchmarks/bench_recsim_ng.py --quick   # 1k and 10k users, horizon 20 (under a minute)

Needs the ``recsim-ng`` extra. Both sides run the same story sizes: 20 topics, 100 documents,
slates of 2 distinct documents drawn uniformly at random, history 15, ``horizon`` requests per
user (a user-step = one user answering one slate). Figures are user-steps per second, in two
settings:

- **engine alone**: the whole horizon inside each engine, slates drawn inside it.
  noveltygym: ``World.rollout_random``, a compiled rollout (numba, both cores) whose kernel
  draws the slates and runs the RecSim preset's per-user step (``envs.kernels.recsim``), a
  block of 256 users at a time through the horizon; a user whose budget runs out is replaced
  by a new one in the slot, as the vector env does, so every user-step is a real step.
  RecSim NG: its interest-evolution story (user, corpus and metrics entities of
  ``recsys_partially_observable_rl``) with ``RandomSlateRecommender`` (envs/recsim_ng: each
  pick one edward2 ``Uniform`` per user over the documents not taken yet), run by RecSim NG's
  ``TFRuntime``: one ``tf.while_loop`` over the horizon in a compiled TensorFlow graph (its
  initial step answers the first slate, then ``horizon - 1`` steps). RecSim NG has no random
  recommender; its own selector (``IteratedMultinomialLogitChoiceModel``, a logit and a Gumbel
  draw per user and document) ran the engine at ~1.3M user-steps/s at 10k users, ~3x slower,
  so the cheaper draw is the fair one.
- **agent in the loop**: a Python policy (``envs.spaces.SlateSpace.sample``, numpy)
  picks every slate; the env returns observations, rewards and events to Python at every
  request. noveltygym: ``InterestExplorationVectorEnv`` on the RecSim preset. RecSim NG: this
  project's adapter ``RecSimNGVectorEnv`` (its step compiled to a graph, traced in the warm-up).

The user models are each engine's own (noveltygym's preset is RecSim's ``interest_evolution``;
RecSim NG's application has its own interest-evolution user, who clicks far less often), so
the figures compare engines, not users. Warm-ups (compilation, tracing) are not timed.

Figures of three full runs, one after the other on this 2-core VM with nothing else heavy
running (each figure the fastest of 3 after a warm-up), in user-steps/s, engine alone | agent
in the loop (2026-12-02, after the rollout kept histories as rings):

    users  horizon   run   noveltygym  RecSim NG  ratio  |  noveltygym  RecSim NG  ratio
    1,000      100     1   20,935,788  3,052,931   6.9x  |   7,686,985    711,676  10.8x
                       2   20,943,737  2,477,433   8.5x  |   7,655,566    729,629  10.5x
                       3   20,611,961  2,467,021   8.4x  |   7,504,181    717,838  10.5x
    10,000     100     1   36,752,463  5,608,146   6.6x  |  14,255,073  1,672,415   8.5x
                       2   38,082,567  6,497,365   5.9x  |  13,289,789  1,700,828   7.8x
                       3   37,428,107  5,270,732   7.1x  |  15,084,801  1,749,226   8.6x
    100,000     20     1   32,999,839  5,415,277   6.1x  |   9,844,125  2,575,736   3.8x
                       2   29,849,150  5,462,736   5.5x  |   9,070,113  2,437,512   3.7x
                       3   27,828,156  6,886,909   4.0x  |   9,717,596  2,690,412   3.6x

At 100k users the horizon is 20 (``--large-horizon``) to keep the run near a minute; both
sides fit in memory (a process running all four at 100k users peaked at 1.8 GB). The 5x
target at 10k users: with the agent in the loop in every run (7.8-8.6x); with the engine
alone in three of three (5.9-7.1x; before the rollout kept histories as rings, moving
15-slot windows on every click, 4.6-6.0x: RecSim NG's graph varies by 30-50 % from run to run).

Cost per user-step against this machine's limit (2 cores of an AMD EPYC, Zen 4, 2.6 GHz,
AVX-512; 2 x 2 MB L2, 32 MB L3). noveltygym's kernel does about 40 floating-point operations
per user-step (two proportional-choice weights, their sum and the inverse-CDF draw, the watch
time and budget, the interest move on a click) plus 4 random draws (2 slate items, the choice
and interest-move uniforms; SplitMix64, a few ns each), and touches about 0.7 kB of the user's
state: the 20 interests (80 B), the history windows (15 items, clusters and 3 responses: 420 B;
one slot of each written on a click, about half the steps), ~15 event fields (~60 B) and a few scalars. The
rollout keeps a block of 256 users (~180 kB) in L2 for the whole horizon, so what reaches DRAM
is about 0.7 kB / horizon per user-step, ~7 B at horizon 100. The limits that follow:
arithmetic, ~40 flop against 2 x 2.6 GHz x 32 flop/cycle (FMA, AVX-512) ~ 166 Gflop/s, allows
~4e9 user-steps/s; memory, ~7 B against 26 GB/s (one thread's numpy copy ``b[:] = a`` of 400 MB
float64 arrays, read + write counted, best of 5), ~4e9/s. The kernel's measured ~37e6
user-steps/s (~54 ns per user-step per core, ~140 cycles; 22e6 on one thread) is two orders of
magnitude under both: it is bound by latency, the serial chain of one user's step (the gathers
of the slate's topics and interests, the branchy choice, ~15 event stores),
not by arithmetic or traffic. With numba's own generator (MT19937 behind a per-thread state)
the draws alone took 28 ns a user-step and the rollout ran ~15e6/s. Further speed would come
from interleaving users (SIMD over a block), not from fewer bytes. RecSim NG's graph runs each
of its ~100 ops as a pass over all users, which is why it gains with the population (2.5-3.1M
at 1k, 5.4-6.9M at 100k). The vector env streams the whole population's state and writes a new
observation each request (~1.5 kB per user-step; at 10k users that is ~11 MB and stays in L3;
17M/s at DRAM speed at larger sizes), plus Python's per-step cost, hence ~40 % of the engine
alone at 10k users.

The last line is one JSON object: ``engine_alone`` and ``agent_in_loop``, each with
``noveltygym`` and ``recsim_ng`` (user-steps/s) and ``ratio`` (noveltygym / RecSim NG), at
10,000 users, then ``per_size``.
"""

from __future__ import annotations

import argparse
import json
import logging
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
from envs.spaces import SlateSpace

N_TOPICS = 20
N_DOCS = 100
SLATE_SIZE = 2
HISTORY = 15
HEADLINE_USERS = 10_000


def _timed(warm_up: Callable[[], None], run: Callable[[], None], reps: int) -> float:
    """Seconds of the fastest of ``reps`` calls of ``run``, after ``warm_up`` (compilation,
    tracing, caches): on a shared machine, other work only ever adds time."""
    warm_up()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


# --- engine alone ------------------------------------------------------------------------------
def noveltygym_engine(n_users: int, horizon: int, reps: int) -> float:
    """``World.rollout_random``: the whole horizon compiled, slates drawn in the kernel."""
    world = _world()
    seconds = _timed(lambda: world.rollout_random(n_users, min(horizon, 2), 0),
                     lambda: world.rollout_random(n_users, horizon, 1), reps)
    return n_users * horizon / seconds


def recsim_ng_engine(n_users: int, horizon: int, reps: int) -> float:
    """RecSim NG's story with random slates drawn in the graph, run by its ``TFRuntime``."""
    compat.ensure()  # before recsim_ng loads
    import tensorflow as tf
    from recsim_ng.lib.tensorflow import runtime

    from envs.recsim_ng.simulation import random_slate_network
    from envs.recsim_ng.stories import interest_evolution_story

    story = interest_evolution_story(num_users=n_users, num_topics=N_TOPICS, num_docs=N_DOCS, slate_size=SLATE_SIZE)
    rt = runtime.TFRuntime(random_slate_network(story))
    # A tensor step count: traced once, so the warm-up may be short. The initial step answers
    # the first slate, so horizon - 1 steps make horizon responses.
    steps = tf.constant(horizon - 1)
    seconds = _timed(lambda: rt.execute(num_steps=tf.constant(1)), lambda: rt.execute(num_steps=steps), reps)
    return n_users * horizon / seconds


# --- agent in the loop ---------------------------------------------------------------------------
def noveltygym_loop(n_users: int, horizon: int, reps: int) -> float:
    """noveltygym's vector env on the RecSim preset, a random slate per user per request."""
    env = envs.InterestExplorationVectorEnv(n_users, world=_world())
    policy = SlateSpace(N_DOCS, SLATE_SIZE, seed=1, n_users=n_users)  # uniform slates of distinct documents

    def episode(steps: int) -> None:
        env.reset(seed=0)
        for _ in range(steps):
            env.step(policy.sample())

    seconds = _timed(lambda: episode(2), lambda: episode(horizon), reps)
    env.close()
    return n_users * horizon / seconds


def recsim_ng_loop(n_users: int, horizon: int, reps: int) -> float:
    """RecSim NG through this project's gymnasium adapter, a random slate per user per request."""
    from envs.recsim_ng import RecSimNGVectorEnv

    env = RecSimNGVectorEnv(
        n_users, horizon=horizon, history_length=HISTORY, num_topics=N_TOPICS, num_docs=N_DOCS, slate_size=SLATE_SIZE
    )
    policy = SlateSpace(N_DOCS, SLATE_SIZE, seed=1, n_users=n_users)  # uniform slates of distinct documents

    def episode(steps: int) -> None:
        env.reset(seed=0)
        for _ in range(steps):
            env.step(policy.sample())

    seconds = _timed(lambda: episode(min(horizon, 2)), lambda: episode(horizon), reps)
    return n_users * horizon / seconds


def _world() -> envs.World:
    return envs.make_world("recsim-interest-evolution", n_items=N_DOCS, slate_size=SLATE_SIZE, history_length=HISTORY)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1k and 10k users, horizon 20, one repetition")
    parser.add_argument("--horizon", type=int, default=None, help="requests per user (default 100; quick 20)")
    parser.add_argument("--large-horizon", type=int, default=20, help="requests per user at 100k users")
    parser.add_argument("--reps", type=int, default=None, help="timed repetitions, the fastest kept (default 3)")
    args = parser.parse_args(argv)
    horizon = args.horizon or (20 if args.quick else 100)
    reps = args.reps or (1 if args.quick else 3)
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    compat.ensure()
    import tensorflow as tf

    tf.get_logger().setLevel(logging.ERROR)  # AutoGraph's note on RecSim NG's selector (it runs as written)
    warnings.filterwarnings("ignore", message=".*Box bound precision lowered.*")
    print(
        f"{N_TOPICS} topics, {N_DOCS} documents, slate {SLATE_SIZE}, history {HISTORY}, random slates; "
        f"TensorFlow {tf.__version__}, recsim-ng {metadata.version('recsim-ng')}, numba "
        f"{metadata.version('numba')}, numpy {np.__version__}, {os.cpu_count()} cores, "
        f"{platform.processor() or platform.machine()}; user-steps/s"
    )
    print(f"{'':>16} {'engine alone':^34}   {'agent in the loop':^34}")
    print(f"{'users':>8} {'horizon':>7} " + f"{'noveltygym':>12} {'RecSim NG':>12} {'ratio':>8}   " * 2)
    per_size: dict[str, dict[str, float]] = {}
    for n in sizes:
        h = horizon if n <= HEADLINE_USERS else min(horizon, args.large_horizon)
        row = {
            "noveltygym_engine": noveltygym_engine(n, h, reps),
            "recsim_ng_engine": recsim_ng_engine(n, h, reps),
            "noveltygym_loop": noveltygym_loop(n, h, reps),
            "recsim_ng_loop": recsim_ng_loop(n, h, reps),
        }
        row["engine_ratio"] = row["noveltygym_engine"] / row["recsim_ng_engine"]
        row["loop_ratio"] = row["noveltygym_loop"] / row["recsim_ng_loop"]
        per_size[str(n)] = {k: round(v, 2) if k.endswith("ratio") else round(v) for k, v in row.items()}
        per_size[str(n)]["horizon"] = h
        print(
            f"{n:>8,} {h:>7} {row['noveltygym_engine']:>12,.0f} {row['recsim_ng_engine']:>12,.0f} "
            f"{row['engine_ratio']:>7.1f}x   {row['noveltygym_loop']:>12,.0f} {row['recsim_ng_loop']:>12,.0f} "
            f"{row['loop_ratio']:>7.1f}x",
            flush=True,
        )
    top = per_size[str(HEADLINE_USERS)]
    print(
        f"at {HEADLINE_USERS:,} users noveltygym runs {top['engine_ratio']:.1f}x RecSim NG's user-steps per second "
        f"with the engine alone and {top['loop_ratio']:.1f}x with the agent in the loop (noveltygym / RecSim NG)"
    )
    out: dict[str, Any] = {
        "users": HEADLINE_USERS,
        "horizon": top["horizon"],
        "engine_alone": {
            "noveltygym": top["noveltygym_engine"], "recsim_ng": top["recsim_ng_engine"], "ratio": top["engine_ratio"]
        },
        "agent_in_loop": {
            "noveltygym": top["noveltygym_loop"], "recsim_ng": top["recsim_ng_loop"], "ratio": top["loop_ratio"]
        },
        "per_size": per_size,
    }
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
