"""``noveltygym demo feedback-loop``: how a recommender that learns only from what it showed
narrows what people see, and how exploring novel interests counteracts it.

Plots are made for a class to read without the code: each has a plain title and caption.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from experiments.config import load_config
from experiments.plots import _over_time, _save
from experiments.report import markdown_to_html, summary_table
from experiments.rundir import write_text
from experiments.runner import read_summary, run_experiment

PANELS = (
    ("interest_entropy", "How varied are people's interests?",
     "The spread of each person's true (hidden) interests. When it falls, people are being narrowed "
     "to fewer interests: the feedback loop at work."),
    ("novel_cumulative", "How many new interests did people find?",
     "New interest clusters each person enjoyed, added up over time. A flat line means discovery stalled."),
    ("homogenization", "How alike are people's feeds?",
     "How much the interests people engaged with overlap between two random people (0 = nothing in "
     "common, 1 = identical), measured over windows of 20 requests. Rising means a filter bubble."),
    ("watch_time", "Did people enjoy it?",
     "Minutes watched per request. Exploration is only worth it if this does not drop."),
)


def feedback_loop_demo(out: Path | None = None, overrides: list[str] | None = None, progress: bool = True) -> Path:
    cfg = load_config("feedback_loop", overrides or [])
    run = run_experiment(cfg, out, progress=progress)
    steps = pd.read_parquet(run / "per_step.parquet")
    lines = [
        "# The feedback loop, in a simulator",
        "",
        "A recommender that only learns from what it already showed keeps showing more of the same. "
        "Here the same simulated people are served by three recommenders: one that only exploits, one "
        "that also explores new interest clusters chosen by a language model (the hierarchical explorer), "
        "and one that explores clusters at random.",
        "",
    ]
    for column, title, caption in PANELS:
        fig, ax = plt.subplots(figsize=(7, 4))
        _over_time(ax, steps, column, smooth=5 if column == "watch_time" else 1)
        ax.set_title(title)
        ax.legend(fontsize=8)
        path = _save(fig, run / f"demo_{column}.png")
        lines += [f"## {title}", "", f"![{column}]({path.name})", "", f"*{caption}*", ""]
    lines += ["## The numbers", "", summary_table(read_summary(run)), ""]
    text = "\n".join(lines)
    write_text(run / "demo.md", text)
    write_text(run / "demo.html", markdown_to_html(text, run))
    return run / "demo.md"
