"""Burst windows: each redeemer's window count, directly and through the engine call."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.engine import LOCAL
from linkgraph.score.windows import Windows, counted_windows, sliding_windows


def _assert_same_windows(mine: Windows, theirs: Windows) -> None:
    for field in ("order", "group", "count", "end"):
        a, b = getattr(mine, field), getattr(theirs, field)
        assert a.dtype == b.dtype, field
        np.testing.assert_array_equal(a, b, err_msg=field)


def test_three_sign_ups_on_one_day_count_down_in_input_order() -> None:
    # value 0: three coupon-only accounts created at the same moment (rows 3, 0, 5 in
    # the input), one exactly a window later (the window holds its end), one after it;
    # value 1 has only an account without a creation time
    group = np.array([0, 0, 1, 0, 0, 0])
    when = np.array([2.0, 4.0, np.nan, 2.0, 4.5, 2.0])

    order, count = LOCAL.window_counts(group, when, 2.0)

    assert order.tolist() == [0, 3, 5, 1, 4]
    assert count.tolist() == [4, 3, 2, 2, 1]
    assert order.dtype == count.dtype == np.int64


def test_no_time_at_all_gives_no_windows() -> None:
    order, count = LOCAL.window_counts(np.array([0, 1]), np.array([np.nan, np.nan]), 2.0)
    assert order.tolist() == count.tolist() == []
    order, count = LOCAL.window_counts(np.zeros(0, dtype=np.int64), np.zeros(0), 2.0)
    assert order.dtype == count.dtype == np.int64
    assert len(counted_windows(np.zeros(0, dtype=np.int64), order, count).end) == 0


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4),
                          st.one_of(st.none(), st.integers(0, 12).map(lambda d: d / 2))),
                max_size=40),
       st.sampled_from([0.0, 0.5, 2.0, 7.0]))
def test_windows_rebuilt_from_the_engines_order_and_counts_are_the_sliding_windows(
    rows: list[tuple[int, float | None]], width: float
) -> None:
    group = np.array([g for g, _ in rows], dtype=np.int64)
    when = np.array([np.nan if t is None else t for _, t in rows], dtype="float64")

    expected = sliding_windows(group, when, width)
    _assert_same_windows(counted_windows(group, *LOCAL.window_counts(group, when, width)),
                         expected)
    # and the counts are what they mean: rows of the group within [t, t + width]
    for i, row in enumerate(expected.order):
        same = (group == group[row]) & (when >= when[row]) & (when <= when[row] + width)
        ties = np.flatnonzero((group == group[row]) & (when == when[row]))
        ties_before = np.isin(expected.order[:i], ties)
        assert expected.count[i] == same.sum() - ties_before.sum()
