"""User dynamics as plug-ins: what a World needs of a user model, and the registry of them.

A dynamics is a :class:`Dynamics` object registered under a name; ``WorldConfig.dynamics``
names it, and :class:`~envs.world.World` builds its catalogue and steps its users through it
and nothing else. Adding one is a module with a subclass and one ``register_dynamics`` call
(tests/envs/test_plugins.py adds a toy one from a test module alone):

- ``build_catalogue``: the taxonomy and the item corpus of a world;
- ``init_state``, ``respond``, ``transition``: the user, pure functions batched over users
  (state: a frozen dataclass of arrays with a ``session`` field, ``envs.state``);
- ``session_high``: the upper bounds of the observation's session fields;
- optional oracle hooks (hidden truth for oracle agents and metrics): ``latent_clusters``,
  ``cluster_utility``, ``interest_entropy``; the defaults raise ConfigError;
- ``params_type``: a dataclass of the dynamics' own parameters, which
  ``WorldConfig.dynamics_params`` fills (checked field by field; ``World.params``);
- ``kernels``: the module of a compiled twin (``step_inplace`` and ``params``, see
  ``envs.kernels``), or None to step with the numpy functions.

The built-in ones (``envs.interest.DYNAMICS``, ``envs.recsim.DYNAMICS``) are imported on first
use, so naming them in a config costs nothing.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np

from envs.errors import ConfigError
from envs.typed import from_dict

if TYPE_CHECKING:
    from envs.clusters import ClusterLevel
    from envs.config import WorldConfig
    from envs.corpus import Corpus
    from envs.state import Events, Response
    from envs.taxonomy import Taxonomy
    from envs.world import World


class Dynamics(ABC):
    """A user model a World runs. Subclass, then ``register_dynamics(MyDynamics())``."""

    name: str = ""
    kernels: str | None = None
    """Module of the compiled twin (e.g. 'envs.kernels.interest'), or None (numpy only)."""
    has_latent_interests: bool = False
    """Users hold interests they have not shown yet (``latent_clusters`` answers)."""
    has_journeys: bool = False
    """Latent interests follow journey tables (``envs.journeys``; runs report journey hit rates)."""
    params_type: type | None = None
    """A dataclass of the dynamics' own parameters, filled from ``WorldConfig.dynamics_params``
    and checked like every config (``World.params``); None: it reads WorldConfig's fields only."""

    def parse_params(self, raw: dict[str, Any]) -> Any:
        """``raw`` (``WorldConfig.dynamics_params``) as a checked ``params_type`` instance
        (ConfigError naming a bad or unknown field), or None for a dynamics without one."""
        if self.params_type is None:
            if raw:
                raise ConfigError(
                    f"WorldConfig.dynamics_params={raw!r}: dynamics {self.name!r} takes no dynamics_params; "
                    "its parameters are WorldConfig's own fields"
                )
            return None
        return from_dict(self.params_type, raw, "WorldConfig.dynamics_params")

    @abstractmethod
    def build_catalogue(self, config: WorldConfig, params: Any, rng: np.random.Generator) -> tuple[Taxonomy, Corpus]:
        """The world's taxonomy and item corpus (``params``: ``parse_params``' result)."""

    @abstractmethod
    def init_state(self, world: World, user_id: np.ndarray, rng: np.random.Generator) -> Any:
        """New users' state (a frozen dataclass of (B, ...) arrays with a ``session`` field)."""

    @abstractmethod
    def respond(self, world: World, state: Any, slate: np.ndarray, rng: np.random.Generator) -> Response:
        """What each user does with their slate (B, S)."""

    @abstractmethod
    def transition(
        self, world: World, state: Any, slate: np.ndarray, response: Response, rng: np.random.Generator
    ) -> tuple[Any, Events]:
        """The next state and the step's events; ``state`` is not changed."""

    def session_high(self, config: WorldConfig, params: Any) -> list[float]:
        """Upper bounds of the observation's session fields (budget, day, session steps, days
        away): by default the session config's own limits."""
        del params
        return [config.session_budget, config.horizon_days, config.max_session_steps, config.horizon_days]

    # --- oracle hooks: hidden truth, never part of an observation ------------------------------
    def latent_clusters(self, world: World, state: Any, level: ClusterLevel) -> tuple[np.ndarray, np.ndarray]:
        """(B, K) clusters of each user's latent interests at ``level`` and (B, K) whether each
        was discovered yet."""
        raise ConfigError(f"users of dynamics {self.name!r} have no latent interests; use oracle_cluster_utility")

    def cluster_utility(self, world: World, state: Any, clusters: np.ndarray, level: ClusterLevel) -> np.ndarray:
        """(B, K) the user's intrinsic utility for a typical item of each of clusters (B, K)."""
        raise ConfigError(f"dynamics {self.name!r} does not expose its users' utility of clusters")

    def interest_entropy(self, world: World, state: Any) -> np.ndarray:
        """(B,) entropy (nats) of each user's interests."""
        raise ConfigError(f"dynamics {self.name!r} does not expose its users' interest entropy")


class ModuleDynamics(Dynamics):
    """A Dynamics whose user is three functions of a module (``functions``): ``init_state(world,
    user_id, rng)``, ``respond(world, state, slate, rng)`` and ``transition(world, state, slate,
    response, rng)``, as the built-ins write them."""

    functions: ModuleType

    def init_state(self, world: World, user_id: np.ndarray, rng: np.random.Generator) -> Any:
        return self.functions.init_state(world, user_id, rng)

    def respond(self, world: World, state: Any, slate: np.ndarray, rng: np.random.Generator) -> Response:
        return self.functions.respond(world, state, slate, rng)  # type: ignore[no-any-return]

    def transition(
        self, world: World, state: Any, slate: np.ndarray, response: Response, rng: np.random.Generator
    ) -> tuple[Any, Events]:
        return self.functions.transition(world, state, slate, response, rng)  # type: ignore[no-any-return]


def entropy_of(weights: np.ndarray) -> np.ndarray:
    """(B,) entropy (nats) of each row of non-negative weights (B, K), normalized: the
    ``interest_entropy`` of users whose interests are such weights."""
    p = weights / np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    return -(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1)  # type: ignore[no-any-return]


_REGISTRY: dict[str, Dynamics | str] = {  # a string: 'module:attribute', imported on first use
    "interest": "envs.interest:DYNAMICS",
    "recsim": "envs.recsim:DYNAMICS",
    "recsim-ng": "envs.recsim_ng.world:DYNAMICS",  # the static view of a RecSim NG story (envs.recsim_ng)
}


def register_dynamics(dynamics: Dynamics) -> Dynamics:
    """Make ``dynamics`` available as ``WorldConfig(dynamics=dynamics.name)``. Registering
    another object under a taken name raises ConfigError; the same object again is a no-op."""
    if not isinstance(dynamics, Dynamics):
        raise ConfigError(f"register_dynamics takes a Dynamics instance, got {type(dynamics).__name__}")
    if not isinstance(dynamics.name, str) or not dynamics.name:
        raise ConfigError(f"{type(dynamics).__name__}.name must be a non-empty string, got {dynamics.name!r}")
    known = _REGISTRY.get(dynamics.name)
    if known is not None and known is not dynamics:
        raise ConfigError(f"dynamics {dynamics.name!r} is already registered; choose another name")
    _REGISTRY[dynamics.name] = dynamics
    return dynamics


def dynamics_names() -> list[str]:
    """Names ``WorldConfig.dynamics`` accepts."""
    return list(_REGISTRY)


def get_dynamics(name: str) -> Dynamics:
    """The registered dynamics called ``name``; ConfigError naming the known ones otherwise."""
    entry = _REGISTRY.get(name)
    if entry is None:
        raise ConfigError(
            f"dynamics {name!r} is not registered; known: {dynamics_names()} "
            "(envs.dynamics.register_dynamics adds one; a worker process must import the module that registers it)"
        )
    if isinstance(entry, str):
        module, attribute = entry.split(":")
        entry = getattr(importlib.import_module(module), attribute)
        if not isinstance(entry, Dynamics):
            raise ConfigError(f"{module}.{attribute} is not a Dynamics instance")
        _REGISTRY[name] = entry
    return entry
