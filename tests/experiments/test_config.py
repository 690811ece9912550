"""Configs: typed sections, --set overrides, errors naming the dotted path of the bad field."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from envs.errors import ConfigError
from experiments.config import CONFIG_DIR, apply_overrides, config_from_dict, load_config, load_raw


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIG_DIR.glob("*.toml")))
def test_every_shipped_config_loads(name: str) -> None:
    cfg = load_config(name)
    assert cfg.agents
    if cfg.recsim_ng is not None:
        pytest.importorskip("recsim_ng", reason="the recsim_ng config needs the `recsim-ng` extra")
    cfg.build_world()


def test_overrides_reach_typed_fields() -> None:
    cfg = load_config("tiny", ["agent.explore_slots=2", "eval.seeds=[3, 4]", "world.slate_size=2",
                               "agents[0].label='baseline'", "llm.balance=false"])
    assert cfg.agent.explore_slots == 2 and cfg.eval.seeds == [3, 4]
    assert cfg.world.overrides["slate_size"] == 2 and cfg.world.build().config.slate_size == 2
    assert cfg.agents[0].display_name == "baseline" and cfg.llm.balance is False
    assert cfg.agent_kwargs(cfg.agents[1])["explore_slots"] == 2
    assert "explore_slots" not in cfg.agent_kwargs(cfg.agents[0])  # exploit is not hierarchical


@pytest.mark.parametrize(
    ("assignment", "match"),
    [
        ("eval.n_userz=3", "eval.n_userz"),
        ("agent.explore_slots='two'", "agent.explore_slots='two' must be an integer"),
        ("world.n_itemz=3", "world.n_itemz"),
        ("world.n_items=-4", "n_items=-4"),
        ("world.preset='huge'", "unknown preset 'huge'"),
        ("agents[7].name=x", "agents has 4 entries, no index 7"),
        ("logs.policy='greedy'", "logs.policy='greedy' is invalid"),
        ("eval.seeds=[]", "eval.seeds is empty"),
        ("report.plots=3", "report.plots=3 must be true or false"),
        ("nonsense", "must look like field.path=value"),
    ],
)
def test_bad_values_name_the_field(assignment: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config("tiny", [assignment]).world.build()


def test_unknown_top_level_section() -> None:
    raw = load_raw("tiny") | {"agnets": []}
    with pytest.raises(ConfigError, match="unknown config key 'agnets'"):
        config_from_dict(raw)


def test_duplicate_agent_names_need_labels() -> None:
    raw = apply_overrides(load_raw("tiny"), ["agents[1].name='exploit'"])
    with pytest.raises(ConfigError, match=r"exploit.*distinct `label`s"):
        config_from_dict(raw)


def test_missing_and_malformed_files(tmp_path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = [unclosed")
    with pytest.raises(ConfigError, match="could not be parsed"):
        load_config(bad)


def test_config_round_trips_through_its_dict() -> None:
    cfg = load_config("quickstart")
    again = config_from_dict(cfg.to_dict())
    assert again == cfg and again.fingerprint() == cfg.fingerprint()


def test_a_folder_named_like_a_shipped_config_does_not_hide_it(tmp_path, monkeypatch):
    """`noveltygym paper --out paper` makes a folder ./paper before it loads the config 'paper'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tiny").mkdir()
    assert load_raw("tiny") == load_raw(CONFIG_DIR / "tiny.toml")


def test_a_config_extends_another_table_by_table(tmp_path: Path) -> None:
    (tmp_path / "base.toml").write_text(
        'name = "base"\n[world]\npreset = "tiny"\n[eval]\nn_users = 64\nn_steps = 20\nseeds = [0, 1]\n'
        '[[agents]]\nname = "exploit"\n[[agents]]\nname = "random"\n'
    )
    (tmp_path / "child.toml").write_text(
        'extends = "base.toml"\nname = "child"\n[eval]\nn_steps = 5\n[[agents]]\nname = "popularity"\n'
    )
    cfg = load_config(tmp_path / "child.toml")
    assert cfg.name == "child" and cfg.world.preset == "tiny"
    assert (cfg.eval.n_users, cfg.eval.n_steps, cfg.eval.seeds) == (64, 5, [0, 1])  # merged key by key
    assert [a.name for a in cfg.agents] == ["popularity"]  # a list replaces the base's whole
    # A bare name extends a shipped config.
    (tmp_path / "shipped.toml").write_text('extends = "tiny"\n[eval]\nseeds = [7]\n')
    assert load_config(tmp_path / "shipped.toml").eval.seeds == [7]
    assert load_config(tmp_path / "shipped.toml").world == load_config("tiny").world


def test_shipped_configs_of_the_default_world_share_its_settings() -> None:
    default = load_config("default")
    for name in ("quickstart", "paper", "predictability"):
        cfg = load_config(name)
        assert cfg.world == default.world and cfg.agent == default.agent
        assert cfg.llm.settings["train"]["knowledge_fidelity"] == default.llm.settings["train"]["knowledge_fidelity"]
    assert load_config("paper").agents == load_config("quickstart").agents


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.toml": 'extends = "b.toml"\n', "b.toml": 'extends = "a.toml"\n'}, "extends itself"),
        ({"a.toml": "extends = 3\n"}, "extends must be a config name or path, got 3"),
        ({"a.toml": 'extends = "nowhere.toml"\n'}, "'nowhere.toml' (extended by "),
    ],
)
def test_a_bad_extends_is_named(tmp_path: Path, files: dict[str, str], message: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_raw(tmp_path / "a.toml")


def test_the_readme_config_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    example = readme.split("## A config", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "my-study.toml").write_text(example)
    cfg = load_config(tmp_path / "my-study.toml")
    assert cfg.name == "my-study" and cfg.world.overrides == {"journey_predictability": 0.5}
    train, default_train = cfg.llm.settings["train"], load_config("default").llm.settings["train"]
    assert train["knowledge_fidelity"] == default_train["knowledge_fidelity"]  # what it does not set comes from default
