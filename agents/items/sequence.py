"""A classic sequence recommender (GRU4Rec-style, Hidasi et al. 2016), the paper's low level.

A GRU reads the user's recent clicked items and scores every item by a dot product with its
(tied) embedding plus a bias; it is trained on logged clicks to predict the next click with a
full softmax. Serving restricts the softmax to the members of the chosen cluster (a mask: only
those members are scored) and samples from it, with ``temperature`` (0 = the top items).
Weights are saved as safetensors (no pickled code).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from agents.base import Trainable
from agents.errors import ConfigError, DataError
from agents.items.base import ItemPolicy
from agents.persistence import load_arrays, save_arrays
from agents.sampling import gumbel
from agents.types import Obs
from envs.world import World


def _torch() -> Any:
    import torch

    return torch


def build_model(n_items: int, dim: int) -> Any:
    torch = _torch()
    nn = torch.nn

    class GRURecommender(nn.Module):  # type: ignore[name-defined]  # torch is imported lazily
        """Item ids (B, H), -1 = none → (B, dim) user state; ``scores`` against item ids."""

        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(n_items + 1, dim, padding_idx=n_items)  # last row = padding
            self.gru = nn.GRU(dim, dim, batch_first=True)
            self.bias = nn.Parameter(torch.zeros(n_items))

        def forward(self, items: Any) -> Any:
            x = self.embedding(torch.where(items < 0, n_items, items))
            _, h = self.gru(x)
            return h[0]

        def logits(self, state: Any) -> Any:  # (B, N) full softmax logits, for training
            return state @ self.embedding.weight[:n_items].T + self.bias

    return GRURecommender()


def click_windows(logs: Any, history_length: int) -> tuple[np.ndarray, np.ndarray]:
    """(E, H) windows of consecutive clicked items of one user and (E,) the next click."""
    df = logs.to_frame() if hasattr(logs, "to_frame") else logs
    for col in ("user", "time", "item"):
        if col not in df.columns:
            raise DataError(f"logs lack the column {col!r}; expected user, time, item (organic_logs gives them)")
    clicks = df[df["item"] >= 0].sort_values(["user", "time"], kind="stable")
    users, items = clicks["user"].to_numpy(), clicks["item"].to_numpy().astype(np.int64)
    h = history_length
    if len(items) <= h:
        raise DataError(f"the logs hold {len(items)} clicks; a sequence model needs more than {h}")
    win = np.lib.stride_tricks.sliding_window_view(items, h + 1)
    same = users[:-h] == users[h:]  # users are contiguous: first == last means one user
    return np.ascontiguousarray(win[same, :h]), win[same, h].copy()


class SequenceItems(ItemPolicy, Trainable):
    name = "sequence"
    suffix = ".safetensors"

    def __init__(self, world: World, dim: int = 32, temperature: float = 1.0, seed: int = 0) -> None:
        super().__init__(world)
        if temperature < 0:
            raise ConfigError(f"SequenceItems temperature={temperature!r} must be >= 0")
        torch = _torch()
        torch.manual_seed(seed)
        self.dim = dim
        self.temperature = temperature
        self.model = build_model(world.corpus.n_items, dim)

    def fit(
        self, logs: Any, epochs: int = 2, batch_size: int = 512, lr: float = 3e-3, seed: int = 0, num_threads: int = 1
    ) -> SequenceItems:
        """Next-click training on logs (DataFrame with user, time, item, or an EventLog)."""
        torch = _torch()
        torch.set_num_threads(num_threads)
        x, y = click_windows(logs, self.world.config.history_length)
        gen = torch.Generator().manual_seed(seed)
        opt = torch.optim.Adam(self.model.parameters(), lr=lr)
        xt, yt = torch.from_numpy(x), torch.from_numpy(y)
        self.model.train()
        for _ in range(epochs):
            perm = torch.randperm(len(yt), generator=gen)
            for i in range(0, len(yt), batch_size):
                idx = perm[i : i + batch_size]
                loss = torch.nn.functional.cross_entropy(self.model.logits(self.model(xt[idx])), yt[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
        self.model.eval()
        return self

    def scores(self, obs: Obs, clusters: np.ndarray, members: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        torch = _torch()
        with torch.no_grad():
            state = self.model(torch.from_numpy(np.ascontiguousarray(obs["items"], dtype=np.int64)))
            m = torch.from_numpy(np.maximum(members, 0))
            logit = (self.model.embedding(m) @ state[:, :, None])[:, :, 0] + self.model.bias[m]
        out = logit.numpy().astype(np.float64)
        if self.temperature > 0:
            out = out / self.temperature + gumbel(rng, members.shape)
        return out

    # --- persistence -------------------------------------------------------------------------
    def _meta(self) -> dict[str, int]:
        return {"n_items": self.world.corpus.n_items, "dim": self.dim}

    def save(self, path: str | Path) -> Path:
        arrays = {k: v.detach().numpy() for k, v in self.model.state_dict().items()}
        return save_arrays(path, "SequenceItems", arrays, self._meta())

    def load(self, path: str | Path) -> SequenceItems:
        torch = _torch()
        arrays, _ = load_arrays(path, "SequenceItems", self._meta())
        self.model.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in arrays.items()})
        self.model.eval()
        return self

    @classmethod
    def from_path(cls, world: World, path: str | Path, temperature: float = 1.0) -> SequenceItems:
        from agents.persistence import require_file

        require_file(path, "sequence model", "train one with SequenceItems(world).fit(logs).save(path)")
        _, meta = load_arrays(path, "SequenceItems")
        return cls(world, dim=int(meta["dim"]), temperature=temperature).load(path)
