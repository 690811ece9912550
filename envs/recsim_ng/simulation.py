"""A RecSim NG story stepped one slate at a time: the batched core of both gymnasium envs.

RecSim NG runs a story as a network of variables, the recommender inside it. Here the
recommender is :class:`~envs.recsim_ng.recommender.ExternalSlateRecommender`, which serves
the slate the agent chose, and the network is stepped once per request. Each step's user
response becomes noveltygym's ``Response`` and goes through the same bookkeeping as every
noveltygym world (``envs.session.engagement_events``: history window, engaged-cluster
bitset, novelty), so events, observations and metrics mean the same thing.

Randomness: RecSim NG's random variables are drawn statelessly from a seed the caller's
``numpy.random.Generator`` sets before every step (``envs.recsim_ng.seeding``), so a rollout
depends only on the env's seed, whatever else ran in the process before or in between
(STYLE.md #5). That is what lets a step be compiled to one TensorFlow graph (traced once per
simulation, ~40x faster than eager steps at 1,000 users); a story that draws random numbers
outside edward2 is stepped eagerly instead, with TensorFlow's global seed also set per step.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from envs.errors import ConfigError, DataError, StateError, require_positive_int
from envs.recsim_ng import compat
from envs.recsim_ng.stories import REQUIRED_FIELDS, Story
from envs.recsim_ng.world import Documents, RecSimNGWorld, describe_topics
from envs.session import empty_session, engagement_events, observe
from envs.state import Events, Response, SessionState

compat.ensure()  # before TensorFlow and recsim_ng load (see compat's module docstring)

import tensorflow as tf  # noqa: E402
from recsim_ng.core import network as network_lib  # noqa: E402
from recsim_ng.core.value import Value  # noqa: E402

from envs.recsim_ng.recommender import ExternalSlateRecommender, RandomSlateRecommender  # noqa: E402
from envs.recsim_ng.seeding import StatelessSampling, stateful_random_ops  # noqa: E402

# One step's network value for TensorFlow: per variable (in network order), its fields.
Packed = list[dict[str, tf.Tensor]]

# Seeds are drawn below this bound: stateless seeds are int32 pairs.
_SEED_BOUND = 2**31 - 1


@dataclass(frozen=True)
class RecSimNGState:
    """``env.state``, as noveltygym's envs expose it to oracle agents: the session bookkeeping
    (arrays over users) and RecSim NG's network value (a ``recsim_ng`` Value of TensorFlow
    values per variable name; None before an episode's first step)."""

    session: SessionState
    network: Mapping[str, Any] | None


class Simulation:
    """B users of a RecSim NG story, with noveltygym's session bookkeeping on top.

    ``reset(user_ids)`` starts an episode (RecSim NG's initial step runs with the first
    slate, as its own stories answer the first recommendation); ``step(slate, rng)`` serves
    one slate to every user and returns the step's events. An episode lasts ``horizon``
    requests for every user at once: RecSim NG's users never leave on their own.
    ``graph_compile`` (as RecSim NG's ``TFRuntime``) compiles the step on first use.
    """

    def __init__(
        self, story: Story, horizon: int, history_length: int, world_seed: int = 0, graph_compile: bool = True
    ) -> None:
        require_positive_int("horizon", horizon)
        require_positive_int("history_length", history_length)
        self.story = story
        self.horizon = horizon
        self.n_users = story.num_users
        self.slate_size = int(story.config["slate_size"])
        self._slate = tf.Variable(
            tf.tile(tf.range(self.slate_size)[None], [self.n_users, 1]), trainable=False, name="noveltygym_slate"
        )
        tf.random.set_seed(world_seed)  # the corpus and anything else sampled while building
        variables = _build(story, lambda config, doc_fields: ExternalSlateRecommender(config, self._slate, doc_fields))
        self.network = network_lib.Network(variables=list(variables))
        # The world is the corpus of the first initial step; every episode must show the same.
        docs = read_documents(self.network.initial_step()["available docs"], story)
        self.world = RecSimNGWorld(
            docs,
            slate_size=self.slate_size,
            history_length=history_length,
            horizon=horizon,
            topic_names=describe_topics(int(story.config["num_topics"]), story.topic_names),
            n_topics=int(story.config["num_topics"]),
            seed=world_seed,
        )
        self._topics = docs.topic
        self._names = tuple(v.name for v in self.network.variables)
        self._sampling = StatelessSampling(tf.Variable([0, 0], dtype=tf.int32, trainable=False, name="noveltygym_seed"))
        self._sampling.attach(self.network.variables)
        self.graph_compile = graph_compile
        self._fns: tuple[Callable[[], Packed], Callable[[Packed], Packed]] | None = None
        self._packed: Packed | None = None
        self.session: SessionState | None = None
        self.t = 0

    def reset(self, user_ids: np.ndarray) -> dict[str, np.ndarray]:
        """Start an episode of new users (ids ``user_ids``); returns their first observation."""
        self.session = empty_session(
            np.asarray(user_ids, dtype=np.int64), self.world.config.history_length,
            self.world.level.n_clusters, float(self.horizon),
        )
        self._packed = None
        self.t = 0
        return observe(self.session)

    def observe(self) -> dict[str, np.ndarray]:
        if self.session is None:
            raise StateError("observe() before reset(); reset the simulation first")
        return observe(self.session)

    @property
    def done(self) -> bool:
        return self.t >= self.horizon

    @property
    def state(self) -> RecSimNGState | None:
        if self.session is None:
            return None
        return RecSimNGState(self.session, None if self._packed is None else self._unpack(self._packed))

    def step(self, slate: np.ndarray, rng: np.random.Generator) -> Events:
        """Serve ``slate`` (B, S) (validated by the world) and return the step's events."""
        if self.session is None:
            raise StateError("step() before reset(); reset the simulation first")
        slate = self.world.validate_slate(slate, self.n_users)
        initial, advance = self._functions()
        self._slate.assign(slate.astype(np.int32))
        seeds = rng.integers(_SEED_BOUND, size=3)  # always 3 draws: both modes consume rng alike
        self._sampling.seed.assign(seeds[:2].astype(np.int32))
        if not self.graph_compile:
            tf.random.set_seed(int(seeds[2]))  # random ops outside edward2 (eager only)
        if self._packed is None:
            self._packed = initial()
            self._check_same_corpus(self._field("available docs", "doc_topic"))
        else:
            self._packed = advance(self._packed)
        response = self._response(
            slate, self._field("user response", "choice"), self._field("user response", "consumed_time")
        )
        events, s = engagement_events(self.session, response, self.world.level.item_cluster, response.choice >= 0)
        self.t += 1
        done = np.full(self.n_users, self.done)
        self.session = dataclasses.replace(
            s,
            budget=np.full(self.n_users, self.horizon - self.t, dtype=np.float32),
            done=done,
            terminated=np.zeros(self.n_users, dtype=bool),
        )
        return events._replace(session_end=done)

    # --- the network, eager or compiled ------------------------------------------------------------
    def _functions(self) -> tuple[Callable[[], Packed], Callable[[Packed], Packed]]:
        if self._fns is None:
            self._fns = self._compiled() if self.graph_compile else (self._initial, self._advance)
        return self._fns

    def _compiled(self) -> tuple[Callable[[], Packed], Callable[[Packed], Packed]]:
        """Both steps traced once; refused (eager instead) when the graph holds random ops
        that the stateless sampling does not reach, since their draws would ignore the seed."""
        initial = tf.function(self._initial).get_concrete_function()
        spec = tf.nest.map_structure(lambda t: tf.TensorSpec(t.shape, t.dtype), initial.structured_outputs)
        advance = tf.function(self._advance).get_concrete_function(spec)
        stateful = stateful_random_ops(initial.graph) | stateful_random_ops(advance.graph)
        if stateful:
            warnings.warn(
                f"story {self.story.name!r} draws random numbers outside edward2 ({sorted(stateful)}), which a "
                "compiled step cannot reseed; stepping eagerly instead (slower, still seeded)",
                RuntimeWarning,
                stacklevel=4,
            )
            self.graph_compile = False
            return self._initial, self._advance
        return initial, advance

    def _initial(self) -> Packed:
        with self._sampling.active():
            return self._pack(self.network.initial_step())

    def _advance(self, packed: Packed) -> Packed:
        with self._sampling.active():
            return self._pack(self.network.step(self._unpack(packed)))

    def _pack(self, value: Mapping[str, Any]) -> Packed:
        return [{k: tf.convert_to_tensor(x) for k, x in value[n].as_dict.items()} for n in self._names]

    def _unpack(self, packed: Packed) -> dict[str, Any]:
        return {n: Value(**fields) for n, fields in zip(self._names, packed, strict=True)}

    def _field(self, variable: str, field: str) -> np.ndarray:
        assert self._packed is not None  # internal: called after a step
        return np.asarray(self._packed[self._names.index(variable)][field])

    # --- RecSim NG's values as noveltygym's -------------------------------------------------------
    def _response(self, slate: np.ndarray, choice_field: np.ndarray, consumed_field: np.ndarray) -> Response:
        """RecSim NG's response (choice = slate_size means none) as noveltygym's. Every click
        counts as positive, as in noveltygym's RecSim preset: RecSim's users have no like
        signal, and the choice itself is the engagement."""
        b = self.n_users
        choice = choice_field.reshape(b).astype(np.int64)
        consumed = consumed_field.reshape(b).astype(np.float32)
        clicked = (choice >= 0) & (choice < self.slate_size)
        rows = np.arange(b)
        item = np.where(clicked, slate[rows, np.where(clicked, choice, 0)], -1)
        length = self.world.corpus.length[np.maximum(item, 0)]
        watch = np.where(clicked, np.maximum(consumed, 0.0), 0.0).astype(np.float32)
        return Response(
            choice=np.where(clicked, choice, -1),
            item=item.astype(np.int64),
            watch_time=watch,
            completion=np.where(clicked, np.minimum(watch / np.maximum(length, 1e-9), 1.0), 0.0).astype(np.float32),
            liked=np.zeros(b, dtype=bool),
            utility=np.zeros(b, dtype=np.float32),  # RecSim NG's responses carry no utility
            interest=np.where(clicked, self._topics[np.maximum(item, 0)], -1).astype(np.int64),
            closeness=np.zeros(b, dtype=np.float32),
        )

    def _check_same_corpus(self, doc_topic: np.ndarray) -> None:
        topic = doc_topic.astype(np.int64)
        if topic.shape != self._topics.shape or not np.array_equal(topic, self._topics):
            raise DataError(
                f"story {self.story.name!r} drew a different corpus for this episode (doc_topic changed); "
                "noveltygym's agents know documents by id, so the corpus must be the same in every episode: "
                "build it once when the story is built (as interest_evolution_story's frozen corpus does)"
            )


def random_slate_network(story: Story, world_seed: int = 0) -> network_lib.Network:
    """The story's network with :class:`~envs.recsim_ng.recommender.RandomSlateRecommender` in
    place of the agent: random slates of distinct documents drawn inside the graph, for RecSim
    NG's own ``TFRuntime`` to run a whole horizon (benchmarks/bench_recsim_ng.py)."""
    tf.random.set_seed(world_seed)
    return network_lib.Network(variables=list(_build(story, RandomSlateRecommender)))


def _build(story: Story, make_recommender: Callable[[Mapping[str, Any], tuple[str, ...]], Any]) -> Collection[Any]:
    """The story's variables, with ``make_recommender(config, doc_fields)`` as the recommender,
    checked for the fields the adapter reads."""
    corpus = _Recorder(story.corpus_ctor)

    def recommender_ctor(config: Mapping[str, Any]) -> Any:
        if corpus.instance is None:
            raise ConfigError(
                f"story {story.name!r} builds its recommender before its corpus; the adapter reads the "
                "document fields from the corpus, so build the corpus first (as recs_story does)"
            )
        doc_fields = tuple(corpus.instance.specs().get("available_docs").as_dict)
        return make_recommender(config, doc_fields)

    recommender = _Recorder(recommender_ctor)
    build = story.build if story.build is not None else _recs_story()
    with warnings.catch_warnings():
        # recsim_ng's specs are float64 Boxes of float32 spaces; gym warns on each one.
        warnings.filterwarnings("ignore", message=".*Box bound precision lowered.*")
        variables = list(build(dict(story.config), story.user_ctor, corpus, recommender, story.metrics_ctor))
    if recommender.instance is None:
        raise ConfigError(
            f"story {story.name!r} never built a recommender with the recommender_ctor it was given, so the "
            "agent's slates would be ignored; build the slate from recommender_ctor(config) as recs_story does"
        )
    check_fields(story.name, variables)
    return variables


def check_fields(story_name: str, variables: Collection[Any]) -> None:
    """Raise DataError naming the first variable or field the adapter needs and the story lacks."""
    by_name = {v.name: v for v in variables}
    for var_name, fields in REQUIRED_FIELDS.items():
        if var_name not in by_name:
            raise DataError(
                f"story {story_name!r} has no variable {var_name!r} (it has {sorted(by_name)}); the adapter "
                f"reads {sorted(fields)} from it, so build the story like recsim_ng's recs_story"
            )
        present = set(by_name[var_name].spec.as_dict)
        for field, why in fields.items():
            if field not in present:
                raise DataError(
                    f"story {story_name!r}: variable {var_name!r} has no field {field!r} (it has "
                    f"{sorted(present)}); the adapter needs {why}"
                )


def read_documents(available_docs: Any, story: Story) -> Documents:
    """The corpus as arrays: required ``doc_topic``, and the optional fields or their defaults."""
    fields = set(available_docs.as_dict)
    topic = _numpy(available_docs.get("doc_topic")).astype(np.int64).reshape(-1)
    n = topic.shape[0]
    if n != int(story.config["num_docs"]):
        raise DataError(
            f"story {story.name!r}: doc_topic has {n} documents but config['num_docs'] = {story.config['num_docs']}"
        )

    def optional(name: str, default: np.ndarray) -> np.ndarray:
        return _numpy(available_docs.get(name)).astype(np.float32) if name in fields else default

    n_topics = int(story.config["num_topics"])
    features = optional("doc_features", np.eye(n_topics, dtype=np.float32)[topic])
    return Documents(
        topic=topic,
        quality=optional("doc_quality", np.zeros(n, dtype=np.float32)).reshape(n),
        features=features.reshape(n, -1),
        length=optional("doc_length", np.ones(n, dtype=np.float32)).reshape(n),
    )


class _Recorder:
    """Calls a constructor and keeps what it built (the story builds entities internally)."""

    def __init__(self, ctor: Callable[..., Any]) -> None:
        self.ctor = ctor
        self.instance: Any = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.instance = self.ctor(*args, **kwargs)
        return self.instance


def _recs_story() -> Callable[..., Collection[Any]]:
    from recsim_ng.stories import recommendation_simulation

    return recommendation_simulation.recs_story  # type: ignore[no-any-return]


def _numpy(x: Any) -> np.ndarray:
    """A field value (tensor or edward2 random variable) as a numpy array."""
    return np.asarray(tf.convert_to_tensor(x))

