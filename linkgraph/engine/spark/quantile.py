"""Exact per-group quantiles on Spark: the score stage's usual order amounts and coupon floors.

Not ``percentile_approx``'s value (an approximation, which would change
decisions): the quantile of pandas' linear interpolation needs, per group,
the number of its present (non-NaN) values ``p`` and the values ranked
``k + 1`` and ``k + 2`` in ascending order, where ``k = int(q * (p - 1))``.
A small group is numbered in order whole (a window ``row_number`` per
group). A big one would be sorted whole on one task: ``percentile_approx``
only brackets its two ranks, exact counts place them in the bracket, and
only the few values strictly inside it are numbered (:func:`frame_quantiles`).
One row per group comes back. The last step, ``low + (high - low) * frac``,
is the local engine's own functions (``score.facts.quantile_steps``,
``interpolated``) on the same doubles, so the quantiles are equal bit for bit.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
from pyspark.sql import Column, DataFrame, SparkSession
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

#: ``percentile_approx``'s accuracy: the rank of the value it returns is within
#: ``present / _ACCURACY`` of the one asked for (Spark's bound). The bracket is
#: asked a little wider and checked exactly: a group it misses is ranked whole
_ACCURACY = 10_000
_MARGIN = 4 / _ACCURACY
#: a group of at most this many values is ranked whole (one task sorts it at once):
#: only bigger ones are bracketed, so that millions of small groups (one-time coupon
#: codes) cost no sketch each
_RANKED_WHOLE = 50_000
#: where a wanted rank lies against a group's bracket [lo, hi]
_BELOW, _AT_LO, _BETWEEN, _AT_HI = "below", "at_lo", "between", "at_hi"


def frame_quantiles(rows: DataFrame, keys: list[str], q: float, *, min_size: int = 0
                    ) -> pd.DataFrame:
    """Per group of the columns ``keys`` of ``rows`` (none of them null): the linear ``q``
    quantile of its values ``v`` (null and NaN are none; NaN when it has none) and its
    rows (NaN counted), as ``QUANTILE`` and ``SIZE``; a group of fewer than ``min_size``
    rows is left out. One row per group comes back.

    No big group is sorted whole on one task (a currency's orders are most of the
    orders): ``percentile_approx`` brackets the two wanted ranks of each group of more
    than ``_RANKED_WHOLE`` values, exact counts place them (below the bracket, at its
    ends, strictly inside), and only the values strictly inside a bracket are ranked,
    in a window per group. Smaller groups, and a group whose bracket misses a wanted
    rank, are ranked whole. Every value is an input value, at its exact rank.
    """
    # a NaN may cross as NaN or as null (Arrow's conversion): neither is a value here
    value = F.when(F.col("v").isNotNull() & ~F.isnan("v"), F.col("v"))
    rows = rows.select(*keys, value.alias("v")).cache()
    present_rows = rows.where(F.col("v").isNotNull())
    cached = [rows]
    try:
        counts = rows.groupBy(*keys).agg(F.count(F.lit(1)).alias(SIZE),
                                         F.count("v").alias("present"))
        if min_size > 0:
            counts = counts.where(F.col(SIZE) >= min_size)
        counts = counts.cache()
        cached.append(counts)
        # the big groups are few (at most one per _RANKED_WHOLE values): broadcast
        big = present_rows.join(
            F.broadcast(counts.where(F.col("present") > _RANKED_WHOLE).select(*keys)), keys)
        brackets = big.groupBy(*keys).agg(F.percentile_approx(
            "v", [max(q - _MARGIN, 0.0), min(q + _MARGIN, 1.0)], _ACCURACY).alias("approx"))
        brackets = brackets.select(*keys, F.col("approx")[0].alias("lo"),
                                   F.col("approx")[1].alias("hi")).cache()
        cached.append(brackets)
        v, lo, hi = F.col("v"), F.col("lo"), F.col("hi")

        def rows_where(condition: Column, name: str) -> Column:
            return F.count(F.when(condition, True)).alias(name)

        placed = big.join(F.broadcast(brackets), keys).groupBy(*keys).agg(
            F.max("lo").alias("lo"), F.max("hi").alias("hi"),
            rows_where(v < lo, _BELOW), rows_where(v == lo, _AT_LO),
            rows_where((v > lo) & (v < hi), _BETWEEN), rows_where((v == hi) & (hi > lo), _AT_HI))
        with quiet_pandas_warning():
            # a small group has no bracket: every wanted rank misses it, it is ranked whole
            found = cast(pd.DataFrame, counts.join(placed, keys, "left").toPandas())
        found = found.fillna({c: 0 for c in (_BELOW, _AT_LO, _BETWEEN, _AT_HI)})
        present = found["present"].to_numpy(dtype=np.int64)
        rank, frac = quantile_steps(present, q)
        # the higher value's rank: the lower one's when that is the last value (frac 0)
        ranks = (rank, np.minimum(rank + 1, np.maximum(present - 1, 0)))
        values, inside, missed = _placed_values(found, ranks)
        searched = _ranked(present_rows, keys, found, ranks, inside, missed)
    finally:
        for frame in cached:
            frame.unpersist()
    for which, (at, taken) in enumerate(searched):
        values[which][at] = taken
    quantile = np.where(present > 0, interpolated(values[0], values[1], frac), np.nan)
    return found[keys].assign(**{QUANTILE: quantile,
                                 SIZE: found[SIZE].to_numpy(dtype=np.int64)})


def _placed_values(found: pd.DataFrame, ranks: tuple[np.ndarray, np.ndarray]
                   ) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """For each wanted rank (per group, from 0 among its present values): its value where
    it is an end of the bracket (NaN elsewhere), its rank strictly inside the bracket (-1:
    not inside), and which groups the bracket misses (to be ranked whole)."""
    def column(name: str) -> np.ndarray:
        return found[name].to_numpy(dtype=np.int64)

    below, at_lo, between, at_hi = (column(c) for c in (_BELOW, _AT_LO, _BETWEEN, _AT_HI))
    lo = found["lo"].to_numpy(dtype=np.float64, na_value=np.nan)
    hi = found["hi"].to_numpy(dtype=np.float64, na_value=np.nan)
    present = column("present")
    values, inside = [], []
    missed = np.zeros(len(found), dtype=bool)
    for rank in ranks:
        from_lo = rank - below
        in_between = from_lo - at_lo
        from_hi = in_between - between
        values.append(np.where((from_lo >= 0) & (from_lo < at_lo), lo,
                               np.where((from_hi >= 0) & (from_hi < at_hi), hi, np.nan)))
        is_inside = (in_between >= 0) & (in_between < between)
        inside.append(np.where(is_inside, in_between, -1))
        missed |= (present > 0) & ((from_lo < 0) | (from_hi >= at_hi))
    return values, inside, missed


def _ranked(rows: DataFrame, keys: list[str], found: pd.DataFrame,
            ranks: tuple[np.ndarray, np.ndarray], inside: list[np.ndarray],
            missed: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per wanted rank, the groups (positions in ``found``) whose value had to be ranked
    and those values: the values strictly inside their bracket ranked (a group's few),
    or a missed group's values ranked whole."""
    inside = [np.where(missed, -1, at) for at in inside]
    wanted = missed | (inside[0] >= 0) | (inside[1] >= 0)
    if not wanted.any():
        return [(np.zeros(0, dtype=np.int64), np.zeros(0))] * 2
    chosen = np.flatnonzero(wanted)
    spark = rows.sparkSession
    targets = found.loc[chosen, keys].assign(
        _group=chosen, _whole=missed[chosen],
        _lo=found["lo"].to_numpy(dtype=np.float64, na_value=np.nan)[chosen],
        _hi=found["hi"].to_numpy(dtype=np.float64, na_value=np.nan)[chosen],
        _first=np.where(missed, ranks[0], inside[0])[chosen],
        _second=np.where(missed, ranks[1], inside[1])[chosen])
    with quiet_pandas_warning():
        wanted_frame = spark.createDataFrame(targets)
    v = F.col("v")
    kept = rows.join(wanted_frame, keys).where(
        F.col("_whole") | ((v > F.col("_lo")) & (v < F.col("_hi"))))
    ordered = kept.withColumn(
        "r", F.row_number().over(Window.partitionBy(*keys).orderBy("v")) - 1)
    picked = ordered.where((F.col("r") == F.col("_first")) | (F.col("r") == F.col("_second")))
    with quiet_pandas_warning():
        got = cast(pd.DataFrame, picked.select("_group", "r", "v", "_first", "_second")
                   .toPandas())
    out = []
    for name in ("_first", "_second"):
        mine = got[got["r"] == got[name]]
        out.append((mine["_group"].to_numpy(dtype=np.int64),
                    mine["v"].to_numpy(dtype=np.float64)))
    return out
