"""The feedback-loop page: its settings, the runs behind them (cached, the same in parallel),
and the page file. The page in a real browser: test_feedback_browser.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from envs.errors import ConfigError
from experiments import feedback_grid as grid
from experiments.cli import main
from tests.experiments.conftest import tiny_args


def test_settings_that_do_not_explore_share_the_exploitation_run() -> None:
    settings = grid.all_settings()
    runs = grid.distinct_runs(settings)
    assert len(settings) == 40 and len(runs) == 2 + 3 * 4 * 2  # exploit x retrain + choosers x shares x retrain
    for s in settings:
        assert s.run() in runs and s.baseline() in runs
        assert s.baseline().explores is False and s.baseline().retrain == s.retrain
        if s.share == 0 or s.chooser == "none":
            assert s.run() == s.baseline()
    assert len({s.key for s in runs}) == len(runs)


def test_a_setting_is_the_agent_it_names() -> None:
    spec = grid.Setting(30, "markov", False).agent(slate_size=10)
    assert spec.name == "hierarchical-markov"
    assert spec.params == {"explore_slots": 3, "exploit": {"retrain": False}}
    assert grid.Setting(10, "llm", True).agent(slate_size=5).params["explore_slots"] == 1  # at least one slot
    assert grid.Setting(50, "none", True).agent(slate_size=10).name == "exploit"


@pytest.mark.parametrize(("share", "chooser", "match"), [(15, "llm", "share=15"), (10, "oracle", "chooser='oracle'")])
def test_settings_off_the_controls_are_refused(share: int, chooser: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        grid.Setting(share, chooser, True)


def test_every_position_of_the_controls_has_something_to_show(tiny_page: Path) -> None:
    from experiments import feedback_page as page

    runs_dir = tiny_page.with_name("page_runs")
    summaries = json.loads((runs_dir / "runs.json").read_text())["runs"]
    runs = {key: {"summary": s, "journey": {"cluster": []}} for key, s in summaries.items()}
    table = page.combos(runs)
    assert len(table) == 5 * 4 * 2
    for pos, combo in table.items():
        setting = page.setting_at(tuple(int(i) for i in pos.split("|")))
        assert combo["run"] == setting.run().key and combo["base"] == setting.baseline().key
        assert ("exploration" in combo["text"]) == setting.explores
    text = tiny_page.read_text(encoding="utf-8")
    assert "https://" not in text.split("<body>")[1][:2000]  # BokehJS is inlined, not fetched
    for words in ("How varied are people&#x27;s hidden interests?", "What to try", "the language model"):
        assert words in text or words.replace("&#x27;", "'") in text


def test_a_rerun_loads_every_run_from_the_cache(tiny_page: Path, monkeypatch, tmp_path: Path) -> None:
    def no_simulation(*args, **kwargs):
        raise AssertionError("a cached run was simulated again")

    monkeypatch.setattr(grid, "simulate_setting", no_simulation)
    again = tmp_path / "again.html"
    args = ["demo", "feedback-loop", "--html", str(again), "--out", str(tiny_page.with_name("page_runs")),
            "--workers", "1", "--quiet", *tiny_args()]
    assert main(args) == 0
    assert again.read_text(encoding="utf-8") != ""


def test_runs_in_parallel_equal_runs_in_sequence(tiny_page: Path, tmp_path: Path) -> None:
    from experiments.feedback_page import page_config, prepare

    cfg = page_config(tiny_args()[1::2])
    world, art = prepare(cfg, tmp_path, progress=False)
    settings = [grid.Setting(30, "llm", True), grid.Setting(30, "markov", False), grid.Setting(0, "none", True)]
    seq = grid.run_settings(world, cfg, art, settings, tmp_path / "seq", workers=1, progress=False)
    par = grid.run_settings(world, cfg, art, settings, tmp_path / "cache", workers=2, progress=False)
    assert seq == par
    cached = json.loads((tiny_page.with_name("page_runs") / "runs.json").read_text())["runs"]
    assert {k: v["summary"] for k, v in seq.items()} == {k: cached[k] for k in seq}  # the page's own runs


def test_bad_page_arguments_name_the_fix(tmp_path: Path, capsys, monkeypatch) -> None:
    assert main(["demo", "feedback-loop", "--html", str(tmp_path / "page.png"), "--quiet"]) == 2
    assert "must name an .html file" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "bokeh", None)  # as if the extra were not installed
    from experiments.feedback_page import write_page

    with pytest.raises(ConfigError, match=r"pip install -e '\.\[teach\]'"):
        write_page(tmp_path / "page.html")
    assert not (tmp_path / "page.html").exists()
