from __future__ import annotations

from pathlib import Path

import pytest

from experiments.config import load_raw


@pytest.fixture
def fast_raw() -> dict:
    """The tiny config without the language model: a run takes about a second."""
    raw = load_raw("tiny")
    raw["agents"] = [{"name": "exploit"}, {"name": "hierarchical-oracle"}, {"name": "hierarchical-random"}]
    raw["eval"] = {"n_users": 32, "n_steps": 10, "seeds": [0, 1]}
    return raw


@pytest.fixture
def fast_config(tmp_path: Path, fast_raw: dict) -> Path:
    import tomli_w

    path = tmp_path / "fast.toml"
    path.write_text(tomli_w.dumps(fast_raw))
    return path
