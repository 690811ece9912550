"""Features of users and items for learned item policies (shared by training and serving).

User features describe the request: where the target cluster lies and where the user's
recent engagements lie in embedding space. Item features describe an item *relative to its
cluster* (offset from the centroid, in units of the within-cluster spread) plus its quality and length,
so one proto-vector scores the items of any cluster: the action space does not grow with the
corpus.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from agents.types import Obs
from envs.world import World


@lru_cache(maxsize=8)
def item_features(world: World) -> np.ndarray:
    """(N, D + 2) float32: within-cluster offset / spread, quality / its std, and standardized
    log length (a system knows how long its videos are; watch time grows with length)."""
    emb = world.corpus.embeddings.astype(np.float64)
    level = world.level
    offset = emb - level.centroids[level.item_cluster]
    spread = max(float(np.sqrt((offset**2).sum(axis=1).mean())), 1e-9)
    q = world.corpus.quality.astype(np.float64)
    log_len = np.log(world.corpus.length.astype(np.float64))
    z_len = (log_len - log_len.mean()) / max(log_len.std(), 1e-9)
    out = np.concatenate([offset / spread, (q / max(q.std(), 1e-9))[:, None], z_len[:, None]], axis=1)
    out = out.astype(np.float32)
    out.setflags(write=False)
    return out


def user_feature_dim(world: World) -> int:
    return 3 * world.corpus.dim + 2


def user_features(world: World, obs: Obs, clusters: np.ndarray) -> np.ndarray:
    """(B, 3D + 2) float32: target centroid, mean embedding of the recent items, their
    difference, the cosine between them, and the share of the window that is filled."""
    items = obs["items"]
    valid = items >= 0
    emb = np.take(world.corpus.embeddings, np.maximum(items, 0), axis=0) * valid[:, :, None]
    n = valid.sum(axis=1, keepdims=True)
    hist = emb.sum(axis=1) / np.maximum(n, 1)
    target = world.level.centroids[clusters]
    cos = (hist * target).sum(axis=1) / np.maximum(np.linalg.norm(hist, axis=1) * np.linalg.norm(target, axis=1), 1e-9)
    fill = n[:, 0] / items.shape[1]
    return np.concatenate([target, hist, target - hist, cos[:, None], fill[:, None]], axis=1).astype(np.float32)


def proto_scores(world: World, members: np.ndarray, proto: np.ndarray) -> np.ndarray:
    """(B, P) score of each member (B, P) against the user's proto-vector (B, D + 2)."""
    feats = np.take(item_features(world), np.maximum(members, 0), axis=0)  # (B, P, D + 2)
    return np.einsum("bpf,bf->bp", feats, proto.astype(np.float32))
