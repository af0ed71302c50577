"""Rows per key on Spark, with hub keys salted.

Identifier values are the skewed keys of this job: a carrier NAT address or
a parcel locker is shared by thousands of accounts while most values have
one or two. A key whose rows all meet in one task makes that task the run's
tail, so the keys that a sample shows to be heavy are split over
``salt_buckets`` sub-keys, counted, and the partial counts summed (a two-phase
aggregation); the light keys are counted once, unsalted.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from linkgraph.engine.spark.session import quiet_pandas_warning

_KEY, _SALT = "key", "salt"


def heavy_keys(rows: DataFrame, *, min_rows: int, sample_rows: int = 200_000,
               seed: int = 17) -> list[int]:
    """Keys holding (by a sample) at least ``min_rows`` rows: the ones to salt."""
    total = rows.count()
    if total <= min_rows:
        return []
    fraction = min(1.0, sample_rows / total)
    sampled = rows.sample(fraction=fraction, seed=seed) if fraction < 1.0 else rows
    counted = sampled.groupBy(_KEY).count().where(F.col("count") * (1.0 / fraction) >= min_rows)
    return sorted(int(row[_KEY]) for row in counted.select(_KEY).collect())


def count_keys(
    spark: SparkSession, keys: np.ndarray, n_keys: int, *, salt_buckets: int = 32,
    heavy_rows: int = 10_000,
) -> np.ndarray:
    """Rows per key ``0..n_keys-1`` (``np.bincount(keys, minlength=n_keys)``), int64.

    Keys with ``heavy_rows`` rows or more (estimated from a sample) are salted.
    """
    keys = np.asarray(keys, dtype=np.int64)
    counts = np.zeros(n_keys, dtype=np.int64)
    if len(keys) == 0:
        return counts
    with quiet_pandas_warning():
        rows = spark.createDataFrame(pd.DataFrame({_KEY: keys}))
    heavy = heavy_keys(rows, min_rows=heavy_rows)
    if heavy:
        salt = F.when(F.col(_KEY).isin(heavy), F.floor(F.rand(seed=7) * salt_buckets)).otherwise(0)
    else:
        salt = F.lit(0)
    partial = rows.withColumn(_SALT, salt.cast("int")).groupBy(_KEY, _SALT).agg(
        F.count(F.lit(1)).alias("n"))
    total = partial.groupBy(_KEY).agg(F.sum("n").alias("n"))
    with quiet_pandas_warning():
        found = cast(pd.DataFrame, total.toPandas())
    counts[found[_KEY].to_numpy(dtype=np.int64)] = found["n"].to_numpy(dtype=np.int64)
    return counts
