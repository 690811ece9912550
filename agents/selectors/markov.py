"""Markov transitions counted from logs: the learned, non-LLM selector.

Counts "after the clusters (c_1..c_k), the user engaged positively with c_next" for every
order k = L..1, from the same transitions the language layer trains on (positive
engagements, consecutive repeats dropped, target not in the history: ``llm.data``). A
proposal is drawn ∝ the counts of the longest context seen in the logs, backing off to
shorter ones, then to the overall popularity of targets (Katz-style back-off without
discounting: the simplest n-gram recommender).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agents import compiled
from agents.base import Trainable
from agents.errors import ConfigError, DataError
from agents.persistence import load_arrays, save_arrays
from agents.sampling import segment_sample
from agents.selectors.base import OptionSelector, redraw_in_window


def context_index(contexts: np.ndarray, n_clusters: int) -> np.ndarray:
    """(E,) int64 mixed-radix index of contexts (E, k), oldest most significant."""
    idx = np.zeros(len(contexts), dtype=np.int64)
    for j in range(contexts.shape[1]):
        idx = idx * n_clusters + contexts[:, j]
    return idx


class MarkovSelector(OptionSelector, Trainable):
    name = "markov"

    def __init__(self, n_clusters: int, context_length: int = 2) -> None:
        super().__init__(n_clusters)
        if isinstance(context_length, bool) or not isinstance(context_length, int) or context_length < 1:
            raise ConfigError(f"MarkovSelector context_length={context_length!r} must be a positive integer")
        if float(n_clusters) ** context_length >= 2.0**62:
            raise ConfigError(
                f"contexts of {context_length} clusters out of {n_clusters} overflow int64; lower context_length"
            )
        self.context_length = context_length
        # Per order k (1..L): sorted context keys (C,), offsets (C+1,), targets (E,), cumulative counts (E,).
        self.tables: dict[int, dict[str, np.ndarray]] = {}
        self.target_cum = np.arange(1, n_clusters + 1, dtype=np.float64)  # order 0: uniform until fitted
        self.n_transitions = 0
        self._dense: dict[int, np.ndarray] = {}  # order k -> (M^k,) table row of each context, -1 unseen

    # --- fitting ---------------------------------------------------------------------------
    def fit(self, logs: Any) -> MarkovSelector:
        """Count transitions in logs: a DataFrame (user, time, item, cluster, engagement), a
        ``.parquet``/``.csv`` path, or an ``envs.metrics.EventLog``."""
        from llm.data import extract_transitions, read_logs, validate_logs

        df = logs.to_frame() if hasattr(logs, "to_frame") else read_logs(logs)
        validate_logs(df, self.n_clusters)
        for k in range(1, self.context_length + 1):
            t, _ = extract_transitions(df, k)
            self.add_counts(t.histories, t.targets)
            if k == 1:
                self.n_transitions = len(t.targets)
        if self.n_transitions == 0:
            raise DataError("the logs hold no transition between distinct positively engaged clusters; log longer")
        return self

    def add_counts(self, histories: np.ndarray, targets: np.ndarray) -> None:
        """Set the order-k table (k = histories.shape[1]) from (E, k) contexts and (E,) targets."""
        k, m = histories.shape[1], self.n_clusters
        pair, count = np.unique(context_index(histories, m) * m + targets, return_counts=True)
        ctx, tgt = pair // m, pair % m
        keys, first = np.unique(ctx, return_index=True)
        self._dense.pop(k, None)
        self.tables[k] = {
            "keys": keys,
            "offsets": np.append(first, len(pair)).astype(np.int64),
            "targets": tgt.astype(np.int64),
            "cum": np.cumsum(count.astype(np.float64)),
        }
        if k == 1:
            self.target_cum = np.cumsum(np.bincount(targets, minlength=m).astype(np.float64) + 1e-3)

    # --- proposing ---------------------------------------------------------------------------
    def dense_index(self, k: int) -> np.ndarray | None:
        """The order-k (M^k,) int32 table row of each context key, -1 unseen; None past 2^22
        possible contexts. Built on first use (two clusters of up to 2,048 fit)."""
        dense = self._dense.get(k)
        if dense is None and self.n_clusters**k <= 1 << 22:
            dense = np.full(self.n_clusters**k, -1, dtype=np.int32)
            dense[self.tables[k]["keys"]] = np.arange(len(self.tables[k]["keys"]), dtype=np.int32)
            self._dense[k] = dense
        return dense

    def _table_rows(self, k: int, key: np.ndarray) -> np.ndarray:
        """(E,) row of each context key in the order-k table, -1 for contexts never logged:
        one gather in the dense index where there is one, else a binary search of the keys."""
        keys = self.tables[k]["keys"]
        dense = self.dense_index(k)
        if dense is not None:
            return np.take(dense, key)
        pos = np.minimum(np.searchsorted(keys, key), len(keys) - 1)
        return np.where(keys[pos] == key, pos, -1)

    def _draw(self, history: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if compiled.enabled(self.backend):
            return compiled.markov_draw(self, history, rng)
        b = len(history)
        out = np.full(b, -1, dtype=np.int64)
        u = rng.random(b)
        for k in range(self.context_length, 0, -1):
            tab = self.tables.get(k)
            ctx = history[:, -k:]
            todo = (out < 0) & (ctx >= 0).all(axis=1)
            if tab is None or not todo.any() or not len(tab["keys"]):
                continue
            rows = np.flatnonzero(todo)
            pos = self._table_rows(k, context_index(ctx[rows], self.n_clusters))
            found = pos >= 0
            rows, pos = rows[found], pos[found]
            offsets = tab["offsets"]
            idx = segment_sample(tab["cum"], np.take(offsets, pos), np.take(offsets, pos + 1), u[rows])
            out[rows] = np.take(tab["targets"], idx)
        rest = np.flatnonzero(out < 0)
        if len(rest):
            out[rest] = np.searchsorted(self.target_cum, u[rest] * self.target_cum[-1], side="right").clip(
                max=self.n_clusters - 1
            )
        return out

    def select(self, history: np.ndarray, window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if history.shape[1] < self.context_length:
            raise ConfigError(
                f"the Markov selector was built for L={self.context_length} but got histories of length "
                f"{history.shape[1]}; build the agent with the same context_length"
            )
        history = history[:, -self.context_length :]
        return redraw_in_window(
            self._draw(history, rng), window, lambda rows: self._draw(history[rows], rng), contains=self.in_window
        )

    def scores(self, history: np.ndarray) -> np.ndarray:
        """(N, M) ranking scores of every cluster after each history (N, L), for top-k hit rates:
        sum over orders k of 4^k x (share of c among the transitions after the last k clusters),
        plus the popularity share of c. Longer contexts dominate; shorter ones break their ties
        and rank alone where the longer one was never logged (a smoothed back-off)."""
        n, m = len(history), self.n_clusters
        out = np.zeros((n, m))
        for k in range(1, self.context_length + 1):
            tab = self.tables.get(k)
            if tab is None or not len(tab["keys"]):
                continue
            ctx = history[:, -k:]
            rows = np.flatnonzero((ctx >= 0).all(axis=1))
            pos = self._table_rows(k, context_index(ctx[rows], m))
            rows, pos = rows[pos >= 0], pos[pos >= 0]
            counts = np.diff(np.concatenate([[0.0], tab["cum"]]))
            for row, p in zip(rows.tolist(), pos.tolist(), strict=True):
                lo, hi = tab["offsets"][p], tab["offsets"][p + 1]
                out[row, tab["targets"][lo:hi]] += 4.0**k * counts[lo:hi] / counts[lo:hi].sum()
        popularity = np.diff(np.concatenate([[0.0], self.target_cum]))
        return out + popularity / popularity.sum()

    # --- persistence --------------------------------------------------------------------------
    def _meta(self) -> dict[str, int]:
        return {"n_clusters": self.n_clusters, "context_length": self.context_length}

    def save(self, path: str | Path) -> Path:
        arrays = {f"order{k}_{name}": a for k, tab in self.tables.items() for name, a in tab.items()}
        arrays["target_cum"] = self.target_cum
        return save_arrays(path, "MarkovSelector", arrays, {**self._meta(), "n_transitions": self.n_transitions})

    def load(self, path: str | Path) -> MarkovSelector:
        arrays, meta = load_arrays(path, "MarkovSelector", self._meta())
        self.tables = {
            k: {name: arrays[f"order{k}_{name}"] for name in ("keys", "offsets", "targets", "cum")}
            for k in range(1, self.context_length + 1)
            if f"order{k}_keys" in arrays
        }
        self._dense = {}
        self.target_cum = arrays["target_cum"]
        self.n_transitions = int(meta.get("n_transitions", 0))
        return self
