"""Graph stage: account-identifier incidence, hubs and junk, link tiers and weights.

``identifiers`` (normalize) -> :class:`LinkSet`, in five steps, each a module:

- :mod:`~linkgraph.graph.incidence`: integer codes, tiers, sharing counts, weights;
- :mod:`~linkgraph.graph.hubs`: values too widely shared to link, per kind;
- :mod:`~linkgraph.graph.pairs`: account pairs through shared values, bounded by caps;
- :mod:`~linkgraph.graph.profiles`: per-account facts (own identity, bursts, orders);
- :mod:`~linkgraph.graph.corroborate`: each pair's tier after corroboration.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.config import GraphConfig
from linkgraph.errors import InputError
from linkgraph.graph.corroborate import pair_tier_frame, summarize_pairs
from linkgraph.graph.hubs import ValueFlags, flag_values, hub_frame
from linkgraph.graph.incidence import (
    TIER_CODES,
    CodedIncidence,
    base_weights,
    code_identifiers,
    labels,
    rarity_weight,
    tier_codes,
)
from linkgraph.graph.pairs import pair_frame, pair_rows
from linkgraph.graph.profiles import account_profiles
from linkgraph.load import Tables

logger = logging.getLogger(__name__)

__all__ = ["LinkSet", "build_links"]


@dataclass(frozen=True)
class LinkSet:
    """Everything the later stages know about links between accounts.

    incidence: one row per (account_id, kind, value): the identifiers frame plus
        ``tier`` (person/household/weak), ``n_accounts`` (accounts sharing the
        value), ``weight`` and ``linking`` (True when the value may join
        clusters: not junk, not a hub, tier person or household, shared).
        ``suppressed`` also names the graph's own reasons: ``hub``, ``deny_list``.
    pairs: one row per (account_a, account_b, kind, value), account_a <
        account_b, for every non-suppressed value shared by 2..cap accounts,
        weak kinds included: schemas.PAIR_COLUMNS.
    pair_tiers: one row per linked (account_a, account_b) with the pair's
        tier after corroboration: schemas.PAIR_TIER_COLUMNS. Clusters use it:
        person tier -> person_cluster_id, person + household -> cluster_id.
    hubs: one row per (kind, value) that stopped linking: schemas.HUB_COLUMNS.
    profiles: one row per account (account_id + facts such as
        ``has_own_identity``, ``disposable_email``, ``burst_size``,
        ``coupon_only``) used by corroboration and scoring.
    """

    incidence: pd.DataFrame
    pairs: pd.DataFrame
    pair_tiers: pd.DataFrame
    hubs: pd.DataFrame
    profiles: pd.DataFrame


def build_links(identifiers: pd.DataFrame, tables: Tables, *, config: GraphConfig) -> LinkSet:
    """Decide which shared identifiers link which accounts, and how strongly.

    Weights: a value of kind K shared by n accounts weighs
    ``BASE_WEIGHT[K] * log2(3) / log2(1 + n)`` (shared by 2 is the kind's base,
    by 20 about a third of it); for recyclable kinds (phone, IP) a pair's
    weight halves every ``gap_half_life_days`` of gap between the two
    accounts' use, and a gap over ``recycle_gap_days`` is no link. Suppressed
    values weigh 0 in the incidence.

    Args:
        identifiers: the normalize stage's frame, schemas.IDENTIFIER_COLUMNS;
            any row order (sorted input is fastest).
        tables: the loaded tables; ``accounts`` (account_id, created_at) and
            ``orders`` (account_id, coupon_code, coupon_type) are used.
        config: hub limits, allow/deny lists, burst and recycling settings.

    Returns:
        A :class:`LinkSet`, every frame sorted by its key.

    Raises:
        InputError: ``identifiers`` lacks columns of schemas.IDENTIFIER_COLUMNS.

    >>> from linkgraph.load import Tables
    >>> def frame(**columns): return pd.DataFrame(columns)
    >>> accounts = frame(account_id=["a1", "a2", "a3"])
    >>> ids = frame(account_id=["a1", "a2", "a1", "a2", "a3"],
    ...             kind=["card", "card", "device", "device", "ip"],
    ...             value=["fp9", "fp9", "d1", "d1", "203.0.113.7"],
    ...             masked=["****fp9", "****fp9", "d***", "d***", "203.0.113.*"],
    ...             first_seen=pd.NaT, last_seen=pd.NaT, source="payments", suppressed=None)
    >>> empty = pd.DataFrame({"account_id": []})
    >>> tables = Tables(accounts=accounts, addresses=empty, payments=empty, logins=empty,
    ...                 orders=empty, sanctions=empty, decisions=empty, rejects=empty)
    >>> links = build_links(ids, tables, config=GraphConfig())
    >>> links.pair_tiers[["account_a", "account_b", "tier", "corroboration"]].to_numpy().tolist()
    [['a1', 'a2', 'person', 'card+device']]
    """
    missing = [c for c in s.IDENTIFIER_COLUMNS if c not in identifiers.columns]
    if missing:
        raise InputError(
            f"identifiers frame has no column(s) {', '.join(missing)} "
            f"(found: {', '.join(map(str, identifiers.columns))}); the graph stage needs "
            f"{', '.join(s.IDENTIFIER_COLUMNS)} as the normalize stage returns them."
        )
    coded = code_identifiers(identifiers)
    flags = flag_values(coded, config=config)
    row_suppressed = flags.suppressed[coded.group]
    row_n = flags.n_accounts[coded.group]
    tier = tier_codes(coded)

    pairs = pair_rows(coded, flags, config=config)
    summary = summarize_pairs(coded, pairs)
    profiles = account_profiles(
        tables.accounts, tables.orders, coded, row_suppressed, row_n, summary.linking(),
        config=config,
    )
    links = LinkSet(
        incidence=_incidence_frame(coded, flags, row_n, tier),
        pairs=pair_frame(coded, pairs),
        pair_tiers=pair_tier_frame(coded, summary, profiles, config=config),
        hubs=hub_frame(coded, flags),
        profiles=profiles,
    )
    logger.info(
        "graph: %d identifier rows, %d hubs, %d value pairs, %d account pairs",
        len(links.incidence), len(links.hubs), len(links.pairs), len(links.pair_tiers),
    )
    return links


def _incidence_frame(
    coded: CodedIncidence, flags: ValueFlags, row_n: np.ndarray, tier: np.ndarray
) -> pd.DataFrame:
    """The identifiers with the graph's facts: tier, n_accounts, weight, linking.

    ``suppressed`` is the value's reason (one per value, the normalize stage's
    first or the graph's ``hub``/``deny_list``).
    """
    incidence = coded.frame.copy(deep=False)
    row_suppressed = flags.suppressed[coded.group]
    incidence[s.SUPPRESSED] = flags.reason_labels(coded.group)
    weight = rarity_weight(base_weights(coded), row_n)
    incidence[s.TIER] = labels(tier, TIER_CODES)
    incidence[s.N_ACCOUNTS] = row_n.astype(np.int64)
    incidence[s.WEIGHT] = np.where(row_suppressed, 0.0, weight)
    incidence[s.LINKING] = ~row_suppressed & (tier <= TIER_CODES.index(s.T_HOUSEHOLD)) & (row_n >= 2)
    return incidence
