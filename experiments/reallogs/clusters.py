"""Interest clusters of MovieLens movies, with descriptions in words, at the granularity the
designer chooses (as in the paper):

- ``genre`` (coarse, ~20): a movie's most specific genre, i.e. its genre with the fewest movies
  (Toy Story: animation rather than comedy); IMAX, a format, only when it is the sole genre;
- ``combo`` (fine, ~950): the movie's whole genre combination ("comedy drama romance");
- ``svd`` (K, default 30): k-means on item embeddings from a truncated SVD of the centred
  user x movie rating matrix (scipy), each cluster described by its most over-represented
  genres and tags (lift against the whole catalogue).

Descriptions follow ``llm.descriptions``: lowercase ASCII words, unique within a level.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd

from envs.errors import ConfigError
from experiments.reallogs.loader import MovieLens

LEVELS = ("genre", "combo", "svd")
NO_GENRE = "unlisted genre"
FORMAT_GENRES = ("IMAX",)


@dataclass(frozen=True)
class MovieClusters:
    """One level: the cluster of every movie and the descriptions, in cluster-id order."""

    name: str
    item_cluster: np.ndarray  # (n_items,) int64
    descriptions: tuple[str, ...]

    @property
    def n_clusters(self) -> int:
        return len(self.descriptions)


def words(text: str) -> str:
    """A genre or tag as description words: lowercase ASCII, apostrophes dropped, other marks
    as spaces ("Sci-Fi" -> "sci fi", "Children's" -> "childrens")."""
    text = text.lower().replace("'", "")
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


def movie_clusters(ml: MovieLens, level: str = "combo", k: int = 30, seed: int = 0) -> MovieClusters:
    if level == "genre":
        return genre_clusters(ml)
    if level == "combo":
        return combo_clusters(ml)
    if level == "svd":
        return svd_clusters(ml, k, seed)
    raise ConfigError(f"level={level!r} is not a MovieLens cluster level; choose one of {LEVELS}")


def _factorize(labels: list[str], name: str) -> MovieClusters:
    codes, uniques = pd.factorize(pd.Series(labels), sort=True)
    return MovieClusters(name, codes.astype(np.int64), tuple(uniques))


def genre_clusters(ml: MovieLens) -> MovieClusters:
    size = Counter(g for gs in ml.movies["genres"] for g in gs)

    def most_specific(genres: tuple[str, ...]) -> str:
        content = [g for g in genres if g not in FORMAT_GENRES] or list(genres)
        return words(min(content, key=lambda g: (size[g], g))) if content else NO_GENRE

    return _factorize([most_specific(g) for g in ml.movies["genres"]], "genre")


def combo_clusters(ml: MovieLens) -> MovieClusters:
    return _factorize([" ".join(words(g) for g in gs) if gs else NO_GENRE for gs in ml.movies["genres"]], "combo")


def item_embeddings(ml: MovieLens, dim: int = 32, seed: int = 0) -> np.ndarray:
    """(n_items, dim) movie embeddings: right singular vectors of the user-centred rating matrix,
    scaled by the singular values; movies nobody rated sit at the origin."""
    from scipy.sparse import csr_matrix
    from scipy.sparse.linalg import svds

    r = ml.ratings
    users, user_idx = np.unique(r["user"].to_numpy(), return_inverse=True)
    centred = r["rating"].to_numpy() - pd.Series(r["rating"].to_numpy()).groupby(user_idx).transform("mean").to_numpy()
    matrix = csr_matrix((centred, (user_idx, r["item"].to_numpy())), shape=(len(users), ml.n_items))
    dim = min(dim, min(matrix.shape) - 1)
    v0 = np.random.default_rng(seed).standard_normal(min(matrix.shape))  # svds' start vector: seeded
    _, s, vt = svds(matrix, k=dim, v0=v0)
    return (vt.T * s).astype(np.float64)


def svd_clusters(ml: MovieLens, k: int = 30, seed: int = 0) -> MovieClusters:
    from scipy.cluster.vq import kmeans2

    if isinstance(k, bool) or not isinstance(k, int) or not 2 <= k <= ml.n_items:
        raise ConfigError(f"k={k!r} clusters must be an integer in [2, {ml.n_items}]")
    emb = item_embeddings(ml, seed=seed)
    norm = np.linalg.norm(emb, axis=1, keepdims=True)
    direction = np.divide(emb, norm, out=np.zeros_like(emb), where=norm > 0)  # taste, not popularity
    _, labels = kmeans2(direction, k, minit="++", seed=np.random.default_rng(seed))
    labels = np.unique(labels, return_inverse=True)[1].astype(np.int64)  # drop empty clusters
    return MovieClusters("svd", labels, describe(ml, labels))


def describe(ml: MovieLens, labels: np.ndarray, n_words: int = 3) -> tuple[str, ...]:
    """A unique description per cluster: its characteristic genres and tags (count x log lift
    against the catalogue, terms of at least 2 movies and 1.5x over-represented), best first; a
    number where two descriptions tie."""
    m = int(labels.max()) + 1
    terms = [(i, words(g)) for i, gs in enumerate(ml.movies["genres"]) for g in gs]
    terms += [(int(i), words(t)) for i, t in zip(ml.tags["item"], ml.tags["tag"], strict=True)]
    frame = pd.DataFrame(terms, columns=["item", "term"]).drop_duplicates()
    frame = frame[frame["term"] != ""]
    frame["cluster"] = labels[frame["item"].to_numpy()]
    in_cluster = frame.groupby(["cluster", "term"]).size().rename("n").reset_index()
    overall = frame.groupby("term").size()
    size = np.bincount(labels, minlength=m)
    in_cluster["lift"] = (in_cluster["n"] / size[in_cluster["cluster"]]) / (
        overall.loc[in_cluster["term"]].to_numpy() / len(labels))
    # Characteristic and common: count x log(lift) (a tf-idf), among terms over-represented 1.5x.
    in_cluster = in_cluster[(in_cluster["n"] >= 2) & (in_cluster["lift"] > 1.5)]
    in_cluster = in_cluster.assign(score=in_cluster["n"] * np.log(in_cluster["lift"]))
    in_cluster = in_cluster.sort_values(["cluster", "score", "term"], ascending=[True, False, True])
    out: list[str] = []
    for c in range(m):
        top = in_cluster.loc[in_cluster["cluster"] == c, "term"].tolist()
        text = " ".join(dict.fromkeys(" ".join(top[:n_words]).split())) or "mixed movies"
        out.append(text)
    seen: Counter[str] = Counter()
    unique = []
    for text in out:
        seen[text] += 1
        unique.append(text if seen[text] == 1 else f"{text} {seen[text]}")
    return tuple(unique)
