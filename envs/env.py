"""The gymnasium front doors: one user (``InterestExplorationEnv``) and B users
(``InterestExplorationVectorEnv``). Both run ``World.step``, the single batched dynamics."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.buffers import RecycledArrays
from envs.config import WorldConfig
from envs.errors import ConfigError, StateError, require_positive_int
from envs.kernels import set_threads
from envs.state import Events, copy_state, map_rows, state_arrays
from envs.world import State, World, make_world

Obs = dict[str, np.ndarray]


def _world(world: World | None, preset: str | WorldConfig, seed: int, overrides: dict[str, Any]) -> World:
    """The given world (with field overrides applied on top of its config), or a new one."""
    if world is None:
        return make_world(preset, seed=seed, **overrides)
    return make_world(world.config, seed=world.seed, **overrides) if overrides else world


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
    * v1: the same dynamics with other random numbers for every seed (new users drawn a quarter
      of the population at a time; RecSim's transition draws one flip per user); the RecSim
      preset's corpus splits its items evenly between the 20 topics, as RecSim's candidates are
      (mean quality -0.60, was -0.51: its episodes were ~1-2 % longer than RecSim's).
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
        self.observation_space = self.world.observation_space  # type: ignore[assignment]
        self.action_space = self.world.action_space
        self.state: State | None = None
        self._next_user = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self._next_user = 0  # a seeded reset replays the same users, ids included
        self.state = self.world.init_state(np.array([self._next_user]), self.np_random)
        self._next_user += 1
        return _unbatch(self.world.observe(self.state)), {}

    def step(self, action: np.ndarray) -> tuple[Obs, float, bool, bool, dict[str, Any]]:
        if self.state is None:
            raise StateError("step() called before reset(); call env.reset(seed=...) first")
        if bool(self.state.session.done[0]):
            raise StateError("step() called after the episode ended; call env.reset() to start a new user")
        slate = np.asarray(action).reshape(1, -1) if np.ndim(action) == 1 else action
        obs = self.world.empty_observation(1)
        self.state, events = self.world.step(self.state, slate, self.np_random, obs)
        s = self.state.session
        terminated = bool(s.terminated[0])
        truncated = bool(s.done[0]) and not terminated
        info = {k: v[0] for k, v in events.as_info().items()}
        reward = float(self.world.reward(events)[0])
        return _unbatch(obs), reward, terminated, truncated, info


def _unbatch(obs: Obs) -> Obs:
    return {k: v[0] for k, v in obs.items()}


class InterestExplorationVectorEnv(VectorEnv[Obs, np.ndarray, np.ndarray]):
    """B users of one population stepped together; the batched form of
    :class:`InterestExplorationEnv` (same dynamics, same arguments plus ``num_envs``).

    Autoreset is ``SAME_STEP``: when a user's episode ends, the returned observation is
    already the first one of a new user in that slot, and the last observation of the old
    one is in ``info["final_obs"]`` (a mapping of batched arrays, :class:`FinalObservations`;
    ``info["_final_obs"]`` marks the slots that ended, the others repeat their current
    observation).
    Events in ``info`` are those of the step taken, before any reset.

    The env steps its own copy of the population's state in place (``state`` hands out
    copies) with the compiled dynamics (``envs.kernels``), which run chunks of users on
    ``num_threads`` threads (default ``$NOVELTYGYM_NUM_THREADS``, else every core). Results do
    not depend on the thread count. Returned arrays are fresh or recycled from steps whose
    outputs nobody holds any more (``envs.buffers``), so they can be kept.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        num_envs: int = 1,
        preset: str | WorldConfig = "default",
        world_seed: int = 0,
        world: World | None = None,
        num_threads: int | None = None,
        **overrides: Any,
    ) -> None:
        require_positive_int("num_envs", num_envs)
        self.world = _world(world, preset, world_seed, overrides)
        self.num_envs = num_envs
        self.single_observation_space = self.world.observation_space
        self.single_action_space = self.world.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        if num_threads is None:
            # NOVELTYGYM_NUM_THREADS lets a process pool (sweeps) keep each worker on one core.
            num_threads = int(os.environ.get("NOVELTYGYM_NUM_THREADS", 0)) or (os.cpu_count() or 1)
        require_positive_int("num_threads", num_threads)
        self.num_threads = num_threads
        # The per-step output arrays, recycled once no one holds them (envs/buffers.py).
        self._obs_keys = list(self.single_observation_space.spaces)
        self._obs_arrays = RecycledArrays(self._make_observation_arrays)
        self._event_arrays = RecycledArrays(self._make_event_arrays)
        self._state: State | None = None
        self._state_arrays: list[np.ndarray] = []  # the arrays of _state, flat
        self._newcomers: _Newcomers | None = None

    @property
    def population_state(self) -> State:
        """Like ``state``, but raises StateError before the first reset (never None)."""
        state = self.state
        if state is None:
            raise StateError("the population has no state before reset(); call envs.reset(seed=...) first")
        return state

    @property
    def state(self) -> State | None:
        """A copy of the whole population's state, e.g. for oracle queries (a copy because
        the env updates its own in place at every step)."""
        return None if self._state is None else copy_state(self._state)

    @property
    def state_view(self) -> State | None:
        """The population's state without a copy: read-only views of the env's own arrays,
        valid until the next step or reset changes them in place. For readers on every step
        (the oracle selector), where ``state`` would copy ~0.9 kB per user each time."""
        return None if self._state is None else map_rows(_read_only, self._state)

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        if isinstance(seed, list):
            raise ConfigError("InterestExplorationVectorEnv.reset takes one int seed for the whole population")
        super().reset(seed=seed)
        self._state = copy_state(self.world.init_state(np.arange(self.num_envs), self.np_random))
        self._state_arrays = state_arrays(self._state)
        # Users who replace ended ones get the next ids: num_envs, num_envs + 1, ...; drawn a
        # quarter of the population at a time (at most 65,536 users, ~60 MB of default users):
        # a draw costs ~50 us besides ~0.15 us per user, and small batches paid it every step.
        batch = min(max(64, self.num_envs // 4), 65_536)
        self._newcomers = _Newcomers(self.world, self.np_random, batch, self.num_envs)
        obs = self._new_observation()
        self.world.observe(self._state, out=obs)
        return obs, {}

    def _make_observation_arrays(self) -> list[np.ndarray]:
        return list(self.world.empty_observation(self.num_envs).values())

    def _make_event_arrays(self) -> list[np.ndarray]:
        return list(Events.empty(self.num_envs))

    def _new_observation(self) -> Obs:
        return dict(zip(self._obs_keys, self._obs_arrays.take(), strict=True))

    def step(self, actions: np.ndarray) -> tuple[Obs, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        state, newcomers = self._state, self._newcomers
        if state is None or newcomers is None:
            raise StateError("step() called before reset(); call envs.reset(seed=...) first")
        # Validated before anything moves, so a bad slate changes nothing.
        actions = self.world.validate_slate(actions, self.num_envs)
        # Arrays no earlier output still uses: callers may keep observations and events.
        obs = self._new_observation()
        events = Events(*self._event_arrays.take())
        set_threads(self.num_threads)
        self.world.step_owned(state, actions, self.np_random, events, obs)
        info: dict[str, Any] = events.as_info()
        done = state.session.done.copy()
        terminated = state.session.terminated & done
        rows = np.flatnonzero(done)
        if len(rows):
            last = {k: v.take(rows, axis=0) for k, v in obs.items()}  # the ended users' last observations
            fresh, fresh_obs = newcomers.take(len(rows))
            for owned, new in zip(self._state_arrays, fresh, strict=True):
                owned[rows] = new
            for k, v in fresh_obs.items():
                obs[k][rows] = v
            info["final_obs"] = FinalObservations(obs, rows, last)
            info["_final_obs"] = done
        return obs, self.world.reward(events), terminated, done & ~terminated, info


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


class FinalObservations(Mapping[str, np.ndarray]):
    """``info["final_obs"]`` of the vector env: for each key, the batch's observation with the
    ended slots' last observations in place (the other slots repeat their current one).

    Each key's array is built on first access: most callers never read it, and copying the
    whole batch every step (some user ends at nearly every step of a large population) cost
    about as much as stepping the RecSim preset itself."""

    def __init__(self, obs: Obs, rows: np.ndarray, last: Obs) -> None:
        self._obs, self._rows, self._last = obs, rows, last
        self._built: Obs = {}

    def __getitem__(self, key: str) -> np.ndarray:
        if key not in self._built:
            out = self._obs[key].copy()
            out[self._rows] = self._last[key]
            self._built[key] = out
        return self._built[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._obs)

    def __len__(self) -> int:
        return len(self._obs)

    def __repr__(self) -> str:
        return f"FinalObservations(keys={list(self._obs)}, ended_slots={self._rows.tolist()})"


class _Newcomers:
    """New users drawn ahead in batches, with ids from ``first_id`` on: the users who replace
    those whose episode ended. One ``init_state`` call per batch instead of one per step,
    whose fixed cost outweighed the few users each step replaces."""

    def __init__(self, world: World, rng: np.random.Generator, batch: int, first_id: int) -> None:
        self._world, self._rng, self._batch, self._next_id = world, rng, batch, first_id
        self._arrays: list[np.ndarray] = []  # state_arrays of the users drawn ahead
        self._obs: Obs = {}
        self._next = 0

    def take(self, k: int) -> tuple[list[np.ndarray], Obs]:
        """The next ``k`` new users (as ``state_arrays`` rows) and their first observations."""
        if not self._arrays or self._next + k > len(self._arrays[0]):
            self._refill(k)
        taken = slice(self._next, self._next + k)
        self._next += k
        return [a[taken] for a in self._arrays], {key: v[taken] for key, v in self._obs.items()}

    def _refill(self, at_least: int) -> None:
        n = max(self._batch, 4 * at_least)  # a few steps' worth, however many users end per step
        new = self._world.init_state(self._next_id + np.arange(n), self._rng)
        self._next_id += n
        arrays, obs = state_arrays(new), self._world.observe(new)
        if self._arrays:  # keep the ones not taken yet, first
            rest = slice(self._next, None)
            arrays = [np.concatenate([old[rest], a]) for old, a in zip(self._arrays, arrays, strict=True)]
            obs = {k: np.concatenate([self._obs[k][rest], v]) for k, v in obs.items()}
        self._arrays, self._obs, self._next = arrays, obs, 0
