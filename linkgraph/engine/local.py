"""The in-process engine: numpy, pandas and scipy on the driver.

It adds nothing to the stages' own code paths: components are the cluster
stage's scipy ``connected_components``, counts are ``np.bincount``, the
reach is the sanctions stage's own search, and a row rule is called directly (the normalisers already work once per distinct
value), so routing a stage through it costs one method call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from linkgraph.engine import Reach


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
