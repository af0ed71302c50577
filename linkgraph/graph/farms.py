"""Farm ties: a person-level value over its hub limit that is one farmer's, not a crowd's.

A device, card or phone shared by more accounts than one person or family
plausibly has is a hub (:mod:`~linkgraph.graph.hubs`), because such counts
usually mean strangers: a shop's demo tablet, a reused emulator id. One
coupon farmer can pass any such count, though: a farm of forty accounts on
one phone and one card grows by a few accounts a night, and the night it
crosses the limit the farm would fall apart into forty strangers, and the
sanction of its caught account would stop at the limit.

A value over its limit is a *farm tie*, and links again, when the accounts
sharing it look like one farm rather than a crowd:

- at least ``farm_min_share`` of them are farmed (coupon-only histories or
  disposable mailboxes): a crowd of real customers keeps on shopping;
- they deliver to no more distinct places (addresses, pickup points and
  offices included, junk left out) than ``max_persons_per_household``:
  strangers each ship to their own home or their nearest pickup point, a
  farm ships to one or two pickup points or to one home;
- at most ``max_accounts_per_farm`` share it.

Values the normalize stage or the deny list suppressed (junk, placeholders)
never become farm ties. A farm tie over its kind's cap links by star edges
(see :func:`~linkgraph.graph.pairs.pair_rows`), never by all pairs.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
from scipy.sparse import csr_matrix

from linkgraph import schemas as s
from linkgraph.config import GraphConfig
from linkgraph.graph.hubs import HUB, ValueFlags
from linkgraph.graph.incidence import TIER_OF_KIND, CodedIncidence
from linkgraph.normalize.junk import JUNK

logger = logging.getLogger(__name__)

#: suppression reasons of values that are no place anyone receives parcels
_NO_PLACE = (JUNK, "invalid")


def farm_ties(
    coded: CodedIncidence, flags: ValueFlags, farmed: np.ndarray, *, config: GraphConfig
) -> ValueFlags:
    """``flags`` with the person-level hubs that are one farm's ties linking again.

    Args:
        coded: the coded incidence.
        flags: the values' flags from :func:`~linkgraph.graph.hubs.flag_values`.
        farmed: per account code, a coupon-only history or a disposable mailbox.
        config: ``farm_min_share``, ``max_accounts_per_farm``,
            ``max_persons_per_household`` and the per-kind caps.

    Returns:
        New flags (``flags`` itself when no hub is a farm tie).

    >>> import pandas as pd
    >>> from linkgraph.graph.hubs import flag_values
    >>> from linkgraph.graph.incidence import code_identifiers
    >>> farm = [f"f{i:02d}" for i in range(12)]
    >>> coded = code_identifiers(pd.DataFrame({
    ...     "account_id": farm, "kind": "device", "value": "dev-1", "masked": "*",
    ...     "first_seen": pd.NaT, "last_seen": pd.NaT, "source": "t", "suppressed": None}))
    >>> config = GraphConfig(max_accounts_per_value={"device": 10},
    ...                      plausible_accounts_per_value={"device": 10})
    >>> flags = flag_values(coded, config=config)
    >>> bool(flags.suppressed[0])
    True
    >>> tied = farm_ties(coded, flags, np.ones(12, dtype=bool), config=config)
    >>> bool(tied.suppressed[0]), bool(tied.star[0])
    (False, True)
    """
    if HUB not in flags.reasons or not coded.n_groups:
        return flags
    person_kinds = np.array([TIER_OF_KIND.get(k) == s.T_PERSON for k in coded.kinds] or [False])
    group_kind = coded.kind[flags.first_row]
    candidate = ((flags.reason == flags.reasons.index(HUB)) & person_kinds[group_kind]
                 & (flags.n_accounts <= config.max_accounts_per_farm))
    if not candidate.any():
        return flags
    rows = np.flatnonzero(candidate[coded.group])
    group, account = coded.group[rows], coded.account[rows]
    n_farmed = np.bincount(group, weights=farmed[account], minlength=coded.n_groups)
    candidate &= n_farmed >= config.farm_min_share * flags.n_accounts
    places = _delivery_places(coded, flags, group, account)
    tie = candidate & (places <= config.max_persons_per_household)
    if not tie.any():
        return flags
    logger.info("graph: %d hub values are one farm's ties and link", int(tie.sum()))
    reason = np.where(tie, 0, flags.reason)
    caps = np.array([config.max_accounts_per_value.get(k, 0) for k in coded.kinds])
    star = flags.star | (tie & (flags.n_accounts > caps[group_kind]))
    return replace(flags, reason=reason, suppressed=reason > 0, star=star)


def _delivery_places(coded: CodedIncidence, flags: ValueFlags, group: np.ndarray,
                     account: np.ndarray) -> np.ndarray:
    """Per group, the distinct delivery places (household-tier values, hubs and pickup
    points included, junk and invalid ones not) of the accounts at (``group``,
    ``account``) rows."""
    household_kinds = np.array([TIER_OF_KIND.get(k) == s.T_HOUSEHOLD for k in coded.kinds]
                               or [False])
    no_place = np.isin(np.asarray(flags.reasons, dtype=object), _NO_PLACE)
    places = np.flatnonzero(household_kinds[coded.kind] & ~no_place[flags.reason[coded.group]])
    n_accounts, n_groups = len(coded.accounts), coded.n_groups
    # (group x account) times (account x place): a row's non-zeros are its distinct places
    holders = csr_matrix((np.ones(len(group)), (group, account)), shape=(n_groups, n_accounts))
    delivered = csr_matrix((np.ones(len(places)), (coded.account[places], coded.group[places])),
                           shape=(n_accounts, n_groups))
    return np.diff((holders @ delivered).indptr)
