"""A token trie over the valid answers, stored as padded per-state child lists.

Each valid answer (``prompts.answer(description)`` encoded by the model's tokenizer) is a path
from the root; its last node is the answer's *leaf* and names the cluster. Because the answers
end with the end marker they are prefix-free, so a leaf has no children and a finished path is
exactly one cluster.

The layout is chosen for batched decoding: state ``s`` has up to ``K`` children, listed in
``child_tokens[s]`` / ``child_nodes[s]`` (padded, ``child_valid`` says which are real), so a batch
of states gathers its candidate tokens with one index op and never builds a dense
(states x vocabulary) table, which would not fit for a 49k-token vocabulary (issue 3, pitfalls).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from llm.errors import DataError

ROOT = 0
NO_STATE = -1  # a token sequence that left the trie (only stock `generate` can produce one)


@dataclass(frozen=True)
class DescriptionTrie:
    """Trie arrays; build with :meth:`from_sequences`. Shapes: S states, K max children, M leaves."""

    child_tokens: torch.Tensor  # (S, K) int64 token id of each child, 0 where padded
    child_nodes: torch.Tensor  # (S, K) int64 state id of each child, 0 where padded
    child_valid: torch.Tensor  # (S, K) bool
    leaf_cluster: torch.Tensor  # (S,) int64 cluster id of a leaf state, -1 elsewhere
    single_leaf: torch.Tensor  # (S,) int64 the cluster if the subtree has exactly one leaf, else -1
    n_leaves: torch.Tensor  # (S,) int64 leaves in the subtree
    tin: torch.Tensor  # (S,) int64 DFS entry time; subtree of s = states with tin in [tin, tout)
    tout: torch.Tensor  # (S,) int64
    leaf_tin: torch.Tensor  # (M,) int64 tin of each cluster's leaf
    max_depth: int  # longest answer in tokens

    @property
    def n_states(self) -> int:
        return int(self.child_tokens.shape[0])

    @property
    def n_clusters(self) -> int:
        return int(self.leaf_tin.shape[0])

    @classmethod
    def from_sequences(
        cls, sequences: Sequence[Sequence[int]], names: Sequence[str] | None = None
    ) -> DescriptionTrie:
        """Build the trie of ``sequences`` (cluster id = position in the list).

        Raises:
            DataError: an empty sequence, two equal sequences, or one that is a prefix of another
                (the names, when given, say which clusters).
        """
        label = (lambda i: repr(names[i])) if names is not None else (lambda i: f"cluster {i}")
        if not sequences:
            raise DataError("cannot build a trie over zero answers; pass at least one description")
        children: list[dict[int, int]] = [{}]
        leaf_of_state: dict[int, int] = {}
        for cluster, seq in enumerate(sequences):
            if len(seq) == 0:
                raise DataError(f"{label(cluster)} encodes to no tokens; it cannot be generated")
            state = ROOT
            for token in seq:
                if state in leaf_of_state:
                    raise DataError(
                        f"the answer of {label(leaf_of_state[state])} is a prefix of the answer of "
                        f"{label(cluster)}; answers must end with an end marker so that none is a "
                        "prefix of another"
                    )
                nxt = children[state].get(int(token))
                if nxt is None:
                    nxt = len(children)
                    children[state][int(token)] = nxt
                    children.append({})
                state = nxt
            if state in leaf_of_state:
                raise DataError(
                    f"{label(leaf_of_state[state])} and {label(cluster)} encode to the same tokens"
                )
            if children[state]:
                raise DataError(f"the answer of {label(cluster)} is a prefix of another answer")
            leaf_of_state[state] = cluster
        return cls._from_children(children, leaf_of_state, len(sequences), max(len(s) for s in sequences))

    @classmethod
    def _from_children(
        cls,
        children: list[dict[int, int]],
        leaf_of_state: dict[int, int],
        n_leaves_total: int,
        max_depth: int,
    ) -> DescriptionTrie:
        n_states = len(children)
        width = max(1, max(len(c) for c in children))
        tokens = np.zeros((n_states, width), dtype=np.int64)
        nodes = np.zeros((n_states, width), dtype=np.int64)
        valid = np.zeros((n_states, width), dtype=bool)
        for s, kids in enumerate(children):
            k = len(kids)
            tokens[s, :k] = list(kids.keys())
            nodes[s, :k] = list(kids.values())
            valid[s, :k] = True
        leaf_cluster = np.full(n_states, -1, dtype=np.int64)
        for s, c in leaf_of_state.items():
            leaf_cluster[s] = c
        # Iterative DFS (answers can be long for BPE tokenizers; no recursion limit issues).
        tin = np.zeros(n_states, dtype=np.int64)
        tout = np.zeros(n_states, dtype=np.int64)
        order: list[int] = []
        stack: list[tuple[int, bool]] = [(ROOT, False)]
        clock = 0
        while stack:
            s, done = stack.pop()
            if done:
                tout[s] = clock
                continue
            tin[s] = clock
            clock += 1
            order.append(s)
            stack.append((s, True))
            stack.extend((c, False) for c in reversed(list(children[s].values())))
        n_leaves = np.zeros(n_states, dtype=np.int64)
        single = np.full(n_states, -1, dtype=np.int64)
        for s in reversed(order):  # children before parents
            if leaf_cluster[s] >= 0:
                n_leaves[s], single[s] = 1, leaf_cluster[s]
            else:
                child_states = list(children[s].values())
                n_leaves[s] = sum(n_leaves[c] for c in child_states)
                single[s] = single[child_states[0]] if n_leaves[s] == 1 else -1
        leaf_tin = np.zeros(n_leaves_total, dtype=np.int64)
        for s, c in leaf_of_state.items():
            leaf_tin[c] = tin[s]
        t = torch.from_numpy
        return cls(
            t(tokens),
            t(nodes),
            t(valid),
            t(leaf_cluster),
            t(single),
            t(n_leaves),
            t(tin),
            t(tout),
            t(leaf_tin),
            max_depth,
        )

    def candidates(
        self, states: torch.Tensor, exclude: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        """Children of ``states`` (B,): tokens (B, K), next states (B, K), allowed (B, K).

        ``exclude`` (B, E) lists clusters each row may not end in (-1 = none); a child is then
        allowed only if some leaf under it is not excluded, so decoding can never dead-end.
        """
        tokens = self.child_tokens[states]
        nodes = self.child_nodes[states]
        allowed = self.child_valid[states].clone()
        if exclude is not None and exclude.numel():
            allowed &= ~self._all_leaves_excluded(nodes, exclude)
        return tokens, nodes, allowed

    def _all_leaves_excluded(self, nodes: torch.Tensor, exclude: torch.Tensor) -> torch.Tensor:
        # Count the distinct excluded clusters inside each child's subtree (DFS interval test);
        # the child is dead when that count equals its number of leaves.
        exclude = exclude.long()
        present = exclude >= 0
        # Drop repeats within a row (a history may name a cluster twice when L > 2).
        same = exclude.unsqueeze(2) == exclude.unsqueeze(1)  # (B, E, E)
        earlier = torch.ones(same.shape[1:], dtype=torch.bool).tril(-1)
        present &= ~(same & earlier).any(dim=2)
        pos = self.leaf_tin[exclude.clamp(min=0)]  # (B, E)
        lo = self.tin[nodes].unsqueeze(2)  # (B, K, 1)
        hi = self.tout[nodes].unsqueeze(2)
        inside = (pos.unsqueeze(1) >= lo) & (pos.unsqueeze(1) < hi) & present.unsqueeze(1)
        return inside.sum(dim=2) >= self.n_leaves[nodes]

    def advance(self, states: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """The state after ``tokens`` (B,) from ``states`` (B,); ``NO_STATE`` if it leaves the trie."""
        safe = states.clamp(min=0)
        hit = (self.child_tokens[safe] == tokens.unsqueeze(1)) & self.child_valid[safe]
        found = hit.any(dim=1) & (states >= 0)
        nxt = self.child_nodes[safe].gather(1, hit.long().argmax(dim=1, keepdim=True)).squeeze(1)
        return torch.where(found, nxt, torch.full_like(nxt, NO_STATE))
