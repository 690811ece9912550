"""World configuration: one frozen dataclass, validated up front, and the named presets."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from envs.dynamics import dynamics_names, get_dynamics
from envs.errors import ConfigError
from envs.typed import check_fields, renamed_field_error

ChoiceModel = Literal["mnl", "proportional"]
RewardKind = Literal["watch_time", "clicks", "likes", "positive", "utility"]
REWARD_KINDS: tuple[str, ...] = ("watch_time", "clicks", "likes", "positive", "utility")


@dataclass(frozen=True)
class WorldConfig:
    """Everything that defines a simulated world. Units: time in minutes, days as integers.

    Fields are grouped as corpus, clusters, users, choice and response, sessions.
    """

    # --- corpus -----------------------------------------------------------------------
    dynamics: str = "interest"
    """A registered dynamics (``envs.dynamics``): 'interest', noveltygym's anchor-mixture users;
    'recsim', RecSim interest_evolution; or one added with ``register_dynamics``."""
    dynamics_params: dict[str, Any] = field(default_factory=dict, compare=False)
    """The parameters of a dynamics with its own typed section (``Dynamics.params_type``), by
    name, checked against it (``World.params`` holds the result). The built-in dynamics read
    the fields below instead and take none."""
    n_items: int = 20_000
    """Items in the corpus, spread over the taxonomy's subtopics."""
    embedding_dim: int = 16
    """Dimension of the item and interest embedding space (set by hand; the cost of a step
    grows with it)."""
    taxonomy: str | None = None
    """Path of a taxonomy JSON file; None = the built-in one (envs/data/taxonomy.json)."""
    taxonomy_data: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    """An inline taxonomy (same schema as the file); wins over ``taxonomy`` (used by tiny)."""
    item_noise: float = 0.12
    """Spread of items around their subtopic centre (embedding units)."""
    quality_std: float = 1.0
    """Spread of item quality, a standard normal draw scaled by this (its weight in utility is
    ``w_quality``)."""

    # --- clusters ---------------------------------------------------------------------
    cluster_level: str | int = "topic"
    """Granularity of the interest clusters the env reports: 'domain', 'topic', 'subtopic',
    or an int K for K clusters found by k-means on item embeddings."""

    # --- users --------------------------------------------------------------------------
    n_active_anchors: int = 3
    """Interests the user's history comes from."""
    n_latent_anchors: int = 4
    """Interests the user enjoys when found but the system has never seen: what exploration finds.
    Four (two in `classic`): with two, most users have found both a few weeks in and exploration
    is then pure cost; four keep something to find over the 60-day horizon."""
    journey_predictability: float = 0.9
    """Probability that a latent interest is a journey from one of the user's active interests
    ("fans of X go on to like Y", the same targets for everyone with X); else it lies anywhere.
    0 = no journey structure: no selector can beat chance at naming latent interests. 0.9: most
    latent interests are learnable, a few only luck finds (README "Interest journeys": the Bayes
    ceiling is then 50 % against 1.4 % chance at topic level)."""
    journey_level: Literal["subtopic", "topic"] = "topic"
    """Level at which journeys are defined: from a subtopic to subtopics of other topics, or from
    a topic to other topics (a random subtopic of the target topic). Journeys defined at the
    level the selector sees are the ones a selector can learn from logs."""
    journeys_per_source: int = 2
    """How many targets each source subtopic (or topic) has: fewer = more predictable. 2 (issue
    12's prototype): with 3 active interests a user's latent ones then spread over about six
    candidate topics, so the last two clusters leave real uncertainty."""
    journey_semantic_share: float | None = 0.5
    """Where journey targets come from. A share s in [0, 1]: each source's targets are, with
    probability s, its nearest sources by the *words* of their descriptions (names and keywords:
    what a reader of the descriptions could guess, ``envs.journeys.semantic_neighbours``), else
    uniformly random other sources (idiosyncratic: only logs reveal them). The semantic part is
    what a language model's world knowledge could know (issue 12, part 3). 0.5 (world v3): half
    and half, so that neither the words nor the logs alone suffice (the words alone name a latent
    interest for 26 % of fresh users against a Bayes ceiling of 50 %, README "Meaning in the
    words"); not tuned for any selector. None: among the 30 nearest other sources in embedding
    space, which no text states (world v2, preset ``v2``)."""
    latent_fades: bool = False
    """Whether latent interests lose strength, like every other interest, each time the user
    engages with something else (then most fade before anyone finds them); False = they wait,
    at full strength, until found."""
    boredom_rate: float = 0.015
    """Boredom with an interest grows by this share of what is left (b += rate * (1 - b)) each
    time the user clicks an item it explains; the interest's pull is scaled by (1 - b). 0 = none
    (the `classic` world); it is what makes a served-to-death interest pay less and a new one pay.
    0.015, by measurement (`python -m experiments.journeys_calibration`): a pure-exploitation feed
    then watches 17 % less over 60 days than without boredom, and a good selector's discoveries
    pay (count selector +2 %, oracle +12 % watch time); at 0.03 the cost is 31 %, at 0 nothing
    pays, not even the oracle's discoveries."""
    boredom_recovery: float = 0.3
    """Share of boredom that fades per day away (b *= (1 - recovery) ** days between sessions):
    0.3, so a week away clears most of it (0.7^7 = 8 % left)."""
    self_discovery_rate: float = 0.1
    """Chance, at the start of each returning session, that a user finds one of their
    undiscovered latent interests on their own (search, a friend's link): it enters their history
    as an engagement the system did not recommend, so logs carry real journeys. 0.1: rare enough
    that a recommender's discoveries still matter (most users meet a few sessions in 60 days),
    frequent enough that 20,000 logged users hold thousands of journeys to learn from."""
    interest_popularity_skew: float = 0.0
    """How unequal domains are as people's interests: an interest drawn "anywhere" lands in the
    k-th domain of the taxonomy with weight k^-skew (Zipf). 0 = every subtopic equally likely (the
    default; the same draws as before the knob existed); about 1 makes a few domains mass tastes,
    as genres are on MovieLens (the `movielens` preset)."""
    catalogue_skew: float = 0.0
    """How unequal domains are in the catalogue: the k-th domain's subtopics share the items
    beyond one each with weight k^-skew (Zipf, the domains in the taxonomy's order). 0 = items
    spread evenly over subtopics (the default; the same draws as before the knob existed); about
    1 gives a few domains most of the items, as MovieLens holds far more dramas and comedies
    than westerns (the `movielens` preset, fitted)."""
    anchor_spread: float = 0.05
    """Spread of a new interest around its subtopic's centre (embedding units; divided by
    sqrt(embedding_dim) per axis). Set by hand when the world was designed: well inside
    ``affinity_width``, so an interest starts on its subtopic."""
    active_locality: float = 0.5
    """Probability that each further active interest of a user lies next to an earlier one (a
    neighbouring subtopic) instead of anywhere: people's visible interests cluster. Set by hand
    (half), never calibrated; MovieLens' genre co-occurrence would be the data to fit it to."""
    affinity_width: float = 0.27
    """Width of an interest's Gaussian bump in embedding space. Narrow enough that neighbouring
    subtopics are only partly liked (sibling centres lie about 0.35 apart), so novelty found by
    similarity alone costs enjoyment, while the latent interests themselves are worth finding."""
    w_affinity: float = 4.0
    """Weight of interest affinity (in [0, strength]) in an item's utility. Set by hand with
    w_quality, w_satiation and no_click_utility when the world was designed; the README's
    quickstart table shows the click and positive rates they give."""
    w_quality: float = 0.4
    """Weight of item quality in utility: quality matters, but less than taste."""
    w_satiation: float = 1.2
    """Weight of satiation (recent clicks on the same subtopic, ``satiation_decay``) subtracted
    from utility: a few clicks on one subtopic make the next one less likely (set by hand)."""
    satiation_decay: float = 0.7
    """Per click, the weight of older clicks in satiation decays by this factor."""
    interest_learning_rate: float = 0.05
    """How far a clicked item pulls the interest that liked it (the feedback loop)."""
    strength_gain: float = 0.05
    """Share of what is left to 1 that an interest's strength gains per positive engagement it
    explains (the feedback loop's reinforcement; set by hand)."""
    strength_decay: float = 0.01
    """Interests not engaged lose this share of strength per click (narrowing)."""
    drift_std: float = 0.03
    """Random drift of every interest at the start of each session."""
    initial_history: int = 10
    """Engagements each new user brings, drawn from their active interests (what a system
    knows of a user on day one; fills the default observation window)."""
    discovery_affinity: float = 0.5
    """A latent interest counts as discovered after a positive engagement this close to it."""
    active_strength: tuple[float, float] = (0.5, 1.0)
    """Range of the initial strengths of active interests (uniform)."""
    latent_strength: tuple[float, float] = (0.7, 1.0)
    """Ranges of initial interest strengths; latent interests are strong: worth finding."""
    fixed_anchors: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    """(active subtopics, latent subtopics) given to every user instead of random ones."""

    # --- choice and response -----------------------------------------------------------
    slate_size: int = 10
    """Items per recommendation request (a feed page)."""
    history_length: int = 10
    """How many recent engagements the observation shows (the window H)."""
    choice_model: ChoiceModel = "mnl"
    """'mnl': P(item) ∝ exp(utility / choice_temperature) against a no-click option of
    utility no_click_utility; 'proportional': RecSim's shifted-score choice (``envs.choice``)."""
    no_click_utility: float = 3.0
    """Utility of not clicking: how good a slate must be to be clicked at all."""
    choice_temperature: float = 1.0
    """Temperature of the multinomial logit (1 = the standard logit)."""
    completion_offset: float = 1.0
    completion_noise: float = 0.5
    """A clicked item is watched to completion sigmoid(utility - completion_offset +
    completion_noise * logistic noise): an item of utility completion_offset is half watched
    at the median, and the noise lets a good item bore and a mediocre one hold. Set by hand
    when the world was designed."""
    like_threshold: float = 2.0
    like_slope: float = 2.0
    """A clicked item is liked with probability sigmoid(like_slope * (utility - like_threshold)):
    likes are for items well above the click bar (set by hand)."""
    reward: RewardKind = "watch_time"
    """What the env's reward is: the enjoyment signal agents that learn from reward maximize."""

    # --- sessions and returns ------------------------------------------------------------
    session_budget: float = 30.0
    """Minutes a user has per session; watching spends them (RecSim's time budget, §4)."""
    no_click_cost: float = 1.0
    """Minutes a request without a click costs (scrolling past a slate)."""
    max_session_steps: int = 40
    """Requests after which a session ends even with budget left."""
    horizon_days: int = 60
    """Days a user is simulated; the episode truncates there."""
    return_bias: float = -0.5
    return_slope: float = 4.0
    return_midpoint: float = 0.5
    """Daily return probability is sigmoid(return_bias + return_slope * (satisfaction -
    return_midpoint)), satisfaction = the session's positive engagements per request: at the
    defaults a user whose every request was positive returns after 1.2 days on average, one
    with none after 13 (set by hand; "active days" in the summaries measure the effect)."""
    churn_rate: float = 0.02
    """Chance of leaving for good after a session, scaled by (1 - satisfaction)."""

    def __post_init__(self) -> None:
        check_fields(self, "WorldConfig")  # every field's type, before the ranges below
        positive_ints = (
            "n_items", "embedding_dim", "slate_size", "history_length",
            "max_session_steps", "horizon_days", "n_active_anchors", "journeys_per_source",
        )
        for name in positive_ints:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"WorldConfig.{name}={value!r} is invalid; it must be a positive integer")
        for name in ("n_latent_anchors", "initial_history"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"WorldConfig.{name}={value!r} is invalid; it must be an integer >= 0")
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, float) and not math.isfinite(value):
                raise ConfigError(f"WorldConfig.{f.name}={value!r} is not a finite number")
        positive_floats = (
            "affinity_width", "choice_temperature", "session_budget",
        )
        for name in positive_floats:
            if getattr(self, name) <= 0:
                raise ConfigError(f"WorldConfig.{name}={getattr(self, name)!r} must be > 0")
        if self.catalogue_skew < 0:
            raise ConfigError(
                f"WorldConfig.catalogue_skew={self.catalogue_skew!r} must be >= 0 (0 = items spread evenly)"
            )
        if self.interest_popularity_skew < 0:
            raise ConfigError(
                f"WorldConfig.interest_popularity_skew={self.interest_popularity_skew!r} must be >= 0 (0 = uniform)"
            )
        for name in (
            "journey_predictability", "satiation_decay", "churn_rate", "strength_decay",
            "boredom_rate", "boredom_recovery", "self_discovery_rate",
        ):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"WorldConfig.{name}={getattr(self, name)!r} must lie in [0, 1]")
        if self.journey_semantic_share is not None and not 0.0 <= self.journey_semantic_share <= 1.0:
            raise ConfigError(
                f"WorldConfig.journey_semantic_share={self.journey_semantic_share!r} must lie in [0, 1] or be None"
            )
        if self.dynamics not in dynamics_names():
            raise ConfigError(
                f"WorldConfig.dynamics={self.dynamics!r} is unknown; use one of {dynamics_names()} "
                "(envs.dynamics.register_dynamics adds one)"
            )
        if self.dynamics_params:  # checked now, not when a world is built (presets have none)
            get_dynamics(self.dynamics).parse_params(self.dynamics_params)
        if self.choice_model not in ("mnl", "proportional"):
            raise ConfigError(
                f"WorldConfig.choice_model={self.choice_model!r} is unknown; use 'mnl' or 'proportional'"
            )
        if self.reward not in REWARD_KINDS:
            raise ConfigError(f"WorldConfig.reward={self.reward!r} is unknown; use one of {REWARD_KINDS}")
        if self.slate_size > self.n_items:
            raise ConfigError(
                f"WorldConfig.slate_size={self.slate_size} exceeds n_items={self.n_items}; "
                "a slate holds distinct items, so lower slate_size or raise n_items"
            )
        for name in ("active_strength", "latent_strength"):
            lo, hi = getattr(self, name)
            if not 0.0 <= lo <= hi <= 1.0:
                raise ConfigError(f"WorldConfig.{name}={(lo, hi)!r} must satisfy 0 <= low <= high <= 1")
        if self.fixed_anchors is not None and (
            len(self.fixed_anchors[0]) != self.n_active_anchors or len(self.fixed_anchors[1]) != self.n_latent_anchors
        ):
            raise ConfigError(
                f"WorldConfig.fixed_anchors={self.fixed_anchors!r} must name n_active_anchors="
                f"{self.n_active_anchors} and n_latent_anchors={self.n_latent_anchors} subtopics"
            )
        level = self.cluster_level
        if isinstance(level, bool) or not isinstance(level, (str, int)):
            raise ConfigError(f"WorldConfig.cluster_level={level!r} must be a level name or an int K")
        if isinstance(level, int) and not 1 <= level <= self.n_items:
            raise ConfigError(
                f"WorldConfig.cluster_level={level} is invalid; K must lie in [1, n_items={self.n_items}]"
            )

    def replace(self, **changes: Any) -> WorldConfig:
        """A copy with some fields changed (validated again)."""
        unknown = sorted(set(changes) - {f.name for f in dataclasses.fields(self)})
        for key in unknown:
            error = renamed_field_error("WorldConfig", key, "WorldConfig")
            if error is not None:
                raise error
        if unknown:
            raise ConfigError(f"WorldConfig has no field(s) {unknown}; see `help(envs.WorldConfig)`")
        return dataclasses.replace(self, **changes)


# A 3-cluster world whose best policy is known (see envs/presets docs in README):
# every user's history comes from "alpha", every user has a stronger latent interest in
# "beta", and "gamma" is liked by nobody. Showing beta's items beats everything else.
TINY_TAXONOMY: dict[str, Any] = {
    "domains": [
        {"name": "tiny", "topics": [
            {"name": "alpha topic", "subtopics": [{"name": "alpha", "keywords": ["first", "known"]}]},
            {"name": "beta topic", "subtopics": [{"name": "beta", "keywords": ["second", "hidden"]}]},
            {"name": "gamma topic", "subtopics": [{"name": "gamma", "keywords": ["third", "dull"]}]},
        ]},
    ]
}

# The world before issue 12 ("classic", env id noveltygym/InterestExploration-v1): journeys per
# subtopic spread over other topics, latent interests that fade, no boredom, no self-discovery,
# subtopic clusters, a 14-day horizon. Every trajectory as it was.
CLASSIC = WorldConfig(
    cluster_level="subtopic", n_latent_anchors=2, journey_predictability=0.7, journey_level="subtopic",
    journeys_per_source=3, journey_semantic_share=None, latent_fades=True, boredom_rate=0.0, boredom_recovery=0.0,
    self_discovery_rate=0.0, horizon_days=14,
)

PRESETS: dict[str, WorldConfig] = {
    # World v3 (issue 12): interest journeys worth finding and possible to learn, half of them
    # following the words of the descriptions. Calibrated by `python -m
    # experiments.journeys_calibration` (README "Interest journeys").
    "default": WorldConfig(),
    # World v2: the same, with every journey to the nearest topics in embedding space (no text
    # states them). Every trajectory as it was under noveltygym/InterestExploration-v2.
    "v2": WorldConfig(journey_semantic_share=None),
    "classic": CLASSIC,
    "tiny": CLASSIC.replace(
        n_items=30, embedding_dim=4, taxonomy_data=TINY_TAXONOMY, cluster_level="subtopic",
        slate_size=3, history_length=4, n_active_anchors=1, n_latent_anchors=1, journey_predictability=0.0,
        initial_history=4, w_satiation=0.0, fixed_anchors=(("alpha",), ("beta",)),
        active_strength=(0.6, 0.6), latent_strength=(1.0, 1.0), drift_std=0.0, interest_learning_rate=0.0,
        strength_decay=0.0, strength_gain=0.0, item_noise=0.02, quality_std=0.1,
        max_session_steps=10, horizon_days=3, churn_rate=0.0,
    ),
    "recsim-interest-evolution": CLASSIC.replace(
        dynamics="recsim", n_items=2_000, slate_size=2, history_length=10, cluster_level="topic",
        choice_model="proportional", reward="watch_time",
    ),
    "large": WorldConfig(n_items=200_000, embedding_dim=32),
    # Fitted to MovieLens ml-latest-small (genres against this world's domains) by
    # `python -m experiments.reallogs.fit` (80 random candidates + 60 local steps, seed 0), on the
    # classic world: more interests per person, a catalogue where a few domains hold most items
    # (catalogue_skew, as dramas and comedies do on MovieLens), stronger satiation, people who
    # click readily and come back. Seven of eight figures within 15 % of MovieLens' (README
    # "Real logs"); not how fast people meet new clusters per positive engagement.
    "movielens": CLASSIC.replace(
        n_active_anchors=8, affinity_width=0.15, w_satiation=2.773, satiation_decay=0.417,
        no_click_utility=1.0, churn_rate=0.001, return_bias=1.861, interest_popularity_skew=0.153,
        catalogue_skew=0.81,
    ),
}


def resolve_config(preset_or_config: str | WorldConfig, **overrides: Any) -> WorldConfig:
    """A preset name or a config, with optional field overrides."""
    if isinstance(preset_or_config, WorldConfig):
        config = preset_or_config
    elif isinstance(preset_or_config, str):
        if preset_or_config not in PRESETS:
            raise ConfigError(f"unknown preset {preset_or_config!r}; choose one of {sorted(PRESETS)}")
        config = PRESETS[preset_or_config]
    else:
        raise ConfigError(f"expected a preset name or a WorldConfig, got {type(preset_or_config).__name__}")
    return config.replace(**overrides) if overrides else config
