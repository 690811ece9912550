"""Run folders: created safely (never over another run), files written atomically, and the
facts needed to reproduce a run (versions, git commit, seeds) recorded beside the results."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

from envs.errors import ConfigError
from envs.files import atomic_write

MARKER = "noveltygym-run.json"


def write_text(path: Path, text: str) -> None:
    def write(p: Path) -> None:
        p.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(obj: Any) -> Any:
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"cannot write {type(obj).__name__} as JSON")


def write_parquet(path: Path, frame: Any) -> None:
    atomic_write(path, lambda p: frame.to_parquet(p, index=False))


def prepare_run_dir(out: Path, kind: str, fingerprint: str, resume: bool = False) -> Path:
    """Create ``out`` for a run of ``kind``; refuse a folder that holds anything else.

    A folder with the same kind and config fingerprint is reused with ``resume`` (sweeps skip
    finished trials); a different run there is an error, and nothing in it is touched."""
    marker = out / MARKER
    if marker.exists():
        info = json.loads(marker.read_text(encoding="utf-8"))
        same = info.get("kind") == kind and info.get("fingerprint") == fingerprint
        if same and resume:
            return out
        what = "the same config" if same else f"another {info.get('kind', 'run')} (config {info.get('fingerprint')})"
        raise ConfigError(
            f"output folder {str(out)!r} already holds {what}; choose a new --out"
            + (" or pass --resume to continue it" if same and kind == "sweep" else "")
        )
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"output folder {str(out)!r} exists and is not empty; choose a new --out")
    out.mkdir(parents=True, exist_ok=True)
    write_json(marker, {"kind": kind, "fingerprint": fingerprint, "created": _now()})
    return out


def default_out(name: str, root: str | Path = "runs") -> Path:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    return Path(root) / f"{name}-{stamp}"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def environment_facts(seeds: list[int] | None = None) -> dict[str, Any]:
    """Package versions, Python, platform and git commit: what a rerun needs to match."""
    versions = {}
    for pkg in ("noveltygym", "numpy", "gymnasium", "torch", "transformers", "stable-baselines3", "pandas"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            versions[pkg] = metadata.version(pkg)
    return {
        "created": _now(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "git_commit": _git_commit(),
        "seeds": seeds,
        "command": sys.argv,
    }


def _git_commit() -> str | None:
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        )
        dirty = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, timeout=5)
        return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock across processes (sweep workers sharing a cache)."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
