"""Small vectorised helpers on arcs grouped by lead."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["group_starts", "top_k_per_group"]

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

# Above this many padded cells the padded-matrix method would use too much memory.
_MAX_PADDED_CELLS = 40_000_000


def group_starts(sorted_group: IntArray) -> IntArray:
    """Start offset of each run of equal values in a sorted array (for ``reduceat``)."""
    if sorted_group.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate(([0], np.flatnonzero(np.diff(sorted_group)) + 1)).astype(np.int64)


def top_k_per_group(group: IntArray, score: FloatArray, k: int | IntArray) -> BoolArray:
    """Mark the ``k`` highest-scoring entries of every group (ties broken by position).

    Args:
        group: ``(A,)`` group id per entry (any order).
        score: ``(A,)`` score per entry.
        k: entries to keep per group, a scalar or ``(G,)`` per group id.

    Returns:
        ``(A,)`` boolean mask.
    """
    size = group.shape[0]
    mask = np.zeros(size, dtype=bool)
    if size == 0:
        return mask
    order = np.argsort(group, kind="stable")
    sorted_group = group[order]
    starts = group_starts(sorted_group)
    counts = np.diff(np.append(starts, size))
    ids = sorted_group[starts]
    limit = (
        np.broadcast_to(np.asarray(k), (int(group.max()) + 1,))[ids]
        if np.ndim(k)
        else np.full(ids.shape[0], int(k))
    )
    widest = int(counts.max())
    if ids.shape[0] * widest <= _MAX_PADDED_CELLS:
        position = np.arange(size) - np.repeat(starts, counts)
        padded = np.full((ids.shape[0], widest), -np.inf)
        row = np.repeat(np.arange(ids.shape[0]), counts)
        padded[row, position] = score[order]
        if np.ndim(k) == 0:
            # One k for all groups: a linear-time partition gives each group's k-th score
            # (ties at the threshold may keep a few more than k).
            kth = int(k)
            if kth >= widest:
                keep_sorted = np.ones(size, dtype=bool)
            elif kth <= 0:
                keep_sorted = np.zeros(size, dtype=bool)
            else:
                threshold = np.partition(padded, widest - kth, axis=1)[:, widest - kth]
                keep_sorted = score[order] >= threshold[row]
        else:
            ranking = np.argsort(-padded, axis=1, kind="stable")
            rank = np.empty_like(ranking)
            np.put_along_axis(rank, ranking, np.arange(widest)[None, :], axis=1)
            keep_sorted = rank[row, position] < limit[row]
    else:
        by_score = np.lexsort((-score[order], sorted_group))
        rank_sorted = np.empty(size, dtype=np.int64)
        rank_sorted[by_score] = np.arange(size) - np.repeat(starts, counts)
        keep_sorted = rank_sorted < np.repeat(limit, counts)
    mask[order[keep_sorted]] = True
    return mask
