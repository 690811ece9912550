"""The transition table: every length-L history answered offline, looked up in O(1) (paper §3.3).

Serving an LLM per request is too expensive, so the answers for all M^L histories are computed
once, in large batches with the KV-cached decoder, and stored as one array: row
``history_index(h)`` (mixed radix, :mod:`llm.histories`) holds the n sampled clusters of ``h``.

On disk (``out_path`` is a folder)::

    table.npy     (M^L, n) int32 answers            written only when complete
    table.json    TableMeta                          written last: its presence marks a valid table
    chunks/       chunk_000000.npy ... + manifest.json, while building (removed at the end)

Every file is written to a temporary name and moved into place with ``os.replace`` (atomic), so
an interrupted build leaves either finished chunks or nothing; rerunning with ``resume=True``
recomputes only the missing chunks. Chunk k is sampled with the seed (seed, k), so a resumed
table equals an uninterrupted one. When M^L is too large to precompute,
:class:`LazyTransitionTable` answers on first lookup and caches.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from envs.files import atomic_write
from envs.typed import with_current_keys
from llm.config import GenerationConfig
from llm.descriptions import DescriptionsLike, as_descriptions, descriptions_sha
from llm.errors import ConfigError, TableError
from llm.generation import ClusterLM
from llm.histories import histories_at, validate_histories
from llm.models import model_hash

TABLE_FILE, META_FILE, CHUNK_DIR, MANIFEST = "table.npy", "table.json", "chunks", "manifest.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class TableMeta:
    """Everything the answers depend on; a resumed build must match it exactly."""

    model_hash: str
    descriptions_sha: str
    n_clusters: int
    context_length: int
    n_samples: int
    temperature: float
    seed: int
    exclude_history: bool
    chunk_size: int
    format_version: int = FORMAT_VERSION

    @property
    def n_rows(self) -> int:
        return self.n_clusters**self.context_length

    @property
    def n_chunks(self) -> int:
        return -(-self.n_rows // self.chunk_size)


def _save_npy(path: Path, array: np.ndarray) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("wb") as fh:
            np.save(fh, array)

    atomic_write(path, write)


def _save_json(path: Path, obj: dict) -> None:
    def write(tmp: Path) -> None:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n")

    atomic_write(path, write)


class _Lookup:
    """Vectorized O(1) lookup shared by the dense and the lazy table."""

    n_clusters: int
    context_length: int

    def _rows(self, histories, validate: bool) -> np.ndarray:
        h = (
            validate_histories(histories, self.n_clusters, self.context_length)
            if validate
            else np.asarray(histories, dtype=np.int64)
        )
        # Horner's rule over the L columns: cheaper than an int matmul (numpy has no int BLAS).
        rows = h[:, 0].astype(np.int64, copy=True)
        for j in range(1, self.context_length):
            rows *= self.n_clusters
            rows += h[:, j]
        return rows


class TransitionTable(_Lookup):
    """Answers (M^L, n) for every history, with the metadata they were built with."""

    def __init__(self, answers: np.ndarray, meta: TableMeta) -> None:
        if answers.shape != (meta.n_rows, meta.n_samples):
            raise TableError(f"answers have shape {answers.shape}, expected {(meta.n_rows, meta.n_samples)}")
        self.answers = answers
        self.meta = meta
        self.n_clusters = meta.n_clusters
        self.context_length = meta.context_length

    def lookup(self, histories, validate: bool = True) -> np.ndarray:
        """(B, n) clusters for histories (B, L) of cluster ids, oldest first."""
        return self.answers[self._rows(histories, validate)]

    def save(self, path: str | Path) -> Path:
        folder = Path(path)
        folder.mkdir(parents=True, exist_ok=True)
        _save_npy(folder / TABLE_FILE, self.answers)
        _save_json(folder / META_FILE, asdict(self.meta))  # last: marks the table complete
        return folder

    @classmethod
    def load(cls, path: str | Path, mmap: bool = False) -> TransitionTable:
        """Load a complete table; raises :class:`TableError` for a missing or unfinished one."""
        folder = Path(path)
        if not (folder / META_FILE).is_file() or not (folder / TABLE_FILE).is_file():
            hint = (
                " (a build was interrupted: rerun build_table with resume=True)"
                if (folder / CHUNK_DIR).is_dir()
                else ""
            )
            raise TableError(f"no complete transition table in {str(folder)!r}{hint}")
        meta = TableMeta(**with_current_keys(json.loads((folder / META_FILE).read_text())))
        if meta.format_version != FORMAT_VERSION:
            raise TableError(f"table format {meta.format_version} in {str(folder)!r}; rebuild it")
        answers = np.load(folder / TABLE_FILE, mmap_mode="r" if mmap else None)
        return cls(answers, meta)


def _check_resumable(chunk_dir: Path, meta: TableMeta, resume: bool) -> set[int]:
    """Chunk ids already done; clears the folder when not resuming."""
    manifest = chunk_dir / MANIFEST
    if not resume and chunk_dir.exists():
        shutil.rmtree(chunk_dir)
    chunk_dir.mkdir(parents=True, exist_ok=True)
    if not manifest.is_file():
        return set()
    saved = json.loads(manifest.read_text())
    if saved["meta"] != asdict(meta):
        raise TableError(
            f"the partial table in {str(chunk_dir)!r} was built with other settings ({saved['meta']}); "
            "pass resume=False to start over, or use the same model and settings"
        )
    return {c for c in saved["done"] if (chunk_dir / f"chunk_{c:06d}.npy").is_file()}


def build_table(
    model_dir: str | Path,
    level_descriptions: DescriptionsLike,
    context_length: int = 2,
    n_samples: int = 1,
    temperature: float = 1.0,
    seed: int = 0,
    out_path: str | Path = "runs/llm/table",
    batch_size: int = 1024,
    resume: bool = True,
    exclude_history: bool = True,
    chunk_size: int = 32768,
    num_threads: int = 2,
    progress: bool = True,
    on_chunk: Callable[[int], None] | None = None,
    lm: ClusterLM | None = None,
) -> TransitionTable:
    """Answer every history of M clusters (M^L rows, n samples each) and save the table.

    Args:
        model_dir: a trained model folder (or "smollm2"); its hash goes into the metadata.
        level_descriptions: the level's ClusterLevel or descriptions (cluster id = position).
        exclude_history: answers never repeat a cluster of their history (the paper's novelty).
        chunk_size: histories per chunk file (the unit of resumption).
        on_chunk: called with each finished chunk id (progress hooks; tests interrupt here).
        lm: an already loaded :class:`ClusterLM` for ``model_dir`` (skips reloading).
    """
    descriptions = as_descriptions(level_descriptions)
    config = GenerationConfig(
        temperature=temperature, n_samples=n_samples, exclude_history=exclude_history, batch_size=batch_size
    )
    if not isinstance(context_length, int) or context_length < 1:
        raise ConfigError(f"context_length must be a positive integer, got {context_length!r}")
    if chunk_size < 1:
        raise ConfigError(f"chunk_size must be >= 1, got {chunk_size!r}")
    meta = TableMeta(
        model_hash(model_dir),
        descriptions_sha(descriptions),
        len(descriptions),
        context_length,
        n_samples,
        float(temperature),
        int(seed),
        bool(exclude_history),
        int(chunk_size),
    )
    if meta.n_rows > 2**31:
        raise ConfigError(
            f"M^L = {len(descriptions)}^{context_length} = {meta.n_rows:,} histories is too many to "
            "precompute; use LazyTransitionTable, a coarser level, or a shorter history"
        )
    lm = lm or ClusterLM.load(model_dir, descriptions, num_threads=num_threads)
    folder = Path(out_path)
    folder.mkdir(parents=True, exist_ok=True)
    chunk_dir = folder / CHUNK_DIR
    done = _check_resumable(chunk_dir, meta, resume)
    for stale in (folder / META_FILE, folder / TABLE_FILE):  # an old table must not outlive a rebuild
        stale.unlink(missing_ok=True)
    bar = tqdm(total=meta.n_rows, disable=not progress, desc="table", unit="hist", unit_scale=True)
    bar.update(sum(min(chunk_size, meta.n_rows - c * chunk_size) for c in done))
    for chunk in range(meta.n_chunks):
        if chunk in done:
            continue
        rows = np.arange(chunk * chunk_size, min(meta.n_rows, (chunk + 1) * chunk_size), dtype=np.int64)
        histories = histories_at(rows, meta.n_clusters, context_length)
        answers = lm.constrained(histories, config, seed=(seed, chunk))
        _save_npy(chunk_dir / f"chunk_{chunk:06d}.npy", answers.astype(np.int32))
        done.add(chunk)
        _save_json(chunk_dir / MANIFEST, {"meta": asdict(meta), "done": sorted(done)})
        bar.update(len(rows))
        if on_chunk is not None:
            on_chunk(chunk)
    bar.close()
    answers = np.empty((meta.n_rows, n_samples), dtype=np.int32)
    for chunk in range(meta.n_chunks):
        part = np.load(chunk_dir / f"chunk_{chunk:06d}.npy")
        answers[chunk * chunk_size : chunk * chunk_size + len(part)] = part
    table = TransitionTable(answers, meta)
    table.save(folder)
    shutil.rmtree(chunk_dir)
    return table


class LazyTransitionTable(_Lookup):
    """Answers computed on first lookup and cached, for M^L too large to precompute.

    Answers are sampled per lookup batch (seed, call number), so they are reproducible for the
    same sequence of lookups; use ``temperature=0`` for answers independent of lookup order.
    """

    def __init__(
        self, lm: ClusterLM, context_length: int = 2, config: GenerationConfig | None = None, seed: int = 0
    ) -> None:
        self.lm = lm
        self.config = config or GenerationConfig()
        self.n_clusters = lm.n_clusters
        self.context_length = context_length
        self.seed = seed
        self._cache: dict[int, np.ndarray] = {}
        self._calls = 0

    def __len__(self) -> int:
        """Histories answered so far."""
        return len(self._cache)

    def lookup(self, histories, validate: bool = True) -> np.ndarray:
        """(B, n) clusters; unseen histories are generated in one batch, then cached."""
        rows = self._rows(histories, validate)
        missing = np.array(sorted({r for r in rows.tolist() if r not in self._cache}), dtype=np.int64)
        if len(missing):
            fresh = self.lm.constrained(
                histories_at(missing, self.n_clusters, self.context_length),
                self.config,
                seed=(self.seed, self._calls),
            )
            self._calls += 1
            self._cache.update(zip(missing.tolist(), fresh, strict=True))
        if not len(rows):
            return np.zeros((0, self.config.n_samples), dtype=np.int64)
        return np.stack([self._cache[r] for r in rows.tolist()])
