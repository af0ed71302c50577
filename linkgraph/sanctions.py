"""Sanctions stage: propagation from blocked accounts, with evidence.

OWNER: sanctions helper.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from linkgraph.config import PolicyConfig
from linkgraph.graph import LinkSet


@dataclass(frozen=True)
class Actions:
    """accounts: schemas.ACTION_COLUMNS, one row per account.
    review_queue: one row per proposed action other than none/watch, ranked.
    """

    accounts: pd.DataFrame
    review_queue: pd.DataFrame


def blocked_accounts(sanctions: pd.DataFrame) -> pd.Index:
    raise NotImplementedError


def propagate(
    accounts: pd.DataFrame,
    links: LinkSet,
    sanctions: pd.DataFrame,
    decisions: pd.DataFrame,
    *,
    policy: PolicyConfig,
) -> Actions:
    raise NotImplementedError
