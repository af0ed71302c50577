"""The link graph the sanctions travel: integer codes, both directions, flags per link.

Each link carries its tier after corroboration, whether its two accounts share
a person / family cluster (a link the cluster stage cut carries nothing), and
whether it is *stale* into a moderator-cleared account: every value it shares
is one that account was already sharing (with anyone) before the decision, so
a stranger moving into an address the moderator saw is not new evidence.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph import schemas as s
from linkgraph.codes import positions
from linkgraph.graph import LinkSet
from linkgraph.sanctions._inputs import _epoch_ns
from linkgraph.sanctions._reach import _csr_order, _Graph

logger = logging.getLogger(__name__)

_TIER_CODE = {s.T_PERSON: 0, s.T_HOUSEHOLD: 1, s.T_WEAK: 2}
_WEAK_LINK_CONFIDENCE = 0.25
_NEVER = np.iinfo(np.int64).min


@dataclass(frozen=True)
class _Links:
    """The link graph in both directions, with per-edge attributes in CSR order."""

    graph: _Graph
    tail: np.ndarray
    tier: np.ndarray
    same_person: np.ndarray
    same_family: np.ndarray
    stale_strong: np.ndarray  # into a cleared account: its person/household values all old
    stale_any: np.ndarray  # into a cleared account: all its values old

    def pair_key(self, position: np.ndarray) -> np.ndarray:
        """The undirected pair key (``min * n + max``) of edges at CSR ``position``."""
        tail, head = self.tail[position], self.graph.target[position]
        return np.minimum(tail, head) * self.graph.n_nodes + np.maximum(tail, head)


@dataclass(frozen=True)
class _Channel:
    """One rule of the policy: sources, the links it travels, how far, what it gives."""

    kind: str
    action: str
    sources: np.ndarray
    usable: np.ndarray
    max_hops: int
    weak_evidence: bool


def _link_graph(links: LinkSet, accounts: pd.DataFrame, account_ids: pd.Index,
                cleared_ns: np.ndarray) -> _Links:
    """Integer-coded links in both directions, with tier, cluster and staleness flags.

    ``cleared_ns``: per account, when a moderator cleared it (epoch ns; int64
    min when never).
    """
    n = len(account_ids)
    tiers = links.pair_tiers
    a, b = _both_ends(tiers, account_ids)
    known = (a >= 0) & (b >= 0) & (a != b)
    if not known.all():
        logger.warning("sanctions: %d pair_tiers rows name an unknown account or repeat one; "
                       "ignored", int((~known).sum()))
    lo, hi = np.minimum(a, b)[known].astype(np.int64), np.maximum(a, b)[known].astype(np.int64)
    del a, b
    tier = np.select(
        [(tiers[s.TIER] == name).to_numpy(dtype=bool, na_value=False) for name in _TIER_CODE],
        list(_TIER_CODE.values()), _TIER_CODE[s.T_WEAK],
    ).astype(np.int8)[known]
    person_kinds = tiers[s.N_PERSON_KINDS].fillna(0).to_numpy(np.float64)[known]
    household_kinds = tiers[s.N_HOUSEHOLD_KINDS].fillna(0).to_numpy(np.float64)[known]
    # one row per pair, its strongest tier
    key = lo * n + hi
    order = np.lexsort((tier, key))
    first = np.ones(len(order), dtype=bool)
    first[1:] = key[order][1:] != key[order][:-1]
    keep = order[first]
    del order, first, known
    lo, hi, tier, key = lo[keep], hi[keep], tier[keep], key[keep]
    person_kinds, household_kinds = person_kinds[keep], household_kinds[keep]
    conf = np.select(
        [tier == 0, tier == 1],
        [1 - 0.5 ** (1 + person_kinds), 1 - 0.5 ** np.maximum(person_kinds + household_kinds, 1)],
        _WEAK_LINK_CONFIDENCE,
    )
    del person_kinds, household_kinds, keep

    same_person, same_family = (_same_cluster(accounts[column], lo, hi)
                                for column in (s.PERSON_CLUSTER_ID, s.CLUSTER_ID))
    stale_strong, stale_any = _stale_into_cleared(links.pairs, account_ids, key, lo, hi,
                                                  cleared_ns)
    del key
    # every pair in both directions: lo -> hi (pair i), then hi -> lo (pair i again)
    m = len(lo)
    tail = np.concatenate([lo, hi])
    head = np.concatenate([hi, lo])
    del lo, hi
    indptr, target, order = _csr_order(tail, head, n)
    del head
    # per edge in CSR order, its pair: the attributes per pair are taken once, no copy of
    # them made for both directions first
    pair = np.where(order < m, order, order - m)
    graph = _Graph(indptr=indptr, target=target, conf=conf[pair].astype(np.float64, copy=False))
    return _Links(
        graph=graph, tail=tail[order], tier=tier[pair],
        same_person=same_person[pair], same_family=same_family[pair],
        stale_strong=stale_strong[order], stale_any=stale_any[order],
    )


def _same_cluster(cluster_ids: pd.Series, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Per pair: its two accounts have the same cluster id (an account without one does
    not block a link)."""
    ids = pa.array(cluster_ids, from_pandas=True)
    equal = pc.equal(ids.take(pa.array(lo)), ids.take(pa.array(hi))).fill_null(True)
    return equal.to_numpy(zero_copy_only=False).astype(bool)


def _stale_into_cleared(pairs: pd.DataFrame, account_ids: pd.Index, key: np.ndarray,
                        lo: np.ndarray, hi: np.ndarray, cleared_ns: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Per directed link (all ``lo -> hi``, then all ``hi -> lo``): whether it runs into a
    cleared account carrying only person/household values (``stale_strong``), or only
    values (``stale_any``), that account was sharing before it was cleared.

    With nobody cleared (the usual night) nothing is stale, and no per-link date is made.
    """
    is_cleared = cleared_ns != _NEVER
    if not is_cleared.any():
        return np.zeros(2 * len(key), dtype=bool), np.zeros(2 * len(key), dtype=bool)
    newest_strong, newest_any = _newest_evidence(pairs, account_ids, key, is_cleared)
    head = np.concatenate([hi, lo])
    stale_strong = is_cleared[head] & (newest_strong < cleared_ns[head])
    stale_any = is_cleared[head] & (newest_any < cleared_ns[head])
    return stale_strong, stale_any


def _both_ends(pairs: pd.DataFrame, account_ids: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    """Positions in ``account_ids`` of each pair's two accounts (-1: unknown).

    Categorical ends (the graph stage's) are looked up by their categories, each
    end alone (pandas' concat of two categoricals hashes every category and keeps
    the table); text ends in one lookup, the ids hashed once.
    """
    ends = pairs[s.ACCOUNT_A], pairs[s.ACCOUNT_B]
    if any(isinstance(end.dtype, pd.CategoricalDtype) for end in ends):
        return positions(ends[0], account_ids), positions(ends[1], account_ids)
    both = positions(pd.concat(ends, ignore_index=True), account_ids)
    return both[:len(pairs)], both[len(pairs):]


def _newest_evidence(pairs: pd.DataFrame, account_ids: pd.Index, key: np.ndarray,
                     is_cleared: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """When each link into a cleared account became evidence against it: the
    newest of its values, each dated by when that account began sharing it with
    anyone (person/household values only, and all values).

    Returns:
        ``(newest_strong, newest_any)``, epoch ns per directed link: first all
        ``lo -> hi`` links of ``key`` (dated for ``hi``), then all ``hi -> lo``
        (dated for ``lo``); oldest possible where unknown or not cleared.
    """
    newest_strong = np.full(2 * len(key), _NEVER, dtype=np.int64)
    newest_any = np.full(2 * len(key), _NEVER, dtype=np.int64)
    if not is_cleared.any():
        return newest_strong, newest_any
    n = len(account_ids)
    names = account_ids[is_cleared]
    # probe against the few cleared accounts first, then look up those rows only
    near = np.flatnonzero((positions(pairs[s.ACCOUNT_A], names) >= 0)
                          | (positions(pairs[s.ACCOUNT_B], names) >= 0))
    rows = pairs.iloc[near]
    a = positions(rows[s.ACCOUNT_A], account_ids)
    b = positions(rows[s.ACCOUNT_B], account_ids)
    known = (a >= 0) & (b >= 0)
    lo, hi = np.minimum(a, b)[known], np.maximum(a, b)[known]
    link = pd.Index(key).get_indexer(lo.astype(np.int64) * n + hi)
    strong = rows[s.TIER].isin((s.T_PERSON, s.T_HOUSEHOLD)).to_numpy(bool)[known]
    # one entry per (row, end): the holder, the link seen from it, the value
    holder = np.concatenate([hi, lo])
    entries = pd.DataFrame({
        "holder": holder,
        "slot": np.concatenate([link, np.where(link >= 0, link + len(key), -1)]),
        "kind": np.tile(rows[s.KIND].to_numpy(dtype=object)[known], 2),
        "value": np.tile(rows[s.VALUE].to_numpy(dtype=object)[known], 2),
        "began": np.tile(_epoch_ns(rows[s.FIRST_SEEN])[known], 2),
        "strong": np.tile(strong, 2),
    })
    entries = entries[is_cleared[holder] & (entries["slot"] >= 0).to_numpy()]
    value_began = entries.groupby(["holder", "kind", "value"], sort=False)["began"].transform("min")
    slot, began = entries["slot"].to_numpy(), value_began.to_numpy(np.int64)
    np.maximum.at(newest_any, slot, began)
    on = entries["strong"].to_numpy(bool)
    np.maximum.at(newest_strong, slot[on], began[on])
    return newest_strong, newest_any
