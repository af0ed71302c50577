"""The load stage's row checks on Spark's Arrow batches (for :mod:`.load`).

Every batch Spark reads goes through ``linkgraph.load``'s own ``parse_table``
and ``judge_table`` with the cross-row checks switched off; the batch comes
out as one frame of kept rows (typed, timestamps as int64 nanoseconds) and
reject rows, told apart by ``KIND``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    DataType,
    DoubleType,
    IntegerType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from linkgraph import schemas as s
from linkgraph.engine.spark.session import quiet_pandas_warning
from linkgraph.load._check import judge_table, parse_table
from linkgraph.load._read import RawTable, _conform

#: the row in its file; kept row or reject; Spark's corrupt-record column
ROW, KIND, CORRUPT = "_row", "_kind", "_corrupt"
#: a kept row's ``account_id`` / ``order_id`` as read, where it is not the kept value (null:
#: the same text); a reject quotes ``coalesce(raw, kept)``
RAW_ID, RAW_ORDER = "_raw_account_id", "_raw_order_id"
R_COLUMN, R_REASON, R_VALUE = "_reject_column", "_reject_reason", "_reject_value"
KEPT_ROW, REJECT = 0, 1


def probe_frame(raw: RawTable) -> pd.DataFrame:
    """The load stage's empty frame for a table of this shape (columns and dtypes)."""
    frame, _, _ = judge_table(parse_table(raw), np.full(raw.data.num_rows, -1), None)
    return frame


def judged_frame(spark: SparkSession, name: str, raw: DataFrame,
                 header: list[str]) -> tuple[DataFrame, pd.DataFrame]:
    """Each row judged by the load stage's row checks: kept rows typed, rejects as rows."""
    data_columns = [c for c in raw.columns if c not in (ROW, CORRUPT)]
    arrow_schema = _arrow_schema(raw.select(*(f"`{c}`" for c in data_columns)).schema,
                                 spark.conf.get("spark.sql.session.timeZone") or "UTC")
    empty = pa.table({f.name: pa.array([], type=f.type) for f in arrow_schema},
                     schema=arrow_schema)
    probe = probe_frame(RawTable(name, None, header, _conform(name, empty),
                                 np.zeros(0, np.int64), ()))
    fields = [StructField(KIND, IntegerType()), StructField(ROW, LongType())]
    fields += [StructField(c, spark_type(probe[c].dtype)) for c in probe.columns]
    fields += [StructField(c, StringType()) for c in (RAW_ID, RAW_ORDER, R_COLUMN, R_REASON,
                                                      R_VALUE)]
    out_schema = StructType(fields)
    columns = list(probe.columns)

    def judge(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows == 0:
                continue
            table = pa.Table.from_batches([batch])
            rows = np.asarray(table.column(ROW).to_numpy(), dtype=np.int64)
            data = table.select(data_columns).rename_columns(header)
            conformed = _conform(name, data)
            parsed = parse_table(RawTable(name, None, header, conformed, rows, ()))
            # the cross-row checks run on Spark over the whole table
            parsed = dataclasses.replace(parsed, order_codes=None)
            frame, rejects, keep = judge_table(parsed, np.full(len(rows), -1), None)
            yield _batch_out(frame, rejects, rows[keep], conformed.filter(pa.array(keep)),
                             columns, out_schema)

    good = raw.where(F.col(CORRUPT).isNull()) if CORRUPT in raw.columns else raw
    with quiet_pandas_warning():
        judged = good.select(ROW, *(f"`{c}`" for c in data_columns)).mapInArrow(
            judge, out_schema)
    if CORRUPT in raw.columns:
        bad = raw.where(F.col(CORRUPT).isNotNull()).select(
            F.lit(REJECT).alias(KIND), ROW, *(F.lit(None).cast(f.dataType).alias(f.name)
                                                 for f in fields[2:len(columns) + 2]),
            F.lit(None).cast("string").alias(RAW_ID), F.lit(None).cast("string").alias(RAW_ORDER),
            F.lit(None).cast("string").alias(R_COLUMN),
            F.lit("wrong number of fields").alias(R_REASON),
            F.regexp_replace(F.col(CORRUPT), r"[\r\n]+$", "").alias(R_VALUE))
        judged = judged.unionByName(bad)
    # not cached here: the load caches each table once, after its cross-row checks
    return judged.withColumn("_table", F.lit(name)), probe


def _batch_out(frame: pd.DataFrame, rejects: pd.DataFrame, rows: np.ndarray,
               conformed: pa.Table, columns: list[str], schema: StructType) -> pa.RecordBatch:
    """One output batch: the kept rows typed (then the rejects), in ``schema``."""
    n_kept, n_rejects = len(frame), len(rejects)
    out: dict[str, pa.Array] = {
        KIND: pa.array(np.r_[np.full(n_kept, KEPT_ROW), np.full(n_rejects, REJECT)],
                        pa.int32()),
        ROW: pa.array(np.r_[rows, rejects[s.ROW].to_numpy(dtype=np.int64)], pa.int64()),
    }
    for field in schema.fields[2:2 + len(columns)]:
        values = frame[field.name]
        if isinstance(values.dtype, pd.DatetimeTZDtype) or str(values.dtype).startswith(
                "datetime64"):
            kept = pa.array(values.dt.tz_convert("UTC").array.asi8 if isinstance(
                values.dtype, pd.DatetimeTZDtype) else values.array.asi8, pa.int64(),
                mask=values.isna().to_numpy())
        else:
            kept = _flat(pa.array(values, type=_arrow_type(field.dataType), from_pandas=True))
        out[field.name] = pa.concat_arrays([kept, pa.nulls(n_rejects, kept.type)])

    def raw_text(column: str) -> pa.Array:
        # the raw text where it is not the kept value (a trimmed id): most rows keep
        # none, so the cached rows do not hold every id twice (RAW_ID's note)
        if column in conformed.column_names and column in out:
            text = conformed.column(column).cast(pa.string()).combine_chunks()
            same = pc.fill_null(pc.equal(text, out[column].slice(0, n_kept)), False)
            text = pc.if_else(same, pa.scalar(None, pa.string()), text)
        else:
            text = pa.nulls(n_kept, pa.string())
        return pa.concat_arrays([text, pa.nulls(n_rejects, pa.string())])

    out[RAW_ID] = raw_text(s.ACCOUNT_ID)
    out[RAW_ORDER] = raw_text(s.ORDER_ID)
    for target, source in ((R_COLUMN, s.COLUMN), (R_REASON, s.REASON), (R_VALUE, s.VALUE)):
        given = _flat(pa.array(
            rejects[source].astype(object).where(rejects[source].notna(), None), pa.string()))
        out[target] = pa.concat_arrays([pa.nulls(n_kept, pa.string()), given])
    return pa.RecordBatch.from_pydict(out)


def _flat(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def spark_type(dtype: object) -> DataType:
    """How a column of the load stage's frame crosses Spark."""
    if str(dtype).startswith("datetime64"):
        return LongType()  # nanoseconds
    if pd.api.types.is_bool_dtype(dtype):
        return BooleanType()
    if pd.api.types.is_integer_dtype(dtype):
        return LongType()
    if pd.api.types.is_float_dtype(dtype):
        return DoubleType()
    return StringType()


def _arrow_type(spark_type: DataType) -> pa.DataType:
    for spark_class, arrow in ((LongType, pa.int64()), (DoubleType, pa.float64()),
                               (BooleanType, pa.bool_()), (IntegerType, pa.int32())):
        if isinstance(spark_type, spark_class):
            return arrow
    return pa.string()


def _arrow_schema(schema: StructType, timezone: str) -> pa.Schema:
    """The Arrow schema Spark hands ``mapInArrow`` for ``schema``."""
    from pyspark.sql.pandas.types import to_arrow_schema

    return cast(pa.Schema, to_arrow_schema(schema, timezone=timezone))


def typed_like(found: pd.DataFrame, probe: pd.DataFrame) -> pd.DataFrame:
    """Collected rows with the load stage's dtypes (nanoseconds back to UTC times)."""
    columns = {}
    for column in probe.columns:
        dtype = probe[column].dtype
        values = found[column]
        if str(dtype).startswith("datetime64"):
            # int64's minimum is NaT's bit pattern
            ns = values.astype("Int64").to_numpy(dtype="int64", na_value=np.iinfo(np.int64).min)
            stamps = pd.Series(ns.view("M8[ns]"))
            if isinstance(dtype, pd.DatetimeTZDtype):
                stamps = stamps.dt.tz_localize("UTC")
            columns[column] = stamps.astype(dtype)
        elif pd.api.types.is_string_dtype(dtype) or dtype == object:
            columns[column] = values.astype(object).where(values.notna(), None).astype(dtype)
        else:
            columns[column] = values.astype(dtype)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(found)))
