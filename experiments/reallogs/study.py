"""``noveltygym real movielens``: the language layer on real transitions, against counting
baselines, on held-out users; and the simulator's figures beside the real ones.

Run folder::

    config.json        what was run (data set, level, seeds, model settings)
    clusters.json      the level's descriptions and sizes
    model/             the fine-tuned default model (and model/pretrained, the few-shot baseline)
    evaluation.json    every method's hit rates with 95 % intervals, chance and the Bayes bound
    calibration.json   real vs simulated figures
    hit_rates.png      top-1 and top-10 hit rate by method, on seen and unseen histories
    report.md/.html    the tables, the plot, and what was dropped while loading
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from envs.errors import ConfigError
from envs.typed import check_fields
from experiments.reallogs import evaluation as ev
from experiments.reallogs.clusters import MovieClusters, movie_clusters
from experiments.reallogs.loader import POSITIVE_RATING, MovieLens, load_movielens
from experiments.rundir import default_out, prepare_run_dir, write_json

log = logging.getLogger("noveltygym")


SMOLLM2_MAX_CLUSTERS = 60
"""Above this many clusters SmolLM2 is not scored: every cluster's answer runs through a 135M
model per held-out history (50 s for 19 genres, hours for 951 combinations on 2 cores)."""


@dataclass
class RealConfig:
    """One ``noveltygym real movielens`` run."""

    path: str | None = None
    """A MovieLens folder (ml-latest(-small), ml-100k, ml-1m); None = the embedded ml-latest-small."""
    level: str = "combo"
    """'genre' (coarse), 'combo' (genre combinations, fine) or 'svd' (k-means on SVD embeddings)."""
    k: int = 30
    """Clusters of the 'svd' level."""
    positive_rating: float = POSITIVE_RATING
    context_length: int = 2
    seed: int = 0
    max_examples: int = 1500
    """Held-out transitions evaluated (a seeded sample when there are more): every method
    scores all clusters for each, which is what costs time for a language model."""
    few_shot: int = 5
    """Solved training examples in the few-shot prompts of the merely pretrained models."""
    smollm2: bool = True
    """Also evaluate SmolLM2-135M-Instruct few-shot when its extra is installed."""
    llm: dict[str, Any] = field(default_factory=lambda: {"train": {"sft_steps": 1500}})
    """Overrides of ``llm.config.LLMConfig`` by section for the default model."""

    def __post_init__(self) -> None:
        check_fields(self, "RealConfig")  # types first, then ranges
        for name in ("k", "context_length", "max_examples"):
            if getattr(self, name) < 1:
                raise ConfigError(f"RealConfig.{name}={getattr(self, name)!r} must be a positive integer")
        if self.few_shot < 0:
            raise ConfigError(f"RealConfig.few_shot={self.few_shot!r} must be an integer >= 0")


def real_config(raw: dict[str, Any], overrides: list[str] | None = None) -> RealConfig:
    """A checked RealConfig from ``raw`` fields and ``--set field=value`` overrides
    (e.g. ``max_examples=500``, ``llm.train.sft_steps=300``)."""
    from envs.typed import from_dict
    from experiments.config import parse_value, set_path

    raw = {**asdict(RealConfig()), **raw}
    for item in overrides or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r} must look like field=value, e.g. --set max_examples=500")
        set_path(raw, key.strip(), parse_value(value.strip()))
    llm = raw.pop("llm")
    cfg = from_dict(RealConfig, raw)
    cfg.llm = llm  # checked by LLMConfig.from_dict when the model is trained
    return cfg


def movie_texts(ml: MovieLens) -> list[str]:
    """Pretraining text for the default model: per movie, its genres and tags in words (what a
    language model could know about a movie besides the logs)."""
    from experiments.reallogs.clusters import words

    tags = ml.tags.groupby("item")["tag"].apply(lambda t: " ".join(words(x) for x in t))
    out = []
    for item, genres in zip(ml.movies["item"], ml.movies["genres"], strict=True):
        text = " ".join([*(words(g) for g in genres), tags.get(item, "")]).strip()
        if text:
            out.append(text)
    return out


def run_movielens(cfg: RealConfig, out: str | Path | None = None, progress: bool = True) -> Path:
    from experiments.pipeline import cache_key
    from experiments.runner import setup_logging

    out_dir = prepare_run_dir(Path(out) if out else default_out(f"real-movielens-{cfg.level}"), "real",
                              cache_key(asdict(cfg)))
    setup_logging(out_dir)
    write_json(out_dir / "config.json", asdict(cfg))
    t0 = time.perf_counter()
    ml = load_movielens(cfg.path)
    clusters = movie_clusters(ml, cfg.level, cfg.k, cfg.seed)
    logs = ml.to_logs(clusters.item_cluster, cfg.positive_rating)
    write_json(out_dir / "clusters.json", {"level": clusters.name, "descriptions": list(clusters.descriptions),
                                           "movies": np.bincount(clusters.item_cluster).tolist()})
    log.info("%s: %d ratings, %d users, %d movies; level %r: %d clusters", ml.name, len(logs), logs["user"].nunique(),
             ml.n_items, clusters.name, clusters.n_clusters)
    evaluation = evaluate_methods(ml, clusters, logs, cfg, out_dir / "model", progress)
    write_json(out_dir / "evaluation.json", evaluation)
    from experiments.reallogs.calibration import calibration_table

    calibration = calibration_table(ml, cfg)
    write_json(out_dir / "calibration.json", calibration)
    from experiments.reallogs.report import write_real_report

    write_real_report(out_dir, ml, clusters, evaluation, calibration, time.perf_counter() - t0)
    log.info("real logs study finished in %.1fs: %s", time.perf_counter() - t0, out_dir / "report.md")
    return out_dir


def evaluate_methods(ml: MovieLens, clusters: MovieClusters, logs: pd.DataFrame, cfg: RealConfig,
                     model_dir: Path, progress: bool) -> dict[str, Any]:
    """Train on the training users, evaluate every method on the test users' transitions."""
    from agents.selectors.markov import MarkovSelector
    from llm.config import LLMConfig

    m, L = clusters.n_clusters, cfg.context_length
    train_users, test_users = ev.split_users(logs["user"].to_numpy(), cfg.seed)
    train_logs = logs[logs["user"].isin(train_users)]
    train = ev.user_examples(train_logs, L)
    held_out = ev.user_examples(logs[logs["user"].isin(test_users)], L)
    n_held_out = len(held_out)
    if len(held_out) > cfg.max_examples:
        pick = np.sort(np.random.default_rng(cfg.seed).choice(len(held_out), cfg.max_examples, replace=False))
        held_out = held_out.subset(pick)
    seen = ev.seen_in(train, held_out, m)
    log.info("users: %d train, %d test; transitions: %d train, %d held out (%d evaluated, %.0f %% of their "
             "histories unseen in training)", len(train_users), len(test_users), len(train), n_held_out, len(held_out),
             100 * (1 - seen.mean()))

    rng = np.random.default_rng(cfg.seed)
    popularity = np.bincount(train.targets, minlength=m).astype(np.float64)
    markov = MarkovSelector(m, L).fit(train_logs)
    methods: dict[str, ev.Scorer] = {
        "random-novel": lambda h: rng.random((len(h), m)),
        "most-popular-novel": lambda h: np.broadcast_to(popularity, (len(h), m)),
        "markov (back-off)": markov.scores,
    }
    llm_cfg = LLMConfig.from_dict({"data": {"context_length": L}, **cfg.llm})
    lms = language_models(clusters, train_logs, train, ml, cfg, llm_cfg, model_dir, progress)
    exact = {}
    for name, (lm, shots) in lms.items():
        methods[name] = partial(_lm_scores, lm, shots, progress)
        exact[name] = exact_match(lm, shots, held_out, seen, llm_cfg.train.eval_generation, cfg.seed)

    results: dict[str, Any] = {}
    for name, scorer in methods.items():
        t = time.perf_counter()
        results[name] = ev.evaluate_scorer(scorer, held_out, m, seen, cfg.seed)
        if name in exact:
            for part in results[name]:
                results[name][part]["exact_match"] = exact[name][part]
        log.info("%-28s top-1 %.3f, top-10 %.3f (%.1fs)", name, results[name]["all"]["top1"]["mean"],
                 results[name]["all"]["top10"]["mean"], time.perf_counter() - t)
    reference = {part: {"chance_top1": ev.chance_top1(held_out.histories[mask], m),
                        "bayes_top1": ev.bayes_top1(held_out.histories[mask], held_out.targets[mask], m),
                        "n_examples": int(mask.sum()), "n_users": len(np.unique(held_out.users[mask]))}
                 for part, mask in ev.parts(seen).items()}
    return {"level": clusters.name, "n_clusters": m, "context_length": L, "methods": results,
            "reference": reference, "n_train_users": len(train_users), "n_test_users": len(test_users),
            "n_train_transitions": len(train), "n_held_out_transitions": n_held_out,
            "sft_users_overlap_test": int(np.isin(train_users, test_users).sum())}


def language_models(clusters: MovieClusters, train_logs: pd.DataFrame, train: ev.Examples, ml: MovieLens,
                    cfg: RealConfig, llm_cfg: Any, model_dir: Path, progress: bool) -> dict[str, tuple[Any, list]]:
    """The default model fine-tuned on the training users; the same model merely pretrained,
    and SmolLM2 (when installed), both prompted with ``cfg.few_shot`` training examples."""
    from llm.data import Transitions
    from llm.errors import MissingExtraError, ModelNotFoundError
    from llm.evaluation import few_shot_examples
    from llm.generation import ClusterLM
    from llm.pipeline import PRETRAINED_DIR, few_shot_fit, train_model

    result = train_model(clusters.descriptions, train_logs, movie_texts(ml), model_dir, llm_cfg, cfg.seed,
                         progress=progress, keep_pretrained=True)
    log.info("default model: pretrained %.0fs, fine-tuned %.0fs", result.pretrain_seconds, result.sft_seconds)
    pool = Transitions(train.histories, train.targets)
    fine_tuned = ClusterLM.load(model_dir, clusters.descriptions)
    out: dict[str, tuple[Any, list]] = {"default model, fine-tuned": (fine_tuned, [])}
    pretrained = ClusterLM.load(model_dir / PRETRAINED_DIR, clusters.descriptions)
    k = few_shot_fit(pretrained, cfg.few_shot, cfg.context_length)
    out[f"default model, pretrained, {k}-shot"] = (pretrained, few_shot_examples(pool, k, cfg.seed))
    if cfg.smollm2 and clusters.n_clusters > SMOLLM2_MAX_CLUSTERS:
        log.info("SmolLM2 few-shot not evaluated at %d clusters: scoring every cluster with a 135M model takes "
                 "hours on a CPU; use --level genre (or svd with --k <= %d)", clusters.n_clusters, SMOLLM2_MAX_CLUSTERS)
    elif cfg.smollm2:
        try:
            smol = ClusterLM.load("smollm2", clusters.descriptions)
        except (MissingExtraError, ModelNotFoundError) as exc:  # the extra is optional: say why it is absent
            log.info("SmolLM2 few-shot not evaluated: %s", exc)
        else:
            out[f"SmolLM2-135M, {cfg.few_shot}-shot"] = (smol, few_shot_examples(pool, cfg.few_shot, cfg.seed))
    return out


def _lm_scores(lm: Any, shots: list, progress: bool, histories: np.ndarray) -> np.ndarray:
    return lm.score(histories, shots=shots, progress=progress)


def exact_match(lm: Any, shots: list, held_out: ev.Examples, seen: np.ndarray, generation: Any,
                seed: int) -> dict[str, Any]:
    """Free generation on each held-out history (the language layer's held-out settings,
    ``TrainConfig.eval_generation``: T = 1, top-p 0.95 by default): does it name a real cluster?"""
    uniq, inverse = np.unique(held_out.histories, axis=0, return_inverse=True)
    free = lm.free(uniq, generation, seed=seed, shots=shots)
    hit = free.exact[:, 0][inverse.ravel()].astype(np.float64)
    return {part: ev.bootstrap(hit[mask], held_out.users[mask], seed) for part, mask in ev.parts(seen).items()}
