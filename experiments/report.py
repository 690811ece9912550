"""Aggregate a run folder's trial files into summary.json, tables, plots, report.md and
report.html. ``noveltygym report DIR`` calls the same function, so a report can always be
regenerated from the files alone."""

from __future__ import annotations

import base64
import html
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from envs.errors import DataError
from envs.typed import with_current_keys
from experiments.rundir import write_json, write_parquet, write_text
from experiments.stats import mean_ci95

HEADLINE = (
    "novel_clusters_per_user", "ueuc", "positive_rate", "completion_rate", "watch_time_per_user",
    "active_days_per_user", "entropy", "serendipity", "coverage", "homogenization",
    "explore_hit_rate", "explore_hit_chance",
)
# The short table of novelty and enjoyment that the command line, sweeps and the paper print.
TABLE_METRICS = (
    "novel_clusters_per_user", "watch_time_per_user", "positive_rate", "active_days_per_user", "entropy",
    "explore_hit_rate",
)


def read_trials(out: Path) -> tuple[list[dict], pd.DataFrame, pd.DataFrame]:
    trial_dir = out / "trials"
    files = sorted(trial_dir.glob("*.json")) if trial_dir.exists() else []
    if not files:
        raise DataError(f"{str(out)!r} holds no finished trials (trials/*.json); is it a run folder?")
    trials = [json.loads(f.read_text()) for f in files]
    steps = pd.concat([pd.read_parquet(f.with_suffix(".steps.parquet")) for f in files], ignore_index=True)
    users = pd.concat([pd.read_parquet(f.with_suffix(".users.parquet")) for f in files], ignore_index=True)
    return trials, steps, users


def aggregate(trials: list[dict], order: list[str] | None = None) -> dict[str, Any]:
    """{"agents": {NAME: {METRIC: {"mean", "ci95"}}}} over seeds, agents in config order."""
    by_agent: dict[str, list[dict]] = {}
    for t in trials:
        by_agent.setdefault(t["agent"], []).append(t)
    names = [n for n in (order or []) if n in by_agent] + sorted(set(by_agent) - set(order or []))
    out: dict[str, Any] = {"agents": {}}
    for name in names:
        runs = by_agent[name]
        metrics = sorted({k for r in runs for k in r["summary"]})
        out["agents"][name] = {m: mean_ci95([r["summary"].get(m) for r in runs]) for m in metrics}
        out["agents"][name]["seeds"] = sorted(r["seed"] for r in runs)  # type: ignore[assignment]
    return out


def fmt_stat(stat: dict | None) -> str:
    if not stat or stat.get("mean") is None:
        return "n/a"
    m = stat["mean"]
    text = f"{m:.3f}" if abs(m) < 100 else f"{m:.1f}"
    if stat.get("ci95"):
        lo, hi = stat["ci95"]
        text += f" ± {(hi - lo) / 2:.3g}"
    return text


def summary_table(summary: dict, metrics: tuple[str, ...] = HEADLINE) -> str:
    agents = summary["agents"]
    lines = ["| agent | " + " | ".join(metrics) + " |", "|---" * (len(metrics) + 1) + "|"]
    for name, stats in agents.items():
        lines.append(f"| {name} | " + " | ".join(fmt_stat(stats.get(m)) for m in metrics) + " |")
    return "\n".join(lines)


def write_report(out: Path, plots: bool = True, tensorboard: bool = False) -> Path:
    from experiments.plots import run_plots

    trials, steps, users = read_trials(out)
    order = _agent_order(out)
    summary = aggregate(trials, order)
    write_json(out / "summary.json", summary)
    write_parquet(out / "per_step.parquet", steps)
    write_parquet(out / "per_user.parquet", users)
    llm = json.loads((out / "llm.json").read_text()) if (out / "llm.json").exists() else {}
    figures = run_plots(out, steps, summary, llm.get("curve")) if plots else []
    if tensorboard:
        _tensorboard(out, steps)
    n_seeds = len({t["seed"] for t in trials})
    parts = [
        f"# noveltygym report: {out.name}",
        "",
        f"{len(summary['agents'])} agents, {n_seeds} seed(s) each. Means over seeds ± half the 95 % "
        "confidence interval (Student's t; none with one seed). Novelty: positive engagements with "
        "clusters the user never engaged before. Enjoyment: watch time, positive rate, active days.",
        "",
        summary_table(summary),
        "",
    ]
    if (out / "journeys.json").exists():
        journeys = json.loads((out / "journeys.json").read_text())
        parts += ["## Naming undiscovered interests", "", journeys_text(journeys), ""]
    if llm:
        parts += ["## Language model", "", _llm_text(llm), ""]
    for path, caption in figures:
        parts += [f"![{path.stem}]({path.name})", "", f"*{caption}*", ""]
    text = "\n".join(parts)
    write_text(out / "report.md", text)
    write_text(out / "report.html", markdown_to_html(text, out))
    return out / "report.md"


def _agent_order(out: Path) -> list[str]:
    cfg = out / "config.toml"
    if not cfg.exists():
        return []
    from experiments.config import config_from_dict, load_raw

    try:
        return [a.display_name for a in config_from_dict(load_raw(cfg)).agents]
    except Exception:
        return []


def _llm_text(llm: dict) -> str:
    rows = []
    if llm.get("curve"):
        last = llm["curve"][-1]
        rows.append(f"- free exact-match after {last[0]} fine-tuning steps: {last[1]:.3f}")
    if llm.get("hit_rate_curve"):
        best = dict(llm["hit_rate_curve"]).get(llm.get("best_step"), float("nan"))
        rows.append(f"- kept the weights of step {llm['best_step']} (early stopping on the held-out greedy hit "
                    f"rate, {best:.3f} there; measured at steps {[s for s, _ in llm['hit_rate_curve']]})")
    for key in ("pretrain_seconds", "sft_seconds", "table_seconds"):
        if llm.get(key) is not None:
            rows.append(f"- {key.replace('_', ' ')}: {llm[key]:.1f}")
    if llm.get("few_shot_exact_match") is not None:
        rows.append(f"- before fine-tuning, prompted with {llm.get('few_shot_k')} examples (the paper's few-shot "
                    f"baseline), held-out free exact match: {llm['few_shot_exact_match']:.3f}")
    test = llm.get("test_metrics") or {}
    for key, value in test.items():
        if isinstance(value, (int, float)):
            rows.append(f"- held-out {key.replace('_', ' ')}: {value:.3f}")
    if llm.get("table_rows"):
        lazy = " (computed lazily)" if llm.get("lazy_table") else ""
        rows.append(f"- transition table: {llm['table_rows']:,} histories{lazy}")
    return "\n".join(rows)


def journeys_text(journeys: dict[str, Any]) -> str:
    """Each selector's top-1 hit rate on fresh users beside chance and the ceiling
    (``experiments.pipeline.journey_hit_rates``), as a Markdown table with a preamble."""
    chance, ceiling = journeys["chance"], journeys["ceiling"]
    context = with_current_keys(dict(journeys))["context_length"]
    lines = [
        f"On {journeys['n_users']:,} fresh users, how often a selector's proposal (from the last "
        f"{context} clusters) names one of the user's undiscovered latent interests: "
        f"chance (a random novel cluster) {chance:.2%}; the Bayes ceiling {ceiling:.2%} (estimated by "
        f"leave-one-out counting; {journeys['ceiling_half_sample']:.2%} on half the users). The run's own "
        "rate, as users' histories and discoveries evolve, is `explore_hit_rate` beside `explore_hit_chance`.",
        "",
        "| selector | top-1 hit rate | x chance | share of ceiling |",
        "|---|---|---|---|",
    ]
    for name, rate in journeys["selectors"].items():
        lines.append(f"| {name} | {rate:.2%} | {rate / max(chance, 1e-12):.1f} | {rate / max(ceiling, 1e-12):.2f} |")
    parts = journeys.get("by_history")
    if parts:
        lines += ["", f"By whether the history occurs in the logged transitions ({journeys['seen_share']:.0%} do):", "",
                  "| selector | " + " | ".join(parts) + " |", "|---" * (len(parts) + 1) + "|"]
        for name in journeys["selectors"]:
            lines.append(f"| {name} | " + " | ".join(f"{parts[p].get(name, float('nan')):.2%}" for p in parts) + " |")
    return "\n".join(lines)


def _tensorboard(out: Path, steps: pd.DataFrame) -> None:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:  # tensorboard is optional
        from envs.errors import MissingExtraError

        raise MissingExtraError("tensorboard", "tensorboard", "report.tensorboard") from exc
    for (agent, seed), frame in steps.groupby(["agent", "seed"]):
        writer = SummaryWriter(str(out / "tensorboard" / f"{agent}-seed{seed}"))
        for _, row in frame.iterrows():
            for col in frame.columns:
                if col not in ("agent", "seed", "step"):
                    writer.add_scalar(col, float(row[col]), int(row["step"]))
        writer.close()


def markdown_to_html(text: str, base: Path) -> str:
    """The report's small Markdown subset (headings, tables, lists, images, emphasis) as a
    self-contained HTML page with the images embedded."""
    body: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("|"):
            table = []
            while i < len(lines) and lines[i].startswith("|"):
                table.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            head, rows = table[0], [r for r in table[1:] if not set("".join(r)) <= set("-: ")]
            body.append("<table><tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in head) + "</tr>")
            body += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows]
            body.append("</table>")
            continue
        m = re.match(r"^!\[(.*)\]\((.*)\)$", line)
        if m:
            img = base / m.group(2)
            src = m.group(2)
            if img.exists():
                src = "data:image/png;base64," + base64.b64encode(img.read_bytes()).decode()
            body.append(f'<p><img alt="{html.escape(m.group(1))}" src="{src}"></p>')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line.lstrip('#').strip())}</h{level}>")
        elif line.startswith("- "):
            body.append(f"<ul><li>{_inline(line[2:])}</li></ul>")
        elif line.strip():
            body.append(f"<p>{_inline(line)}</p>")
        i += 1
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}"
             "img{max-width:100%}")
    return f"<!doctype html><html><head><meta charset='utf-8'><style>{style}</style></head><body>" \
        + "\n".join(body) + "</body></html>\n"


def _inline(text: str) -> str:
    out = html.escape(text)
    out = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", out)
    return re.sub(r"\*(.+?)\*", r"<i>\1</i>", out)
