"""Cluster stage: person and family components, stable ids, changes, alerts.

``person_cluster_id`` = connected components over person-tier pairs;
``cluster_id`` = components over person and household pairs (the family).
Person links are household links too, so a person cluster always lies
inside one family cluster. Components come from scipy's sparse
``connected_components`` on integer account codes; networkx is used only
for one cluster at a time (bridges, :func:`cluster_graph`).

Modules: ``ids`` (opaque ids, the issued-id registry), ``stable`` (matching
to last night's clusters, the change log), ``summary`` (clusters frame),
``alerts`` (giant-cluster guard), ``subgraph`` (the graph of one cluster).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from linkgraph import schemas as s
from linkgraph.cluster import ids as _ids
from linkgraph.cluster import stable as _stable
from linkgraph.cluster.alerts import find_alerts
from linkgraph.cluster.subgraph import cluster_graph
from linkgraph.cluster.summary import summarise
from linkgraph.codes import positions, strictly_ascending
from linkgraph.config import ClusterConfig
from linkgraph.engine import LOCAL, Engine
from linkgraph.errors import RunDirectoryError
from linkgraph.graph import LinkSet
from linkgraph.load import PreviousRun

__all__ = ["Clustering", "assign_clusters", "cluster_graph", "components"]

logger = logging.getLogger(__name__)

_LINKING_TIERS = (s.T_PERSON, s.T_HOUSEHOLD)


@dataclass(frozen=True)
class Clustering:
    """accounts: account_id, cluster_id, person_cluster_id (one row per account).
    clusters: cluster_id, n_accounts, n_persons, n_blocked, link_kinds, density.
    changes: schemas.CLUSTER_CHANGE_COLUMNS + next_cluster_ids (empty without a previous run).
    alerts: schemas.CLUSTER_ALERT_COLUMNS: cluster_id, n_accounts, reason, bridge... .
    issued_ids: every id ever issued, carried from run to run: schemas.ISSUED_ID_COLUMNS
        (cluster_id, kind = cluster/person, issued_run).
    """

    accounts: pd.DataFrame
    clusters: pd.DataFrame
    changes: pd.DataFrame
    alerts: pd.DataFrame
    issued_ids: pd.DataFrame


def components(n_nodes: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label per node (0..k-1) of the undirected edges a–b.

    >>> components(4, np.array([0, 2]), np.array([1, 1])).tolist()
    [0, 0, 0, 1]
    """
    ones = np.ones(len(a), dtype=np.int8)
    matrix = coo_matrix((ones, (a, b)), shape=(n_nodes, n_nodes)).tocsr()
    return connected_components(matrix, directed=True, connection="weak")[1].astype(np.int64)


def assign_clusters(
    accounts: pd.DataFrame,
    links: LinkSet,
    *,
    blocked: pd.Index,
    previous: PreviousRun | None = None,
    config: ClusterConfig,
    engine: Engine = LOCAL,
) -> Clustering:
    """Give every account a family cluster and a person cluster, with ids stable night to night.

    Args:
        accounts: one row per account: ``account_id`` (other columns ignored).
        links: ``pair_tiers`` (account_a, account_b, tier) joins clusters;
            ``pairs`` (account_a, account_b, kind, masked, tier) gives link
            kinds and bridge evidence.
        blocked: ids of blocked accounts (for ``n_blocked``).
        previous: last night's accounts (account_id, cluster_id,
            person_cluster_id) and issued ids; without it ids are a
            deterministic hash of each cluster's members.
        config: alert size and bridge settings.
        engine: where the components are computed (``linkgraph.engine``).

    Returns:
        A :class:`Clustering`; every frame sorted by its key.

    Raises:
        InputError: a needed column is missing from ``accounts`` or ``links``.
        RunDirectoryError: the previous run lacks a needed column.

    >>> from linkgraph.graph import LinkSet
    >>> accounts = pd.DataFrame({"account_id": ["a1", "a2", "a3"]})
    >>> tiers = pd.DataFrame({"account_a": ["a1"], "account_b": ["a2"], "tier": ["household"]})
    >>> pairs = pd.DataFrame({"account_a": ["a1"], "account_b": ["a2"], "kind": ["address"],
    ...                       "masked": ["12 M*** St"], "tier": ["household"]})
    >>> links = LinkSet(incidence=pd.DataFrame(), pairs=pairs, pair_tiers=tiers,
    ...                 hubs=pd.DataFrame(), profiles=pd.DataFrame())
    >>> result = assign_clusters(accounts, links, blocked=pd.Index(["a3"]), config=ClusterConfig())
    >>> result.clusters[["n_accounts", "n_persons", "n_blocked", "link_kinds"]].values.tolist()
    [[2, 2, 0, 'address'], [1, 1, 1, '']]
    """
    _check_columns(accounts, links, previous)
    pair_tiers, pairs = links.pair_tiers, links.pairs
    # the rows of the linking pairs, not a copy of every column of them (at a million
    # accounts the copy was the stage's largest allocation): their ends are looked up, and
    # only the few columns the evidence needs are taken
    linking = np.flatnonzero(pairs[s.TIER].isin(_LINKING_TIERS).to_numpy())
    prev_accounts = previous.accounts if previous is not None else pd.DataFrame({s.ACCOUNT_ID: []})
    index, (a, b, pair_a, pair_b, blocked_codes, prev_codes) = _account_codes(
        accounts[s.ACCOUNT_ID],
        [pair_tiers[s.ACCOUNT_A], pair_tiers[s.ACCOUNT_B], pairs[s.ACCOUNT_A].take(linking),
         pairs[s.ACCOUNT_B].take(linking), pd.Series(blocked), prev_accounts[s.ACCOUNT_ID]],
    )
    n = len(index)
    known = (a >= 0) & (b >= 0)
    if not known.all():
        logger.warning("%d linked pairs name an account not in accounts; ignored", int((~known).sum()))
    tier = pair_tiers[s.TIER]
    is_person = known & (tier == s.T_PERSON).to_numpy(dtype=bool, na_value=False)
    is_family = known & tier.isin(_LINKING_TIERS).to_numpy(dtype=bool)
    person = engine.connected_components(n, a[is_person], b[is_person])
    family = engine.connected_components(n, a[is_family], b[is_family])

    account_hash = _ids.account_hashes(index)
    registry = _ids.registry_from_previous(previous.issued_ids if previous is not None else None)
    run_number = int(registry[s.ISSUED_RUN].max()) + 1 if len(registry) else 1
    family_ids, registry, changes = _tier_ids(
        family, account_hash, prev_codes, previous, registry, s.ID_KIND_CLUSTER, run_number
    )
    person_ids, registry, _ = _tier_ids(
        person, account_hash, prev_codes, previous, registry, s.ID_KIND_PERSON, run_number
    )

    edges = _distinct_edges(a[is_family], b[is_family])
    del a, b, is_person, is_family, known
    n_edges = np.bincount(family[edges[:, 0]], minlength=len(family_ids)) if len(edges) else (
        np.zeros(len(family_ids), dtype=np.int64))
    evidence = _pair_evidence(pairs, linking, pair_a, pair_b, family)
    del linking, pair_a, pair_b
    kind_codes, kinds = pd.factorize(evidence["kind"], sort=True)
    is_blocked = np.zeros(n, dtype=np.float64)
    is_blocked[blocked_codes[blocked_codes >= 0]] = 1.0
    clusters = summarise(
        cluster_ids=family_ids, family=family, person=person, blocked=is_blocked,
        edge_a=evidence["a"].to_numpy(), kind_a=kind_codes, kinds=np.asarray(kinds, dtype=object),
        n_edges=n_edges,
    )
    alerts = find_alerts(
        cluster_ids=family_ids, family=family, edges=edges,
        account_ids=index, pair_rows=evidence, config=config,
    )
    del evidence, edges, kind_codes
    frame = pd.DataFrame({
        s.ACCOUNT_ID: index.array,
        s.CLUSTER_ID: _take_str(family_ids, family),
        s.PERSON_CLUSTER_ID: _take_str(person_ids, person),
    })
    logger.info(
        "%d accounts in %d clusters (%d persons), %d changes, %d alerts",
        n, len(family_ids), len(person_ids), len(changes), len(alerts),
    )
    return Clustering(
        accounts=frame, clusters=clusters, changes=changes, alerts=alerts,
        issued_ids=_ids.finish_registry(registry),
    )


def _tier_ids(
    labels: np.ndarray,
    account_hash: np.ndarray,
    prev_codes: np.ndarray,
    previous: PreviousRun | None,
    registry: pd.DataFrame,
    kind: str,
    run_number: int,
) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """Ids per component label (kept or fresh), the grown registry and the change log."""
    n_labels = int(labels.max()) + 1 if len(labels) else 0
    hashes = _ids.set_hashes(labels, n_labels, account_hash, kind)
    size = np.bincount(labels, minlength=n_labels)
    column = s.CLUSTER_ID if kind == s.ID_KIND_CLUSTER else s.PERSON_CLUSTER_ID
    ids = np.empty(n_labels, dtype=object)
    if previous is not None and column in previous.accounts.columns:
        prior = _stable.previous_tier(len(labels), prev_codes, previous.accounts[column], registry)
        registry = _ids.extend_registry(registry, prior.unlisted, kind, 0)
        overlap = _stable.overlaps(labels, prior.old_of, len(prior.ids))
        inherited = _stable.match(
            overlap, n_new=n_labels, new_size=size, new_hash=hashes, old_age=prior.age
        )
        kept = inherited >= 0
        ids[kept] = prior.ids[inherited[kept]]
    else:
        prior, overlap, inherited, kept = None, None, None, np.zeros(n_labels, dtype=bool)
    fresh = np.flatnonzero(~kept)
    ids[fresh] = _ids.fresh_ids(hashes[fresh], pd.Index(registry[s.CLUSTER_ID]), kind)
    registry = _ids.extend_registry(registry, ids[fresh], kind, run_number)
    if prior is None or overlap is None or inherited is None or kind != s.ID_KIND_CLUSTER:
        return ids, registry, _stable.empty_changes()
    changes = _stable.changes(overlap, inherited=inherited, new_ids=ids, new_size=size, previous=prior)
    return ids, registry, changes


def _distinct_edges(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(m, 2) distinct unordered account-code pairs, smaller code first, no self-loops."""
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    keep = lo != hi
    n = int(hi.max()) + 1 if len(hi) else 1
    key = np.sort(lo[keep] * n + hi[keep])
    key = key[np.concatenate(([True], key[1:] != key[:-1]))] if len(key) else key
    edges = np.empty((len(key), 2), dtype=np.int64)
    np.floor_divide(key, n, out=edges[:, 0])
    np.remainder(key, n, out=edges[:, 1])
    return edges


def _pair_evidence(pairs: pd.DataFrame, rows: np.ndarray, a: np.ndarray, b: np.ndarray,
                   family: np.ndarray) -> pd.DataFrame:
    """Kind-level linking pairs inside one family cluster: a, b (codes, a < b), kind, masked.

    ``rows``: the rows of ``pairs`` that ``a`` and ``b`` (account codes) are of.
    """
    inside = (a >= 0) & (b >= 0)
    inside[inside] = family[a[inside]] == family[b[inside]]
    at = np.flatnonzero(inside)
    taken = rows[at]
    # two columns taken as they are (Arrow-backed text), not the whole frame copied
    # and turned into Python strings: at a million accounts that is about a gigabyte;
    # the arrays become the columns as they are (copy=False: not stacked into a block)
    return pd.DataFrame({
        "a": np.minimum(a[at], b[at]), "b": np.maximum(a[at], b[at]),
        "kind": pairs[s.KIND].take(taken).array, "masked": pairs[s.MASKED].take(taken).array,
    }, copy=False)


def _take_str(values: np.ndarray, codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values[codes]`` as a str column, gathered in Arrow rather than as Python objects."""
    return pd.array(pa.array(values, type=pa.string()).take(pa.array(codes)), dtype="str")


def _account_codes(account_ids: pd.Series, columns: list[pd.Series]) -> tuple[pd.Index, list[np.ndarray]]:
    """The sorted distinct account ids, and each column as codes into them (-1: unknown).

    The ids are sorted once (they usually are already); each column is looked up
    in them by Arrow hashing, a categorical column (the graph stage's pairs) by its
    categories alone.
    """
    ids = account_ids.dropna().astype("str")
    if strictly_ascending(ids):
        names = pd.Index(ids)
    else:
        names = pd.Index(pd.unique(ids)).sort_values()
    out = []
    for column in columns:
        if not (isinstance(column.dtype, pd.CategoricalDtype)
                or pd.api.types.is_string_dtype(column.dtype)):
            column = column.astype("str")
        out.append(positions(column, names))
    return names, out


def _check_columns(accounts: pd.DataFrame, links: LinkSet, previous: PreviousRun | None) -> None:
    """Raise one error listing every missing input column."""
    s.require_columns({
        "accounts": (accounts, (s.ACCOUNT_ID,)),
        "links.pair_tiers": (links.pair_tiers, (s.ACCOUNT_A, s.ACCOUNT_B, s.TIER)),
        "links.pairs": (links.pairs, (s.ACCOUNT_A, s.ACCOUNT_B, s.KIND, s.MASKED, s.TIER)),
    }, stage="assign_clusters", hint="Pass the graph stage's LinkSet.")
    if previous is not None:
        lacking = [c for c in (s.ACCOUNT_ID, s.CLUSTER_ID) if c not in previous.accounts.columns]
        if lacking:
            raise RunDirectoryError(
                f"the previous run's accounts have no column {', '.join(map(repr, lacking))}. "
                "Point --previous at a run directory written by linkgraph run."
            )
