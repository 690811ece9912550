"""Real logs: the MovieLens loader on small synthetic files in each format, the cluster levels,
the user split, the Bayes bound against every method, and the command end to end (tiny)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from envs.errors import ConfigError, DataError
from experiments.reallogs import evaluation as ev
from experiments.reallogs.clusters import LEVELS, movie_clusters
from experiments.reallogs.loader import load_movielens
from llm.descriptions import as_descriptions

# Four movies, three users; user 1 rates movie 20 after 10 (same second as 30: order by movie).
RATINGS = [(1, 10, 4.0, 100), (1, 20, 2.0, 200), (1, 30, 5.0, 200), (2, 20, 5.0, 50), (2, 40, 3.5, 60),
           (3, 10, 1.0, 10), (3, 30, 4.5, 20), (3, 40, 4.0, 30)]
MOVIES = [(10, "Alien (1979)", ["Horror", "Sci-Fi"]), (20, "Toy Story (1995)", ["Animation", "Children", "Comedy"]),
          (30, "Heat: Part 2 (1995)", ["Action", "Crime"]), (40, "Untitled (2000)", [])]


def write_latest(folder: Path, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    ratings = "userId,movieId,rating,timestamp\n" + "".join(f"{u},{m},{r},{t}\n" for u, m, r, t in RATINGS)
    movies = "movieId,title,genres\n" + "".join(
        f'{m},"{t}",{"|".join(g) or "(no genres listed)"}\n' for m, t, g in MOVIES)
    tags = "userId,movieId,tag,timestamp\n1,10,Space Horror,5\n2,20,pixar,6\n2,99,orphan,7\n"
    for name, text in (("ratings.csv", ratings), ("movies.csv", movies), ("tags.csv", tags)):
        if gz:
            with gzip.open(folder / f"{name}.gz", "wt", encoding="utf-8") as f:
                f.write(text)
        else:
            (folder / name).write_text(text, encoding="utf-8")
    return folder


def write_100k(folder: Path) -> Path:
    from experiments.reallogs.loader import ML100K_GENRES

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "u.data").write_text("".join(f"{u}\t{m}\t{int(r)}\t{t}\n" for u, m, r, t in RATINGS))
    lines = []
    for m, title, genres in MOVIES:
        flags = ["1" if g in genres or (g == "Children's" and "Children" in genres) else "0" for g in ML100K_GENRES]
        lines.append("|".join([str(m), title, "01-Jan-1995", "", "http://x", *flags]))
    (folder / "u.item").write_text("\n".join(lines) + "\n", encoding="latin-1")
    return folder


def write_1m(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "ratings.dat").write_text("".join(f"{u}::{m}::{int(r)}::{t}\n" for u, m, r, t in RATINGS))
    (folder / "movies.dat").write_text(
        "".join(f"{m}::{t}::{'|'.join(g)}\n" for m, t, g in MOVIES), encoding="latin-1")
    return folder


@pytest.mark.parametrize("writer", [write_latest, lambda f: write_latest(f, gz=True), write_100k, write_1m],
                         ids=["ml-latest", "ml-latest-gz", "ml-100k", "ml-1m"])
def test_every_format_loads_to_the_same_logs(tmp_path: Path, writer) -> None:
    ml = load_movielens(writer(tmp_path / "data"))
    assert ml.n_items == 4 and len(ml.ratings) == len(RATINGS)
    assert ml.movies["title"].tolist()[2] == "Heat: Part 2 (1995)"  # a ':' in a title survives '::' files
    assert ml.movies["genres"].tolist()[3] == ()
    clusters = movie_clusters(ml, "combo")
    logs = ml.to_logs(clusters.item_cluster)
    assert list(logs.columns) == ["user", "time", "item", "cluster", "engagement"]
    # rating >= 4 is positive; users in time order, ties by movie
    assert logs[logs["user"] == 1]["engagement"].tolist() == [1, 0, 1]
    assert logs["engagement"].sum() == sum(r >= 4 for _, _, r, _ in RATINGS)
    assert ml.to_logs(clusters.item_cluster, positive_rating=5.0)["engagement"].sum() == 2


def test_tags_are_read_and_orphans_dropped(tmp_path: Path) -> None:
    ml = load_movielens(write_latest(tmp_path / "data"))
    assert sorted(ml.tags["tag"]) == ["pixar", "space horror"]


@pytest.mark.parametrize(("files", "match"), [
    ({"ratings.csv": "user,movie\n1,2\n", "movies.csv": "movieId,title,genres\n1,a,Drama\n"},
     r"ratings.csv' lacks the columns \['userId', 'movieId', 'rating', 'timestamp'\]"),
    ({"ratings.csv": "userId,movieId,rating,timestamp\n1,10,four,5\n",
      "movies.csv": "movieId,title,genres\n10,a,Drama\n"},
     r"ratings.csv' row 1: rating 'four' is not a number"),
    ({"ratings.dat": "1::10::4\n", "movies.dat": "10::a::Drama\n"}, r"ratings.dat' line 1 '1::10::4' does not have 4"),
    ({"u.data": "1\t10\t4\t5\n", "u.item": "10|a|b\n"}, r"u.item' has 3 columns"),
    ({"notes.txt": "hello"}, r"holds no MovieLens data set \(found \['notes.txt'\]\)"),
])
def test_bad_files_name_the_file_and_the_expected_format(tmp_path: Path, files: dict, match: str) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(DataError, match=match):
        load_movielens(tmp_path)


def test_ratings_of_unknown_movies_are_dropped_and_reported_or_refused(tmp_path: Path) -> None:
    folder = write_latest(tmp_path / "data")
    with open(folder / "ratings.csv", "a") as f:
        f.write("999,999999,5.0,1\n")
    ml = load_movielens(folder)
    assert len(ml.ratings) == len(RATINGS) and "movie 999999" in ml.notes[0]
    with open(folder / "ratings.csv", "a") as f:
        f.writelines(f"9,{1000 + i},5.0,1\n" for i in range(15))  # too many: the files do not match
    with pytest.raises(DataError, match="do not belong together"):
        load_movielens(folder)
    with pytest.raises(DataError, match="does not exist"):
        load_movielens(tmp_path / "nowhere")


@pytest.fixture(scope="module")
def movielens():
    return load_movielens()


@pytest.mark.parametrize("level", LEVELS)
def test_every_level_gives_each_movie_a_cluster_with_a_unique_description(movielens, level: str) -> None:
    c = movie_clusters(movielens, level, k=12)
    assert c.item_cluster.shape == (movielens.n_items,) and c.item_cluster.min() == 0
    assert np.unique(c.item_cluster).tolist() == list(range(c.n_clusters))  # none empty
    assert as_descriptions(c.descriptions) == c.descriptions  # lowercase words, unique
    assert {"genre": 19, "combo": 951, "svd": 12}[level] == c.n_clusters


def test_the_genre_level_picks_the_most_specific_genre(movielens) -> None:
    c = movie_clusters(movielens, "genre")
    toy_story = int(np.flatnonzero(movielens.movies["title"] == "Toy Story (1995)")[0])
    assert c.descriptions[c.item_cluster[toy_story]] == "animation"
    with pytest.raises(ConfigError, match="level='mood'"):
        movie_clusters(movielens, "mood")


def test_the_embedded_data_is_the_shipped_ml_latest_small(movielens) -> None:
    assert len(movielens.ratings) == 100_836 and movielens.n_items == 9_742 and len(movielens.tags) == 3_683
    assert movielens.ratings["user"].nunique() == 610
    assert "user 999, movie 999999" in movielens.notes[0]  # the one stray row of the shared copy


def test_users_split_without_overlap_and_seeded() -> None:
    users = np.repeat(np.arange(50), 3)
    train, test = ev.split_users(users, seed=1)
    assert len(train) == 40 and len(test) == 10 and not np.intersect1d(train, test).size
    assert [p.tolist() for p in ev.split_users(users, seed=1)] == [train.tolist(), test.tolist()]


def test_the_bayes_bound_is_never_below_any_answer_per_history() -> None:
    rng = np.random.default_rng(0)
    histories = rng.integers(0, 4, size=(400, 2))
    targets = (histories[:, 1] + rng.integers(1, 3, size=400)) % 6
    bound = ev.bayes_top1(histories, targets, 6)
    for _ in range(50):  # arbitrary deterministic predictors of the history
        table = rng.integers(0, 6, size=(6, 6))
        assert (table[histories[:, 0], histories[:, 1]] == targets).mean() <= bound + 1e-12
    assert ev.chance_top1(np.array([[0, 1], [2, 2]]), 6) == pytest.approx((1 / 4 + 1 / 5) / 2)


def test_bootstrap_resamples_users_not_examples() -> None:
    values = np.array([1.0] * 100 + [0.0])  # one user holds every hit
    users = np.array([0] * 100 + [1])
    stat = ev.bootstrap(values, users, seed=0)
    assert stat["mean"] == pytest.approx(100 / 101)
    assert stat["ci95"][0] == 0.0 and stat["ci95"][1] == 1.0  # a draw of only user 1, or only user 0


def test_noveltygym_real_movielens_end_to_end(tmp_path: Path, capsys) -> None:
    from experiments.cli import main

    out = tmp_path / "real"
    args = ["real", "movielens", "--level", "genre", "--out", str(out), "--quiet",
            "--set", "max_examples=300", "--set", "llm.train.pretrain_steps=10", "--set", "llm.train.sft_steps=30",
            "--set", "llm.model.n_embd=32", "--set", "llm.model.n_layer=1", "--set", "llm.model.n_head=2",
            "--set", "few_shot=2", "--set", "smollm2=false"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["sft_users_overlap_test"] == 0
    methods = evaluation["methods"]
    assert {"random-novel", "most-popular-novel", "markov (back-off)", "default model, fine-tuned"} <= set(methods)
    for part in ("all", "seen"):
        bound = evaluation["reference"][part]["bayes_top1"]
        for name, result in methods.items():
            assert result[part]["top1"]["mean"] <= bound + 1e-12, (name, part)
            assert result[part]["top1"]["mean"] <= result[part]["top10"]["mean"]
    assert "exact_match" in methods["default model, fine-tuned"]["all"]
    assert (out / "hit_rates.png").read_bytes().startswith(b"\x89PNG")
    assert "Bayes upper bound" in printed and "real (MovieLens genres)" in printed
    assert main(["real", "movielens", "--out", str(tmp_path / "x"), "--set", "colour=1"]) == 2
    assert "unknown config key 'colour'" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()  # refused before anything is written


def test_calibration_figures_on_logs_known_by_hand() -> None:
    from experiments.reallogs.calibration import conditional_entropy, gini, log_figures

    # user 0: a a b c (positives), user 1: c d c d; one negative row that must not count.
    rows = [(0, 0, 0), (0, 1, 0), (0, 2, 1), (0, 3, 2), (1, 0, 2), (1, 1, 3), (1, 2, 2), (1, 3, 3)]
    logs = pd.DataFrame([(u, t, 0, c, 1) for u, t, c in rows] + [(1, 4, 0, 1, 0)],
                        columns=["user", "time", "item", "cluster", "engagement"])
    f = log_figures(logs, n_clusters=4)
    assert f["new_per_100"] == pytest.approx((100 * 3 / 4 + 100 * 2 / 4) / 2)
    assert f["repeat_rate"] == pytest.approx(1 / 6)  # a->a among 6 consecutive pairs of one user
    assert f["interests_p50"] == 2.5
    # transitions (L=2): user 0 (a,b)->c; user 1 (c,d)->c is not novel, so one transition: certain.
    assert f["cond_entropy_bits"] == 0.0 and f["bayes_top1"] == 1.0
    assert gini(np.array([5, 5, 5])) == 0.0 and gini(np.array([0, 0, 9])) == pytest.approx(2 / 3)
    two_way = conditional_entropy(np.array([[0, 1], [0, 1]]), np.array([2, 3]), 4)
    assert two_way == pytest.approx(1.0)


def test_the_movielens_preset_is_a_world() -> None:
    from envs import PRESETS, make_world

    world = make_world("movielens", cluster_level="domain")
    assert world.config == PRESETS["movielens"].replace(cluster_level="domain")
    assert world.config.n_active_anchors > PRESETS["default"].n_active_anchors


def test_the_calibration_table_marks_figures_within_the_tolerance() -> None:
    from experiments.reallogs.calibration import FIGURES, TOLERANCE, comparison_table

    real = dict.fromkeys(FIGURES, 10.0)
    close = dict.fromkeys(FIGURES, 10.0 * (1 + TOLERANCE / 2)) | {"gini": 10.0 * (1 + 2 * TOLERANCE)}
    lines = comparison_table(real, {"far": dict.fromkeys(FIGURES, 0.0), "close": close}, "close").splitlines()
    assert lines[0].startswith("| figure | MovieLens (genres) | far | close | close within")
    verdicts = {line.split(" | ")[0].strip("| "): line.rstrip(" |").rsplit(" | ", 1)[1] for line in lines[2:]}
    assert verdicts == {f: "no" if f == "gini" else "yes" for f in FIGURES}
