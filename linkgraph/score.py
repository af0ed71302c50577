"""Score stage: coupon-abuse score per cluster, with reason codes.

OWNER: score helper.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from linkgraph.cluster import Clustering
from linkgraph.config import CouponConfig
from linkgraph.graph import LinkSet
from linkgraph.load import Tables


@dataclass(frozen=True)
class Scores:
    """clusters: cluster_id, coupon_abuse_score, coupon_abuse_reasons (+ features).
    persons: person_cluster_id, coupon_abuse_score, coupon_abuse_reasons.
    coupon_hubs: hub-level signals (a pickup point used by many redeemers...).
    """

    clusters: pd.DataFrame
    persons: pd.DataFrame
    coupon_hubs: pd.DataFrame


def score_clusters(
    clusters: Clustering, links: LinkSet, tables: Tables, *, config: CouponConfig
) -> Scores:
    raise NotImplementedError
