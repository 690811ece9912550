"""The feedback loop as a page a class can play with (``noveltygym demo feedback-loop --html``
and ``--serve``).

Built with Bokeh: one library gives both a standalone interactive HTML file (BokehJS inlined,
controls wired in JavaScript to data precomputed for every setting, so the page works offline
with no server) and a live app on Bokeh's own server whose Python callbacks run a new
simulation when a control moves, from the same figure code. Plotly needs a second framework
(Dash) for the live app; Altair/Vega cannot run Python on a control change at all.

Everything shown is computed from the runs of ``experiments.feedback_grid``; the page only
arranges it: for each position of the controls, which run to show, which run to compare
against (exploitation only), the sentence that sums them up, and the clusters of the journey
chart. That table (``combos``) is made here in Python, so the JavaScript only looks it up.
"""

from __future__ import annotations

import itertools
import logging
import time
from pathlib import Path
from typing import Any

from envs.errors import ConfigError
from experiments import feedback_grid as grid
from experiments.config import RunConfig, load_config

log = logging.getLogger("noveltygym")

INTRO = (
    "A recommender that only learns from what it already showed keeps showing more of the same, and "
    "people's interests follow what they are shown. Here the same simulated people are served under the "
    "setting you choose with the controls, and under <b>exploitation only</b> (grey, dashed) for comparison. "
    "Exploration gives part of every feed to an interest cluster the person has not engaged with yet."
)
CHARTS = (
    ("interest_entropy", "How varied are people's hidden interests?",
     "The spread of each person's true interests (entropy, averaged over people). When it falls, people "
     "are being narrowed to fewer interests: the feedback loop at work."),
    ("novel_cumulative", "How many new interests did people find?",
     "New interest clusters each person enjoyed, added up over time. A flat line means discovery stalled."),
    ("homogenization", "How alike are people's feeds?",
     "How much the interests two random people engaged with overlap (0 % = nothing in common, 100 % = the "
     "same), over windows of 20 requests. Rising means everyone is pushed towards the same things."),
    ("watch_time", "Did people enjoy it?",
     "Minutes watched per request, smoothed. Exploration is only worth it if this does not drop for long."),
)
WHAT_TO_TRY = (
    "Set exploration to 0 % with retraining on: watch the spread of hidden interests fall while no new "
    "interests are found.",
    "Keep retraining on and raise exploration to 10 %, then 30 %, then 50 %: more new interests, but watch "
    "what happens to minutes watched.",
    "At 30 %, switch who picks the new interest from 'at random' to 'what usually comes next' and 'the language "
    "model': does a smarter choice keep enjoyment up?",
    "Turn retraining off: the recommender stops learning from its own logs. Does the loop still close?",
    "Compare one person's journey under exploitation only and under your setting: how many different "
    "interests do they visit?",
)
NOVEL_COLOUR, FAMILIAR_COLOUR = "#e66101", "#5e3c99"
SETTING_COLOUR, BASE_COLOUR = "#1b7837", "#888888"
SMOOTH = {"watch_time": 9}  # steps of the centred moving average per chart (1 = raw)


def _bokeh() -> Any:
    try:
        import bokeh
    except ImportError as exc:
        raise ConfigError(
            "the feedback-loop page needs Bokeh: pip install -e '.[teach]' (or pip install bokeh)"
        ) from exc
    return bokeh


# --- what each position of the controls shows ---------------------------------------------------
def controls() -> dict[str, tuple[str, list[str], list[Any]]]:
    """Control name -> (question shown, button labels, values), in page order."""
    retrain = [True, False]
    return {
        "share": ("Share of the feed given to exploration", [f"{s} %" for s in grid.EXPLORE_SHARES],
                  list(grid.EXPLORE_SHARES)),
        "chooser": ("Who picks the new interest to try", [words for words, _ in grid.CHOOSERS.values()],
                    list(grid.CHOOSERS)),
        "retrain": ("Does the recommender retrain on what it showed?",
                    ["yes (it learns from its own logs)", "no (frozen)"], retrain),
    }


def setting_at(active: tuple[int, ...]) -> grid.Setting:
    """The setting of the controls' active buttons (share, chooser, retrain)."""
    values = [values for _, _, values in controls().values()]
    return grid.Setting(*(v[i] for v, i in zip(values, active, strict=True)))


def all_positions() -> list[tuple[int, ...]]:
    return list(itertools.product(*(range(len(values)) for _, _, values in controls().values())))


def summary_text(setting: grid.Setting, run: dict, base: dict) -> str:
    """Plain sentences comparing the setting with exploitation only."""
    s, b = run["summary"], base["summary"]
    loop = "retrains on its own logs" if setting.retrain else "never retrains"
    if not setting.explores:
        return (f"<b>Exploitation only</b> (the recommender {loop}): people found {s['novel_per_user']:.2f} new "
                f"interests each and watched {s['watch_per_request']:.2f} minutes per request; the spread of their "
                f"hidden interests ended at {s['interest_spread_end']:.2f}.")
    words = grid.CHOOSERS[setting.chooser][0]
    return (f"<b>{setting.share} % exploration, new interests picked {words}</b> (the recommender {loop}): "
            f"people found {s['novel_per_user']:.2f} new interests each (exploitation only: "
            f"{b['novel_per_user']:.2f}), watched {s['watch_per_request']:.2f} minutes per request "
            f"({_change(s, b, 'watch_per_request')} against exploitation only), and the spread of their hidden "
            f"interests ended at {s['interest_spread_end']:.2f} ({_change(s, b, 'interest_spread_end')}).")


def _change(run: dict, base: dict, key: str) -> str:
    return f"{100 * (run[key] / base[key] - 1):+.1f} %" if base[key] else "n/a"


def journey_factors(*runs: dict) -> list[str]:
    """Cluster names on the journey chart's axis: in order of first visit, exploitation first."""
    names: dict[str, None] = {}
    for run in runs:
        names.update(dict.fromkeys(run["journey"]["cluster"]))
    return list(reversed(names)) or ["(no engagement)"]  # first visited at the top


def chart_data(run: dict) -> dict:
    """A run's data as the page's sources hold it: smoothed series, and coloured journey points."""
    steps = {m: _smooth(v, SMOOTH.get(m, 1)) for m, v in run["steps"].items()}
    j = run["journey"]
    colours = [NOVEL_COLOUR if n else FAMILIAR_COLOUR for n in j["novel"]]
    kind = ["new interest" if n else "familiar interest" for n in j["novel"]]
    return {"steps": steps, "journey": {**j, "colour": colours, "kind": kind}, "summary": run["summary"]}


def _smooth(values: list[float], width: int) -> list[float]:
    """Centred moving average (fewer neighbours at the edges), as the static report's rolling mean."""
    if width <= 1:
        return values
    import pandas as pd

    return pd.Series(values, dtype=float).rolling(width, center=True, min_periods=1).mean().round(5).tolist()


def describe(setting: grid.Setting, run: dict, base: dict) -> dict[str, Any]:
    """What the page shows besides the data for ``setting``: the summary sentence and the
    journey chart's clusters (the static page's lookup table and the live app both use it)."""
    return {"text": summary_text(setting, run, base), "factors": journey_factors(base, run)}


def combos(runs: dict[str, dict]) -> dict[str, dict]:
    """For every position of the controls ("i|j|k"): the run shown, the baseline run, and
    ``describe``'s sentence and clusters."""
    table = {}
    for pos in all_positions():
        setting = setting_at(pos)
        run, base = runs[setting.run().key], runs[setting.baseline().key]
        table["|".join(map(str, pos))] = {"run": setting.run().key, "base": setting.baseline().key,
                                          **describe(setting, run, base)}
    return table


# --- the document ---------------------------------------------------------------------------------
DEFAULT_POSITION = (3, 3, 0)  # 30 %, the language model, retraining on


class Page:
    """The page's figures, sources and controls; ``show(run, base, combo)`` displays a setting."""

    def __init__(self, n_steps: int, position: tuple[int, int, int] = DEFAULT_POSITION) -> None:
        _bokeh()
        from bokeh.layouts import column, row
        from bokeh.models import ColumnDataSource, DataRange1d, FactorRange, HoverTool, NumeralTickFormatter, Range1d
        from bokeh.models.widgets import Div, RadioButtonGroup
        from bokeh.plotting import figure

        self.metrics = ColumnDataSource({"step": list(range(n_steps)), **{
            f"{m}{suffix}": [0.0] * n_steps for m in grid.METRICS for suffix in ("", "_base")}}, name="metrics")
        self.widgets = {}
        rows = []
        for (name, (question, labels, _)), active in zip(controls().items(), position, strict=True):
            w = RadioButtonGroup(labels=labels, active=active, name=f"control_{name}")
            self.widgets[name] = w
            rows.append(column(Div(text=f"<b>{question}</b>"), w))
        self.summary = Div(text="", name="summary", width=900)
        charts = []
        for metric, title, caption in CHARTS:
            # Every axis starts at 0, so small differences look small.
            fig = figure(title=title, height=260, width=440, x_axis_label="request (time)", name=f"chart_{metric}",
                         y_range=DataRange1d(start=0), tools="pan,wheel_zoom,box_zoom,reset,save")
            if metric == "homogenization":
                fig.yaxis.formatter = NumeralTickFormatter(format="0.0%")
            fig.line("step", f"{metric}_base", source=self.metrics, color=BASE_COLOUR, line_dash="dashed",
                     line_width=2)
            fig.line("step", metric, source=self.metrics, color=SETTING_COLOUR, line_width=3)
            charts.append(column(fig, Div(text=f"<i>{caption}</i>", width=430)))
        self.journeys = {}
        self.factors = FactorRange(factors=["(no engagement)"])
        journey_figs = []
        for which, title in (("base", "One person under exploitation only"),
                             ("run", "The same person under your setting")):
            src = ColumnDataSource({"step": [], "cluster": [], "novel": [], "colour": [], "kind": []},
                                   name=f"journey_{which}")
            fig = figure(title=title, height=420, width=440, y_range=self.factors,
                         x_range=Range1d(start=0, end=n_steps), x_axis_label="request (time)",
                         name=f"journey_chart_{which}", tools="pan,box_zoom,reset,save")
            fig.line("step", "cluster", source=src, color="#bbbbbb", line_width=1)
            fig.scatter("step", "cluster", source=src, color="colour", size=7, legend_field="kind")
            fig.add_tools(HoverTool(tooltips=[("request", "@step"), ("interest", "@cluster"), ("", "@kind")]))
            fig.legend.location = "bottom_right"
            self.journeys[which] = src
            journey_figs.append(fig)
        journey_caption = Div(width=900, text=(
            "<i>Each dot is something this one simulated person enjoyed, placed at the interest cluster it belongs "
            "to (orange: an interest new to them). Under exploitation only the dots stay on a few rows.</i>"))
        tips = "".join(f"<li>{t}</li>" for t in WHAT_TO_TRY)
        self.layout = column(
            Div(text="<h1>The feedback loop: how recommenders narrow what people see</h1>"
                     f"<p style='max-width:880px'>{INTRO}</p>", width=900),
            row(*rows[:2]), rows[2], self.summary,
            Div(text=f"<span style='color:{SETTING_COLOUR}'>━━ your setting</span> &nbsp; "
                     f"<span style='color:{BASE_COLOUR}'>╌╌ exploitation only</span>"),
            row(*charts[:2]), row(*charts[2:]),
            Div(text="<h2>One person's journey through interests</h2>"), row(*journey_figs), journey_caption,
            Div(text=f"<h2>What to try</h2><ul style='max-width:880px'>{tips}</ul>", width=900),
        )

    @property
    def position(self) -> tuple[int, int, int]:
        return tuple(w.active for w in self.widgets.values())  # type: ignore[return-value]

    def show(self, run: dict, base: dict, combo: dict) -> None:
        """Display ``run`` against ``base`` (both ``chart_data`` outputs) with ``combo``'s text and axis."""
        data: dict[str, list] = {"step": list(range(len(run["steps"][grid.METRICS[0]])))}
        for m in grid.METRICS:
            data[m], data[f"{m}_base"] = run["steps"][m], base["steps"][m]
        self.metrics.data = data
        self.journeys["run"].data = run["journey"]
        self.journeys["base"].data = base["journey"]
        self.factors.factors = combo["factors"]
        self.summary.text = combo["text"]


# The page's only JavaScript: look up the position of the controls, show that run and its baseline.
_SHOW_JS = """
const c = combos[[share.active, chooser.active, retrain.active].join("|")];
const run = runs[c.run], base = runs[c.base];
const data = {step: metrics.data.step};
for (const m of names) { data[m] = run.steps[m]; data[m + "_base"] = base.steps[m]; }
metrics.data = data;
journey_run.data = run.journey;
journey_base.data = base.journey;
factors.factors = c.factors;
summary.text = c.text;
"""


def build_page(runs: dict[str, dict], n_steps: int) -> Any:
    """The static page: every run embedded, controls wired in JavaScript. Returns the layout."""
    from bokeh.models import CustomJS

    page = Page(n_steps)
    data = {key: chart_data(run) for key, run in runs.items()}
    table = combos(runs)
    key = "|".join(map(str, page.position))
    page.show(data[table[key]["run"]], data[table[key]["base"]], table[key])
    callback = CustomJS(args=dict(
        combos=table, runs=data, names=list(grid.METRICS), metrics=page.metrics, journey_run=page.journeys["run"],
        journey_base=page.journeys["base"], factors=page.factors, summary=page.summary, **page.widgets,
    ), code=_SHOW_JS)
    for w in page.widgets.values():
        w.js_on_change("active", callback)
    return page.layout


# --- building the runs ----------------------------------------------------------------------------
def page_config(overrides: list[str] | None = None) -> RunConfig:
    """The feedback-loop demo's config with the agents every setting needs."""
    cfg = load_config("feedback_loop", overrides or [])
    world = cfg.build_world()
    cfg.agents = grid.needed_agents(grid.all_settings(), world.config.slate_size)
    return cfg


def prepare(cfg: RunConfig, folder: Path, progress: bool) -> tuple[Any, Any]:
    """The world and what the choosers need (logs, the language model's table), cached in ``folder``."""
    from experiments import pipeline
    from experiments.runner import setup_logging

    folder.mkdir(parents=True, exist_ok=True)
    setup_logging(folder)
    world = cfg.build_world()
    return world, pipeline.prepare(world, cfg, folder / "cache", progress)


def write_page(html: str | Path, overrides: list[str] | None = None, folder: str | Path | None = None,
               workers: int = 2, progress: bool = True) -> Path:
    """``noveltygym demo feedback-loop --html OUT.html``: run (or load from the cache) every setting
    and write the page. The runs, cache and log go to ``folder`` (default: OUT_runs beside the page)."""
    html = Path(html)
    if html.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"--html {str(html)!r} must name an .html file, e.g. --html feedback_loop.html")
    _bokeh()
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    from experiments.rundir import write_json, write_text
    folder = Path(folder) if folder else html.with_name(f"{html.stem}_runs")
    t0 = time.perf_counter()
    cfg = page_config(overrides)
    world, art = prepare(cfg, folder, progress)
    runs = grid.run_settings(world, cfg, art, grid.all_settings(), folder / "cache", workers, progress)
    write_json(folder / "runs.json", {"config": cfg.to_dict(), "runs": {k: r["summary"] for k, r in runs.items()}})
    layout = build_page(runs, cfg.eval.n_steps)
    write_text(html, file_html(layout, resources=INLINE, title="The feedback loop"))
    log.info("feedback-loop page written in %.1fs: %s (runs in %s)", time.perf_counter() - t0, html, folder)
    return html


# --- live mode ------------------------------------------------------------------------------------
LIVE_USERS = 400
"""People simulated per live run: enough for smooth curves, few enough for a few seconds a run."""


def serve(port: int = 5006, address: str = "127.0.0.1", overrides: list[str] | None = None,
          folder: str | Path | None = None, progress: bool = True, show: bool = False) -> tuple[Any, str]:
    """``noveltygym demo feedback-loop --serve``: a Bokeh server app that runs a new small simulation
    whenever a control moves (each setting once per server). Returns the started server and its
    address; ``server.io_loop.start()`` serves until interrupted. ``folder`` holds the cached logs
    and language model (give the page's runs folder to reuse its model)."""
    _bokeh()
    from bokeh.server.server import Server

    cfg = page_config([f"eval.n_users={LIVE_USERS}", *(overrides or [])])
    world, art = prepare(cfg, Path(folder) if folder else Path("runs") / "feedback-live", progress)
    seed = cfg.eval.seeds[0]
    memo: dict[str, dict] = {}

    def simulate(setting: grid.Setting) -> dict:
        if setting.key not in memo:
            memo[setting.key] = grid.simulate_setting(world, cfg, art, setting, seed)
        return memo[setting.key]

    def app(doc: Any) -> None:
        page = Page(cfg.eval.n_steps)

        def update() -> None:
            setting = setting_at(page.position)
            run, base = simulate(setting.run()), simulate(setting.baseline())
            page.show(chart_data(run), chart_data(base), describe(setting, run, base))

        def on_change(attr: str, old: Any, new: Any) -> None:
            update()

        for w in page.widgets.values():
            w.on_change("active", on_change)
        update()
        doc.add_root(page.layout)
        doc.title = "The feedback loop (live)"

    server = Server({"/": app}, port=port, address=address, allow_websocket_origin=[f"{address}:{port}",
                                                                                     f"localhost:{port}"])
    server.start()
    url = f"http://{address}:{server.port}/"
    log.info("feedback-loop live page at %s (Ctrl+C stops it)", url)
    if show:
        server.io_loop.add_callback(server.show, "/")
    return server, url
