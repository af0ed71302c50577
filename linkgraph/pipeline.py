"""The nightly job: the only place that knows the order of the stages.

load -> normalize -> graph -> cluster -> sanctions -> score -> report
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from linkgraph import cluster, graph, load, normalize, report, sanctions, score
from linkgraph.config import Config, load_config
from linkgraph.engine import get_engine
from linkgraph.errors import LinkgraphError
from linkgraph.run import Run

logger = logging.getLogger(__name__)

#: called as ``progress(stage_name)`` when a stage starts; the CLI shows it
ProgressCallback = Callable[[str], None]


def run(
    data_dir: str | Path,
    *,
    out: str | Path | None = None,
    previous: str | Path | Run | None = None,
    config: Config | str | Path | None = None,
    progress: ProgressCallback | None = None,
) -> Run:
    """Run every stage on ``data_dir`` and, when ``out`` is given, write the run directory.

    Args:
        data_dir: a directory of input tables (``accounts.csv`` or ``.parquet``...).
        out: the run directory to write (atomically); ``None`` keeps the run in memory.
        previous: last night's run directory (or its :class:`Run`, read from disk), for
            stable cluster ids.
        config: settings, or the path of a TOML config file; the defaults when ``None``.
        progress: called with each stage's name as it starts.

    Returns:
        The finished :class:`~linkgraph.run.Run`.

    Raises:
        LinkgraphError: bad input, bad config or too many rejects.
    """
    if config is None or isinstance(config, str | Path):
        config = load_config(config)
    if isinstance(previous, Run):
        if previous.path is None:
            raise LinkgraphError("previous run was never written to disk; pass its run directory")
        previous = previous.path
    timings: dict[str, float] = {}

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        if progress is not None:
            progress(name)
        logger.info("stage %s", name)
        start = time.perf_counter()
        yield
        timings[name] = round(time.perf_counter() - start, 3)

    with stage("load"):
        tables = load.load_tables(data_dir, max_reject_rate=config.max_reject_rate)
        prior = load.load_previous_run(previous) if previous is not None else None
    engine = get_engine(config.engine, master=config.spark_master)
    with stage("normalize"):
        identifiers = normalize.normalize_identifiers(tables, config=config.normalize,
                                                      engine=engine)
    with stage("graph"):
        links = graph.build_links(identifiers, tables, config=config.graph, engine=engine)
    with stage("cluster"):
        clusters = cluster.assign_clusters(
            tables.accounts, links, blocked=sanctions.blocked_accounts(tables.sanctions),
            previous=prior, config=config.cluster, engine=engine,
        )
    with stage("sanctions"):
        actions = sanctions.propagate(
            clusters.accounts, links, tables.sanctions, tables.decisions, policy=config.policy,
            engine=engine,
        )
    with stage("score"):
        scores = score.score_clusters(clusters, links, tables, config=config.coupon)
    with stage("assemble"):
        result = Run.from_stages(
            tables=tables, links=links, clusters=clusters, actions=actions, scores=scores,
            config=config,
        )
    if out is not None:
        with stage("report"):
            result = report.write_run(result, out, timings=timings, config=config)
    return result


def run_summary(result: Run) -> dict[str, Any]:
    """Counts for the one summary line the CLI prints (accounts, links, clusters, actions)."""
    actions = result.accounts["action"].value_counts().to_dict()
    return {
        "accounts": len(result.accounts),
        "links": len(result.links),
        "clusters": len(result.clusters),
        "actions": {k: int(v) for k, v in sorted(actions.items()) if k != "none"},
        "rejects": len(result.rejects),
    }
