"""Connected components on Spark DataFrames: alternating large-star / small-star.

Kiveris, Lattanzi, Mirrokni, Rastogi, Vassilvitskii, "Connected Components in
MapReduce and Beyond" (SoCC 2014). Every round is two windowed minimums and
two distincts over the edge list (four shuffles); the edges converge to one
star per component whose centre is the component's smallest node. A round
reads its input several times, so without a cut the logical plan grows
geometrically: the edge frame is checkpointed every round (a local
checkpoint cuts the plan; every few rounds a reliable one, to the session's
checkpoint directory, also cuts the lineage a lost executor would recompute).
"""

from __future__ import annotations

import logging
from typing import cast

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from linkgraph.engine.spark.session import quiet_pandas_warning

logger = logging.getLogger(__name__)

_U, _V, _M = "u", "v", "m"


def _large_star(edges: DataFrame) -> DataFrame:
    """Each node u links every larger neighbour to min(u, neighbours of u)."""
    both = edges.union(edges.select(F.col(_V).alias(_U), F.col(_U).alias(_V)))
    # a window, not a group-by and a join: one shuffle by u for both
    smallest = F.least(F.min(_V).over(Window.partitionBy(_U)), F.col(_U))
    return (both.select(_U, _V, smallest.alias(_M)).where(F.col(_V) > F.col(_U))
            .select(F.col(_V).alias(_U), F.col(_M).alias(_V)).distinct())


def _small_star(edges: DataFrame) -> DataFrame:
    """Each node u links itself and its smaller neighbours to the smallest of them."""
    down = edges.select(F.greatest(_U, _V).alias(_U), F.least(_U, _V).alias(_V)).where(
        F.col(_U) != F.col(_V))
    marked = down.select(_U, _V, F.min(_V).over(Window.partitionBy(_U)).alias(_M))
    return (marked.select(F.col(_U), F.col(_M).alias(_V))
            .union(marked.where(F.col(_V) != F.col(_M)).select(F.col(_V).alias(_U),
                                                               F.col(_M).alias(_V)))
            .distinct())


def _fingerprint(edges: DataFrame) -> tuple[int, int, int]:
    row = edges.agg(F.count(F.lit(1)), F.sum(F.col(_U).cast("decimal(38,0)")),
                    F.sum(F.col(_V).cast("decimal(38,0)"))).first()
    assert row is not None
    return int(row[0]), int(row[1] or 0), int(row[2] or 0)


def _is_stars(edges: DataFrame) -> bool:
    """Every node has at most one parent and no parent has a parent: one star per component."""
    parents = edges.groupBy(_U).agg(F.count(F.lit(1)).alias("n"))
    several = parents.where(F.col("n") > 1).limit(1).count()
    if several:
        return False
    chained = edges.select(F.col(_V).alias(_U)).distinct().join(parents, _U).limit(1).count()
    return chained == 0


def connected_components(
    spark: SparkSession, n_nodes: int, src: np.ndarray, dst: np.ndarray, *,
    checkpoint_every: int = 3, max_rounds: int = 200,
) -> np.ndarray:
    """Component label per node ``0..n_nodes-1``, numbered by smallest member.

    Only the nodes that have an edge go to Spark; the labels of the others are
    their own. The (node, centre) pairs of the final stars come back.

    Raises:
        RuntimeError: no convergence in ``max_rounds`` rounds (the algorithm
            needs O(log^2 n) rounds; this is a bug, not an input problem).
    """
    src = np.asarray(src, dtype=np.int64)
    dst = np.asarray(dst, dtype=np.int64)
    lo, hi = np.minimum(src, dst), np.maximum(src, dst)
    keep = lo != hi
    root = np.arange(n_nodes, dtype=np.int64)
    if keep.any():
        pairs = pd.DataFrame({_U: hi[keep], _V: lo[keep]}).drop_duplicates()
        with quiet_pandas_warning():
            edges = spark.createDataFrame(pairs).localCheckpoint(eager=True)
        previous = _fingerprint(edges)
        rounds = 0
        while True:
            rounds += 1
            if rounds > max_rounds:
                raise RuntimeError(f"large/small-star did not converge in {max_rounds} rounds")
            step = _small_star(_large_star(edges))
            # each round reads its input several times: without cutting the plan
            # it grows geometrically; a local checkpoint cuts it, a reliable one
            # every few rounds also survives a lost executor
            reliable = rounds % checkpoint_every == 0
            step = step.checkpoint(eager=True) if reliable else step.localCheckpoint(eager=True)
            current = _fingerprint(step)
            edges.unpersist()
            edges = step
            if current == previous and _is_stars(edges):
                break
            previous = current
        logger.info("spark components: %d edges converged in %d rounds", int(keep.sum()), rounds)
        with quiet_pandas_warning():
            stars = cast(pd.DataFrame, edges.toPandas())
        edges.unpersist()
        root[stars[_U].to_numpy(dtype=np.int64)] = stars[_V].to_numpy(dtype=np.int64)
    # centres are the smallest members: ranking them gives scipy's numbering
    _, labels = np.unique(root, return_inverse=True)
    return labels.astype(np.int64)
