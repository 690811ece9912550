"""Issue 12, part 3: is the language model's world knowledge worth anything, and where?

    python -m experiments.knowledge_study --replicates 3 --out runs/knowledge
    python -m experiments.knowledge_study --out runs/knowledge-rich --set logs.n_users=20000

Runs the ``knowledge`` config (half of every topic's journeys follow the words of the
descriptions; the default model reads that half as world knowledge) at knowledge fidelity 1 and
0 (the same text naming random topics) in each of ``replicates`` replicates. A replicate has its
own corpus, logs, language model and probe users (world.seed, logs.seed, llm.seed and eval.seeds
all = the replicate), so the intervals cover all four sources of chance. Prints, from each run's
``journeys.json``, every selector's top-1 hit rate on fresh users' undiscovered interests, on
all histories and split by whether the history occurs in the logs, with 95 % t intervals over
replicates, beside chance, the Bayes ceiling and **the text alone** (a selector that proposes a
stated neighbour of one of the user's last clusters: what the knowledge is worth without logs),
and the paired difference language model - counts on unseen histories. Finished runs are kept
in ``--out`` and skipped when the study is run again.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from experiments.config import apply_overrides, config_from_dict, load_raw, set_path
from experiments.rundir import write_json, write_text
from experiments.stats import mean_ci95

CONFIG = "knowledge"
FIDELITY = "llm.settings.train.knowledge_fidelity"
FIDELITIES: tuple[float | None, ...] = (1.0, 0.0, None)  # None = no knowledge text at all
LM, COUNTS = "hierarchical-llm", "hierarchical-counts"
PARTS = ("all", "seen in the logs", "unseen")


def replicate_config(replicate: int, fidelity: float | None, overrides: list[str]) -> dict[str, Any]:
    """The ``knowledge`` config for one replicate and fidelity (``overrides`` applied last)."""
    raw = load_raw(CONFIG)
    for path, value in (("world.seed", replicate), ("logs.seed", 1000 + replicate), ("llm.seed", replicate),
                        ("eval.seeds", [replicate]), (FIDELITY, fidelity)):
        set_path(raw, path, value)
    if fidelity is None:  # no knowledge text: the field's default (TOML has no null to write it as)
        raw["llm"]["settings"]["train"].pop(FIDELITY.rsplit(".", 1)[1])
    raw.setdefault("report", {})["plots"] = False
    return apply_overrides(raw, overrides)


def run_one(raw: dict[str, Any], out: Path, cache: Path) -> dict[str, Any]:
    """The run's hit rates (journeys.json) plus the text alone's; run unless already finished."""
    from experiments.runner import run_experiment

    cfg = config_from_dict(raw)
    path = out / "journeys.json"
    if not path.exists():
        run_experiment(cfg, out=out, cache=cache, resume=out.exists(), progress=False)
    journeys = json.loads(path.read_text())
    if cfg.llm.settings["train"].get(FIDELITY.rsplit(".", 1)[1]) is not None:  # else there is no text
        journeys["text alone"] = text_alone_hit_rate(cfg)
        journeys["uptake"] = knowledge_uptake(cfg, json.loads((out / "llm.json").read_text())["model_dir"])
    return journeys


def text_alone_hit_rate(cfg: Any) -> float:
    """Top-1 hit rate of proposing a stated neighbour (``llm.knowledge.journey_pairs`` at the
    run's fidelity) of a random one of the user's last clusters, on the run's probe users."""
    from envs.ceiling import journey_probe
    from experiments.pipeline import JOURNEY_PROBE_USERS

    world = cfg.build_world()
    seed = cfg.eval.seeds[0]
    probe = journey_probe(world, JOURNEY_PROBE_USERS, cfg.agent.context_length, seed=seed)
    said = stated_neighbours(world, cfg)
    rng = np.random.default_rng(seed)
    h = probe.histories
    pick = h[np.arange(len(h)), rng.integers(0, h.shape[1], len(h))]
    column = rng.integers(0, said.shape[1], len(h))
    proposals = np.where(pick >= 0, said[np.maximum(pick, 0), column], -1)
    return probe.hit_rate(proposals)


def stated_neighbours(world: Any, cfg: Any) -> np.ndarray:
    """(M, k) the clusters the run's knowledge text says each cluster leads to (-1 = none)."""
    from llm.knowledge import cluster_pairs

    fidelity = cfg.llm.settings["train"][FIDELITY.rsplit(".", 1)[1]]
    pairs = cluster_pairs(world, fidelity, cfg.llm.seed)
    said = np.full((world.level.n_clusters, world.config.journeys_per_source), -1, dtype=np.int64)
    for source, target in pairs.tolist():
        row = said[source]
        row[np.argmax(row < 0)] = target
    return said


UPTAKE_HISTORIES = 400


def knowledge_uptake(cfg: Any, model_dir: str) -> float:
    """How much of the stated knowledge the trained model holds: the share of random histories
    whose best-scored novel answer is a stated neighbour of one of their clusters (chance: about
    2 k / M, 2 % at topic level)."""
    from llm.generation import ClusterLM

    world = cfg.build_world()
    said = stated_neighbours(world, cfg)
    lm = ClusterLM.load(model_dir, world.level)
    rng = np.random.default_rng(cfg.eval.seeds[0])
    histories = np.stack([rng.choice(lm.n_clusters, size=cfg.agent.context_length, replace=False)
                          for _ in range(UPTAKE_HISTORIES)])
    scores = lm.score(histories)
    scores[np.arange(len(histories))[:, None], histories] = -np.inf
    best = scores.argmax(axis=1)
    return float(np.mean([b in said[h].ravel() for b, h in zip(best, histories, strict=True)]))


def rates(journeys: dict[str, Any], name: str) -> dict[str, float]:
    """One selector's top-1 hit rate on all histories and by history part."""
    by = journeys.get("by_history", {})
    return {"all": journeys["selectors"][name], **{p: by[p][name] for p in PARTS[1:] if p in by}}


def summarize(results: dict[float | None, list[dict[str, Any]]]) -> dict[str, Any]:
    """Means and 95 % intervals over replicates, per fidelity and selector."""
    out: dict[str, Any] = {}
    for fidelity, runs in results.items():
        names = list(runs[0]["selectors"])
        cell: dict[str, Any] = {name: {part: mean_ci95([rates(r, name).get(part) for r in runs]) for part in PARTS}
                                for name in names}
        cell["text alone"] = {"all": mean_ci95([r.get("text alone") for r in runs])}
        cell["model holds the knowledge"] = {"all": mean_ci95([r.get("uptake") for r in runs])}
        cell["chance"] = {"all": mean_ci95([r["chance"] for r in runs])}
        cell["ceiling"] = {"all": mean_ci95([r["ceiling"] for r in runs])}
        cell["seen share"] = mean_ci95([r.get("seen_share") for r in runs])
        if LM in names and COUNTS in names:
            cell["lm - counts, unseen"] = mean_ci95([rates(r, LM)["unseen"] - rates(r, COUNTS)["unseen"] for r in runs])
        out["none" if fidelity is None else str(fidelity)] = cell
    return out


def _pct(stat: dict[str, Any] | None) -> str:
    if not stat or stat["mean"] is None:
        return ""
    if stat["ci95"] is None:
        return f"{100 * stat['mean']:.1f}"
    return f"{100 * stat['mean']:.1f} ± {100 * (stat['ci95'][1] - stat['mean']):.1f}"


def table(summary: dict[str, Any], replicates: int) -> str:
    """The study as a markdown table (percent, mean ± half the 95 % interval)."""
    lines = [f"| knowledge fidelity | selector | {' | '.join(PARTS)} |", "|---|---|---|---|---|"]
    for fidelity, cell in summary.items():
        for name, stats in cell.items():
            if name in ("seen share", "lm - counts, unseen") or all(not stats.get(p) or stats[p]["mean"] is None
                                                                     for p in PARTS):
                continue
            lines.append(f"| {fidelity} | {name} | " + " | ".join(_pct(stats.get(p)) for p in PARTS) + " |")
    notes = [f"{replicates} replicate(s); histories seen in the logs: "
             f"{_pct(next(iter(summary.values()))['seen share'])} %."]
    for fidelity, cell in summary.items():
        if "lm - counts, unseen" in cell:
            notes.append(f"Language model - counts on unseen histories, paired by replicate, fidelity {fidelity}: "
                         f"{_pct(cell['lm - counts, unseen'])} points.")
    return "\n".join(lines) + "\n\n" + "\n".join(notes)


def plot(summary: dict[str, Any], out: Path, title: str) -> Path:
    """Grouped bars: each selector at each fidelity, on seen and unseen histories (95 % error
    bars), beside the text alone, chance and the ceiling."""
    from experiments.plots import _save, plt

    first_fidelity = next(iter(summary))
    # The count selector reads no text: one bar, from the first fidelity's runs.
    bars = [("language model, " + ("no knowledge text" if fid == "none" else f"knowledge fidelity {fid}"),
             summary[fid][LM]) for fid in summary if LM in summary[fid]]
    if COUNTS in summary[first_fidelity]:
        bars.append(("counts", summary[first_fidelity][COUNTS]))
    parts = PARTS[1:]
    fig, ax = plt.subplots(figsize=(8, 4))
    width = 0.8 / len(bars)
    for i, (label, stats) in enumerate(bars):
        xs = np.arange(len(parts)) + (i - (len(bars) - 1) / 2) * width
        means = np.array([100 * (stats[p]["mean"] or 0.0) for p in parts])
        errs = np.array([100 * (stats[p]["ci95"][1] - stats[p]["mean"]) if stats[p]["ci95"] else 0.0 for p in parts])
        ax.bar(xs, means, width, yerr=errs, capsize=3, label=label)
    first = summary[first_fidelity]
    for key, style in (("ceiling", "k--"), ("text alone", "g-."), ("chance", "k:")):
        ax.axhline(100 * first[key]["all"]["mean"], color=style[0], ls=style[1:], lw=1,
                   label=f"{key} (fidelity {first_fidelity})" if key == "text alone" else key)
    ax.set_xticks(np.arange(len(parts)), [f"histories {p}" for p in parts])
    ax.set(ylabel="top-1 hit rate on fresh users (%)", title=title, ylim=(0, 150 * first["ceiling"]["all"]["mean"]))
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    return _save(fig, out)


def run_study(out: Path, replicates: int = 5, overrides: list[str] | None = None,
              fidelities: tuple[float | None, ...] = FIDELITIES) -> str:
    from tqdm.auto import tqdm

    out.mkdir(parents=True, exist_ok=True)
    results: dict[float | None, list[dict[str, Any]]] = {f: [] for f in fidelities}
    plan = [(r, f) for r in range(replicates) for f in fidelities]
    for r, f in tqdm(plan, desc="knowledge study", unit="run"):
        raw = replicate_config(r, f, list(overrides or []))
        name = "none" if f is None else f"{f:g}"
        results[f].append(run_one(raw, out / f"fidelity{name}-replicate{r}", out / "cache"))
    summary = summarize(results)
    text = table(summary, replicates)
    write_json(out / "knowledge_study.json", {"replicates": replicates, "overrides": overrides or [],
                                              "summary": summary})
    write_text(out / "knowledge_study.md", text + "\n")
    logs = config_from_dict(replicate_config(0, 1.0, list(overrides or []))).logs.n_users
    plot(summary, out / "knowledge_study.png",
         f"World knowledge, {logs:,} logged users ({replicates} replicates)")
    return text


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/knowledge"), help="folder of the runs and the table")
    parser.add_argument("--replicates", type=int, default=5)
    parser.add_argument("--fidelities", default="1,0,none",
                        help="knowledge fidelities to compare, 'none' = no knowledge text (default: 1,0,none)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                        help="override a field of the knowledge config (repeatable)")
    args = parser.parse_args(argv)
    if args.replicates < 1:
        parser.error(f"--replicates {args.replicates} must be at least 1")
    try:
        fidelities = tuple(None if f.strip() == "none" else float(f) for f in args.fidelities.split(","))
    except ValueError:
        parser.error(f"--fidelities {args.fidelities!r}: give numbers in [0, 1] or 'none', comma-separated")
    print(run_study(args.out, args.replicates, args.overrides, fidelities))


if __name__ == "__main__":
    main()
