"""The compiled exploit slots (agents.kernels) draw exactly what the numpy forms draw."""

from __future__ import annotations

import numpy as np
import pytest

import agents.exploit
import envs
from agents.exploit import ExploitConfig, ExploitRecommender
from envs.logs import organic_slates
from tests.helpers import assert_same


def _fill_both(world: envs.World, obs: dict[str, np.ndarray], n: int, config: ExploitConfig,
               monkeypatch: pytest.MonkeyPatch) -> tuple:
    recommender = ExploitRecommender(world, seed=0, config=config)
    recommender.retrain()
    out = []
    for compiled in (agents.exploit.compiled, None):
        monkeypatch.setattr(agents.exploit, "compiled", compiled)
        out.append(recommender.fill(obs, n, np.random.default_rng(7)))
    return tuple(out)


@pytest.mark.parametrize("n", [1, 4, 10])
@pytest.mark.parametrize("config", [ExploitConfig(), ExploitConfig(recency_decay=0.7, engagement_bonus=2.0)])
def test_compiled_exploit_slots_match_the_numpy_forms(
    default_world: envs.World, n: int, config: ExploitConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    if agents.exploit.compiled is None:
        pytest.skip("numba does not import here")
    env = envs.InterestExplorationVectorEnv(3000, world=default_world)
    obs, _ = env.reset(seed=1)
    rng = np.random.default_rng(0)
    for _ in range(3):  # windows with clicks, likes and empty slots
        obs, *_ = env.step(organic_slates(default_world, obs, rng, explore=0.3))
    obs["clusters"][:5] = -1  # users without a history draw popular clusters
    compiled, reference = _fill_both(default_world, obs, n, config, monkeypatch)
    assert_same(compiled, reference)
