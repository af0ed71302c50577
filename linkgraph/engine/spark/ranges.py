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
