"""``noveltygym paper``: the paper's claims, each with 95 % CIs over seeds, in one report.

Studies (Wang et al., RecSys 2024):
  1. exact match of fine-tuned vs few-shot generation over training steps; constrained = 100 %
  2. the LLM-hierarchical agent against exploitation only (novelty up, enjoyment not down)
  3. cluster granularity            (world.cluster_level)
  4. history length L               (agent.context_length)
  5. balanced vs unbalanced data    (llm.balance)
  6. exploration share              (agent.explore_slots)
Studies 2-6 are sweeps of ``configs/paper.toml``; every table lists all baselines.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from envs.errors import ConfigError
from experiments.config import load_raw
from experiments.report import TABLE_METRICS, fmt_stat, markdown_to_html
from experiments.rundir import default_out, write_json, write_text
from experiments.stats import mean_ci95
from experiments.sweep import run_sweep, trial_results

STUDIES: list[tuple[str, str, list[str]]] = [
    ("exact_match", "Language models trained with different seeds", ["llm.seed=0,1,2,3,4"]),
    ("llm_vs_exploit", "LLM-hierarchical agent against exploitation only", []),
    ("granularity", "Cluster granularity", ["world.cluster_level=domain,topic,subtopic"]),
    ("context_length", "History length L", ["agent.context_length=1,2,3"]),
    ("balance", "Balanced vs unbalanced fine-tuning data", ["llm.balance=true,false"]),
    ("exploration_share", "Exploration share (slots per slate)", ["agent.explore_slots=1,2,3,5"]),
]
# Studies whose cells fine-tune on different data; their sections say how many examples each
# model saw (at L = 1 the per-history cap binds hard; the balance caps may not bind at all).
DATA_STUDIES = ("context_length", "balance")
QUICK = [
    "eval.n_users=300", "eval.n_steps=40", "logs.n_users=1000", "logs.n_steps=40",
    "llm.settings.train.sft_steps=300", "llm.settings.train.pretrain_steps=100",
]


STUDY_KEYS = tuple(key for key, _, _ in STUDIES)


def chosen_studies(names: list[str] | None, quick: bool) -> list[tuple[str, str, list[str]]]:
    """The studies to run, in the report's order: ``names`` (keys of ``STUDIES``) or all of them.
    Quick mode skips the slow 1,100-cluster level."""
    unknown = sorted(set(names or []) - set(STUDY_KEYS))
    if unknown:
        raise ConfigError(f"unknown paper studies {unknown}; choose among {', '.join(STUDY_KEYS)}")
    return [s for s in STUDIES if (names is None or s[0] in names) and not (quick and s[0] == "granularity")]


def run_paper(out: Path | None = None, quick: bool = False, workers: int = 2, resume: bool = False,
              overrides: list[str] | None = None, progress: bool = True, studies: list[str] | None = None) -> Path:
    """Run the paper's studies (all, or the keys in ``studies``) into ``out`` and write its report,
    which covers every study finished in ``out``, this call's or an earlier one's."""
    chosen = chosen_studies(studies, quick)
    root = Path(out) if out else default_out("paper")
    root.mkdir(parents=True, exist_ok=True)
    seeds = 2 if quick else 5
    extra = (QUICK if quick else []) + list(overrides or [])
    sweeps = {}
    for key, _, grid in chosen:
        if key == "exact_match":
            grid = ["llm.seed=0,1"] if quick else grid
            args = (grid, 1, [*extra, "eval.n_users=200", "eval.n_steps=10"])
        else:
            args = (grid, seeds, extra)
        # One cache for all studies: a model whose config two studies share (study 2's is every
        # study's base cell) is trained once, not once per study.
        sweeps[key] = run_sweep("paper", *args, out=root / key, workers=workers, backend="local",
                                resume=resume or (root / key).exists(), progress=progress, cache=root / "cache")
    for key in STUDY_KEYS:  # studies an earlier call finished here stay in the report
        if key not in sweeps and (root / key / "sweep_summary.json").exists():
            sweeps[key] = root / key
    return write_paper_report(root, sweeps, quick)


def _cells(sweep: Path) -> list[dict[str, Any]]:
    return json.loads((sweep / "sweep_summary.json").read_text())["cells"]


def _label(cell: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in cell["params"].items()) or "base"


def _hit_rate_lines(sweep: Path, cells: list[dict[str, Any]]) -> list[str]:
    """Each cell's top-1 hit rates on fresh users' undiscovered interests (the trials'
    ``journeys.json``) beside chance and the Bayes ceiling, so every claim has its scale.

    A cell's seeds share its language model and world; they differ in the fresh users drawn, so
    the interval is the probe's sampling noise, not the model's."""
    by_cell: dict[int, list[dict[str, Any]]] = {}
    for r in trial_results(sweep):
        path = sweep / "trials" / r["trial"] / "journeys.json"
        if path.exists():
            by_cell.setdefault(r["cell"], []).append(json.loads(path.read_text()))
    if not by_cell:
        return []
    selectors = list(next(iter(by_cell.values()))[0]["selectors"])
    lines = ["", "Top-1 hit rate on fresh users' undiscovered latent interests, % (in brackets: on "
             "histories unseen in the logs), beside chance and the Bayes ceiling:", "",
             "| setting | chance | Bayes ceiling | " + " | ".join(selectors) + " |",
             "|---" * (len(selectors) + 3) + "|"]

    def pct(values: list[float]) -> str:
        return fmt_stat(mean_ci95([100 * v for v in values]))

    for cell in cells:
        runs = by_cell.get(cell["cell"])
        if not runs:
            continue
        row = [pct([j["chance"] for j in runs]), pct([j["ceiling"] for j in runs])]
        for name in selectors:
            rate = pct([j["selectors"][name] for j in runs if name in j["selectors"]])
            unseen = [j["by_history"]["unseen"][name] for j in runs
                      if name in j.get("by_history", {}).get("unseen", {})]
            row.append(f"{rate} ({pct(unseen)})" if unseen else rate)
        lines.append(f"| {_label(cell)} | " + " | ".join(row) + " |")
    return lines


def _fine_tuning_data_lines(sweep: Path, cells: list[dict[str, Any]]) -> list[str]:
    """How many examples each cell's model was fine-tuned on, before and after the balancing caps
    (``llm.data.balance``), read from the data saved beside each cell's model; and, when the caps
    removed nothing anywhere, that balancing changed nothing on these logs."""
    from llm.data import SFTData
    from llm.pipeline import SFT_DATA_FILE

    data: dict[int, SFTData] = {}
    for r in trial_results(sweep):
        path = sweep / "trials" / r["trial"] / "llm.json"
        if r["cell"] in data or not path.exists():
            continue
        model_dir = json.loads(path.read_text()).get("model_dir")
        if model_dir and (Path(model_dir) / SFT_DATA_FILE).exists():
            data[r["cell"]] = SFTData.load(Path(model_dir) / SFT_DATA_FILE)
    if not data:
        return []
    lines = ["", "Fine-tuning examples (novel transitions before the balancing caps, after them; the most "
             "frequent target's share after):", ""]
    for cell in cells:
        if cell["cell"] in data:
            d = data[cell["cell"]]
            lines.append(f"- {_label(cell)}: {d.before.n_examples:,} before, {d.after.n_examples:,} after; "
                         f"top target {d.after.top_target_share:.1%}")
    if all(d.before.n_examples == d.after.n_examples for d in data.values()):
        lines += ["", "The balancing caps removed no example in any cell: on these logs balanced and unbalanced "
                  "data are the same (their targets are spread nearly evenly), so balancing's effect cannot "
                  "show. Lower `llm.settings.data.cap_per_target` / `cap_per_history` to make the caps bind."]
    return lines


def _claim_novelty_and_enjoyment(cell: dict[str, Any]) -> str:
    """Does the LLM agent beat exploitation on novelty without losing enjoyment (by 95 % CIs)?"""
    agents = cell["agents"]
    if "hierarchical-llm" not in agents or "exploit" not in agents:
        return "not measured"
    llm, base = agents["hierarchical-llm"], agents["exploit"]

    def above(a: dict, b: dict) -> bool:
        return a["ci95"] is not None and b["ci95"] is not None and a["ci95"][0] > b["ci95"][1]

    novelty_up = above(llm["novel_clusters_per_user"], base["novel_clusters_per_user"])
    enjoy_down = above(base["watch_time_per_user"], llm["watch_time_per_user"])
    if novelty_up and not enjoy_down:
        return "agrees with the paper: novelty up, enjoyment not down (95 % CIs)"
    if novelty_up:
        return "disagrees with the paper: novelty up but enjoyment down"
    return "disagrees with the paper: novelty not significantly up"


def write_paper_report(root: Path, sweeps: dict[str, Path], quick: bool) -> Path:
    base = load_raw("paper")
    lines = ["# The paper's claims in the simulator", "",
             "Wang et al., \"LLMs for User Interest Exploration in Large-scale Recommendation Systems\", "
             f"RecSys 2024. Base config: experiments/configs/paper.toml ({'quick mode' if quick else 'full'}). "
             "Means over seeds ± half the 95 % CI.", ""]
    missing = [title for key, title, _ in STUDIES if key not in sweeps]
    if missing:
        lines += ["Not run here (`noveltygym paper --studies`): " + "; ".join(missing) + ".", ""]
    if "exact_match" in sweeps:
        lines += _exact_match_section(root, sweeps["exact_match"])
    metrics = (*TABLE_METRICS, "ueuc")
    for key, title, _ in STUDIES:
        if key not in sweeps or key == "exact_match":
            continue
        lines += [f"## {title}", ""]
        cells = _cells(sweeps[key])
        lines.append("| setting | agent | " + " | ".join(metrics) + " |")
        lines.append("|---" * (len(metrics) + 2) + "|")
        for cell in cells:
            for name, stats in cell["agents"].items():
                values = " | ".join(fmt_stat(stats.get(m)) for m in metrics)
                lines.append(f"| {_label(cell)} | {name} | {values} |")
        lines.append("")
        for cell in cells:
            lines.append(f"- {_label(cell)}: {_claim_novelty_and_enjoyment(cell)}")
        lines += _hit_rate_lines(sweeps[key], cells)
        if key in DATA_STUDIES:
            lines += _fine_tuning_data_lines(sweeps[key], cells)
        pngs = sorted(sweeps[key].glob("sweep_*.png"))
        for png in pngs:
            rel = png.relative_to(root)
            lines += ["", f"![{png.stem}]({rel})"]
        lines.append("")
    text = "\n".join(lines)
    write_json(root / "paper_summary.json", {k: _cells(v) for k, v in sweeps.items()} | {"base": base})
    write_text(root / "report.md", text)
    write_text(root / "report.html", markdown_to_html(text, root))
    return root / "report.md"


def _exact_match_section(root: Path, sweep: Path) -> list[str]:
    """Study 1 from the language models the sweep trained (one per seed of the cache)."""
    from experiments.plots import exact_match_plot

    infos = [json.loads(p.read_text()) for p in sorted(sweep.glob("trials/*/llm.json"))]
    curves = [i["curve"] for i in infos if i.get("curve")]
    lines = ["## Exact match: fine-tuned vs few-shot, and constrained decoding", ""]
    if not curves:
        return [*lines, "No language model was trained in this study.", ""]
    final = mean_ci95([c[-1][1] for c in curves])
    tests = [i.get("test_metrics") or {} for i in infos]
    few = mean_ci95([i["few_shot_exact_match"] for i in infos if i.get("few_shot_exact_match") is not None])
    constrained = mean_ci95([t.get("constrained_exact_match") for t in tests
                             if t.get("constrained_exact_match") is not None])
    png = exact_match_plot(root / "exact_match.png", {f"run {i}": c for i, c in enumerate(curves)},
                           {"few-shot": float(few["mean"])} if few["mean"] is not None else None)
    lines += [
        f"- fine-tuned free exact match at the end of training: {fmt_stat(final)}",
        f"- few-shot (pretrained only) free exact match: {fmt_stat(few)}",
        f"- constrained decoding exact match: {fmt_stat(constrained)}",
        "",
        f"![exact match]({png.name})",
        "",
    ]
    return lines
