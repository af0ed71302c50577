"""The load stage on Spark: Spark's readers, the load stage's own checks.

Each table is read by Spark (CSV or Parquet, from any path Spark reads:
local, ``hdfs://``, ``s3a://``...) and its rows are numbered in read order
(file order for one file). The row checks are not written twice: each Arrow
batch goes through ``linkgraph.load``'s own ``parse_table`` and
``judge_table`` (trimming, timestamps, IPs, numbers, allowed values, first
failure wins) on the executors, with the cross-row checks switched off; those
run as Spark jobs over the whole table:

- unknown ``account_id``: a left join with the ids of the accepted accounts;
- duplicate ``account_id`` / ``order_id``: ``row_number`` over the id ordered
  by row, the first kept;
- a value ignored on an account row (bad ``created_at``) is reported only for
  rows that survive the duplicate check, as the load stage does.

:func:`read_tables` keeps the accepted rows and the rejects as Spark
DataFrames; :func:`load_tables` brings them back as the load stage's
:class:`~linkgraph.load.Tables` (same frames, same rejects, same reject limit);
asked for ``reduced`` tables, it first reduces logins, addresses and payments on
Spark to what the normalize stage reads of them (:func:`reduced_tables`), so
those rows never reach the driver whole.

CSV is read with ``multiLine`` (quoted line breaks, as the load stage allows),
which makes one task per file: for big inputs prefer Parquet (split by row
group). Known differences with the local reader, on broken files only: the
unclosed-quote and invalid-UTF-8 file errors are the local reader's; Spark
reads what it can. Timestamps in Parquet are read by Spark at microseconds.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

import pandas as pd
import pyarrow as pa
from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import (
    BooleanType,
    LongType,
    StringType,
    StructField,
    StructType,
)
from pyspark.sql.window import Window

from linkgraph import schemas as s
from linkgraph.config import CouponConfig, NormalizeConfig
from linkgraph.engine import GIVEN_FIRST, GIVEN_LAST
from linkgraph.engine.spark.identifiers import identifier_rows
from linkgraph.engine.spark.judge import (
    CORRUPT,
    KEPT_ROW,
    KIND,
    R_COLUMN,
    R_REASON,
    R_VALUE,
    RAW_ID,
    RAW_ORDER,
    REJECT,
    ROW,
    judged_frame,
    probe_frame,
    spark_type,
    typed_like,
)
from linkgraph.engine.spark.orders import order_summary
from linkgraph.engine.spark.ranges import numbered
from linkgraph.engine.spark.session import quiet_pandas_warning
from linkgraph.errors import InputError
from linkgraph.load import SourceFile, Tables
from linkgraph.load._check import KEPT
from linkgraph.load._read import (
    Unreadable,
    column_problems,
    csv_header,
    empty_table,
    find_files,
    sha256,
)
from linkgraph.load._tables import _check_reject_rates, _sorted_rejects
from linkgraph.normalize.text import as_text

logger = logging.getLogger(__name__)



@dataclass(frozen=True)
class SparkTables:
    """The accepted rows of every table and the rejects, as Spark DataFrames.

    ``tables[name]`` has the load stage's typed columns (timestamps as int64
    nanoseconds since the epoch, UTC) and ``_row``, the row in its file;
    ``rejects`` has ``schemas.REJECT_COLUMNS``; ``probes[name]`` is an empty
    pandas frame with the local load stage's columns and dtypes.
    """

    tables: dict[str, DataFrame]
    rejects: DataFrame
    probes: dict[str, pd.DataFrame]
    paths: dict[str, str]
    cached: tuple[DataFrame, ...] = ()

    def unpersist(self) -> None:
        """Free the cached intermediate frames (once the tables are collected or written)."""
        for frame in self.cached:
            frame.unpersist()


def load_tables(spark: SparkSession, data_dir: str | Path, *,
                max_reject_rate: float = 0.05, reduced: bool = False,
                orders: CouponConfig | None = None,
                identifiers: NormalizeConfig | None = None) -> Tables:
    """``linkgraph.load.load_tables`` with the reading and checking done by Spark.

    Args:
        spark: the session to run on.
        data_dir: a directory any Spark reader accepts (local, ``hdfs://``, ``s3a://``).
        max_reject_rate: the largest share of a table's rows that may be dropped.
        reduced: logins, addresses and payments reduced on Spark to what the normalize
            stage reads of them before they come to the driver (:func:`reduced_tables`).
        orders: with ``reduced``, the coupon settings the orders are read with: the
            orders then stay on Spark and their summary comes back instead, one row per
            account with orders (``Tables.order_facts``; ``orders.order_summary``).
        identifiers: with ``reduced``, the normalize stage's settings: the reduced
            logins, addresses and payments then stay on Spark and every kind's identifiers
            come back grouped instead (``Tables.identifier_rows``;
            ``identifiers.identifier_rows``).

    Returns:
        The load stage's :class:`~linkgraph.load.Tables`: equal frames, rejects and
        sources (a remote file's ``sha256`` is left empty: hashing it would read it twice);
        with ``reduced``, the three tables as ``Engine.load_tables`` describes.

    Raises:
        InputError: contract problems, every one listed.
        RejectLimitError: a table dropped more than ``max_reject_rate`` of its rows.
    """
    read = read_tables(spark, data_dir)
    tables, probes = (reduced_tables(read) if reduced else (read.tables, read.probes))
    frames: dict[str, pd.DataFrame] = {}
    accepted_of: dict[str, int] = {}
    summary = None
    grouped = None
    if reduced and identifiers is not None:
        for name in _REDUCED:
            if name in read.paths:
                # the accepted rows, counted on the cached table read (the rows its reduced
                # rows stand for: summing those would reduce the table once more here)
                accepted_of[name] = read.tables[name].count()
        present = {"accounts", *(name for name in _REDUCED if accepted_of.get(name))}
        grouped = identifier_rows(spark, tables, present, identifiers)
        logger.info("identifiers: %d rows of %d kinds to the driver",
                    sum(len(g.account) for g in grouped), len(grouped))
    if reduced and orders is not None and "orders" in read.paths:
        summary = order_summary(tables["orders"], orders)
        accepted_of["orders"] = int(summary[s.N_ORDERS].sum())
        logger.info("orders: %d accounts' summaries to the driver for %d accepted orders",
                    len(summary), accepted_of["orders"])
    for name in s.TABLE_NAMES:
        if name not in read.paths or (name == "orders" and summary is not None) or (
                name in _REDUCED and grouped is not None):
            # not supplied, summarised or grouped: the load stage's empty frame, no job
            frames[name] = read.probes[name]
            continue
        with quiet_pandas_warning():
            found = cast(pd.DataFrame, tables[name].toPandas())
        if _ROWS in found.columns:  # the accepted rows each reduced row stands for
            accepted_of[name] = int(found[_ROWS].sum())
            logger.info("%s: %d reduced rows to the driver for %d accepted", name, len(found),
                        accepted_of[name])
            found = found.drop(columns=_ROWS)
        found = found.sort_values(ROW, kind="stable", ignore_index=True)
        frames[name] = typed_like(found.drop(columns=ROW), probes[name])
    with quiet_pandas_warning():
        rejects = cast(pd.DataFrame, read.rejects.toPandas())
    rejects = _sorted_rejects([rejects.astype({s.ROW: "int64"})])
    sources = []
    dropped_of = rejects.loc[~rejects[s.REASON].str.endswith(KEPT)].groupby(s.TABLE).size()
    ignored_of = rejects.loc[rejects[s.REASON].str.endswith(KEPT)].groupby(s.TABLE).size()
    for name, path in read.paths.items():
        accepted = accepted_of.get(name, len(frames[name]))
        dropped = int(dropped_of.get(name, 0))
        size, digest = _size_and_digest(spark, path)
        sources.append(SourceFile(
            table=name, path=path, size=size, sha256=digest, rows_read=accepted + dropped,
            rows_accepted=accepted, rows_rejected=dropped,
            values_ignored=int(ignored_of.get(name, 0))))
        logger.info("%s: %d rows read, %d accepted, %d rejected (Spark)", path,
                    accepted + dropped, accepted, dropped)
    frames["accounts"] = frames["accounts"].sort_values(
        s.ACCOUNT_ID, kind="stable", ignore_index=True)
    read.unpersist()
    _check_reject_rates(sources, rejects, max_reject_rate)
    return Tables(**frames, rejects=rejects, sources=tuple(sources), order_facts=summary,
                  identifier_rows=grouped)



#: rows a reduced row stands for; an id the normalize stage's ``as_text`` finds usable
_ROWS, _USABLE = "_rows", "_usable"
#: the tables reduced, and the id column each loses (its only use: the order times)
_REDUCED = {"logins": s.SEEN_AT, "addresses": s.ADDRESS_ID, "payments": s.PAYMENT_ID}


def reduced_tables(read: SparkTables) -> tuple[dict[str, DataFrame], dict[str, pd.DataFrame]]:
    """``read``'s tables with logins, addresses and payments reduced to what the normalize
    stage reads of them, and the probes (columns and dtypes) of the reduced frames.

    Each reduced table has, per distinct row (the id or time column aside, left empty),
    its earliest and latest time in ``GIVEN_FIRST`` / ``GIVEN_LAST`` (int64 nanoseconds;
    null when none), ``_rows`` (the accepted rows it stands for) and ``_row`` (the first
    of them). The times are the sign-ins' (logins) or those of the orders of the same
    account with the row's ``address_id`` / ``payment_id`` (an id the normalize stage's
    own ``as_text`` finds blank matches no order, as in its ``_order_times``). The
    normalize stage groups its source rows per (account, canonical value) with the
    earliest first and the latest last time, so it gets the same identifiers from
    these rows as from all of them, its own rules applied to each distinct raw value.

    The orders lose ``address_id`` and ``payment_id`` (null): the times are their one
    reader. No stage after normalize reads the three reduced tables.
    """
    tables, probes = dict(read.tables), dict(read.probes)
    orders = read.tables["orders"]
    for name, dropped in _REDUCED.items():
        if name not in read.paths:
            continue
        table = read.tables[name]
        if name == "logins":
            timed = table.withColumn(GIVEN_FIRST, F.col(s.SEEN_AT)).withColumn(
                GIVEN_LAST, F.col(s.SEEN_AT))
        else:
            timed = _with_order_times(table, orders, dropped)
        tables[name] = _distinct_timed(timed, dropped)
        stamps = pd.Series(dtype="datetime64[ns, UTC]")
        probes[name] = probes[name].assign(**{GIVEN_FIRST: stamps, GIVEN_LAST: stamps})
    if "orders" in read.paths:
        tables["orders"] = orders.withColumns({
            c: F.lit(None).cast(orders.schema[c].dataType) for c in (s.ADDRESS_ID, s.PAYMENT_ID)})
    return tables, probes


def _with_order_times(table: DataFrame, orders: DataFrame, key: str) -> DataFrame:
    """``table`` with the first and last time (``GIVEN_FIRST`` / ``GIVEN_LAST``) an order
    of the same account used each row's ``key`` (null: never, or no time)."""
    times = (orders.where(F.col(key).isNotNull())
             .groupBy(s.ACCOUNT_ID, key)
             .agg(F.min(s.CREATED_AT).alias(GIVEN_FIRST), F.max(s.CREATED_AT).alias(GIVEN_LAST)))
    flagged = _flag_usable(table, key)
    joined = flagged.join(times, [s.ACCOUNT_ID, key], "left")
    return joined.select(*table.columns, *(F.when(F.col(_USABLE), F.col(c)).alias(c)
                                           for c in (GIVEN_FIRST, GIVEN_LAST)))


def _flag_usable(table: DataFrame, key: str) -> DataFrame:
    """``_USABLE``: ``key`` is not blank to the normalize stage (its ``as_text``, on the
    executors: one definition of a blank id)."""
    schema = StructType([*table.schema.fields, StructField(_USABLE, BooleanType())])

    def flag(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            ids = batch.column(key).to_pandas()
            usable = pa.array(as_text(ids).notna().to_numpy(dtype=bool))
            yield pa.RecordBatch.from_arrays([*batch.columns, usable],
                                             names=[*batch.schema.names, _USABLE])

    return table.mapInArrow(flag, schema)


def _distinct_timed(table: DataFrame, dropped: str) -> DataFrame:
    """One row per distinct row of ``table`` (``dropped`` and the times aside), with the
    earliest ``GIVEN_FIRST``, the latest ``GIVEN_LAST``, ``_rows`` and the first ``_row``;
    ``dropped`` left null. Spark's ``min`` / ``max`` skip nulls (unknown times), as the
    normalize stage's reductions do."""
    keys = [c for c in table.columns if c not in (ROW, dropped, GIVEN_FIRST, GIVEN_LAST)]
    grouped = table.groupBy(*keys).agg(
        F.min(ROW).alias(ROW), F.min(GIVEN_FIRST).alias(GIVEN_FIRST),
        F.max(GIVEN_LAST).alias(GIVEN_LAST), F.count(F.lit(1)).alias(_ROWS))
    columns = [F.lit(None).cast(table.schema[c].dataType).alias(c) if c == dropped else F.col(c)
               for c in table.columns if c not in (GIVEN_FIRST, GIVEN_LAST)]
    return grouped.select(*columns, GIVEN_FIRST, GIVEN_LAST, _ROWS)


def read_tables(spark: SparkSession, data_dir: str | Path) -> SparkTables:
    """Every input table of ``data_dir`` read and checked as Spark DataFrames.

    Raises:
        InputError: contract problems (a missing table or column, an unreadable
            file), every one listed, as the load stage words them.
    """
    paths, problems = _find(spark, str(data_dir))
    raw: dict[str, DataFrame] = {}
    headers: dict[str, list[str]] = {}
    for name, path in paths.items():
        try:
            raw[name], headers[name] = _read(spark, name, path)
        except _Unreadable as e:
            problems.append(str(e))
            continue
        problems.extend(column_problems(name, _file_name(path), headers[name]))
    if problems:
        raise InputError("\n".join(problems))

    judged: dict[str, DataFrame] = {}
    probes: dict[str, pd.DataFrame] = {}
    for name in s.TABLE_NAMES:
        if name not in raw:
            probes[name] = probe_frame(empty_table(name))
            continue
        judged[name], probes[name] = judged_frame(spark, name, raw[name], headers[name])

    # each table is cached once (lazily: its first job fills it), its kept rows and rejects
    # together after the cross-row checks: the rejects, the tables and the other tables'
    # unknown-account checks read it again
    rejects: list[DataFrame] = []
    tables: dict[str, DataFrame] = {}
    # the duplicate checks rank kept rows only: a reject row (no ids) is a window of its
    # own (kept rows' ``alone`` is null), so that a bad export's many rejects are not one
    # task's sort
    alone = F.when(F.col(KIND) == REJECT, F.col(ROW))
    first = Window.partitionBy(s.ACCOUNT_ID, alone).orderBy(ROW)
    ranked = judged["accounts"].withColumn("_n", F.row_number().over(first)).cache()
    cached = [*raw.values(), ranked]
    alive = ranked.where(F.col(KIND) == KEPT_ROW)
    rejects.append(_rejects(alive.where(F.col("_n") > 1), s.ACCOUNT_ID,
                            "duplicate account_id", RAW_ID))
    survivors = alive.where(F.col("_n") == 1).drop("_n")
    tables["accounts"] = survivors
    own = ranked.where(F.col(KIND) == REJECT)
    ignored = own.where(F.col(R_REASON).endswith(KEPT))
    rejects += [_reported(own.where(~F.col(R_REASON).endswith(KEPT))),
                # a value ignored on a row the duplicate check drops is not reported
                _reported(ignored.join(survivors.select(ROW), ROW, "left_semi"))]
    known = survivors.select(s.ACCOUNT_ID, F.lit(True).alias("_known"))

    for name in s.TABLE_NAMES[1:]:
        if name not in judged:
            continue
        # a reject row has no account_id: it meets no known account
        table = judged[name].join(known, s.ACCOUNT_ID, "left")
        if name == "orders":
            # the duplicate check counts only kept rows with a known account
            by_order = Window.partitionBy(s.ORDER_ID, F.col("_known").isNull(), alone
                                          ).orderBy(ROW)
            table = table.withColumn("_n", F.row_number().over(by_order))
        table = table.cache()
        cached.append(table)
        rejects.append(_reported(table.where(F.col(KIND) == REJECT)))
        kept = table.where(F.col(KIND) == KEPT_ROW)
        rejects.append(_rejects(kept.where(F.col("_known").isNull()), s.ACCOUNT_ID,
                                "unknown account_id", RAW_ID))
        kept = kept.where(F.col("_known").isNotNull()).drop("_known")
        if name == "orders":
            rejects.append(_rejects(kept.where(F.col("_n") > 1), s.ORDER_ID,
                                    "duplicate order_id", RAW_ORDER))
            kept = kept.where(F.col("_n") == 1).drop("_n")
        tables[name] = kept
    for name in s.TABLE_NAMES:
        if name in tables:
            columns = [ROW, *probes[name].columns]
            tables[name] = tables[name].select(*columns)
        else:
            tables[name] = _empty_frame(spark, probes[name])
    union = rejects[0]
    for more in rejects[1:]:
        union = union.unionByName(more)
    return SparkTables(tables=tables, rejects=union, probes=probes, paths=paths,
                       cached=tuple(cached))


class _Unreadable(Exception):
    """A table Spark cannot read; the message is the user's."""


def _is_local(path: str) -> bool:
    return urlparse(path).scheme in ("", "file")


def _local_path(path: str) -> Path:
    parsed = urlparse(path)
    return Path(parsed.path if parsed.scheme == "file" else path)


def _file_name(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _find(spark: SparkSession, data_dir: str) -> tuple[dict[str, str], list[str]]:
    """The table files of ``data_dir`` (the load stage's rules and messages)."""
    if _is_local(data_dir):
        found, problems = find_files(_local_path(data_dir))
        return {name: str(path) for name, path in found.items()}, problems
    jvm: Any = spark.sparkContext._jvm
    conf: Any = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    root = jvm.org.apache.hadoop.fs.Path(data_dir)
    fs = root.getFileSystem(conf)
    if not fs.exists(root):
        raise InputError(f"data directory {data_dir} does not exist or is not a directory.")
    paths: dict[str, str] = {}
    missing: list[str] = []
    for name in s.TABLE_NAMES:
        there = [f"{data_dir.rstrip('/')}/{name}.{ext}" for ext in ("csv", "parquet")]
        there = [p for p in there if fs.exists(jvm.org.apache.hadoop.fs.Path(p))]
        if len(there) == 2:
            missing.append(f"{name}.csv and {name}.parquet are both in {data_dir}: "
                           "keep only one of them.")
        elif there:
            paths[name] = there[0]
        elif name == "accounts":
            missing.append(f"no accounts table in {data_dir}: expected accounts.csv or "
                           "accounts.parquet (it is the one required table).")
    return paths, missing


def _size_and_digest(spark: SparkSession, path: str) -> tuple[int, str]:
    """Size and SHA-256 of a local file; a remote one is not hashed (it would be read twice)."""
    if _is_local(path) and _local_path(path).is_file():
        local = _local_path(path)
        return local.stat().st_size, sha256(local)
    jvm: Any = spark.sparkContext._jvm
    conf: Any = spark.sparkContext._jsc.hadoopConfiguration()  # type: ignore[union-attr]
    hadoop = jvm.org.apache.hadoop.fs.Path(path)
    return int(hadoop.getFileSystem(conf).getContentSummary(hadoop).getLength()), ""


def _read(spark: SparkSession, name: str, path: str) -> tuple[DataFrame, list[str]]:
    """The table as Spark reads it, numbered (``_row``, from 1), and its header."""
    try:
        if path.endswith(".parquet"):
            frame = spark.read.parquet(path)
            header = list(frame.columns)
            if len(frame.inputFiles()) == 1:
                # the file's own row numbers: no pass over the data to number them
                return frame.withColumn(ROW, (F.col("_metadata.row_index") + 1).cast("long")), \
                    header
        else:
            if _is_local(path):
                try:
                    header = csv_header(_local_path(path))
                except Unreadable as e:
                    raise _Unreadable(str(e)) from e
            else:
                header = spark.read.options(header=True, multiLine=True, escape='"').csv(
                    path).columns
            schema = StructType([StructField(c, StringType()) for c in header]
                                + [StructField(CORRUPT, StringType())])
            frame = (spark.read.schema(schema)
                     .options(header=True, multiLine=True, escape='"', mode="PERMISSIVE",
                              columnNameOfCorruptRecord=CORRUPT, encoding="UTF-8")
                     .csv(path))
            # an empty quoted field is missing, as for the local reader
            frame = frame.select(*(F.when(F.col(f"`{c}`") == "", None)
                                   .otherwise(F.col(f"`{c}`")).alias(c) for c in header),
                                 CORRUPT)
    except PySparkException as e:
        raise _Unreadable(f"{_file_name(path)} cannot be read by Spark: {e}") from e
    return _numbered(frame), header


def _numbered(frame: DataFrame) -> DataFrame:
    """``_row``: 1, 2, ... in read order (a zipWithIndex: one count per partition).

    For CSV, and for a Parquet table given as a directory of files (one
    Parquet file is numbered by Spark's ``_metadata.row_index``).

    A CSV file read with ``multiLine`` is one partition: its rows are numbered
    as read, with no extra job.
    """
    if frame.rdd.getNumPartitions() == 1:
        # cached: the file is parsed once (and Spark refuses queries on the corrupt
        # record column of an uncached CSV scan)
        return frame.withColumn(ROW, (F.monotonically_increasing_id() + 1).cast("long")).cache()
    return numbered(frame, ROW).withColumn(ROW, F.col(ROW) + 1)


def _rejects(rows: DataFrame, column: str, reason: str, raw: str) -> DataFrame:
    """Kept rows rejected by a cross-row check of ``column``, quoting its text as read."""
    return rows.select(F.col("_table").alias(s.TABLE), F.col(ROW).alias(s.ROW),
                       F.lit(column).alias(s.COLUMN), F.lit(reason).alias(s.REASON),
                       F.coalesce(F.col(raw), F.col(column)).alias(s.VALUE))


def _reported(rows: DataFrame) -> DataFrame:
    return rows.select(F.col("_table").alias(s.TABLE), F.col(ROW).alias(s.ROW),
                       F.col(R_COLUMN).alias(s.COLUMN), F.col(R_REASON).alias(s.REASON),
                       F.col(R_VALUE).alias(s.VALUE))


def _empty_frame(spark: SparkSession, probe: pd.DataFrame) -> DataFrame:
    schema = StructType([StructField(ROW, LongType())]
                        + [StructField(c, spark_type(probe[c].dtype)) for c in probe.columns])
    return spark.createDataFrame([], schema)
