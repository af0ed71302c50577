"""The nightly job: the only place that knows the order of the stages.

load -> normalize -> graph -> cluster -> sanctions -> score -> report

With the local engine, work of a later stage that needs no earlier stage's
result runs on a second thread beside a stage that uses one core, and its time
counts in that stage's timing: the score's facts of the tables (orders,
accounts, sanctions: :func:`linkgraph.score.table_facts`) are read beside the
graph stage, those of the links (:func:`linkgraph.score.facts_before_clusters`)
beside the cluster stage; the assembly's sort of the accounts and of the links inside
clusters (:func:`linkgraph.run.start_assembly`) runs beside the sanctions and
score stages.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa

from linkgraph import cluster, graph, load, normalize, report, sanctions, score
from linkgraph import schemas as s
from linkgraph.codes import (
    category_code_dtype,
    coded_text,
    index_dtype,
    positions,
    strictly_ascending,
)
from linkgraph.config import Config, load_config
from linkgraph.engine import LOCAL, Engine, get_engine
from linkgraph.errors import LinkgraphError
from linkgraph.memory import release_freed_memory
from linkgraph.normalize.grouping import text_codes
from linkgraph.run import Run, start_assembly

logger = logging.getLogger(__name__)

#: what the later stages read of the orders: graph and score their accounts and coupons,
#: score their times, amounts and currencies (order ids only had to be unique, which the
#: load checks; nothing reads discounts)
_ORDER_COLUMNS_KEPT = (s.ACCOUNT_ID, s.CREATED_AT, s.AMOUNT, s.CURRENCY, s.COUPON_CODE,
                       s.COUPON_TYPE)
#: the orders' columns normalize alone reads (the times of the addresses and payments used)
_ORDER_COLUMNS_READ_ONCE = (s.ADDRESS_ID, s.PAYMENT_ID)
#: order columns that repeat a few words over millions of rows: kept as categoricals
_ORDER_WORDS = (s.CURRENCY, s.COUPON_CODE, s.COUPON_TYPE)
#: what the stages after normalize read of the accounts (the identifiers frame carries
#: their own identifiers on)
_ACCOUNT_COLUMNS_KEPT = (s.ACCOUNT_ID, s.CREATED_AT)

_T = TypeVar("_T")

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
        # of logins, addresses and payments, what normalize makes of them (each kind's
        # identifiers grouped) is all an engine that ships rows to this process need send;
        # of the orders, what the graph and score read (a summary per account)
        tables = engine.load_tables(data_dir, max_reject_rate=config.max_reject_rate,
                                    reduced=True, orders=config.coupon,
                                    identifiers=config.normalize)
        prior = load.load_previous_run(previous) if previous is not None else None
        # at a million accounts the orders' unread columns held 0.13 GB, their words
        # (currency, coupon) as text 0.12 GB, from here to the score stage
        tables = dataclasses.replace(tables, orders=_kept(
            tables.orders, *_ORDER_COLUMNS_KEPT, *_ORDER_COLUMNS_READ_ONCE, words=_ORDER_WORDS))
    with stage("normalize"):
        # at a million accounts every stage's frames kept to the end top 4 GB: drop each
        # as soon as no later stage reads it (graph, cluster and score read accounts and
        # orders only; the logins alone are a third of the input). The columns normalize
        # alone reads are handed over to it, which lets each table go once read (~1 GB
        # at a million accounts, freed during the stage instead of after it)
        # the load's positions of the orders' accounts, for the graph stage's coding of
        # the orders (normalize takes the load's codes with the tables)
        order_accounts = tables.codes.accounts_of("orders")
        handed = normalize.HandedOver(tables)
        tables = _emptied(tables, "addresses", "payments", "logins")
        tables = dataclasses.replace(
            tables, orders=_kept(tables.orders, *_ORDER_COLUMNS_KEPT),
            accounts=_kept(tables.accounts, *_ACCOUNT_COLUMNS_KEPT))
        identifiers = normalize.normalize_identifiers(handed, config=config.normalize,
                                                      engine=engine)
        del handed
    with stage("graph"):
        # each order's account as its position among the accounts' ids: a quarter of the
        # text's memory, and the graph and score stages read the positions, not the text
        tables = dataclasses.replace(tables, orders=_with_account_codes(
            tables.orders, tables.accounts, given=order_accounts))
        del order_accounts
        # the score's facts of the tables alone (the orders' counts, creation, blocks) are
        # read on the second core while the graph, one core's work, is built
        early = _beside(engine, score.table_facts, tables, config=config.coupon,
                        engine=engine)
        links = graph.build_links(identifiers, tables, config=config.graph, engine=engine)
        # then no later stage reads the orders: they go before the clusters are made
        facts = early.result() if early is not None else None
        if facts is not None:
            tables = _emptied(tables, "orders")
    del identifiers, early
    # the account facts of the identifiers (own cards and devices, disposable mailboxes,
    # the redeemers' identifiers) read the links alone: beside the cluster stage
    made_early = None if facts is None else _beside(
        engine, score.facts_before_clusters, links, facts, config=config.coupon, engine=engine)
    del facts
    with stage("cluster"):
        clusters = cluster.assign_clusters(
            tables.accounts, links, blocked=sanctions.blocked_accounts(tables.sanctions),
            previous=prior, config=config.cluster, engine=engine,
        )
    del prior
    # the assembly's sort of the accounts and of the links inside clusters needs no
    # sanction and no score: on the second core beside those stages
    start = _beside(engine, start_assembly, links, clusters)
    with stage("sanctions"):
        actions = sanctions.propagate(
            clusters.accounts, links, tables.sanctions, tables.decisions, policy=config.policy,
            engine=engine,
        )
    with stage("score"):
        # the orders and accounts are read for the account facts alone: handed over, they
        # go before the stage's peak (building the clusters' features from the facts)
        handed_over = score.HandedOver(tables) if made_early is None else made_early.result()
        tables = _emptied(tables, "accounts", "orders")
        del made_early
        scores = score.score_clusters(clusters, links, handed_over, config=config.coupon,
                                      engine=engine)
        del handed_over
        # of the person clusters' scores the run keeps each one's score and reasons: their
        # feature columns (a column of the person clusters each) go before assembly
        scores = dataclasses.replace(scores, persons=scores.persons[
            [s.PERSON_CLUSTER_ID, s.COUPON_ABUSE_SCORE, s.COUPON_ABUSE_REASONS]])
    with stage("assemble"):
        result = Run.from_stages(
            tables=tables, links=links, clusters=clusters, actions=actions, scores=scores,
            config=config, start=start.result() if start is not None else None,
        )
        del start
    # the run holds what it needs; the raw pairs, profiles and scoring frames go
    del tables, links, clusters, actions, scores
    if out is not None:
        with stage("report"):
            result = report.write_run(result, out, timings=timings, config=config)
    return result


def _beside(on: Engine, work: Callable[..., _T], *args: Any, **kwargs: Any
            ) -> Future[_T] | None:
    """``work(*args, **kwargs)`` started on a thread of its own, to run beside the
    caller's next step, when the stages run in this process (the local engine): numpy,
    Arrow and pandas' kernels let the other core work then. None for another engine (its
    stages call it as they did)."""
    if on.name != LOCAL.name:
        return None

    def worked() -> _T:
        try:
            return work(*args, **kwargs)
        finally:
            # the thread's freed arrays stay in its own malloc arena, under the stage's
            # peak (+0.2 GB at a million accounts), unless given back when it is done
            release_freed_memory()

    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(worked)
    pool.shutdown(wait=False)  # the pool's thread ends once the work is done
    return future


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


def _kept(frame: pd.DataFrame, *columns: str, words: tuple[str, ...] = ()) -> pd.DataFrame:
    """``frame`` with only ``columns`` (those it has), once no later stage reads the others;
    the text columns ``words`` as categoricals of their sorted distinct values.

    The stages read a column they need by name and go without one they lack
    (the contract's required columns are checked by the load). A column of numbers
    is copied when it is a row of a block of several (the orders' amounts and
    discounts), which a view would keep whole.
    """
    return pd.DataFrame({
        c: _as_words(values) if c in words else _on_its_own(values)
        for c, values in frame.items() if c in columns
    }, index=frame.index, copy=False)


def _on_its_own(values: pd.Series) -> pd.Series:
    """``values``, copied when they are a view of a larger array (a row of a block)."""
    if not isinstance(values.dtype, np.dtype):
        return values
    array = values.to_numpy(copy=False)
    owner = array.base if isinstance(array.base, np.ndarray) else array
    return values.copy() if owner.size > array.size else values


def _as_words(values: pd.Series) -> pd.Series:
    """A text column as a categorical of its distinct values, sorted as the strings sort.

    Arrow hashes the rows once (a few words over millions of rows: fast); the
    categories are made unchecked, as pandas would hash them again. A column not
    of text is returned as it is.

    >>> _as_words(pd.Series(["USD", None, "EUR", "USD"], dtype="str")).cat.codes.tolist()
    [1, -1, 0, 1]
    """
    if not isinstance(values.dtype, pd.StringDtype):
        return values
    codes, distinct = text_codes(values, sort=True)
    categories = pd.Index(distinct.astype(values.dtype))
    narrow = category_code_dtype(len(categories))
    return pd.Series(coded_text(codes.astype(narrow), categories), index=values.index,
                     name=values.name)


def _with_account_codes(orders: pd.DataFrame, accounts: pd.DataFrame, *,
                        given: np.ndarray | None = None) -> pd.DataFrame:
    """``orders`` with its account ids as a categorical of the accounts' ids (its codes
    the positions of the accounts in their table), when every order's account is there
    (the load rejects the others) and the accounts are sorted by a unique id (as
    loaded); else as they are. ``given``: the positions the load found (one per order
    row, as loaded), used instead of looking the ids up again."""
    if s.ACCOUNT_ID not in orders.columns or s.ACCOUNT_ID not in accounts.columns:
        return orders
    ids, of_orders = accounts[s.ACCOUNT_ID], orders[s.ACCOUNT_ID]
    if (isinstance(of_orders.dtype, pd.CategoricalDtype)
            or not pd.api.types.is_string_dtype(ids.dtype) or not strictly_ascending(ids)):
        return orders
    at = given if given is not None and len(given) == len(orders) else positions(of_orders, ids)
    if at.min(initial=0) < 0:
        return orders
    coded = coded_text(at.astype(index_dtype(len(ids))), pd.Index(ids.array))
    return orders.assign(**{s.ACCOUNT_ID: pd.Series(coded, index=orders.index)})


def _emptied(tables: load.Tables, *names: str) -> load.Tables:
    """``tables`` with the frames ``names`` emptied, once no later stage reads them.

    Each becomes a new empty frame of the same columns and types (a slice of
    the old one would keep its buffers alive), a categorical's the type of its
    categories (the orders' account ids are the accounts' ids).
    """
    def empty(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame({
            c: pd.Series(dtype=t.categories.dtype if isinstance(t, pd.CategoricalDtype) else t)
            for c, t in frame.dtypes.items()})

    emptied = dataclasses.replace(
        tables, **{name: empty(getattr(tables, name)) for name in names}
    )
    # the orders' summary, when an engine sent one, goes with them; so do the identifiers
    # an engine grouped with the tables they came from
    if "orders" in names:
        emptied = dataclasses.replace(emptied, order_facts=None)
    if "logins" in names:
        emptied = dataclasses.replace(emptied, identifier_rows=None)
    return emptied


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
