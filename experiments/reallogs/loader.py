"""MovieLens-format logs: ml-latest-small / ml-latest (``ratings.csv``, ``movies.csv``,
``tags.csv``), ml-100k (``u.data``, ``u.item``) and ml-1m (``ratings.dat``, ``movies.dat``), from a
folder; the embedded ml-latest-small is the default.

``load_movielens`` returns :class:`MovieLens`: ratings (user, item, rating, time), movies (item,
title, genres as a tuple) and tags (item, tag; empty where the format has none), with items
renumbered 0..n-1 in the movies' order. ``to_logs`` turns them into the log frame the simulator
writes (user, time, item, cluster, engagement), engagement = rating >= ``positive_rating``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from envs.errors import DataError

log = logging.getLogger("noveltygym")

EMBEDDED = Path(__file__).resolve().parent.parent / "data" / "ml-latest-small"
POSITIVE_RATING = 4.0
"""Ratings at or above this count as positive engagement (4 of 5 stars: 'liked it')."""

# ml-100k's u.item: id | title | release date | video release date | IMDb URL | 19 genre flags.
ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
                 "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi", "Thriller",
                 "War", "Western")
NO_GENRE = ("(no genres listed)", "unknown")
MAX_STRAY_RATINGS = 10
"""Ratings of movies absent from the movies file are dropped (and reported) up to this many, or
1 % of the ratings; more mean the two files do not belong together, and loading stops."""


@dataclass(frozen=True)
class MovieLens:
    """One MovieLens data set, items numbered 0..n_items-1."""

    ratings: pd.DataFrame  # user, item, rating, time (sorted by user, time)
    movies: pd.DataFrame  # item, title, genres (tuple of str, possibly empty)
    tags: pd.DataFrame  # item, tag
    name: str
    notes: tuple[str, ...] = ()
    """What loading changed (rows dropped and why), for the report."""

    @property
    def n_items(self) -> int:
        return len(self.movies)

    def to_logs(self, item_cluster: np.ndarray, positive_rating: float = POSITIVE_RATING) -> pd.DataFrame:
        """The simulator's log frame: user, time, item, cluster, engagement (1 = positive)."""
        r = self.ratings
        return pd.DataFrame({
            "user": r["user"].to_numpy(np.int64),
            "time": r["time"].to_numpy(np.int64),
            "item": r["item"].to_numpy(np.int64),
            "cluster": np.asarray(item_cluster, dtype=np.int64)[r["item"].to_numpy()],
            "engagement": (r["rating"].to_numpy() >= positive_rating).astype(np.int8),
        })


FORMATS = {
    "ml-latest": ("ratings.csv", "movies.csv"),
    "ml-100k": ("u.data", "u.item"),
    "ml-1m": ("ratings.dat", "movies.dat"),
}


def detect_format(folder: Path) -> str:
    """Which MovieLens format ``folder`` holds (files may be gzipped: ``ratings.csv.gz``)."""
    for name, files in FORMATS.items():
        if all(_find(folder, f) for f in files):
            return name
    expected = "; ".join(f"{n}: {' + '.join(fs)}" for n, fs in FORMATS.items())
    present = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    raise DataError(f"{str(folder)!r} holds no MovieLens data set (found {present[:8]}); expected one of {expected}")


def _find(folder: Path, name: str) -> Path | None:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_movielens(path: str | Path | None = None) -> MovieLens:
    """The MovieLens data set in ``path`` (default: the embedded ml-latest-small)."""
    folder = Path(path) if path is not None else EMBEDDED
    if not folder.is_dir():
        raise DataError(f"MovieLens folder {str(folder)!r} does not exist; give the folder that holds the files")
    fmt = detect_format(folder)
    ratings_file, movies_file = (_find(folder, f) for f in FORMATS[fmt])
    assert ratings_file is not None and movies_file is not None  # detect_format found both
    reader = {"ml-latest": _read_latest, "ml-100k": _read_100k, "ml-1m": _read_1m}[fmt]
    ratings, movies, tags = reader(folder, ratings_file, movies_file)
    return _renumber(ratings, movies, tags, f"{fmt} ({folder.name})")


def _read(path: Path, expected: str, **kwargs) -> pd.DataFrame:
    """A delimited file, with a DataError naming the file and its expected format on failure."""
    try:
        frame = pd.read_csv(path, **kwargs)
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        raise DataError(f"{str(path)!r} could not be read as {expected}: {exc}") from exc
    if frame.empty:
        raise DataError(f"{str(path)!r} is empty; expected {expected}")
    return frame


def _numeric(frame: pd.DataFrame, columns: tuple[str, ...], path: Path, expected: str) -> pd.DataFrame:
    for col in columns:
        values = pd.to_numeric(frame[col], errors="coerce")
        if values.isna().any():
            row = int(np.flatnonzero(values.isna().to_numpy())[0])
            raise DataError(f"{str(path)!r} row {row + 1}: {col} {frame[col].iloc[row]!r} is not a number; "
                            f"expected {expected}")
        frame[col] = values
    return frame


def _read_latest(folder: Path, ratings_file: Path, movies_file: Path):
    r_fmt = "CSV with header userId,movieId,rating,timestamp"
    m_fmt = "CSV with header movieId,title,genres (genres separated by '|')"
    ratings = _read(ratings_file, r_fmt)
    _require(ratings, ("userId", "movieId", "rating", "timestamp"), ratings_file, r_fmt)
    movies = _read(movies_file, m_fmt)
    _require(movies, ("movieId", "title", "genres"), movies_file, m_fmt)
    ratings = ratings.rename(columns={"userId": "user", "movieId": "movie", "timestamp": "time"})
    movies = movies.rename(columns={"movieId": "movie"})
    movies["genres"] = [_genres(str(g).split("|")) for g in movies["genres"]]
    tags_file = _find(folder, "tags.csv")
    tags = pd.DataFrame({"movie": [], "tag": []})
    if tags_file is not None:
        t_fmt = "CSV with header userId,movieId,tag,timestamp"
        tags = _read(tags_file, t_fmt)
        _require(tags, ("movieId", "tag"), tags_file, t_fmt)
        tags = tags.rename(columns={"movieId": "movie"})[["movie", "tag"]]
    return _numeric(ratings, ("user", "movie", "rating", "time"), ratings_file, r_fmt), movies, tags


def _read_100k(folder: Path, ratings_file: Path, movies_file: Path):
    r_fmt = "tab-separated user id, item id, rating, timestamp (no header)"
    m_fmt = "'|'-separated id|title|release|video release|IMDb URL|19 genre flags (latin-1, no header)"
    ratings = _read(ratings_file, r_fmt, sep="\t", header=None)
    if ratings.shape[1] != 4:
        raise DataError(f"{str(ratings_file)!r} has {ratings.shape[1]} columns; expected {r_fmt}")
    ratings.columns = ["user", "movie", "rating", "time"]
    movies = _read(movies_file, m_fmt, sep="|", header=None, encoding="latin-1")
    if movies.shape[1] != 5 + len(ML100K_GENRES):
        raise DataError(f"{str(movies_file)!r} has {movies.shape[1]} columns; expected {m_fmt}")
    flags = movies.iloc[:, 5:].to_numpy()
    genres = [_genres([g for g, f in zip(ML100K_GENRES, row, strict=True) if f == 1]) for row in flags]
    movies = pd.DataFrame({"movie": movies[0], "title": movies[1], "genres": genres})
    return _numeric(ratings, ("user", "movie", "rating", "time"), ratings_file, r_fmt), movies, None


def _read_1m(folder: Path, ratings_file: Path, movies_file: Path):
    r_fmt = "UserID::MovieID::Rating::Timestamp lines"
    m_fmt = "MovieID::Title::Genres lines (genres separated by '|', latin-1)"
    ratings = _split_dat(ratings_file, 4, r_fmt)
    ratings.columns = ["user", "movie", "rating", "time"]
    movies = _split_dat(movies_file, 3, m_fmt, encoding="latin-1")
    movies.columns = ["movie", "title", "genres"]
    movies["genres"] = [_genres(str(g).split("|")) for g in movies["genres"]]
    movies = _numeric(movies, ("movie",), movies_file, m_fmt)
    return _numeric(ratings, ("user", "movie", "rating", "time"), ratings_file, r_fmt), movies, None


def _split_dat(path: Path, n_fields: int, expected: str, encoding: str = "utf-8") -> pd.DataFrame:
    # '::' separated; read whole lines and split, so titles with ':' stay intact (only n-1 splits).
    lines = _read(path, expected, sep="\x01", header=None, encoding=encoding, dtype=str)[0]
    parts = lines.str.split("::", n=n_fields - 1, expand=True)
    if parts.shape[1] != n_fields or parts.isna().any().any():
        row = int(np.flatnonzero(parts.isna().any(axis=1).to_numpy())[0]) if parts.shape[1] == n_fields else 0
        raise DataError(f"{str(path)!r} line {row + 1} {lines.iloc[row]!r} does not have {n_fields} fields; "
                        f"expected {expected}")
    return parts


def _require(frame: pd.DataFrame, columns: tuple[str, ...], path: Path, expected: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(f"{str(path)!r} lacks the columns {missing} (has {list(frame.columns)}); expected {expected}")


def _genres(names: list[str]) -> tuple[str, ...]:
    return tuple(sorted(g.strip() for g in names if g.strip() and g.strip() not in NO_GENRE))


def _renumber(ratings: pd.DataFrame, movies: pd.DataFrame, tags: pd.DataFrame | None, name: str) -> MovieLens:
    movies = movies.drop_duplicates("movie").reset_index(drop=True)
    index = pd.Series(np.arange(len(movies)), index=movies["movie"].to_numpy())
    unknown = ~ratings["movie"].isin(index.index)
    notes = []
    if unknown.sum() > max(MAX_STRAY_RATINGS, 0.01 * len(ratings)):
        raise DataError(f"{name}: {int(unknown.sum())} of {len(ratings)} ratings name movies absent from the movies "
                        f"file (e.g. movie {ratings.loc[unknown, 'movie'].iloc[0]}); the two files do not belong "
                        "together")
    if unknown.any():  # a stray row (the shipped ml-latest-small has one: user 999, movie 999999)
        bad = ratings[unknown]
        notes.append(f"dropped {len(bad)} rating(s) of movies absent from the movies file "
                     f"(e.g. user {bad['user'].iloc[0]}, movie {bad['movie'].iloc[0]})")
        log.warning("%s: %s", name, notes[-1])
        ratings = ratings[~unknown]
    ratings = pd.DataFrame({
        "user": ratings["user"].to_numpy(np.int64),
        "item": index.loc[ratings["movie"].to_numpy()].to_numpy(np.int64),
        "rating": ratings["rating"].to_numpy(np.float64),
        "time": ratings["time"].to_numpy(np.int64),
    }).sort_values(["user", "time", "item"], kind="stable").reset_index(drop=True)
    tag_frame = pd.DataFrame({"item": np.zeros(0, np.int64), "tag": np.zeros(0, object)})
    if tags is not None and len(tags):
        known = tags["movie"].isin(index.index)
        tag_frame = pd.DataFrame({"item": index.loc[tags.loc[known, "movie"].to_numpy()].to_numpy(np.int64),
                                  "tag": tags.loc[known, "tag"].astype(str).str.strip().str.lower().to_numpy()})
    movies = pd.DataFrame({"item": np.arange(len(movies)), "title": movies["title"].astype(str),
                           "genres": movies["genres"]})
    return MovieLens(ratings, movies, tag_frame, name, tuple(notes))
