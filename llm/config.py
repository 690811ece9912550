"""Typed settings of the language layer, validated when built (STYLE.md #10).

One dataclass per job: :class:`ModelConfig` (shape of the embedded model), :class:`DataConfig`
(fine-tuning data), :class:`TrainConfig` (pretraining + fine-tuning loop),
:class:`GenerationConfig` (sampling and constraints), grouped by :class:`LLMConfig`. Field
comments are the documentation; the CLI's ``--help`` reads them from ``FIELD_HELP``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Literal

from envs.typed import check_fields, renamed_field_error
from llm.errors import ConfigError

UnmatchedPolicy = Literal["drop", "nearest"]


def _positive(owner: object, *names: str) -> None:
    for name in names:
        value = getattr(owner, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ConfigError(f"{type(owner).__name__}.{name} must be a positive integer, got {value!r}")


def _optional_positive(owner: object, *names: str) -> None:
    for name in names:
        if getattr(owner, name) is not None:
            _positive(owner, name)


@dataclass(frozen=True)
class ModelConfig:
    """Shape of the embedded GPT-2: small enough to train and serve on 2 CPU cores in minutes."""

    n_embd: int = 128  # width; 128 learns a 1,000-cluster transition rule in minutes on a CPU
    n_layer: int = 2  # two layers are enough to attend from the answer back to both history slots
    n_head: int = 4
    n_positions: int = 128  # must fit the longest prompt plus its answer; 128 leaves room for few-shot

    def __post_init__(self) -> None:
        check_fields(self, "ModelConfig")  # types first (as WorldConfig), then ranges
        _positive(self, "n_embd", "n_layer", "n_head", "n_positions")
        if self.n_embd % self.n_head:
            raise ConfigError(f"n_embd={self.n_embd} must be a multiple of n_head={self.n_head}")


@dataclass(frozen=True)
class DataConfig:
    """How logged interactions become (history, next cluster) examples (paper §3.2)."""

    context_length: int = 2  # L, the number of past clusters in the prompt (the paper uses 2)
    cap_per_target: int | None = 200  # at most this many examples per target cluster; None = no cap
    cap_per_history: int | None = 20  # at most this many examples per history; None = no cap
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)  # train/val/test shares of the histories
    first_time_only: bool = False  # keep only targets the user engages for the first time in the logs
    min_returns: int = 0  # keep only targets the user engages positively again at least this many times

    def __post_init__(self) -> None:
        check_fields(self, "DataConfig")  # types first (as WorldConfig), then ranges
        _positive(self, "context_length")
        _optional_positive(self, "cap_per_target", "cap_per_history")
        if self.min_returns < 0:
            raise ConfigError(f"DataConfig.min_returns must be an integer >= 0, got {self.min_returns!r}")
        if len(self.split) != 3 or any(s < 0 for s in self.split) or abs(sum(self.split) - 1.0) > 1e-6:
            raise ConfigError(
                f"split must be three non-negative shares (train, val, test) summing to 1, got {self.split!r}"
            )
        if self.split[0] <= 0:
            raise ConfigError(
                f"split gives no histories to training: {self.split!r}; make the first share > 0"
            )


@dataclass(frozen=True)
class TrainConfig:
    """Pretraining on corpus text, then supervised fine-tuning on the transition prompts."""

    pretrain_steps: int = 300  # next-word steps on item titles and descriptions (learns the words)
    sft_steps: int = 2000  # fine-tuning steps on prompts; loss on the answer tokens only
    batch_size: int = 128
    lr: float = 3e-3  # AdamW peak learning rate; tiny models tolerate (and need) a large one
    weight_decay: float = 0.01
    warmup_steps: int = 50
    eval_every: int = 200  # steps between free exact-match measurements (the training curve)
    eval_histories: int = 256  # validation histories sampled for each measurement
    eval_temperature: float = 1.0  # sampling temperature of the curve's free generation
    # Nucleus mass of that sampling. Pure T=1 sampling mixes words of two likely descriptions a few
    # percent of the time ("hiking fiction"); the 5 % tail is where those mixtures live.
    eval_top_p: float | None = 0.95
    time_budget_s: float | None = None  # stop fine-tuning after this many seconds (None = no limit)
    # Early stopping on the held-out hit rate (greedy answers of validation histories, which
    # training never saw, against their logged targets), measured every eval_every steps: stop
    # after this many measurements without a new best and keep the best weights. A small model
    # memorises its few thousand examples long before sft_steps; 0 trains every step.
    patience: int = 3
    num_threads: int = 2  # torch threads; the project's machines have 2 cores
    # The paper's baseline (§4): the model before fine-tuning, prompted with this many training
    # examples, free exact match on the test histories (lowered to what fits its positions;
    # 0 skips the measurement).
    few_shot_examples: int = 5
    # World knowledge in the pretraining text (llm.knowledge): the share of (A leads to B) pairs
    # that are true of the world's semantic journeys; 0 = as many pairs, all random (no
    # knowledge); None = none (the text before issue 12, part 3). The shipped configs of the
    # default world (quickstart, default, paper, predictability) set 1.0, with 1,500 pretraining
    # steps to read it; it needs a world whose journeys follow words (journey_semantic_share).
    knowledge_fidelity: float | None = None
    # How the pairs are written: "prompt" = in the prompt template the model is asked in, each
    # pair in knowledge_contexts random histories (a model this small does not carry prose over to
    # the prompt's form); "sentence" = "<A> leads to <B>" once per pair.
    knowledge_form: str = "prompt"
    knowledge_contexts: int = 16
    # Share of every fine-tuning batch drawn from the knowledge (prompt form) instead of the logs.
    # Fine-tuning on logs alone overwrites what pretraining put in (a model pretrained to name a
    # stated neighbour for half of random histories does so for an eighth after fine-tuning);
    # replaying it keeps it. 0 = logs only; no effect without a knowledge_fidelity. Richer logs
    # want less: the default world's configs set 0.1 (README "The default since 2026-12-03").
    knowledge_replay: float = 0.3
    # Share of every fine-tuning batch drawn from the training examples' single (history cluster,
    # target) pairs, each in knowledge_contexts random histories (llm.data.in_random_contexts): the
    # count selector's assumption that one cluster of the history carries the journey, given to
    # the model as data. Thin logs show most two-cluster histories never, and a model that learns
    # each history on its own cannot use the evidence its clusters carry elsewhere. 0 = off, the
    # default: with thin logs 0.3 lifted a model without knowledge text from 9.8 to 13.8 % top-1,
    # with the quickstart's rich logs at 1,500 steps it cost 3 points; the default world's configs
    # set 0.2 with 3,000 steps and replay 0.1 (README, "Meaning in the words").
    log_pairs_share: float = 0.0

    @property
    def eval_generation(self) -> GenerationConfig:
        """The free-generation settings of the curve and of the held-out evaluation."""
        return GenerationConfig(temperature=self.eval_temperature, top_p=self.eval_top_p)

    def __post_init__(self) -> None:
        check_fields(self, "TrainConfig")  # types first (as WorldConfig), then ranges
        _positive(self, "batch_size", "eval_every", "eval_histories", "num_threads")
        for name in ("pretrain_steps", "sft_steps", "warmup_steps", "few_shot_examples", "patience"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ConfigError(f"TrainConfig.{name} must be a non-negative integer, got {value!r}")
        if not self.lr > 0:
            raise ConfigError(f"TrainConfig.lr must be > 0, got {self.lr!r}")
        if self.eval_temperature < 0:
            raise ConfigError(f"TrainConfig.eval_temperature must be >= 0, got {self.eval_temperature!r}")
        if self.eval_top_p is not None and not 0 < self.eval_top_p <= 1:
            raise ConfigError(f"TrainConfig.eval_top_p must be in (0, 1] or None, got {self.eval_top_p!r}")
        if self.knowledge_fidelity is not None and not 0.0 <= self.knowledge_fidelity <= 1.0:
            raise ConfigError(
                f"TrainConfig.knowledge_fidelity must be in [0, 1] or None, got {self.knowledge_fidelity!r}"
            )
        if self.knowledge_form not in ("prompt", "sentence"):
            raise ConfigError(
                f"TrainConfig.knowledge_form must be 'prompt' or 'sentence', got {self.knowledge_form!r}"
            )
        if not isinstance(self.knowledge_contexts, int) or self.knowledge_contexts < 1:
            raise ConfigError(
                f"TrainConfig.knowledge_contexts must be a positive integer, got {self.knowledge_contexts!r}"
            )
        if not 0.0 <= self.knowledge_replay < 1.0:
            raise ConfigError(f"TrainConfig.knowledge_replay must be in [0, 1), got {self.knowledge_replay!r}")
        replay = self.knowledge_replay if self.knowledge_fidelity is not None else 0.0
        if not 0.0 <= self.log_pairs_share < 1.0 - replay:
            raise ConfigError(
                f"TrainConfig.log_pairs_share={self.log_pairs_share!r} must be in [0, 1) and leave the logged "
                f"examples a share of every batch (knowledge_replay + log_pairs_share < 1 with knowledge, "
                f"knowledge_replay={self.knowledge_replay!r})"
            )
        if self.time_budget_s is not None and self.time_budget_s <= 0:
            raise ConfigError(f"TrainConfig.time_budget_s must be > 0 or None, got {self.time_budget_s!r}")


@dataclass(frozen=True)
class GenerationConfig:
    """Sampling settings shared by free and constrained generation."""

    temperature: float = 1.0  # 0 = greedy
    top_k: int | None = None  # keep the k most likely tokens (free generation only)
    top_p: float | None = None  # nucleus sampling mass (free generation only)
    n_samples: int = 1  # answers per history
    exclude_history: bool = True  # constrained: never answer a cluster already in the history
    unmatched: UnmatchedPolicy = "drop"  # free outputs that match no description: drop or map to nearest
    batch_size: int = 1024  # prompts per forward pass

    def __post_init__(self) -> None:
        check_fields(self, "GenerationConfig")  # types first (as WorldConfig), then ranges
        _positive(self, "n_samples", "batch_size")
        _optional_positive(self, "top_k")
        if self.temperature < 0:
            raise ConfigError(f"temperature must be >= 0 (0 = greedy), got {self.temperature!r}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p!r}")
        if self.unmatched not in ("drop", "nearest"):
            raise ConfigError(f"unmatched must be 'drop' or 'nearest', got {self.unmatched!r}")


@dataclass(frozen=True)
class LLMConfig:
    """Everything :func:`llm.pipeline.train_default_model` needs besides the world and logs."""

    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)

    def __post_init__(self) -> None:
        check_fields(self, "LLMConfig")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, raw: dict) -> LLMConfig:
        """Inverse of :meth:`to_dict`; unknown keys are an error, not silently ignored."""
        parts = {
            "model": ModelConfig,
            "data": DataConfig,
            "train": TrainConfig,
            "generation": GenerationConfig,
        }
        unknown = set(raw) - set(parts)
        if unknown:
            raise ConfigError(f"unknown LLMConfig sections {sorted(unknown)}; expected {sorted(parts)}")
        built = {}
        for key, kind in parts.items():
            values = dict(raw.get(key, {}))
            names = {f.name for f in dataclasses.fields(kind)}
            bad = set(values) - names
            for name in sorted(bad):
                error = renamed_field_error(kind.__name__, name, f"LLMConfig {key}")
                if error is not None:
                    raise error
            if bad:
                raise ConfigError(
                    f"unknown {kind.__name__} fields {sorted(bad)}; expected some of {sorted(names)}"
                )
            if "split" in values:
                values["split"] = tuple(values["split"])
            built[key] = kind(**values)
        return cls(**built)
