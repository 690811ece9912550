"""The feedback-loop demo end to end (tiny world), and the paper report's verdicts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from envs.errors import ConfigError
from experiments.cli import main
from experiments.paper import _claim_novelty_and_enjoyment, _fine_tuning_data_lines, _hit_rate_lines, run_paper
from llm.data import Concentration, SFTData, Transitions
from llm.pipeline import SFT_DATA_FILE
from tests.experiments.conftest import TINY


def test_feedback_loop_demo_writes_a_captioned_report(tmp_path: Path, capsys) -> None:
    out = tmp_path / "demo"
    args = ["demo", "feedback-loop", "--out", str(out), "--quiet"]
    for s in TINY:
        args += ["--set", s]
    assert main(args) == 0
    text = (out / "demo.md").read_text()
    for panel in ("interest_entropy", "novel_cumulative", "homogenization", "watch_time"):
        assert (out / f"demo_{panel}.png").read_bytes().startswith(b"\x89PNG")
        assert f"demo_{panel}.png" in text
    assert "feedback loop" in text and "exploitation only (feedback loop)" in text
    assert str(out / "demo.md") in capsys.readouterr().out


def _cell(llm_novel, llm_watch, base_novel, base_watch):
    def stat(m, half):
        return {"mean": m, "ci95": [m - half, m + half]}

    return {"agents": {
        "hierarchical-llm": {"novel_clusters_per_user": stat(*llm_novel), "watch_time_per_user": stat(*llm_watch)},
        "exploit": {"novel_clusters_per_user": stat(*base_novel), "watch_time_per_user": stat(*base_watch)},
    }}


@pytest.mark.parametrize(
    ("cell", "verdict"),
    [
        (_cell((2.0, 0.1), (100, 5), (1.0, 0.1), (100, 5)), "agrees"),
        (_cell((2.0, 0.1), (50, 5), (1.0, 0.1), (100, 5)), "enjoyment down"),
        (_cell((1.05, 0.1), (100, 5), (1.0, 0.1), (100, 5)), "not significantly up"),
    ],
)
def test_paper_verdicts_follow_the_intervals(cell: dict, verdict: str) -> None:
    assert verdict in _claim_novelty_and_enjoyment(cell)


def test_paper_hit_rates_stand_beside_chance_and_the_ceiling_per_cell(tmp_path: Path) -> None:
    # Two cells, two seeds each; cell 1 has no trial with journeys and gets no row.
    for cell, seed, llm in [(0, 0, 0.30), (0, 1, 0.40), (1, 0, None)]:
        trial = f"cell{cell:03d}-seed{seed}"
        (tmp_path / "results").mkdir(exist_ok=True)
        (tmp_path / "results" / f"{trial}.json").write_text(json.dumps({"trial": trial, "cell": cell}))
        (tmp_path / "trials" / trial).mkdir(parents=True)
        if llm is not None:
            journeys = {"chance": 0.01, "ceiling": 0.5, "selectors": {"hierarchical-llm": llm},
                        "by_history": {"unseen": {"hierarchical-llm": llm + 0.1}}}
            (tmp_path / "trials" / trial / "journeys.json").write_text(json.dumps(journeys))
    cells = [{"cell": 0, "params": {"agent.explore_slots": 1}}, {"cell": 1, "params": {"agent.explore_slots": 2}}]
    lines = _hit_rate_lines(tmp_path, cells)
    header = next(line for line in lines if line.startswith("| setting"))
    assert header.split(" | ")[1:3] == ["chance", "Bayes ceiling"] and "hierarchical-llm" in header
    rows = [line for line in lines if line.startswith("| agent.")]
    assert len(rows) == 1 and rows[0].startswith("| agent.explore_slots=1 |")
    chance, ceiling, llm = (c.strip() for c in rows[0].strip("|").split("|")[1:])
    assert chance.startswith("1.000") and ceiling.startswith("50.000")
    assert llm.startswith("35.000 ± ") and "(45.000 ± " in llm  # the mean over seeds, unseen in brackets
    assert _hit_rate_lines(tmp_path / "missing", cells) == []


def _sweep_with_data(root: Path, kept_per_cell: list[tuple[int, int]]) -> list[dict]:
    """A sweep folder whose cell i's model was fine-tuned on kept_per_cell[i] = (before, after)
    examples of 4 clusters (all targets 0)."""
    cells = []
    for cell, (before, after) in enumerate(kept_per_cell):
        trial = f"cell{cell:03d}-seed0"
        (root / "results").mkdir(parents=True, exist_ok=True)
        (root / "results" / f"{trial}.json").write_text(json.dumps({"trial": trial, "cell": cell}))
        model_dir = root / "models" / str(cell)
        (root / "trials" / trial).mkdir(parents=True)
        (root / "trials" / trial / "llm.json").write_text(json.dumps({"model_dir": str(model_dir)}))
        examples = [Transitions(np.ones((n, 2), dtype=np.int64), np.zeros(n, dtype=np.int64)) for n in (before, after)]
        empty = Transitions(np.zeros((0, 2), dtype=np.int64), np.zeros(0, dtype=np.int64))
        SFTData(examples[1], empty, empty, 4, 2, {}, Concentration.of(examples[0], 4),
                Concentration.of(examples[1], 4)).save(model_dir / SFT_DATA_FILE)
        cells.append({"cell": cell, "params": {"llm.balance": cell == 0}})
    return cells


def test_paper_balance_study_says_when_the_caps_removed_nothing(tmp_path: Path) -> None:
    cells = _sweep_with_data(tmp_path / "same", [(30, 30), (30, 30)])
    lines = _fine_tuning_data_lines(tmp_path / "same", cells)
    assert "- llm.balance=True: 30 before, 30 after; top target 100.0%" in lines
    assert any("removed no example in any cell" in line for line in lines)
    cells = _sweep_with_data(tmp_path / "capped", [(30, 12), (30, 30)])
    lines = _fine_tuning_data_lines(tmp_path / "capped", cells)
    assert "- llm.balance=True: 30 before, 12 after; top target 100.0%" in lines
    assert not any("removed no example" in line for line in lines)
    assert _fine_tuning_data_lines(tmp_path / "missing", cells) == []


def test_paper_report_covers_the_studies_finished_in_its_folder(tmp_path: Path) -> None:
    """A study an earlier `--studies` call finished stays in the report; the others are named as not run."""
    study = tmp_path / "paper" / "llm_vs_exploit"
    study.mkdir(parents=True)
    cell = {"cell": 0, "params": {}, **_cell((2.0, 0.1), (100, 5), (0.0, 0.0), (100, 5))}
    (study / "sweep_summary.json").write_text(json.dumps({"cells": [cell]}))
    text = run_paper(tmp_path / "paper", studies=[], progress=False).read_text()
    assert "## LLM-hierarchical agent against exploitation only" in text
    assert "- base: agrees with the paper" in text
    not_run = next(line for line in text.splitlines() if line.startswith("Not run here"))
    assert "Cluster granularity" in not_run and "Language models trained with different seeds" in not_run
    assert "LLM-hierarchical" not in not_run


def test_paper_refuses_an_unknown_study_before_writing_anything(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'llm_vs_exploitt'.*llm_vs_exploit"):
        run_paper(tmp_path / "paper", studies=["llm_vs_exploitt"], progress=False)
    assert not (tmp_path / "paper").exists()


@pytest.mark.slow
def test_paper_quick_runs_every_study(tmp_path: Path) -> None:
    out = tmp_path / "paper"
    args = ["paper", "--quick", "--out", str(out), "--quiet", "--workers", "1"]
    # A small default world at the domain level (22 clusters), so L = 3 histories exist.
    small = ["world.preset='default'", "world.n_items=1000", "world.cluster_level='domain'"]
    for s in [*TINY[1:], *small]:
        args += ["--set", s]
    assert main(args) == 0
    text = (out / "report.md").read_text()
    for title in ("Exact match", "LLM-hierarchical agent", "History length", "Balanced", "Exploration share"):
        assert title in text
    assert "Bayes ceiling" in text  # every study's hit rates have their ceiling and chance
    assert "Fine-tuning examples" in text  # the balance study says what the caps kept
    few_shot = next(line for line in text.splitlines() if line.startswith("- few-shot (pretrained only)"))
    assert "n/a" not in few_shot  # study 1 compares fine-tuning with a measured few-shot baseline
    # The studies share one cache: a model per distinct config (llm.seed 0 at L = 2, balanced, is
    # every study's base cell; llm.seed 1, L = 1, L = 3, unbalanced), not one per study and cell.
    assert len(list((out / "cache" / "llm").glob("*/model"))) == 5
