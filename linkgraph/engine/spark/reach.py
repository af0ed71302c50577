"""Bounded multi-source shortest paths on Spark: the sanctions stage's reach, hop by hop.

The same rule as ``linkgraph.sanctions._reach._reach``: breadth-first from
all sources at once, at most ``max_hops`` links; an account reached first at
hop h keeps, among its shortest paths, the one with the highest confidence
(compared at 9 decimals), then the smallest source, then the smallest
predecessor; accounts that may not be passed through (moderator-cleared) are
reached but not expanded. Each hop is one join of the new frontier with the
edge list, an anti-join with what is reached, and a windowed pick of the
best candidate per account; the reached set is checkpointed every hop.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from linkgraph.codes import sorted_unique
from linkgraph.engine.spark.session import quiet_pandas_warning

#: confidences are compared at this many decimals (as the local reach does:
#: numpy's round is rint(x * 10**d), which Spark's rint matches bit for bit)
_CONF_SCALE = 1e9


def closed_nodes(spark: SparkSession, passable: np.ndarray, column: str) -> DataFrame | None:
    """The nodes that may not be passed (``passable`` False) as a one-column frame, or
    None when every node may be passed (Spark infers no schema from an empty frame)."""
    closed = np.flatnonzero(~np.asarray(passable, dtype=bool)).astype(np.int64)
    return spark.createDataFrame(pd.DataFrame({column: closed})) if len(closed) else None


def bounded_reach(
    spark: SparkSession, n_nodes: int, tail: np.ndarray, head: np.ndarray, conf: np.ndarray,
    sources: np.ndarray, *, max_hops: int, expandable: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per node: hops (-1 unreached), source, predecessor (-1 for sources) and path confidence.

    ``tail -> head`` are the directed edges the action may travel, with
    confidences ``conf``; ``expandable[v]`` is False for nodes that may be
    reached but not passed through.
    """
    hops = np.full(n_nodes, -1, dtype=np.int16)
    source = np.full(n_nodes, -1, dtype=np.int64)
    pred = np.full(n_nodes, -1, dtype=np.int64)
    path_conf = np.zeros(n_nodes, dtype=np.float64)
    start = sorted_unique(np.asarray(sources, dtype=np.int64))
    hops[start], source[start], path_conf[start] = 0, start, 1.0
    if len(start) == 0 or len(tail) == 0 or max_hops < 1:
        return hops, source, pred, path_conf

    with quiet_pandas_warning():
        edges = spark.createDataFrame(pd.DataFrame({
            "tail": np.asarray(tail, dtype=np.int64), "head": np.asarray(head, dtype=np.int64),
            "edge_conf": np.asarray(conf, dtype=np.float64)})).localCheckpoint(eager=True)
        closed = closed_nodes(spark, expandable, "tail")
        reached = spark.createDataFrame(pd.DataFrame({
            "node": start, "hops": np.zeros(len(start), dtype=np.int64), "source": start,
            "pred": np.full(len(start), -1, dtype=np.int64),
            "conf": np.ones(len(start), dtype=np.float64)})).localCheckpoint(eager=True)
    best = Window.partitionBy("node").orderBy(
        F.rint(F.col("conf") * _CONF_SCALE).desc(), F.col("source"), F.col("pred"))
    for hop in range(1, max_hops + 1):
        frontier = (reached.where(F.col("hops") == hop - 1)
                    .select(F.col("node").alias("tail"), "source", F.col("conf").alias("tail_conf")))
        if closed is not None:
            frontier = frontier.join(closed, "tail", "left_anti")
        candidates = (frontier.join(edges, "tail")
                      .select(F.col("head").alias("node"), "source", F.col("tail").alias("pred"),
                              (F.col("tail_conf") * F.col("edge_conf")).alias("conf"))
                      .join(reached.select("node"), "node", "left_anti"))
        chosen = (candidates.withColumn("_rank", F.row_number().over(best))
                  .where(F.col("_rank") == 1)
                  .select("node", F.lit(hop).cast("long").alias("hops"), "source", "pred", "conf")
                  .localCheckpoint(eager=True))
        if chosen.limit(1).count() == 0:
            break
        reached = reached.union(chosen).localCheckpoint(eager=True)
    with quiet_pandas_warning():
        found = cast(pd.DataFrame, reached.where(F.col("hops") > 0).toPandas())
    nodes = found["node"].to_numpy(dtype=np.int64)
    hops[nodes] = found["hops"].to_numpy(dtype=np.int16)
    source[nodes] = found["source"].to_numpy(dtype=np.int64)
    pred[nodes] = found["pred"].to_numpy(dtype=np.int64)
    path_conf[nodes] = found["conf"].to_numpy(dtype=np.float64)
    return hops, source, pred, path_conf
