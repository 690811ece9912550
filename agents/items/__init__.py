"""Item policies (the low level): choose items inside a given cluster.

base      the interface; top-k distinct members of the cluster
simple    random, best quality, learned engagement rate
sequence  a GRU next-item recommender trained on logs, softmax restricted to the cluster
task      the gymnasium task an RL item policy is trained in (batched core, Env, SB3 VecEnv)
sb3       a stable-baselines3 policy whose action is a proto-embedding scored against the
          cluster's items, so the action space does not grow with the corpus
"""

from agents.items.base import ItemPolicy
from agents.items.simple import EngagementItems, QualityItems, RandomItems

__all__ = ["EngagementItems", "ItemPolicy", "QualityItems", "RandomItems"]
