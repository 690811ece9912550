"""Shared fixtures: a small synthetic level, logs that follow a known rule, a tiny trained model.

The rule is deterministic and depends on the last cluster only, so a model that learned it
answers histories it never saw (the first cluster of a test history is new in that pairing).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from llm.config import DataConfig, LLMConfig, ModelConfig, TrainConfig

COLORS = ["red", "blue", "green", "amber", "violet", "ochre"]
ANIMALS = ["fox", "owl", "lynx", "crab"]
# 24 descriptions; one of them a prefix of another in words ("red fox" / "red fox den") on purpose.
DESCRIPTIONS = [*[f"{c} {a}" for c in COLORS for a in ANIMALS][:23], "red fox den"]
M = len(DESCRIPTIONS)


def rule(last: np.ndarray) -> np.ndarray:
    """Next cluster of the synthetic world: a fixed permutation of the last cluster."""
    return (np.asarray(last) * 5 + 7) % M


def rule_logs(n_users: int = 4000, seed: int = 0) -> pd.DataFrame:
    """Each user: random c1, random c2 != c1, then rule(c2) (kept only when novel), plus noise rows."""
    rng = np.random.default_rng(seed)
    c1 = rng.integers(0, M, n_users)
    c2 = (c1 + rng.integers(1, M, n_users)) % M
    t = rule(c2)
    ok = (t != c1) & (t != c2)
    c1, c2, t = c1[ok], c2[ok], t[ok]
    n = len(t)
    return pd.DataFrame({
        "user": np.repeat(np.arange(n), 3),
        "time": np.tile(np.arange(3), n),
        "item": np.arange(3 * n),
        "cluster": np.stack([c1, c2, t], axis=1).ravel(),
        "engagement": 1,
    })


TINY = LLMConfig(
    model=ModelConfig(n_embd=48, n_layer=1, n_head=2, n_positions=32),
    data=DataConfig(cap_per_target=None, cap_per_history=None),
    train=TrainConfig(pretrain_steps=30, sft_steps=400, batch_size=64, lr=3e-3, warmup_steps=10,
                      eval_every=100, eval_histories=64, num_threads=1),
)


@pytest.fixture(autouse=True)
def _one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """A tiny default model fine-tuned on the rule (a few seconds on one core)."""
    from llm.pipeline import train_model

    torch.set_num_threads(1)
    out = tmp_path_factory.mktemp("model")
    return train_model(DESCRIPTIONS, rule_logs(), ["the red fox and the blue owl"], out, TINY, seed=0)


@pytest.fixture(scope="session")
def trained_lm(trained):
    from llm.generation import ClusterLM

    return ClusterLM.load(trained.model_dir, DESCRIPTIONS, num_threads=1)
