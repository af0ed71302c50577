"""Exact per-group quantiles on Spark: the score stage's usual order amounts and coupon floors.

Not ``percentile_approx`` (an approximation, which would change decisions):
the quantile of pandas' linear interpolation needs, per group, the number of
its present (non-NaN) values ``p`` and the values ranked ``k + 1`` and
``k + 2`` in ascending order, where ``k = int(q * (p - 1))``. Spark counts
the rows and the present values per group (one ``groupBy``), numbers each
group's present values in order (a window ``row_number`` partitioned by
group) and keeps only those two ranks (a join with the counts); at most two
values and one count per group come back. The last step, ``low + (high -
low) * frac``, is the local engine's own functions (``score.facts.quantile_steps``,
``interpolated``) on the same doubles, so the quantiles are equal bit for bit.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from linkgraph.engine.spark.session import quiet_pandas_warning
from linkgraph.score.facts import interpolated, quantile_steps


def group_quantile(spark: SparkSession, values: np.ndarray, groups: np.ndarray, q: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group present in ``groups`` (ascending): the linear ``q`` quantile of its
    non-NaN ``values`` (NaN when it has none) and its rows (NaN counted)."""
    groups = np.asarray(groups)
    if not len(groups):
        return groups, np.zeros(0), np.zeros(0, dtype=np.int64)
    with quiet_pandas_warning():
        rows = spark.createDataFrame(pd.DataFrame({
            "g": groups.astype(np.int64), "v": np.asarray(values, dtype=np.float64)}))
    # a NaN may cross as NaN or as null (Arrow's conversion): neither is a value here
    value = F.when(F.col("v").isNotNull() & ~F.isnan("v"), F.col("v"))
    rows = rows.select("g", value.alias("v")).cache()
    try:
        counts = rows.groupBy("g").agg(F.count(F.lit(1)).alias("size"),
                                       F.count("v").alias("present"))
        # the rank (from 0) of the lower value: int() truncates, as Spark's cast does
        at = (F.lit(float(q)) * (F.col("present") - 1).cast("double")).cast("long")
        wanted = counts.where(F.col("present") > 0).select("g", at.alias("at"))
        ranked = rows.where(F.col("v").isNotNull()).withColumn(
            "r", F.row_number().over(Window.partitionBy("g").orderBy("v")) - 1)
        picked = (ranked.join(wanted, "g")
                  .where((F.col("r") == F.col("at")) | (F.col("r") == F.col("at") + 1))
                  .select("g", "r", "v"))
        with quiet_pandas_warning():
            sizes = cast(pd.DataFrame, counts.toPandas()).sort_values("g", ignore_index=True)
            values_at = cast(pd.DataFrame, picked.toPandas())
    finally:
        rows.unpersist()
    keys = sizes["g"].to_numpy(dtype=np.int64)
    present = sizes["present"].to_numpy(dtype=np.int64)
    at_rank, frac = quantile_steps(present, q)
    group_at = np.searchsorted(keys, values_at["g"].to_numpy(dtype=np.int64))
    rank = values_at["r"].to_numpy(dtype=np.int64)
    taken = values_at["v"].to_numpy(dtype=np.float64)
    low, high = np.full(len(keys), np.nan), np.full(len(keys), np.nan)
    is_low = rank == at_rank[group_at]
    low[group_at[is_low]] = taken[is_low]
    high[group_at[~is_low]] = taken[~is_low]
    # a group whose lower value is its last has no higher one: frac is 0 there
    high = np.where(np.isnan(high), low, high)
    quantile = interpolated(low, high, frac)
    return (keys.astype(groups.dtype), np.where(present > 0, quantile, np.nan),
            sizes["size"].to_numpy(dtype=np.int64))
