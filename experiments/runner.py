"""``noveltygym run``: one config, every agent under every seed, into one run folder.

Run folder layout::

    config.toml          the resolved config (rerun with `noveltygym run DIR/config.toml`)
    environment.json     package versions, git commit, seeds, command
    run.log              the log of the run
    llm.json             language-model facts (training curve, timings, held-out metrics)
    journeys.json        every selector's hit rate on fresh users beside chance and the ceiling
    trials/              one result per (agent, seed), written atomically
    per_step.parquet     per-step means per agent and seed (novelty, enjoyment, entropy, ...)
    per_user.parquet     per-user summaries per agent and seed
    summary.json         {"agents": {NAME: {METRIC: {"mean": x, "ci95": [lo, hi]}}}}
    *.png, report.md, report.html
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import tomli_w
from tqdm.auto import tqdm

from experiments import pipeline
from experiments.config import RunConfig
from experiments.report import write_report
from experiments.rundir import default_out, environment_facts, prepare_run_dir, write_json, write_text

log = logging.getLogger("noveltygym")


def setup_logging(out: Path | None = None, verbose: bool = False) -> None:
    """Console (and run folder) logging for the noveltygym logger."""
    logger = logging.getLogger("noveltygym")
    logger.setLevel(logging.DEBUG if verbose else logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S")
    if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)
               for h in logger.handlers):
        console = logging.StreamHandler()
        console.setFormatter(fmt)
        logger.addHandler(console)
    if out is not None:
        for h in list(logger.handlers):
            if isinstance(h, logging.FileHandler):
                logger.removeHandler(h)
                h.close()
        fh = logging.FileHandler(out / "run.log", encoding="utf-8")
        fh.setFormatter(fmt)
        logger.addHandler(fh)
    logger.propagate = False


def run_experiment(
    cfg: RunConfig,
    out: str | Path | None = None,
    cache: str | Path | None = None,
    resume: bool = False,
    progress: bool = True,
) -> Path:
    """Run ``cfg`` into ``out`` (default runs/NAME-TIMESTAMP) and return the folder."""
    out_dir = prepare_run_dir(Path(out) if out else default_out(cfg.name), "run", cfg.fingerprint(), resume)
    setup_logging(out_dir)
    write_text(out_dir / "config.toml", tomli_w.dumps(cfg.to_dict()))
    write_json(out_dir / "environment.json", environment_facts(cfg.eval.seeds))
    t0 = time.perf_counter()
    world = cfg.build_world()
    source = f"recsim-ng {cfg.recsim_ng.story}" if cfg.recsim_ng else cfg.world.preset
    log.info("world %s: %d items, %d clusters at %r; %d agents x %d seeds, %d users x %d steps", source,
             world.corpus.n_items, world.level.n_clusters, world.level.name, len(cfg.agents), len(cfg.eval.seeds),
             cfg.eval.n_users, cfg.eval.n_steps)
    art = pipeline.prepare(world, cfg, Path(cache) if cache else out_dir / "cache", progress)
    if art.llm:
        write_json(out_dir / "llm.json", art.llm)
    journeys = pipeline.journey_hit_rates(world, cfg, art)
    if journeys is not None:
        write_json(out_dir / "journeys.json", journeys)
    trials = [(spec, seed) for spec in cfg.agents for seed in cfg.eval.seeds]
    bar = tqdm(trials, desc="evaluate", disable=not progress, unit="trial")
    for spec, seed in bar:
        done = out_dir / "trials" / f"{spec.display_name}__seed{seed}.json"
        if done.exists():
            continue
        bar.set_postfix_str(f"{spec.display_name} seed {seed}")
        result = pipeline.evaluate_one(world, cfg, spec, art, seed)
        pipeline.save_trial(out_dir, result)
        s = result.summary
        log.info("%-22s seed %d: novel/user %.3f, watch/user %.1f, positive %.3f (%.1fs)", spec.display_name, seed,
                 s["novel_clusters_per_user"], s["watch_time_per_user"], s["positive_rate"], result.seconds)
    write_report(out_dir, plots=cfg.report.plots, tensorboard=cfg.report.tensorboard)
    log.info("run finished in %.1fs: %s", time.perf_counter() - t0, out_dir / "report.md")
    return out_dir


def read_summary(out_dir: Path) -> dict:
    return json.loads((out_dir / "summary.json").read_text())
