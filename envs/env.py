"""The gymnasium front doors: one user (``InterestExplorationEnv``) and B users
(``InterestExplorationVectorEnv``). Both run ``World.step``, the single batched dynamics."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.config import WorldConfig
from envs.errors import StateError
from envs.state import take_rows, where_rows
from envs.world import State, World, make_world

Obs = dict[str, np.ndarray]


def _world(world: World | None, preset: str | WorldConfig, seed: int, overrides: dict[str, Any]) -> World:
    return world if world is not None else make_world(preset, seed=seed, **overrides)


class InterestExplorationEnv(gym.Env[Obs, np.ndarray]):
    """One simulated user whose interests drift across interest clusters.

    Each step is one recommendation request: the agent shows a slate, the user clicks at
    most one item (or none), watches part of it, maybe likes it, and their interests move.
    Requests come in sessions with a time budget; after a session the user returns days later,
    sooner when satisfied, or leaves for good.

    ## Action Space
    ``MultiDiscrete([n_items] * slate_size)``: distinct item ids.

    ## Observation Space
    ``Dict``: ``items`` (H,) last H clicked item ids, oldest first, -1 = none; ``clusters``
    (H,) their clusters at the world's level; ``responses`` (H, 3) watch time, completion,
    liked; ``session`` (4,) minutes left in the session, day, request in session, days away
    before this session. Hidden interests are never observed (see ``World.oracle_*``).

    ## Rewards
    ``config.reward``: watch time in minutes by default (or clicks, likes, positive
    engagements, utility). ``info`` holds the step's events (``envs.state.Events``) as arrays.

    ## Starting State
    A new user from the population: active and latent interests, and an initial history
    drawn from the active ones.

    ## Episode End
    Terminated when the user churns (or, in the RecSim preset, spends the time budget);
    truncated when the next session would start on or after ``horizon_days``.

    ## Arguments
    ``preset`` (``"default"``, ``"tiny"``, ``"recsim-interest-evolution"``, ``"large"``) or a
    ``WorldConfig``; ``world_seed`` fixes the corpus; any ``WorldConfig`` field as a keyword;
    ``world`` reuses a built world.

    ## Version History
    * v0: initial release.

    >>> env = InterestExplorationEnv("tiny")
    >>> obs, info = env.reset(seed=0)
    >>> sorted(obs)
    ['clusters', 'items', 'responses', 'session']
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        preset: str | WorldConfig = "default",
        world_seed: int = 0,
        world: World | None = None,
        **overrides: Any,
    ) -> None:
        self.world = _world(world, preset, world_seed, overrides)
        self.observation_space = self.world.observation_space
        self.action_space = self.world.action_space
        self.state: State | None = None
        self._next_user = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Obs, dict[str, Any]]:
        super().reset(seed=seed)
        self.state = self.world.init_state(np.array([self._next_user]), self.np_random)
        self._next_user += 1
        return _unbatch(self.world.observe(self.state)), {}

    def step(self, action: np.ndarray) -> tuple[Obs, float, bool, bool, dict[str, Any]]:
        if self.state is None:
            raise StateError("step() called before reset(); call env.reset(seed=...) first")
        if bool(self.state.session.done[0]):
            raise StateError("step() called after the episode ended; call env.reset() to start a new user")
        slate = np.asarray(action).reshape(1, -1) if np.ndim(action) == 1 else action
        self.state, events = self.world.step(self.state, slate, self.np_random)
        s = self.state.session
        terminated = bool(s.terminated[0])
        truncated = bool(s.done[0]) and not terminated
        info = {k: v[0] for k, v in events.as_info().items()}
        return _unbatch(self.world.observe(self.state)), float(self.world.reward(events)[0]), terminated, truncated, info


def _unbatch(obs: Obs) -> Obs:
    return {k: v[0] for k, v in obs.items()}


class InterestExplorationVectorEnv(VectorEnv[Obs, np.ndarray, np.ndarray]):
    """B users of one population stepped together; the batched form of
    :class:`InterestExplorationEnv` (same dynamics, same arguments plus ``num_envs``).

    Autoreset is ``SAME_STEP``: when a user's episode ends, the returned observation is
    already the first one of a new user in that slot, and the last observation of the old
    one is in ``info["final_obs"]`` (with ``info["_final_obs"]`` marking the slots).
    Events in ``info`` are those of the step taken, before any reset.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        num_envs: int = 1,
        preset: str | WorldConfig = "default",
        world_seed: int = 0,
        world: World | None = None,
        **overrides: Any,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs <= 0:
            raise StateError(f"num_envs={num_envs!r} must be a positive integer")
        self.world = _world(world, preset, world_seed, overrides)
        self.num_envs = num_envs
        self.single_observation_space = self.world.observation_space
        self.single_action_space = self.world.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self.state: State | None = None
        self._next_user = 0

    def _new_users(self, n: int) -> np.ndarray:
        ids = np.arange(self._next_user, self._next_user + n)
        self._next_user += n
        return ids

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        if isinstance(seed, list):
            raise StateError("InterestExplorationVectorEnv.reset takes one int seed for the whole population")
        super().reset(seed=seed)
        self._next_user = 0
        self.state = self.world.init_state(self._new_users(self.num_envs), self.np_random)
        return self.world.observe(self.state), {}

    def step(self, actions: np.ndarray) -> tuple[Obs, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if self.state is None:
            raise StateError("step() called before reset(); call envs.reset(seed=...) first")
        self.state, events = self.world.step(self.state, actions, self.np_random)
        s = self.state.session
        terminated, done = s.terminated.copy(), s.done.copy()
        truncated = done & ~terminated
        reward = self.world.reward(events)
        info: dict[str, Any] = events.as_info()
        if done.any():
            final_obs = self.world.observe(self.state)
            rows = np.flatnonzero(done)
            fresh = self.world.init_state(self._new_users(len(rows)), self.np_random)
            self.state = _put_rows(self.state, rows, fresh)
            info["final_obs"] = final_obs
            info["_final_obs"] = done
        return self.world.observe(self.state), reward, terminated, truncated, info


def _put_rows(state: State, rows: np.ndarray, fresh: State) -> State:
    """``state`` with users ``rows`` replaced by the users of ``fresh`` (in order)."""
    n = state.session.n_users
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    index = np.zeros(n, dtype=np.int64)
    index[rows] = np.arange(len(rows))
    return where_rows(mask, take_rows(fresh, index), state)
