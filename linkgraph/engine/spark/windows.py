"""The largest burst per group on Spark: the most rows within one sliding window of time.

The local engine sorts the rows by one composite double per row, ``group *
stride + (time - earliest)`` (``stride`` wider than any time span plus the
window, so groups never meet), and counts for each row the rows whose key
lies in ``[key, key + width]``. Here the same doubles are computed on the
driver by the same function (``score.windows.window_keys``: no rounding can differ), and Spark
does the counting, without a sort of every row on the driver:

- ``below``: per row, the rows of its group with a strictly smaller key
  (``rank() - 1`` over the group ordered by key);
- ``upto``: per row, the rows of its group with a key at most ``key + width``:
  the keys and the bounds of a group in one sweep ordered by (value, keys
  before bounds), a running count of keys read at each bound;
- the count is ``upto - below``; the largest per group comes back.

A range frame (``rangeBetween``) would say the same, but takes whole numbers
in PySpark; the sweep compares the doubles themselves. Each window is
partitioned by group: a giant cluster is one straggler task (its rows are
only its redeemers).
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from linkgraph.engine.spark.session import quiet_pandas_warning
from linkgraph.score.windows import window_keys


def largest_window(spark: SparkSession, keys: np.ndarray, n_groups: int, when: np.ndarray,
                   width: float) -> np.ndarray:
    """Per group ``0..n_groups-1``, the most rows whose times lie in one ``[t, t + width]``
    (rows with a NaN time left out; 0 for a group without rows)."""
    out = np.zeros(n_groups, dtype=np.int64)
    keep = np.flatnonzero(~np.isnan(when))
    if not len(keep):
        return out
    group = np.asarray(keys, dtype=np.int64)[keep]
    times = np.asarray(when, dtype="float64")[keep]
    # the local engine's composite key, by its own function
    key = window_keys(group, times, width)
    with quiet_pandas_warning():
        rows = spark.createDataFrame(pd.DataFrame({
            "id": np.arange(len(key), dtype=np.int64), "g": group, "key": key,
            "bound": key + width})).cache()
    try:
        by_group = Window.partitionBy("g")
        below = rows.select("id", "g", (F.rank().over(by_group.orderBy("key")) - 1).alias("below"))
        events = rows.select("g", F.col("key").alias("v"), F.lit(0).alias("is_bound"),
                             F.lit(None).cast("long").alias("id")).unionByName(
            rows.select("g", F.col("bound").alias("v"), F.lit(1).alias("is_bound"), "id"))
        sweep = by_group.orderBy("v", "is_bound").rowsBetween(Window.unboundedPreceding,
                                                               Window.currentRow)
        upto = (events.withColumn("upto", F.sum(1 - F.col("is_bound")).over(sweep))
                .where(F.col("is_bound") == 1).select("id", "upto"))
        counts = below.join(upto, "id").groupBy("g").agg(
            F.max(F.col("upto") - F.col("below")).alias("n"))
        with quiet_pandas_warning():
            found = cast(pd.DataFrame, counts.toPandas())
    finally:
        rows.unpersist()
    out[found["g"].to_numpy(dtype=np.int64)] = found["n"].to_numpy(dtype=np.int64)
    return out
