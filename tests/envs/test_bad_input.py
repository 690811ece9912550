"""Bad configuration and bad actions get typed errors that name the value and the fix."""

from __future__ import annotations

import numpy as np
import pytest

import envs
from envs import ActionError, ConfigError, StateError
from envs.state import map_rows


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"n_items": 0}, "n_items=0"),
        ({"n_items": -5}, "n_items=-5"),
        ({"slate_size": 0}, "slate_size=0"),
        ({"embedding_dim": 2.5}, "embedding_dim=2.5"),
        ({"affinity_width": float("nan")}, "affinity_width"),
        ({"cluster_level": "galaxy"}, "galaxy"),
        ({"cluster_level": 10**9}, "cluster_level=1000000000"),
        ({"choice_model": "softmax"}, "softmax"),
        ({"reward": "money"}, "money"),
        ({"slate_size": 50, "n_items": 10}, "slate_size=50"),
        ({"churn_rate": 2.0}, "churn_rate"),
        ({"nonexistent_field": 1}, "nonexistent_field"),
    ],
)
def test_invalid_config_is_rejected(overrides: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        envs.make_world("tiny", **overrides)


def test_unknown_preset_names_the_choices() -> None:
    with pytest.raises(ConfigError, match=r"unknown preset 'huge'.*default"):
        envs.make_world("huge")


def test_unknown_level_on_request(tiny_world: envs.World) -> None:
    with pytest.raises(ConfigError, match="unknown cluster level 'planet'"):
        tiny_world.clusters.level("planet")
    with pytest.raises(ConfigError, match="K=31"):
        tiny_world.clusters.level(31)


def test_bad_taxonomy_file(tmp_path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match="does not exist"):
        envs.make_world("tiny", taxonomy_data=None, taxonomy=str(missing), fixed_anchors=None)
    bad = tmp_path / "bad.json"
    bad.write_text('{"domains": [{"name": "Music!", "topics": []}]}')
    with pytest.raises(ConfigError, match="Music!"):
        envs.Taxonomy.load(bad)
    dup = {"domains": [{"name": "a", "topics": [
        {"name": "b", "subtopics": [{"name": "c"}, {"name": "c"}]}]}]}
    with pytest.raises(ConfigError, match="'c' appears twice"):
        envs.Taxonomy.from_dict(dup)


@pytest.fixture
def vec(tiny_world: envs.World) -> envs.InterestExplorationVectorEnv:
    env = envs.InterestExplorationVectorEnv(2, world=tiny_world)
    env.reset(seed=0)
    return env


@pytest.mark.parametrize(
    ("slate", "match"),
    [
        (np.array([[0, 1, 2], [3, 4, 30]]), r"slate\[1, 2\] = 30"),
        (np.array([[0, 1, 2], [-1, 4, 5]]), r"slate\[1, 0\] = -1"),
        (np.array([[0, 1, 1], [3, 4, 5]]), "repeats an item"),
        (np.array([[0, 1, 2]]), r"shape \(1, 3\); expected \(2, 3\)"),
        (np.array([[0.0, 1.0, np.nan], [3, 4, 5]]), "NaN"),
        (np.array([[0.5, 1, 2], [3, 4, 5]]), "integer item ids"),
        (np.array([["a", "b", "c"], ["d", "e", "f"]]), "integer item ids"),
    ],
)
def test_invalid_slate_is_rejected(vec: envs.InterestExplorationVectorEnv, slate: np.ndarray, match: str) -> None:
    with pytest.raises(ActionError, match=match):
        vec.step(slate)


def test_invalid_slate_leaves_state_untouched(vec: envs.InterestExplorationVectorEnv) -> None:
    before = vec.state
    with pytest.raises(ActionError):
        vec.step(np.array([[0, 1, 2], [3, 4, 4]]))  # only the last user's slate is bad
    map_rows(np.testing.assert_array_equal, vec.state, before)


def test_step_before_reset_and_after_end(tiny_world: envs.World) -> None:
    env = envs.InterestExplorationEnv(world=tiny_world)
    with pytest.raises(StateError, match="before reset"):
        env.step(np.array([0, 1, 2]))
    env.reset(seed=0)
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(np.array([20, 21, 22]))
        done = terminated or truncated
    with pytest.raises(StateError, match="after the episode ended"):
        env.step(np.array([0, 1, 2]))
    with pytest.raises(StateError, match="before reset"):
        envs.InterestExplorationVectorEnv(2, world=tiny_world).step(np.zeros((2, 3), dtype=int))


def test_float_integral_slates_are_accepted(vec: envs.InterestExplorationVectorEnv) -> None:
    vec.step(np.array([[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]))


def test_world_config_fuzz_gives_a_config_or_a_config_error() -> None:
    """1,000 random field/value pairs: each gives a WorldConfig whose fields hold their annotated
    types, or a ConfigError that names the field; nothing else (no TypeError, no later surprise)."""
    import dataclasses
    import typing

    from envs.typed import convert

    values: list[object] = [
        None, True, False, 0, 1, -1, 3, 0.0, 0.5, -0.5, 1.5, float("nan"), float("inf"), "x", "mnl",
        "proportional", "subtopic", "watch_time", [], [1], [0.2, 0.9], (0.9, 0.2), {}, {"domains": []},
        ("a",), (("a",), ("b",)), object(), b"bytes", 10**30,
    ]
    hints = typing.get_type_hints(envs.WorldConfig)
    names = [f.name for f in dataclasses.fields(envs.WorldConfig)]
    rng = np.random.default_rng(0)
    accepted = 0
    for _ in range(1000):
        name, value = names[rng.integers(len(names))], values[rng.integers(len(values))]
        try:
            config = envs.WorldConfig(**{name: value})
        except ConfigError as exc:
            assert f"WorldConfig.{name}" in str(exc) or "WorldConfig." in str(exc)
            continue
        accepted += 1
        for field in names:  # every field now holds a value of its annotated type
            assert convert(hints[field], getattr(config, field), field) == getattr(config, field)
    assert 0 < accepted < 1000


def test_atomic_writes_get_the_mode_a_plain_open_gives(tmp_path):
    import os

    from envs.files import atomic_write

    plain, atomic = tmp_path / "plain.txt", tmp_path / "atomic.txt"
    plain.write_text("x")
    atomic_write(atomic, lambda p: p.write_text("x"))
    assert os.stat(atomic).st_mode == os.stat(plain).st_mode
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary left
