"""The Spark engine: the engine operations as Spark DataFrame jobs.

- components: alternating large-star / small-star (:mod:`.components`);
- sharing counts: a salted two-phase group-by (:mod:`.counts`);
- sanction reachability: hop-by-hop joins with a windowed best path (:mod:`.reach`);
- the search near moderator-cleared accounts: hop-by-hop joins keyed by (label, node),
  each label's deadline on the links' ages (:mod:`.labelled`);
- row rules (normalisers): the stage's pandas functions as pandas UDFs
  over distinct rows (:mod:`.rows`);
- per-group aggregates (coupon features): group-bys (:mod:`.aggregate`);
- exact per-group quantiles: a windowed rank per small group, a big one's two ranks
  bracketed by ``percentile_approx`` and placed by exact counts (:mod:`.quantile`);
- sliding windows of time (the largest burst per group, every row's window count): one
  global sort of the keys and their bounds, a running count of keys (:mod:`.windows`);
- loading: Spark's readers, the load stage's own checks on Arrow batches,
  the cross-row checks as joins and windows (:mod:`.load`); the orders summarised
  per account by the stages' own rules (:mod:`.orders`); the identifiers of the
  sign-ins, addresses, payments and accounts made, normalised and grouped per
  (account, kind, value) by the normalize stage's own rules, each value's accounts
  counted, sent back as codes (:mod:`.identifiers`).

Needs ``pip install -e ".[spark]"`` and Java 17; nothing is downloaded at
run time. See ``docs/spark.md`` for what runs on Spark and for cluster notes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkgraph.engine import Aggregation, Reach

if TYPE_CHECKING:
    from linkgraph.config import CouponConfig, NormalizeConfig
    from linkgraph.load import Tables

with warnings.catch_warnings():
    # pyspark warns at import that pandas 3 is "not yet fully supported"
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    from pyspark.sql import SparkSession

    from linkgraph.engine.spark import aggregate as _aggregate
    from linkgraph.engine.spark import components as _components
    from linkgraph.engine.spark import counts as _counts
    from linkgraph.engine.spark import labelled as _labelled
    from linkgraph.engine.spark import load as _load
    from linkgraph.engine.spark import quantile as _quantile
    from linkgraph.engine.spark import reach as _reach
    from linkgraph.engine.spark import rows as _rows
    from linkgraph.engine.spark import windows as _windows
    from linkgraph.engine.spark.session import quiet_pandas_warning, spark_session

__all__ = ["SparkEngine", "spark_session"]


@dataclass(frozen=True)
class SparkEngine:
    """The engine operations on a Spark session (joined or started on first use).

    master: Spark master URL; ``None`` joins the active session or uses the
        ``spark-submit`` default.
    checkpoint_every: reliable checkpoint every this many component rounds.
    salt_buckets: sub-keys a heavy (hub) key is split into when counting.
    heavy_rows: a key with at least this many rows is salted.
    """

    master: str | None = None
    checkpoint_every: int = 3
    salt_buckets: int = 32
    heavy_rows: int = 10_000
    name: str = "spark"

    @property
    def session(self) -> SparkSession:
        """The SparkSession the jobs run on."""
        return spark_session(self.master)

    def connected_components(self, n_nodes: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Component label per node, numbered by smallest member (large/small-star)."""
        with quiet_pandas_warning():
            return _components.connected_components(
                self.session, n_nodes, src, dst, checkpoint_every=self.checkpoint_every)

    def count_keys(self, keys: np.ndarray, n_keys: int) -> np.ndarray:
        """Rows per key ``0..n_keys-1``, heavy keys salted."""
        with quiet_pandas_warning():
            return _counts.count_keys(self.session, keys, n_keys, salt_buckets=self.salt_buckets,
                                      heavy_rows=self.heavy_rows)

    def bounded_reach(
        self, indptr: np.ndarray, target: np.ndarray, conf: np.ndarray, sources: np.ndarray, *,
        max_hops: int, expandable: np.ndarray, usable: np.ndarray | None = None,
    ) -> Reach:
        """Bounded multi-source shortest paths, hop by hop as joins (:mod:`.reach`)."""
        tail, head, edge_conf = _arcs(indptr, usable, target, conf)
        with quiet_pandas_warning():
            found = _reach.bounded_reach(self.session, len(indptr) - 1, tail, head, edge_conf,
                                         sources, max_hops=max_hops, expandable=expandable)
        return Reach(*found)

    def map_rows(self, rule: Callable[[pd.DataFrame], pd.DataFrame], rows: pd.DataFrame) -> pd.DataFrame:
        """``rule(rows)``, the rule run as a pandas UDF on the distinct rows."""
        with quiet_pandas_warning():
            return _rows.map_rows(self.session, rule, rows)

    def group_aggregate(
        self, keys: np.ndarray, n_groups: int, aggregations: Mapping[str, Aggregation]
    ) -> dict[str, np.ndarray]:
        """Per group, each aggregate: one ``groupBy`` job (:mod:`.aggregate`)."""
        with quiet_pandas_warning():
            return _aggregate.group_aggregate(self.session, keys, n_groups, aggregations)

    def group_quantile(self, values: np.ndarray, groups: np.ndarray, q: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per group, the exact linear ``q`` quantile and the rows (:mod:`.quantile`)."""
        with quiet_pandas_warning():
            return _quantile.group_quantile(self.session, values, groups, q)

    def largest_window(self, keys: np.ndarray, n_groups: int, when: np.ndarray,
                       width: float) -> np.ndarray:
        """Per group, the most rows within one window of time (:mod:`.windows`)."""
        with quiet_pandas_warning():
            return _windows.largest_window(self.session, keys, n_groups, when, width)

    def labelled_reach(
        self, indptr: np.ndarray, target: np.ndarray, usable: np.ndarray, age: np.ndarray,
        starts: np.ndarray, goals: np.ndarray, deadlines: np.ndarray, *,
        passable: np.ndarray, max_hops: int,
    ) -> np.ndarray:
        """Per label, its goal reached by edges younger than its deadline: hop by hop
        as joins keyed by (label, node) (:mod:`.labelled`)."""
        tail, head, edge_age = _arcs(indptr, usable, target, age)
        with quiet_pandas_warning():
            return _labelled.labelled_reach(
                self.session, tail, head, edge_age, starts, goals, deadlines,
                passable=passable, max_hops=max_hops)

    def window_counts(self, keys: np.ndarray, when: np.ndarray, width: float
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Per row in (group, time) order, the rows of its group within one window of
        time: the sweep of :func:`.windows.largest_window`, before its maximum."""
        with quiet_pandas_warning():
            return _windows.window_counts(self.session, keys, when, width)

    def load_tables(self, data_dir: str | Path, *, max_reject_rate: float = 0.05,
                    reduced: bool = False, orders: CouponConfig | None = None,
                    identifiers: NormalizeConfig | None = None) -> Tables:
        """The load stage read and checked by Spark (:mod:`.load`), returned as ``Tables``;
        with ``reduced`` the logins, addresses and payments are reduced on Spark to what
        the normalize stage reads (``Engine.load_tables``) before they reach the driver,
        with ``identifiers`` too grouped into the identifiers of every kind instead
        (:mod:`.identifiers`), and with ``orders`` the orders summarised per account
        (:mod:`.orders`)."""
        with quiet_pandas_warning():
            return _load.load_tables(self.session, data_dir, max_reject_rate=max_reject_rate,
                                     reduced=reduced, orders=orders, identifiers=identifiers)


def _arcs(indptr: np.ndarray, usable: np.ndarray | None, *per_edge: np.ndarray
          ) -> tuple[np.ndarray, ...]:
    """The arcs of a CSR graph as columns: each edge's tail (int64), then each array of
    ``per_edge`` (per CSR position), the edges ``usable`` False left out (all kept when
    None)."""
    tail = np.repeat(np.arange(len(indptr) - 1, dtype=np.int64), np.diff(indptr))
    columns = (tail, *(np.asarray(values) for values in per_edge))
    if usable is None:
        return columns
    on = np.asarray(usable, dtype=bool)
    return tuple(values[on] for values in columns)
