"""Saving and loading learned arrays: safetensors files with JSON metadata, no pickled code.

Every trainable part of an agent exposes ``state_arrays() -> dict[str, np.ndarray]`` and
``load_state_arrays(arrays)``; this module writes and reads them, checking that a file was
written for the same kind of object (and the same world shape) before anything is loaded.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from agents.errors import ModelFileError
from envs.typed import with_current_keys

FORMAT_VERSION = 1


def save_arrays(path: str | Path, kind: str, arrays: dict[str, np.ndarray], meta: dict[str, Any] | None = None) -> Path:
    """Write ``arrays`` to ``path`` (a ``.safetensors`` file) tagged with ``kind`` and ``meta``."""
    from safetensors.numpy import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = {"kind": kind, "format_version": FORMAT_VERSION, "meta": meta or {}}
    save_file(
        {k: np.ascontiguousarray(v) for k, v in arrays.items()},
        str(path),
        metadata={"noveltygym": json.dumps(header, sort_keys=True)},
    )
    return path


def require_file(path: str | Path, what: str, hint: str) -> Path:
    """``path`` as a Path; ModelFileError naming it and how to make one when it does not exist."""
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"no {what} at {str(path)!r}; {hint}")
    return path


def load_arrays(
    path: str | Path, kind: str, meta_check: dict[str, Any] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Arrays and metadata saved by :func:`save_arrays`; ModelFileError if missing, of another
    kind, or written for other sizes (``meta_check`` entries must match the saved metadata)."""
    from safetensors import safe_open
    from safetensors.numpy import load_file

    path = require_file(path, f"saved {kind}", f"save one first with {kind}.save(path)")
    try:
        with safe_open(str(path), framework="numpy") as fh:
            raw = (fh.metadata() or {}).get("noveltygym")
        arrays = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise ModelFileError(f"{str(path)!r} is not a readable safetensors file ({exc})") from exc
    if raw is None:
        raise ModelFileError(f"{str(path)!r} was not written by noveltygym (no metadata); save it with .save()")
    header = json.loads(raw)
    if header.get("kind") != kind:
        raise ModelFileError(f"{str(path)!r} holds a saved {header.get('kind')!r}, not a {kind!r}")
    meta = with_current_keys(header.get("meta", {}))
    for key, want in (meta_check or {}).items():
        if meta.get(key) != want:
            raise ModelFileError(
                f"{str(path)!r} was saved with {key}={meta.get(key)!r}, but this {kind} has {key}={want!r}; "
                "load it into an agent built for the same world"
            )
    return arrays, meta
