"""A stable-baselines3 item policy: trained in :mod:`agents.items.task`, served restricted to a cluster.

At serving time the policy reads ``features.user_features`` of each request and outputs a
proto-vector (deterministically); the cluster's members are scored against it. Saved as
SB3's own zip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agents.base import Trainable
from agents.errors import ConfigError, ModelFileError
from agents.items.base import ItemPolicy
from agents.items.features import proto_scores, user_features
from agents.items.task import ClusterItemVecEnv, task_spaces
from agents.persistence import require_file
from agents.types import Obs
from envs.world import World

ALGORITHMS = ("ppo", "a2c", "sac", "td3")


def algorithm_class(algo: str) -> Any:
    import stable_baselines3 as sb3

    classes = {"ppo": sb3.PPO, "a2c": sb3.A2C, "sac": sb3.SAC, "td3": sb3.TD3}
    if algo not in classes:
        raise ConfigError(f"unknown SB3 algorithm {algo!r}; choose one of {ALGORITHMS}")
    return classes[algo]


class SB3Items(ItemPolicy, Trainable):
    name = "ppo"
    suffix = ".zip"

    def __init__(self, world: World, model: Any) -> None:
        super().__init__(world)
        obs_space, act_space = task_spaces(world)
        if model.observation_space.shape != obs_space.shape or model.action_space.shape != act_space.shape:
            raise ModelFileError(
                f"the SB3 model expects observations {model.observation_space.shape} and actions "
                f"{model.action_space.shape}, but this world needs {obs_space.shape} and {act_space.shape}; "
                "train it in this world (train_item_policy)"
            )
        self.model = model
        self.name = type(model).__name__.lower()

    def scores(self, obs: Obs, clusters: np.ndarray, members: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        proto, _ = self.model.predict(user_features(self.world, obs, clusters), deterministic=True)
        return proto_scores(self.world, members, np.asarray(proto))

    @classmethod
    def from_path(cls, world: World, path: str | Path, algo: str = "ppo") -> SB3Items:
        path = require_file(
            path, "SB3 item policy", "train one with agents.items.sb3.train_item_policy(...).save(path)"
        )
        return cls(world, algorithm_class(algo).load(str(path), device="cpu"))

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.model.save(str(path))
        return path if path.suffix == ".zip" else path.with_suffix(path.suffix + ".zip")

    def load(self, path: str | Path) -> SB3Items:
        path = require_file(path, "SB3 item policy", "save one with SB3Items.save(path)")
        self.model = type(self.model).load(str(path), device="cpu")
        return self


def train_item_policy(
    world: World,
    total_timesteps: int = 50_000,
    algo: str = "ppo",
    seed: int = 0,
    n_envs: int = 16,
    explore_slots: int | None = None,
    latent_share: float = 0.5,
    algo_kwargs: dict[str, Any] | None = None,
    num_threads: int = 1,
    request_share: float = 1.0,
    context_length: int = 2,
) -> SB3Items:
    """Train an SB3 policy in the item task; same seed (and threads) → identical policy.
    ``explore_slots``, ``request_share`` and ``context_length`` should be those of the agent
    that will serve it (the task composes slates as that agent does)."""
    import torch

    torch.set_num_threads(num_threads)
    env = ClusterItemVecEnv(world, n_envs, explore_slots, latent_share, request_share, context_length)
    env.seed(seed)
    cls = algorithm_class(algo)
    kwargs: dict[str, Any] = {"n_steps": 64, "batch_size": 256, "learning_rate": 1e-3} if algo == "ppo" else {}
    kwargs.update(algo_kwargs or {})
    model = cls("MlpPolicy", env, seed=seed, device="cpu", verbose=0, **kwargs)
    model.learn(total_timesteps=total_timesteps)
    env.close()
    return SB3Items(world, model)
