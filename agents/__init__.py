"""noveltygym's agents: the hierarchical LLM-over-RL explorer, its parts and its baselines.

Modules, each with one job:
    types         Obs, Action, Transition
    errors        typed errors (extending envs.errors)
    base          the Agent interface: act / update / reset / predict / bind
    observations  checking observation batches; cluster histories out of them
    sampling      vectorized draws of items inside clusters; distinct slates
    stats         engagement counts learned from the agent's own logs
    persistence   safetensors save/load with metadata checks
    exploit       the exploitation-only recommender retraining on its own logs (feedback loop)
    selectors/    option selectors: LLM table, Markov, bandits, random novel, oracle
    items/        item policies restricted to a cluster: random, quality, engagement, sequence, SB3
    hierarchical  selector + item policy + exploit fill
    flat          random, popularity, epsilon-greedy, Boltzmann, intrinsic bonus, entropy
    registry      make_agent(name, world, **kwargs) and available_agents()
    evaluate      run_agent(agent, world, n_users, n_steps, seed) -> EventLog

torch and stable-baselines3 are imported only by ``items.sequence``, ``items.task`` and
``items.sb3``; the language layer only when a table is loaded.
"""

from agents.base import Agent, Trainable
from agents.evaluate import run_agent
from agents.exploit import ExploitConfig, ExploitRecommender
from agents.hierarchical import HierarchicalAgent
from agents.registry import available_agents, make_agent, make_item_policy, make_selector
from agents.types import Action, Obs, Transition

__all__ = [
    "Action",
    "Agent",
    "ExploitConfig",
    "ExploitRecommender",
    "HierarchicalAgent",
    "Obs",
    "Trainable",
    "Transition",
    "available_agents",
    "make_agent",
    "make_item_policy",
    "make_selector",
    "run_agent",
]
