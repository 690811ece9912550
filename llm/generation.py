"""A causal LM bound to one level's descriptions: free and trie-constrained generation.

:class:`ClusterLM` owns the pieces every caller needs together (tokenizer-specific prompt ids,
the trie over the answers, the stop tokens, the matcher) so evaluation, the table and the CLI
never rebuild them differently.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from llm import prompts
from llm.config import GenerationConfig
from llm.decoding import (
    PromptRow,
    free_decode,
    prompt_batches,
    repeat_rows,
    run_prompts,
    trie_decode,
    trie_scores,
)
from llm.descriptions import DescriptionsLike, as_descriptions
from llm.errors import ConfigError
from llm.histories import validate_histories
from llm.matching import DescriptionMatcher
from llm.models import load_model
from llm.tokenization import PromptEncoder
from llm.trie import DescriptionTrie


def torch_generator(seed: int | Sequence[int]) -> torch.Generator:
    """A CPU generator seeded from an int or a tuple of ints (e.g. (seed, chunk))."""
    entropy = [seed] if isinstance(seed, int) else list(seed)
    state = np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint64)
    return torch.Generator().manual_seed(int(state[0] >> np.uint64(1)))


@dataclass(frozen=True)
class FreeOutput:
    """Free generation results, (N, n) arrays for N histories and n samples each."""

    texts: np.ndarray  # (N, n) object: parsed answer texts
    clusters: np.ndarray  # (N, n) int64: cluster after the unmatched policy, -1 = dropped
    exact: np.ndarray  # (N, n) bool: the text was exactly a description

    @property
    def exact_match_rate(self) -> float:
        return float(self.exact.mean()) if self.exact.size else 0.0

    @property
    def n_unmatched(self) -> int:
        return int((~self.exact).sum())


class ClusterLM:
    """``model`` + ``tokenizer`` answering cluster histories with descriptions of ``level``."""

    def __init__(self, model, tokenizer, level: DescriptionsLike, num_threads: int | None = 2) -> None:
        if num_threads is not None:
            torch.set_num_threads(num_threads)
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.descriptions = as_descriptions(level)
        self.encoder = PromptEncoder(tokenizer, self.descriptions)
        self.trie = DescriptionTrie.from_sequences(self.encoder.answers, self.descriptions)
        self.matcher = DescriptionMatcher(self.descriptions)
        self.max_answer_tokens = max(len(a) for a in self.encoder.answers)
        self.stop = self._stop_tokens()
        self.banned = self._banned_tokens()

    @classmethod
    def load(
        cls, name_or_path: str | Path, level: DescriptionsLike, num_threads: int | None = 2
    ) -> ClusterLM:
        model, tokenizer = load_model(name_or_path)
        return cls(model, tokenizer, level, num_threads)

    @property
    def n_clusters(self) -> int:
        return len(self.descriptions)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def _stop_tokens(self) -> torch.Tensor:
        # Free generation stops after any token that contains the end mark or a newline (the
        # few-shot separator), or the model's end-of-sequence token.
        vocab = self.model.get_output_embeddings().weight.shape[0]
        pieces = self.tokenizer.batch_decode([[i] for i in range(min(vocab, len(self.tokenizer)))])
        end = prompts.END_MARK.strip()
        stop = torch.zeros(vocab, dtype=torch.bool)
        stop[: len(pieces)] = torch.tensor([end in p or "\n" in p for p in pieces])
        if self.tokenizer.eos_token_id is not None:
            stop[self.tokenizer.eos_token_id] = True
        return stop

    def _banned_tokens(self) -> torch.Tensor | None:
        pad, eos = self.tokenizer.pad_token_id, self.tokenizer.eos_token_id
        if pad is None or pad == eos:
            return None
        banned = torch.zeros_like(self.stop)
        banned[pad] = True
        return banned

    # ---- prompts -------------------------------------------------------------------------
    def rows(self, histories: np.ndarray, shots: Sequence[tuple[Sequence[int], int]] = ()) -> list[PromptRow]:
        """(prefix, suffix) ids per history; few-shot examples go into the shared prefix."""
        shot_ids = tuple(self.encoder.shots_ids(shots))
        prefix, suffix = self.encoder.prefix_ids, self.encoder.suffix_ids
        return [(shot_ids + prefix(tuple(h[:-1])), suffix(h[-1], len(h) > 1)) for h in histories.tolist()]

    @property
    def max_positions(self) -> int | None:
        cfg = self.model.config
        return getattr(cfg, "max_position_embeddings", None) or getattr(cfg, "n_positions", None)

    def _check_fits(self, rows: Sequence[PromptRow], new_tokens: int) -> None:
        if not rows:
            return
        longest = max(len(p) + len(s) for p, s in rows) + new_tokens
        if self.max_positions is not None and longest > self.max_positions:
            raise ConfigError(
                f"a prompt plus its answer needs {longest} positions but the model has "
                f"{self.max_positions}; use fewer few-shot examples or a model with more positions"
            )

    def _check(self, histories) -> np.ndarray:
        arr = validate_histories(histories, self.n_clusters)
        if arr.shape[1] == 0:
            raise ConfigError("histories need at least one cluster (L >= 1)")
        return arr

    # ---- generation ----------------------------------------------------------------------
    @torch.inference_mode()
    def constrained(
        self,
        histories,
        config: GenerationConfig | None = None,
        seed: int | Sequence[int] = 0,
        shots: Sequence[tuple[Sequence[int], int]] = (),
        progress: bool = False,
    ) -> np.ndarray:
        """(N, n) cluster ids from trie-constrained decoding; always valid clusters."""
        config = config or GenerationConfig()
        arr = self._check(histories)
        if config.exclude_history and self.n_clusters <= arr.shape[1]:
            raise ConfigError(
                f"exclude_history with L={arr.shape[1]} needs more than {arr.shape[1]} clusters, "
                f"the level has {self.n_clusters}; set exclude_history=False"
            )
        gen = torch_generator(seed)
        n = config.n_samples
        out = np.full((len(arr), n), -1, dtype=np.int64)
        rows = self.rows(arr, shots)
        self._check_fits(rows, self.trie.max_depth)
        for batch in tqdm(
            list(prompt_batches(rows, config.batch_size)),
            disable=not progress,
            desc="constrained",
            unit="batch",
        ):
            logits, cache = run_prompts(self.model, [rows[i] for i in batch], self.device)
            logits, cache = repeat_rows(logits, cache, n)
            exclude = None
            if config.exclude_history:
                exclude = torch.from_numpy(np.repeat(arr[batch], n, axis=0))
            chosen = trie_decode(self.model, self.trie, logits, cache, config.temperature, gen, exclude)
            out[batch] = chosen.view(len(batch), n).numpy()
        return out

    @torch.inference_mode()
    def score(
        self,
        histories,
        shots: Sequence[tuple[Sequence[int], int]] = (),
        max_rows: int = 8192,
        progress: bool = False,
    ) -> np.ndarray:
        """(N, M) float32 log-probability of every description's complete answer (end mark
        included) after each history's prompt: the model's ranking of all clusters, for top-k
        hit rates. Each prompt runs once; the answers then walk the trie together
        (:func:`llm.decoding.trie_scores`), ``max_rows`` (prompt, trie state) rows at most."""
        arr = self._check(histories)
        m = self.n_clusters
        rows = self.rows(arr, shots)
        self._check_fits(rows, self.trie.max_depth)
        out = np.empty((len(arr), m), dtype=np.float32)
        per_batch = max(1, max_rows // m)  # a trie level holds at most M states per prompt
        for batch in tqdm(list(prompt_batches(rows, per_batch)), disable=not progress, desc="score", unit="batch"):
            logits, cache = run_prompts(self.model, [rows[i] for i in batch], self.device)
            out[batch] = trie_scores(self.model, self.trie, logits, cache).numpy()
        return out

    @torch.inference_mode()
    def free(
        self,
        histories,
        config: GenerationConfig | None = None,
        seed: int | Sequence[int] = 0,
        shots: Sequence[tuple[Sequence[int], int]] = (),
        progress: bool = False,
        max_new_tokens: int | None = None,
    ) -> FreeOutput:
        """Unconstrained sampling, parsed with :func:`llm.prompts.parse_answer` and matched."""
        config = config or GenerationConfig()
        arr = self._check(histories)
        gen = torch_generator(seed)
        n = config.n_samples
        limit = max_new_tokens or self.max_answer_tokens + 2
        texts = np.empty((len(arr), n), dtype=object)
        rows = self.rows(arr, shots)
        self._check_fits(rows, limit)
        for batch in tqdm(
            list(prompt_batches(rows, config.batch_size)), disable=not progress, desc="free", unit="batch"
        ):
            logits, cache = run_prompts(self.model, [rows[i] for i in batch], self.device)
            logits, cache = repeat_rows(logits, cache, n)
            ids = free_decode(
                self.model,
                logits,
                cache,
                self.stop.to(logits.device),
                limit,
                config.temperature,
                gen,
                config.top_k,
                config.top_p,
                None if self.banned is None else self.banned.to(logits.device),
            )
            decoded = self.tokenizer.batch_decode(ids)
            texts[batch] = np.array([prompts.parse_answer(t) for t in decoded], dtype=object).reshape(
                len(batch), n
            )
        clusters, exact = self.matcher.match(texts.ravel().tolist(), config.unmatched)
        return FreeOutput(texts, clusters.reshape(texts.shape), exact.reshape(texts.shape))
