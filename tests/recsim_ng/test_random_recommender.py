"""RandomSlateRecommender: random slates of distinct documents drawn inside RecSim NG's graph
(the RecSim NG side of benchmarks/bench_recsim_ng.py's engine-alone setting)."""

from __future__ import annotations

import numpy as np


def test_random_slates_in_the_graph_are_distinct_and_uniform() -> None:
    from envs.recsim_ng.simulation import random_slate_network  # first: patches recsim-ng (compat)
    from envs.recsim_ng.stories import interest_evolution_story

    from recsim_ng.lib.tensorflow import runtime  # isort: skip

    n_users, n_docs, k, steps = 2000, 10, 3, 4
    story = interest_evolution_story(num_users=n_users, num_topics=4, num_docs=n_docs, slate_size=k)
    trajectory = runtime.TFRuntime(random_slate_network(story), graph_compile=False).trajectory(length=steps)
    doc_id = np.asarray(trajectory["slate docs"].get("doc_id"))  # (steps, users, k), ids 1..n_docs
    assert doc_id.shape == (steps, n_users, k)
    assert doc_id.min() >= 1 and doc_id.max() <= n_docs
    ordered = np.sort(doc_id, axis=-1)
    assert (ordered[..., 1:] != ordered[..., :-1]).all()  # distinct documents in every slate
    assert (doc_id[1:] != doc_id[:-1]).mean() > 0.5  # drawn afresh at every step
    counts = np.bincount(doc_id.ravel(), minlength=n_docs + 1)[1:]
    expected = steps * n_users * k / n_docs  # each document in k of n_docs slots on average
    assert np.abs(counts - expected).max() < 5 * np.sqrt(expected)
    choice = np.asarray(trajectory["user response"].get("choice"))
    assert choice.min() >= 0 and choice.max() <= k  # k = no choice: users answer the random slates
