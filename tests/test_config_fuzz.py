"""Every config class of the project checks its fields where it is made: random field/value
pairs give a valid object whose fields hold their annotated types, or a ConfigError naming the
field, and nothing else (no TypeError from a comparison, no later surprise)."""

from __future__ import annotations

import dataclasses
import typing

import numpy as np
import pytest

import envs
from agents.exploit import ExploitConfig
from envs.errors import ConfigError
from envs.typed import convert
from experiments import config as run_config
from experiments.reallogs.study import RealConfig
from llm import config as llm_config

CLASSES = [
    envs.WorldConfig, ExploitConfig,
    llm_config.ModelConfig, llm_config.DataConfig, llm_config.TrainConfig, llm_config.GenerationConfig,
    llm_config.LLMConfig,
    run_config.WorldSection, run_config.RecSimNGSection, run_config.EvalSection, run_config.LogsSection,
    run_config.LLMSection, run_config.AgentDefaults, run_config.AgentSpec, run_config.ReportSection,
    run_config.RunConfig, RealConfig,
]
VALUES: list[object] = [
    None, True, False, 0, 1, -1, 3, 0.0, 0.5, -0.5, 1.5, float("nan"), float("inf"), "x", "mnl", "drop",
    "default", "organic", "topic", [], [1], [0.2, 0.9], (0.8, 0.1, 0.1), {}, {"name": "exploit"}, [{"name": "x"}],
    {"domains": []}, ("a",), object(), b"bytes", 10**30,
]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_random_fields_give_a_config_or_a_config_error(cls) -> None:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    rng = np.random.default_rng(0)
    accepted = 0
    for _ in range(1000):
        name, value = names[rng.integers(len(names))], VALUES[rng.integers(len(VALUES))]
        try:
            config = cls(**{name: value})
        except ConfigError as exc:
            assert name in str(exc), f"{cls.__name__}({name}={value!r}): {exc}"
            continue
        accepted += 1
        for field in names:  # every field holds a value of its annotated type
            assert convert(hints[field], getattr(config, field), field) == getattr(config, field) or (
                getattr(config, field) != getattr(config, field)  # NaN
            )
    assert accepted < 1000


def test_the_renamed_context_length_is_named_in_the_error(tmp_path) -> None:
    """Configs and calls written when the selector's context L was called history_length get an
    error that says it was renamed, wherever they give it."""
    import envs
    from agents import make_agent
    from experiments.config import config_from_dict

    with pytest.raises(ConfigError, match="'history_length' was renamed 'context_length'"):
        config_from_dict({"agent": {"history_length": 2}})
    with pytest.raises(ConfigError, match="'history_length' was renamed 'context_length'"):
        llm_config.LLMConfig.from_dict({"data": {"history_length": 2}})
    with pytest.raises(ConfigError, match="renamed context_length"):
        make_agent("hierarchical-random", envs.make_world("tiny"), history_length=2)
    assert config_from_dict({"agent": {"context_length": 3}, "world": {"history_length": 12}}).agent.context_length == 3


def test_recsim_parameters_live_in_the_recsim_dynamics_section() -> None:
    """RecSim's five parameters are the recsim dynamics' own typed section; the old
    WorldConfig fields get an error naming the new place, from code and from files."""
    import envs
    from envs.recsim import RecSimParams
    from experiments.config import config_from_dict

    world = envs.make_world("recsim-interest-evolution", dynamics_params={"budget": 50.0})
    assert world.params == RecSimParams(budget=50.0)
    assert world.observation_space["session"].high[0] == 50.0
    with pytest.raises(ConfigError, match=r"recsim_budget.*dynamics_params=\{'budget'"):
        envs.make_world("recsim-interest-evolution", recsim_budget=50.0)
    with pytest.raises(ConfigError, match=r"recsim_alpha.*dynamics_params"):
        config_from_dict({"world": {"preset": "recsim-interest-evolution", "recsim_alpha": 0.3}})
    with pytest.raises(ConfigError, match=r"RecSimParams\.budget"):
        envs.make_world("recsim-interest-evolution", dynamics_params={"budget": -1.0})
