"""RecSim NG simulations behind gymnasium's API: one user (``RecSimNGEnv``) and B users
(``RecSimNGVectorEnv``), both thin front doors to :class:`~envs.recsim_ng.simulation.Simulation`.

Observations, slates, rewards and ``info`` events have the shapes and meanings of
noveltygym's own envs, and ``env.world`` is a :class:`~envs.world.World` (its corpus, topic
clusters with unique descriptions, config), so noveltygym's agents and metrics run unchanged:

>>> env = RecSimNGVectorEnv(4, horizon=3)            # doctest: +SKIP
>>> agent = agents.make_agent("ucb", env.world)      # doctest: +SKIP

Importing this module without the ``recsim-ng`` extra raises
:class:`~envs.errors.MissingExtraError`, which says ``pip install 'noveltygym[recsim-ng]'``.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from envs.env import _unbatch
from envs.errors import ConfigError, StateError, require_positive_int
from envs.recsim_ng.simulation import RecSimNGState, Simulation
from envs.recsim_ng.stories import Story, interest_evolution_story
from envs.recsim_ng.world import RecSimNGWorld

Obs = dict[str, np.ndarray]


def _simulation(
    n_users: int,
    story: Story | None,
    horizon: int,
    history_length: int,
    world_seed: int,
    graph_compile: bool,
    story_kwargs: dict[str, Any],
) -> Simulation:
    if story is None:
        story = interest_evolution_story(num_users=n_users, **story_kwargs)
    elif story_kwargs:
        raise ConfigError(
            f"got story={story.name!r} and story keywords {sorted(story_kwargs)}; the keywords build the default "
            "interest-evolution story, so put them into your story instead"
        )
    else:
        story = story.with_users(n_users)
    return Simulation(
        story, horizon=horizon, history_length=history_length, world_seed=world_seed, graph_compile=graph_compile
    )


class RecSimNGEnv(gym.Env[Obs, np.ndarray]):
    """One user of a RecSim NG story (RecSim NG's interest evolution by default).

    ## Action Space
    ``SlateSpace(num_docs, slate_size)``: distinct document indices (RecSim NG's ``doc_id`` - 1).

    ## Observation Space
    ``Dict`` as noveltygym's envs: ``items`` (H,) last H chosen documents, oldest first, -1 =
    none; ``clusters`` (H,) their RecSim NG topics (as cluster ids of ``world.level``);
    ``responses`` (H, 3) watch time, completion, liked (always 0); ``session`` (4,) requests
    left before the horizon, 0, requests so far, 0. RecSim NG's user state is never observed.

    ## Rewards
    Watch time: RecSim NG's ``consumed_time`` of the chosen document, 0 without a choice (its
    ``ConsumedTimeAsRewardMetrics``). ``info`` holds the step's ``envs.state.Events`` fields.

    ## Starting State
    A user drawn by the story's user entity (interest evolution: interests ~ N(0, 1) per topic).

    ## Episode End
    Truncated after ``horizon`` requests; RecSim NG's users never end an episode themselves.

    ## Arguments
    ``story`` (a :class:`~envs.recsim_ng.stories.Story`; None = interest evolution built from
    ``story_kwargs``: ``num_topics``, ``num_docs``, ``slate_size``, ``topic_names``),
    ``horizon``, ``history_length`` (H), ``world_seed`` (fixes the corpus), ``graph_compile``
    (compile the step to a TensorFlow graph on first use, ~2 s, then ~40x faster steps; False
    for a few steps, or to debug in eager mode; same results either way).

    ## Version History
    * v0: initial release (recsim-ng 0.1.2).

    >>> env = RecSimNGEnv(horizon=5)  # doctest: +SKIP
    >>> obs, info = env.reset(seed=0)  # doctest: +SKIP
    >>> sorted(obs)  # doctest: +SKIP
    ['clusters', 'items', 'responses', 'session']
    """

    metadata = {"render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        story: Story | None = None,
        horizon: int = 100,
        history_length: int = 10,
        world_seed: int = 0,
        graph_compile: bool = True,
        **story_kwargs: Any,
    ) -> None:
        self.sim = _simulation(1, story, horizon, history_length, world_seed, graph_compile, story_kwargs)
        self.world: RecSimNGWorld = self.sim.world
        self.observation_space = self.world.observation_space  # type: ignore[assignment]
        self.action_space = self.world.action_space
        self._next_user = 0
        self._started = False

    @property
    def state(self) -> RecSimNGState | None:
        """Hidden state (session arrays and RecSim NG's network value), for oracle agents."""
        return self.sim.state

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Obs, dict[str, Any]]:
        super().reset(seed=seed)
        if seed is not None:
            self._next_user = 0  # a seeded reset replays the same users, ids included
        obs = self.sim.reset(np.array([self._next_user]))
        self._next_user += 1
        self._started = True
        return _unbatch(obs), {}

    def step(self, action: np.ndarray) -> tuple[Obs, float, bool, bool, dict[str, Any]]:
        if not self._started:
            raise StateError("step() called before reset(); call env.reset(seed=...) first")
        if self.sim.done:
            raise StateError("step() called after the episode ended; call env.reset() to start a new user")
        slate = np.asarray(action).reshape(1, -1) if np.ndim(action) == 1 else action
        events = self.sim.step(slate, self.np_random)
        info = {k: v[0] for k, v in events.as_info().items()}
        reward = float(self.world.reward(events)[0])
        return _unbatch(self.sim.observe()), reward, False, self.sim.done, info


class RecSimNGVectorEnv(VectorEnv[Obs, np.ndarray, np.ndarray]):
    """``num_envs`` users of one RecSim NG story stepped together, as RecSim NG batches them;
    the batched form of :class:`RecSimNGEnv` (same arguments plus ``num_envs``).

    All users reach the horizon on the same step. Autoreset is ``SAME_STEP``, as in
    noveltygym's vector env: that step returns the first observation of new users (new ids),
    the last observation of the old ones in ``info["final_obs"]`` with ``info["_final_obs"]``
    all True, and the events of the step taken.
    """

    metadata = {"autoreset_mode": AutoresetMode.SAME_STEP, "render_modes": []}  # noqa: RUF012

    def __init__(
        self,
        num_envs: int = 1000,
        story: Story | None = None,
        horizon: int = 100,
        history_length: int = 10,
        world_seed: int = 0,
        graph_compile: bool = True,
        **story_kwargs: Any,
    ) -> None:
        require_positive_int("num_envs", num_envs)
        self.sim = _simulation(num_envs, story, horizon, history_length, world_seed, graph_compile, story_kwargs)
        self.world: RecSimNGWorld = self.sim.world
        self.num_envs = num_envs
        self.single_observation_space = self.world.observation_space
        self.single_action_space = self.world.action_space
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        self._episode = 0
        self._started = False

    @property
    def state(self) -> RecSimNGState | None:
        """Hidden state (session arrays and RecSim NG's network value), for oracle agents."""
        return self.sim.state

    def reset(
        self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        if isinstance(seed, list):
            raise ConfigError("RecSimNGVectorEnv.reset takes one int seed: RecSim NG samples all users together")
        super().reset(seed=seed)
        if seed is not None:
            self._episode = 0
        self._started = True
        return self._new_users(), {}

    def step(self, actions: np.ndarray) -> tuple[Obs, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        if not self._started:
            raise StateError("step() called before reset(); call envs.reset(seed=...) first")
        events = self.sim.step(actions, self.np_random)
        info: dict[str, Any] = events.as_info()
        truncated = np.full(self.num_envs, self.sim.done)
        if self.sim.done:
            info["final_obs"] = self.sim.observe()
            info["_final_obs"] = truncated.copy()
            obs = self._new_users()
        else:
            obs = self.sim.observe()
        return obs, self.world.reward(events), np.zeros(self.num_envs, dtype=bool), truncated, info

    def _new_users(self) -> Obs:
        # Episode k serves users k*B .. k*B + B-1: ids stay unique across autoresets.
        obs = self.sim.reset(self._episode * self.num_envs + np.arange(self.num_envs))
        self._episode += 1
        return obs
