"""`python -m envs`: a short simulation of the default world that prints its metrics.

Two logging policies on the same users: exploitation only (more of the recent clusters) and
organic browsing (half of each slate random), so the feedback loop shows in the numbers.
"""

from __future__ import annotations

import argparse

import envs
from envs.logs import organic_log
from envs.metrics import summarize


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m envs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="default", choices=sorted(envs.PRESETS))
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    world = envs.make_world(args.preset, seed=args.seed)
    print(f"world {args.preset!r}: {world.corpus.n_items} items, {world.level.n_clusters} clusters "
          f"at level {world.level.name!r}, slate {world.config.slate_size}; "
          f"{args.users} users x {args.steps} requests, seed {args.seed}")
    rows = {}
    for name, explore in (("exploit-only", 0.0), ("organic (50% random)", 0.5)):
        log = organic_log(world, args.users, args.steps, seed=args.seed, explore=explore)
        rows[name] = summarize(log, world.level.n_clusters, world.corpus.n_items, seed=args.seed)
    metrics = list(next(iter(rows.values())))
    width = max(len(m) for m in metrics)
    print(f"{'metric':<{width}} " + " ".join(f"{n:>22}" for n in rows))
    for m in metrics:
        print(f"{m:<{width}} " + " ".join(f"{rows[n][m]:>22.3f}" for n in rows))

if __name__ == "__main__":
    main()
