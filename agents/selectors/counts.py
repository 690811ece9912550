"""Counts of "after cluster x, users went on to c", summed over the user's last L clusters: the
simplest learned selector that an LLM selector must beat (issue 12's baseline).

Fitted on the same kind of logged transitions as the language layer (``llm.data.extract_transitions``
at L = 1: positive engagements, consecutive repeats dropped, target new to the history), by
default only those whose target the user engaged with for the first time and then came back to
at least twice (``first_time_only``, ``min_returns``): interests that stuck, where most other
transitions are clicks on whatever a slate showed. On the default world this doubles the
selector's hit rate at power 1 (README "The world"). The score of cluster c for a history (x_1..x_L) is
sum_j count(x_j -> c), so a history never logged as a whole still gets the evidence of each of
its clusters (where the Markov selector backs off to its last cluster alone). Proposals are
drawn outside the user's window with probability ∝ score ** ``power``: a high power
concentrates on the most likely journeys, while a user shown the same slate again still gets
a different cluster now and then. Rows without evidence get a uniformly random novel cluster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agents import compiled
from agents.base import Trainable
from agents.errors import ConfigError, DataError
from agents.persistence import load_arrays, save_arrays
from agents.selectors.base import OptionSelector
from agents.selectors.random_novel import uniform_outside

MAX_DENSE_CLUSTERS = 8192  # the count matrix is dense float32 (M x M): 256 MiB at this size


class CountsSelector(OptionSelector, Trainable):
    name = "counts"

    def __init__(self, n_clusters: int, context_length: int = 2, power: float = 3.0,
                 first_time_only: bool = True, min_returns: int = 2) -> None:
        super().__init__(n_clusters)
        if isinstance(context_length, bool) or not isinstance(context_length, int) or context_length < 1:
            raise ConfigError(f"CountsSelector context_length={context_length!r} must be a positive integer")
        if isinstance(power, bool) or not isinstance(power, (int, float)) or not 0 <= power <= 20:
            raise ConfigError(f"CountsSelector power={power!r} must be a number in [0, 20] (0 = uniform over seen)")
        if n_clusters > MAX_DENSE_CLUSTERS:
            raise ConfigError(
                f"CountsSelector keeps a dense {n_clusters} x {n_clusters} count matrix; use at most "
                f"{MAX_DENSE_CLUSTERS} clusters, or the Markov selector (sparse tables)"
            )
        self.context_length = context_length
        self.power = float(power)
        self.first_time_only = first_time_only
        self.min_returns = min_returns
        self.counts = np.zeros((n_clusters, n_clusters), dtype=np.float32)  # [from, to]

    def fit(self, logs: Any) -> CountsSelector:
        """Count transitions in logs (a DataFrame, a ``.parquet``/``.csv`` path, or an EventLog)."""
        from llm.data import extract_transitions, read_logs, validate_logs

        df = logs.to_frame() if hasattr(logs, "to_frame") else read_logs(logs)
        validate_logs(df, self.n_clusters)
        t, _ = extract_transitions(df, 1, first_time_only=self.first_time_only, min_returns=self.min_returns)
        if not len(t.targets):
            raise DataError(
                "the logs hold no transition between distinct positively engaged clusters"
                + (f" whose target was new to the user and engaged again >= {self.min_returns} times"
                   if self.first_time_only or self.min_returns else "")
                + "; log more users or steps, or relax first_time_only / min_returns"
            )
        self.counts = np.zeros((self.n_clusters, self.n_clusters), dtype=np.float32)
        np.add.at(self.counts, (t.histories[:, 0], t.targets), 1.0)
        return self

    def scores(self, history: np.ndarray) -> np.ndarray:
        """(N, M) sum over the history's clusters (N, L; -1 = none) of their transition counts."""
        out = np.zeros((len(history), self.n_clusters), dtype=np.float32)
        for j in range(history.shape[1]):
            known = history[:, j] >= 0
            out[known] += self.counts[history[known, j]]
        return out

    def select(self, history: np.ndarray, window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        history = history[:, -self.context_length :]
        whole = self.power.is_integer() and 1 <= self.power <= 8
        if compiled.enabled(self.backend) and whole:
            out, total = compiled.counts_draw(self.counts, history, window, int(self.power), rng)
        else:
            out, total = self._draw(history, window, rng)
        empty = np.flatnonzero(total <= 0)
        if len(empty):
            out[empty] = uniform_outside(window[empty], self.n_clusters, rng, contains=self.in_window)
        return out.astype(np.int64)

    def _draw(self, history: np.ndarray, window: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
        """(B,) proposals ∝ score ** power outside the window and (B,) row totals (the reference)."""
        weight = self.scores(history)  # (B, M) float32, a fresh array
        rows = np.repeat(np.arange(len(window)), window.shape[1])
        seen = window.ravel()
        weight[rows[seen >= 0], seen[seen >= 0]] = 0.0  # novel clusters only
        self._raise_to_power(weight)
        cum = np.cumsum(weight, axis=1, dtype=np.float64)  # float64: exact enough for any row total
        total = cum[:, -1]
        u = rng.random(len(window))
        return (cum <= (u * total)[:, None]).sum(axis=1).clip(max=self.n_clusters - 1), total

    def _raise_to_power(self, weight: np.ndarray) -> None:
        """weight ** power in place; whole powers by repeated products (several times faster
        than a float power on the (B, M) array every request)."""
        p = self.power
        if p == 1.0:
            return
        if p.is_integer() and 2 <= p <= 8:
            base = weight.copy()
            for _ in range(int(p) - 1):
                weight *= base
            return
        np.power(weight, np.float32(p), out=weight)

    # --- persistence --------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return {"n_clusters": self.n_clusters, "context_length": self.context_length}

    def save(self, path: str | Path) -> Path:
        meta = {**self._meta(), "power": self.power, "first_time_only": self.first_time_only}
        return save_arrays(path, "CountsSelector", {"counts": self.counts}, meta)

    def load(self, path: str | Path) -> CountsSelector:
        arrays, meta = load_arrays(path, "CountsSelector", self._meta())
        self.counts = arrays["counts"]
        self.power = float(meta.get("power", self.power))
        self.first_time_only = bool(meta.get("first_time_only", self.first_time_only))
        return self
