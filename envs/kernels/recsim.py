"""RecSim's interest_evolution dynamics (``envs.recsim``) compiled: respond, transition and
observation in passes over blocks of users, chunks of blocks on several threads
(``envs.kernels.chunks``), updating a state the caller owns in place.

``envs.recsim`` is the readable reference; this kernel draws the same random numbers in the
same order (tests/envs/test_kernels.py checks that both agree).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from envs.kernels.chunks import run_in_chunks
from envs.kernels.common import BLOCK, choose, jit, mark_inactive, record_and_observe
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
    cfg = world.config
    return Params(cfg.recsim_interest_step, cfg.recsim_alpha, cfg.recsim_step_penalty)


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
    n_slate = slate.shape[1]
    for lo in range(first, last, BLOCK):
        hi = min(lo + BLOCK, last)
        score = np.empty((hi - lo, n_slate), dtype=np.float32)
        for i in range(lo, hi):
            for j in range(n_slate):
                score[i - lo, j] = interests[i, item_cluster[slate[i, j]]]
        choice = np.empty(hi - lo, dtype=np.int64)
        choose(score, False, NO_CLICK_MASS, 1.0, MIN_NORMALIZER, choice_uniforms[lo:hi], choice)
        _respond_and_update(p, lo, hi, slate, choice, score, flip_uniforms, quality, length, item_cluster, interests,
                            user_id, budget, day, session_steps, session_positive, done, terminated, ev)
        record_and_observe(lo, hi, ev, hist_items, hist_clusters, hist_responses, engaged, budget, day,
                           session_steps, days_away, obs_items, obs_clusters, obs_responses, obs_session)


@jit
def _respond_and_update(
    p, lo, hi, slate, choice, score, flip_uniforms, quality, length, item_cluster, interests,
    user_id, budget, day, session_steps, session_positive, done, terminated, ev,
):  # type: ignore[no-untyped-def]
    """For users lo..hi-1 who chose ``choice`` (block-relative rows of choice and score): the
    response, the interest update and the budget (``envs.recsim.respond`` and ``transition``
    but for the history, which ``record_and_observe`` keeps)."""
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
