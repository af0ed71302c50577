"""The SparkSession an engine runs on: joined when one is active, else started.

Nothing here downloads a JVM package (no ``spark.jars.packages``): the
engine uses Spark SQL and pandas UDFs only, which ship with pyspark.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import SparkSession

logger = logging.getLogger(__name__)

#: pyspark warns on every pandas conversion under pandas 3; the conversions
#: the engine uses (Arrow, string and int64 columns) are exercised by its tests
_PANDAS_WARNINGS = ("PySpark does not yet fully support pandas", "The copy keyword is deprecated")


@contextmanager
def quiet_pandas_warning() -> Iterator[None]:
    """Silence pyspark's warnings about pandas 3 around one conversion."""
    with warnings.catch_warnings():
        for message in _PANDAS_WARNINGS:
            warnings.filterwarnings("ignore", message=message)
        yield


#: the driver's heap on a local master, unless the user chose one: local mode runs the
#: executors in the driver, and Spark's 1 GB loses a million accounts' load results
#: (``TaskResultLost``)
LOCAL_DRIVER_MEMORY = "4g"


def local_driver_memory(environ: dict[str, str] | os._Environ[str]) -> str | None:
    """The driver memory a new local session is given: ``LOCAL_DRIVER_MEMORY``, unless
    the environment already sets one (``--driver-memory`` in ``PYSPARK_SUBMIT_ARGS``,
    or ``SPARK_DRIVER_MEMORY``), which then wins.

    >>> local_driver_memory({})
    '4g'
    >>> local_driver_memory({"PYSPARK_SUBMIT_ARGS": "--driver-memory 8g pyspark-shell"})
    """
    if "--driver-memory" in environ.get("PYSPARK_SUBMIT_ARGS", ""):
        return None
    if environ.get("SPARK_DRIVER_MEMORY"):
        return None
    return LOCAL_DRIVER_MEMORY


def spark_session(master: str | None = None) -> SparkSession:
    """The active SparkSession, or a new one on ``master`` tuned for linkgraph.

    A session that already runs (a notebook's, ``spark-submit``'s, a test
    fixture's) is used as it is: its master and settings win over ``master``.
    A new one gets Arrow conversions, adaptive query execution (it coalesces
    small shuffles and splits skewed join partitions), cached blocks compressed
    when they spill to disk and, on a ``local[n]``
    master, ``n`` shuffle partitions instead of 200 (``8 n`` before adaptive execution
    coalesces them, so that a big result is collected in parts of tens of MB), no web
    UI and a 4 GB driver (:func:`local_driver_memory`).
    A checkpoint directory is set when the session has none (a temporary
    directory; on a cluster set ``spark.checkpoint.dir`` to shared storage).
    """
    active = SparkSession.getActiveSession()
    if active is not None:
        session = active
    else:
        builder = SparkSession.builder.appName("linkgraph")
        if master:
            builder = builder.master(master)
        builder = (
            builder.config("spark.sql.execution.arrow.pyspark.enabled", "true")
            .config("spark.sql.adaptive.enabled", "true")
            .config("spark.sql.adaptive.skewJoin.enabled", "true")
            # the load's cached tables spill to disk at scale: compressed there (lz4), as
            # the shuffles already are (3 x the 1M sign-ins spilled by a 1 GB driver: 826 MB
            # uncompressed, 635 MB compressed)
            .config("spark.rdd.compress", "true")
        )
        local = re.fullmatch(r"local\[(\d+|\*)\]|local", master or "")
        if local:
            cores = local.group(1)
            partitions = int(cores) if cores and cores.isdigit() else 4
            builder = (builder.config("spark.sql.shuffle.partitions", str(partitions))
                       # a big shuffle is cut into up to 8 parts per core and adaptive
                       # execution joins the small ones back: a collected result comes in
                       # tasks of tens of MB, not one per core (a million accounts' sign-ins
                       # in two results lost the driver's 4 GB heap: TaskResultLost)
                       .config("spark.sql.adaptive.coalescePartitions.initialPartitionNum",
                               str(8 * partitions))
                       .config("spark.default.parallelism", str(partitions))
                       .config("spark.ui.enabled", "false")
                       .config("spark.ui.showConsoleProgress", "false"))
            memory = local_driver_memory(os.environ)
            if memory is not None:
                builder = builder.config("spark.driver.memory", memory)
        logger.info("starting a Spark session on %s", master or "the default master")
        session = builder.getOrCreate()
    context = session.sparkContext
    if context.getCheckpointDir() is None:
        directory = session.conf.get("spark.checkpoint.dir", None)
        if not directory:
            directory = tempfile.mkdtemp(prefix="linkgraph-checkpoints-")
            # checkpoints only serve the running jobs: none outlives the process
            atexit.register(shutil.rmtree, directory, ignore_errors=True)
        context.setCheckpointDir(directory)
    return session
