"""The real-logs run's tables, plot and report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from experiments.plots import _save
from experiments.report import markdown_to_html
from experiments.rundir import write_text

PARTS = (("all", "all held-out histories"), ("seen", "seen in training"), ("unseen", "never seen in training"))


def _stat(s: dict | None, pct: bool = True) -> str:
    if not s or s.get("n", 0) == 0:
        return "-"
    f = 100.0 if pct else 1.0
    lo, hi = s["ci95"]
    return f"{f * s['mean']:.1f} [{f * lo:.1f}, {f * hi:.1f}]"


def evaluation_table(evaluation: dict[str, Any]) -> str:
    """Markdown: per method and part, top-1 / top-10 hit rate and exact match (%, 95 % CI)."""
    lines = ["| method | histories | top-1 hit % | top-10 hit % | exact match % |", "|---|---|---|---|---|"]
    ref = evaluation["reference"]
    label = {part: f"{words} (n={ref[part]['n_examples']:,})" for part, words in PARTS}
    for name, result in evaluation["methods"].items():
        for part, _ in PARTS:
            r = result[part]
            lines.append(f"| {name} | {label[part]} | {_stat(r['top1'])} | {_stat(r['top10'])} | "
                         f"{_stat(r.get('exact_match'))} |")
    for part, _ in PARTS:
        if ref[part]["n_examples"]:
            lines.append(f"| chance (uniform novel) | {label[part]} | {100 * ref[part]['chance_top1']:.1f} | | |")
            lines.append(f"| Bayes upper bound (in-sample) | {label[part]} | {100 * ref[part]['bayes_top1']:.1f} | | |")
    return "\n".join(lines)


def calibration_markdown(calibration: dict[str, Any]) -> str:
    columns = calibration["columns"]
    lines = ["| figure | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for fig in calibration["figures"]:
        lines.append(f"| {fig} | " + " | ".join(f"{col[fig]:.3f}" for col in columns.values()) + " |")
    return "\n".join(lines)


def hit_rate_plot(path: Path, evaluation: dict[str, Any]) -> Path:
    methods = list(evaluation["methods"])
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=False)
    width = 0.38
    for ax, metric, title in ((axes[0], "top1", "top-1 hit rate"), (axes[1], "top10", "top-10 hit rate")):
        for j, (part, words) in enumerate(PARTS[1:]):
            means: list[float] = []
            errs: list[list[float]] = [[], []]
            for name in methods:
                s = evaluation["methods"][name][part][metric]
                m = 100 * s["mean"] if s["n"] else 0.0
                means.append(m)
                errs[0].append(m - 100 * s["ci95"][0] if s["n"] else 0)
                errs[1].append(100 * s["ci95"][1] - m if s["n"] else 0)
            x = [i + (j - 0.5) * width for i in range(len(methods))]
            ax.bar(x, means, width, yerr=errs, capsize=3, label=words)
        if metric == "top1":  # the in-sample Bayes bound is in the table: near 100 % where histories are rare
            ax.axhline(100 * evaluation["reference"]["all"]["chance_top1"], color="grey", linewidth=1, label="chance")
        ax.set_xticks(range(len(methods)))
        ax.set_xticklabels(methods, rotation=25, ha="right", fontsize=8)
        ax.set_ylabel("%")
        ax.set_title(f"{title} on held-out users ({evaluation['level']}, {evaluation['n_clusters']} clusters)")
        ax.legend(fontsize=7)
    return _save(fig, path)


def write_real_report(out: Path, ml: Any, clusters: Any, evaluation: dict, calibration: dict, seconds: float) -> Path:
    plot = hit_rate_plot(out / "hit_rates.png", evaluation)
    ref = evaluation["reference"]
    lines = [
        f"# The language layer on real logs: {ml.name}, level {clusters.name!r}",
        "",
        f"{len(ml.ratings):,} ratings of {ml.n_items:,} movies by {ml.ratings['user'].nunique()} users; "
        f"{clusters.n_clusters} clusters. Users split {evaluation['n_train_users']} train / "
        f"{evaluation['n_test_users']} test (no user on both sides); {evaluation['n_train_transitions']:,} training "
        f"transitions, {evaluation['n_held_out_transitions']:,} held out, {ref['all']['n_examples']:,} evaluated "
        f"({ref['unseen']['n_examples']:,} of them on histories never seen in training). Hit rates in %, "
        "with 95 % intervals from a bootstrap over test users.",
        "",
        *(f"- loading: {note}" for note in ml.notes),
        "",
        evaluation_table(evaluation),
        "",
        f"![hit rates]({plot.name})",
        "",
        "## The simulator against these logs",
        "",
        calibration_markdown(calibration),
        "",
        f"Finished in {seconds:.0f} s.",
        "",
        "Data: MovieLens ml-latest-small by GroupLens (F. M. Harper and J. A. Konstan, 2015, ACM TiiS 5(4)), "
        "used under its licence (experiments/data/ml-latest-small/README.txt).",
    ]
    text = "\n".join(lines)
    write_text(out / "report.md", text)
    write_text(out / "report.html", markdown_to_html(text, out))
    return out / "report.md"
