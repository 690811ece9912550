"""The trie constraint as a transformers ``LogitsProcessor``, for stock ``model.generate``.

This is the reference the hand-written decoder (:mod:`llm.decoding`) is measured against, and
the way to constrain any ``generate`` call (beam search included) to valid descriptions.
transformers 5 fetches Hub code for ``constraints`` / ``force_words_ids``, which fails offline
(issue 3, pitfalls); a custom processor does not.
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import LogitsProcessor

from llm.config import GenerationConfig
from llm.decoding import prompt_batches
from llm.generation import ClusterLM, torch_generator
from llm.trie import NO_STATE, ROOT, DescriptionTrie


class TrieLogitsProcessor(LogitsProcessor):
    """Allow only tokens that continue a valid answer; once an answer is complete, only ``eos``.

    The trie state of each row is advanced by the last token of ``input_ids`` on every call,
    so the processor costs one gather per step whatever the vocabulary size.
    """

    def __init__(
        self,
        trie: DescriptionTrie,
        prompt_length: int,
        eos_token_id: int,
        exclude: torch.Tensor | None = None,
    ) -> None:
        self.trie = trie
        self.prompt_length = prompt_length
        self.eos_token_id = eos_token_id
        self.exclude = exclude
        self.states: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if input_ids.shape[1] == self.prompt_length or self.states is None:
            self.states = torch.full((input_ids.shape[0],), ROOT, dtype=torch.long)
        else:
            self.states = self.trie.advance(self.states, input_ids[:, -1].cpu())
        states = self.states.clamp(min=0)
        tokens, _, allowed = self.trie.candidates(states, self.exclude)
        tokens, allowed = tokens.to(scores.device), allowed.to(scores.device)
        masked = torch.full_like(scores, float("-inf"))
        values = scores.gather(1, tokens).masked_fill(~allowed, float("-inf"))
        # amax: padded candidate slots (token 0, -inf) must not overwrite a real token 0.
        masked.scatter_reduce_(1, tokens, values, reduce="amax", include_self=True)
        finished = ((self.trie.leaf_cluster[states] >= 0) | (self.states == NO_STATE)).to(scores.device)
        if finished.any():
            masked[finished] = float("-inf")
            masked[finished, self.eos_token_id] = 0.0
        return masked  # type: ignore[return-value]  # a float tensor, as the processor API expects


def clusters_of(trie: DescriptionTrie, generated: torch.Tensor) -> np.ndarray:
    """Cluster named by each row of generated ids (B, T); -1 if no complete answer."""
    states = torch.full((generated.shape[0],), ROOT, dtype=torch.long)
    cluster = torch.full((generated.shape[0],), -1, dtype=torch.long)
    for t in range(generated.shape[1]):
        open_rows = cluster < 0
        states = torch.where(open_rows, trie.advance(states, generated[:, t]), states)
        leaf = trie.leaf_cluster[states.clamp(min=0)]
        cluster = torch.where(open_rows & (states >= 0) & (leaf >= 0), leaf, cluster)
    return cluster.numpy()


@torch.inference_mode()
def generate_constrained(
    lm: ClusterLM, histories: np.ndarray, config: GenerationConfig | None = None, seed: int = 0
) -> np.ndarray:
    """(N,) clusters from stock ``model.generate`` with :class:`TrieLogitsProcessor`.

    Prompts are batched by length like the hand-written decoder (no padding), so the two differ
    only in the decoding loop itself.
    """
    config = config or GenerationConfig()
    from transformers import LogitsProcessorList

    histories = np.asarray(histories, dtype=np.int64)
    rows = lm.rows(histories)
    out = np.full(len(histories), -1, dtype=np.int64)
    torch.manual_seed(
        int(torch_generator(seed).initial_seed() % 2**31)
    )  # generate samples from the global RNG
    eos = lm.tokenizer.eos_token_id
    for batch in prompt_batches(rows, config.batch_size):
        ids = torch.tensor([rows[i][0] + rows[i][1] for i in batch], dtype=torch.long, device=lm.device)
        exclude = torch.from_numpy(histories[batch]) if config.exclude_history else None
        processor = TrieLogitsProcessor(lm.trie, ids.shape[1], eos, exclude)
        sample = config.temperature > 0
        generated = lm.model.generate(
            ids,
            attention_mask=torch.ones_like(ids),
            logits_processor=LogitsProcessorList([processor]),
            max_new_tokens=lm.trie.max_depth + 1,
            do_sample=sample,
            temperature=config.temperature if sample else None,
            top_k=None,
            top_p=None,
            pad_token_id=lm.tokenizer.pad_token_id if lm.tokenizer.pad_token_id is not None else eos,
            eos_token_id=eos,
        )
        out[batch] = clusters_of(lm.trie, generated[:, ids.shape[1] :].cpu())
    return out
