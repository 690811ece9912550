"""The counts selector (issue 12's learned baseline): evidence from each history cluster, novel
proposals only, sharper with its power, saved and loaded whole."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from agents.errors import ConfigError
from agents.selectors.counts import CountsSelector

ALL = {"first_time_only": False, "min_returns": 0}  # every logged transition counts


def _logs(pairs: list[tuple[int, int]], repeats: int) -> pd.DataFrame:
    """Users who engage positively with cluster a, then b, for each (a, b)."""
    rows = []
    for u, (a, b) in enumerate(pairs * repeats):
        rows += [(u, 0, 0, a, 1), (u, 1, 1, b, 1)]
    return pd.DataFrame(rows, columns=["user", "time", "item", "cluster", "engagement"])


def test_counts_follow_either_history_cluster_and_stay_novel() -> None:
    sel = CountsSelector(6, power=3.0, **ALL).fit(_logs([(0, 1), (2, 3), (2, 4)], repeats=5))
    rng = np.random.default_rng(0)
    history = np.array([[5, 0]] * 200 + [[2, 5]] * 200)  # evidence only from 0 (-> 1) or from 2 (-> 3, 4)
    window = np.concatenate([history, np.full((400, 2), -1)], axis=1)
    out = sel.select(history, window, rng)
    assert (out[:200] == 1).all()
    assert set(out[200:].tolist()) == {3, 4}
    window[200:, 2] = 3  # 3 already seen: only 4 is left
    assert (sel.select(history, window, rng)[200:] == 4).all()


def test_without_evidence_a_random_novel_cluster_is_proposed() -> None:
    sel = CountsSelector(6, **ALL).fit(_logs([(0, 1)], repeats=3))
    window = np.array([[4, 5]] * 300)
    out = sel.select(window, window, np.random.default_rng(1))
    assert not np.isin(out, [4, 5]).any() and len(set(out.tolist())) == 4


def test_power_sharpens_towards_the_most_frequent_journey() -> None:
    logs = _logs([(0, 1)] * 3 + [(0, 2)], repeats=5)  # 0 -> 1 three times as often as 0 -> 2
    history = np.array([[0, 0]] * 4000)
    window = np.concatenate([history, np.full((4000, 2), -1)], axis=1)
    share = {}
    for p in (1.0, 3.0):
        selector = CountsSelector(6, power=p, **ALL).fit(logs)
        share[p] = (selector.select(history, window, np.random.default_rng(2)) == 1).mean()
    assert abs(share[1.0] - 0.75) < 0.03 and abs(share[3.0] - 27 / 28) < 0.02


def test_by_default_only_discoveries_that_stuck_count() -> None:
    """0 -> 1 is followed by two more engagements with 1; 0 -> 2 is a one-off click."""
    rows = []
    for u in range(10):
        rows += [(u, 0, 0, 0, 1), (u, 1, 1, 1, 1), (u, 2, 2, 3, 1), (u, 3, 3, 1, 1), (u, 4, 4, 3, 1), (u, 5, 5, 1, 1)]
    for u in range(10, 40):
        rows += [(u, 0, 0, 0, 1), (u, 1, 1, 2, 1), (u, 2, 2, 3, 1)]
    logs = pd.DataFrame(rows, columns=["user", "time", "item", "cluster", "engagement"])
    history = np.array([[4, 0]] * 50)
    window = np.concatenate([history, np.full((50, 2), -1)], axis=1)
    assert (CountsSelector(6).fit(logs).select(history, window, np.random.default_rng(0)) == 1).all()
    everything = CountsSelector(6, **ALL).fit(logs).select(history, window, np.random.default_rng(0))
    assert (everything == 2).mean() > 0.9  # the one-off clicks outnumber the journey


def test_save_and_load_round_trip(tmp_path) -> None:
    sel = CountsSelector(6, power=2.0, **ALL).fit(_logs([(0, 1), (2, 3)], repeats=2))
    path = sel.save(tmp_path / "counts.safetensors")
    back = CountsSelector(6).load(path)
    np.testing.assert_array_equal(back.counts, sel.counts)
    assert back.power == 2.0
    with pytest.raises(Exception, match="n_clusters"):
        CountsSelector(7).load(path)


def test_bad_knobs_are_named() -> None:
    with pytest.raises(ConfigError, match="power"):
        CountsSelector(6, power=-1)
    with pytest.raises(ConfigError, match="context_length"):
        CountsSelector(6, context_length=0)


@pytest.mark.parametrize("context_length", [2, 3])
@pytest.mark.parametrize("power", [1.0, 2.0, 3.0, 4.0, 2.5])
def test_compiled_draw_equals_the_reference(power: float, context_length: int) -> None:
    from agents import compiled

    if compiled.kernels is None:
        pytest.skip("numba does not import here")
    rng = np.random.default_rng(4)
    sel = CountsSelector(30, context_length=context_length, power=power, **ALL)
    sel.counts = rng.poisson(0.4, (30, 30)).astype(np.float32)
    history = rng.integers(-1, 30, (3000, context_length))  # rows with 0, 1, 2 (or 3) clusters
    window = np.concatenate([history, rng.integers(-1, 30, (3000, 6))], axis=1)
    out = {}
    for backend in ("numpy", "numba"):
        sel.backend = backend
        out[backend] = sel.select(history, window, np.random.default_rng(9))
    np.testing.assert_array_equal(out["numpy"], out["numba"])
    assert not in_rows(out["numba"], window).any()


def in_rows(values: np.ndarray, window: np.ndarray) -> np.ndarray:
    return (window == values[:, None]).any(axis=1)
