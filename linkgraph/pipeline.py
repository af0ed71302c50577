"""The nightly job: the only place that knows the order of the stages.

load -> normalize -> graph -> cluster -> sanctions -> score -> report
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from linkgraph import cluster, graph, load, normalize, report, sanctions, score
from linkgraph import schemas as s
from linkgraph.config import Config, load_config
from linkgraph.engine import get_engine
from linkgraph.errors import LinkgraphError
from linkgraph.memory import release_freed_memory
from linkgraph.run import Run

logger = logging.getLogger(__name__)

#: order columns no stage reads after load: order_id only had to be unique (load checks
#: it), and nothing reads discount
_ORDER_COLUMNS_LOAD_ONLY = (s.ORDER_ID, s.DISCOUNT)
#: columns no stage after normalize reads: the payments and addresses of orders, and the
#: accounts' own identifiers (the identifiers frame carries them on)
_ORDER_COLUMNS_READ_ONCE = (s.ADDRESS_ID, s.PAYMENT_ID)
_ACCOUNT_COLUMNS_READ_ONCE = (s.EMAIL, s.PHONE, s.FULL_NAME, s.REGISTRATION_IP, s.DEVICE_ID,
                              s.COUNTRY)

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
    with _returning_arrow_pool():
        return _run_stages(data_dir, out=out, previous=previous, config=config,
                           progress=progress)


def _run_stages(data_dir: str | Path, *, out: str | Path | None, previous: str | Path | None,
                config: Config, progress: ProgressCallback | None) -> Run:
    """The stages in order, each timed and followed by a return of freed memory."""
    timings: dict[str, float] = {}

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        if progress is not None:
            progress(name)
        logger.info("stage %s", name)
        start = time.perf_counter()
        yield
        timings[name] = round(time.perf_counter() - start, 3)
        release_freed_memory()

    engine = get_engine(config.engine, master=config.spark_master)
    with stage("load"):
        # of logins, addresses and payments, what normalize reads (each distinct row, its
        # first and last time) is all an engine that ships rows to this process need send
        tables = engine.load_tables(data_dir, max_reject_rate=config.max_reject_rate,
                                    reduced=True)
        prior = load.load_previous_run(previous) if previous is not None else None
        tables = dataclasses.replace(tables, orders=_blanked(tables.orders,
                                                             *_ORDER_COLUMNS_LOAD_ONLY))
    with stage("normalize"):
        # at a million accounts every stage's frames kept to the end top 4 GB: drop each
        # as soon as no later stage reads it (graph, cluster and score read accounts and
        # orders only; the logins alone are a third of the input). The columns normalize
        # alone reads are handed over to it, which lets each table go once read (~1 GB
        # at a million accounts, freed during the stage instead of after it)
        handed = normalize.HandedOver(tables)
        tables = _emptied(tables, "addresses", "payments", "logins")
        tables = dataclasses.replace(
            tables, orders=_blanked(tables.orders, *_ORDER_COLUMNS_READ_ONCE),
            accounts=_blanked(tables.accounts, *_ACCOUNT_COLUMNS_READ_ONCE))
        identifiers = normalize.normalize_identifiers(handed, config=config.normalize,
                                                      engine=engine)
        del handed
    with stage("graph"):
        links = graph.build_links(identifiers, tables, config=config.graph, engine=engine)
    del identifiers
    with stage("cluster"):
        clusters = cluster.assign_clusters(
            tables.accounts, links, blocked=sanctions.blocked_accounts(tables.sanctions),
            previous=prior, config=config.cluster, engine=engine,
        )
    del prior
    with stage("sanctions"):
        actions = sanctions.propagate(
            clusters.accounts, links, tables.sanctions, tables.decisions, policy=config.policy,
            engine=engine,
        )
    with stage("score"):
        scores = score.score_clusters(clusters, links, tables, config=config.coupon,
                                      engine=engine)
    tables = _emptied(tables, "accounts", "orders")
    # of the person clusters' scores the run keeps each one's score and reasons: their
    # feature columns (a column of the person clusters each) go before assembly
    scores = dataclasses.replace(scores, persons=scores.persons[
        [s.PERSON_CLUSTER_ID, s.COUPON_ABUSE_SCORE, s.COUPON_ABUSE_REASONS]])
    with stage("assemble"):
        result = Run.from_stages(
            tables=tables, links=links, clusters=clusters, actions=actions, scores=scores,
            config=config,
        )
    # the run holds what it needs; the raw pairs, profiles and scoring frames go
    del tables, links, clusters, actions, scores
    if out is not None:
        with stage("report"):
            result = report.write_run(result, out, timings=timings, config=config)
    return result


@contextmanager
def _returning_arrow_pool() -> Iterator[None]:
    """Arrow allocates from the C library's malloc during the run, unless the user chose a
    pool (``ARROW_DEFAULT_MEMORY_POOL``); the previous default comes back afterwards.

    mimalloc, Arrow's default, keeps freed pages for its own reuse, so the
    transient frames of one stage (hashing, takes, CSV text) stay resident
    through the next: at a million accounts the run's peak is 3.6 GB with
    malloc against 4.0 GB with mimalloc, at the same speed. Buffers keep the
    pool they came from, so restoring the default is safe.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        yield
        return
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _blanked(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """``frame`` with ``columns`` all missing (same dtype), once no later stage reads them:
    the contract's columns stay, the memory of their values goes."""
    return frame.assign(**{
        c: pd.Series(index=frame.index, dtype=frame[c].dtype) for c in columns
        if c in frame.columns and frame[c].dtype.kind not in "iub"  # these cannot be missing
    })


def _emptied(tables: load.Tables, *names: str) -> load.Tables:
    """``tables`` with the frames ``names`` emptied, once no later stage reads them.

    Each becomes a new empty frame of the same columns and types (a slice of
    the old one would keep its buffers alive).
    """
    def empty(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in frame.dtypes.items()})

    return dataclasses.replace(
        tables, **{name: empty(getattr(tables, name)) for name in names}
    )


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
