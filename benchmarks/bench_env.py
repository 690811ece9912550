"""Simulator throughput and memory: user-steps per second of the vector env and bytes of
state per user, for the default world and the RecSim preset, beside its peers.

    python benchmarks/bench_env.py           # full: 1k, 10k, 100k users, 10^6-user memory
    python benchmarks/bench_env.py --quick   # under a minute

Peers in the same run: the numpy reference dynamics (``backend="numpy"``, what the compiled
kernels of ``envs.kernels`` replace) and, when installed (``pip install -e '.[recsim]'``),
RecSim's own interest_evolution loop with its own settings (10 candidates, slate 2), one user
at a time as it runs. Each figure is the median of several timing windows (this machine's
speed wanders between windows); the ratio to RecSim is the median over pairs of back-to-back
windows, one of each. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import os
import resource
import sys
import time
import warnings
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import envs
from envs.state import state_nbytes

WINDOWS = 5
PAIRS = 9  # the ratio to RecSim: more, shorter windows make its median steadier


def _slates(n_users: int, n_items: int, slate_size: int, k: int, seed: int) -> list[np.ndarray]:
    """Pre-drawn distinct slates (consecutive ids from a random start), so the policy costs nothing."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n_items - slate_size, size=(n_users, 1)) + np.arange(slate_size) for _ in range(k)]


def window_rate(step: Callable[[], object], per_step: int, seconds: float) -> float:
    """``per_step`` x calls of ``step`` per second over one window of ``seconds`` (at least 2 calls)."""
    start, calls = time.perf_counter(), 0
    while True:
        step()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and calls >= 2:
            return calls * per_step / elapsed


def median_rate(step: Callable[[], object], per_step: int, seconds: float) -> float:
    """Median rate over WINDOWS windows, ``seconds`` in all."""
    return float(np.median([window_rate(step, per_step, seconds / WINDOWS) for _ in range(WINDOWS)]))


def vector_env_stepper(world: envs.World, n_users: int, threads: int | None = None) -> Callable[[], object]:
    """A warmed-up vector env's step over pre-drawn slates (resets of ended users included)."""
    env = envs.InterestExplorationVectorEnv(n_users, world=world, num_threads=threads)
    env.reset(seed=0)
    slates = itertools.cycle(_slates(n_users, world.corpus.n_items, world.config.slate_size, 8, 1))
    for _ in range(3):  # warm up (and compile, or load the compiled kernels)
        env.step(next(slates))
    return lambda: env.step(next(slates))


def user_steps_per_s(world: envs.World, n_users: int, seconds: float, threads: int | None = None) -> float:
    """User-steps per second of the vector env."""
    return median_rate(vector_env_stepper(world, n_users, threads), n_users, seconds)


def recsim_stepper() -> Callable[[], object] | None:
    """One step of RecSim's own interest_evolution loop (one user; a reset when its episode
    ends), or None when RecSim is not installed."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from recsim.environments import interest_evolution
    except Exception:
        return None
    env = interest_evolution.create_environment(
        {"num_candidates": 10, "slate_size": 2, "resample_documents": True, "seed": 0}
    )
    env.reset()

    def step() -> None:
        if env.step([0, 1])[2]:  # done
            env.reset()

    return step


def paired_ratio(ours: Callable[[], object], n_users: int, peer: Callable[[], object], seconds: float
                 ) -> tuple[float, float, float]:
    """(our median rate, the peer's median rate, median of the per-pair ratios) over PAIRS
    pairs of back-to-back windows, ``seconds`` in all: this machine's speed wanders by
    tens of percent over a run, and adjacent windows share most of it."""
    window = seconds / (2 * PAIRS)
    pairs = [(window_rate(ours, n_users, window), window_rate(peer, 1, window)) for _ in range(PAIRS)]
    mine, theirs = (float(np.median(r)) for r in zip(*pairs, strict=True))
    return mine, theirs, float(np.median([a / b for a, b in pairs]))


def bytes_per_user(world: envs.World, n_users: int) -> float:
    state = world.init_state(np.arange(n_users), np.random.default_rng(0))
    return state_nbytes(state) / n_users


def peak_rss_gib_stepping(preset: str, n_users: int, steps: int) -> float:
    """Peak resident memory of a fresh process that builds the world, resets ``n_users`` users
    and steps them ``steps`` times (a fresh one, so that what this benchmark did before does
    not count)."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_peak_rss_gib_stepping, preset, n_users, steps).result()


def _peak_rss_gib_stepping(preset: str, n_users: int, steps: int) -> float:
    world = envs.make_world(preset)
    env = envs.InterestExplorationVectorEnv(n_users, world=world)
    env.reset(seed=0)
    for slate in _slates(n_users, world.corpus.n_items, world.config.slate_size, steps, 2):
        env.step(slate)
    env.close()
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 2**30  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes, shorter timings (< 1 minute)")
    parser.add_argument("--seconds", type=float, default=None, help="timing time per measurement")
    args = parser.parse_args(argv)
    seconds = args.seconds or (1.0 if args.quick else 3.0)
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    start = time.perf_counter()
    worlds = {
        (name, backend): envs.make_world(preset, backend=backend)
        for name, preset in (("default", "default"), ("recsim_preset", "recsim-interest-evolution"))
        for backend in ("numba", "numpy")
    }
    for world in worlds.values():  # compile (first run) or load the kernels from the disk cache
        user_steps_per_s(world, 16, 0.0)
    print(f"worlds built and kernels ready in {time.perf_counter() - start:.1f} s")
    default, preset = worlds["default", "numba"], worlds["recsim_preset", "numba"]
    print(f"default world: {default.corpus.n_items} items, {default.level.n_clusters} clusters, "
          f"slate {default.config.slate_size}; RecSim preset: {preset.level.n_clusters} topics, "
          f"slate {preset.config.slate_size}; {os.cpu_count()} cores; median of {WINDOWS} windows")
    out: dict[str, Any] = {}
    print(f"{'users':>9} {'default':>12} {'default numpy':>14} {'recsim preset':>14} {'preset numpy':>13}"
          "   (user-steps/s)")
    for n in sizes:
        key = f"{n // 1000}k"
        row = []
        for name in ("default", "recsim_preset"):
            fast = user_steps_per_s(worlds[name, "numba"], n, seconds)
            reference = user_steps_per_s(worlds[name, "numpy"], n, seconds)
            out[f"user_steps_per_s_{name}_{key}"] = round(fast)
            out[f"user_steps_per_s_{name}_{key}_numpy"] = round(reference)
            row += [fast, reference]
        print(f"{n:>9,} {row[0]:>12,.0f} {row[1]:>14,.0f} {row[2]:>14,.0f} {row[3]:>13,.0f}")
    for name, world in (("default", default), ("recsim_preset", preset)):
        single = user_steps_per_s(world, 10_000, seconds, threads=1)
        out[f"user_steps_per_s_{name}_10k_1_thread"] = round(single)
        print(f"{name}, 10k users, 1 thread: {single:,.0f} user-steps/s")
    out["bytes_per_user"] = round(bytes_per_user(default, 10_000), 1)
    out["bytes_per_user_recsim_preset"] = round(bytes_per_user(preset, 10_000), 1)
    print(f"state bytes per user: default {out['bytes_per_user']}, RecSim preset {out['bytes_per_user_recsim_preset']}")
    if not args.quick:
        million = bytes_per_user(default, 1_000_000) * 1_000_000
        out["state_gib_1m_users"] = round(million / 2**30, 3)
        out["peak_rss_gib_1m_users_stepping"] = round(peak_rss_gib_stepping("default", 1_000_000, 5), 2)
        print(f"10^6 users of the default world: {million / 2**30:.2f} GiB of state; a process stepping "
              f"them (vector env, 5 steps) peaked at {out['peak_rss_gib_1m_users_stepping']:.2f} GiB")
    peer = recsim_stepper()
    out["recsim_user_steps_per_s"] = None
    if peer is None:
        print("RecSim not installed (pip install recsim-no-tf six): its loop was not measured")
    else:
        ours, theirs, ratio = paired_ratio(vector_env_stepper(preset, 10_000), 10_000, peer, 4 * seconds)
        out["recsim_user_steps_per_s"] = round(theirs)
        out["user_steps_per_s_recsim_preset_10k_paired"] = round(ours)
        out["recsim_preset_10k_over_recsim"] = round(ratio, 1)
        print(f"RecSim interest_evolution (10 candidates, slate 2): {theirs:,.0f} user-steps/s; in windows "
              f"alternating with it the RecSim preset at 10k users ran {ours:,.0f}, {ratio:,.0f}x faster "
              f"(median of {PAIRS} pairs' ratios)")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
