"""The orders' summary on Spark: what the graph and score stages read of the orders.

The orders are the largest table at marketplace scale, and the stages read
them per account (``linkgraph.score.order_summary``): orders, coupon orders,
welcome and new-user orders, large orders, the last order, new-user orders
just above their coupon's minimum. So the orders stay on Spark and one row per
account with orders comes back instead of every order:

1. each Arrow batch of orders goes through the score stage's own reading of an
   order (``score.facts.order_words``, ``days``, ``graph.profiles.welcome_orders``)
   in a ``mapInArrow``: its coupon and currency as text keys, its amount, time
   and flags;
2. the two small tables the rules need, exact quantiles per group on Spark
   (``quantile.frame_quantiles``): the usual order per currency (the
   small-order limit) and the floor per coupon and currency (only the
   coupons with enough orders to show one come back);
3. the tables joined to the orders (the currencies' broadcast), each order
   judged by the stage's own rules (``large_orders``, ``near_floor``) in a
   second ``mapInArrow``, then one ``groupBy(account_id)`` (partial
   aggregation map-side: an account of many orders costs one row per task in
   the shuffle).

A coupon's key is its code, else its type (``c`` / ``t`` before the text); a
missing currency is the empty text, which no currency is (the score trims
them and reads a blank one as none).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import cast

import numpy as np
import pandas as pd
import pyarrow as pa
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.pandas.types import to_arrow_schema
from pyspark.sql.types import BooleanType, DoubleType, StringType, StructField, StructType

from linkgraph import schemas as s
from linkgraph.config import CouponConfig
from linkgraph.engine.spark.quantile import QUANTILE, SIZE, frame_quantiles
from linkgraph.engine.spark.session import quiet_pandas_warning
from linkgraph.graph.profiles import welcome_orders
from linkgraph.score.facts import (
    coupon_floors,
    days,
    large_orders,
    near_floor,
    order_words,
)

_WHEN, _CURRENCY, _COUPON, _LIMIT, _FLOOR = "_when", "_currency", "_coupon", "_limit", "_floor"
_NEW_USER, _HAS_COUPON, _WELCOME, _LARGE, _NEAR = "_new_user", "_coupon_used", "_welcome", \
    "_large", "_near"
#: what the score reads of the orders (the rest of the table is left on Spark)
_READ = (s.ACCOUNT_ID, s.CREATED_AT, s.AMOUNT, s.CURRENCY, s.COUPON_CODE, s.COUPON_TYPE)

_WORDS = StructType([
    StructField(s.ACCOUNT_ID, StringType()), StructField(_WHEN, DoubleType()),
    StructField(s.AMOUNT, DoubleType()), StructField(_CURRENCY, StringType()),
    StructField(_COUPON, StringType()), StructField(_NEW_USER, BooleanType()),
    StructField(_HAS_COUPON, BooleanType()), StructField(_WELCOME, BooleanType()),
])
_JUDGED = StructType([
    StructField(s.ACCOUNT_ID, StringType()), StructField(_WHEN, DoubleType()),
    *(StructField(flag, BooleanType())
      for flag in (_NEW_USER, _HAS_COUPON, _WELCOME, _LARGE, _NEAR)),
])


def order_summary(orders: DataFrame, config: CouponConfig) -> pd.DataFrame:
    """``linkgraph.score.order_summary`` of the Spark frame ``orders`` (the load's:
    timestamps as int64 nanoseconds), sorted by account id.

    Raises:
        ValueError: ``orders`` has no ``account_id``.
    """
    if s.ACCOUNT_ID not in orders.columns:
        raise ValueError("the orders have no account_id")
    spark = orders.sparkSession
    # a column the frame lacks reads as missing (the load's frames have every one)
    read = orders.select(*(F.col(c) if c in orders.columns else F.lit(None).cast(
        "long" if c == s.CREATED_AT else "double" if c == s.AMOUNT else "string").alias(c)
        for c in _READ))
    words = read.mapInArrow(_words(config), _WORDS).cache()
    try:
        if config.small_order_amount is None:
            limits = frame_quantiles(words.select(_CURRENCY, F.col(s.AMOUNT).alias("v")),
                                     [_CURRENCY], config.small_order_quantile)
            with quiet_pandas_warning():
                limit_frame = spark.createDataFrame(
                    limits[[_CURRENCY, QUANTILE]].rename(columns={QUANTILE: _LIMIT}),
                    StructType([StructField(_CURRENCY, StringType()),
                                StructField(_LIMIT, DoubleType())]))
            judged = words.join(F.broadcast(limit_frame), _CURRENCY, "left")
        else:
            judged = words.withColumn(_LIMIT, F.lit(float(config.small_order_amount)))
        usable = words.where(F.col(_COUPON).isNotNull() & F.col(s.AMOUNT).isNotNull()
                             & ~F.isnan(s.AMOUNT))
        floors = frame_quantiles(usable.select(_COUPON, _CURRENCY, F.col(s.AMOUNT).alias("v")),
                                 [_COUPON, _CURRENCY], config.near_min_quantile,
                                 min_size=config.near_min_min_orders)
        floors[_FLOOR] = coupon_floors(floors[QUANTILE].to_numpy(), floors[SIZE].to_numpy(),
                                       config=config)
        with quiet_pandas_warning():
            floor_frame = spark.createDataFrame(floors[[_COUPON, _CURRENCY, _FLOOR]], StructType([
                StructField(_COUPON, StringType()), StructField(_CURRENCY, StringType()),
                StructField(_FLOOR, DoubleType())]))
        judged = judged.join(floor_frame, [_COUPON, _CURRENCY], "left")
        flagged = judged.select(s.ACCOUNT_ID, _WHEN, s.AMOUNT, _NEW_USER, _HAS_COUPON, _WELCOME,
                                _LIMIT, _FLOOR).mapInArrow(_judged(config), _JUDGED)

        def total(flag: str) -> F.Column:
            return F.sum(F.col(flag).cast("long"))

        per_account = flagged.groupBy(s.ACCOUNT_ID).agg(
            F.count(F.lit(1)).alias(s.N_ORDERS), total(_HAS_COUPON).alias(s.O_COUPON),
            total(_WELCOME).alias(s.O_WELCOME), total(_NEW_USER).alias(s.O_NEW_USER),
            total(_LARGE).alias(s.O_LARGE), F.max(_WHEN).alias(s.O_LAST),
            total(_NEAR).alias(s.O_NEAR_MIN))
        with quiet_pandas_warning():
            found = cast(pd.DataFrame, per_account.toPandas())
    finally:
        words.unpersist()
    found = found.sort_values(s.ACCOUNT_ID, ignore_index=True).loc[
        :, list(s.ORDER_SUMMARY_COLUMNS)]
    return found.astype({c: np.int64 for c in s.ORDER_SUMMARY_COLUMNS
                         if c not in (s.ACCOUNT_ID, s.O_LAST)} | {s.O_LAST: np.float64})


def _words(config: CouponConfig) -> Callable[[Iterator[pa.RecordBatch]],
                                             Iterator[pa.RecordBatch]]:
    """The score's reading of each order of a batch (``order_words``), with text keys."""
    def read(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            at = batch.schema.get_field_index(s.CREATED_AT)
            stamps = batch.column(at).cast(pa.int64()).cast(pa.timestamp("ns", tz="UTC"))
            frame = batch.set_column(at, s.CREATED_AT, stamps).to_pandas()
            words = order_words(frame, config=config)
            when = days(frame[s.CREATED_AT])
            when = np.where(np.isnan(when), -np.inf, when)  # unknown: never the last
            currency = np.array(["", *words.currencies], dtype=object)[words.currency]
            keys = np.array([*("c" + c for c in words.codes), *("t" + t for t in words.types),
                             None], dtype=object)
            no_coupon = len(keys) - 1
            coupon = words.coupon.astype(np.int64)
            key_at = np.where(coupon >= 0, coupon,
                              np.where(coupon <= -2, len(words.codes) - 2 - coupon, no_coupon))
            yield pa.RecordBatch.from_arrays([
                batch.column(batch.schema.get_field_index(s.ACCOUNT_ID)).cast(pa.string()),
                pa.array(when, pa.float64()),
                pa.array(words.amount, pa.float64(), from_pandas=True),
                pa.array(currency, pa.string()), pa.array(keys[key_at], pa.string()),
                pa.array(words.new_user), pa.array(words.has_coupon),
                pa.array(welcome_orders(frame)),
            ], schema=_WORDS_ARROW)

    return read


def _judged(config: CouponConfig) -> Callable[[Iterator[pa.RecordBatch]],
                                              Iterator[pa.RecordBatch]]:
    """Each order of a batch judged large and near its coupon's minimum, by the score's
    own rules, against its currency's limit and its coupon's floor (null: none)."""
    def judge(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            amount, limit, floor = (_numbers(batch, c) for c in (s.AMOUNT, _LIMIT, _FLOOR))
            new_user = batch.column(batch.schema.get_field_index(_NEW_USER))
            near = np.asarray(new_user.to_numpy(zero_copy_only=False), dtype=bool) \
                & near_floor(amount, floor, config=config)
            yield pa.RecordBatch.from_arrays([
                *(batch.column(batch.schema.get_field_index(c))
                  for c in (s.ACCOUNT_ID, _WHEN, _NEW_USER, _HAS_COUPON, _WELCOME)),
                pa.array(large_orders(amount, limit)), pa.array(near),
            ], schema=_JUDGED_ARROW)

    return judge


def _numbers(batch: pa.RecordBatch, name: str) -> np.ndarray:
    """The column ``name`` of ``batch`` as float64 (NaN for null)."""
    array = batch.column(batch.schema.get_field_index(name))
    return np.asarray(array.to_numpy(zero_copy_only=False), dtype=np.float64)


#: the batches' Arrow schemas, as Spark converts the two (pyspark's own conversion)
_WORDS_ARROW, _JUDGED_ARROW = to_arrow_schema(_WORDS), to_arrow_schema(_JUDGED)
