"""Sliding windows of time on Spark: each row's window count, and the largest per group.

The local engine sorts the rows by (group, time) and gives each one composite
double, ``group * stride + (time - earliest)`` (``stride`` wider than any time
span plus the window, so groups never meet), and counts for each row the rows
from it (in that order) up to the last whose key is at most ``key + width``.
Here the same doubles are computed on the driver by the same function
(``score.windows.window_keys``: no rounding can differ), and Spark does the
sorting and the counting, in one sweep that both calls share:

- ``place``: per row, the keys before it in (key, time, input row) order: the
  order of ``np.lexsort`` (group, time, input row), which keeps equal times in
  input order;
- ``upto``: per row, the keys at most ``key + width``: the keys and the bounds
  in one sweep ordered by (value, keys before bounds), a running count of keys
  read at each bound;
- the count is ``upto - place``, as the local ``end - position`` (the rows of
  the groups before count in both).

``window_counts`` brings every row's count back in (group, time, input row)
order (a global sort on Spark); ``largest_window`` only the largest per group
(the first of equal times has the most, as locally).

A range frame (``rangeBetween``) would say the same, but takes whole numbers
in PySpark; the sweep compares the doubles themselves. The sweep is one
global sort, not a window per group: a giant cluster (or a hub value with
thousands of redeemers) is spread over the sort's ranges like any rows, and
the running count is a count per range plus the ranges before it (one small
number per partition to the driver).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from linkgraph.engine.spark.ranges import before_partition
from linkgraph.engine.spark.session import quiet_pandas_warning
from linkgraph.score.windows import window_keys


def largest_window(spark: SparkSession, keys: np.ndarray, n_groups: int, when: np.ndarray,
                   width: float) -> np.ndarray:
    """Per group ``0..n_groups-1``, the most rows whose times lie in one ``[t, t + width]``
    (rows with a NaN time left out; 0 for a group without rows)."""
    out = np.zeros(n_groups, dtype=np.int64)
    with _counted(spark, keys, when, width) as counted:
        if counted is None:
            return out
        with quiet_pandas_warning():
            found = cast(pd.DataFrame, counted.groupBy("g").agg(F.max("n").alias("n")).toPandas())
    out[found["g"].to_numpy(dtype=np.int64)] = found["n"].to_numpy(dtype=np.int64)
    return out


def window_counts(spark: SparkSession, keys: np.ndarray, when: np.ndarray, width: float
                  ) -> tuple[np.ndarray, np.ndarray]:
    """The rows with a time in (group, time, input row) order, and per row the rows of its
    group in ``[t, t + width]`` (``Engine.window_counts``), int64 both."""
    keep = np.flatnonzero(~np.isnan(when))
    with _counted(spark, keys, when, width) as counted:
        if counted is None:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty
        with quiet_pandas_warning():
            found = cast(pd.DataFrame, counted.orderBy("g", "t", "id").select("id", "n")
                         .toPandas())
    order = keep[found["id"].to_numpy(dtype=np.int64)].astype(np.int64, copy=False)
    return order, found["n"].to_numpy(dtype=np.int64)


@contextmanager
def _counted(spark: SparkSession, keys: np.ndarray, when: np.ndarray, width: float
             ) -> Iterator[DataFrame | None]:
    """Per row with a time: ``id`` (its place among those rows), ``g``, ``t`` and ``n``,
    the rows of its group from it in (time, ``id``) order whose composite keys are at
    most its own plus ``width``; ``None`` when no row has a time. The rows are cached
    while the caller reads."""
    keep = np.flatnonzero(~np.isnan(when))
    if not len(keep):
        yield None
        return
    group = np.asarray(keys, dtype=np.int64)[keep]
    # + 0.0 makes a -0.0 a 0.0: numpy compares them equal (their input order decides),
    # and so must Spark's sort
    times = np.asarray(when, dtype="float64")[keep] + 0.0
    # the local engine's composite key, by its own function
    key = window_keys(group, times, width)
    with quiet_pandas_warning():
        rows = spark.createDataFrame(pd.DataFrame({
            "id": np.arange(len(key), dtype=np.int64), "g": group, "t": times, "key": key,
            "bound": key + width})).cache()
    try:
        # keys and bounds as events in one global sort (range-partitioned: a giant group
        # spreads over tasks); a key's place among the keys in that order is its row's
        # place in (group, time, input row) order, and a bound's count of the keys up to
        # it those at most key + width: the groups never meet, so the rows of the groups
        # before cancel out of n = upto - place, as ``end - position`` locally
        events = rows.select(F.col("key").alias("v"), F.lit(0).alias("is_bound"), "t", "id") \
            .unionByName(rows.select(F.col("bound").alias("v"), F.lit(1).alias("is_bound"),
                                     "t", "id"))
        counted = _keys_up_to(events.orderBy("v", "is_bound", "t", "id"))
        place = counted.where(F.col("is_bound") == 0).select("id", (F.col("keys") - 1)
                                                               .alias("place"))
        upto = counted.where(F.col("is_bound") == 1).select("id", F.col("keys").alias("upto"))
        yield rows.select("id", "g", "t").join(place, "id").join(upto, "id").select(
            "id", "g", "t", (F.col("upto") - F.col("place")).alias("n"))
    finally:
        rows.unpersist()


def _keys_up_to(ordered: DataFrame) -> DataFrame:
    """``ordered`` (events sorted globally, ``is_bound`` 0 for a key) with ``keys``: the
    keys up to each event in that order, itself included (a running count within each
    range of the sort plus the keys of the ranges before it)."""
    parts = ordered.withColumn("part", F.spark_partition_id()).localCheckpoint(eager=True)
    is_key = 1 - F.col("is_bound")
    running = Window.partitionBy("part").orderBy("v", "is_bound", "t", "id").rowsBetween(
        Window.unboundedPreceding, Window.currentRow)
    return parts.withColumn("keys", before_partition(parts, "part", F.sum(is_key))
                            + F.sum(is_key).over(running))
