"""The figures that shape exploration, computed the same way for real and simulated logs.

From a log frame (user, time, item, cluster, engagement) at a cluster level of M clusters:

- ``new_per_100``: distinct clusters a user engaged with positively, per 100 of their positive
  engagements (how fast people wander), mean over users;
- ``cond_entropy_bits``: entropy of the next novel cluster given the last two (bits; plug-in
  estimate from the transition counts of ``llm.data``): how predictable journeys are;
- ``bayes_top1``: the best top-1 hit rate any function of the last two clusters reaches on
  those transitions (in-sample, so an upper bound);
- ``gini``: Gini coefficient of positive engagements over clusters (0 = all equally popular);
- ``repeat_rate``: share of positive engagements in the same cluster as the user's previous one;
- ``interests_p10/p50/p90``: percentiles of the number of distinct clusters a user engaged with.

Real and simulated logs are compared at levels of similar size: MovieLens genres (~20
clusters) against the simulator's domains (22 clusters).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from experiments.reallogs import evaluation as ev

log = logging.getLogger("noveltygym")

FIGURES = ("new_per_100", "cond_entropy_bits", "bayes_top1", "gini", "repeat_rate", "interests_p10",
           "interests_p50", "interests_p90")
SIM_LEVEL = "domain"
"""The simulator's level compared with MovieLens genres (22 clusters against 19)."""
TOLERANCE = 0.15
"""A fitted figure counts as matching when within 15 % of the real one."""
SIM_USERS, SIM_STEPS = 1000, 400
"""Simulated logs: MovieLens users are followed for years (median 40 positive ratings), so
simulated users are logged for 400 requests each (users who leave are replaced)."""
MIN_USER_ROWS = 20
"""MovieLens selected users who rated at least 20 movies (its README); simulated users are kept
alike, those with at least 20 logged engagements, so a user who left early does not count as
one who wandered across every cluster he touched."""


def log_figures(logs: pd.DataFrame, n_clusters: int, context_length: int = 2) -> dict[str, float]:
    pos = logs[logs["engagement"] == 1].sort_values(["user", "time"], kind="stable")
    users = pos["user"].to_numpy()
    clusters = pos["cluster"].to_numpy().astype(np.int64)
    per_user = pd.DataFrame({"user": users, "cluster": clusters}).groupby("user")["cluster"]
    distinct, n_pos = per_user.nunique(), per_user.size()
    same_user = users[1:] == users[:-1]
    repeat = (clusters[1:] == clusters[:-1]) & same_user
    t = ev.user_examples(logs, context_length)
    counts = np.bincount(clusters, minlength=n_clusters).astype(np.float64)
    return {
        "new_per_100": float((100 * distinct / n_pos).mean()),
        "cond_entropy_bits": conditional_entropy(t.histories, t.targets, n_clusters),
        "bayes_top1": ev.bayes_top1(t.histories, t.targets, n_clusters),
        "gini": gini(counts),
        "repeat_rate": float(repeat.sum() / max(same_user.sum(), 1)),
        "interests_p10": float(np.percentile(distinct, 10)),
        "interests_p50": float(np.percentile(distinct, 50)),
        "interests_p90": float(np.percentile(distinct, 90)),
    }


def conditional_entropy(histories: np.ndarray, targets: np.ndarray, n_clusters: int) -> float:
    """H(next | history) in bits from counts: sum over histories of p(h) H(next | h)."""
    from llm.histories import history_index

    if not len(targets):
        return float("nan")
    pairs = pd.DataFrame({"h": history_index(histories, n_clusters), "t": targets}).value_counts()
    n_h = pairs.groupby(level=0).transform("sum")
    p = pairs / n_h
    return float(-(pairs / len(targets) * np.log2(p)).sum())


def gini(counts: np.ndarray) -> float:
    """Gini coefficient of non-negative ``counts`` (0 = equal, towards 1 = one holds all)."""
    x = np.sort(np.asarray(counts, dtype=np.float64))
    n = len(x)
    if n == 0 or x.sum() == 0:
        return 0.0
    return float((2 * np.arange(1, n + 1) - n - 1) @ x / (n * x.sum()))


def simulated_figures(preset: str = "default", seed: int = 0, **overrides: Any) -> tuple[dict[str, float], int]:
    """The figures of the simulator's organic logs at SIM_LEVEL (users with at least
    ``MIN_USER_ROWS`` engagements, as MovieLens selects), and its number of clusters."""
    from envs import make_world
    from envs.logs import organic_logs

    world = make_world(preset, seed=seed, cluster_level=SIM_LEVEL, **overrides)
    logs = organic_logs(world, SIM_USERS, SIM_STEPS, seed=seed)
    rows = logs.groupby("user")["user"].transform("size")
    return log_figures(logs[rows >= MIN_USER_ROWS], world.level.n_clusters), world.level.n_clusters


def real_figures(ml: Any, positive_rating: float) -> tuple[dict[str, float], int]:
    """The figures of MovieLens logs at the genre level, and its number of clusters."""
    from experiments.reallogs.clusters import genre_clusters

    genres = genre_clusters(ml)
    return log_figures(ml.to_logs(genres.item_cluster, positive_rating), genres.n_clusters), genres.n_clusters


def calibration_table(ml: Any, cfg: Any) -> dict[str, Any]:
    """Real (MovieLens genres) against the simulator's default and fitted ``movielens`` worlds
    (domains); the preset was fitted to the embedded ml-latest-small."""
    real, m_real = real_figures(ml, cfg.positive_rating)
    default, m_sim = simulated_figures("default", cfg.seed)
    fitted, _ = simulated_figures("movielens", cfg.seed)
    columns = {"real (MovieLens genres)": real, f"simulator default ({SIM_LEVEL}s)": default,
               f"simulator movielens ({SIM_LEVEL}s, fitted)": fitted}
    return {"figures": list(FIGURES), "columns": columns,
            "clusters": {"real": m_real, "simulator": m_sim}}


def within(fitted: dict[str, float], real: dict[str, float], figure: str) -> bool:
    """Whether ``fitted``'s figure lies within ``TOLERANCE`` of the real one."""
    return abs(fitted[figure] - real[figure]) <= TOLERANCE * abs(real[figure])


def comparison_table(real: dict[str, float], columns: dict[str, dict[str, float]], fitted: str) -> str:
    """Markdown: every figure real and in each simulated column, and whether the ``fitted``
    column's lies within ``TOLERANCE`` of the real one."""
    head = ["figure", "MovieLens (genres)", *columns, f"{fitted} within {TOLERANCE:.0%}"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for f in FIGURES:
        cells = [f, f"{real[f]:.3f}", *(f"{col[f]:.3f}" for col in columns.values()),
                 "yes" if within(columns[fitted], real, f) else "no"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m experiments.reallogs.calibration``: the README's calibration table (seed 0,
    the embedded ml-latest-small), about 10 s."""
    import argparse

    from experiments.reallogs.loader import POSITIVE_RATING, load_movielens

    parser = argparse.ArgumentParser(prog="python -m experiments.reallogs.calibration",
                                     description="MovieLens against the simulator's presets, figure by figure")
    parser.add_argument("--path", default=None, help="a MovieLens folder (default: the embedded ml-latest-small)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.getLogger("noveltygym").setLevel(logging.WARNING)
    real, _ = real_figures(load_movielens(args.path), POSITIVE_RATING)
    presets = {"classic": "classic", "movielens (fitted)": "movielens", "default (v3)": "default"}
    columns = {name: simulated_figures(preset, args.seed)[0] for name, preset in presets.items()}
    print(comparison_table(real, columns, "movielens (fitted)"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

