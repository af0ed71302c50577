"""Each place's first and last sign-in: all the normalize stage reads of the sign-ins."""

from __future__ import annotations

import numpy as np

_NAT = np.iinfo(np.int64).min  # NaT as int64, as numpy and pandas store it
#: rows sorted at a time (the rows of an account together)
PART_ROWS = 1 << 21


def first_and_last_sign_ins(account: np.ndarray, ip: np.ndarray, device: np.ndarray,
                            times: np.ndarray) -> np.ndarray:
    """Which sign-ins are the first or the last of their (account, IP, device).

    ``account``, ``ip`` and ``device`` are the rows' codes (equal codes for equal
    values; -1, a missing value, is a value of its own); ``times`` the sign-in
    times as int64 (NaT for none), the rows in file order. First: the earliest
    time, then the earliest row; last: the latest time, then the earliest row. A
    sign-in without a time comes after every time in both (Spark's
    ``asc_nulls_last`` / ``desc_nulls_last``), so it is kept only when its place
    has no time at all. The normalize stage reads of the sign-ins each value's
    earliest and latest time per account: these rows give the same.

    >>> first_and_last_sign_ins(np.array([0, 0, 0, 0]), np.array([5, 5, 5, 6]),
    ...     np.array([-1, -1, -1, -1]), np.array([3, 1, 3, 2])).tolist()
    [True, True, False, True]
    """
    n = len(account)
    chosen = np.zeros(n, dtype=bool)
    parts = -(-n // PART_ROWS)
    if parts > 1:
        # an account's places are in one part: the sort's arrays are a part's size
        part = account % parts
        for which in range(parts):
            rows = np.flatnonzero(part == which)
            chosen[rows[_chosen(account[rows], ip[rows], device[rows], times[rows])]] = True
        return chosen
    return _chosen(account, ip, device, times)


def _chosen(account: np.ndarray, ip: np.ndarray, device: np.ndarray,
            times: np.ndarray) -> np.ndarray:
    """:func:`first_and_last_sign_ins` of rows taken together."""
    n = len(account)
    chosen = np.zeros(n, dtype=bool)
    if not n:
        return chosen
    order, starts = _groups(account, ip, device)
    # each sorted row's group (no search of the starts, no repeat of each group's best)
    group = np.zeros(n, dtype=np.int32 if len(starts) < 1 << 31 else np.int64)
    group[starts[1:]] = 1
    np.cumsum(group, out=group)
    for latest in (False, True):
        time = times[order]
        if not latest:
            # NaT is the smallest int64: as "never" it must be the largest for the minimum
            np.putmask(time, time == _NAT, np.iinfo(np.int64).max)
        best = (np.maximum if latest else np.minimum).reduceat(time, starts)
        # within a group the rows are in file order (a stable sort): its first at the
        # best time is the earliest such row
        at_best = np.flatnonzero(time == best[group])
        del time, best
        at_group = group[at_best]
        first = np.empty(len(at_best), dtype=bool)
        first[0] = True  # every group has a row at its best
        np.not_equal(at_group[1:], at_group[:-1], out=first[1:])
        chosen[order[at_best[first]]] = True
    return chosen


def _groups(account: np.ndarray, ip: np.ndarray, device: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray]:
    """The rows sorted by (account, IP, device), stably, and where each group starts."""
    widths = [int(codes.max()) + 2 for codes in (ip, device)]  # -1 .. max
    if (int(account.max()) + 1) * widths[0] * widths[1] < 1 << 62:
        # one int64 key: one sort of integers
        key = (account.astype(np.int64) * widths[0] + ip + 1) * widths[1] + device + 1
        bits = max((len(key) - 1).bit_length(), 1)
        index_type = np.int32 if len(key) < 1 << 31 else np.int64
        if int(key.max()) < 1 << (62 - bits):
            # the row number below the key: unique keys whose plain sort (twice as fast
            # as a stable argsort) orders the rows as the stable sort would
            key <<= bits
            key |= np.arange(len(key), dtype=np.int64)
            key.sort()
            order = (key & ((1 << bits) - 1)).astype(index_type)
            key >>= bits
        else:
            order = np.argsort(key, kind="stable").astype(index_type)
            key = key[order]
        new = key[1:] != key[:-1]
    else:
        order = np.lexsort((device, ip, account))
        new = np.zeros(len(order) - 1, dtype=bool)
        for codes in (account, ip, device):
            ordered = codes[order]
            new |= ordered[1:] != ordered[:-1]
    return order, np.flatnonzero(np.append(True, new))
