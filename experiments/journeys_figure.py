"""The README's figure of issue 12's control: a sweep over ``world.journey_predictability``.

    noveltygym sweep predictability --grid world.journey_predictability=0,0.25,0.5,0.75,1 --seeds 5 --out DIR
    python -m experiments.journeys_figure DIR --out experiments/figures/journey_predictability.png
    python -m experiments.journeys_figure DIR --table     # the README's table, in markdown

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
EXPLOIT = "exploit"


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


def watch_gains(summaries: list[dict[str, Any]], agent: str, against: str) -> dict[str, Any]:
    """``agent``'s watch time per user against ``against``'s, in %, paired by seed: mean and 95 % CI."""
    def watch(s: dict[str, Any], name: str) -> float:
        return float(s[name]["watch_time_per_user"]["mean"])

    return mean_ci95([100 * (watch(s, agent) / watch(s, against) - 1) for s in summaries])


def _hierarchical(summaries: dict[float, list[dict[str, Any]]]) -> list[str]:
    first = next(iter(summaries.values()))[0]
    return [a for a in first if a.startswith("hierarchical-") and a != BASELINE]


def table(sweep: Path) -> str:
    """The README's table: per predictability, the ceiling and chance, each selector's top-1 hit
    rate (on histories unseen in the logs in brackets; first seed), and each hierarchical agent's
    watch time against ``hierarchical-random`` (and ``exploit``), mean [95 % CI] over seeds."""
    values, summaries, journeys = load(sweep)

    def ci(stat: dict[str, Any]) -> str:
        if stat["ci95"] is None:
            return f"{stat['mean']:+.1f}"
        return f"{stat['mean']:+.1f} [{stat['ci95'][0]:.1f}, {stat['ci95'][1]:.1f}]"

    def hit(v: float, name: str) -> str:
        j = journeys.get(v)
        if j is None or name not in j["selectors"]:
            return "n/a"
        unseen = j.get("by_history", {}).get("unseen", {}).get(name)
        rate = f"{100 * j['selectors'][name]:.1f}"
        return f"{rate} ({100 * unseen:.1f})" if unseen is not None else rate

    def row(label: str, cells: list[str]) -> str:
        return f"| {label} | " + " | ".join(cells) + " |"

    lines = [row("predictability", [f"{v:g}" for v in values]), "| --- " * (len(values) + 1) + "|",
             row("Bayes ceiling / chance, top-1 %",
                 [f"{100 * journeys[v]['ceiling']:.1f} / {100 * journeys[v]['chance']:.1f}" if v in journeys
                  else "n/a" for v in values])]
    selectors = next(iter(journeys.values()))["selectors"] if journeys else {}
    lines += [row(f"{name}, top-1 % (unseen histories)", [hit(v, name) for v in values]) for name in selectors]
    agents = _hierarchical(summaries)
    lines += [row(f"{name}, watch vs random, %", [ci(watch_gains(summaries[v], name, BASELINE)) for v in values])
              for name in agents]
    if EXPLOIT in summaries[values[0]][0]:
        lines += [row(f"{name}, watch vs `{EXPLOIT}`, %",
                      [ci(watch_gains(summaries[v], name, EXPLOIT)) for v in values]) for name in (*agents, BASELINE)]
    return "\n".join(lines)


def plot(sweep: Path, out: Path) -> Path:
    values, summaries, journeys = load(sweep)
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    xs = [v for v in values if v in journeys]
    # One colour per agent in both panels (the panels show different sets of agents).
    agents = _hierarchical(summaries)
    colour = {name: f"C{i}" for i, name in enumerate(dict.fromkeys([*journeys[xs[0]]["selectors"], *agents]))}
    left.plot(xs, [journeys[v]["ceiling"] * 100 for v in xs], "k--", label="Bayes ceiling")
    left.plot(xs, [journeys[v]["chance"] * 100 for v in xs], "k:", label="chance")
    for name in journeys[xs[0]]["selectors"]:
        left.plot(xs, [journeys[v]["selectors"][name] * 100 for v in xs], "o-", color=colour[name], label=name)
    left.set(xlabel="journey_predictability", ylabel="top-1 hit rate on fresh users (%)",
             title="Naming an undiscovered interest")
    for name in agents:
        stats = [watch_gains(summaries[v], name, BASELINE) for v in values]
        mean = np.array([s["mean"] for s in stats])
        lo = np.array([s["ci95"][0] if s["ci95"] else s["mean"] for s in stats])
        hi = np.array([s["ci95"][1] if s["ci95"] else s["mean"] for s in stats])
        right.plot(values, mean, "o-", color=colour[name], label=name)
        right.fill_between(values, lo, hi, color=colour[name], alpha=0.2)
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
    parser.add_argument("--table", action="store_true", help="print the README's table instead of drawing")
    args = parser.parse_args(argv)
    print(table(args.sweep) if args.table else plot(args.sweep, args.out))


if __name__ == "__main__":
    main()
