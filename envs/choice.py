"""Choice models over a slate with a no-click option. Pure functions of arrays and a Generator."""

from __future__ import annotations

import numpy as np


def mnl_probabilities(utility: np.ndarray, no_click_utility: float, temperature: float = 1.0) -> np.ndarray:
    """Multinomial logit: P(i) ∝ exp(u_i / T), the no-click option has utility ``no_click_utility``.

    utility (B, S) → probabilities (B, S + 1); the last column is no click.
    """
    logits = np.empty((utility.shape[0], utility.shape[1] + 1), dtype=np.float64)
    logits[:, :-1] = utility
    logits[:, -1] = no_click_utility
    logits /= temperature
    logits -= logits.max(axis=1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=1, keepdims=True)
    return logits


def proportional_probabilities(score: np.ndarray, no_click_mass: float, min_normalizer: float) -> np.ndarray:
    """RecSim's multinomial proportional model: P(i) ∝ s_i - min_normalizer, no click ∝ mass - min.

    score (B, S) → probabilities (B, S + 1); the last column is no click.
    (recsim/choice_model.py, MultinomialProportionalChoiceModel.)
    """
    w = np.empty((score.shape[0], score.shape[1] + 1), dtype=np.float64)
    w[:, :-1] = score
    w[:, -1] = no_click_mass
    w -= min_normalizer
    np.maximum(w, 0.0, out=w)
    w /= w.sum(axis=1, keepdims=True)
    return w


def sample_choice(probabilities: np.ndarray, uniform: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling, one uniform per user. Returns (B,) positions, -1 = no click."""
    cdf = np.cumsum(probabilities, axis=1)
    cdf[:, -1] = np.inf  # guard against rounding: the last option always closes the CDF
    pick = (cdf <= uniform[:, None]).sum(axis=1)
    n = probabilities.shape[1] - 1
    return np.where(pick == n, -1, pick).astype(np.int64)
