"""Running positions over a whole frame, a partition at a time.

A global running count (a row's place in read order, a key's place in a
global sort) needs, per partition, the total of the partitions before it:
one small number per partition comes to the driver and goes back as a map
column. No window spans the whole frame (which would put it on one task).
"""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def before_partition(frame: DataFrame, part: str, amount: Column) -> Column:
    """Per row of ``frame`` (its partition's number in the column ``part``; checkpointed,
    so that the partitions read are those counted), the total of ``amount`` (an
    aggregate) over the partitions numbered before its own."""
    totals = {int(r[part]): int(r["n"] or 0) for r in frame.groupBy(part).agg(
        amount.alias("n")).collect()}
    if not totals:
        return F.lit(0)
    offset, start = 0, {}
    for number in sorted(totals):
        start[number] = offset
        offset += totals[number]
    return F.create_map(*(x for number, first in start.items()
                          for x in (F.lit(number), F.lit(first))))[F.col(part)]


def numbered(frame: DataFrame, name: str) -> DataFrame:
    """``frame`` with ``name``: 0, 1, ... in the order of its partitions and of the rows
    within each (read order; a global sort's order after ``orderBy``), like a
    ``zipWithIndex``: one count per partition comes to the driver, no window spans the
    frame. Checkpointed first, so that the rows numbered are those counted."""
    tagged = frame.withColumn("_part", F.spark_partition_id()).withColumn(
        "_id", F.monotonically_increasing_id()).localCheckpoint(eager=True)
    within = F.col("_id") - F.shiftleft(F.col("_part").cast("long"), 33)
    row = before_partition(tagged, "_part", F.count(F.lit(1))) + within
    return tagged.withColumn(name, row.cast("long")).drop("_part", "_id")
