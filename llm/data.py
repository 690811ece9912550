"""Fine-tuning data from logged interactions (the paper's pipeline, §3.2).

From logs with columns ``user, time, item, cluster, engagement``:

1. keep positive engagements (``engagement == 1``), ordered by user then time;
2. drop consecutive repeats of a cluster within a user (re-engaging the same cluster is not a
   transition);
3. slide a window of L+1 consecutive clusters: (c_1..c_L) -> c_next;
4. keep examples whose target is not in the history (the model should name a *novel* cluster);
5. balance: cap examples per history, then per target, keeping a seeded random subset, so
   popular clusters do not dominate what the model learns (``None`` turns a cap off, which is the
   paper's unbalanced ablation);
6. split train / validation / test *by history*, so test histories are never seen in training.

Counts and the target concentration before and after balancing are kept in :class:`SFTData`
(``summary()`` prints them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from envs.typed import with_current_keys
from llm.config import DataConfig
from llm.descriptions import DescriptionsLike, as_descriptions
from llm.errors import ConfigError, DataError
from llm.histories import history_index

REQUIRED_COLUMNS = ("user", "time", "item", "cluster", "engagement")


@dataclass(frozen=True)
class Transitions:
    """Examples (history -> target); E examples of length-L histories."""

    histories: np.ndarray  # (E, L) int64, oldest first
    targets: np.ndarray  # (E,) int64

    def __len__(self) -> int:
        return len(self.targets)

    def unique_histories(self) -> np.ndarray:
        """(H, L) distinct histories, sorted."""
        return np.unique(self.histories, axis=0) if len(self) else self.histories


@dataclass(frozen=True)
class Concentration:
    """How concentrated the targets are; balancing should lower every share."""

    n_examples: int
    n_histories: int
    n_targets: int  # distinct targets
    top_target_share: float  # share of examples whose target is the most frequent one
    top10_share: float  # share of the 10 most frequent targets
    normalized_entropy: float  # entropy of the target distribution / log(M); 1 = uniform over M

    @classmethod
    def of(cls, t: Transitions, n_clusters: int) -> Concentration:
        if not len(t):
            return cls(0, 0, 0, 0.0, 0.0, 0.0)
        counts = np.bincount(t.targets, minlength=n_clusters)
        p = counts[counts > 0] / len(t)
        top = np.sort(counts)[::-1]
        entropy = float(-(p * np.log(p)).sum() / np.log(n_clusters)) if n_clusters > 1 else 0.0
        return cls(
            n_examples=len(t),
            n_histories=len(np.unique(history_index(t.histories, n_clusters))),
            n_targets=int((counts > 0).sum()),
            top_target_share=float(top[0] / len(t)),
            top10_share=float(top[:10].sum() / len(t)),
            normalized_entropy=entropy,
        )


@dataclass(frozen=True)
class SFTData:
    """Balanced fine-tuning examples split by history, with the counts of every stage."""

    train: Transitions
    val: Transitions
    test: Transitions
    n_clusters: int
    context_length: int
    stage_counts: dict[str, int]  # rows kept after each pipeline stage, in order
    before: Concentration  # all novel transitions, before balancing
    after: Concentration  # after balancing (train + val + test)

    def summary(self) -> str:
        lines = ["fine-tuning data (history -> novel next cluster):"]
        lines += [f"  {k:<26} {v:>10,}" for k, v in self.stage_counts.items()]
        for name, c in (("before balancing", self.before), ("after balancing", self.after)):
            lines.append(
                f"  {name}: {c.n_examples:,} examples, {c.n_histories:,} histories, {c.n_targets:,} targets; "
                f"top target {c.top_target_share:.1%}, top-10 {c.top10_share:.1%}, "
                f"entropy {c.normalized_entropy:.3f} of max"
            )
        lines.append(
            f"  split by history: train {len(self.train):,}, val {len(self.val):,}, test {len(self.test):,}"
        )
        return "\n".join(lines)

    def save(self, path: str | Path) -> Path:
        """One ``.npz`` with the arrays and the counts (as JSON)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "n_clusters": self.n_clusters,
            "context_length": self.context_length,
            "stage_counts": self.stage_counts,
            "before": asdict(self.before),
            "after": asdict(self.after),
        }
        arrays = {
            f"{s}_{k}": getattr(getattr(self, s), k)
            for s in ("train", "val", "test")
            for k in ("histories", "targets")
        }
        with path.open("wb") as fh:
            np.savez(fh, meta=np.array(json.dumps(meta)), **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> SFTData:
        path = Path(path)
        if not path.is_file():
            raise DataError(f"no fine-tuning data at {str(path)!r}; build it with `python -m llm data`")
        with np.load(path, allow_pickle=False) as z:
            meta = with_current_keys(json.loads(str(z["meta"])))
            splits = {
                s: Transitions(z[f"{s}_histories"], z[f"{s}_targets"]) for s in ("train", "val", "test")
            }
        return cls(
            **splits,
            n_clusters=meta["n_clusters"],
            context_length=meta["context_length"],
            stage_counts=meta["stage_counts"],
            before=Concentration(**meta["before"]),
            after=Concentration(**meta["after"]),
        )


def read_logs(logs: pd.DataFrame | str | Path) -> pd.DataFrame:
    """Logs as a DataFrame, from a DataFrame or a ``.parquet`` / ``.csv`` file."""
    if isinstance(logs, pd.DataFrame):
        return logs
    path = Path(logs)
    if not path.is_file():
        raise DataError(f"no log file at {str(path)!r}; pass a DataFrame or a .parquet/.csv file")
    if path.suffix in (".parquet", ".pq"):
        return pd.read_parquet(path)
    if path.suffix == ".csv":
        return pd.read_csv(path)
    raise DataError(f"unknown log file type {path.suffix!r} for {str(path)!r}; use .parquet or .csv")


def validate_logs(df: pd.DataFrame, n_clusters: int) -> None:
    """Check columns, emptiness, missing values, cluster range and engagement values."""
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(
            f"logs lack the columns {missing}; expected {list(REQUIRED_COLUMNS)} (got {list(df.columns)})"
        )
    if df.empty:
        raise DataError("logs are empty; fine-tuning data needs logged interactions")
    for col in ("user", "time", "cluster", "engagement"):
        nulls = df[col].isna().to_numpy()
        if nulls.any():
            raise DataError(f"logs column {col!r} has a missing value at row {int(np.argmax(nulls))}")
    if not pd.api.types.is_integer_dtype(df["cluster"]):
        raise DataError(
            f"logs column 'cluster' must hold integer cluster ids, got dtype {df['cluster'].dtype}"
        )
    engagement = df["engagement"].to_numpy()
    odd = ~np.isin(engagement, (0, 1))
    if odd.any():
        i = int(np.argmax(odd))
        raise DataError(f"logs row {i} has engagement {engagement[i].item()!r}; use 1 (positive) or 0")
    clusters = df["cluster"].to_numpy()
    # -1 marks "no item" (a request without a click); allowed only where engagement is 0.
    bad = ((clusters < 0) | (clusters >= n_clusters)) & ~((clusters == -1) & (engagement == 0))
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(
            f"logs row {i} has cluster {clusters[i]}, unknown to a level of {n_clusters} clusters; "
            "log at the same level as the descriptions (world.level); -1 is allowed only with engagement 0"
        )


def _n_clusters(n_clusters: int | DescriptionsLike) -> int:
    if isinstance(n_clusters, (int, np.integer)) and not isinstance(n_clusters, bool):
        if n_clusters < 1:
            raise DataError(f"n_clusters must be >= 1, got {n_clusters}")
        return int(n_clusters)
    return len(as_descriptions(n_clusters))  # type: ignore[arg-type]  # bool was rejected above


def extract_transitions(
    df: pd.DataFrame, context_length: int, first_time_only: bool = False, min_returns: int = 0
) -> tuple[Transitions, dict[str, int]]:
    """Steps 1-4 of the module docstring; returns the transitions and the per-stage counts.

    ``first_time_only`` keeps a transition only when its target is the user's first positive
    engagement with that cluster in the logs: the discoveries, which is what a novelty
    selector should learn, rather than returns to interests the user already had.
    ``min_returns`` keeps it only when the user engaged positively with the target cluster at
    least that many more times later in the logs: an interest that stuck, not a one-off click
    on whatever a slate happened to show (observable in real logs, unlike a hidden interest)."""
    counts = {"logged interactions": len(df)}
    pos = df[df["engagement"] == 1].sort_values(["user", "time"], kind="stable")
    counts["positive engagements"] = len(pos)
    users = pos["user"].to_numpy()
    clusters = pos["cluster"].to_numpy().astype(np.int64)
    earlier, later = _engagement_ranks(users, clusters)
    repeat = np.zeros(len(pos), dtype=bool)
    repeat[1:] = (users[1:] == users[:-1]) & (clusters[1:] == clusters[:-1])
    users, clusters, earlier, later = users[~repeat], clusters[~repeat], earlier[~repeat], later[~repeat]
    counts["after dropping repeats"] = len(clusters)
    L = context_length
    if len(clusters) <= L:
        return Transitions(np.zeros((0, L), np.int64), np.zeros(0, np.int64)), counts
    windows = np.lib.stride_tricks.sliding_window_view(clusters, L + 1)  # (n - L, L + 1)
    target_at = np.arange(L, len(clusters))  # position of each window's target
    same_user = users[:-L] == users[L:]  # users are contiguous, so first == last means all equal
    windows, target_at = windows[same_user], target_at[same_user]
    counts["windows of L+1"] = len(windows)
    novel = ~(windows[:, :L] == windows[:, L:]).any(axis=1)
    windows, target_at = windows[novel], target_at[novel]
    counts["target not in history"] = len(windows)
    if first_time_only:  # a dropped repeat is never a first engagement, so ranks survive the drop
        first = earlier[target_at] == 0
        windows, target_at = windows[first], target_at[first]
        counts["target engaged for the first time"] = len(windows)
    if min_returns:
        windows = windows[later[target_at] >= min_returns]
        counts[f"target engaged again >= {min_returns} times"] = len(windows)
    return Transitions(np.ascontiguousarray(windows[:, :L]), windows[:, L].copy()), counts


def _engagement_ranks(users: np.ndarray, clusters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(E,) for each positive engagement (sorted by user, then time), how many positive
    engagements of the same user with the same cluster come before it, and (E,) after it."""
    if not len(users):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    _, group = np.unique(np.stack([users, clusters]), axis=1, return_inverse=True)
    group = group.ravel()
    order = np.argsort(group, kind="stable")  # each group's engagements, in time order
    sizes = np.bincount(group)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    rank = np.empty(len(group), dtype=np.int64)
    rank[order] = np.arange(len(group)) - np.repeat(starts, sizes)
    return rank, sizes[group] - 1 - rank


def _cap(keys: np.ndarray, order: np.ndarray, cap: int | None) -> np.ndarray:
    """Mask over ``order`` keeping the first ``cap`` rows of each key (order = random priority)."""
    if cap is None:
        return np.ones(len(order), dtype=bool)
    rank = pd.Series(keys[order]).groupby(keys[order]).cumcount().to_numpy()
    return rank < cap


def balance(
    t: Transitions,
    n_clusters: int,
    cap_per_target: int | None,
    cap_per_history: int | None,
    rng: np.random.Generator,
) -> Transitions:
    """Step 5: a seeded random subset with at most the caps per history and per target."""
    order = rng.permutation(len(t))
    order = order[_cap(history_index(t.histories, n_clusters), order, cap_per_history)]
    order = np.sort(order[_cap(t.targets, order, cap_per_target)])  # back to log order
    return Transitions(t.histories[order], t.targets[order])


def split_by_history(
    t: Transitions, n_clusters: int, split: Sequence[float], rng: np.random.Generator
) -> tuple[Transitions, Transitions, Transitions]:
    """Step 6: shuffle distinct histories, cut them by the shares, route examples accordingly."""
    keys = history_index(t.histories, n_clusters)
    unique = rng.permutation(np.unique(keys))
    bounds = np.round(np.cumsum(split)[:2] * len(unique)).astype(int)
    part_of = dict.fromkeys(unique[: bounds[0]].tolist(), 0)
    part_of.update(dict.fromkeys(unique[bounds[0] : bounds[1]].tolist(), 1))
    part = np.array([part_of.get(k, 2) for k in keys.tolist()], dtype=np.int64)
    return tuple(Transitions(t.histories[part == p], t.targets[part == p]) for p in range(3))  # type: ignore[return-value]


def in_random_contexts(pairs: np.ndarray, n_clusters: int, contexts: int, context_length: int,
                       rng: np.random.Generator) -> Transitions:
    """(source, target) pairs as examples: each pair ``contexts`` times, the source at a random
    position of a history of ``context_length`` uniformly random clusters, the target as the
    answer. Teaches that one cluster of a history can carry the journey wherever it stands
    (``llm.knowledge`` and ``TrainConfig.log_pairs_share`` use it)."""
    if contexts < 1 or context_length < 1:  # both are config fields wherever this is called
        raise ConfigError(f"contexts={contexts!r} and context_length={context_length!r} must be >= 1")
    rows = np.repeat(np.asarray(pairs, dtype=np.int64).reshape(-1, 2), contexts, axis=0)
    histories = rng.integers(0, n_clusters, size=(len(rows), context_length))
    histories[np.arange(len(rows)), rng.integers(0, context_length, size=len(rows))] = rows[:, 0]
    return Transitions(histories.astype(np.int64), rows[:, 1].copy())


def history_pairs(t: Transitions) -> np.ndarray:
    """(E * L, 2) every (history cluster, target) pair of the examples: what the count selector
    counts (``agents.selectors.counts``)."""
    L = t.histories.shape[1]
    return np.stack([t.histories.ravel(), np.repeat(t.targets, L)], axis=1)


def build_sft_data(
    logs: pd.DataFrame | str | Path,
    n_clusters: int | DescriptionsLike,
    context_length: int = 2,
    cap_per_target: int | None = DataConfig.cap_per_target,
    cap_per_history: int | None = DataConfig.cap_per_history,
    seed: int = 0,
    split: tuple[float, float, float] = DataConfig.split,
    verbose: bool = False,
    first_time_only: bool = False,
    min_returns: int = 0,
) -> SFTData:
    """Fine-tuning data from logs (see the module docstring for the steps).

    Args:
        logs: a DataFrame, or a ``.parquet``/``.csv`` path, with columns user, time, item,
            cluster, engagement.
        n_clusters: M, or the ClusterLevel / list of descriptions (M = their number); cluster ids
            in the logs must lie in [0, M).
        cap_per_target, cap_per_history: balancing caps; ``None`` disables a cap.
        verbose: print :meth:`SFTData.summary`.

    Raises:
        DataError: malformed or empty logs, unknown clusters, or no usable transition.
    """
    config = DataConfig(context_length, cap_per_target, cap_per_history, tuple(split),  # type: ignore[arg-type]
                        first_time_only, min_returns)
    m = _n_clusters(n_clusters)
    df = read_logs(logs)
    validate_logs(df, m)
    transitions, counts = extract_transitions(df, config.context_length, config.first_time_only, config.min_returns)
    if not len(transitions):
        raise DataError(
            f"the logs yield no transition of {config.context_length}+1 distinct consecutive "
            f"positive clusters ({counts}); log more steps per user or use a shorter context_length"
        )
    rng = np.random.default_rng(seed)
    balanced = balance(transitions, m, config.cap_per_target, config.cap_per_history, rng)
    counts["after balancing"] = len(balanced)
    train, val, test = split_by_history(balanced, m, config.split, rng)
    data = SFTData(
        train,
        val,
        test,
        m,
        config.context_length,
        counts,
        Concentration.of(transitions, m),
        Concentration.of(balanced, m),
    )
    if verbose:
        print(data.summary())
    return data
