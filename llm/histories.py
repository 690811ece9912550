"""Cluster histories as arrays: validation and the mixed-radix index of the table.

A history is L cluster ids, oldest first. The table stores every history of M clusters at
row ``c_1 * M^(L-1) + ... + c_L`` (mixed radix, most significant = oldest), so a lookup is a
dot product and a gather, and consecutive rows share their first L-1 clusters, i.e. their
prompt prefix (which the table build exploits).
"""

from __future__ import annotations

import numpy as np

from llm.errors import DataError


def validate_histories(histories, n_clusters: int, context_length: int | None = None) -> np.ndarray:
    """``histories`` as an int64 array (B, L), checked against M clusters (and L if given)."""
    arr = np.asarray(histories)
    if arr.ndim == 1 and context_length is not None and arr.shape[0] == context_length:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise DataError(f"histories must be a 2-D array (batch, L), got shape {arr.shape}")
    if context_length is not None and arr.shape[1] != context_length:
        raise DataError(f"histories have length {arr.shape[1]} but this table/model uses L={context_length}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise DataError(f"histories must hold integer cluster ids, got dtype {arr.dtype}")
    arr = arr.astype(np.int64, copy=False)
    if arr.size:
        bad = (arr < 0) | (arr >= n_clusters)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise DataError(
                f"history {row} holds cluster id {arr[row, col]}, outside [0, {n_clusters}); "
                "use cluster ids of the level the model was built for"
            )
    return arr


def radix_weights(n_clusters: int, context_length: int) -> np.ndarray:
    """(L,) weights M^(L-1), ..., M, 1 of the mixed-radix index."""
    return n_clusters ** np.arange(context_length - 1, -1, -1, dtype=np.int64)


def history_index(histories: np.ndarray, n_clusters: int) -> np.ndarray:
    """Row of each history (B, L) in the table: (B,) int64."""
    return histories @ radix_weights(n_clusters, histories.shape[1])


def histories_at(rows: np.ndarray, n_clusters: int, context_length: int) -> np.ndarray:
    """Inverse of :func:`history_index`: the histories (B, L) stored at ``rows`` (B,)."""
    return (
        np.asarray(rows, dtype=np.int64)[:, None] // radix_weights(n_clusters, context_length)
    ) % n_clusters
