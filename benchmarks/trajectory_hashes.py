"""Fingerprints of what the simulator and the agents do, to run before and after a change that
must not alter results (a refactor, a faster kernel): every preset on both backends (spaces,
observations, rewards, ends, event arrays and oracle answers over 15 steps of 300 users served
organic slates) and the slates of seven agents on the default world. Same output = same
behaviour, bit for bit; a change that is meant to alter results says so and re-measures.

    python benchmarks/trajectory_hashes.py > before.txt   # on the old commit
    python benchmarks/trajectory_hashes.py | diff before.txt -

Not a speed benchmark; it lives here beside them as a check run by hand (about 30 s).
"""

from __future__ import annotations

import hashlib

import numpy as np

import envs
from agents import make_agent, run_agent
from envs.config import PRESETS
from envs.errors import ConfigError
from envs.logs import organic_logs, organic_slates


def world_fingerprint(preset: str, backend: str, users: int = 300, steps: int = 15) -> str:
    h = hashlib.sha256()
    world = envs.make_world(preset, backend=backend)
    h.update(repr(world.observation_space).encode())
    env = envs.InterestExplorationVectorEnv(users, world=world)
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(2)
    for _ in range(steps):
        obs, reward, terminated, truncated, info = env.step(organic_slates(world, obs, rng, explore=0.3))
        for array in (*(obs[k] for k in sorted(obs)), reward, terminated, truncated):
            h.update(np.ascontiguousarray(array).tobytes())
        for key in sorted(info):
            if not key.startswith("_") and isinstance(info[key], np.ndarray):
                h.update(np.ascontiguousarray(info[key]).tobytes())
        state = env.state
        try:
            latent, discovered = world.oracle_latent_clusters(state)
            h.update(latent.tobytes() + discovered.tobytes())
        except ConfigError as exc:
            h.update(type(exc).__name__.encode())
        h.update(world.oracle_cluster_utility(state, np.tile(np.arange(3), (users, 1))).tobytes())
        h.update(world.oracle_interest_entropy(state).tobytes())
    env.close()
    return h.hexdigest()[:16]


def agent_fingerprints() -> dict[str, str]:
    world = envs.make_world("default")
    logs = organic_logs(world, 500, 50, seed=1)
    out = {}
    for name, kw in [("exploit", {}), ("hierarchical-random", {}), ("hierarchical-oracle", {}),
                     ("hierarchical-counts", {"logs": logs}), ("hierarchical-markov", {"logs": logs}),
                     ("ucb", {}), ("thompson", {})]:
        log = run_agent(make_agent(name, world, seed=0, **kw), world, 300, 25, seed=0)
        out[name] = hashlib.sha256(b"".join(s.tobytes() for s in log.slates)).hexdigest()[:16]
    return out


def main() -> None:
    for preset in sorted(PRESETS):
        for backend in envs.kernels.BACKENDS:
            print(f"world {preset}/{backend} {world_fingerprint(preset, backend)}")
    for name, digest in agent_fingerprints().items():
        print(f"agent {name} {digest}")


if __name__ == "__main__":
    main()
