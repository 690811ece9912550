"""The language model's selector: an O(1) lookup in the precomputed transition table (paper §3.3).

The table (``llm.table.TransitionTable``) answers every length-L cluster history with n sampled
novel clusters. Serving picks one of a user's n answers at random, preferring answers outside
the user's whole observed window. Histories shorter than L are left-padded with their oldest
cluster (still a valid key); users with no history at all get the fallback selector.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np

from agents.errors import ConfigError, ModelFileError, SelectorError
from agents.observations import pad_history
from agents.selectors.base import OptionSelector
from agents.selectors.random_novel import RandomNovelSelector


class TableLike(Protocol):
    """What the selector needs of a table (``llm.table.TransitionTable`` provides it)."""

    n_clusters: int
    context_length: int

    def lookup(self, histories: np.ndarray) -> np.ndarray: ...


class LLMTableSelector(OptionSelector):
    name = "llm"

    def __init__(self, table: TableLike, n_clusters: int, fallback: OptionSelector | None = None) -> None:
        super().__init__(n_clusters)
        for attr in ("n_clusters", "context_length", "lookup"):
            if not hasattr(table, attr):
                raise ConfigError(f"the transition table {type(table).__name__} lacks {attr!r}; pass a TransitionTable")
        if int(table.n_clusters) != n_clusters:
            raise ConfigError(
                f"the transition table was built for {table.n_clusters} clusters but the world's level has "
                f"{n_clusters}; build the table at the level the agent serves (world.level)"
            )
        self.table = table
        self.context_length = int(table.context_length)
        self.fallback = fallback or RandomNovelSelector(n_clusters)

    @classmethod
    def from_path(cls, path: str | Path, n_clusters: int, mmap: bool = False) -> LLMTableSelector:
        """Load a table folder written by ``llm.table`` (``python -m llm table ...``)."""
        folder = Path(path)
        if not folder.exists():
            raise ModelFileError(
                f"no transition table at {str(folder)!r}; build one with `python -m llm table` "
                "(llm.table.build_table) for this world's level"
            )
        try:
            from llm.table import TransitionTable
        except ImportError as exc:
            raise ConfigError(f"the language layer's table module cannot be imported ({exc})") from exc
        try:
            table = TransitionTable.load(folder, mmap=mmap)
        except FileNotFoundError as exc:
            raise ModelFileError(str(exc)) from exc
        return cls(table, n_clusters)

    @property  # type: ignore[override]
    def backend(self) -> str:
        """The fallback's backend: one setting for both (the agent sets it)."""
        return self.fallback.backend

    @backend.setter
    def backend(self, value: str) -> None:
        self.fallback.backend = value

    def bind(self, env: Any) -> None:
        self.fallback.bind(env)

    def select(self, history: np.ndarray, window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if history.shape[1] < self.context_length:
            raise ConfigError(
                f"the table answers histories of L={self.context_length} clusters but the agent keeps "
                f"{history.shape[1]}; build the agent with context_length={self.context_length}"
            )
        padded, known = pad_history(history[:, -self.context_length :])
        out = self.fallback.select(history, window, rng)
        rows = np.flatnonzero(known)
        every = len(rows) == len(window)  # the usual case once histories fill: no row copies
        if len(rows):
            answers = np.asarray(self.table.lookup(padded if every else padded[rows]))
            if answers.ndim != 2 or answers.shape[0] != len(rows):
                raise SelectorError(f"table lookup returned shape {answers.shape}; expected ({len(rows)}, n_samples)")
            bad = (answers < 0) | (answers >= self.n_clusters)
            if bad.any():
                r, j = np.argwhere(bad)[0]
                raise SelectorError(
                    f"the transition table answered cluster {int(answers[r, j])} for history "
                    f"{padded[rows[r]].tolist()}, which does not exist (ids lie in [0, {self.n_clusters - 1}]); "
                    "rebuild the table for this level"
                )
            # A random answer, preferring those outside the window (novel to the user).
            score = rng.random(answers.shape) - self.in_window(answers, window if every else window[rows])
            picked = np.take_along_axis(answers, score.argmax(axis=1)[:, None], axis=1)[:, 0]
            if every:
                out = picked
            else:
                out[rows] = picked
        return out.astype(np.int64)
