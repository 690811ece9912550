"""RecSim's interest_evolution dynamics (recsim/environments/interest_evolution.py), batched.

As published in RecSim's source: T = 20 topics with one-hot document features; document
quality ~ N(mu_t, 0.1) where 14 "trashy" topics have means evenly spaced in [-3, 0] and 6
"nutritious" ones in [0, 3]; user interests x ~ U(-1, 1)^T; the score of a document of topic t
is x_t; multinomial proportional choice with no-click mass 1 and min_normalizer -1, so
P(i) = (s_i + 1) / (sum_j (s_j + 1) + 2); on a click in topic t the interest moves by
delta = 0.3 (1 - |x_t|)(1 - x_t), up with probability (x_t + 1) / 2 and down otherwise,
clipped to [-1, 1]; watch time = min(budget, 4); the budget (200) loses the watch time and
regains 0.265 * watch_time * quality on a click, and loses 0.5 on no click; the episode ends
when the budget is spent; reward = watch time.

One difference by design: RecSim samples 10 fresh candidate documents at every step, while
here slates are picked from a fixed corpus whose items are split evenly between the topics,
so that a uniformly random slate sees what RecSim's random agent sees
(``build_recsim_corpus_arrays``; tests/envs/test_recsim_crosscheck.py compares the two).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from envs.choice import proportional_probabilities, sample_choice
from envs.clusters import ClusterLevel
from envs.corpus import Corpus
from envs.dynamics import ModuleDynamics, entropy_of
from envs.errors import ConfigError
from envs.session import empty_session, engagement_events
from envs.state import Events, RecSimState, Response
from envs.taxonomy import Taxonomy
from envs.typed import check_fields

if TYPE_CHECKING:
    from envs.config import WorldConfig
    from envs.world import World

N_TOPICS = 20
TRASHY_MEANS = np.linspace(-3.0, 0.0, 14)
NUTRITIOUS_MEANS = np.linspace(0.0, 3.0, 6)
QUALITY_STD = 0.1
NO_CLICK_MASS = 1.0
MIN_NORMALIZER = -1.0


def topic_quality_means() -> np.ndarray:
    return np.concatenate([TRASHY_MEANS, NUTRITIOUS_MEANS])


@dataclass(frozen=True)
class RecSimParams:
    """The RecSim dynamics' own config section (``WorldConfig.dynamics_params``): RecSim's
    values, each with its place in RecSim's source in this module's docstring."""

    budget: float = 200.0
    """Minutes of a user's time budget (RecSim: 200)."""
    doc_length: float = 4.0
    """Length of every document in minutes (RecSim: 4)."""
    step_penalty: float = 0.5
    """Budget lost per request without a click (RecSim: 0.5)."""
    alpha: float = 0.9 / 3.4
    """Budget regained per minute watched, times quality (RecSim: 0.9 / 3.4)."""
    interest_step: float = 0.3
    """Size of an interest's move after a click in its topic (RecSim: 0.3)."""

    def __post_init__(self) -> None:
        check_fields(self, "RecSimParams")
        for name in ("budget", "doc_length", "step_penalty", "alpha", "interest_step"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0 or (value == 0 and name in ("budget", "doc_length")):
                raise ConfigError(f"RecSimParams.{name}={value!r} must be a finite number > 0 (>= 0 for rates)")


def init_state(world: World, user_id: np.ndarray, rng: np.random.Generator) -> RecSimState:
    cfg, params = world.config, world.params
    interests = rng.uniform(-1.0, 1.0, size=(len(user_id), N_TOPICS)).astype(np.float32)
    session = empty_session(user_id, cfg.history_length, world.level.n_clusters, params.budget)
    return RecSimState(interests=interests, session=session)


def respond(world: World, state: RecSimState, slate: np.ndarray, rng: np.random.Generator) -> Response:
    topic = np.take(world.level.item_cluster, slate)  # (B, S)
    rows = np.arange(slate.shape[0])
    score = state.interests[rows[:, None], topic]
    choice = sample_choice(proportional_probabilities(score, NO_CLICK_MASS, MIN_NORMALIZER), rng.random(len(rows)))
    clicked = choice >= 0
    pos = np.maximum(choice, 0)
    item = np.where(clicked, slate[rows, pos], -1)
    length = world.corpus.length[np.maximum(item, 0)]
    watch = np.minimum(state.session.budget, length)
    return Response(
        choice=choice,
        item=item.astype(np.int64),
        watch_time=np.where(clicked, watch, 0.0).astype(np.float32),
        completion=np.where(clicked, watch / length, 0.0).astype(np.float32),
        liked=np.zeros(len(rows), dtype=bool),
        utility=np.where(clicked, score[rows, pos], 0.0).astype(np.float32),
        interest=np.where(clicked, world.level.item_cluster[np.maximum(item, 0)], -1).astype(np.int64),
        closeness=np.zeros(len(rows), dtype=np.float32),
    )


def transition(
    world: World, state: RecSimState, slate: np.ndarray, response: Response, rng: np.random.Generator
) -> tuple[RecSimState, Events]:
    del slate
    params = world.params
    events, s = engagement_events(state.session, response, world.level.item_cluster, response.choice >= 0)
    rows = np.flatnonzero(events.clicked)
    interests = state.interests
    flip = rng.random(len(events.clicked))  # one per user, clicked or not: a fixed-size draw
    if len(rows):
        topic = events.cluster[rows]
        x = interests[rows, topic]
        delta = params.interest_step * (1.0 - np.abs(x)) * (1.0 - x)
        sign = np.where(flip[rows] < (x + 1.0) / 2.0, 1.0, -1.0)
        interests = interests.copy()
        interests[rows, topic] = np.clip(x + sign * delta, -1.0, 1.0)
    quality = world.corpus.quality[np.maximum(events.item, 0)]
    budget = np.where(
        events.clicked,
        s.budget - response.watch_time + params.alpha * response.watch_time * quality,
        s.budget - params.step_penalty * events.active,
    )
    over = events.active & (budget <= 0.0)
    s = dataclasses.replace(
        s, budget=budget.astype(np.float32), done=s.done | over, terminated=s.terminated | over
    )
    return RecSimState(interests=interests, session=s), events._replace(session_end=over)


def build_recsim_corpus_arrays(n_items: int, length: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Documents: the T topics in equal shares (sorted; to one item when T does not divide
    n_items), one-hot features, quality ~ N(mu_topic, 0.1), fixed length.

    Equal shares because RecSim draws every candidate's topic afresh, so its random slates
    show each topic with probability exactly 1/T. Topics drawn once for a fixed corpus are off
    by about sqrt(n_items / T) items each, and the topic sets the quality mean (-3 to 3): at
    2,000 items such a corpus had a mean quality of -0.51 instead of -0.60, so clicks regained
    more budget and episodes ran 1-2 % long (README, "The RecSim preset against RecSim"). What
    is left is the quality noise, 0.1 / sqrt(n_items) on the mean.
    """
    topic = (np.arange(n_items) * N_TOPICS // n_items).astype(np.int32)
    quality = rng.normal(topic_quality_means()[topic], QUALITY_STD).astype(np.float32)
    embeddings = np.eye(N_TOPICS, dtype=np.float32)[topic]
    return {
        "leaf": topic,
        "quality": quality,
        "embeddings": embeddings,
        "length": np.full(n_items, length, dtype=np.float32),
        "leaf_centers": np.eye(N_TOPICS, dtype=np.float32),
    }


class RecSimDynamics(ModuleDynamics):
    """RecSim's interest_evolution users (this module): topic interests, proportional choice,
    a time budget."""

    name = "recsim"
    functions = sys.modules[__name__]  # init_state, respond, transition above
    kernels = "envs.kernels.recsim"
    params_type = RecSimParams

    def build_catalogue(self, config: WorldConfig, params: RecSimParams,
                        rng: np.random.Generator) -> tuple[Taxonomy, Corpus]:
        taxonomy = recsim_taxonomy()
        arrays = build_recsim_corpus_arrays(config.n_items, params.doc_length, rng)
        titles = tuple(f"{taxonomy.topics[t]} video" for t in arrays["leaf"])
        for a in arrays.values():
            a.setflags(write=False)
        return taxonomy, Corpus(titles=titles, **arrays)

    def session_high(self, config: WorldConfig, params: RecSimParams) -> list[float]:
        # The budget never grows (a click regains at most 0.265 * 4 * max quality < 4) and
        # every request spends at least 0.4 of it, so a session lasts < budget / 0.4 steps.
        budget = params.budget
        return [budget, 1.0, budget / 0.4 + 1, 1.0]  # one session, day 0

    def cluster_utility(self, world: World, state: RecSimState, clusters: np.ndarray,
                        level: ClusterLevel) -> np.ndarray:
        return state.interests[np.arange(clusters.shape[0])[:, None], clusters]

    def interest_entropy(self, world: World, state: RecSimState) -> np.ndarray:
        return entropy_of(np.exp(state.interests - state.interests.max(axis=1, keepdims=True)))


def recsim_taxonomy() -> Taxonomy:
    """RecSim's 20 topics, named after the built-in taxonomy's domains so they read as words."""
    names = list(Taxonomy.load().domains)
    names += [f"topic {chr(ord('a') + i)}" for i in range(max(0, N_TOPICS - len(names)))]
    names = names[:N_TOPICS]
    return Taxonomy.from_dict(
        {"domains": [{"name": "recsim", "topics": [
            {"name": n, "subtopics": [{"name": f"{n} videos", "keywords": []}]} for n in names
        ]}]},
        source="RecSim topics",
    )


DYNAMICS = RecSimDynamics()  # registered by name in envs.dynamics
