"""The task an RL item policy learns in: pick items inside a given cluster for a simulated user.

Every request names a target cluster (a random novel one, or with ``latent_share`` one of the
user's hidden latent interests: the simulator chooses the curriculum, the policy never sees the
hidden state). The action is a proto-vector in item-feature space (``features.item_features``);
the ``explore_slots`` members of the target cluster scoring highest against it fill those
slots, and the slate is composed as the hierarchical agent composes it when serving
(``agents.hierarchical.compose_slates``: the same exploit fill, ``request_share`` of requests
exploring, the same context of ``context_length`` positive clusters), so the policy is
trained under the rules it is served under. The reward is the world's reward (watch time by
default) of a click on one of the policy's items, else 0.

One batched core (:class:`ItemTask`, B users of a vector env), two front doors
(STYLE.md #2): :class:`ClusterItemEnv` (gymnasium, one user, for the env checkers) and
:class:`ClusterItemVecEnv` (stable-baselines3 ``VecEnv``, B users stepped as arrays).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from agents import compiled
from agents.errors import ConfigError, StateError
from agents.exploit import ExploitRecommender
from agents.hierarchical import compose_slates, default_explore_slots, exploring_rows
from agents.items.features import item_features, proto_scores, user_feature_dim, user_features
from agents.observations import last_distinct, positive_window
from agents.sampling import padded_members, top_k_members
from agents.selectors.oracle import OracleSelector
from agents.selectors.random_novel import RandomNovelSelector
from agents.types import Obs
from envs.env import InterestExplorationVectorEnv
from envs.world import World


def task_spaces(world: World) -> tuple[spaces.Box, spaces.Box]:
    """(observation space, action space) of one user."""
    obs = spaces.Box(-np.inf, np.inf, shape=(user_feature_dim(world),), dtype=np.float32)
    act = spaces.Box(-1.0, 1.0, shape=(item_features(world).shape[1],), dtype=np.float32)
    return obs, act


TASK_STREAM = 7
"""Second word of the seed of the task's own draws ([seed, this]): apart from the env's stream
of the same seed. Any fixed number."""


class ItemTask:
    """B users, batched; see the module docstring."""

    def __init__(self, world: World, n_users: int, explore_slots: int | None = None, latent_share: float = 0.5,
                 request_share: float = 1.0, context_length: int = 2) -> None:
        s = world.config.slate_size
        self.k = default_explore_slots(s) if explore_slots is None else explore_slots
        if not 1 <= self.k <= s:
            raise ConfigError(f"explore_slots={explore_slots!r} must lie in [1, slate_size={s}]")
        if not 0.0 <= latent_share <= 1.0:
            raise ConfigError(f"latent_share={latent_share!r} must lie in [0, 1]")
        if not 0.0 < request_share <= 1.0:
            raise ConfigError(f"request_share={request_share!r} must lie in (0, 1] (a task that never explores "
                              "teaches nothing)")
        if isinstance(context_length, bool) or not isinstance(context_length, int) or context_length < 1:
            raise ConfigError(f"context_length={context_length!r} must be a positive integer")
        self.request_share, self.context_length = request_share, context_length
        if not world.dynamics.has_latent_interests:
            latent_share = 0.0  # e.g. RecSim users
        self.world = world
        self.n_users = n_users
        self.latent_share = latent_share
        self.env = InterestExplorationVectorEnv(n_users, world=world)
        self.exploit = ExploitRecommender(world)  # a fixed fill: the task does not learn it
        self.members = padded_members(world.level)
        self.novel = RandomNovelSelector(world.level.n_clusters)
        self.oracle = OracleSelector(world)
        self.oracle.bind(self.env)
        self.rng = np.random.default_rng(0)
        self.obs: Obs | None = None
        self.targets = np.zeros(n_users, dtype=np.int64)

    def _draw_targets(self, obs: Obs) -> np.ndarray:
        window = obs["clusters"]
        history = last_distinct(positive_window(obs), self.context_length)  # what the agent's selectors read
        targets = self.novel.select(history, window, self.rng)
        if self.latent_share > 0:
            latent = self.oracle.select(history, window, self.rng)
            targets = np.where(self.rng.random(len(window)) < self.latent_share, latent, targets)
        return targets

    def reset(self, seed: int) -> np.ndarray:
        """(B, F) features of the first requests."""
        obs, _ = self.env.reset(seed=seed)
        self.rng = np.random.default_rng([seed, TASK_STREAM])
        self.obs = obs
        self.targets = self._draw_targets(obs)
        return user_features(self.world, obs, self.targets)

    def step(self, proto: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Serve the proto-vectors (B, D + 2); returns (next features, reward, terminated,
        truncated, final features of the users that ended (rows of the others repeat))."""
        if self.obs is None:
            raise StateError("step() called before reset(); reset the task first")
        obs, rng = self.obs, self.rng
        members = self.members[self.targets]
        chosen = top_k_members(members, proto_scores(self.world, members, np.asarray(proto)), self.k, obs["items"])
        explores = exploring_rows(rng, len(chosen), self.request_share)
        slates, fixed = compose_slates(self.exploit, obs, self.k, self.targets, explores, lambda: chosen, rng,
                                       compiled.enabled(self.exploit.backend))
        next_obs, reward, terminated, truncated, info = self.env.step(slates)
        shown = (slates == np.asarray(info["item"])[:, None]) & fixed  # the click, on one of the policy's items
        hit = shown.any(axis=1) & np.asarray(info["clicked"])
        final = user_features(self.world, info["final_obs"], self.targets) if "final_obs" in info else None
        self.obs = next_obs
        self.targets = self._draw_targets(next_obs)
        feats = user_features(self.world, next_obs, self.targets)
        return (
            feats,
            np.where(hit, reward, 0.0).astype(np.float32),
            terminated,
            truncated,
            (feats if final is None else final),
        )

    def close(self) -> None:
        self.env.close()


class ClusterItemEnv(gym.Env[np.ndarray, np.ndarray]):
    """One user of :class:`ItemTask`, for gymnasium's and SB3's env checkers.

    ## Action Space
    ``Box(-1, 1, (D + 2,))``: a proto-vector scored against the target cluster's items.

    ## Observation Space
    ``Box(-inf, inf, (3D + 2,))``: ``features.user_features`` of the request.

    ## Rewards
    The world's reward (watch time) of a click on one of the policy's items, else 0.

    ## Starting State
    A new user of the world with a target cluster.

    ## Episode End
    When the user's episode in the world ends (churn: terminated; horizon: truncated).

    ## Arguments
    ``world``, ``explore_slots`` (default: the hierarchical agent's, 10 % of the slate),
    ``latent_share``, ``request_share``, ``context_length`` (as the agent that will serve it).

    ## Version History
    * v0: initial release.

    >>> import envs
    >>> env = ClusterItemEnv(envs.make_world("tiny"))
    >>> obs, info = env.reset(seed=0)
    >>> obs.shape
    (14,)
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(self, world: World, explore_slots: int | None = None, latent_share: float = 0.5,
                 request_share: float = 1.0, context_length: int = 2) -> None:
        self.task = ItemTask(world, 1, explore_slots, latent_share, request_share, context_length)
        self.observation_space, self.action_space = task_spaces(world)
        self._done = True

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._done = False
        return self.task.reset(int(self.np_random.integers(0, 2**31 - 1)))[0], {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._done:
            raise StateError("step() called after the episode ended (or before reset); call reset()")
        feats, reward, term, trunc, final = self.task.step(np.asarray(action, dtype=np.float32)[None])
        self._done = bool(term[0] or trunc[0])
        return (final if self._done else feats)[0], float(reward[0]), bool(term[0]), bool(trunc[0]), {}

    def close(self) -> None:
        self.task.close()


def _vec_env_base() -> Any:
    from stable_baselines3.common.vec_env import VecEnv

    return VecEnv


class ClusterItemVecEnv(_vec_env_base()):  # type: ignore[misc]
    """B users of :class:`ItemTask` as a stable-baselines3 ``VecEnv`` (arrays, no Python loop
    over users; episodes restart automatically, with ``terminal_observation`` in the info)."""

    def __init__(
        self, world: World, n_envs: int = 16, explore_slots: int | None = None, latent_share: float = 0.5,
        request_share: float = 1.0, context_length: int = 2,
    ) -> None:
        self.task = ItemTask(world, n_envs, explore_slots, latent_share, request_share, context_length)
        obs_space, act_space = task_spaces(world)
        self.render_mode = None  # SB3's VecEnv asks every env for it; this one never renders
        super().__init__(n_envs, obs_space, act_space)
        self._seed = 0
        self._actions: np.ndarray | None = None

    def seed(self, seed: int | None = None) -> list[int | None]:
        self._seed = 0 if seed is None else int(seed)
        return [seed] * self.num_envs

    def reset(self) -> np.ndarray:
        return self.task.reset(self._seed)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions, dtype=np.float32)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        if self._actions is None:
            raise StateError("step_wait() called before step_async(); SB3 calls them in pairs")
        feats, reward, term, trunc, final = self.task.step(self._actions)
        done = term | trunc
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for i in np.flatnonzero(done):  # only the few users whose episode ended this step
            infos[i] = {"terminal_observation": final[i], "TimeLimit.truncated": bool(trunc[i] and not term[i])}
        return feats, reward, done, infos

    def close(self) -> None:
        self.task.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        return [getattr(self, method_name)(*args, **kwargs)] * len(self._indices(indices))

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)
