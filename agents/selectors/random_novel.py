"""Random novel cluster: uniform over the clusters outside the user's window (the naive explorer)."""

from __future__ import annotations

import numpy as np

from agents.selectors.base import OptionSelector, redraw_in_window


class RandomNovelSelector(OptionSelector):
    name = "random-novel"

    def select(self, history: np.ndarray, window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        def draw(rows: np.ndarray) -> np.ndarray:
            return rng.integers(0, self.n_clusters, size=len(rows))

        return redraw_in_window(draw(np.arange(len(window))), window, draw)
