"""The journeys tools: the README's predictability figure, drawn from a sweep folder (anything
else is refused), and the calibration script behind the default world."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from envs.errors import DataError
from experiments.journeys_figure import plot, table

PNG = b"\x89PNG\r\n\x1a\n"


def _sweep(root: Path) -> Path:
    """A finished sweep over predictability with two seeds per cell, as `noveltygym sweep` writes it."""
    for cell, p in enumerate((0.0, 1.0)):
        for seed in (0, 1):
            trial = f"cell{cell:03d}-seed{seed}"
            agents = {name: {"watch_time_per_user": {"mean": watch + p * 10 + seed}}
                      for name, watch in (("exploit", 100), ("hierarchical-random", 95), ("hierarchical-llm", 96))}
            (root / "results").mkdir(parents=True, exist_ok=True)
            (root / "results" / f"{trial}.json").write_text(json.dumps(
                {"trial": trial, "cell": cell, "params": {"world.journey_predictability": p}, "seed": seed,
                 "summary": {"agents": agents}}))
            (root / "trials" / trial).mkdir(parents=True, exist_ok=True)
            (root / "trials" / trial / "journeys.json").write_text(json.dumps(
                {"chance": 0.01, "ceiling": 0.02 + 0.6 * p, "selectors": {"hierarchical-llm": 0.01 + 0.3 * p},
                 "by_history": {"unseen": {"hierarchical-llm": 0.02 + 0.3 * p}}}))
    return root


def test_figure_from_a_sweep(tmp_path: Path) -> None:
    out = plot(_sweep(tmp_path / "sweep"), tmp_path / "figure.png")
    assert out.read_bytes().startswith(PNG)


def test_table_from_a_sweep(tmp_path: Path) -> None:
    """One column per predictability: ceiling over chance, hit rates with the unseen share in
    brackets, and watch-time gains paired by seed (the LLM agent watches about 1 % more than random
    on both seeds, random about 5 % less than exploit)."""
    lines = table(_sweep(tmp_path / "sweep")).splitlines()
    assert lines[0] == "| predictability | 0 | 1 |"
    assert "| Bayes ceiling / chance, top-1 % | 2.0 / 1.0 | 62.0 / 1.0 |" in lines
    assert "| hierarchical-llm, top-1 % (unseen histories) | 1.0 (2.0) | 31.0 (32.0) |" in lines

    def gains(label: str) -> list[float]:
        line = next(line for line in lines if line.startswith(f"| {label}"))
        return [float(cell.split("[")[0]) for cell in line.strip("| ").split(" | ")[1:]]

    assert all(0.5 < g < 1.5 for g in gains("hierarchical-llm, watch vs random"))
    assert all(-5.5 < g < -4 for g in gains("hierarchical-random, watch vs `exploit`"))


def test_a_folder_without_the_sweep_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="journey_predictability"):
        plot(tmp_path, tmp_path / "figure.png")


def test_calibration_script_end_to_end_on_the_tiny_world(capsys) -> None:
    """Tiny: everyone's latent interest is beta, so the ceiling is certainty and chance one half."""
    from experiments.journeys_calibration import main

    main(["--preset", "tiny", "--users", "16", "--steps", "5", "--seeds", "1",
          "--agents", "exploit,hierarchical-random,hierarchical-counts"])
    out = capsys.readouterr().out
    assert "| hierarchical-counts |" in out and "| exploit |" in out
    assert "chance 50.00 %, ceiling 100.00 %" in out
