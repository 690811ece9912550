"""Option selectors (the high level): propose one cluster to explore per user.

base          the interface, output validation, redrawing proposals the user has seen
random_novel  uniform over clusters outside the user's window
markov        transitions counted from logs, with back-off (the learned non-LLM baseline)
bandits       per-user UCB1 / Thompson sampling over clusters with a population prior
oracle        the simulator's hidden latent interests (the upper bound)
llm_table     the language model's precomputed transition table, O(1) lookup
"""

from agents.selectors.bandits import ClusterBandit, ThompsonSelector, UCBSelector
from agents.selectors.base import OptionSelector
from agents.selectors.llm_table import LLMTableSelector, TableLike
from agents.selectors.markov import MarkovSelector
from agents.selectors.oracle import OracleSelector
from agents.selectors.random_novel import RandomNovelSelector

__all__ = [
    "ClusterBandit",
    "LLMTableSelector",
    "MarkovSelector",
    "OptionSelector",
    "OracleSelector",
    "RandomNovelSelector",
    "TableLike",
    "ThompsonSelector",
    "UCBSelector",
]
