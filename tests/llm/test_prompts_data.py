import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from llm import prompts
from llm.data import SFTData, build_sft_data
from llm.descriptions import as_descriptions
from llm.errors import ConfigError, DataError
from tests.llm.conftest import DESCRIPTIONS, M, rule_logs

words = st.from_regex(r"[a-z]{1,6}", fullmatch=True)
description = st.lists(words, min_size=1, max_size=3).map(" ".join)


@given(st.lists(description, min_size=1, max_size=4))
def test_prompt_is_prefix_plus_suffix(history):
    assert prompts.prompt(history) == prompts.prefix(history[:-1]) + prompts.suffix(history[-1], len(history) > 1)


@given(description)
def test_parse_answer_inverts_answer(target):
    assert prompts.parse_answer(prompts.answer(target) + " junk ; more") == target


def test_template_text():
    assert prompts.example(["jazz piano", "road cycling"], "trail running") == (
        "jazz piano ; road cycling -> trail running ."
    )


@pytest.mark.parametrize("bad", [[], ["ok", "ok"], ["Jazz"], ["two  spaces"], ["trailing "], "single"])
def test_bad_descriptions(bad):
    with pytest.raises((DataError, ConfigError)):
        as_descriptions(bad)


def _logs(rows):
    return pd.DataFrame(rows, columns=["user", "time", "item", "cluster", "engagement"])


def test_pipeline_steps_on_hand_made_logs():
    # user 0: 1 1 2 (3 neg) 4 1  -> positives without repeats: 1 2 4 1 -> windows (1,2)->4, (2,4)->1
    # user 1: 5 6 5              -> window (5,6)->5 is dropped (target in history)
    logs = _logs([(0, 0, 0, 1, 1), (0, 1, 0, 1, 1), (0, 2, 0, 2, 1), (0, 3, 0, 3, 0), (0, 4, 0, 4, 1),
                  (0, 5, 0, 1, 1), (1, 0, 0, 5, 1), (1, 1, 0, 6, 1), (1, 2, 0, 5, 1)])
    data = build_sft_data(logs, 8, split=(1.0, 0.0, 0.0), cap_per_history=None, cap_per_target=None)
    got = sorted(zip(map(tuple, data.train.histories.tolist()), data.train.targets.tolist(), strict=True))
    assert got == [((1, 2), 4), ((2, 4), 1)]
    assert data.stage_counts["after dropping repeats"] == 7


def test_first_time_only_keeps_discoveries():
    # user 0 positives 1 2 4 1 3: windows (1,2)->4 first time, (2,4)->1 a return, (4,1)->3 first time
    logs = _logs([(0, t, 0, c, 1) for t, c in enumerate([1, 2, 4, 1, 3])])
    kwargs = {"split": (1.0, 0.0, 0.0), "cap_per_history": None, "cap_per_target": None}
    every = build_sft_data(logs, 8, **kwargs)
    first = build_sft_data(logs, 8, first_time_only=True, **kwargs)
    assert sorted(every.train.targets.tolist()) == [1, 3, 4]
    got = sorted(zip(map(tuple, first.train.histories.tolist()), first.train.targets.tolist(), strict=True))
    assert got == [((1, 2), 4), ((4, 1), 3)]


def test_min_returns_keeps_targets_the_user_came_back_to():
    # user 0 positives 1 2 4 5 4 6 4: (1,2)->4 and later two more 4s; (2,4)->5 once; (5,4) is a repeat of 4...
    logs = _logs([(0, t, 0, c, 1) for t, c in enumerate([1, 2, 4, 5, 4, 6, 4])])
    kwargs = {"split": (1.0, 0.0, 0.0), "cap_per_history": None, "cap_per_target": None, "first_time_only": True}
    once = build_sft_data(logs, 8, min_returns=1, **kwargs)
    twice = build_sft_data(logs, 8, min_returns=2, **kwargs)
    assert sorted(once.train.targets.tolist()) == [4]  # 5 and 6 were one-offs
    assert twice.train.targets.tolist() == [4] and twice.train.histories.tolist() == [[1, 2]]
    assert build_sft_data(logs, 8, min_returns=0, **kwargs).train.targets.tolist() == [4, 5, 6]
    assert twice.stage_counts["target engaged again >= 2 times"] == 1


def test_balancing_caps_and_lowers_concentration():
    rng = np.random.default_rng(0)
    n = 3000
    c1 = rng.integers(0, M, n)
    c2 = (c1 + rng.integers(1, M, n)) % M
    t = np.where(rng.random(n) < 0.7, 0, rng.integers(0, M, n))  # cluster 0 dominates
    ok = (t != c1) & (t != c2)
    c = np.stack([c1[ok], c2[ok], t[ok]], 1)
    k = len(c)
    logs = pd.DataFrame({"user": np.repeat(np.arange(k), 3), "time": np.tile(np.arange(3), k), "item": 0,
                         "cluster": c.ravel(), "engagement": 1})
    data = build_sft_data(logs, DESCRIPTIONS, cap_per_target=50, cap_per_history=2, seed=1)
    all_t = np.concatenate([data.train.targets, data.val.targets, data.test.targets])
    assert np.bincount(all_t).max() <= 50
    assert data.after.top_target_share < data.before.top_target_share
    off = build_sft_data(logs, DESCRIPTIONS, cap_per_target=None, cap_per_history=None, seed=1)
    assert off.after == off.before and off.stage_counts["after balancing"] == off.stage_counts[
        "target not in history"]
    assert "before balancing" in data.summary()


def test_split_is_by_history_and_seeded(tmp_path):
    a = build_sft_data(rule_logs(2000), M, seed=5)
    b = build_sft_data(rule_logs(2000), M, seed=5)
    np.testing.assert_array_equal(a.test.histories, b.test.histories)
    keys = [{tuple(h) for h in s.histories.tolist()} for s in (a.train, a.val, a.test)]
    assert not keys[0] & keys[1] and not keys[0] & keys[2] and not keys[1] & keys[2]
    loaded = SFTData.load(a.save(tmp_path / "d.npz"))
    np.testing.assert_array_equal(loaded.train.targets, a.train.targets)
    assert loaded.after == a.after


def test_reads_parquet_and_csv(tmp_path):
    logs = rule_logs(200)
    logs.to_parquet(tmp_path / "l.parquet")
    logs.to_csv(tmp_path / "l.csv", index=False)
    a = build_sft_data(tmp_path / "l.parquet", M)
    b = build_sft_data(tmp_path / "l.csv", M)
    np.testing.assert_array_equal(a.train.histories, b.train.histories)


@pytest.mark.parametrize(
    ("logs", "message"),
    [
        (_logs([]), "empty"),
        (pd.DataFrame({"user": [0], "cluster": [1]}), "lack the columns"),
        (_logs([(0, 0, 0, 99, 1)]), "cluster 99"),
        (_logs([(0, 0, 0, -1, 1)]), "cluster -1"),
        (_logs([(0, 0, 0, 1, 2)]), "engagement 2"),
        (_logs([(0, 0, 0, 1.5, 1)]), "integer cluster"),
        (_logs([(0, 0, 0, 1, 1), (0, 1, 0, 2, 1)]), "no transition"),
        ("missing.parquet", "no log file"),
    ],
)
def test_bad_logs(logs, message):
    with pytest.raises(DataError, match=message):
        build_sft_data(logs, M)


def test_bad_config():
    with pytest.raises(ConfigError, match="split"):
        build_sft_data(rule_logs(50), M, split=(0.5, 0.5, 0.5))
    with pytest.raises(ConfigError, match="cap_per_target"):
        build_sft_data(rule_logs(50), M, cap_per_target=0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"log_pairs_share": 1.0}, "log_pairs_share"),
        ({"log_pairs_share": 0.8, "knowledge_fidelity": 1.0, "knowledge_replay": 0.3}, "knowledge_replay"),
    ],
)
def test_bad_train_config_names_the_field(fields, message):
    from llm.config import TrainConfig

    with pytest.raises(ConfigError, match=message):
        TrainConfig(**fields)
    TrainConfig(log_pairs_share=0.8)  # without knowledge nothing is replayed: the logs keep 20 %


def test_history_pairs_in_random_contexts_keep_each_source_and_target():
    """Every (history cluster, target) pair of the examples, each in ``contexts`` random
    histories that hold its source at some position; the same generator seed gives the same."""
    from llm.data import Transitions, history_pairs, in_random_contexts

    t = Transitions(np.array([[1, 2], [3, 4]]), np.array([5, 6]))
    pairs = history_pairs(t)
    assert sorted(map(tuple, pairs.tolist())) == [(1, 5), (2, 5), (3, 6), (4, 6)]
    out = in_random_contexts(pairs, M, 8, 3, np.random.default_rng(0))
    assert out.histories.shape == (32, 3) and out.histories.max() < M
    sources = np.repeat(pairs[:, 0], 8)
    assert (out.histories == sources[:, None]).any(axis=1).all()
    np.testing.assert_array_equal(out.targets, np.repeat(pairs[:, 1], 8))
    again = in_random_contexts(pairs, M, 8, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(out.histories, again.histories)
    with pytest.raises(ConfigError, match="contexts"):
        in_random_contexts(pairs, M, 0, 3, np.random.default_rng(0))


def test_journey_statements_say_the_semantic_journeys_at_their_fidelity() -> None:
    """llm.knowledge: fidelity 1 states each source's semantic neighbours; 0 as many statements
    naming random other sources (no knowledge); the same for a seed; out of range, or a world
    whose journeys follow no words, refused."""
    import numpy as np
    import pytest

    import envs
    from envs import journeys
    from llm.errors import ConfigError
    from llm.knowledge import journey_statements

    world = envs.make_world("default", journey_semantic_share=1.0)
    names, k = world.taxonomy.topics, world.config.journeys_per_source
    truth = {f"{names[a]} leads to {names[b]}" for a, row in enumerate(journeys.semantic_neighbours(world)[:, :k])
             for b in row}
    full, none = journey_statements(world, 1.0), journey_statements(world, 0.0)
    assert set(full) == truth and len(full) == len(none) == len(names) * k
    assert np.mean([s in truth for s in none]) < 0.05
    assert all(s.split(" leads to ")[0] != s.split(" leads to ")[1] for s in none)
    half = journey_statements(world, 0.5, seed=3)
    assert half == journey_statements(world, 0.5, seed=3) and 0.35 < np.mean([s in truth for s in half]) < 0.65
    with pytest.raises(ValueError, match="fidelity"):
        journey_statements(world, 1.2)
    with pytest.raises(ConfigError, match="journey_semantic_share=None"):  # v2's journeys follow no words
        journey_statements(envs.make_world("v2"), 1.0)


def test_prompt_form_knowledge_is_the_sentences_in_the_prompt_template() -> None:
    """The prompt form writes every (source, target) pair of the sentence form, with the same
    fidelity, as prompt + answer with the source somewhere in a history of L clusters, each pair
    ``contexts`` times; world_texts appends it only when a fidelity is set."""

    import envs
    from llm import prompts
    from llm.config import LLMConfig
    from llm.knowledge import journey_statements
    from llm.pipeline import world_texts

    world = envs.make_world("default", journey_semantic_share=1.0)
    names = set(world.taxonomy.topics)
    sentences = journey_statements(world, 0.7, seed=2)
    lines = journey_statements(world, 0.7, seed=2, form="prompt", contexts=3, context_length=3)
    assert len(lines) == 3 * len(sentences)
    for i, line in enumerate(lines):
        head, target = line.split(prompts.ANSWER_MARK + " ")
        history = head.split(prompts.HISTORY_SEPARATOR)
        source, said = sentences[i // 3].split(" leads to ")
        assert len(history) == 3 and set(history) <= names and source in history and target == said
        assert line + prompts.END_MARK == prompts.example(history, target)
    config = LLMConfig.from_dict({"train": {"knowledge_fidelity": 1.0, "knowledge_contexts": 2}})
    plain, known = world_texts(world), world_texts(world, config)
    assert known[: len(plain)] == plain and len(known) == len(plain) + 2 * len(sentences)


def test_knowledge_is_carried_to_coarser_and_finer_cluster_levels() -> None:
    """Topic journeys stated at the domain level name the domains holding the two topics (never a
    domain leading to itself); at the subtopic level every subtopic of a source leads to a
    subtopic of its target. Same seed, same pairs."""
    import numpy as np

    import envs
    from llm.knowledge import cluster_pairs

    topic_world = envs.make_world("default", journey_semantic_share=1.0)
    topic_pairs = {tuple(p) for p in cluster_pairs(topic_world, 1.0).tolist()}
    topic_of_item = topic_world.clusters.level("topic").item_cluster
    for level in ("domain", "subtopic"):
        world = envs.make_world("default", journey_semantic_share=1.0, cluster_level=level)
        pairs = cluster_pairs(world, 1.0, seed=4)
        np.testing.assert_array_equal(pairs, cluster_pairs(world, 1.0, seed=4))
        assert len(pairs) and (pairs[:, 0] != pairs[:, 1]).all()
        assert pairs.max() < world.level.n_clusters
        topics_of = [set(topic_of_item[world.level.item_cluster == c].tolist()) for c in range(world.level.n_clusters)]
        for a, b in pairs.tolist():  # some stated topic pair joins the two clusters
            assert any((s, t) in topic_pairs for s in topics_of[a] for t in topics_of[b])
    subtopic_world = envs.make_world("default", journey_semantic_share=1.0, cluster_level="subtopic")
    sources = {a for a, _ in cluster_pairs(subtopic_world, 1.0).tolist()}
    assert len(sources) > 4 * len({a for a, _ in topic_pairs})  # every subtopic of a source speaks
