"""The Markov selector's ranking scores (used to evaluate it on real logs)."""

import numpy as np
import pandas as pd

from agents.selectors.markov import MarkovSelector


def logs_of(sequences: list[list[int]]) -> pd.DataFrame:
    rows = [(u, t, 0, c, 1) for u, seq in enumerate(sequences) for t, c in enumerate(seq)]
    return pd.DataFrame(rows, columns=["user", "time", "item", "cluster", "engagement"])


def test_scores_follow_the_longest_logged_context_then_back_off():
    # After (0, 1): 2 twice, 3 once. After 1 alone (any first cluster): 4 most often.
    logs = logs_of([[0, 1, 2], [0, 1, 2], [0, 1, 3], [5, 1, 4], [6, 1, 4], [7, 1, 4], [2, 3, 5]])
    sel = MarkovSelector(8, 2).fit(logs)
    s = sel.scores(np.array([[0, 1], [6, 1], [7, 6]]))
    assert s.shape == (3, 8)
    assert np.argsort(-s[0])[:2].tolist() == [2, 3]  # the pair context decides
    assert s[1].argmax() == 4  # (6, 1) logged once -> 4; ties of the pair broken by order 1
    # (7, 6) and 6 alone were never followed by anything: popularity of targets ranks.
    popularity = np.bincount([2, 2, 3, 4, 4, 4, 5, 1, 1, 1, 1, 1, 1, 3], minlength=8)  # order-1 targets
    assert s[2].argmax() == popularity.argmax() == 1
