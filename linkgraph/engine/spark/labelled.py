"""Many labelled breadth-first searches on Spark: what a moderator saw when clearing.

The same search as ``linkgraph.sanctions._reach._labelled_reach``: per label a
start, a goal and a deadline; an edge serves a label when it is usable and its
age is below the label's deadline; a visited set per (label, node) holds the
start (so a label whose start is its goal is not found); the start is always
expanded, any other node only when passable, and the goal counts when reached,
passable or not. Each hop is one join of the frontier (label, node) with the
edges and the labels, the deadline filter, an anti-join with the visited
(label, node) pairs, and an anti-join with the nodes that may not be passed;
the visited set and the frontier are checkpointed every hop. Only the labels
whose goal was reached come back to the driver.
"""

from __future__ import annotations

from typing import cast

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from linkgraph.engine.spark.reach import closed_nodes
from linkgraph.engine.spark.session import quiet_pandas_warning


def labelled_reach(
    spark: SparkSession, tail: np.ndarray, head: np.ndarray, age: np.ndarray,
    starts: np.ndarray, goals: np.ndarray, deadlines: np.ndarray, *, passable: np.ndarray,
    max_hops: int,
) -> np.ndarray:
    """Per label ``i``, bool: ``goals[i]`` reached from ``starts[i]`` in at most
    ``max_hops`` of the directed edges ``tail -> head`` (the usable ones) whose
    ``age`` is below ``deadlines[i]``, through ``passable`` nodes only (the start aside).
    """
    n_labels = len(starts)
    found = np.zeros(n_labels, dtype=bool)
    deadlines = np.asarray(deadlines, dtype=np.int64)
    if n_labels == 0 or max_hops < 1:
        return found
    # an edge no label's deadline admits is never travelled
    keep = np.asarray(age, dtype=np.int64) < deadlines.max()
    if not keep.any():
        return found
    label = np.arange(n_labels, dtype=np.int64)
    with quiet_pandas_warning():
        edges = spark.createDataFrame(pd.DataFrame({
            "node": np.asarray(tail, dtype=np.int64)[keep],
            "head": np.asarray(head, dtype=np.int64)[keep],
            "age": np.asarray(age, dtype=np.int64)[keep]})).localCheckpoint(eager=True)
        labels = spark.createDataFrame(pd.DataFrame({
            "label": label, "goal": np.asarray(goals, dtype=np.int64),
            "deadline": deadlines})).localCheckpoint(eager=True)
        closed = closed_nodes(spark, passable, "node")
        frontier: DataFrame = spark.createDataFrame(pd.DataFrame({
            "label": label, "node": np.asarray(starts, dtype=np.int64)})).localCheckpoint(eager=True)
    # every (label, node) reached, with the hop (0: the starts, which are never "found")
    visited = frontier.withColumn("hop", F.lit(0).cast("long")).localCheckpoint(eager=True)
    for hop in range(1, max_hops + 1):
        reached = (frontier.join(labels.select("label", "deadline"), "label")
                   .join(edges, "node")
                   .where(F.col("age") < F.col("deadline"))
                   .select("label", F.col("head").alias("node"))
                   .distinct()
                   .join(visited.select("label", "node"), ["label", "node"], "left_anti")
                   .localCheckpoint(eager=True))
        visited = visited.unionByName(
            reached.withColumn("hop", F.lit(hop).cast("long"))).localCheckpoint(eager=True)
        if hop == max_hops:
            break
        frontier = (reached.join(closed, "node", "left_anti") if closed is not None
                    else reached).localCheckpoint(eager=True)
        if frontier.limit(1).count() == 0:
            break
    goal_reached = (visited.where(F.col("hop") > 0)
                    .join(labels, ["label"])
                    .where(F.col("node") == F.col("goal"))
                    .select("label").distinct())
    with quiet_pandas_warning():
        hit = cast(pd.DataFrame, goal_reached.toPandas())
    found[hit["label"].to_numpy(dtype=np.int64)] = True
    return found
