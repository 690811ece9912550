"""Simulator throughput and memory: user-steps per second of the vector env and bytes of
state per user, for the default world and the RecSim preset, beside RecSim's own loop.

    python benchmarks/bench_env.py           # full: 1k, 10k, 100k users (+ 10^6 memory check)
    python benchmarks/bench_env.py --quick   # under a minute

RecSim is measured in the same run when installed (``pip install recsim-no-tf six``), with
its own interest_evolution settings (10 candidates, slate 2), one user at a time as it runs.
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from typing import Any

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import envs
from envs.state import state_nbytes


def _slates(n_users: int, n_items: int, slate_size: int, k: int, seed: int) -> list[np.ndarray]:
    """Pre-drawn distinct slates (consecutive ids from a random start), so the policy costs nothing."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, n_items - slate_size, size=(n_users, 1)) + np.arange(slate_size) for _ in range(k)]


def user_steps_per_s(world: envs.World, n_users: int, seconds: float, threads: int | None = None) -> float:
    env = envs.InterestExplorationVectorEnv(n_users, world=world, num_threads=threads)
    env.reset(seed=0)
    slates = _slates(n_users, world.corpus.n_items, world.config.slate_size, 8, 1)
    for i in range(3):  # warm up
        env.step(slates[i])
    steps, start = 0, time.perf_counter()
    while True:
        env.step(slates[steps % len(slates)])
        steps += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and steps >= 3:
            break
    env.close()
    return steps * n_users / elapsed


def recsim_user_steps_per_s(seconds: float) -> float | None:
    """RecSim's own interest_evolution loop (one user), or None when RecSim is not installed."""
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
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        _, _, done, _ = env.step([0, 1])
        steps += 1
        if done:
            env.reset()
    return steps / (time.perf_counter() - start)


def bytes_per_user(world: envs.World, n_users: int) -> float:
    state = world.init_state(np.arange(n_users), np.random.default_rng(0))
    return state_nbytes(state) / n_users


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer sizes, shorter timings (< 1 minute)")
    parser.add_argument("--seconds", type=float, default=None, help="timing window per measurement")
    args = parser.parse_args(argv)
    seconds = args.seconds or (1.0 if args.quick else 3.0)
    sizes = (1_000, 10_000) if args.quick else (1_000, 10_000, 100_000)
    default = envs.make_world("default")
    preset = envs.make_world("recsim-interest-evolution")
    print(f"default world: {default.corpus.n_items} items, {default.level.n_clusters} clusters, "
          f"slate {default.config.slate_size}; RecSim preset: {preset.level.n_clusters} topics, "
          f"slate {preset.config.slate_size}; {os.cpu_count()} cores")
    out: dict[str, Any] = {}
    print(f"{'users':>9} {'default user-steps/s':>22} {'recsim preset user-steps/s':>28}")
    for n in sizes:
        d = user_steps_per_s(default, n, seconds)
        r = user_steps_per_s(preset, n, seconds)
        key = f"{n // 1000}k"
        out[f"user_steps_per_s_default_{key}"] = round(d)
        out[f"user_steps_per_s_recsim_preset_{key}"] = round(r)
        print(f"{n:>9,} {d:>22,.0f} {r:>28,.0f}")
    single = user_steps_per_s(default, 10_000, seconds, threads=1)
    out["user_steps_per_s_default_10k_1_thread"] = round(single)
    print(f"default world, 10k users, 1 thread: {single:,.0f} user-steps/s")
    out["bytes_per_user"] = round(bytes_per_user(default, 10_000), 1)
    out["bytes_per_user_recsim_preset"] = round(bytes_per_user(preset, 10_000), 1)
    print(f"state bytes per user: default {out['bytes_per_user']}, RecSim preset {out['bytes_per_user_recsim_preset']}")
    if not args.quick:
        million = bytes_per_user(default, 1_000_000) * 1_000_000
        out["state_gib_1m_users"] = round(million / 2**30, 3)
        print(f"10^6 users of the default world: {million / 2**30:.2f} GiB of state")
    rs = recsim_user_steps_per_s(seconds)
    out["recsim_user_steps_per_s"] = None if rs is None else round(rs)
    if rs is None:
        print("RecSim not installed (pip install recsim-no-tf six): its loop was not measured")
    else:
        ratio = out["user_steps_per_s_recsim_preset_10k"] / rs
        out["recsim_preset_10k_over_recsim"] = round(ratio, 1)
        print(f"RecSim interest_evolution (10 candidates, slate 2): {rs:,.0f} user-steps/s; "
              f"RecSim preset at 10k users is {ratio:,.0f}x faster")
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
