"""``noveltygym sweep``: a grid over any config fields times seeds.

Every trial is an ordinary run (its own folder under ``trials/``); when it finishes, its
summary is written atomically to ``results/TRIAL.json``. A sweep started again with
``--resume`` skips trials whose result exists and finishes the others, so nothing is lost or
repeated. Trials run in a local process pool (default) or as Ray tasks; both call
:func:`run_trial`. Logs, language models and tables are cached once per sweep and shared.
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import os
import re
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from envs.errors import ConfigError, MissingExtraError
from experiments.config import apply_overrides, config_from_dict, load_raw, parse_value, set_path
from experiments.rundir import default_out, prepare_run_dir, write_json, write_text
from experiments.stats import mean_ci95

log = logging.getLogger("noveltygym")
MANIFEST = "sweep.json"


@dataclass(frozen=True)
class Trial:
    trial_id: str
    cell: int
    params: dict[str, Any]
    seed: int
    raw: dict[str, Any]


def parse_grid(items: list[str]) -> dict[str, list[Any]]:
    """``["agent.explore_slots=1,2,3", "world.cluster_level=topic,subtopic"]`` → {field: values}."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--grid {item!r} must look like field.path=v1,v2,...")
        key, values = item.split("=", 1)
        parts = [v.strip() for v in _split_top_level(values) if v.strip()]
        if not parts:
            raise ConfigError(f"--grid {item!r} gives no values")
        grid[key.strip()] = [parse_value(v) for v in parts]
    return grid


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets/quotes, so list values like [1,2] stay whole."""
    out, depth, cur, quote = [], 0, "", None
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        cur += ch
    out.append(cur)
    return out


def plan(base: dict[str, Any], grid: dict[str, list[Any]], seeds: int) -> list[Trial]:
    """Every cell of the grid times every seed, each validated now (errors name the field)."""
    if seeds < 1:
        raise ConfigError(f"--seeds {seeds} must be at least 1")
    keys = list(grid)
    trials = []
    for cell, values in enumerate(itertools.product(*(grid[k] for k in keys))):
        params = dict(zip(keys, values, strict=True))
        for seed in range(seeds):
            raw = copy.deepcopy(base)
            for k, v in params.items():
                set_path(raw, k, v)
            set_path(raw, "eval.seeds", [seed])
            raw.setdefault("report", {})["plots"] = False
            config_from_dict(raw)  # validate
            trials.append(Trial(f"cell{cell:03d}-seed{seed}", cell, params, seed, raw))
    return trials


def run_trial(raw: dict[str, Any], trial_dir: str, cache: str, threads: int | None = None) -> dict[str, Any]:
    """One trial (in a worker process or a Ray task): an ordinary run, resumed if it was cut."""
    if threads is not None:
        os.environ["NOVELTYGYM_NUM_THREADS"] = str(threads)
        import torch

        torch.set_num_threads(threads)
    from experiments.runner import read_summary, run_experiment

    out = run_experiment(config_from_dict(raw), trial_dir, cache=cache, resume=True, progress=False)
    return read_summary(out)


def run_sweep(
    config: str | Path,
    grid_items: list[str],
    seeds: int = 3,
    overrides: list[str] | None = None,
    out: str | Path | None = None,
    workers: int = 2,
    backend: str = "local",
    resume: bool = False,
    progress: bool = True,
    ray_address: str | None = None,
    cache: str | Path | None = None,
) -> Path:
    """Run every trial of the grid (see the module docstring); ``cache`` is the folder of logs,
    models and tables the trials share (default: the sweep's own ``cache``)."""
    base = apply_overrides(load_raw(config), overrides or [])
    cfg = config_from_dict(base)
    grid = parse_grid(grid_items)
    trials = plan(base, grid, seeds)
    manifest = {"config": base, "grid": grid, "seeds": seeds}
    # A sweep folder only resumes the same config, grid and seeds; anything else is refused.
    out_dir = prepare_run_dir(Path(out) if out else default_out(f"sweep-{cfg.name}"), "sweep",
                              _stable_fingerprint(manifest), resume)
    write_json(out_dir / MANIFEST, manifest)
    results = out_dir / "results"
    todo = [t for t in trials if not (results / f"{t.trial_id}.json").exists()]
    log.info("sweep: %d trials (%d cells x %d seeds), %d to run, %d workers (%s)",
             len(trials), len(trials) // seeds, seeds, len(todo), workers, backend)
    cache = str(cache if cache is not None else out_dir / "cache")
    bar = tqdm(total=len(todo), desc="sweep", disable=not progress, unit="trial")

    def finished(trial: Trial, summary: dict[str, Any]) -> None:
        write_json(results / f"{trial.trial_id}.json",
                   {"trial": trial.trial_id, "cell": trial.cell, "params": trial.params, "seed": trial.seed,
                    "summary": summary})
        bar.update(1)

    threads = 1 if workers > 1 else None
    if backend == "ray":
        _run_ray(todo, out_dir, cache, workers, threads, finished, ray_address)
    elif workers <= 1:
        for t in todo:
            finished(t, run_trial(t.raw, str(out_dir / "trials" / t.trial_id), cache))
    else:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # no fork: torch and thread pools are not fork-safe
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(run_trial, t.raw, str(out_dir / "trials" / t.trial_id), cache, threads): t
                       for t in todo}
            for fut in as_completed(futures):
                finished(futures[fut], fut.result())
    bar.close()
    write_sweep_report(out_dir)
    return out_dir


def _stable_fingerprint(obj: Any) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _run_ray(todo: list[Trial], out_dir: Path, cache: str, workers: int, threads: int | None, finished: Any,
             address: str | None) -> None:
    try:
        import ray
    except ImportError as exc:
        raise MissingExtraError("ray", "ray", "the Ray sweep backend") from exc
    started = False
    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
        started = True
    try:
        remote = ray.remote(num_cpus=1)(run_trial)
        refs = {remote.remote(t.raw, str(out_dir / "trials" / t.trial_id), cache, threads): t for t in todo}
        pending = list(refs)
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                finished(refs[ref], ray.get(ref))
    finally:
        if started:
            ray.shutdown()


def is_sweep(folder: Path) -> bool:
    return (folder / MANIFEST).exists()


def trial_results(out_dir: Path) -> list[dict[str, Any]]:
    """The sweep's finished trials (``results/*.json``: trial, cell, params, seed, summary), in
    trial order."""
    return [json.loads(p.read_text()) for p in sorted((out_dir / "results").glob("*.json"))]


def write_sweep_report(out_dir: Path) -> Path:
    """Mean and 95 % CI per cell, agent and metric; curves when the grid has one field."""
    from experiments.plots import line_plot
    from experiments.report import TABLE_METRICS, fmt_stat, markdown_to_html

    manifest = json.loads((out_dir / MANIFEST).read_text())
    rows = trial_results(out_dir)
    if not rows:
        raise ConfigError(f"sweep {str(out_dir)!r} has no finished trials yet")
    cells: dict[int, dict[str, Any]] = {}
    for r in rows:
        cell = cells.setdefault(r["cell"], {"params": r["params"], "runs": []})
        cell["runs"].append(r)
    table = []
    for cell_id in sorted(cells):
        cell = cells[cell_id]
        agents: dict[str, dict[str, Any]] = {}
        for name in cell["runs"][0]["summary"]["agents"]:
            metrics = cell["runs"][0]["summary"]["agents"][name]
            agents[name] = {
                m: mean_ci95([run["summary"]["agents"][name][m]["mean"] for run in cell["runs"]])
                for m in metrics if m != "seeds"
            }
            agents[name]["seeds"] = sorted(run["seed"] for run in cell["runs"])  # type: ignore[assignment]
        table.append({"cell": cell_id, "params": cell["params"], "agents": agents})
    write_json(out_dir / "sweep_summary.json", {"grid": manifest["grid"], "cells": table})
    lines = [f"# noveltygym sweep: {out_dir.name}", "",
             f"Grid: {manifest['grid']}; {manifest['seeds']} seed(s) per cell; {len(rows)} trials finished. "
             "Means over seeds ± half the 95 % CI.", ""]
    metrics = TABLE_METRICS
    lines.append("| cell | agent | " + " | ".join(metrics) + " |")
    lines.append("|---" * (len(metrics) + 2) + "|")
    for cell in table:
        label = ", ".join(f"{k}={v}" for k, v in cell["params"].items())
        for name, stats in cell["agents"].items():
            lines.append(f"| {label} | {name} | " + " | ".join(fmt_stat(stats.get(m)) for m in metrics) + " |")
    lines.append("")
    grid = manifest["grid"]
    if len(grid) == 1 and len(table) > 1:
        field, values = next(iter(grid.items()))
        for metric in ("novel_clusters_per_user", "watch_time_per_user", "explore_hit_rate"):
            series: dict[str, tuple[list, list | None]] = {}
            for name in table[0]["agents"]:
                stats = [c["agents"][name][metric] for c in table]
                series[name] = ([s["mean"] for s in stats], [s["ci95"] for s in stats])
            png = line_plot(out_dir / f"sweep_{_slug(metric)}.png", values, series, field, metric,
                            f"{metric} against {field}")
            lines += [f"![{png.stem}]({png.name})", "", f"*{metric} for each value of {field} (95 % CI band).*", ""]
    text = "\n".join(lines)
    write_text(out_dir / "report.md", text)
    write_text(out_dir / "report.html", markdown_to_html(text, out_dir))
    return out_dir / "report.md"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")
