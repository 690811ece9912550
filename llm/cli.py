"""``python -m llm {data,train,evaluate,table}``: the language layer from the command line.

The cluster level comes from a world preset (``--world default --level subtopic``) or a text
file with one description per line (``--descriptions FILE``); logs come from a parquet/CSV file
(``--logs``) or are simulated with ``envs.logs.organic_logs`` (``--users``, ``--steps``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from llm.config import DataConfig, GenerationConfig, LLMConfig, TrainConfig
from llm.errors import ConfigError, NoveltyGymError


def _cap(text: str) -> int | None:
    return None if text.lower() in ("none", "0") else int(text)


def _add_level(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("cluster level")
    g.add_argument("--world", default="default", help="envs preset whose clusters to use (default: default)")
    g.add_argument("--world-seed", type=int, default=0, help="seed of the world (default: 0)")
    g.add_argument("--journey-semantic-share", type=float, default=None,
                   help="share of journeys that follow the descriptions' words (WorldConfig; default: the preset's)")
    g.add_argument("--level", default=None, help="level name or K (default: the world's level)")
    g.add_argument(
        "--descriptions",
        type=Path,
        default=None,
        help="text file, one description per line, instead of --world",
    )


def _add_logs(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("logs")
    g.add_argument(
        "--logs", type=Path, default=None, help="parquet/CSV logs (default: simulate organic logs)"
    )
    g.add_argument("--users", type=int, default=4000, help="simulated users (default: 4000)")
    g.add_argument("--steps", type=int, default=100, help="simulated steps per user (default: 100)")


def _add_data(p: argparse.ArgumentParser) -> None:
    d = DataConfig()
    g = p.add_argument_group("fine-tuning data")
    g.add_argument("--context-length", type=int, default=d.context_length, help="L (default: 2)")
    g.add_argument(
        "--cap-per-target",
        type=_cap,
        default=d.cap_per_target,
        help=f"examples per target, 'none' = no cap (default: {d.cap_per_target})",
    )
    g.add_argument(
        "--cap-per-history",
        type=_cap,
        default=d.cap_per_history,
        help=f"examples per history, 'none' = no cap (default: {d.cap_per_history})",
    )
    g.add_argument(
        "--first-time-only",
        action="store_true",
        help="keep only targets the user engages for the first time in the logs (the discoveries)",
    )


def _world(args):
    import envs

    share = getattr(args, "journey_semantic_share", None)
    overrides = {} if share is None else {"journey_semantic_share": share}
    return envs.make_world(args.world, seed=args.world_seed, **overrides)


def _level(args) -> Any:
    if args.descriptions is not None:
        if not args.descriptions.is_file():
            raise ConfigError(f"no descriptions file at {str(args.descriptions)!r}")
        return [line.strip() for line in args.descriptions.read_text().splitlines() if line.strip()]
    world = _world(args)
    from llm.pipeline import world_level

    return world.clusters.level(args.level) if args.level is not None else world_level(world)


def _logs(args, world=None):
    if args.logs is not None:
        return args.logs
    from envs.logs import organic_logs

    return organic_logs(world if world is not None else _world(args), args.users, args.steps, seed=args.seed)


def cmd_data(args) -> None:
    from llm.data import build_sft_data

    level = _level(args)
    data = build_sft_data(
        _logs(args),
        level,
        args.context_length,
        args.cap_per_target,
        args.cap_per_history,
        seed=args.seed,
        verbose=True,
        first_time_only=args.first_time_only,
    )
    print(f"saved {data.save(args.out)}")


def cmd_train(args) -> None:
    from llm.pipeline import replayed_knowledge, train_model, world_level, world_texts

    t = TrainConfig()
    config = LLMConfig(
        data=DataConfig(
            args.context_length, args.cap_per_target, args.cap_per_history, first_time_only=args.first_time_only
        ),
        train=TrainConfig(
            pretrain_steps=args.pretrain_steps,
            sft_steps=args.sft_steps,
            batch_size=args.batch_size,
            lr=args.lr,
            eval_every=args.eval_every,
            time_budget_s=args.time_budget,
            num_threads=args.threads,
            warmup_steps=t.warmup_steps,
            knowledge_fidelity=args.knowledge_fidelity,
            knowledge_replay=args.knowledge_replay,
            log_pairs_share=args.log_pairs_share,
        ),
    )
    world = _world(args)
    level = world.clusters.level(args.level) if args.level is not None else world_level(world)
    knowledge = replayed_knowledge(world, config, args.seed) if level is world_level(world) else None
    result = train_model(
        level,
        _logs(args, world),
        world_texts(world, config, args.seed),
        args.out,
        config,
        seed=args.seed,
        progress=True,
        verbose=True,
        knowledge=knowledge,
    )
    print("free exact-match vs fine-tuning steps:", result.curve)
    print(f"saved {result.model_dir}")


def cmd_evaluate(args) -> None:
    from llm.data import SFTData
    from llm.evaluation import evaluate
    from llm.generation import ClusterLM
    from llm.pipeline import SFT_DATA_FILE, few_shot_baseline

    lm = ClusterLM.load(args.model, _level(args), num_threads=args.threads)
    data = SFTData.load(args.data or Path(args.model) / SFT_DATA_FILE)
    config = GenerationConfig(
        temperature=args.temperature, top_p=args.top_p, n_samples=args.n_samples, unmatched=args.unmatched
    )
    report = evaluate(lm, getattr(data, args.split), config, seed=args.seed, progress=True)
    result = report.to_dict()
    if args.few_shot:
        result["few_shot_exact_match"] = few_shot_baseline(
            lm, data, args.few_shot, config, args.seed
        )
    print(json.dumps(result, indent=2))


def cmd_table(args) -> None:
    from llm.table import build_table

    table = build_table(
        args.model,
        _level(args),
        args.context_length,
        args.n_samples,
        args.temperature,
        args.seed,
        args.out,
        args.batch_size,
        resume=not args.no_resume,
        exclude_history=not args.allow_history,
        chunk_size=args.chunk_size,
        num_threads=args.threads,
    )
    print(f"table {table.answers.shape} saved in {args.out}")


def build_parser(prog: str = "python -m llm") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="build balanced fine-tuning data from logs")
    _add_level(p)
    _add_logs(p)
    _add_data(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/llm/sft_data.npz"), help="output .npz")
    p.set_defaults(func=cmd_data)

    t = TrainConfig()
    p = sub.add_parser("train", help="pretrain and fine-tune the embedded default model")
    _add_level(p)
    _add_logs(p)
    _add_data(p)
    p.add_argument("--pretrain-steps", type=int, default=t.pretrain_steps)
    p.add_argument("--sft-steps", type=int, default=t.sft_steps)
    p.add_argument("--batch-size", type=int, default=t.batch_size)
    p.add_argument("--lr", type=float, default=t.lr)
    p.add_argument("--eval-every", type=int, default=t.eval_every, help="steps between exact-match points")
    p.add_argument("--time-budget", type=float, default=None, help="stop fine-tuning after this many seconds")
    p.add_argument("--threads", type=int, default=t.num_threads)
    p.add_argument("--knowledge-fidelity", type=float, default=None,
                   help="add the world's journey knowledge, this share of it true (default: none; llm.knowledge)")
    p.add_argument("--knowledge-replay", type=float, default=t.knowledge_replay,
                   help="share of fine-tuning batches that replay the knowledge")
    p.add_argument("--log-pairs-share", type=float, default=t.log_pairs_share,
                   help="share of fine-tuning batches of single (history cluster, target) pairs in random histories")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/llm/default"), help="model folder")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="exact match, novelty, hit rate, diversity (+ few-shot baseline)")
    _add_level(p)
    p.add_argument("--model", required=True, help="model folder or 'smollm2'")
    p.add_argument("--data", type=Path, default=None, help="SFT data .npz (default: MODEL/sft_data.npz)")
    p.add_argument("--split", choices=("train", "val", "test"), default="test")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=TrainConfig().eval_top_p, help="nucleus mass (default: 0.95)")
    p.add_argument("--n-samples", type=int, default=1)
    p.add_argument("--unmatched", choices=("drop", "nearest"), default="drop")
    p.add_argument("--few-shot", type=int, default=0, help="also measure k-shot prompting (0 = skip)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("table", help="precompute the M^L transition table (resumable)")
    _add_level(p)
    p.add_argument("--model", required=True, help="model folder or 'smollm2'")
    p.add_argument("--context-length", type=int, default=2)
    p.add_argument("--n-samples", type=int, default=1)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--batch-size", type=int, default=4096)
    p.add_argument("--chunk-size", type=int, default=32768, help="histories per chunk file (resume unit)")
    p.add_argument("--no-resume", action="store_true", help="discard finished chunks and start over")
    p.add_argument("--allow-history", action="store_true", help="allow answers already in the history")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("runs/llm/table"), help="table folder")
    p.set_defaults(func=cmd_table)
    return parser


def main(argv: list[str] | None = None, prog: str = "python -m llm") -> int:
    args = build_parser(prog).parse_args(argv)
    try:
        args.func(args)
    except NoveltyGymError as err:  # typed errors already say what to do: no traceback
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
