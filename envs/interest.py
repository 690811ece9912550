"""noveltygym's user dynamics: each user is a mixture of interest anchors in embedding space.

Utility of item i for user u (DESIGN.md, envs):
    u(i) = w_affinity * max_a s_a exp(-|e_i - mu_a|^2 / (2 width^2))
         + w_quality * quality_i - w_satiation * satiation(subtopic_i)
Active anchors produce the initial history; latent anchors are liked when found and never
show in the history. A positive engagement pulls the anchor that liked the item towards it
and strengthens it, while every other anchor of that user weakens (the feedback loop that
narrows interests); all anchors drift a little at the start of each session.

Pure functions: ``init_state``, ``respond`` and ``transition`` never mutate their inputs.
"""

from __future__ import annotations

import dataclasses
import sys
from typing import TYPE_CHECKING

import numpy as np

from envs import journeys
from envs.choice import mnl_probabilities, proportional_probabilities, sample_choice
from envs.clusters import ClusterLevel, segments, uniform_member
from envs.corpus import Corpus, build_corpus
from envs.dynamics import ModuleDynamics, entropy_of
from envs.journeys import follow_journeys
from envs.session import bit_set, empty_session, engagement_events, set_bits, shift_in
from envs.state import Events, InterestState, InterestUsers, Response, SessionState
from envs.taxonomy import Taxonomy, leaf_weights_by_domain

if TYPE_CHECKING:
    from envs.config import WorldConfig
    from envs.world import World

SATIATION_WINDOW = 8  # clicks remembered for satiation


POSITIVE_COMPLETION = 0.5
"""A click is a positive engagement when liked or watched at least this share: the paper's
"positive engagement" (Wang et al. 2024, §2), the one definition the events, the language
layer's training data and the agents' serving histories (``agents.observations``) share."""
QUALITY_FLOOR_STDS = 3.0
"""``choice_floor`` counts item quality down to this many standard deviations below its mean
(a normal draw lies below it 0.1 % of the time; the floor only keeps proportional weights >= 0)."""


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _scaled_normal(rng: np.random.Generator, shape: tuple[int, ...], spread: float, dim: int) -> np.ndarray:
    return rng.normal(0.0, spread / np.sqrt(dim), size=shape)


def _anchor_leaves(world: World, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(n, A) home subtopic of each anchor and (n, A) whether it is latent."""
    cfg = world.config
    n_act, n_lat = cfg.n_active_anchors, cfg.n_latent_anchors
    latent = np.zeros((n, n_act + n_lat), dtype=bool)
    latent[:, n_act:] = True
    if cfg.fixed_anchors is not None:
        names = list(world.taxonomy.subtopics)
        fixed = [names.index(x) for x in (*cfg.fixed_anchors[0], *cfg.fixed_anchors[1])]
        return np.tile(np.asarray(fixed, dtype=np.int64), (n, 1)), latent
    neighbours = journeys.neighbours(world)  # (n_leaves, NEIGHBOURS)
    leaves = np.empty((n, n_act + n_lat), dtype=np.int64)
    anywhere_of = _leaf_sampler(world)
    leaves[:, 0] = anywhere_of(rng, n)
    for a in range(1, n_act + n_lat):
        # Further active interests lie near an earlier one with probability active_locality.
        # Latent ones follow the population's journeys (envs.journeys) from an active interest
        # with probability journey_predictability: the regularity ("fans of X go on to like Y")
        # that logs reveal and a learned selector can exploit; otherwise they lie anywhere.
        latent_a = a >= n_act
        locality = cfg.journey_predictability if latent_a else cfg.active_locality
        near_of = leaves[np.arange(n), rng.integers(0, n_act if latent_a else a, size=n)]
        if latent_a:
            near = follow_journeys(world, near_of, rng)
        else:
            near = neighbours[near_of, rng.integers(0, neighbours.shape[1], size=n)]
        anywhere = anywhere_of(rng, n)
        leaves[:, a] = np.where(rng.random(n) < locality, near, anywhere)
    return leaves, latent


def _leaf_sampler(world: World):
    """``draw(rng, n)``: n subtopics drawn "anywhere": uniformly, or with domain k weighted
    k^-interest_popularity_skew (each domain's weight shared by its subtopics)."""
    skew, n_leaves = world.config.interest_popularity_skew, world.taxonomy.n_leaves
    if skew == 0:
        return lambda rng, n: rng.integers(0, n_leaves, size=n)
    cum = np.cumsum(leaf_weights_by_domain(world.taxonomy, skew))
    return lambda rng, n: np.searchsorted(cum, rng.random(n) * cum[-1], side="right").clip(max=n_leaves - 1)


def leaf_members(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Items grouped by subtopic, (order, offsets) as ``envs.clusters.segments``; once per world."""
    return world.remembered("leaf_members", lambda w: segments(w.corpus.leaf, w.taxonomy.n_leaves))  # type: ignore[no-any-return]


def random_item_of_leaf(world: World, leaf: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniformly random item of each given subtopic (a subtopic without items gives any item)."""
    order, offsets = leaf_members(world)
    item = uniform_member(order, offsets, leaf, rng.random(leaf.shape))
    return np.where(item >= 0, item, rng.integers(0, len(order), leaf.shape))


def init_state(world: World, user_id: np.ndarray, rng: np.random.Generator) -> InterestState:
    """New users with their interests and an initial history drawn from their active interests."""
    cfg, corpus = world.config, world.corpus
    n, dim = len(user_id), corpus.dim
    leaves, latent = _anchor_leaves(world, n, rng)
    pos = corpus.leaf_centers[leaves] + _scaled_normal(rng, (*leaves.shape, dim), cfg.anchor_spread, dim)
    lo_a, hi_a = cfg.active_strength
    lo_l, hi_l = cfg.latent_strength
    u = rng.random(leaves.shape)
    strength = np.where(latent, lo_l + (hi_l - lo_l) * u, lo_a + (hi_a - lo_a) * u)
    users = InterestUsers(
        anchor_pos=pos.astype(np.float32),
        anchor_strength=strength.astype(np.float32),
        anchor_latent=latent,
        anchor_discovered=np.zeros_like(latent),
        sat_leaf=np.full((n, SATIATION_WINDOW), -1, dtype=np.int32),
        sat_weight=np.zeros((n, SATIATION_WINDOW), dtype=np.float32),
        anchor_leaf=leaves.astype(np.int32),
        anchor_boredom=np.zeros(leaves.shape, dtype=np.float32),
    )
    session = empty_session(user_id, cfg.history_length, world.level.n_clusters, cfg.session_budget)
    session = _initial_history(world, session, leaves[:, : cfg.n_active_anchors], strength, rng)
    return InterestState(users=users, session=session)


def _initial_history(
    world: World, s: SessionState, active_leaves: np.ndarray, strength: np.ndarray, rng: np.random.Generator
) -> SessionState:
    """Past engagements, drawn from the active interests in proportion to their strength."""
    n, h0 = len(s.user_id), world.config.initial_history
    if h0 == 0:
        return s
    w = strength[:, : active_leaves.shape[1]]
    cdf = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
    pick = (cdf[:, None, :] <= rng.random((n, h0, 1))).sum(axis=2).clip(max=active_leaves.shape[1] - 1)
    leaf = active_leaves[np.arange(n)[:, None], pick]  # (n, h0)
    items = random_item_of_leaf(world, leaf, rng)
    clusters = world.level.item_cluster[items]
    corpus = world.corpus
    responses = np.stack(
        [corpus.length[items], np.ones_like(corpus.length[items]), np.zeros_like(corpus.length[items])], axis=-1
    )
    # As if pushed one by one into the empty window: the last H of them stay, oldest first.
    kept = min(h0, s.hist_items.shape[1])
    hist_items, hist_clusters, hist_responses = s.hist_items.copy(), s.hist_clusters.copy(), s.hist_responses.copy()
    hist_items[:, -kept:] = items[:, -kept:]
    hist_clusters[:, -kept:] = clusters[:, -kept:]
    hist_responses[:, -kept:] = responses[:, -kept:]
    return dataclasses.replace(
        s,
        hist_items=hist_items,
        hist_clusters=hist_clusters,
        hist_responses=hist_responses,
        engaged=bit_set(s.engaged, np.repeat(np.arange(n), h0), clusters.ravel()),
    )


def effective_strength(users: InterestUsers) -> np.ndarray:
    """(B, A) float32 each interest's pull now: its strength scaled by (1 - boredom)."""
    return users.anchor_strength * (np.float32(1.0) - users.anchor_boredom)


def anchor_scores(users: InterestUsers, emb: np.ndarray, width: float) -> np.ndarray:
    """(B, A, S) width^2 * log(s_a exp(-|e - mu_a|^2 / (2 width^2))) + |e|^2 / 2 for items emb (B, S, D).

    The |e|^2 term is the same for every anchor, so it is left out here (added back after
    the max over anchors, on a smaller array). Laid out anchor-major so that the max over
    anchors runs over contiguous (B, S) slices, much faster than a short last-axis reduction."""
    mu = users.anchor_pos
    scores = np.matmul(mu, emb.transpose(0, 2, 1))  # (B, A, S)  mu . e
    strength = np.maximum(effective_strength(users), 1e-12)
    bias = (width * width) * np.log(strength) - 0.5 * np.einsum("bad,bad->ba", mu, mu)
    scores += bias[:, :, None]
    return scores


def affinity(users: InterestUsers, emb: np.ndarray, emb_sq: np.ndarray, width: float) -> tuple[np.ndarray, np.ndarray]:
    """(B, S) max over anchors of s_a exp(-|e - mu_a|^2 / (2 width^2)), and (B, S) the anchor
    attaining it: the interest that would explain a click on each item."""
    scores = anchor_scores(users, emb, width)
    best = scores[:, 0].copy()
    which = np.zeros(best.shape, dtype=np.int64)
    for a in range(1, scores.shape[1]):
        better = scores[:, a] > best
        np.maximum(best, scores[:, a], out=best)
        which[better] = a
    best -= 0.5 * emb_sq
    best *= 1.0 / (width * width)
    np.minimum(best, 0.0, out=best)  # log kernel <= log s <= 0; guards float rounding
    return np.exp(best, out=best), which


def satiation(users: InterestUsers, leaf: np.ndarray) -> np.ndarray:
    """(B, S) decayed count of recent clicks in each item's subtopic."""
    out = np.zeros(leaf.shape, dtype=np.float32)
    for w in range(users.sat_leaf.shape[1]):
        out += (leaf == users.sat_leaf[:, w : w + 1]) * users.sat_weight[:, w : w + 1]
    return out


def utility(world: World, state: InterestState, slate: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(B, S) the user's utility for every slate item, the affinity term and the interest behind it."""
    cfg, corpus = world.config, world.corpus
    users = state.users
    # np.take is several times faster than fancy indexing for these gathers (hot path).
    emb = np.take(corpus.embeddings, slate, axis=0)
    aff, which = affinity(users, emb, np.take(world.embedding_sq, slate), cfg.affinity_width)
    util = aff * cfg.w_affinity
    util += cfg.w_quality * np.take(corpus.quality, slate)
    if cfg.w_satiation:
        util -= cfg.w_satiation * satiation(users, np.take(corpus.leaf, slate))
    return util, aff, which


def choice_probabilities(world: World, util: np.ndarray) -> np.ndarray:
    """(B, S + 1) probabilities of each slate position and of no click (last column)."""
    cfg = world.config
    if cfg.choice_model == "mnl":
        return mnl_probabilities(util, cfg.no_click_utility, cfg.choice_temperature)
    return proportional_probabilities(util, cfg.no_click_utility, choice_floor(cfg))


def choice_floor(cfg: WorldConfig) -> float:
    """The lowest utility the model allows: proportional choice shifts scores by it so that
    they are non-negative. Affinity is never below 0; quality is counted down to
    QUALITY_FLOOR_STDS standard deviations (in units of quality_std = 1, the presets' value)
    and satiation at its largest, every past click on the subtopic (a geometric sum)."""
    return -QUALITY_FLOOR_STDS * cfg.w_quality - cfg.w_satiation / (1.0 - cfg.satiation_decay + 1e-9)


def respond(world: World, state: InterestState, slate: np.ndarray, rng: np.random.Generator) -> Response:
    """Choice (one item or none), then watch time, completion and like of the chosen item."""
    cfg, corpus = world.config, world.corpus
    util, aff, which = utility(world, state, slate)
    r = rng.random((slate.shape[0], 3))
    choice = sample_choice(choice_probabilities(world, util), r[:, 0])
    rows = np.arange(slate.shape[0])
    pos = np.maximum(choice, 0)
    clicked = choice >= 0
    item = np.where(clicked, slate[rows, pos], -1)
    chosen_util = util[rows, pos]
    noise = np.log(r[:, 1] + 1e-12) - np.log1p(-r[:, 1] + 1e-12)  # logistic noise
    completion = _sigmoid(chosen_util - cfg.completion_offset + cfg.completion_noise * noise)
    liked = (r[:, 2] < _sigmoid(cfg.like_slope * (chosen_util - cfg.like_threshold))) & clicked
    watch = completion * corpus.length[np.maximum(item, 0)]
    return Response(
        choice=choice,
        item=item.astype(np.int64),
        watch_time=np.where(clicked, watch, 0.0).astype(np.float32),
        completion=np.where(clicked, completion, 0.0).astype(np.float32),
        liked=liked,
        utility=np.where(clicked, chosen_util, 0.0).astype(np.float32),
        interest=np.where(clicked, which[rows, pos], -1),
        closeness=np.where(
            clicked,
            np.minimum(aff[rows, pos] / np.maximum(effective_strength(state.users)[rows, which[rows, pos]], 1e-12),
                       1.0),
            0.0,
        ).astype(np.float32),
    )


def is_positive(response: Response) -> np.ndarray:
    """Positive engagement: liked, or watched at least POSITIVE_COMPLETION of the item."""
    return response.liked | (response.completion >= POSITIVE_COMPLETION)


def transition(
    world: World, state: InterestState, slate: np.ndarray, response: Response, rng: np.random.Generator
) -> tuple[InterestState, Events]:
    """Interests, satiation, history, session and return after a response."""
    del slate  # the response already names the clicked item
    events, session = engagement_events(state.session, response, world.level.item_cluster, is_positive(response))
    users, discovered = _update_interests(world, state.users, events, response)
    events = events._replace(discovered=discovered)
    session, users, ended = _update_session(world, session, users, events, response, rng)
    events = events._replace(session_end=ended)
    return InterestState(users=users, session=session), events


def _update_interests(
    world: World, users: InterestUsers, events: Events, response: Response
) -> tuple[InterestUsers, np.ndarray]:
    """Reinforce (or weaken) the interest that explains each click; others fade a little.

    Written densely over all users with masks: most users click, and contiguous whole-array
    operations beat fancy indexing of the clicking rows."""
    cfg, corpus = world.config, world.corpus
    clicked, positive = events.clicked, events.positive
    item = np.maximum(events.item, 0)
    e = np.take(corpus.embeddings, item, axis=0)  # (B, D)
    rows = np.arange(len(item))
    best = np.maximum(response.interest, 0)  # (B,) the interest that explains the click
    strength_best = users.anchor_strength[rows, best]
    # The explaining interest moves towards the item when the user enjoyed it.
    pos = users.anchor_pos.copy()
    step = (cfg.interest_learning_rate * positive).astype(np.float32)[:, None]
    pos[rows, best] += step * (e - pos[rows, best])
    keep = np.where(clicked, 1.0 - cfg.strength_decay, 1.0).astype(np.float32)[:, None]
    if not cfg.latent_fades:  # undiscovered latent interests wait at full strength
        keep = np.where(users.anchor_latent & ~users.anchor_discovered, np.float32(1.0), keep)
    strength = users.anchor_strength * keep
    gained = np.clip(strength_best + cfg.strength_gain * np.where(positive, 1.0, -1.0), 0.0, 1.0)
    strength[rows, best] = np.where(clicked, gained, strength[rows, best])
    discovered = (
        positive & users.anchor_latent[rows, best] & ~users.anchor_discovered[rows, best]
        & (response.closeness >= cfg.discovery_affinity)
    )
    disc = users.anchor_discovered.copy()
    disc[rows, best] |= discovered
    sat_leaf = shift_in(users.sat_leaf, np.take(corpus.leaf, item), clicked)
    sat_weight = shift_in(users.sat_weight * cfg.satiation_decay, np.float32(1.0), clicked, users.sat_weight)
    boredom = users.anchor_boredom
    if cfg.boredom_rate:  # the interest behind a click tires a little
        boredom = boredom.copy()
        b = boredom[rows, best]
        boredom[rows, best] = np.where(clicked, b + np.float32(cfg.boredom_rate) * (np.float32(1.0) - b), b)
    new = InterestUsers(
        pos, strength.astype(np.float32), users.anchor_latent, disc, sat_leaf, sat_weight, users.anchor_leaf, boredom
    )
    return new, discovered


def _update_session(
    world: World,
    s: SessionState,
    users: InterestUsers,
    events: Events,
    response: Response,
    rng: np.random.Generator,
) -> tuple[SessionState, InterestUsers, np.ndarray]:
    """Spend session time; at a session's end the user leaves and returns after a delay that
    shrinks with satisfaction, or churns; interests drift between sessions."""
    cfg = world.config
    active = events.active
    budget = s.budget - np.where(events.clicked, response.watch_time, cfg.no_click_cost) * active
    ended = active & ((budget <= 0.0) | (s.session_steps >= cfg.max_session_steps))
    r = rng.random((len(budget), 2))
    satisfaction = s.session_positive / np.maximum(s.session_steps, 1)
    churn = ended & (r[:, 0] < cfg.churn_rate * (1.0 - satisfaction))
    p_return = np.clip(_sigmoid(cfg.return_bias + cfg.return_slope * (satisfaction - cfg.return_midpoint)), 1e-3,
                       1.0 - 1e-9)
    delay = 1 + np.floor(np.log1p(-r[:, 1]) / np.log1p(-p_return)).astype(np.int32)  # geometric, >= 1
    new_day = np.where(ended, s.day + delay, s.day)
    done_now = ended & (churn | (new_day >= cfg.horizon_days))
    again = ended & ~done_now
    rows = np.flatnonzero(again)
    if len(rows):
        pos = users.anchor_pos.copy()
        drift_interests(pos, rows, cfg.drift_std, rng)
        users = dataclasses.replace(users, anchor_pos=pos)
        if cfg.boredom_recovery:
            boredom = users.anchor_boredom.copy()
            recover_boredom(boredom, rows, delay[rows], cfg.boredom_recovery)
            users = dataclasses.replace(users, anchor_boredom=boredom)
    s = dataclasses.replace(
        s,
        budget=np.where(again, cfg.session_budget, budget).astype(np.float32),
        day=np.where(done_now, s.day, new_day).astype(np.int32),
        session_steps=np.where(again, 0, s.session_steps).astype(np.int32),
        session_positive=np.where(again, 0, s.session_positive).astype(np.int32),
        days_away=np.where(again, delay, s.days_away).astype(np.int32),
        done=s.done | done_now,
        terminated=s.terminated | (done_now & churn),
    )
    if cfg.self_discovery_rate and len(rows):  # on copies: the input state stays as it was
        s = dataclasses.replace(
            s, hist_items=s.hist_items.copy(), hist_clusters=s.hist_clusters.copy(),
            hist_responses=s.hist_responses.copy(), engaged=s.engaged.copy(),
        )
        users = dataclasses.replace(users, anchor_discovered=users.anchor_discovered.copy())
        self_discover(world, users, s, rows, rng)
    return s, users, ended


def recover_boredom(boredom: np.ndarray, rows: np.ndarray, days_away: np.ndarray, recovery: float) -> None:
    """In place: boredom (B, A) of users ``rows`` fades by ``recovery`` per day away."""
    boredom[rows] *= ((1.0 - recovery) ** days_away.astype(np.float64)).astype(np.float32)[:, None]


def self_discover(world: World, users: InterestUsers, s: SessionState, rows: np.ndarray,
                  rng: np.random.Generator) -> np.ndarray:
    """In place, for users ``rows`` starting a new session: with probability
    ``self_discovery_rate`` each finds one of their undiscovered latent interests on their own
    (uniformly among them): a random item of its home subtopic enters the history as a fully
    watched engagement, its cluster counts as engaged, the interest as discovered. Not an event
    of any step: the system did not recommend it. Returns the rows that found one."""
    r = rng.random((len(rows), 3))
    undiscovered = users.anchor_latent[rows] & ~users.anchor_discovered[rows]  # (R, A)
    n_open = undiscovered.sum(axis=1)
    k = np.minimum((r[:, 1] * n_open).astype(np.int64), np.maximum(n_open - 1, 0))
    anchor = (np.cumsum(undiscovered, axis=1) > k[:, None]).argmax(axis=1)  # the k-th undiscovered one
    order, offsets = leaf_members(world)
    item = uniform_member(order, offsets, users.anchor_leaf[rows, anchor].astype(np.int64), r[:, 2])
    finds = (r[:, 0] < world.config.self_discovery_rate) & (n_open > 0) & (item >= 0)
    found, anchor, item = rows[finds], anchor[finds], item[finds]
    users.anchor_discovered[found, anchor] = True
    cluster = world.level.item_cluster[item].astype(np.int64)
    responses = np.stack([world.corpus.length[item], np.ones(len(item)), np.zeros(len(item))], axis=1)
    every = np.ones(len(found), dtype=bool)
    for hist, new in ((s.hist_items, item), (s.hist_clusters, cluster), (s.hist_responses, responses)):
        hist[found] = shift_in(hist[found], new, every)
    set_bits(s.engaged, found, cluster)
    return found


def drift_interests(anchor_pos: np.ndarray, rows: np.ndarray, std: float, rng: np.random.Generator) -> None:
    """Move the interests (B, A, D) of users ``rows`` by Gaussian noise, in place: the slow
    drift between sessions."""
    if len(rows):
        shape = (len(rows), *anchor_pos.shape[1:])
        anchor_pos[rows] += _scaled_normal(rng, shape, std, anchor_pos.shape[2]).astype(np.float32)


# --- oracle access: hidden truth, for the oracle baseline and exploration regret ---------------


def nearest_clusters(anchor_pos: np.ndarray, level_centroids: np.ndarray) -> np.ndarray:
    """(B, K) nearest cluster centroid of each interest position (B, K, D)."""
    mu = anchor_pos
    d2 = -2.0 * mu @ level_centroids.T + (level_centroids**2).sum(axis=1)  # |mu|^2 does not change the argmin
    return d2.argmin(axis=2)


def cluster_utility(
    world: World, state: InterestState, clusters: np.ndarray, centroids: np.ndarray, mean_quality: np.ndarray
) -> np.ndarray:
    """Intrinsic utility (before satiation) of a typical item of each cluster, (B, K) for clusters (B, K)."""
    cfg = world.config
    emb = centroids[clusters].astype(np.float32)  # (B, K, D)
    aff, _ = affinity(state.users, emb, (emb * emb).sum(axis=2), cfg.affinity_width)
    return cfg.w_affinity * aff + cfg.w_quality * mean_quality[clusters]


class InterestDynamics(ModuleDynamics):
    """noveltygym's users (this module): anchor mixtures over the taxonomy's embedding space,
    latent interests that follow journeys, satiation and boredom, sessions and returns."""

    name = "interest"
    functions = sys.modules[__name__]  # init_state, respond, transition above
    kernels = "envs.kernels.interest"
    has_latent_interests = True
    has_journeys = True

    def build_catalogue(self, config: WorldConfig, params: None, rng: np.random.Generator) -> tuple[Taxonomy, Corpus]:
        taxonomy = (
            Taxonomy.from_dict(config.taxonomy_data, source="inline taxonomy")
            if config.taxonomy_data is not None
            else Taxonomy.load(config.taxonomy)
        )
        corpus = build_corpus(taxonomy, config.n_items, config.embedding_dim, rng, config.item_noise,
                              config.quality_std, config.catalogue_skew)
        return taxonomy, corpus

    def latent_clusters(self, world: World, state: InterestState, level: ClusterLevel) -> tuple[np.ndarray, np.ndarray]:
        latent = np.flatnonzero(state.users.anchor_latent[0])  # the same anchors are latent for every user
        nearest = _nearest_remembered(world, state.users.anchor_pos, latent, level)
        return nearest, np.take(state.users.anchor_discovered, latent, axis=1)

    def cluster_utility(self, world: World, state: InterestState, clusters: np.ndarray,
                        level: ClusterLevel) -> np.ndarray:
        mean_quality = world.remembered(
            f"mean_quality:{level.name}",
            lambda w: np.bincount(level.item_cluster, weights=w.corpus.quality, minlength=level.n_clusters)
            / np.maximum(level.sizes, 1),
        )
        return cluster_utility(world, state, clusters, level.centroids, mean_quality)

    def interest_entropy(self, world: World, state: InterestState) -> np.ndarray:
        return entropy_of(state.users.anchor_strength.astype(np.float64))


def _nearest_remembered(world: World, anchor_pos: np.ndarray, columns: np.ndarray, level: ClusterLevel) -> np.ndarray:
    """(B, K) nearest cluster of anchor_pos[:, columns] (B, K, D): the numpy reference, or on
    numba worlds its compiled pruned search started from the world's last answer at this level
    (interests move little between two requests; a poor start costs time, never a wrong
    answer), which an interest that did not move at all keeps without a search; the kernel
    reads the positions in place and copies them for the next call."""
    kernels = world.kernels
    if kernels is None or not hasattr(kernels, "nearest_clusters"):
        return nearest_clusters(np.take(anchor_pos, columns, axis=1), level.centroids)
    memo = world.scratch.setdefault("nearest", {})  # level name -> (answer, the positions it answered)
    last, last_pos = memo.get(level.name, (None, None))
    if last is None or last_pos is None or last_pos.shape != (len(anchor_pos), len(columns), anchor_pos.shape[2]):
        pos = np.take(anchor_pos, columns, axis=1).astype(np.float32, copy=False)
        nearest = nearest_clusters(pos, level.centroids)  # a full search: BLAS is fastest
    else:
        sq_norms, neighbours = kernels.level_search_tables(level)
        pos = np.empty_like(last_pos)
        nearest = kernels.nearest_clusters(anchor_pos, level.centroids, sq_norms, neighbours, last, last_pos,
                                           columns=columns, seen=pos)
    memo[level.name] = (nearest, pos)
    return nearest.copy()  # type: ignore[no-any-return]


DYNAMICS = InterestDynamics()  # registered by name in envs.dynamics
