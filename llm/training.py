"""Plain torch training loops: next-word pretraining on corpus text, then fine-tuning.

Kept thin on purpose (STYLE.md, "avoid god trainers"): examples are lists of token ids with the
position where the loss starts; :func:`pad_examples` turns them into tensors once;
:func:`train_lm` samples batches with a seeded generator and runs AdamW with linear warmup and
cosine decay, calling an optional evaluation hook every ``eval_every`` steps (which is how the
exact-match-vs-steps curve is recorded).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from tqdm.auto import tqdm

from llm import prompts
from llm.data import Transitions
from llm.errors import ConfigError
from llm.tokenization import PromptEncoder

Example = tuple[list[int], int]  # (token ids, index of the first token that carries loss)
IGNORE = -100  # label value torch's cross-entropy skips


def text_examples(encoder: PromptEncoder, texts: Iterable[str], max_length: int) -> list[Example]:
    """Pretraining examples: each text plus the end mark, loss on every token."""
    out = []
    for text in texts:
        ids = encoder.encode(text + prompts.END_MARK)[:max_length]
        if len(ids) > 1:
            out.append((ids, 0))
    return out


def transition_examples(encoder: PromptEncoder, data: Transitions) -> list[Example]:
    """Fine-tuning examples: prompt + answer, loss on the answer only."""
    return [
        encoder.example_ids(h, t) for h, t in zip(data.histories.tolist(), data.targets.tolist(), strict=True)
    ]


def pad_examples(examples: Sequence[Example], pad_id: int, max_positions: int) -> tuple[torch.Tensor, ...]:
    """(input_ids, attention_mask, labels), each (E, T), right-padded to the longest example."""
    longest = max(len(ids) for ids, _ in examples)
    if longest > max_positions:
        raise ConfigError(
            f"an example has {longest} tokens but the model has n_positions={max_positions}; "
            "raise ModelConfig.n_positions (prompt plus answer must fit)"
        )
    ids = torch.full((len(examples), longest), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), longest), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), longest), dtype=torch.long)
    for i, (seq, start) in enumerate(examples):
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
        labels[i, start : len(seq)] = torch.tensor(seq[start:])
    return ids, mask, labels


@dataclass(frozen=True)
class LoopSettings:
    steps: int
    batch_size: int
    lr: float
    weight_decay: float = 0.01
    warmup_steps: int = 50
    eval_every: int = 0  # 0 = never call the hook
    time_budget_s: float | None = None


@dataclass
class EarlyStopping:
    """Model selection during training: ``score(step)`` (higher is better, e.g. the held-out hit
    rate) at every evaluation; training stops after ``patience`` evaluations without a new best,
    and the best weights are restored at the end. ``trace`` and ``best_step`` record what happened."""

    score: Callable[[int], float]
    patience: int
    trace: list[tuple[int, float]] = field(default_factory=list)
    best_step: int = -1
    best_score: float = float("-inf")
    _best_state: dict[str, Any] | None = field(default=None, repr=False)

    def record(self, step: int, model: Any) -> bool:
        """Score the model at ``step``; True when training should stop."""
        value = float(self.score(step))
        self.trace.append((step, value))
        if value > self.best_score:
            self.best_step, self.best_score = step, value
            self._best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return len(self.trace) - 1 - [s for s, _ in self.trace].index(self.best_step) >= self.patience

    def restore(self, model: Any) -> None:
        if self._best_state is not None:
            model.load_state_dict(self._best_state)


def _lr_factor(step: int, settings: LoopSettings) -> float:
    if step < settings.warmup_steps:
        return (step + 1) / settings.warmup_steps
    progress = (step - settings.warmup_steps) / max(1, settings.steps - settings.warmup_steps)
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))  # floor at 10 % of peak


def train_lm(
    model,
    examples: Sequence[Example],
    pad_id: int,
    settings: LoopSettings,
    seed: int = 0,
    on_eval: Callable[[int], float] | None = None,
    progress: bool = False,
    desc: str = "train",
    early_stopping: EarlyStopping | None = None,
    weights: Sequence[float] | None = None,
) -> list[tuple[int, float]]:
    """Train ``model`` in place; return [(step, hook value)] (the hook also runs at step 0 and at the end).
    With ``early_stopping`` (evaluated at the same steps) training may stop early and ends with
    the best weights. ``weights`` (one per example) draws batches in proportion to them instead
    of uniformly (how fine-tuning mixes in a share of replayed knowledge).

    Deterministic for a given seed and thread count: batches come from a seeded generator and
    the model has no dropout.
    """
    if not examples:
        raise ConfigError(f"no examples to {desc} on; check the data (empty train split?)")
    ids, mask, labels = pad_examples(examples, pad_id, model.config.max_position_embeddings)
    gen = torch.Generator().manual_seed(seed)
    if weights is not None and len(weights) != len(examples):
        raise ConfigError(f"{len(weights)} weights for {len(examples)} examples; give one per example")
    p = None if weights is None else torch.as_tensor(weights, dtype=torch.float64)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: _lr_factor(s, settings))
    curve: list[tuple[int, float]] = []

    def evaluate(step: int) -> bool:
        """Run the hooks at ``step``; True when early stopping says stop."""
        if on_eval is not None:
            curve.append((step, float(on_eval(step))))
        stop = early_stopping.record(step, model) if early_stopping is not None else False
        model.train()
        return stop

    if settings.eval_every:
        evaluate(0)
    start = time.perf_counter()
    model.train()
    step = 0
    bar = tqdm(total=settings.steps, disable=not progress, desc=desc, unit="step")
    while step < settings.steps:
        if p is None:
            batch = torch.randint(len(examples), (settings.batch_size,), generator=gen)
        else:
            batch = torch.multinomial(p, settings.batch_size, replacement=True, generator=gen)
        width = int(mask[batch].sum(dim=1).max())  # trim columns that are padding for the whole batch
        out = model(
            input_ids=ids[batch, :width], attention_mask=mask[batch, :width], labels=labels[batch, :width]
        )
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{out.loss.item():.3f}", refresh=False)
        out_of_time = (
            settings.time_budget_s is not None and time.perf_counter() - start > settings.time_budget_s
        )
        stop = False
        if settings.eval_every and (step % settings.eval_every == 0 or step == settings.steps or out_of_time):
            stop = evaluate(step)
        if out_of_time or stop:
            break
    bar.close()
    if early_stopping is not None:
        early_stopping.restore(model)
    model.eval()
    return curve
