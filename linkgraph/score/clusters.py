"""``score_clusters``: the score stage's entry point (formula in ``linkgraph.score``)."""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.cluster import Clustering
from linkgraph.codes import positions, strictly_ascending
from linkgraph.config import CouponConfig
from linkgraph.engine import LOCAL, Engine
from linkgraph.graph import LinkSet
from linkgraph.load import Tables
from linkgraph.memory import release_freed_memory
from linkgraph.score.facts import (
    AccountFacts,
    HandedOver,
    TableFacts,
    account_facts,
    missing_columns,
    same_ids,
    tables_of,
)
from linkgraph.score.hubs import find_coupon_hubs
from linkgraph.score.points import (
    group_features,
    reason_points,
    reason_text,
    total_score,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Scores:
    """The score stage's output.

    clusters: one row per cluster of the clustering (singletons included),
        sorted by cluster_id: ``cluster_id, coupon_abuse_score,
        coupon_abuse_reasons`` and the feature columns
        (``schemas.SCORE_FEATURE_COLUMNS``).
    persons: the same per person cluster, plus its ``cluster_id``, sorted by
        person_cluster_id.
    coupon_hubs: one row per coupon hub (``schemas.COUPON_HUB_COLUMNS``): kind,
        value, masked, n_redeemers, n_clusters, n_coupon_only,
        burst_redeemers, expected_in_window, reason; sorted by kind, value.
    """

    clusters: pd.DataFrame
    persons: pd.DataFrame
    coupon_hubs: pd.DataFrame


_REQUIRED = {
    "clusters.accounts": (s.ACCOUNT_ID, s.CLUSTER_ID, s.PERSON_CLUSTER_ID),
    "clusters.clusters": (s.CLUSTER_ID,),
    "links.incidence": (s.ACCOUNT_ID, s.KIND, s.VALUE),
    "tables.orders": (s.ACCOUNT_ID,),
}


def score_clusters(
    clusters: Clustering, links: LinkSet,
    tables: Tables | HandedOver | TableFacts | AccountFacts, *,
    config: CouponConfig, engine: Engine = LOCAL,
) -> Scores:
    """Score every cluster and person cluster for coupon abuse, with reasons.

    Args:
        clusters: ``accounts`` (account_id, cluster_id, person_cluster_id) and
            ``clusters`` (cluster_id, ...).
        links: ``incidence`` (account_id, kind, value; masked, suppressed and
            n_accounts when present) and ``profiles`` (``disposable_email``
            and ``created_at`` used when present).
        tables: ``orders`` (account_id; created_at, amount, currency,
            coupon_code, coupon_type when present), ``accounts`` (created_at),
            ``sanctions`` (blocked accounts); or a :class:`HandedOver` of them (they
            go once read); or the :class:`TableFacts` read from them before
            (:func:`linkgraph.score.table_facts`, the same numbers), or the
            :class:`AccountFacts` made from those (read when the clustering has the
            accounts of the tables in their order).
        config: weights and thresholds (``CouponConfig``).
        engine: where the per-account and per-cluster counts are grouped
            (``linkgraph.engine``; the default runs them in process).

    Returns:
        :class:`Scores`; every cluster_id of ``clusters.clusters`` has a row,
        with score 0 and empty reasons when nothing applies.

    Raises:
        InputError: an input frame lacks a column listed above.
        ValueError: ``tables`` is a handover already read.

    Two accounts of one person, each redeeming a welcome coupon on one card:

    >>> accounts = pd.DataFrame({"account_id": ["a", "b", "c"], "cluster_id": ["c1", "c1", "c2"],
    ...                          "person_cluster_id": ["p1", "p1", "p2"]})
    >>> orders = pd.DataFrame({"order_id": ["o1", "o2", "o3"], "account_id": ["a", "b", "c"],
    ...                        "coupon_type": ["new_user", "new_user", None],
    ...                        "amount": [30.0, 31.0, 80.0]})
    >>> cards = pd.DataFrame({"account_id": ["a", "b"], "kind": "card", "value": "fp1"})
    >>> none = pd.DataFrame()
    >>> clustering = Clustering(accounts=accounts, clusters=accounts[["cluster_id"]].drop_duplicates(),
    ...                         changes=none, alerts=none, issued_ids=none)
    >>> links = LinkSet(incidence=cards, pairs=none, pair_tiers=none, hubs=none, profiles=none)
    >>> tables = Tables(accounts=accounts[["account_id"]], addresses=none, payments=none,
    ...                 logins=none, orders=orders, sanctions=none, decisions=none, rejects=none)
    >>> scores = score_clusters(clustering, links, tables, config=CouponConfig())
    >>> scores.clusters["coupon_abuse_score"].tolist()
    [13.0, 0.0]
    >>> scores.clusters["coupon_abuse_reasons"].tolist()
    ['NEW_USER_x2_BY_1; COUPON_ONLY_x2', '']
    """
    _check_columns(clusters, links, None if isinstance(tables, TableFacts | AccountFacts)
                   else tables_of(tables).orders)
    # the contract gives one row per account: no sort or dedup needed, and the
    # outputs are keyed by sorted ids, so they do not depend on the row order
    accounts = clusters.accounts[[s.ACCOUNT_ID, s.CLUSTER_ID, s.PERSON_CLUSTER_ID]]
    with ThreadPoolExecutor(max_workers=1) as pool:
        # two codings of a million ids, Arrow's hashing and sorting, which let go of the
        # GIL: one on each core
        persons = pool.submit(_codes, accounts[s.PERSON_CLUSTER_ID],
                              accounts[s.PERSON_CLUSTER_ID])
        cluster_ids, cluster = _codes(clusters.clusters[s.CLUSTER_ID], accounts[s.CLUSTER_ID])
        person_ids, person = persons.result()

    if isinstance(tables, AccountFacts) and same_ids(tables.tables.ids, accounts[s.ACCOUNT_ID]):
        facts, identifiers = tables.facts, tables.identifiers
    else:
        # a handover is taken by the account facts, which let the orders go once read
        facts, identifiers = account_facts(
            accounts, links, tables.tables if isinstance(tables, AccountFacts) else tables,
            config=config, engine=engine)
    del tables
    # each step's freed columns (of the orders, of the incidence) go back to the system
    # before the next one allocates: malloc keeps them, and the next step's arrays, of
    # other sizes, seldom fit them
    release_freed_memory()
    coupon_hubs, hub_burst = find_coupon_hubs(facts, identifiers, links.incidence, cluster,
                                              config=config, engine=engine)
    release_freed_memory()

    by_cluster = _scored(facts, identifiers, cluster, person, hub_burst, len(cluster_ids),
                         config=config, engine=engine)
    by_cluster.insert(0, s.CLUSTER_ID, cluster_ids.array)
    release_freed_memory()

    by_person = _scored(facts, identifiers, person, person, hub_burst, len(person_ids),
                        config=config, engine=engine)
    cluster_of_person = np.zeros(len(person_ids), dtype=np.int64)
    # a person cluster lies inside one cluster; max() keeps bad input deterministic
    np.maximum.at(cluster_of_person, person, cluster)
    by_person.insert(0, s.CLUSTER_ID, cluster_ids.array.take(cluster_of_person))
    by_person.insert(0, s.PERSON_CLUSTER_ID, person_ids.array)

    logger.info(
        "coupon scores: %d of %d clusters score > 0, %d coupon hubs",
        int((by_cluster[s.COUPON_ABUSE_SCORE] > 0).sum()), len(by_cluster), len(coupon_hubs),
    )
    return Scores(clusters=by_cluster, persons=by_person, coupon_hubs=coupon_hubs)


def _scored(
    facts: pd.DataFrame, identifiers: pd.DataFrame, group: np.ndarray, person: np.ndarray,
    hub_burst: np.ndarray, n_groups: int, *, config: CouponConfig, engine: Engine,
) -> pd.DataFrame:
    created = facts["created"].to_numpy()
    span = float(np.nanmax(created) - np.nanmin(created)) if (~np.isnan(created)).any() else 0.0
    features = group_features(facts, identifiers, group, person, hub_burst, n_groups,
                              span_days=span, config=config, engine=engine)
    points = reason_points(features, config=config)
    reasons = reason_text(features, points)
    # inserted in front of the features' own columns: their block is not copied
    features.insert(0, s.COUPON_ABUSE_REASONS, reasons.array)
    features.insert(0, s.COUPON_ABUSE_SCORE, total_score(features, points))
    return features


def _codes(ids: pd.Series, of: pd.Series) -> tuple[pd.Index, np.ndarray]:
    """The sorted distinct values of ``ids`` and ``of``, and the code of each ``of``.

    One factorize of both, then the few distinct values are sorted: cheaper
    than a lookup of every row in a sorted index.
    """
    if ids is not of and pd.api.types.is_string_dtype(ids.dtype) and strictly_ascending(ids):
        # the clusters frame comes sorted: its ids are the distinct values, unless
        # an account names a cluster it lacks (then the factorize below)
        found = positions(of, ids)
        if len(found) == 0 or found.min() >= 0:
            return pd.Index(ids.array), found
    both = of if ids is of else pd.concat([ids, of], ignore_index=True)
    codes, uniques = pd.factorize(both)
    order = np.asarray(pd.Index(uniques).argsort())
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return pd.Index(uniques[order]), rank[codes[len(both) - len(of):]]


def _check_columns(clusters: Clustering, links: LinkSet, orders: pd.DataFrame | None) -> None:
    """Raise InputError for a missing column (``orders`` None: checked when they were read)."""
    frames = {
        "clusters.accounts": clusters.accounts, "clusters.clusters": clusters.clusters,
        "links.incidence": links.incidence,
        "tables.orders": pd.DataFrame() if orders is None else orders,
    }
    missing = [
        f"{name}.{col}" for name, cols in _REQUIRED.items() for col in cols
        if col not in frames[name].columns
        and not (name == "tables.orders" and frames[name].columns.empty)
    ]
    missing += [
        f"clusters.accounts.{col} (missing for {int(n_missing)} accounts)"
        for col in (s.ACCOUNT_ID, s.CLUSTER_ID, s.PERSON_CLUSTER_ID)
        if col in clusters.accounts.columns
        and (n_missing := clusters.accounts[col].isna().sum())
    ]
    if missing:
        raise missing_columns(missing)
