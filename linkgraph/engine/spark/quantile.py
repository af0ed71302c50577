"""Exact per-group quantiles on Spark: the score stage's usual order amounts and coupon floors.

Not ``percentile_approx`` (an approximation, which would change decisions):
the quantile of pandas' linear interpolation needs, per group, the number of
its present (non-NaN) values ``p`` and the values ranked ``k + 1`` and
``k + 2`` in ascending order, where ``k = int(q * (p - 1))``. Spark counts
the rows and the present values per group (one ``groupBy``), numbers each
group's present values in order (a window ``row_number`` partitioned by
group) and keeps only those two ranks (a join with the counts, then one row per
group); at most two values and two counts per group come back. The last step, ``low + (high -
low) * frac``, is the local engine's own functions (``score.facts.quantile_steps``,
``interpolated``) on the same doubles, so the quantiles are equal bit for bit.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
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
    found = frame_quantiles(rows, ["g"], q).sort_values("g", ignore_index=True)
    return (found["g"].to_numpy(dtype=np.int64).astype(groups.dtype),
            found[QUANTILE].to_numpy(dtype=np.float64), found[SIZE].to_numpy(dtype=np.int64))


#: the columns :func:`frame_quantiles` adds to a group's keys
QUANTILE, SIZE = "quantile", "size"


def frame_quantiles(rows: DataFrame, keys: list[str], q: float, *, min_size: int = 0
                    ) -> pd.DataFrame:
    """Per group of the columns ``keys`` of ``rows`` (none of them null): the linear ``q``
    quantile of its values ``v`` (null and NaN are none; NaN when it has none) and its
    rows (NaN counted), as ``QUANTILE`` and ``SIZE``; a group of fewer than ``min_size``
    rows is left out. One row per group comes back."""
    # a NaN may cross as NaN or as null (Arrow's conversion): neither is a value here
    value = F.when(F.col("v").isNotNull() & ~F.isnan("v"), F.col("v"))
    rows = rows.select(*keys, value.alias("v")).cache()
    try:
        counts = rows.groupBy(*keys).agg(F.count(F.lit(1)).alias(SIZE),
                                         F.count("v").alias("present"))
        if min_size > 0:
            counts = counts.where(F.col(SIZE) >= min_size)
        # the rank (from 0) of the lower value: int() truncates, as Spark's cast does
        at = (F.lit(float(q)) * (F.col("present") - 1).cast("double")).cast("long")
        wanted = counts.where(F.col("present") > 0).select(*keys, at.alias("at"))
        ranked = rows.where(F.col("v").isNotNull()).withColumn(
            "r", F.row_number().over(Window.partitionBy(*keys).orderBy("v")) - 1)
        picked = (ranked.join(wanted, keys)
                  .where((F.col("r") == F.col("at")) | (F.col("r") == F.col("at") + 1))
                  .groupBy(*keys)
                  .agg(F.max(F.when(F.col("r") == F.col("at"), F.col("v"))).alias("low"),
                       F.max(F.when(F.col("r") == F.col("at") + 1, F.col("v"))).alias("high")))
        with quiet_pandas_warning():
            found = cast(pd.DataFrame, counts.join(picked, keys, "left").toPandas())
    finally:
        rows.unpersist()
    present = found["present"].to_numpy(dtype=np.int64)
    _, frac = quantile_steps(present, q)
    low = found["low"].to_numpy(dtype=np.float64, na_value=np.nan)
    high = found["high"].to_numpy(dtype=np.float64, na_value=np.nan)
    # a group whose lower value is its last has no higher one: frac is 0 there
    high = np.where(np.isnan(high), low, high)
    quantile = np.where(present > 0, interpolated(low, high, frac), np.nan)
    return found[keys].assign(**{QUANTILE: quantile,
                                 SIZE: found[SIZE].to_numpy(dtype=np.int64)})
