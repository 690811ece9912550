from __future__ import annotations

from pathlib import Path

import pytest

from experiments.config import load_raw

# A tiny world and a tiny language model: the whole feedback-loop demo in seconds.
TINY = [
    "world.preset='tiny'", "eval.n_users=32", "eval.n_steps=20", "eval.seeds=[0, 1]",
    "logs.n_users=200", "logs.n_steps=30", "llm.settings.model.n_embd=32", "llm.settings.model.n_layer=1",
    "llm.settings.model.n_head=2", "llm.settings.train.pretrain_steps=20", "llm.settings.train.sft_steps=40",
    "llm.settings.train.eval_every=20", "llm.settings.train.batch_size=32",
]


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


# The page's world: the default world at the domain level (22 clusters), so choosers differ,
# with TINY's population and language model.
PAGE_WORLD = ["world.preset='default'", "world.cluster_level='domain'", "eval.n_steps=40", "eval.seeds=[0]"]


def tiny_args() -> list[str]:
    return [arg for s in [*TINY, *PAGE_WORLD] for arg in ("--set", s)]


@pytest.fixture(scope="session")
def tiny_page(tmp_path_factory) -> Path:
    """The feedback-loop page of a small world (needs Bokeh: the `teach` extra)."""
    pytest.importorskip("bokeh", reason="the feedback-loop page needs the `teach` extra: pip install -e '.[teach]'")
    from experiments.cli import main

    html = tmp_path_factory.mktemp("page") / "page.html"
    assert main(["demo", "feedback-loop", "--html", str(html), "--workers", "1", "--quiet", *tiny_args()]) == 0
    return html
