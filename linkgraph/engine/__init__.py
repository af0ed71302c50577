"""Engines: where the heavy steps of a run execute (in process, or on Spark).

The boundary is deliberately narrow: ten operations over plain arrays and
frames, each with one meaning that every engine must give exactly.

- :meth:`Engine.connected_components` -- component label per node of an
  undirected edge list; labels ``0..k-1`` numbered by each component's
  smallest node (the order scipy gives), so both engines return equal arrays.
- :meth:`Engine.count_keys` -- rows per integer key (the sharing count of each
  (kind, value) of the account-identifier incidence, behind hub detection).
- :meth:`Engine.map_rows` -- apply a pure row-wise rule (a normaliser) to a
  frame; the rule is the stage's own function, so a rule has one definition
  whichever engine runs it.
- :meth:`Engine.bounded_reach` -- bounded multi-source shortest paths with
  a fixed tie-break (the reachability behind sanction propagation).
- :meth:`Engine.group_aggregate` -- exact per-group integer aggregates
  (counts, sums, maxima, distinct values, the most rows sharing one value):
  the coupon features of the score stage, and the times of identifier rows
  that repeat a key.
- :meth:`Engine.group_quantile` -- an exact per-group quantile (pandas' linear
  interpolation): the score stage's usual order amount per currency and the
  minimum spend it infers per coupon.
- :meth:`Engine.largest_window` -- per group, the most rows within one sliding
  window of time (the score stage's redeemer bursts per cluster).
- :meth:`Engine.labelled_reach` -- many bounded breadth-first searches at
  once, each label with its own start, goal and deadline on the edges' ages:
  whether each goal is reached (the sanctions stage's check of what a
  moderator already saw when clearing an account).
- :meth:`Engine.window_counts` -- per row, the rows of its group within the
  sliding window that starts at it, the rows in (group, time) order (the
  score stage's coupon hub bursts).
- :meth:`Engine.load_tables` -- the load stage: input tables read and
  validated by the load stage's own rule functions; with ``reduced=True`` an
  engine that ships rows to this process may send, of the tables only the
  normalize stage reads (logins, addresses, payments), each distinct row once
  with its first and last time (:data:`GIVEN_FIRST`, :data:`GIVEN_LAST`), or
  (``identifiers=``) their identifiers grouped per kind, and of the orders
  their summary per account (``orders=``).

Stages take ``engine=`` (default :data:`LOCAL`) and never import an engine
implementation; :func:`linkgraph.pipeline.run` picks one with
:func:`get_engine` from ``Config.engine``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NamedTuple, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from linkgraph.engine.local import LocalEngine

if TYPE_CHECKING:
    from linkgraph.config import CouponConfig, NormalizeConfig
    from linkgraph.load import Tables

__all__ = ["GIVEN_FIRST", "GIVEN_LAST", "LOCAL", "Aggregation", "Engine", "LocalEngine", "Reach",
           "RowRule", "get_engine"]

#: a pure rule over rows: a frame in, a frame aligned with it out (same length,
#: same order); a row's result may depend on that row alone
RowRule = Callable[[pd.DataFrame], pd.DataFrame]


class Reach(NamedTuple):
    """Per node: ``hops`` (-1 unreached, int16), ``source``, ``pred`` (the next
    node towards the source, -1 for sources) and path ``conf`` (product of the
    edges' confidences)."""

    hops: np.ndarray
    source: np.ndarray
    pred: np.ndarray
    conf: np.ndarray


class Aggregation(NamedTuple):
    """One per-group aggregate of :meth:`Engine.group_aggregate`.

    ``op`` and what it gives per group (integer ``values``, one per row):

    - ``count``: rows (``values`` None);
    - ``sum``: the sum of integer or boolean ``values`` (int64, exact);
    - ``max``: ``max(fill, values of the group)`` (``fill`` for a group without rows;
      int or float values, a NaN wins as in ``np.maximum``);
    - ``nunique``: distinct non-negative ``values`` (a negative value is "none");
    - ``top_count``: the most rows sharing one non-negative value (0 when none).
    """

    op: Literal["count", "sum", "max", "nunique", "top_count"]
    values: np.ndarray | None = None
    fill: float = 0


#: the columns of a reduced table (``Engine.load_tables(..., reduced=True)``): each row's
#: first and last time (UTC; NaT when none), which the normalize stage then reads instead
#: of the sign-in times (logins) or of the orders that used the address or payment method.
#: No input contract uses these names (but the local load keeps a file's extra columns:
#: one so named would be read as them)
GIVEN_FIRST, GIVEN_LAST = "_linkgraph_first_seen", "_linkgraph_last_seen"


@runtime_checkable
class Engine(Protocol):
    """What a stage may ask of an engine (see the module docstring)."""

    @property
    def name(self) -> str:
        """``local`` or ``spark``: for logs and the manifest."""
        ...

    def connected_components(self, n_nodes: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        """Component label per node ``0..n_nodes-1``, numbered by smallest member."""
        ...

    def count_keys(self, keys: np.ndarray, n_keys: int) -> np.ndarray:
        """Rows per key ``0..n_keys-1`` (``np.bincount`` with ``minlength``), int64."""
        ...

    def map_rows(self, rule: RowRule, rows: pd.DataFrame) -> pd.DataFrame:
        """``rule(rows)`` with ``rows``' index, the rule run once per distinct row."""
        ...

    def bounded_reach(
        self, indptr: np.ndarray, target: np.ndarray, conf: np.ndarray, sources: np.ndarray, *,
        max_hops: int, expandable: np.ndarray, usable: np.ndarray | None = None,
    ) -> Reach:
        """Shortest paths of at most ``max_hops`` edges from the nearest source.

        The graph is in CSR form: the edges leaving ``v`` are
        ``target[indptr[v]:indptr[v + 1]]`` with confidences ``conf``; only
        edges with ``usable`` True (all when ``None``) are travelled; nodes
        with ``expandable`` False are reached but not passed through. Of a
        node's shortest paths it keeps the highest confidence (compared at 9
        decimals), then the smallest source, then the smallest predecessor.
        """
        ...

    def group_aggregate(
        self, keys: np.ndarray, n_groups: int, aggregations: Mapping[str, Aggregation]
    ) -> dict[str, np.ndarray]:
        """Per group ``0..n_groups-1`` (``keys``: one group per row), each aggregate."""
        ...

    def group_quantile(self, values: np.ndarray, groups: np.ndarray, q: float
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``pd.Series(values).groupby(groups).quantile(q)`` exactly (linear; NaN skipped).

        Returns the groups present in ``groups`` ascending (``groups``' dtype), the
        ``q`` quantile of each one's non-NaN ``values`` (NaN when it has none) and its
        rows (NaN counted; int64).
        """
        ...

    def largest_window(self, keys: np.ndarray, n_groups: int, when: np.ndarray,
                       width: float) -> np.ndarray:
        """Per group ``0..n_groups-1`` (``keys``: one group per row), the most rows whose
        times ``when`` lie in one window ``[t, t + width]`` (NaN times left out; 0 for a
        group without rows), int64; the times compared as the local engine's composite
        key ``group * stride + (when - min(when))`` compares them."""
        ...

    def labelled_reach(
        self, indptr: np.ndarray, target: np.ndarray, usable: np.ndarray, age: np.ndarray,
        starts: np.ndarray, goals: np.ndarray, deadlines: np.ndarray, *,
        passable: np.ndarray, max_hops: int,
    ) -> np.ndarray:
        """Per label ``i``, whether ``goals[i]`` is reached from ``starts[i]`` in at most
        ``max_hops`` edges of the CSR graph (``indptr``, ``target``), each edge with
        ``usable`` True and ``age < deadlines[i]`` (int64), bool.

        One breadth-first search per label, a visited set per (label, node) holding the
        start (a label whose start is its goal is not found). The start is always
        expanded; any other node reached is passed through only when ``passable``; the
        goal counts when reached, passable or not.
        """
        ...

    def window_counts(self, keys: np.ndarray, when: np.ndarray, width: float
                      ) -> tuple[np.ndarray, np.ndarray]:
        """Per row (``keys``: its group), the rows of its group whose times ``when`` lie
        in ``[t, t + width]``, ``t`` its own time: ``order``, the rows with a time (NaN
        left out) in (group, time) order (``np.lexsort((when, keys))``: equal times
        keep the input order), and ``count`` of each row of ``order``, int64 both; the
        times compared as :meth:`largest_window` compares them, so that
        ``score.windows.counted_windows(keys, order, count)`` is the stage's
        ``sliding_windows(keys, when, width)``."""
        ...

    def load_tables(self, data_dir: str | Path, *, max_reject_rate: float = 0.05,
                    reduced: bool = False, orders: CouponConfig | None = None,
                    identifiers: NormalizeConfig | None = None) -> Tables:
        """``linkgraph.load.load_tables``: the input tables read and validated.

        ``reduced=True`` allows an engine that ships rows over a network to send
        of ``logins``, ``addresses`` and ``payments`` only what the normalize stage
        reads of them: each distinct row (sign-ins: each (account, IP, device); the
        others: every column but ``address_id`` / ``payment_id``, left empty) once,
        with the earliest and latest time of the rows it stands for in
        :data:`GIVEN_FIRST` / :data:`GIVEN_LAST` (sign-in times, or the times of the
        orders of the same account that used the address or payment method), and
        the orders without ``address_id`` / ``payment_id`` (their one reader is
        those times). Later stages must not read these three tables (the pipeline
        empties them after normalize). Row counts in the sources stay those of
        the whole tables. An engine may do less: the local one keeps of the sign-ins
        each (account, IP, device)'s first and last row (no given times), and every row
        of the other tables (the same identifiers either way).

        ``orders`` (with ``reduced``): the coupon settings the score reads the orders
        with. An engine that ships rows may then keep the orders where it read them
        and send their summary instead (``Tables.order_facts``: what the graph and
        score stages read of them, one row per account with orders, made by the
        stages' own rules: ``linkgraph.score.order_summary``), with ``orders`` empty.
        The local engine keeps the orders (its stages read them beside the graph).

        ``identifiers`` (with ``reduced``): the normalize stage's settings. An engine
        that ships rows may then keep the sign-ins, addresses and payments where it
        read them and send each kind's identifiers grouped instead
        (``Tables.identifier_rows``: ``normalize.grouping.KindRows`` per kind, made by
        the stage's own rules), with those three tables empty. The local engine
        keeps the tables (its normalize stage groups them as fast).
        """
        ...


#: the default, in-process engine (stateless, shared)
LOCAL = LocalEngine()


def get_engine(name: str = "local", *, master: str | None = None) -> Engine:
    """The engine called ``name``: ``local`` (in process) or ``spark``.

    Args:
        name: ``local`` or ``spark``.
        master: Spark master URL (``local[2]``, ``spark://host:7077``, ``yarn``);
            ``None`` uses an active session or the ``spark-submit`` setting.

    Returns:
        An :class:`Engine`. The Spark engine starts (or joins) its session on
        first use, not here.

    Raises:
        ConfigError: an unknown engine name, or ``spark`` without pyspark.

    >>> get_engine("local").name
    'local'
    >>> get_engine("local").connected_components(4, np.array([0, 2]), np.array([1, 1])).tolist()
    [0, 0, 0, 1]
    """
    from linkgraph.errors import ConfigError

    if name == "local":
        return LOCAL
    if name == "spark":
        try:
            from linkgraph.engine.spark import SparkEngine
        except ImportError as e:
            raise ConfigError(
                f"engine 'spark' needs pyspark, which cannot be imported ({e}). "
                'Install it with: pip install -e ".[spark]" (and Java 17).'
            ) from e
        return SparkEngine(master=master)
    raise ConfigError(f"unknown engine {name!r}: use 'local' or 'spark'")
