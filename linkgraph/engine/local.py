"""The in-process engine: numpy, pandas and scipy on the driver.

It adds nothing to the stages' own code paths: components are the cluster
stage's scipy ``connected_components``, counts are ``np.bincount``, the
reach and the labelled search near cleared accounts are the sanctions
stage's own searches, a row rule is called directly (the normalisers already
work once per distinct value), group aggregates are the ``np.bincount`` /
``np.maximum.at`` / factorize the score stage used before, quantiles and
burst windows are the score stage's own, and loading is
``linkgraph.load.load_tables``; so routing a stage through it costs one
method call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from linkgraph.config import CouponConfig, NormalizeConfig
    from linkgraph.engine import Aggregation, Reach
    from linkgraph.load import Tables


@dataclass(frozen=True)
class LocalEngine:
    """numpy/pandas/scipy in this process (the default engine).

    >>> LocalEngine().count_keys(np.array([2, 0, 2]), 4).tolist()
    [1, 0, 2, 0]
    """

    name: str = "local"

    def connected_components(self, n_nodes: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Component label per node, numbered by smallest member (scipy, sparse).

        >>> LocalEngine().connected_components(3, np.array([2]), np.array([1])).tolist()
        [0, 1, 1]
        """
        # imported here: the cluster stage imports this package for its default engine
        from linkgraph.cluster import components

        return components(n_nodes, np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64))

    def count_keys(self, keys: np.ndarray, n_keys: int) -> np.ndarray:
        """Rows per key ``0..n_keys-1``."""
        return np.bincount(np.asarray(keys, dtype=np.int64), minlength=n_keys).astype(np.int64)

    def bounded_reach(
        self, indptr: np.ndarray, target: np.ndarray, conf: np.ndarray, sources: np.ndarray, *,
        max_hops: int, expandable: np.ndarray, usable: np.ndarray | None = None,
    ) -> Reach:
        """The sanctions stage's vectorised breadth-first search over the CSR graph.

        >>> r = LocalEngine().bounded_reach(np.array([0, 1, 3, 4]), np.array([1, 0, 2, 1]),
        ...     np.array([0.5, 0.5, 0.8, 0.8]), np.array([0]), max_hops=3,
        ...     expandable=np.ones(3, bool))
        >>> r.hops.tolist(), r.pred.tolist()
        ([0, 1, 2], [-1, 0, 1])
        """
        from linkgraph.engine import Reach
        from linkgraph.sanctions._reach import _Graph, _reach

        found = _reach(_Graph(indptr=indptr, target=target, conf=conf), sources,
                       max_hops=max_hops, expandable=expandable, usable=usable)
        return Reach(hops=found.hops, source=found.source, pred=found.pred, conf=found.conf)

    def map_rows(self, rule: Callable[[pd.DataFrame], pd.DataFrame], rows: pd.DataFrame) -> pd.DataFrame:
        """``rule(rows)``, indexed like ``rows``.

        >>> upper = lambda rows: pd.DataFrame({"value": rows["raw"].str.upper()})
        >>> LocalEngine().map_rows(upper, pd.DataFrame({"raw": ["a", "b"]}))["value"].tolist()
        ['A', 'B']
        """
        result = rule(rows)
        result.index = rows.index
        return result

    def group_aggregate(
        self, keys: np.ndarray, n_groups: int, aggregations: Mapping[str, Aggregation]
    ) -> dict[str, np.ndarray]:
        """Per group ``0..n_groups-1``, each aggregate (see :class:`~linkgraph.engine.Aggregation`).

        >>> from linkgraph.engine import Aggregation
        >>> found = LocalEngine().group_aggregate(np.array([0, 0, 2, 0]), 3, {
        ...     "rows": Aggregation("count"),
        ...     "top": Aggregation("top_count", np.array([5, 5, 1, 6])),
        ...     "most": Aggregation("max", np.array([1.5, 3.0, 2.0, 0.5]), fill=-np.inf)})
        >>> found["rows"].tolist(), found["top"].tolist(), found["most"].tolist()
        ([3, 0, 1], [2, 0, 1], [3.0, -inf, 2.0])
        """
        keys = np.asarray(keys, dtype=np.int64)
        return {name: _aggregate(keys, n_groups, aggregation)
                for name, aggregation in aggregations.items()}

    def group_quantile(self, values: np.ndarray, groups: np.ndarray, q: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per group, the linear ``q`` quantile of its non-NaN values and its rows: the
        score stage's own one-sort ``_quantile_by``.

        >>> keys, median, size = LocalEngine().group_quantile(
        ...     np.array([4.0, 1.0, np.nan, 2.0, 9.0]), np.array([0, 0, 0, 0, 5]), 0.5)
        >>> keys.tolist(), median.tolist(), size.tolist()
        ([0, 5], [2.0, 9.0], [4, 1])
        """
        from linkgraph.score.facts import _quantile_by

        return _quantile_by(values, groups, q)

    def largest_window(self, keys: np.ndarray, n_groups: int, when: np.ndarray,
                       width: float) -> np.ndarray:
        """Per group, the most rows within one ``[t, t + width]``: the score stage's own
        ``sliding_windows`` and ``largest_burst``.

        >>> LocalEngine().largest_window(np.array([0, 0, 0, 2]), 3,
        ...                              np.array([0.0, 1.0, 9.0, np.nan]), 2.0).tolist()
        [2, 0, 0]
        """
        from linkgraph.score.windows import largest_burst, sliding_windows

        return largest_burst(sliding_windows(keys, when, width), n_groups)

    def labelled_reach(
        self, indptr: np.ndarray, target: np.ndarray, usable: np.ndarray, age: np.ndarray,
        starts: np.ndarray, goals: np.ndarray, deadlines: np.ndarray, *,
        passable: np.ndarray, max_hops: int,
    ) -> np.ndarray:
        """Per label, its goal reached by edges younger than its deadline: the sanctions
        stage's own labelled search (``sanctions._reach._labelled_reach``).

        >>> LocalEngine().labelled_reach(np.array([0, 1, 2, 2]), np.array([1, 2]),
        ...     np.ones(2, bool), np.array([5, 7]), np.array([0, 0]), np.array([2, 2]),
        ...     np.array([8, 7]), passable=np.ones(3, bool), max_hops=2).tolist()
        [True, False]
        """
        from linkgraph.sanctions._reach import _labelled_reach

        return _labelled_reach(indptr, target, usable, age, starts, goals, deadlines,
                               passable=passable, max_hops=max_hops)

    def window_counts(self, keys: np.ndarray, when: np.ndarray, width: float
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Per row in (group, time) order, the rows of its group within ``[t, t + width]``:
        the score stage's own ``sliding_windows``.

        >>> order, count = LocalEngine().window_counts(np.array([0, 1, 0, 0]),
        ...                                            np.array([9.0, 1.0, 1.0, np.nan]), 8.0)
        >>> order.tolist(), count.tolist()
        ([2, 0, 1], [2, 1, 1])
        """
        from linkgraph.score.windows import sliding_windows

        windows = sliding_windows(keys, when, width)
        return windows.order, windows.count

    def load_tables(self, data_dir: str | Path, *, max_reject_rate: float = 0.05,
                    reduced: bool = False, orders: CouponConfig | None = None,
                    identifiers: NormalizeConfig | None = None) -> Tables:
        """The load stage itself (``linkgraph.load.load_tables``); with ``reduced`` only each
        (account, IP, device)'s first and last sign-in stay (fewer rows for the normalize
        stage to hold and hash, the same identifiers); addresses and payments whole. The
        orders stay whole whatever ``orders`` says: in this process the graph and score
        stages read them as fast as a summary, the score's share beside the graph. So do
        the other tables whatever ``identifiers`` says: the normalize stage groups them
        in this process as fast."""
        from linkgraph.load import load_tables

        return load_tables(data_dir, max_reject_rate=max_reject_rate,
                           sign_ins="first_last" if reduced else "all")


def _aggregate(keys: np.ndarray, n_groups: int, aggregation: Aggregation) -> np.ndarray:
    """One aggregate per group, in numpy (the meaning is :class:`Aggregation`'s)."""
    op, values, fill = aggregation
    if op == "count":
        return np.bincount(keys, minlength=n_groups).astype(np.int64, copy=False)
    if values is None:
        raise ValueError(f"aggregate {op!r} needs values")
    values = np.asarray(values)
    if op == "sum":
        # float weights are exact for integer sums below 2**53 (and bincount is fast)
        return np.bincount(keys, weights=values, minlength=n_groups).astype(np.int64)
    if op == "max":
        dtype = np.float64 if values.dtype.kind == "f" else np.int64
        out = np.full(n_groups, fill, dtype=dtype)
        np.maximum.at(out, keys, values)
        return out
    if op not in ("nunique", "top_count"):
        raise ValueError(f"unknown aggregate {op!r}: use count, sum, max, nunique or top_count")
    values = values.astype(np.int64, copy=False)
    given = values >= 0
    group, value = keys[given], values[given]
    stride = int(value.max()) + 1 if len(value) else 1
    if op == "nunique":
        pairs = pd.unique(group * stride + value)
        return np.bincount(pairs // stride, minlength=n_groups).astype(np.int64, copy=False)
    top = np.zeros(n_groups, dtype=np.int64)
    codes, uniques = pd.factorize(group * stride + value)
    np.maximum.at(top, uniques // stride, np.bincount(codes))
    return top
