"""Bursts: how many events of one group fall within a sliding window of days.

Vectorised over all groups at once: rows sorted by (group, time) get one
composite key ``group * stride + time`` (stride wider than any time span plus
the window), so a single ``np.searchsorted`` finds, for every row, the end of
the window that starts at it without ever crossing into the next group.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Windows:
    """Rows sorted by (group, time); ``count[i]`` rows lie in [t_i, t_i + width]."""

    order: np.ndarray  # row positions of the input, in (group, time) order
    group: np.ndarray  # group of each sorted row
    count: np.ndarray  # rows in the window starting at each sorted row
    end: np.ndarray  # sorted position just past that window


def sliding_windows(group: np.ndarray, when: np.ndarray, width: float) -> Windows:
    """Count, for every row, the rows of its group in ``[when, when + width]``.

    Rows with a NaN time are left out (``order`` holds the others).

    >>> w = sliding_windows(np.array([0, 0, 0, 1]), np.array([0.0, 1.0, 9.0, 1.0]), 2.0)
    >>> w.count.tolist(), w.order.tolist()
    ([2, 1, 1, 1], [0, 1, 2, 3])
    """
    keep = np.flatnonzero(~np.isnan(when))
    group = np.asarray(group, dtype=np.int64)[keep]
    times = np.asarray(when, dtype="float64")[keep]
    if not len(keep):
        empty = np.zeros(0, dtype=np.int64)
        return Windows(empty, empty, empty, empty)
    order_kept = np.lexsort((times, group))
    group, times = group[order_kept], times[order_kept]
    key = window_keys(group, times, width)
    end = np.searchsorted(key, key + width, side="right")
    count = end - np.arange(len(key))
    return Windows(order=keep[order_kept], group=group, count=count, end=end)


def counted_windows(group: np.ndarray, order: np.ndarray, count: np.ndarray) -> Windows:
    """The :class:`Windows` of ``sliding_windows(group, ...)`` from its ``order`` and
    ``count`` alone (what ``Engine.window_counts`` gives): the sorted rows' groups are
    ``group[order]``, and each window ends ``count`` rows on, the rows being sorted.

    >>> group, when = np.array([1, 0, 0]), np.array([0.0, 1.0, 0.5])
    >>> w = sliding_windows(group, when, 2.0)
    >>> rebuilt = counted_windows(group, w.order, w.count)
    >>> rebuilt.group.tolist(), rebuilt.end.tolist(), w.end.tolist()
    ([0, 0, 1], [2, 2, 3], [2, 2, 3])
    """
    group = np.asarray(group, dtype=np.int64)[order]
    return Windows(order=order, group=group, count=count, end=np.arange(len(count)) + count)


def window_keys(group: np.ndarray, times: np.ndarray, width: float) -> np.ndarray:
    """One double per row that sorts as (group, time): ``group * stride + (time -
    earliest)``, ``stride`` wider than any time span plus ``width``, so that a window
    ``[key, key + width]`` never reaches the next group (no NaN times; int64 groups).

    >>> window_keys(np.array([0, 1]), np.array([5.0, 6.0]), 2.0).tolist()
    [0.0, 5.0]
    """
    base = times - times.min()
    stride = float(base.max()) + width + 1.0
    return group.astype("float64") * stride + base


def largest_burst(windows: Windows, n_groups: int) -> np.ndarray:
    """The most rows of each group inside one window (0 for groups without rows)."""
    burst = np.zeros(n_groups, dtype=np.int64)
    np.maximum.at(burst, windows.group, windows.count)
    return burst


def burst_members(windows: Windows, starts: np.ndarray) -> np.ndarray:
    """For each sorted row: does it lie in a window that starts at a row where ``starts``?"""
    n = len(windows.count)
    first = np.flatnonzero(starts)
    cover = np.bincount(first, minlength=n + 1) - np.bincount(windows.end[first], minlength=n + 1)
    return np.cumsum(cover)[:n] > 0
