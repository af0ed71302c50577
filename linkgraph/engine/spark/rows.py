"""A row rule (a normaliser) run on Spark: once per distinct row, as a pandas UDF.

The rule is the normalize stage's own pandas function, shipped to the
executors with ``mapInPandas``; Spark only finds the distinct rows, runs the
rule on batches of them and joins the results back to every row. There is no
second, Spark SQL, copy of any normalisation rule to drift from the first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import cast

import numpy as np
import pandas as pd
from pyspark.sql import SparkSession
from pyspark.sql.types import LongType, StringType, StructField, StructType

from linkgraph.engine.spark.session import quiet_pandas_warning

_ROW = "_row"


def map_rows(
    spark: SparkSession, rule: Callable[[pd.DataFrame], pd.DataFrame], rows: pd.DataFrame
) -> pd.DataFrame:
    """``rule(rows)`` computed on Spark, indexed like ``rows``.

    The rule's result holds text columns (NA allowed); input columns that are
    not text reach the rule as their text (``5`` -> ``'5'``), as the
    normalisers read them anyway. The rule must be row-wise (a row's result
    depends on that row alone), which is what lets Spark run it on any batch
    of distinct rows.
    """
    probe = rule(rows.iloc[:1].reset_index(drop=True))
    if len(rows) == 0:
        return probe.iloc[:0].set_axis(rows.index)
    inputs = list(rows.columns)
    outputs = list(probe.columns)
    # result columns must not collide with input names in the join
    renamed = {c: f"_out_{i}" for i, c in enumerate(outputs)}
    text = StringType()
    in_schema = StructType([StructField(c, text) for c in inputs] + [StructField(_ROW, LongType())])
    out_schema = StructType([StructField(c, text) for c in inputs]
                            + [StructField(renamed[c], text) for c in outputs])

    def apply(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            given = batch[inputs].astype(object).where(batch[inputs].notna(), None)
            result = rule(given.reset_index(drop=True))
            out = result[outputs].astype(object).where(result[outputs].notna(), None)
            yield pd.concat([given.reset_index(drop=True),
                             out.reset_index(drop=True).rename(columns=renamed)], axis=1)

    local = pd.DataFrame({c: _text_objects(rows[c]) for c in inputs})
    local[_ROW] = np.arange(len(local), dtype=np.int64)
    with quiet_pandas_warning():
        frame = spark.createDataFrame(local, schema=in_schema)
    distinct = frame.select(*inputs).distinct()
    with quiet_pandas_warning():
        mapped = distinct.mapInPandas(apply, schema=out_schema)
    condition = [frame[c].eqNullSafe(mapped[c]) for c in inputs]
    joined = frame.join(mapped, on=condition, how="left").select(
        frame[_ROW], *(mapped[renamed[c]] for c in outputs))
    with quiet_pandas_warning():
        found = cast(pd.DataFrame, joined.toPandas())
    found = found.sort_values(_ROW, kind="stable").reset_index(drop=True)
    if len(found) != len(rows):
        raise RuntimeError(f"map_rows: {len(found)} results for {len(rows)} rows")
    result = pd.DataFrame({c: found[renamed[c]].astype(probe[c].dtype) for c in outputs})
    result.index = rows.index
    return result


def _text_objects(values: pd.Series) -> np.ndarray:
    """A column as Python strings and None (what Spark's StringType accepts)."""
    text = values.astype(object).astype(pd.StringDtype())
    return text.to_numpy(dtype=object, na_value=None)
