"""Cluster stage: person and family components, stable ids, changes, alerts.

OWNER: cluster helper.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from linkgraph.config import ClusterConfig
from linkgraph.graph import LinkSet
from linkgraph.load import PreviousRun


@dataclass(frozen=True)
class Clustering:
    """accounts: account_id, cluster_id, person_cluster_id (one row per account).
    clusters: cluster_id, n_accounts, n_persons, n_blocked, link_kinds, density.
    changes: schemas.CLUSTER_CHANGE_COLUMNS (empty without a previous run).
    alerts: cluster_id, n_accounts, reason, bridge (giant-cluster guard).
    issued_ids: every id ever issued, carried from run to run.
    """

    accounts: pd.DataFrame
    clusters: pd.DataFrame
    changes: pd.DataFrame
    alerts: pd.DataFrame
    issued_ids: pd.DataFrame


def assign_clusters(
    accounts: pd.DataFrame,
    links: LinkSet,
    *,
    blocked: pd.Index,
    previous: PreviousRun | None = None,
    config: ClusterConfig,
) -> Clustering:
    raise NotImplementedError
