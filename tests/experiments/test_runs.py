"""The CLI end to end: run folders, reports, sweeps that resume, errors that keep files safe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from experiments import sweep as sweep_mod
from experiments.cli import main

PNG = b"\x89PNG\r\n\x1a\n"
METRICS = ("novel_clusters_per_user", "ueuc", "positive_rate", "completion_rate", "watch_time_per_user",
           "active_days_per_user", "entropy", "serendipity", "coverage", "homogenization")


def test_run_writes_every_output(tmp_path: Path, fast_config: Path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["run", str(fast_config), "--out", str(out), "--quiet"]) == 0
    for name in ("config.toml", "environment.json", "run.log", "per_step.parquet", "per_user.parquet",
                 "summary.json", "report.md", "report.html"):
        assert (out / name).is_file(), name
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["agents"]) == ["exploit", "hierarchical-oracle", "hierarchical-random"]
    for stats in summary["agents"].values():
        for m in METRICS:
            assert set(stats[m]) == {"mean", "ci95"}
            assert stats[m]["ci95"] is None or stats[m]["ci95"][0] <= stats[m]["mean"] <= stats[m]["ci95"][1]
    pngs = list(out.glob("*.png"))
    assert len(pngs) >= 3 and all(p.read_bytes().startswith(PNG) for p in pngs)
    assert "report.md" in capsys.readouterr().out
    # The oracle explores the known latent cluster: more novelty than exploitation, no less enjoyment.
    oracle, exploit = summary["agents"]["hierarchical-oracle"], summary["agents"]["exploit"]
    assert oracle["novel_clusters_per_user"]["mean"] > exploit["novel_clusters_per_user"]["mean"]
    assert oracle["watch_time_per_user"]["mean"] > exploit["watch_time_per_user"]["mean"]
    # Tiny: everyone's latent interest is beta, so the oracle always names it; a random novel
    # cluster is beta or gamma. On fresh users the ceiling is certainty and chance one half.
    random = summary["agents"]["hierarchical-random"]
    assert oracle["explore_hit_rate"]["mean"] > random["explore_hit_rate"]["mean"]
    assert abs(random["explore_hit_rate"]["mean"] - random["explore_hit_chance"]["mean"]) < 0.1
    journeys = json.loads((out / "journeys.json").read_text())
    assert journeys["ceiling"] == 1.0 and journeys["chance"] == 0.5
    assert list(journeys["selectors"]) == ["hierarchical-random"]  # the oracle needs a live env
    assert abs(journeys["selectors"]["hierarchical-random"] - 0.5) < 0.02
    assert "Naming undiscovered interests" in (out / "report.md").read_text()


def test_report_regenerates_the_same_report(tmp_path: Path, fast_config: Path) -> None:
    out = tmp_path / "run"
    main(["run", str(fast_config), "--out", str(out), "--quiet"])
    before = {n: (out / n).read_text() for n in ("report.md", "summary.json")}
    for n in before:
        (out / n).unlink()
    assert main(["report", str(out)]) == 0
    assert {n: (out / n).read_text() for n in before} == before


def test_output_folder_of_another_run_is_refused(tmp_path: Path, fast_config: Path, capsys) -> None:
    out = tmp_path / "run"
    main(["run", str(fast_config), "--out", str(out), "--quiet"])
    summary = (out / "summary.json").read_text()
    assert main(["run", str(fast_config), "--out", str(out), "--set", "eval.n_steps=5", "--quiet"]) == 2
    assert "already holds" in capsys.readouterr().err
    assert (out / "summary.json").read_text() == summary
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("keep me")
    assert main(["run", str(fast_config), "--out", str(other), "--quiet"]) == 2
    assert (other / "notes.txt").read_text() == "keep me"


def test_bad_override_is_reported(tmp_path: Path, fast_config: Path, capsys) -> None:
    assert main(["run", str(fast_config), "--set", "eval.n_users=many", "--out", str(tmp_path / "x")]) == 2
    assert "eval.n_users" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_sweep_resumes_without_losing_or_repeating_trials(tmp_path: Path, fast_config: Path, monkeypatch) -> None:
    out = tmp_path / "sweep"
    calls: list[str] = []
    real = sweep_mod.run_trial

    def flaky(raw, trial_dir, cache, threads=None):
        calls.append(Path(trial_dir).name)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the sweep is killed during its third trial
        return real(raw, trial_dir, cache, threads)

    monkeypatch.setattr(sweep_mod, "run_trial", flaky)
    args = ["sweep", str(fast_config), "--grid", "agent.explore_slots=1,2", "--seeds", "2", "--workers", "1",
            "--out", str(out), "--quiet"]
    assert main(args) == 130
    finished = sorted(p.stem for p in (out / "results").glob("*.json"))
    assert finished == sorted(calls[:2])
    calls.clear()
    assert main([*args, "--resume"]) == 0
    assert sorted(calls) == sorted({"cell000-seed0", "cell000-seed1", "cell001-seed0", "cell001-seed1"} - set(finished))
    summary = json.loads((out / "sweep_summary.json").read_text())
    assert len(summary["cells"]) == 2
    assert all(c["agents"]["exploit"]["seeds"] == [0, 1] for c in summary["cells"])
    assert (out / "report.md").exists() and list(out.glob("sweep_*.png"))


def test_sweep_folder_of_another_sweep_is_refused(tmp_path: Path, fast_config: Path, capsys) -> None:
    out = tmp_path / "sweep"
    base = ["sweep", str(fast_config), "--seeds", "1", "--workers", "1", "--out", str(out), "--quiet"]
    assert main([*base, "--grid", "agent.explore_slots=1"]) == 0
    assert main([*base, "--grid", "agent.explore_slots=2", "--resume"]) == 2
    assert "already holds another sweep" in capsys.readouterr().err


def test_sweep_with_two_local_workers(tmp_path: Path, fast_config: Path) -> None:
    out = tmp_path / "sweep"
    assert main(["sweep", str(fast_config), "--grid", "agent.explore_slots=1,2", "--seeds", "1",
                 "--workers", "2", "--out", str(out), "--quiet"]) == 0
    assert len(list((out / "results").glob("*.json"))) == 2


def test_missing_ray_names_the_extra(tmp_path: Path, fast_config: Path, monkeypatch, capsys) -> None:
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError("No module named 'ray'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    assert main(["sweep", str(fast_config), "--grid", "agent.explore_slots=1", "--seeds", "1", "--backend", "ray",
                 "--out", str(tmp_path / "s"), "--quiet"]) == 2
    assert "pip install 'noveltygym[ray]'" in capsys.readouterr().err


def test_ray_backend_runs_the_same_trials(tmp_path: Path, fast_config: Path) -> None:
    pytest.importorskip("ray", reason="the Ray backend needs the `ray` extra")
    out = tmp_path / "sweep"
    assert main(["sweep", str(fast_config), "--grid", "agent.explore_slots=1,2", "--seeds", "1",
                 "--workers", "2", "--backend", "ray", "--out", str(out), "--quiet"]) == 0
    local = tmp_path / "local"
    main(["sweep", str(fast_config), "--grid", "agent.explore_slots=1,2", "--seeds", "1",
          "--workers", "1", "--out", str(local), "--quiet"])
    for cell in ("cell000-seed0", "cell001-seed0"):
        a = json.loads((out / "results" / f"{cell}.json").read_text())["summary"]
        b = json.loads((local / "results" / f"{cell}.json").read_text())["summary"]
        assert a == b  # same seeds, same numbers, whichever backend ran them


def test_ppo_agents_get_a_trained_item_policy(tmp_path: Path, fast_config: Path) -> None:
    out = tmp_path / "run"
    assert main(["run", str(fast_config), "--out", str(out), "--quiet", "--set", "agent.ppo_timesteps=512",
                 "--set", "agents=[{name='exploit'}, {name='hierarchical-oracle-ppo'}]"]) == 0
    assert len(list((out / "cache" / "items").glob("ppo-*.zip"))) == 1
    summary = json.loads((out / "summary.json").read_text())
    assert summary["agents"]["hierarchical-oracle-ppo"]["explore_share"]["mean"] > 0


def test_a_second_run_reuses_the_cached_transition_table(tmp_path: Path, fast_raw: dict,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import tomli_w

    import llm.table

    fast_raw["agents"] = [{"name": "hierarchical-llm"}]
    fast_raw["eval"] = {"n_users": 16, "n_steps": 5, "seeds": [0]}
    fast_raw["logs"] = {"n_users": 200, "n_steps": 30}
    fast_raw["llm"] = load_tiny_llm_settings()
    config = tmp_path / "llm.toml"
    config.write_text(tomli_w.dumps(fast_raw))
    cache = tmp_path / "cache"
    first, second = tmp_path / "first", tmp_path / "second"
    assert main(["run", str(config), "--out", str(first), "--cache", str(cache), "--quiet"]) == 0

    def no_rebuild(*args: object, **kwargs: object) -> None:
        raise AssertionError("the table was built again")

    monkeypatch.setattr(llm.table, "build_table", no_rebuild)
    assert main(["run", str(config), "--out", str(second), "--cache", str(cache), "--quiet"]) == 0
    assert "reusing the cached transition table" in (second / "run.log").read_text()
    a = json.loads((first / "summary.json").read_text())["agents"]
    b = json.loads((second / "summary.json").read_text())["agents"]
    assert a == b  # the same table serves the same slates

    # A table the run cannot use is named in the log and rebuilt, never silently skipped.
    monkeypatch.undo()
    (table_npy,) = cache.glob("llm/*/table-*/table.npy")
    table_npy.write_bytes(b"not a numpy file")
    third = tmp_path / "third"
    assert main(["run", str(config), "--out", str(third), "--cache", str(cache), "--quiet"]) == 0
    assert "cannot be loaded" in (third / "run.log").read_text()
    assert json.loads((third / "summary.json").read_text())["agents"] == a


def load_tiny_llm_settings() -> dict:
    from experiments.config import load_raw

    return load_raw("tiny")["llm"]


def test_a_pretrained_model_is_fine_tuned_or_the_run_says_it_is_not(tmp_path: Path, fast_raw: dict) -> None:
    import tomli_w

    from llm.models import read_metadata

    fast_raw["agents"] = [{"name": "hierarchical-llm"}]
    fast_raw["eval"] = {"n_users": 16, "n_steps": 5, "seeds": [0]}
    fast_raw["llm"] = load_tiny_llm_settings()
    config = tmp_path / "llm.toml"
    config.write_text(tomli_w.dumps(fast_raw))
    first = tmp_path / "first"
    assert main(["run", str(config), "--out", str(first), "--quiet"]) == 0
    (pretrained,) = first.glob("cache/llm/*/model")  # stands in for a pretrained model folder

    as_given, tuned = tmp_path / "as-given", tmp_path / "tuned"
    assert main(["run", str(config), "--out", str(as_given), "--quiet", "--set", f"llm.model='{pretrained}'"]) == 0
    assert "served as given, not fine-tuned" in (as_given / "run.log").read_text()

    assert main(["run", str(config), "--out", str(tuned), "--quiet", "--set", f"llm.model='{pretrained}'",
                 "--set", "llm.fine_tune=true"]) == 0
    assert "fine-tuning" in (tuned / "run.log").read_text()
    (model,) = tuned.glob("cache/llm/*/model")
    meta = read_metadata(model)
    assert meta["kind"] == "fine-tuned" and meta["base"] == str(pretrained)


def test_a_registered_selector_gets_what_it_declares(tmp_path: Path, fast_raw: dict,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A new selector is one class plus one registry entry: a run builds the logs it declares,
    passes them in, and evaluates it like any shipped agent. No edit in experiments/."""
    import numpy as np
    import tomli_w

    from agents import registry
    from agents.selectors.base import OptionSelector

    class MostLogged(OptionSelector):
        """Always the cluster engaged most often in the logs (a toy)."""

        name = "most-logged"

        def __init__(self, n_clusters: int, logs) -> None:
            super().__init__(n_clusters)
            engaged = logs["cluster"][logs["cluster"] >= 0]  # -1: no click
            self.best = int(np.bincount(engaged, minlength=n_clusters).argmax())

        def select(self, history, window, rng):
            return np.full(len(history), self.best, dtype=np.int64)

    built: list[object] = []

    def build(world, context_length, logs=None, **_):
        built.append(logs)
        return MostLogged(world.level.n_clusters, logs)

    monkeypatch.setattr(registry, "SELECTORS", dict(registry.SELECTORS))  # undone after the test
    registry.register_selector("most-logged", build, needs=[registry.LOGS])
    assert registry.agent_needs("hierarchical-most-logged") == {registry.LOGS}
    fast_raw["agents"] = [{"name": "hierarchical-most-logged"}]
    config = tmp_path / "toy.toml"
    config.write_text(tomli_w.dumps(fast_raw))
    out = tmp_path / "run"
    assert main(["run", str(config), "--out", str(out), "--quiet"]) == 0
    assert built and all(len(logs) > 0 for logs in built)  # the run's logged interactions
    summary = json.loads((out / "summary.json").read_text())
    assert list(summary["agents"]) == ["hierarchical-most-logged"]
    with pytest.raises(Exception, match="needs"):
        registry.register_selector("bad", build, needs=["a GPU"])


def test_a_registered_metric_reaches_the_run_summary(tmp_path: Path, fast_config: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """A new metric is one function registered with ``envs.metrics.summary_metric``: runs
    report it with its interval, beside the shipped ones. No edit in experiments/."""
    from envs import metrics

    monkeypatch.setattr(metrics, "SUMMARY_METRICS", dict(metrics.SUMMARY_METRICS))  # undone after the test

    @metrics.summary_metric("likes_per_click")
    def likes_per_click(run: metrics.RunLog) -> float:
        """Likes per click (a toy)."""
        return float(run.log.stacked().liked.sum() / run.clicks)

    out = tmp_path / "run"
    assert main(["run", str(fast_config), "--out", str(out), "--quiet"]) == 0
    summary = json.loads((out / "summary.json").read_text())
    for stats in summary["agents"].values():
        assert set(stats["likes_per_click"]) == {"mean", "ci95"} and 0 <= stats["likes_per_click"]["mean"] <= 1
    with pytest.raises(Exception, match="already registered"):
        metrics.summary_metric("likes_per_click")(lambda run: 0.0)
