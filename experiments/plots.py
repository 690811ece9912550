"""Plots of a run (PNG, matplotlib's Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from envs.files import atomic_write


def _save(fig: Any, path: Path) -> Path:
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, dpi=110, format="png"))
    plt.close(fig)
    return path


def _over_time(ax: Any, steps: pd.DataFrame, column: str, smooth: int = 1) -> None:
    """Mean over seeds per agent, with the min-max band over seeds."""
    for agent, frame in steps.groupby("agent", sort=False):
        table = frame.pivot_table(index="step", columns="seed", values=column)
        if smooth > 1:
            table = table.rolling(smooth, min_periods=1).mean()
        mean = table.mean(axis=1)
        (line,) = ax.plot(mean.index, mean.values, label=str(agent), lw=1.6)
        if table.shape[1] > 1:
            ax.fill_between(mean.index, table.min(axis=1), table.max(axis=1), color=line.get_color(), alpha=0.15)
    ax.set_xlabel("request (step)")
    ax.grid(alpha=0.3)


def run_plots(out: Path, steps: pd.DataFrame, summary: dict, curve: list | None) -> list[tuple[Path, str]]:
    """All plots of a run, each with its caption."""
    made: list[tuple[Path, str]] = []
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    _over_time(axes[0], steps, "novel_cumulative")
    axes[0].set_ylabel("novel clusters per user slot (cumulative)")
    axes[0].set_title("Novelty over time")
    _over_time(axes[1], steps, "watch_time", smooth=5)
    axes[1].set_ylabel("watch time per active user per request (min)")
    axes[1].set_title("Enjoyment over time")
    axes[1].legend(fontsize=8, loc="best")
    made.append((_save(fig, out / "novelty_enjoyment_over_time.png"),
                 "Left: new interest clusters engaged positively, accumulated over requests, per user slot "
                 "(a slot serves a new user when one leaves). "
                 "Right: minutes watched per request (5-step moving average). Bands span the seeds."))
    if "interest_entropy" in steps:
        fig, ax = plt.subplots(figsize=(6, 4))
        _over_time(ax, steps, "interest_entropy")
        ax.set_ylabel("entropy of users' hidden interests (nats)")
        ax.set_title("Interest entropy over time")
        ax.legend(fontsize=8)
        made.append((_save(fig, out / "interest_entropy.png"),
                     "How spread users' true interests are. A falling line is the feedback loop narrowing them."))
    agents = summary.get("agents", {})
    if agents:
        fig, ax = plt.subplots(figsize=(6.5, 4.5))
        for name, metrics in agents.items():
            x, y = metrics["watch_time_per_user"], metrics["novel_clusters_per_user"]
            xerr = _err(x)
            yerr = _err(y)
            ax.errorbar(x["mean"], y["mean"], xerr=xerr, yerr=yerr, fmt="o", capsize=3, label=name)
            ax.annotate(name, (x["mean"], y["mean"]), fontsize=7, xytext=(4, 4), textcoords="offset points")
        ax.set_xlabel("enjoyment: watch time per user (min)")
        ax.set_ylabel("novelty: novel clusters per user")
        ax.set_title("Novelty and enjoyment (95 % CI over seeds)")
        ax.grid(alpha=0.3)
        made.append((_save(fig, out / "novelty_vs_enjoyment.png"),
                     "Each agent's novelty against its enjoyment; up and to the right is better on both."))
    if curve:
        made.append((exact_match_plot(out / "exact_match_vs_steps.png", {"fine-tuned": curve}),
                     "Free-generation exact-match rate on held-out histories during fine-tuning."))
    return made


def exact_match_plot(path: Path, curves: dict[str, list], reference: dict[str, float] | None = None) -> Path:
    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in curves.items():
        arr = np.asarray(curve, dtype=float)
        if arr.ndim == 2 and len(arr):
            ax.plot(arr[:, 0], arr[:, 1], marker="o", ms=3, label=name)
    for name, value in (reference or {}).items():
        ax.axhline(value, ls="--", lw=1, color="gray")
        ax.annotate(name, (0, value), fontsize=8, xytext=(2, 3), textcoords="offset points")
    ax.set_xlabel("fine-tuning step")
    ax.set_ylabel("free exact-match rate")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Generations that name a real cluster")
    return _save(fig, path)


def _err(stat: dict) -> Any:
    if not stat.get("ci95"):
        return None
    lo, hi = stat["ci95"]
    return [[stat["mean"] - lo], [hi - stat["mean"]]]


def line_plot(path: Path, x: list, series: dict[str, tuple[list, list | None]], xlabel: str, ylabel: str,
              title: str) -> Path:
    """Lines with optional (lo, hi) CI bands: series = {name: (means, [(lo, hi), ...] or None)}."""
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = np.arange(len(x))
    for name, (means, cis) in series.items():
        ys = np.asarray(means, dtype=float)
        (line,) = ax.plot(xs, ys, marker="o", label=name)
        if cis and all(c is not None for c in cis):
            lo, hi = np.asarray(cis, dtype=float).T
            ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.15)
    ax.set_xticks(xs, [str(v) for v in x])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return _save(fig, path)
