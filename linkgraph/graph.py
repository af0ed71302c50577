"""Graph stage: account-identifier incidence, hubs and junk, link tiers and weights.

OWNER: graph helper.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from linkgraph.config import GraphConfig
from linkgraph.load import Tables


@dataclass(frozen=True)
class LinkSet:
    """Everything the later stages know about links between accounts.

    incidence: one row per (account_id, kind, value): the identifiers frame plus
        ``tier`` (person/household/weak), ``n_accounts`` (accounts sharing the
        value), ``weight`` and ``linking`` (True when the value may join
        clusters: not junk, not a hub, tier person or household, shared).
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
    raise NotImplementedError
