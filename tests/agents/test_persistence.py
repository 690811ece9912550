"""Save/load round trips of every trainable agent part, and clear errors for bad files."""

from __future__ import annotations

import numpy as np
import pytest

from agents import ExploitRecommender, make_agent, run_agent
from agents.errors import ModelFileError
from agents.items.sequence import SequenceItems
from agents.selectors import LLMTableSelector, MarkovSelector, ThompsonSelector, UCBSelector
from envs.logs import organic_logs
from tests.agents.conftest import obs_batch


@pytest.fixture(scope="module")
def logs(tiny):
    return organic_logs(tiny, 100, 20, seed=3)


def same_slates(a, b, world, steps=5):
    la = run_agent(a, world, 12, steps, seed=4)
    lb = run_agent(b, world, 12, steps, seed=4)
    np.testing.assert_array_equal(np.stack(la.slates), np.stack(lb.slates))


def test_exploit_round_trip(tiny, tmp_path):
    a = ExploitRecommender(tiny, seed=1)
    run_agent(a, tiny, 30, 25, seed=0)  # learn from its own logs
    assert a.stats.item_shown.sum() > 0
    path = a.save(tmp_path / "exploit.safetensors")
    b = ExploitRecommender(tiny, seed=1).load(path)
    np.testing.assert_array_equal(a.stats.item_positive, b.stats.item_positive)
    same_slates(a, b, tiny)


@pytest.mark.parametrize("name", ["ucb", "thompson", "hierarchical-random", "epsilon-greedy", "intrinsic"])
def test_agent_folder_round_trip(tiny, tmp_path, name):
    a = make_agent(name, tiny, seed=2)
    run_agent(a, tiny, 12, 20, seed=0)
    path = a.save(tmp_path / name)
    b = make_agent(name, tiny, seed=2).load(path)
    same_slates(a, b, tiny)


def test_markov_round_trip(tiny, logs, tmp_path):
    a = MarkovSelector(3, 2).fit(logs)
    b = MarkovSelector(3, 2).load(a.save(tmp_path / "markov.safetensors"))
    hist = np.array([[0, 1], [1, 0], [-1, 0]])
    window = np.full((3, 4), -1)
    np.testing.assert_array_equal(
        a.select(hist, window, np.random.default_rng(0)), b.select(hist, window, np.random.default_rng(0))
    )
    with pytest.raises(ModelFileError, match="context_length=2, but this MarkovSelector has context_length=3"):
        MarkovSelector(3, 3).load(tmp_path / "markov.safetensors")


def test_bandit_round_trip_keeps_what_it_learned(tmp_path):
    a = UCBSelector(5)
    a.update(np.array([1, 2]), np.array([1.0, 0.0]), np.array([True, True]), np.array([False, False]))
    b = UCBSelector(5).load(a.save(tmp_path / "ucb.safetensors"))
    np.testing.assert_array_equal(a.pulls, b.pulls)
    with pytest.raises(ModelFileError, match="holds a saved 'UCBSelector', not a 'ThompsonSelector'"):
        ThompsonSelector(5).load(tmp_path / "ucb.safetensors")


def test_sequence_model_round_trip_and_cluster_restriction(tiny, logs, tmp_path):
    seq = SequenceItems(tiny, dim=8).fit(logs, epochs=1)
    path = seq.save(tmp_path / "seq.safetensors")
    loaded = SequenceItems.from_path(tiny, path)
    _, obs = obs_batch(tiny, 6)
    clusters = np.array([0, 1, 2, 0, 1, 2])
    a = seq.select(obs, clusters, 2, np.random.default_rng(0))
    np.testing.assert_array_equal(a, loaded.select(obs, clusters, 2, np.random.default_rng(0)))
    np.testing.assert_array_equal(tiny.level.item_cluster[a], np.repeat(clusters[:, None], 2, axis=1))
    agent = make_agent("hierarchical-oracle", tiny, item_policy="sequence", item_model=path)
    assert isinstance(agent.item_policy, SequenceItems)


def test_missing_files_are_clear_errors(tiny, tmp_path):
    with pytest.raises(ModelFileError, match="no saved ExploitRecommender at"):
        ExploitRecommender(tiny).load(tmp_path / "missing.safetensors")
    with pytest.raises(ModelFileError, match="no transition table at"):
        make_agent("hierarchical-llm", tiny, table=tmp_path / "no-table")
    with pytest.raises(ModelFileError, match="no sequence model at"):
        make_agent("hierarchical-oracle", tiny, item_policy="sequence", item_model=tmp_path / "none.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match="not a readable safetensors file"):
        ExploitRecommender(tiny).load(tmp_path / "junk.safetensors")


def test_real_transition_table_loads_through_the_selector(tiny, tmp_path):
    table_mod = pytest.importorskip("llm.table")
    meta = table_mod.TableMeta("h", "d", 3, 2, 2, 1.0, 0, True, 9)
    answers = np.tile(np.array([[1, 2]], dtype=np.int32), (9, 1))
    table_mod.TransitionTable(answers, meta).save(tmp_path / "table")
    sel = LLMTableSelector.from_path(tmp_path / "table", 3)
    out = sel.select(np.array([[0, 0], [0, 1]]), np.array([[0, 0], [0, 1]]), np.random.default_rng(0))
    assert set(out.tolist()) <= {1, 2} and out[1] == 2  # 1 is in the second user's window


def test_a_selector_saved_before_the_context_length_rename_loads(logs, tmp_path):
    """Files written when the selector's L was called history_length still load."""
    from agents.persistence import load_arrays, save_arrays

    a = MarkovSelector(3, 2).fit(logs)
    path = a.save(tmp_path / "markov.safetensors")
    arrays, meta = load_arrays(path, "MarkovSelector")
    meta["history_length"] = meta.pop("context_length")
    old = save_arrays(tmp_path / "old.safetensors", "MarkovSelector", arrays, meta)
    b = MarkovSelector(3, 2).load(old)
    hist, window = np.array([[0, 1], [1, 0]]), np.full((2, 4), -1)
    np.testing.assert_array_equal(
        a.select(hist, window, np.random.default_rng(0)), b.select(hist, window, np.random.default_rng(0))
    )
