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
from typing import TYPE_CHECKING

import numpy as np

from envs.choice import mnl_probabilities, proportional_probabilities, sample_choice
from envs.session import bit_set, empty_session, engagement_events, push_history
from envs.state import Events, InterestState, InterestUsers, Response, SessionState

if TYPE_CHECKING:
    from envs.world import World

SATIATION_WINDOW = 8  # clicks remembered for satiation
NEIGHBOURS = 12  # candidate subtopics "near" an interest, for latent and secondary interests


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
    n_leaves = world.taxonomy.n_leaves
    neighbours = world.leaf_neighbours  # (n_leaves, NEIGHBOURS)
    leaves = np.empty((n, n_act + n_lat), dtype=np.int64)
    leaves[:, 0] = rng.integers(0, n_leaves, size=n)
    for a in range(1, n_act + n_lat):
        # Each further interest lies near an earlier one with some probability, else anywhere:
        # interests cluster (a jazz fan often likes blues) but not always.
        locality = cfg.latent_locality if a >= n_act else 0.5
        near_of = leaves[np.arange(n), rng.integers(0, a, size=n)]
        near = neighbours[near_of, rng.integers(0, neighbours.shape[1], size=n)]
        anywhere = rng.integers(0, n_leaves, size=n)
        leaves[:, a] = np.where(rng.random(n) < locality, near, anywhere)
    return leaves, latent


def init_state(world: World, user_id: np.ndarray, rng: np.random.Generator) -> InterestState:
    """New users with their interests and an initial history drawn from their active interests."""
    cfg, corpus = world.config, world.corpus
    n, dim = len(user_id), corpus.dim
    leaves, latent = _anchor_leaves(world, n, rng)
    pos = corpus.leaf_centers[leaves] + _scaled_normal(rng, leaves.shape + (dim,), 0.05, dim)
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
    items = world.random_item_of_leaf(leaf, rng)
    clusters = world.level.item_cluster[items]
    corpus = world.corpus
    responses = np.stack(
        [corpus.length[items], np.ones_like(corpus.length[items]), np.zeros_like(corpus.length[items])], axis=-1
    )
    rows = np.arange(n)
    for t in range(h0):
        hi, hc, hr = push_history(s, rows, items[:, t], clusters[:, t], responses[:, t])
        s = dataclasses.replace(s, hist_items=hi, hist_clusters=hc, hist_responses=hr)
    return dataclasses.replace(s, engaged=bit_set(s.engaged, np.repeat(rows, h0), clusters.ravel()))


def anchor_kernel(users: InterestUsers, emb: np.ndarray, emb_sq: np.ndarray, width: float) -> np.ndarray:
    """exp(-|e - mu_a|^2 / (2 width^2)) for items emb (B, S, D) and anchors (B, A, D) → (B, S, A)."""
    mu = users.anchor_pos
    d2 = emb_sq[:, :, None] + (mu * mu).sum(axis=2)[:, None, :] - 2.0 * np.matmul(emb, mu.transpose(0, 2, 1))
    return np.exp(np.maximum(d2, 0.0) * (-0.5 / (width * width)))


def utility(world: World, state: InterestState, slate: np.ndarray) -> np.ndarray:
    """(B, S) the user's utility for every slate item."""
    cfg, corpus = world.config, world.corpus
    users = state.users
    k = anchor_kernel(users, corpus.embeddings[slate], world.embedding_sq[slate], cfg.affinity_width)
    affinity = (k * users.anchor_strength[:, None, :]).max(axis=2)
    leaf = corpus.leaf[slate]
    satiation = (
        (users.sat_leaf[:, None, :] == leaf[:, :, None]) * users.sat_weight[:, None, :]
    ).sum(axis=2)
    return cfg.w_affinity * affinity + cfg.w_quality * corpus.quality[slate] - cfg.w_satiation * satiation


def choice_probabilities(world: World, util: np.ndarray) -> np.ndarray:
    """(B, S + 1) probabilities of each slate position and of no click (last column)."""
    cfg = world.config
    if cfg.choice_model == "mnl":
        return mnl_probabilities(util, cfg.no_click_utility, cfg.choice_temperature)
    # Proportional scores must be non-negative: shift by the lowest utility the model allows.
    floor = -3.0 * cfg.w_quality - cfg.w_satiation / (1.0 - cfg.satiation_decay + 1e-9)
    return proportional_probabilities(util, cfg.no_click_utility, floor)


def respond(world: World, state: InterestState, slate: np.ndarray, rng: np.random.Generator) -> Response:
    """Choice (one item or none), then watch time, completion and like of the chosen item."""
    cfg, corpus = world.config, world.corpus
    util = utility(world, state, slate)
    r = rng.random((slate.shape[0], 3))
    choice = sample_choice(choice_probabilities(world, util), r[:, 0])
    rows = np.arange(slate.shape[0])
    pos = np.maximum(choice, 0)
    clicked = choice >= 0
    item = np.where(clicked, slate[rows, pos], -1)
    chosen_util = util[rows, pos]
    noise = np.log(r[:, 1] + 1e-12) - np.log1p(-r[:, 1] + 1e-12)  # logistic noise
    completion = _sigmoid(chosen_util - 1.0 + 0.5 * noise)
    liked = (r[:, 2] < _sigmoid(2.0 * (chosen_util - cfg.like_threshold))) & clicked
    watch = completion * corpus.length[np.maximum(item, 0)]
    return Response(
        choice=choice,
        item=item.astype(np.int64),
        watch_time=np.where(clicked, watch, 0.0).astype(np.float32),
        completion=np.where(clicked, completion, 0.0).astype(np.float32),
        liked=liked,
        utility=np.where(clicked, chosen_util, 0.0).astype(np.float32),
    )


def is_positive(response: Response) -> np.ndarray:
    """Positive engagement: liked, or watched at least half."""
    return response.liked | (response.completion >= 0.5)


def transition(
    world: World, state: InterestState, slate: np.ndarray, response: Response, rng: np.random.Generator
) -> tuple[InterestState, Events]:
    """Interests, satiation, history, session and return after a response."""
    del slate  # the response already names the clicked item
    events, session = engagement_events(state.session, response, world.level.item_cluster, is_positive(response))
    users, discovered = _update_interests(world, state.users, events)
    events = events._replace(discovered=discovered)
    session, users, ended = _update_session(world, session, users, events, response, rng)
    events = events._replace(session_end=ended)
    return InterestState(users=users, session=session), events


def _update_interests(world: World, users: InterestUsers, events: Events) -> tuple[InterestUsers, np.ndarray]:
    cfg, corpus = world.config, world.corpus
    discovered = np.zeros_like(events.clicked)
    rows = np.flatnonzero(events.clicked)
    if len(rows) == 0:
        return users, discovered
    item = events.item[rows]
    e = corpus.embeddings[item]  # (R, D)
    k = anchor_kernel(
        dataclasses.replace(users, anchor_pos=users.anchor_pos[rows]),
        e[:, None, :], world.embedding_sq[item][:, None], cfg.affinity_width,
    )[:, 0, :]  # (R, A)
    best = (k * users.anchor_strength[rows]).argmax(axis=1)
    positive = events.positive[rows]
    # The anchor that explains the click moves towards the item if the user enjoyed it.
    pos = users.anchor_pos.copy()
    step = (cfg.interest_learning_rate * positive)[:, None]
    pos[rows, best] += step * (e - pos[rows, best])
    strength = users.anchor_strength.copy()
    strength[rows] *= 1.0 - cfg.strength_decay
    gained = users.anchor_strength[rows, best] + cfg.strength_gain * np.where(positive, 1.0, -1.0)
    strength[rows, best] = np.clip(gained, 0.0, 1.0)
    found = users.anchor_latent[rows, best] & positive & (k[np.arange(len(rows)), best] >= cfg.discovery_affinity)
    found &= ~users.anchor_discovered[rows, best]
    discovered[rows] = found
    disc = users.anchor_discovered.copy()
    disc[rows[found], best[found]] = True
    sat_leaf, sat_weight = users.sat_leaf.copy(), users.sat_weight.copy()
    sat_leaf[rows, :-1] = sat_leaf[rows, 1:]
    sat_leaf[rows, -1] = corpus.leaf[item]
    sat_weight[rows, :-1] = sat_weight[rows, 1:] * cfg.satiation_decay
    sat_weight[rows, -1] = 1.0
    return InterestUsers(pos, strength, users.anchor_latent, disc, sat_leaf, sat_weight), discovered


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
    p_return = np.clip(_sigmoid(cfg.return_bias + cfg.return_slope * (satisfaction - 0.5)), 1e-3, 1.0 - 1e-9)
    delay = 1 + np.floor(np.log1p(-r[:, 1]) / np.log1p(-p_return)).astype(np.int32)  # geometric, >= 1
    new_day = np.where(ended, s.day + delay, s.day)
    done_now = ended & (churn | (new_day >= cfg.horizon_days))
    again = ended & ~done_now
    rows = np.flatnonzero(again)
    if len(rows):
        dim = users.anchor_pos.shape[2]
        pos = users.anchor_pos.copy()
        pos[rows] += _scaled_normal(rng, pos[rows].shape, cfg.drift_std, dim).astype(np.float32)
        users = dataclasses.replace(users, anchor_pos=pos)
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
    return s, users, ended


# --- oracle access: hidden truth, for the oracle baseline and exploration regret ---------------


def latent_clusters(world: World, state: InterestState, level_centroids: np.ndarray) -> np.ndarray:
    """(B, A) nearest cluster of every anchor (latent or not) at a level with these centroids."""
    mu = state.users.anchor_pos  # (B, A, D)
    d2 = (mu * mu).sum(axis=2)[:, :, None] - 2.0 * mu @ level_centroids.T + (level_centroids**2).sum(axis=1)
    return d2.argmin(axis=2)


def cluster_utility(
    world: World, state: InterestState, clusters: np.ndarray, centroids: np.ndarray, mean_quality: np.ndarray
) -> np.ndarray:
    """Intrinsic utility (before satiation) of a typical item of each cluster, (B, K) for clusters (B, K)."""
    cfg = world.config
    emb = centroids[clusters]  # (B, K, D)
    k = anchor_kernel(state.users, emb, (emb * emb).sum(axis=2), cfg.affinity_width)
    affinity = (k * state.users.anchor_strength[:, None, :]).max(axis=2)
    return cfg.w_affinity * affinity + cfg.w_quality * mean_quality[clusters]
