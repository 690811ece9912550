"""The ``noveltygym`` command line.

    noveltygym quickstart                      the whole pipeline on the embedded defaults
    noveltygym run CONFIG [--set k=v ...] [--out DIR]
    noveltygym sweep CONFIG --grid field=v1,v2 ... --seeds N [--workers K] [--backend local|ray]
    noveltygym report DIR                      regenerate a run's or a sweep's report
    noveltygym llm {data,train,evaluate,table} the language layer (see `noveltygym llm -h`)
    noveltygym demo feedback-loop [--html OUT.html | --serve]
                                               how a feedback loop narrows what people see
    noveltygym paper [--quick] [--studies K,..] the paper's claims, reproduced in the simulator
    noveltygym real movielens [--path DIR] [--level genre|combo|svd]
                                               the language layer on real logs, and the simulator against them
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from envs.errors import NoveltyGymError


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="FIELD=VALUE",
                   help="override a config field, e.g. --set agent.explore_slots=2 (repeatable)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/NAME-TIMESTAMP)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="noveltygym", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("quickstart", help="world, logs, language model, table, agents, report (< 10 min)")
    _common(p)

    p = sub.add_parser("run", help="run one experiment config")
    p.add_argument("config", help="a TOML/YAML file or a shipped config name (e.g. default, tiny)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run in --out")
    p.add_argument("--cache", type=Path, default=None, help="folder for logs/models/tables shared between runs")
    _common(p)

    p = sub.add_parser("sweep", help="a grid over config fields times seeds, with mean and 95%% CI per cell")
    p.add_argument("config")
    p.add_argument("--grid", action="append", default=[], metavar="FIELD=V1,V2",
                   help="a field and its values (repeatable; the grid is their product)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per cell (0..N-1)")
    p.add_argument("--workers", type=int, default=2, help="parallel trials (local processes or Ray tasks)")
    p.add_argument("--backend", choices=("local", "ray"), default="local")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: start a local Ray)")
    p.add_argument("--resume", action="store_true", help="continue an interrupted sweep in --out")
    _common(p)

    p = sub.add_parser("report", help="regenerate the report of a run or sweep folder from its files")
    p.add_argument("folder", type=Path)

    sub.add_parser("llm", help="the language layer: data, train, evaluate, table", add_help=False)

    p = sub.add_parser("demo", help="demonstrations for teaching")
    p.add_argument("which", choices=("feedback-loop",))
    page = p.add_mutually_exclusive_group()
    page.add_argument("--html", type=Path, default=None, metavar="OUT.html",
                      help="write the interactive page (one offline HTML file) instead of the static report")
    page.add_argument("--serve", action="store_true",
                      help="start the live page: each control change runs a new small simulation")
    p.add_argument("--port", type=int, default=5006, help="--serve: port (default 5006)")
    p.add_argument("--address", default="127.0.0.1", help="--serve: address to bind (default 127.0.0.1)")
    p.add_argument("--workers", type=int, default=2, help="--html: runs in parallel (default 2)")
    _common(p)

    p = sub.add_parser("paper", help="reproduce the paper's claims (5 seeds; --quick for a smoke run)")
    p.add_argument("--quick", action="store_true", help="small and fast: 2 seeds, fewer users and steps")
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--resume", action="store_true")
    p.add_argument("--studies", type=lambda v: v.split(","), default=None, metavar="KEY,KEY",
                   help="run only these studies (exact_match, llm_vs_exploit, granularity, context_length, "
                        "balance, exploration_share); the report covers every study finished in --out")
    _common(p)
    p = sub.add_parser("real", help="the language layer on real logs (MovieLens), against counting baselines")
    p.add_argument("dataset", choices=("movielens",))
    p.add_argument("--path", default=None, help="a MovieLens folder (ml-latest(-small), ml-100k, ml-1m); "
                                                 "default: the embedded ml-latest-small")
    p.add_argument("--level", choices=("genre", "combo", "svd"), default="combo",
                   help="clusters: genre (coarse), genre combination (fine, default), svd (k-means on embeddings)")
    p.add_argument("--k", type=int, default=30, help="clusters of --level svd (default 30)")
    p.add_argument("--positive-rating", type=float, default=4.0, help="ratings >= this are positive (default 4)")
    p.add_argument("--seed", type=int, default=0)
    _common(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["llm"]:
        from llm.cli import main as llm_main

        return int(llm_main(argv[1:], prog="noveltygym llm") or 0)
    args = build_parser().parse_args(argv)
    try:
        return _dispatch(args)
    except NoveltyGymError as exc:
        print(f"noveltygym {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished trials are kept (rerun with --resume)", file=sys.stderr)
        return 130


def _dispatch(args: argparse.Namespace) -> int:
    from experiments.config import load_config

    progress = not getattr(args, "quiet", False)
    if args.command == "quickstart":
        from experiments.runner import run_experiment

        out = run_experiment(load_config("quickstart", args.overrides), args.out, progress=progress)
        _print_result(out)
    elif args.command == "run":
        from experiments.runner import run_experiment

        cfg = load_config(args.config, args.overrides)
        _print_result(run_experiment(cfg, args.out, cache=args.cache, resume=args.resume, progress=progress))
    elif args.command == "sweep":
        from experiments.sweep import run_sweep

        cfg_raw_path = args.config
        out = run_sweep(cfg_raw_path, args.grid, args.seeds, args.overrides, args.out, args.workers,
                        args.backend, args.resume, progress, ray_address=args.ray_address)
        print(out / "report.md")
    elif args.command == "report":
        from experiments.report import write_report
        from experiments.sweep import is_sweep, write_sweep_report

        path = write_sweep_report(args.folder) if is_sweep(args.folder) else write_report(args.folder)
        print(path)
    elif args.command == "demo":
        _demo(args, progress)
    elif args.command == "real":
        from experiments.reallogs.study import real_config, run_movielens

        raw = {"path": args.path, "level": args.level, "k": args.k, "positive_rating": args.positive_rating,
               "seed": args.seed}
        out = run_movielens(real_config(raw, args.overrides), args.out, progress)
        _print_real(out)
    elif args.command == "paper":
        from experiments.paper import run_paper

        print(run_paper(args.out, quick=args.quick, workers=args.workers, resume=args.resume,
                        overrides=args.overrides, progress=progress, studies=args.studies))
    return 0


def _demo(args: argparse.Namespace, progress: bool) -> None:
    if args.html is not None:
        from experiments.feedback_page import write_page

        print(write_page(args.html, args.overrides, args.out, args.workers, progress))
    elif args.serve:
        from experiments.feedback_page import serve

        server, url = serve(args.port, args.address, args.overrides, args.out, progress)
        print(f"serving the live feedback-loop page at {url} (Ctrl+C stops it)", flush=True)
        try:
            server.io_loop.start()
        finally:
            server.stop()
    else:
        from experiments.demo import feedback_loop_demo

        print(feedback_loop_demo(args.out, args.overrides, progress))


def _print_real(out: Path) -> None:
    import json

    from experiments.reallogs.report import calibration_markdown, evaluation_table

    print(evaluation_table(json.loads((out / "evaluation.json").read_text())))
    print()
    print(calibration_markdown(json.loads((out / "calibration.json").read_text())))
    print(f"\nreport: {out / 'report.md'}")


def _print_result(out: Path) -> None:
    import json

    from experiments.report import TABLE_METRICS, journeys_text, summary_table
    from experiments.runner import read_summary

    print(summary_table(read_summary(out), TABLE_METRICS))
    if (out / "journeys.json").exists():
        print()
        print(journeys_text(json.loads((out / "journeys.json").read_text())))
    print(f"\nreport: {out / 'report.md'}")


if __name__ == "__main__":
    sys.exit(main())
