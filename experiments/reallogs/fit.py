"""Fit the simulator's ``movielens`` preset to MovieLens (rerun: ``python -m experiments.reallogs.fit``).

A seeded random search over the world knobs that shape how people wander between interests
(``KNOBS``), then a local search around the best (perturbations that shrink). Each candidate is
scored by the mean relative error of its organic logs' figures (``calibration.log_figures``,
simulator domains against MovieLens genres) against the real ones. It prints every figure real /
default / fitted with whether it is within ``calibration.TOLERANCE``, and the overrides to paste into
``envs.config.PRESETS["movielens"]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from experiments.reallogs.calibration import FIGURES, comparison_table, real_figures, simulated_figures
from experiments.reallogs.loader import POSITIVE_RATING, load_movielens

KNOBS: dict[str, tuple[str, float, float]] = {
    "n_active_anchors": ("int", 1, 8),  # interests a person starts with
    "affinity_width": ("float", 0.15, 0.6),  # how far from an interest an item still appeals
    "w_satiation": ("float", 0.0, 4.0),  # how much recent repeats of a cluster bore
    "satiation_decay": ("float", 0.3, 0.95),  # how long that boredom lasts
    "no_click_utility": ("float", 1.0, 5.0),  # how picky people are (fewer clicks when higher)
    "churn_rate": ("float", 0.0, 0.05),  # daily chance of leaving for good
    "return_bias": ("float", -2.0, 2.0),  # how readily people come back another day
    "interest_popularity_skew": ("float", 0.0, 2.0),  # how unequal domains are as interests
    "catalogue_skew": ("float", 0.0, 1.5),  # how unequal domains are in the catalogue
}


def distance(sim: dict[str, float], real: dict[str, float]) -> float:
    """Mean relative error over the figures."""
    return float(np.mean([abs(sim[f] - real[f]) / max(abs(real[f]), 1e-9) for f in FIGURES]))


def sample(rng: np.random.Generator) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, (kind, lo, hi) in KNOBS.items():
        out[name] = int(rng.integers(int(lo), int(hi) + 1)) if kind == "int" else round(float(rng.uniform(lo, hi)), 3)
    return out


def perturb(knobs: dict[str, Any], rng: np.random.Generator, scale: float) -> dict[str, Any]:
    """A neighbour of ``knobs``: each float moved by N(0, scale x its range), ints by -1, 0 or +1."""
    out: dict[str, Any] = {}
    for name, (kind, lo, hi) in KNOBS.items():
        if kind == "int":
            out[name] = int(np.clip(knobs[name] + rng.integers(-1, 2), lo, hi))
        else:
            out[name] = round(float(np.clip(knobs[name] + rng.normal(0, scale * (hi - lo)), lo, hi)), 3)
    return out


def fit(real: dict[str, float], trials: int = 80, refine: int = 60, seed: int = 0,
        progress: bool = True) -> tuple[dict, dict, float]:
    """The best knobs of ``trials`` seeded random candidates then ``refine`` perturbations of the
    best so far (the step shrinking from 25 % to 5 % of each range), its figures and distance."""
    rng = np.random.default_rng(seed)
    best: tuple[dict, dict, float] = ({}, {}, float("inf"))
    for i in tqdm(range(trials + refine), desc="fit", disable=not progress):
        knobs = sample(rng) if i < trials else perturb(best[0], rng, 0.25 - 0.2 * (i - trials) / max(refine, 1))
        figures, _ = simulated_figures("classic", seed, **knobs)
        d = distance(figures, real)
        if d < best[2]:
            best = (knobs, figures, d)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m experiments.reallogs.fit", description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=80, help="random candidates (default 80)")
    parser.add_argument("--refine", type=int, default=60, help="local-search steps after them (default 60)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--path", default=None, help="a MovieLens folder (default: the embedded ml-latest-small)")
    args = parser.parse_args(argv)
    real, _ = real_figures(load_movielens(args.path), POSITIVE_RATING)
    default, _ = simulated_figures("classic", args.seed)
    knobs, fitted, d = fit(real, args.trials, args.refine, args.seed)
    print(comparison_table(real, {"classic": default, "fitted": fitted}, "fitted"))
    print(f"\nmean relative error: default {distance(default, real):.3f}, fitted {d:.3f}")
    print("overrides:", json.dumps(knobs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
