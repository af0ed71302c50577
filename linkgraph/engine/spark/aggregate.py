"""Per-group aggregates on Spark: the score stage's coupon features as group-bys.

One call is one job over one frame of ``key`` plus a column per aggregate:
counts, sums, maxima and distinct counts are one ``groupBy(key).agg`` (Spark
aggregates map-side first, so a giant cluster's rows are pre-summed in every
task and its key costs one row per task in the shuffle); the ``top_count``
aggregates are stacked into one long frame (aggregate, key, value) and
counted per value, then the largest count kept per key (two shuffles,
both partially aggregated map-side).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from linkgraph.engine.spark.session import quiet_pandas_warning

if TYPE_CHECKING:
    from linkgraph.engine import Aggregation

_KEY = "key"


def group_aggregate(
    spark: SparkSession, keys: np.ndarray, n_groups: int, aggregations: Mapping[str, Aggregation]
) -> dict[str, np.ndarray]:
    """Per group ``0..n_groups-1``, each aggregate (``linkgraph.engine.Aggregation``)."""
    keys = np.asarray(keys, dtype=np.int64)
    names = list(aggregations)
    column_of = {name: f"v{i}" for i, name in enumerate(names)}
    out: dict[str, np.ndarray] = {}
    frame = pd.DataFrame({_KEY: keys})
    for name, (op, values, fill) in aggregations.items():
        if op not in ("count", "sum", "max", "nunique", "top_count"):
            raise ValueError(f"unknown aggregate {op!r}: use count, sum, max, nunique or top_count")
        if op == "count":
            out[name] = np.zeros(n_groups, dtype=np.int64)
            continue
        if values is None:
            raise ValueError(f"aggregate {op!r} needs values")
        values = np.asarray(values)
        if op == "max" and values.dtype.kind == "f":
            out[name] = np.full(n_groups, fill, dtype=np.float64)
            frame[column_of[name]] = values.astype(np.float64, copy=False)
        else:
            out[name] = np.full(n_groups, fill if op == "max" else 0, dtype=np.int64)
            frame[column_of[name]] = values.astype(np.int64, copy=False)
    if len(keys) == 0:
        return out
    with quiet_pandas_warning():
        rows = spark.createDataFrame(frame)
    plain = {n: a for n, a in aggregations.items() if a.op != "top_count"}
    if plain:
        exprs = [_expression(a.op, column_of[n]).alias(column_of[n]) for n, a in plain.items()]
        found = _collect(rows.groupBy(_KEY).agg(*exprs))
        at = found[_KEY].to_numpy(dtype=np.int64)
        for name, aggregation in plain.items():
            got = found[column_of[name]]
            if aggregation.op == "max":
                current = out[name][at]
                out[name][at] = np.maximum(current, got.to_numpy(dtype=current.dtype))
            else:
                out[name][at] = got.to_numpy(dtype=np.int64)
    tops = [n for n, a in aggregations.items() if a.op == "top_count"]
    if tops:
        found = _collect(_top_counts(rows, [column_of[n] for n in tops]))
        for i, name in enumerate(tops):
            mine = found[found["which"] == i]
            out[name][mine[_KEY].to_numpy(dtype=np.int64)] = mine["n"].to_numpy(dtype=np.int64)
    return out


def _expression(op: str, column: str) -> Column:
    value = F.col(column)
    if op == "count":
        return F.count(F.lit(1))
    if op == "sum":
        return F.sum(value)
    if op == "max":
        return F.max(value)
    return F.count_distinct(F.when(value >= 0, value))


def _top_counts(rows: DataFrame, columns: list[str]) -> DataFrame:
    """Per (aggregate, key): the most rows sharing one non-negative value."""
    stacked = rows.select(_KEY, F.explode(F.array(*(
        F.struct(F.lit(i).alias("which"), F.col(c).alias("value"))
        for i, c in enumerate(columns)))).alias("s"))
    values = stacked.select("s.which", _KEY, "s.value").where(F.col("value") >= 0)
    counted = values.groupBy("which", _KEY, "value").agg(F.count(F.lit(1)).alias("n"))
    return counted.groupBy("which", _KEY).agg(F.max("n").alias("n"))


def _collect(frame: DataFrame) -> pd.DataFrame:
    with quiet_pandas_warning():
        return cast(pd.DataFrame, frame.toPandas())
