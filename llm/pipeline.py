"""One call from logs to a trained default model (for the experiments layer and the CLI).

``train_default_model(world, logs, config, out_dir, seed)`` builds the fine-tuning data,
the word-level tokenizer from the world's text, pretrains the small GPT-2 on that text,
fine-tunes it on the transitions while recording free exact-match against steps, and saves
everything into ``out_dir``:

    out_dir/model.safetensors, config.json, tokenizer files   (save_pretrained)
    out_dir/noveltygym.json    config, seed, level, curve, timings, held-out metrics
    out_dir/sft_data.npz       the split used (test histories are unseen in training)

``fine_tune_model(name_or_path, level, logs, out_dir)`` does the same fine-tuning for any
transformers causal LM (a saved folder, or "smollm2"), fully or with LoRA (extra ``lora``).
    out_dir/pretrained/        the pretrained-only model (``keep_pretrained=True``; few-shot baseline)
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from llm import prompts
from llm.config import GenerationConfig, LLMConfig, TrainConfig
from llm.data import SFTData, Transitions, build_sft_data, history_pairs, in_random_contexts
from llm.descriptions import DescriptionsLike, HasDescriptions, as_descriptions, descriptions_sha
from llm.errors import ConfigError, MissingExtraError
from llm.evaluation import evaluate, few_shot_examples, free_exact_match, greedy_hit_rate
from llm.generation import ClusterLM
from llm.knowledge import journey_statements, knowledge_transitions
from llm.models import build_default_model, load_model, save_model
from llm.tokenization import PromptEncoder, build_word_tokenizer
from llm.training import EarlyStopping, LoopSettings, text_examples, train_lm, transition_examples

SFT_DATA_FILE = "sft_data.npz"
HIT_RATE_HISTORIES = 2048  # validation histories early stopping scores (greedy answers are cheap)
PRETRAINED_DIR = "pretrained"
LOG_PAIRS_STREAM = 12  # second word of the log pairs' contexts seed ([seed, this]); any fixed number


@dataclass(frozen=True)
class TrainResult:
    """What training produced; usable as a path (``os.fspath(result)`` is the model folder)."""

    model_dir: Path
    curve: list[tuple[int, float]]  # (fine-tuning step, free exact-match on validation histories)
    pretrain_seconds: float
    sft_seconds: float
    data: SFTData
    test_metrics: dict[str, Any] = field(default_factory=dict)  # EvalReport of the test split

    def __fspath__(self) -> str:
        return str(self.model_dir)


def world_level(world: Any) -> HasDescriptions:
    """The ClusterLevel the world reports (``world.level`` may be the level or its name)."""
    level = world.level
    return level if isinstance(level, HasDescriptions) else world.clusters.level(level)


def world_texts(world: Any, config: LLMConfig | None = None, seed: int = 0) -> list[str]:
    """Corpus text to pretrain on and build the vocabulary from: item titles + every level's
    descriptions, + the world's journey knowledge as ``config.train`` asks (``llm.knowledge``;
    none when its ``knowledge_fidelity`` is None)."""
    tc = (config or LLMConfig()).train
    texts = list(world.corpus.titles)
    for name in getattr(world.clusters, "levels", ()):
        texts += list(world.clusters.level(name).descriptions)
    texts += list(world_level(world).descriptions)
    if tc.knowledge_fidelity is not None:
        context_length = (config or LLMConfig()).data.context_length
        texts += journey_statements(world, tc.knowledge_fidelity, seed, tc.knowledge_form,  # type: ignore[arg-type]
                                    tc.knowledge_contexts, context_length)
    return texts


def _sft_data(logs, descriptions: Sequence[str], config: LLMConfig, seed: int, verbose: bool) -> SFTData:
    dc = config.data
    return build_sft_data(logs, descriptions, dc.context_length, dc.cap_per_target, dc.cap_per_history,
                          seed=seed, split=dc.split, verbose=verbose, first_time_only=dc.first_time_only,
                          min_returns=dc.min_returns)


def fine_tune(
    model,
    tokenizer,
    descriptions: Sequence[str],
    data: SFTData,
    config: TrainConfig,
    seed: int = 0,
    progress: bool = False,
    knowledge: Transitions | None = None,
) -> tuple[ClusterLM, list[tuple[int, float]], float, dict[str, Any]]:
    """Fine-tune ``model`` on ``data.train`` in place; return (lm, exact-match curve, seconds,
    model selection).

    With ``knowledge`` (world knowledge as examples, ``llm.knowledge.knowledge_transitions``),
    a share ``config.knowledge_replay`` of every batch replays it so that fine-tuning does not
    overwrite it; a share ``config.log_pairs_share`` comes from the training examples' single
    (history cluster, target) pairs in random histories.

    The curve is free exact-match on a fixed sample of validation histories every
    ``config.eval_every`` steps; the seconds exclude those measurements. With
    ``config.patience``, the validation split's greedy hit rate is measured at the same steps and
    training keeps the best weights (``llm.training.EarlyStopping``); the selection dict holds
    its ``hit_rate_curve`` and ``best_step`` (empty without early stopping or a validation split).
    """
    lm = ClusterLM(model, tokenizer, descriptions, num_threads=None)
    val = data.val if len(data.val) else data.train
    probe = val.unique_histories()
    probe = probe[np.random.default_rng(seed).choice(len(probe), size=min(config.eval_histories, len(probe)),
                                                     replace=False)]
    eval_seconds = 0.0

    def curve_point(step: int) -> float:
        nonlocal eval_seconds
        t = time.perf_counter()
        value = free_exact_match(lm, probe, config.eval_generation, seed=(seed, step))
        eval_seconds += time.perf_counter() - t
        return value

    def held_out_hit_rate(step: int) -> float:
        nonlocal eval_seconds
        t = time.perf_counter()
        value = greedy_hit_rate(lm, data.val, max_histories=HIT_RATE_HISTORIES, seed=seed)
        eval_seconds += time.perf_counter() - t
        return value

    stopping = EarlyStopping(held_out_hit_rate, config.patience) if config.patience and len(data.val) else None
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    settings = LoopSettings(config.sft_steps, config.batch_size, config.lr, config.weight_decay,
                            config.warmup_steps, config.eval_every, config.time_budget_s)
    extra: list[tuple[list, float]] = []  # (examples, share of every batch) besides the logs
    if knowledge is not None and config.knowledge_replay:
        extra.append((transition_examples(lm.encoder, knowledge), config.knowledge_replay))
    if config.log_pairs_share:
        pairs = in_random_contexts(history_pairs(data.train), lm.n_clusters, config.knowledge_contexts,
                                   data.context_length, np.random.default_rng([seed, LOG_PAIRS_STREAM]))
        extra.append((transition_examples(lm.encoder, pairs), config.log_pairs_share))
    examples, weights = _mixture(transition_examples(lm.encoder, data.train), extra)
    t0 = time.perf_counter()
    curve = train_lm(model, examples, pad, settings, seed=seed, on_eval=curve_point, progress=progress,
                     desc="fine-tune", early_stopping=stopping, weights=weights)
    selection = {} if stopping is None else {"hit_rate_curve": stopping.trace, "best_step": stopping.best_step}
    return lm, curve, time.perf_counter() - t0 - eval_seconds, selection


def _mixture(logged: list, extra: list[tuple[list, float]]) -> tuple[list, list[float] | None]:
    """The example lists joined, and per-example weights giving each extra list its share of the
    draws and the logged examples the rest; None weights (uniform draws) without extras."""
    if not extra:
        return logged, None
    examples, weights = list(logged), [(1.0 - sum(share for _, share in extra)) / len(logged)] * len(logged)
    for items, share in extra:
        examples += items
        weights += [share / len(items)] * len(items)
    return examples, weights


def _finish(lm: ClusterLM, data: SFTData, config: LLMConfig, out_dir: str | Path, seed: int,
            curve: list[tuple[int, float]], pretrain_seconds: float, sft_seconds: float,
            metadata: dict[str, Any], verbose: bool) -> TrainResult:
    """Evaluate on the test split, save model + metadata + data, and build the result."""
    test = data.test if len(data.test) else (data.val if len(data.val) else data.train)
    report = evaluate(lm, test, config.train.eval_generation, seed=seed)
    out = Path(out_dir)
    save_model(lm.model, lm.tokenizer, out, metadata={
        **metadata,
        "seed": seed,
        "config": config.to_dict(),
        "n_clusters": lm.n_clusters,
        "context_length": data.context_length,
        "descriptions_sha": descriptions_sha(lm.descriptions),
        "curve": curve,
        "pretrain_seconds": pretrain_seconds,
        "sft_seconds": sft_seconds,
        "test_metrics": report.to_dict(),
    })
    data.save(out / SFT_DATA_FILE)
    if verbose:
        print(f"pretrain {pretrain_seconds:.1f}s, fine-tune {sft_seconds:.1f}s; held-out:\n{report.summary()}")
    return TrainResult(out, curve, pretrain_seconds, sft_seconds, data, report.to_dict())


def train_model(
    level: DescriptionsLike,
    logs: pd.DataFrame | str | Path,
    texts: Sequence[str],
    out_dir: str | Path,
    config: LLMConfig | None = None,
    seed: int = 0,
    progress: bool = False,
    verbose: bool = False,
    keep_pretrained: bool = False,
    knowledge: Transitions | None = None,
) -> TrainResult:
    """Train the embedded default model from ``level``, ``logs`` and pretraining ``texts``.

    ``keep_pretrained`` also saves the merely pretrained model in ``out_dir/pretrained``: the
    few-shot baseline the paper compares fine-tuning against. ``knowledge`` is replayed during
    fine-tuning (see :func:`fine_tune`).
    """
    config = config or LLMConfig()
    torch.set_num_threads(config.train.num_threads)
    descriptions = as_descriptions(level)
    tc = config.train
    data = _sft_data(logs, descriptions, config, seed, verbose)
    tokenizer = build_word_tokenizer([*texts, *descriptions])
    model = build_default_model(tokenizer, config.model, seed)
    encoder = PromptEncoder(tokenizer, descriptions)

    t0 = time.perf_counter()
    pre = text_examples(encoder, [*texts, *descriptions], config.model.n_positions)
    train_lm(model, pre, tokenizer.pad_token_id,
             LoopSettings(tc.pretrain_steps, tc.batch_size, tc.lr, tc.weight_decay, tc.warmup_steps),
             seed=seed, progress=progress, desc="pretrain")
    pretrain_seconds = time.perf_counter() - t0
    if keep_pretrained:
        save_model(model, tokenizer, Path(out_dir) / PRETRAINED_DIR, metadata={"kind": "pretrained", "seed": seed})
    few_shot = _few_shot_metrics(model, tokenizer, descriptions, data, config, seed)

    lm, curve, sft_seconds, selection = fine_tune(model, tokenizer, descriptions, data, tc, seed, progress, knowledge)
    return _finish(lm, data, config, out_dir, seed, curve, pretrain_seconds, sft_seconds,
                   {"kind": "default", **few_shot, **selection}, verbose)


def _few_shot_metrics(model, tokenizer, descriptions: Sequence[str], data: SFTData, config: LLMConfig,
                      seed: int) -> dict[str, Any]:
    """The paper's baseline before fine-tuning: ``few_shot_exact_match`` of the model prompted
    with ``few_shot_k`` training examples (``few_shot_baseline``); empty when switched off.
    Generation draws from its own seeded generator, so fine-tuning afterwards is unchanged."""
    k = config.train.few_shot_examples
    if not k:
        return {}
    lm = ClusterLM(model, tokenizer, descriptions, num_threads=None)
    fit = few_shot_fit(lm, k, data.context_length)
    return {"few_shot_k": fit,
            "few_shot_exact_match": few_shot_baseline(lm, data, fit, config.train.eval_generation, seed)}


def fine_tune_model(
    name_or_path: str | Path,
    level: DescriptionsLike,
    logs: pd.DataFrame | str | Path,
    out_dir: str | Path,
    config: LLMConfig | None = None,
    seed: int = 0,
    lora_rank: int | None = None,
    progress: bool = False,
    verbose: bool = False,
) -> TrainResult:
    """Fine-tune any transformers causal LM (a saved folder or "smollm2") on the same data and prompts.

    ``lora_rank`` trains LoRA adapters (extra ``lora``: peft) and merges them into the saved
    weights; ``None`` fine-tunes every weight. ``config.model`` is ignored (the model exists).
    """
    config = config or LLMConfig()
    torch.set_num_threads(config.train.num_threads)
    descriptions = as_descriptions(level)
    data = _sft_data(logs, descriptions, config, seed, verbose)
    model, tokenizer = load_model(name_or_path)
    few_shot = _few_shot_metrics(model, tokenizer, descriptions, data, config, seed)
    torch.manual_seed(seed)
    trainable = apply_lora(model, lora_rank) if lora_rank is not None else model
    lm, curve, sft_seconds, selection = fine_tune(trainable, tokenizer, descriptions, data, config.train, seed,
                                                  progress)
    if lora_rank is not None:
        lm = ClusterLM(trainable.merge_and_unload(), tokenizer, descriptions, num_threads=None)
    return _finish(lm, data, config, out_dir, seed, curve, 0.0, sft_seconds,
                   {"kind": "fine-tuned", "base": str(name_or_path), "lora_rank": lora_rank, **few_shot, **selection},
                   verbose)


def apply_lora(model, rank: int, alpha: int | None = None):
    """Wrap ``model`` with LoRA adapters on every linear layer (peft, extra ``lora``)."""
    try:
        import peft
    except ImportError as err:
        raise MissingExtraError("peft", "lora", "LoRA fine-tuning") from err
    if not isinstance(rank, int) or rank < 1:
        raise ConfigError(f"lora_rank must be a positive integer, got {rank!r}")
    lora = peft.LoraConfig(r=rank, lora_alpha=alpha or 2 * rank, target_modules="all-linear",
                           lora_dropout=0.0, task_type="CAUSAL_LM")
    return peft.get_peft_model(model, lora)


def train_default_model(
    world: Any,
    logs: pd.DataFrame | str | Path,
    config: LLMConfig | None = None,
    out_dir: str | Path = "runs/llm/default",
    seed: int = 0,
    progress: bool = False,
    verbose: bool = False,
    keep_pretrained: bool = False,
) -> TrainResult:
    """Train the embedded default model on ``world``'s text and ``logs`` at ``world.level``
    (with the world's journey knowledge as ``config.train`` asks)."""
    return train_model(world_level(world), logs, world_texts(world, config, seed), out_dir, config, seed, progress,
                       verbose, keep_pretrained, replayed_knowledge(world, config, seed))


def replayed_knowledge(world: Any, config: LLMConfig | None = None, seed: int = 0) -> Transitions | None:
    """The world's journey knowledge as fine-tuning examples when ``config.train`` asks for
    knowledge and replays it (``knowledge_fidelity`` set, ``knowledge_replay`` > 0), else None."""
    config = config or LLMConfig()
    tc = config.train
    if tc.knowledge_fidelity is None or not tc.knowledge_replay:
        return None
    return knowledge_transitions(world, tc.knowledge_fidelity, seed, tc.knowledge_contexts,
                                 config.data.context_length)


def few_shot_baseline(
    lm: ClusterLM,
    data: SFTData,
    k: int = 5,
    config: GenerationConfig | float = 1.0,
    seed: int = 0,
    max_histories: int | None = 512,
) -> float:
    """Free exact-match of ``lm`` prompted with k training examples on test histories (paper §4).

    k is lowered to the number of examples that fit the model's positions (a small model's
    context is short); :func:`few_shot_fit` says how many.
    """
    test = data.test if len(data.test) else data.val
    histories = test.unique_histories()
    if max_histories is not None and len(histories) > max_histories:
        pick = np.random.default_rng(seed).choice(len(histories), max_histories, replace=False)
        histories = histories[pick]
    shots = few_shot_examples(data.train, few_shot_fit(lm, k, data.context_length), seed)
    return free_exact_match(lm, histories, config, seed=seed, shots=shots)


def few_shot_fit(lm: ClusterLM, k: int, context_length: int) -> int:
    """The largest k' <= k whose longest few-shot prompt plus answer fits ``lm``'s positions."""
    if lm.max_positions is None:
        return k
    answer = max(len(a) for a in lm.encoder.answers)
    prompt = max(len(lm.encoder.prompt_ids([c] * context_length)) for c in range(lm.n_clusters))
    separator = len(lm.encoder.encode(prompts.EXAMPLE_SEPARATOR))
    room = lm.max_positions - prompt - answer - 2  # the query, its answer and the free-run slack
    fit = min(k, max(0, room // (prompt + answer + separator)))
    if fit < 1 and k > 0:
        raise ConfigError(f"not even one few-shot example fits the model's {lm.max_positions} positions")
    return fit


__all__ = [
    "TrainResult",
    "apply_lora",
    "few_shot_baseline",
    "few_shot_fit",
    "fine_tune",
    "fine_tune_model",
    "replayed_knowledge",
    "train_default_model",
    "train_model",
    "world_level",
    "world_texts",
]
