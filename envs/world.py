"""A World bundles the static parts (config, taxonomy, corpus, clusters) with its dynamics.

The dynamics (``envs.dynamics``: a registered :class:`~envs.dynamics.Dynamics`, named by
``WorldConfig.dynamics``) are pure functions batched over users; the gymnasium Env (one user)
and VectorEnv (B users) both call ``World.step``, so there is one implementation of the user
(STYLE.md #2). The World itself knows no particular dynamics: it builds the catalogue the
dynamics gives it, validates slates, steps (with the dynamics' compiled twin where there is
one) and answers oracle questions through the dynamics' hooks.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cached_property
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces

from envs.clusters import ClusterHierarchy, ClusterLevel
from envs.config import WorldConfig, resolve_config
from envs.dynamics import Dynamics, get_dynamics
from envs.errors import ActionError, ConfigError, require_positive_int
from envs.kernels import first_bad_slate_entry, kernels_for, observe_compiled, resolve_backend
from envs.session import observe
from envs.spaces import SlateSpace
from envs.state import Events, Response, copy_state, map_rows, state_nbytes

if TYPE_CHECKING:
    from envs.kernels.recsim import RolloutStats

State = Any  # a dynamics' state: a frozen dataclass of (B, ...) arrays with a ``session`` field


class World:
    """Static world plus its pure dynamics. Build with :func:`make_world`."""

    kernels: ModuleType | None = None
    """The dynamics' compiled twin when the backend is 'numba' (``envs.kernels``); None: numpy."""

    def __init__(self, config: WorldConfig, seed: int = 0, backend: str | None = None) -> None:
        self.config = config
        self.seed = seed
        self.dynamics: Dynamics = get_dynamics(config.dynamics)
        self.backend = resolve_backend(backend)
        self.kernels = kernels_for(self.dynamics) if self.backend == "numba" else None
        if self.kernels is None:
            self.backend = "numpy"  # asked for, or the dynamics have no compiled twin
        self.scratch: dict[str, Any] = {}
        """Per-world memory of the dynamics' helpers (``remembered``; the oracle's last nearest
        clusters)."""
        self.params = self.dynamics.parse_params(config.dynamics_params)
        """The dynamics' own parameters (``Dynamics.params_type``), None for the built-ins."""
        rng = np.random.default_rng(seed)
        self.taxonomy, self.corpus = self.dynamics.build_catalogue(config, self.params, rng)
        self.clusters = ClusterHierarchy(self.taxonomy, self.corpus, seed=seed)
        self.level: ClusterLevel = self.clusters.level(config.cluster_level)
        self.embedding_sq = (self.corpus.embeddings.astype(np.float32) ** 2).sum(axis=1)

    def remembered(self, key: str, build: Callable[[World], Any]) -> Any:
        """``build(self)``, computed on first use and kept in ``scratch`` under ``key``: what a
        dynamics derives once from the static world (journey tables, items by subtopic)."""
        if key not in self.scratch:
            self.scratch[key] = build(self)
        return self.scratch[key]

    # --- pickling: worlds go to worker processes; the dynamics by name, kernels by module --------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["dynamics"] = self.dynamics.name
        if self.kernels is not None:
            state["kernels"] = self.kernels.__name__
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["dynamics"] = get_dynamics(state["dynamics"])
        if isinstance(state.get("kernels"), str):
            state["kernels"] = importlib.import_module(state["kernels"])
        self.__dict__.update(state)

    # --- spaces ------------------------------------------------------------------------------
    @cached_property
    def observation_space(self) -> spaces.Dict:
        """Observation of one user (see ``envs.session.observe``)."""
        cfg = self.config
        h, n, m = cfg.history_length, self.corpus.n_items, self.level.n_clusters
        response_high = np.tile(np.array([float(self.corpus.length.max()), 1.0, 1.0], dtype=np.float32), (h, 1))
        session_high = self.dynamics.session_high(cfg, self.params)
        return spaces.Dict(
            {
                "items": spaces.Box(-1, n - 1, shape=(h,), dtype=np.int64),
                "clusters": spaces.Box(-1, m - 1, shape=(h,), dtype=np.int64),
                "responses": spaces.Box(0.0, response_high, dtype=np.float32),
                "session": spaces.Box(0.0, np.array(session_high, dtype=np.float32), dtype=np.float32),
            }
        )

    @cached_property
    def action_space(self) -> SlateSpace:
        """A slate of ``slate_size`` distinct item ids for one user."""
        return SlateSpace(self.corpus.n_items, self.config.slate_size)

    # --- dynamics ------------------------------------------------------------------------------
    def init_state(self, user_id: np.ndarray, rng: np.random.Generator) -> State:
        return self.dynamics.init_state(self, np.asarray(user_id, dtype=np.int64), rng)

    def respond(self, state: State, slate: np.ndarray, rng: np.random.Generator) -> Response:
        return self.dynamics.respond(self, state, slate, rng)

    def transition(
        self, state: State, slate: np.ndarray, response: Response, rng: np.random.Generator
    ) -> tuple[State, Events]:
        return self.dynamics.transition(self, state, slate, response, rng)

    def step(
        self, state: State, slate: np.ndarray, rng: np.random.Generator, obs: dict[str, np.ndarray] | None = None
    ) -> tuple[State, Events]:
        """Validate the slates, then response and transition. Pure: ``state`` is not changed.
        ``obs``, when given, receives the observation after the step (as ``observe`` would)."""
        slate = self.validate_slate(slate, state.session.n_users)
        if self.kernels is None:
            new, events = self.transition(state, slate, self.respond(state, slate, rng), rng)
            if obs is not None:
                self.observe(new, out=obs)
            return new, events
        state = copy_state(state)
        events = Events.empty(len(slate))
        if obs is None:  # the kernels write an observation either way
            obs = self.empty_observation(len(slate))
        self.kernels.step_inplace(self, state, slate, rng, events, obs)
        return state, events

    def step_owned(
        self, state: State, slate: np.ndarray, rng: np.random.Generator, events: Events, obs: dict[str, np.ndarray]
    ) -> None:
        """``step`` for a caller that owns ``state`` (no one else holds its arrays): updates it in
        place and writes the step's events and the next observation into ``events`` and ``obs``.
        ``slate`` must come from ``validate_slate``. What the vector env runs: no state copies."""
        if self.kernels is not None:
            self.kernels.step_inplace(self, state, slate, rng, events, obs)
            return
        new, new_events = self.transition(state, slate, self.respond(state, slate, rng), rng)
        for dst, src in zip(events, new_events, strict=True):  # first: events share arrays with ``state``
            np.copyto(dst, src)
        map_rows(np.copyto, state, new)
        self.observe(state, out=obs)

    def rollout_random(self, n_users: int, horizon: int, seed: int = 0) -> RolloutStats:
        """``n_users`` users over ``horizon`` requests, each served uniformly random slates of
        distinct items, the whole horizon in compiled code (``envs.kernels.recsim.rollout``): the
        simulation engine alone, for benchmarks and population statistics. A user who ends their
        episode is replaced by a new one in the same slot, as in the vector env. Returns
        per-slot totals (requests, clicks, watch time, episodes ended); deterministic for a
        ``seed``. RecSim dynamics on the 'numba' backend only (raises ConfigError otherwise)."""
        require_positive_int("n_users", n_users)
        require_positive_int("horizon", horizon)
        if self.kernels is None or not hasattr(self.kernels, "rollout"):
            raise ConfigError(
                f"rollout_random runs the compiled RecSim dynamics; this world has dynamics="
                f"{self.config.dynamics!r} on backend {self.backend!r}: use the preset 'recsim-interest-evolution' "
                "with backend='numba', or step InterestExplorationVectorEnv with random slates"
            )
        return self.kernels.rollout(self, n_users, horizon, seed)  # type: ignore[no-any-return]

    @cached_property
    def kernel_params(self) -> tuple[Any, ...]:
        """The config values the compiled dynamics read (``envs.kernels``)."""
        if self.kernels is None:
            raise ConfigError(f"world backend is {self.backend!r}; kernel parameters exist for 'numba' only")
        return self.kernels.params(self)  # type: ignore[no-any-return]

    def observe(self, state: State, out: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
        """The observation of every user of ``state`` (``envs.session.observe``; compiled when
        the world's backend is 'numba'), written into ``out`` when given."""
        out = self.empty_observation(state.session.n_users) if out is None else out
        if self.kernels is None:
            observe(state.session, out)
        else:
            observe_compiled(state.session, out)
        return out

    def empty_observation(self, n_users: int) -> dict[str, np.ndarray]:
        """Uninitialized observation arrays for ``n_users`` users."""
        return {
            k: np.empty((n_users, *tuple(space.shape or ())), dtype=space.dtype)
            for k, space in self.observation_space.spaces.items()
        }

    def reward(self, events: Events) -> np.ndarray:
        """(B,) float32 enjoyment, as chosen by ``config.reward``."""
        kind = self.config.reward
        value = {
            "watch_time": events.watch_time,
            "clicks": events.clicked,
            "likes": events.liked,
            "positive": events.positive,
            "utility": events.utility,
        }[kind]
        return np.asarray(value, dtype=np.float32)

    def validate_slate(self, slate: Any, n_users: int) -> np.ndarray:
        """(B, S) int64 slates; raises ActionError naming the bad value."""
        s = self.config.slate_size
        arr = np.asarray(slate)
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
                arr = arr.astype(np.int64)
            else:
                raise ActionError(
                    f"slate must hold integer item ids, got dtype {arr.dtype}"
                    + (" with NaN/inf" if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)) else "")
                    + "; pass an int array of shape (n_users, slate_size)"
                )
        if arr.shape != (n_users, s):
            raise ActionError(f"slate has shape {arr.shape}; expected ({n_users}, {s}) = (n_users, slate_size)")
        arr = np.ascontiguousarray(arr, dtype=np.int64)
        n = self.corpus.n_items
        u, j, problem = first_bad_slate_entry(arr, n)
        if problem == 1:
            raise ActionError(f"slate[{u}, {j}] = {arr[u, j]} is not an item id; ids lie in [0, {n - 1}]")
        if problem == 2:
            raise ActionError(f"slate of user {u} repeats an item ({arr[u].tolist()}); a slate holds distinct items")
        return arr

    # --- oracle access (never part of an observation) ------------------------------------------
    def oracle_latent_clusters(self, state: State, level: str | int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Hidden truth: (B, n_latent) clusters of each user's latent interests at ``level``
        and (B, n_latent) whether each was discovered yet. ConfigError for dynamics whose
        users have none (``Dynamics.latent_clusters``)."""
        lvl = self.level if level is None else self.clusters.level(level)
        return self.dynamics.latent_clusters(self, state, lvl)

    def oracle_cluster_utility(
        self, state: State, clusters: np.ndarray, level: str | int | None = None
    ) -> np.ndarray:
        """Hidden truth: the user's intrinsic utility for a typical item of each cluster.
        clusters (B,) or (B, K) → same shape."""
        lvl = self.level if level is None else self.clusters.level(level)
        c = np.asarray(clusters, dtype=np.int64)
        flat = c.reshape(c.shape[0], -1)
        if flat.size and (flat.min() < 0 or flat.max() >= lvl.n_clusters):
            raise ConfigError(f"cluster ids must lie in [0, {lvl.n_clusters - 1}] at level {lvl.name!r}")
        out = self.dynamics.cluster_utility(self, state, flat, lvl)
        return np.asarray(out, dtype=np.float32).reshape(c.shape)

    def oracle_interest_entropy(self, state: State) -> np.ndarray:
        """Hidden truth: (B,) entropy (nats) of each user's interests, the normalized anchor
        strengths (RecSim: softmax of the topic interests). Falls as a feedback loop narrows them."""
        return self.dynamics.interest_entropy(self, state)

    def state_bytes_per_user(self, n_users: int = 1000) -> float:
        state = self.init_state(np.arange(n_users), np.random.default_rng(0))
        return state_nbytes(state) / n_users


_CACHE: dict[tuple[Any, ...], World] = {}


def make_world(
    preset_or_config: str | WorldConfig = "default", seed: int = 0, backend: str | None = None, **overrides: Any
) -> World:
    """Build (or reuse) a world from a preset name or a config, with field overrides.
    ``backend``: 'numba' (compiled dynamics, the default) or 'numpy' (the reference); see
    ``envs.kernels``."""
    config = resolve_config(preset_or_config, **overrides)
    key = (config, repr(config.taxonomy_data), repr(config.dynamics_params), seed, resolve_backend(backend))
    if key not in _CACHE:
        _CACHE[key] = World(config, seed, backend)
    return _CACHE[key]
