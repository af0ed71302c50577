"""Doctest collection: the Spark engine's modules import pyspark, an optional extra."""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("pyspark") else ["spark/*"]
