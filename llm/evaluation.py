"""Metrics of generated clusters, and evaluation of a model on held-out transitions.

Paper §4: free generation's exact-match rate (does the text name a real cluster?), the
novelty of the answers (not a cluster of the history), and how well they predict the held-out
next cluster (hit rate = recall@n with n samples), plus the diversity of what is recommended.
The few-shot baseline is the same evaluation with k solved examples prepended to every prompt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from llm.config import GenerationConfig
from llm.data import Transitions
from llm.generation import ClusterLM
from llm.histories import history_index

Shots = Sequence[tuple[Sequence[int], int]]


def novelty_rate(predictions: np.ndarray, histories: np.ndarray) -> float:
    """Share of valid predictions (N, n) that are not in their history (N, L); -1s are skipped."""
    valid = predictions >= 0
    if not valid.any():
        return 0.0
    in_history = (predictions[:, :, None] == histories[:, None, :]).any(axis=2)
    return float((~in_history & valid).sum() / valid.sum())


def hit_rate(predictions: np.ndarray, targets: np.ndarray) -> float:
    """Recall@n: share of examples whose target is among its n predictions (N, n)."""
    return float((predictions == targets[:, None]).any(axis=1).mean()) if len(targets) else 0.0


def diversity(predictions: np.ndarray, n_clusters: int) -> tuple[int, float]:
    """(distinct predicted clusters, entropy of the predictions / log M)."""
    valid = predictions[predictions >= 0]
    if not len(valid):
        return 0, 0.0
    p = np.bincount(valid, minlength=n_clusters) / len(valid)
    p = p[p > 0]
    return len(p), float(-(p * np.log(p)).sum() / np.log(n_clusters)) if n_clusters > 1 else 0.0


@dataclass(frozen=True)
class EvalReport:
    n_examples: int
    n_histories: int
    free_exact_match: float
    free_novelty: float
    free_hit_rate: float
    constrained_exact_match: float  # 1.0 by construction; measured, not assumed
    constrained_novelty: float
    constrained_hit_rate: float
    distinct_clusters: int  # among constrained answers
    prediction_entropy: float  # of constrained answers, / log M
    chance_hit_rate: float  # n / (M - L): a uniform random novel cluster

    def to_dict(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        return "\n".join(
            f"  {k:<26} {v:.4f}" if isinstance(v, float) else f"  {k:<26} {v}"
            for k, v in self.to_dict().items()
        )


def free_exact_match(
    lm: ClusterLM,
    histories: np.ndarray,
    config: GenerationConfig | float = 1.0,
    seed: int | tuple[int, ...] = 0,
    shots: Shots = (),
) -> float:
    """Exact-match rate of free generation on ``histories`` (the training curve's metric).

    ``config`` is a GenerationConfig, or just a temperature (pure sampling).
    """
    if not isinstance(config, GenerationConfig):
        config = GenerationConfig(temperature=float(config))
    return lm.free(histories, config, seed=seed, shots=shots).exact_match_rate


def greedy_hit_rate(lm: ClusterLM, data: Transitions, max_histories: int | None = None, seed: int = 0) -> float:
    """Recall@1 of the greedy constrained answer (never a history cluster) of each distinct
    history of ``data`` (at most ``max_histories`` of them, drawn seeded), scored per example
    against its logged target: the held-out hit rate early stopping selects on."""
    keys = history_index(data.histories, lm.n_clusters)
    unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    chosen = np.arange(len(unique))
    if max_histories is not None and len(unique) > max_histories:
        chosen = np.sort(np.random.default_rng(seed).choice(len(unique), max_histories, replace=False))
    answers = np.full(len(unique), -1, dtype=np.int64)
    answers[chosen] = lm.constrained(data.histories[first[chosen]], GenerationConfig(temperature=0.0))[:, 0]
    scored = np.isin(inverse, chosen)
    return float((answers[inverse[scored]] == data.targets[scored]).mean()) if scored.any() else 0.0


def evaluate(
    lm: ClusterLM,
    data: Transitions,
    config: GenerationConfig | None = None,
    seed: int = 0,
    shots: Shots = (),
    progress: bool = False,
) -> EvalReport:
    """Free and constrained generation on the distinct histories of ``data``, scored per example."""
    config = config or GenerationConfig()
    unique, inverse = np.unique(history_index(data.histories, lm.n_clusters), return_inverse=True)
    first = np.zeros(len(unique), dtype=np.int64)
    first[inverse[::-1]] = np.arange(len(inverse))[::-1]
    histories = data.histories[first]  # (H, L) one row per distinct history
    free = lm.free(histories, config, seed=seed, shots=shots, progress=progress)
    constrained = lm.constrained(histories, config, seed=seed, shots=shots, progress=progress)
    valid_free = np.where(free.exact, free.clusters, -1)
    distinct, entropy = diversity(constrained, lm.n_clusters)
    L = data.histories.shape[1]
    return EvalReport(
        n_examples=len(data),
        n_histories=len(histories),
        free_exact_match=free.exact_match_rate,
        free_novelty=novelty_rate(valid_free, histories),
        free_hit_rate=hit_rate(free.clusters[inverse], data.targets),
        constrained_exact_match=float((constrained >= 0).mean()),
        constrained_novelty=novelty_rate(constrained, histories),
        constrained_hit_rate=hit_rate(constrained[inverse], data.targets),
        distinct_clusters=distinct,
        prediction_entropy=entropy,
        chance_hit_rate=min(1.0, config.n_samples / max(1, lm.n_clusters - L)),
    )


def few_shot_examples(train: Transitions, k: int, seed: int = 0) -> list[tuple[list[int], int]]:
    """k solved examples drawn (seeded) from the training split, for the few-shot baseline."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(train), size=min(k, len(train)), replace=False)
    return [(train.histories[i].tolist(), int(train.targets[i])) for i in pick]
