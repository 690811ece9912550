"""The slate action space: distinct item ids."""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces


class SlateSpace(spaces.MultiDiscrete):
    """``slate_size`` distinct ids out of ``n_items``.

    A ``MultiDiscrete`` (so libraries that know that space accept it) whose ``sample`` draws
    without replacement and whose ``contains`` rejects repeated ids, the same rule the
    environments enforce.
    """

    def __init__(self, n_items: int, slate_size: int, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(np.full(slate_size, n_items, dtype=np.int64), seed=seed)
        self.n_items = n_items
        self.slate_size = slate_size

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        if mask is not None or probability is not None:
            raise NotImplementedError("SlateSpace.sample does not support masks; draw the slate yourself")
        return self.np_random.choice(self.n_items, size=self.slate_size, replace=False).astype(np.int64)

    def contains(self, x: Any) -> bool:
        if not super().contains(x):
            return False
        arr = np.asarray(x)
        return len(np.unique(arr)) == arr.size

    def __repr__(self) -> str:
        return f"SlateSpace(n_items={self.n_items}, slate_size={self.slate_size})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SlateSpace) and (self.n_items, self.slate_size) == (other.n_items, other.slate_size)

    __hash__ = None  # type: ignore[assignment]
