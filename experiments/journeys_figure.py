"""The README's figure of issue 12's control: a sweep over ``world.journey_predictability``.

    noveltygym sweep predictability --grid world.journey_predictability=0,0.25,0.5,0.75,1 --seeds 5 --out DIR
    python -m experiments.journeys_figure DIR --out experiments/figures/journey_predictability.png

Left: each selector's top-1 hit rate on fresh users (the run's ``journeys.json``, first seed)
beside chance and the Bayes ceiling. Right: each hierarchical agent's watch time per user
against ``hierarchical-random``'s, paired by seed, mean and 95 % t interval over seeds.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from envs.errors import DataError
from experiments.plots import _save, plt
from experiments.stats import mean_ci95
from experiments.sweep import trial_results

FIELD = "world.journey_predictability"
BASELINE = "hierarchical-random"


def load(sweep: Path) -> tuple[list[float], dict[float, list[dict[str, Any]]], dict[float, dict[str, Any]]]:
    """Grid values, per value the trials' summaries, and per value the first trial's journeys."""
    results = trial_results(sweep)
    if not results or FIELD not in results[0]["params"]:
        raise DataError(f"{str(sweep)!r} is not a finished sweep over {FIELD} (results/*.json)")
    summaries: dict[float, list[dict[str, Any]]] = {}
    journeys: dict[float, dict[str, Any]] = {}
    for r in results:
        value = float(r["params"][FIELD])
        summaries.setdefault(value, []).append(r["summary"]["agents"])
        path = sweep / "trials" / r["trial"] / "journeys.json"
        if value not in journeys and path.exists():
            journeys[value] = json.loads(path.read_text())
    return sorted(summaries), summaries, journeys


def plot(sweep: Path, out: Path) -> Path:
    values, summaries, journeys = load(sweep)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    xs = [v for v in values if v in journeys]
    left.plot(xs, [journeys[v]["ceiling"] * 100 for v in xs], "k--", label="Bayes ceiling")
    left.plot(xs, [journeys[v]["chance"] * 100 for v in xs], "k:", label="chance")
    for name in journeys[xs[0]]["selectors"]:
        left.plot(xs, [journeys[v]["selectors"][name] * 100 for v in xs], "o-", label=name)
    left.set(xlabel="journey_predictability", ylabel="top-1 hit rate on fresh users (%)",
             title="Naming an undiscovered interest")
    agents = [a for a in summaries[values[0]][0] if a.startswith("hierarchical-") and a != BASELINE]
    for name in agents:
        stats = []
        for v in values:
            gains = [100 * (s[name]["watch_time_per_user"]["mean"] / s[BASELINE]["watch_time_per_user"]["mean"] - 1)
                     for s in summaries[v]]
            stats.append(mean_ci95(gains))
        mean = np.array([s["mean"] for s in stats])
        lo = np.array([s["ci95"][0] if s["ci95"] else s["mean"] for s in stats])
        hi = np.array([s["ci95"][1] if s["ci95"] else s["mean"] for s in stats])
        (line,) = right.plot(values, mean, "o-", label=name)
        right.fill_between(values, lo, hi, color=line.get_color(), alpha=0.2)
    right.axhline(0, color="k", lw=0.8)
    right.set(xlabel="journey_predictability", ylabel=f"watch time vs {BASELINE} (%)",
              title="What finding them is worth (95 % CI over seeds)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return _save(fig, out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sweep", type=Path)
    parser.add_argument("--out", type=Path, default=Path("journey_predictability.png"))
    args = parser.parse_args(argv)
    print(plot(args.sweep, args.out))


if __name__ == "__main__":
    main()
