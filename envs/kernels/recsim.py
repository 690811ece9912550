"""RecSim's interest_evolution dynamics (``envs.recsim``) compiled: respond, transition and
observation in passes over blocks of users, chunks of blocks on several threads
(``envs.kernels.chunks``), updating a state the caller owns in place.

``envs.recsim`` is the readable reference; this kernel draws the same random numbers in the
same order (tests/envs/test_kernels.py checks that both agree). ``rollout`` runs the same
per-user step over a whole horizon with random slates drawn in the kernel: the engine alone,
no Python between requests (``World.rollout_random``; benchmarks/bench_recsim_ng.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from envs.kernels.chunks import run_in_chunks
from envs.kernels.common import (
    BLOCK,
    choose,
    empty_session_row,
    jit,
    mark_inactive,
    observe_rows,
    record,
    record_ring,
)
from envs.recsim import MIN_NORMALIZER, NO_CLICK_MASS
from envs.state import Events, RecSimState

if TYPE_CHECKING:
    from envs.world import World


class Params(NamedTuple):
    """The config values the kernel reads, as plain numbers (numba passes them by value)."""

    interest_step: float
    alpha: float
    step_penalty: float


def params(world: World) -> Params:
    return Params(world.params.interest_step, world.params.alpha, world.params.step_penalty)


def step_inplace(world: World, state: RecSimState, slate: np.ndarray, rng: np.random.Generator,
                 events: Events, obs: dict[str, np.ndarray]) -> None:
    """One step of every user of ``state`` (mutated), events and observation written into
    ``events`` and ``obs``. ``slate`` must have passed ``World.validate_slate``."""
    s, c = state.session, world.corpus
    n = len(slate)
    choice_uniforms = rng.random(n)  # the draw of envs.recsim.respond ...
    flip_uniforms = rng.random(n)  # ... and of its transition, in that order

    def run(lo: int, hi: int) -> None:
        _step(
            world.kernel_params, lo, hi, slate, choice_uniforms, flip_uniforms,
            c.quality, c.length, world.level.item_cluster, state.interests,
            s.user_id, s.hist_items, s.hist_clusters, s.hist_responses, s.engaged, s.budget, s.day,
            s.session_steps, s.session_positive, s.days_away, s.done, s.terminated,
            events, obs["items"], obs["clusters"], obs["responses"], obs["session"],
        )

    run_in_chunks(run, n, BLOCK, key="recsim")


@jit
def _step(
    p, first, last, slate, choice_uniforms, flip_uniforms, quality, length, item_cluster, interests,
    user_id, hist_items, hist_clusters, hist_responses, engaged, budget, day,
    session_steps, session_positive, days_away, done, terminated,
    ev, obs_items, obs_clusters, obs_responses, obs_session,
):  # type: ignore[no-untyped-def]
    """Users first..last-1, a block at a time."""
    for lo in range(first, last, BLOCK):
        hi = min(lo + BLOCK, last)
        _step_block(p, lo, hi, slate, choice_uniforms, flip_uniforms, quality, length, item_cluster, interests,
                    user_id, hist_items, hist_clusters, hist_responses, engaged, budget, day, session_steps,
                    session_positive, done, terminated, ev, np.zeros(0, dtype=np.int64))
        observe_rows(lo, hi, hist_items, hist_clusters, hist_responses, budget, day, session_steps, days_away,
                     obs_items, obs_clusters, obs_responses, obs_session)


def _block_step(ring: bool):  # type: ignore[no-untyped-def]
    """``_step_block`` (ring False: histories shifted, ``record``) or ``_step_block_ring``
    (``record_ring``, oldest slots in ``oldest``), ``ring`` a compile-time constant: a kernel
    that chose at run time, or called the recorder after this one, ran the rollout 2-4x slower."""

    @jit
    def step_block(
        p, lo, hi, slate, choice_uniforms, flip_uniforms, quality, length, item_cluster, interests,
        user_id, hist_items, hist_clusters, hist_responses, engaged, budget, day, session_steps, session_positive,
        done, terminated, ev, oldest,
    ):  # type: ignore[no-untyped-def]
        n_slate = slate.shape[1]
        score = np.empty((hi - lo, n_slate), dtype=np.float32)
        for i in range(lo, hi):
            for j in range(n_slate):
                score[i - lo, j] = interests[i, item_cluster[slate[i, j]]]
        choice = np.empty(hi - lo, dtype=np.int64)
        choose(score, False, NO_CLICK_MASS, 1.0, MIN_NORMALIZER, choice_uniforms[lo:hi], choice)
        _respond_and_update(p, lo, hi, slate, choice, score, flip_uniforms, quality, length, item_cluster,
                            interests, user_id, budget, day, session_steps, session_positive, done, terminated, ev)
        if ring:
            record_ring(lo, hi, ev, hist_items, hist_clusters, hist_responses, engaged, oldest)
        else:
            record(lo, hi, ev, hist_items, hist_clusters, hist_responses, engaged)

    step_block.__doc__ = """One step of users lo..hi-1 (a block), all but the observation: the choice, the
    response, the interest update and the budget, then the history (``envs.recsim.respond``
    and ``transition``). What both ``step_inplace`` and ``rollout`` run."""
    return step_block


_step_block = _block_step(ring=False)
_step_block_ring = _block_step(ring=True)


@jit
def _respond_and_update(
    p, lo, hi, slate, choice, score, flip_uniforms, quality, length, item_cluster, interests,
    user_id, budget, day, session_steps, session_positive, done, terminated, ev,
):  # type: ignore[no-untyped-def]
    """For users lo..hi-1 who chose ``choice`` (block-relative rows of choice and score): the
    response, the interest update and the budget (``envs.recsim.respond`` and ``transition``
    but for the history, which ``record`` keeps)."""
    for i in range(lo, hi):
        ev.user_id[i] = user_id[i]
        ev.day[i] = day[i]
        if done[i]:
            mark_inactive(i, ev)
            continue
        clicked = choice[i - lo] >= 0
        pos = max(choice[i - lo], 0)
        item = slate[i, pos] if clicked else -1
        length_i = length[max(item, 0)]
        watch = min(budget[i], length_i)
        ev.active[i] = True
        ev.clicked[i] = clicked
        ev.item[i] = item
        ev.cluster[i] = item_cluster[item] if clicked else -1
        ev.watch_time[i] = watch if clicked else np.float32(0.0)
        ev.completion[i] = watch / length_i if clicked else np.float32(0.0)
        ev.liked[i] = False
        ev.positive[i] = clicked  # a click is RecSim's engagement
        ev.discovered[i] = False
        ev.utility[i] = score[i - lo, pos] if clicked else np.float32(0.0)
        session_steps[i] += 1
        if clicked:
            session_positive[i] += 1
            topic = item_cluster[item]
            x = interests[i, topic]
            delta = p.interest_step * (1.0 - abs(x)) * (1.0 - x)
            moved = x + delta if flip_uniforms[i] < (x + 1.0) / 2.0 else x - delta
            interests[i, topic] = min(max(moved, -1.0), 1.0)
            left = budget[i] - watch + np.float32(p.alpha) * watch * quality[item]
        else:
            left = budget[i] - np.float32(p.step_penalty)
        budget[i] = left
        over = left <= 0.0
        if over:
            done[i] = True
            terminated[i] = True
        ev.session_end[i] = over


# --- a whole horizon inside the kernel: the engine alone, with random slates -----------------

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1, _MIX2 = np.uint64(0xBF58476D1CE4E5B9), np.uint64(0x94D049BB133111EB)


@jit
def splitmix(state):  # type: ignore[no-untyped-def]
    """(next state, a uniform float64 in [0, 1)) of SplitMix64 (Steele, Lea & Flood 2014, "Fast
    splittable pseudorandom number generators"; Java's SplittableRandom) at uint64 ``state``.
    An add and three xor-shift-multiplies a draw, its state a local variable: rollouts ran 1.6x
    faster than on numba's np.random (a Mersenne Twister behind a per-thread state)."""
    state = state + _GOLDEN
    z = (state ^ (state >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    z = z ^ (z >> np.uint64(31))
    return state, float(z >> np.uint64(11)) * (1.0 / 9007199254740992.0)  # 53 bits, 2^-53 apart



class RolloutStats(NamedTuple):
    """What ``rollout`` returns: per-user-slot totals over the horizon. Shapes (n_users,).

    A slot whose user spends their budget gets a new user at once (as the vector env's
    autoreset does), so every slot is served at every request."""

    user_steps: np.ndarray  # int64 requests served (= horizon)
    clicks: np.ndarray  # int64 clicks
    watch_time: np.ndarray  # float64 minutes watched
    episodes_ended: np.ndarray  # int64 users of the slot whose budget ran out (each replaced by a new one)


def rollout(world: World, n_users: int, horizon: int, seed: int) -> RolloutStats:
    """``n_users`` users of the RecSim world over ``horizon`` requests, each served a slate of
    ``slate_size`` distinct items drawn uniformly at random, all in compiled code: the
    simulation engine alone, no Python between requests (``World.rollout_random``).

    The per-user step is ``step_inplace``'s, minus the observation, which nobody reads here,
    and with each history window kept as a ring (``record_ring``: the same windows, rotated,
    one slot written per click instead of the window moved). Users run a block (``BLOCK``) at
    a time through the whole horizon, so a block's state stays in cache; blocks go to threads
    as in ``step_inplace`` (``envs.kernels.chunks``). Randomness: the users from ``world.init_state`` with
    ``np.random.default_rng(seed)``; each block's slates, choices and renewed users from its
    own SplitMix64 stream (``splitmix``), seeded from ``np.random.SeedSequence(seed)``, so the
    result depends on ``seed`` only, not on threads or chunking. These are not the draws of ``step_inplace``:
    the two agree in distribution (tests/envs/test_recsim_rollout.py), not draw for draw."""
    rng = np.random.default_rng(seed)
    state = world.init_state(np.arange(n_users), rng)
    assert isinstance(state, RecSimState)  # internal: World.rollout_random checked the dynamics
    s, c = state.session, world.corpus
    n_blocks = -(-n_users // BLOCK)
    block_seeds = np.random.SeedSequence(seed).generate_state(max(n_blocks, 1), dtype=np.uint64)
    slate = np.empty((n_users, world.config.slate_size), dtype=np.int64)
    choice_uniforms, flip_uniforms = np.empty(n_users), np.empty(n_users)
    events = Events.empty(n_users)
    stats = RolloutStats(np.zeros(n_users, np.int64), np.zeros(n_users, np.int64), np.zeros(n_users),
                         np.zeros(n_users, np.int64))
    ring = np.zeros(n_users, dtype=np.int64)  # each user's oldest history slot (``record_ring``)

    def run(lo: int, hi: int) -> None:
        _rollout(
            world.kernel_params, lo, hi, horizon, block_seeds, np.float32(world.params.budget),
            slate, choice_uniforms, flip_uniforms, c.quality, c.length, world.level.item_cluster, state.interests,
            s.user_id, s.hist_items, s.hist_clusters, s.hist_responses, s.engaged, s.budget, s.day,
            s.session_steps, s.session_positive, s.days_away, s.done, s.terminated, events, *stats, ring,
        )

    run_in_chunks(run, n_users, BLOCK, key="recsim-rollout")
    return stats


@jit
def _rollout(
    p, first, last, horizon, block_seeds, budget0, slate, choice_uniforms, flip_uniforms, quality, length,
    item_cluster, interests, user_id, hist_items, hist_clusters, hist_responses, engaged, budget, day,
    session_steps, session_positive, days_away, done, terminated, ev, user_steps, clicks, watch_time, ended, ring,
):  # type: ignore[no-untyped-def]
    """Users first..last-1 (``first`` a multiple of BLOCK), a block at a time through the horizon;
    histories kept as rings (``record_ring``): nobody observes them here."""
    n_items, n_slate = quality.shape[0], slate.shape[1]
    n_users, n_topics = interests.shape
    for lo in range(first, last, BLOCK):
        hi = min(lo + BLOCK, last)
        # A SplitMix64 stream per block, its state a local: no generator object shared by the
        # threads (it would race), none made per block (~20 us each).
        state = block_seeds[lo // BLOCK]
        for _ in range(horizon):
            for i in range(lo, hi):
                for j in range(n_slate):  # distinct items: redraw a repeat (slates are short)
                    state, u = splitmix(state)
                    item = int(u * n_items)
                    k = 0
                    while k < j:
                        if slate[i, k] == item:
                            state, u = splitmix(state)
                            item = int(u * n_items)
                            k = 0
                        else:
                            k += 1
                    slate[i, j] = item
                state, choice_uniforms[i] = splitmix(state)
                state, flip_uniforms[i] = splitmix(state)
            _step_block_ring(p, lo, hi, slate, choice_uniforms, flip_uniforms, quality, length, item_cluster,
                             interests, user_id, hist_items, hist_clusters, hist_responses, engaged, budget, day,
                             session_steps, session_positive, done, terminated, ev, ring)
            for i in range(lo, hi):
                user_steps[i] += ev.active[i]
                clicks[i] += ev.clicked[i]
                watch_time[i] += ev.watch_time[i]
                if done[i]:  # a new user in the slot (envs.recsim.init_state), with the next id of the slot
                    ended[i] += 1
                    user_id[i] += n_users
                    for t in range(n_topics):
                        state, u = splitmix(state)
                        interests[i, t] = np.float32(2.0 * u - 1.0)
                    empty_session_row(i, budget0, hist_items, hist_clusters, hist_responses, engaged, budget, day,
                                      session_steps, session_positive, days_away, done, terminated)
