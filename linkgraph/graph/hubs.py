"""Hubs: values shared by more accounts than one person or one family plausibly has.

The limit is decided per kind against that kind's own distribution of sharing
counts (a robust outlier bound on the log counts: median + z * MAD, after
Leys et al. 2013, "Detecting outliers: do not use standard deviation around the
mean, use absolute deviation around the median"), kept between a per-kind floor
(counts always plausible for one person or family) and a per-kind cap (hard
ceiling), and overridden by the allow and deny lists.

Two rules look past the account count. An address whose canonical key holds a
business word (``gmbh``, ``llc``, ``office``... ``GraphConfig.business_address_words``)
is an office, shared by colleagues: ``business_address``. And a household-tier
value (a home address) is a hub when the accounts sharing it belong to more
distinct *persons* than a family has (:func:`household_hubs`): counting persons
rather than accounts tells a big family with several accounts each from an
office of strangers with one each.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph import schemas as s
from linkgraph.codes import index_dtype, sort_ranks, sorted_unique, text_array
from linkgraph.config import GraphConfig
from linkgraph.engine import LOCAL, Engine
from linkgraph.graph.incidence import TIER_OF_KIND, CodedIncidence, labels, take

logger = logging.getLogger(__name__)

HUB: str = "hub"
DENY_LIST: str = "deny_list"
BUSINESS_ADDRESS: str = "business_address"
_MAD_TO_SIGMA = 1.4826  # MAD of a normal distribution times this is its sigma
_REASON_CODE = np.int16  # per value, its reason's index (more reasons widen it)


@dataclass(frozen=True)
class ValueFlags:
    """Per (kind, value) group: sharing count and whether it may link.

    n_accounts: accounts sharing the group's value.
    first_row: the group's first incidence row (that of its smallest account).
    reason: per group, an index into ``reasons``: why the value does not link
        (normalize's reason, ``hub`` or ``deny_list``); 0 where it may link.
    reasons: the reason names, ``reasons[0]`` unused.
    suppressed: ``reason > 0``.
    star: allowed values over their kind's cap: they link by star edges.
    limit: per kind name, the sharing count above which a value is a hub.
    """

    n_accounts: np.ndarray
    first_row: np.ndarray
    reason: np.ndarray
    reasons: tuple[str, ...]
    suppressed: np.ndarray
    star: np.ndarray
    limit: dict[str, int]

    def reason_labels(self, groups: np.ndarray) -> pd.Series:
        """The reason of each of ``groups`` as strings, NA where the value links."""
        codes = self.reason[groups]
        return labels(codes, self.reasons, missing=codes == 0)


def hub_limit(counts: np.ndarray, *, floor: int, cap: int, z: float) -> int:
    """The most accounts a value of one kind may be shared by and still link.

    ``counts`` are the sharing counts (>= 2) of the kind's shared values; the
    bound is ``exp(median(log n) + z * 1.4826 * MAD(log n))``, kept within
    ``[floor, cap]`` (the cap wins when the floor is above it).

    >>> family_homes = np.array([2] * 90 + [3] * 8 + [4, 5])
    >>> hub_limit(family_homes, floor=8, cap=12, z=4.0)  # typical 2: the floor holds
    8
    >>> cgnat = np.array([2, 3, 5, 8, 12, 20, 30, 50, 80])
    >>> hub_limit(cgnat, floor=6, cap=12, z=4.0)  # widely shared kind: up to the cap
    12
    """
    upper = min(floor, cap)
    if len(counts):
        logs = np.log(np.asarray(counts, dtype=np.float64))
        median = float(np.median(logs))
        mad = float(np.median(np.abs(logs - median))) * _MAD_TO_SIGMA
        upper = max(upper, int(np.floor(np.exp(median + z * mad) + 1e-9)))
    return int(min(upper, cap))


def flag_values(coded: CodedIncidence, *, config: GraphConfig, engine: Engine = LOCAL) -> ValueFlags:
    """Sharing counts per value (counted by ``engine``), and which values stop linking and why."""
    # counts below the number of rows: int32 (half the memory) when they fit; counted
    # where the identifiers were grouped when the frame came with them
    counts = (coded.n_accounts if coded.n_accounts is not None
              else engine.count_keys(coded.group, coded.n_groups))
    n_accounts = counts.astype(index_dtype(len(coded.group)), copy=False)
    representative = coded.first_row
    group_kind = coded.kind[representative] if coded.n_groups else np.zeros(0, np.int64)
    given = coded.frame[s.SUPPRESSED]
    row_suppressed = given.notna().to_numpy()
    reason = np.zeros(coded.n_groups, dtype=_REASON_CODE)  # a handful of reasons
    reasons = ["", HUB, DENY_LIST]
    if row_suppressed.any():
        rows = np.flatnonzero(row_suppressed)
        codes, names = pd.factorize(given.take(rows))
        reasons += [str(name) for name in names]
        # reversed, so that the group's first row (smallest account) wins
        reason[coded.group[rows[::-1]]] = 3 + codes[::-1]
    normalize_suppressed = reason > 0

    allowed, denied = _listed(coded, representative, config)
    business = _business_addresses(coded, representative, n_accounts, config) \
        & ~normalize_suppressed & ~allowed
    if business.any():
        reasons.append(BUSINESS_ADDRESS)
        reason[business] = len(reasons) - 1
        normalize_suppressed = normalize_suppressed | business
    limit: dict[str, int] = {}
    cap_of_group = np.zeros(coded.n_groups, dtype=np.int64)
    hub = np.zeros(coded.n_groups, dtype=bool)
    for code, kind in enumerate(coded.kinds):
        of_kind = group_kind == code
        cap = config.max_accounts_per_value.get(kind, min(config.max_accounts_per_value.values()))
        floor = config.plausible_accounts_per_value.get(kind, cap)
        shared = of_kind & (n_accounts >= 2) & ~normalize_suppressed & ~allowed & ~denied
        limit[kind] = hub_limit(n_accounts[shared], floor=floor, cap=cap, z=config.hub_outlier_z)
        cap_of_group[of_kind] = cap
        hub |= of_kind & (n_accounts > limit[kind])
        logger.info("graph: %s values shared by more than %d accounts are hubs", kind, limit[kind])
    hub &= ~allowed & ~normalize_suppressed
    denied &= ~normalize_suppressed
    reason[hub] = reasons.index(HUB)
    reason[denied] = reasons.index(DENY_LIST)
    suppressed = reason > 0
    star = allowed & ~suppressed & (n_accounts > cap_of_group)
    return ValueFlags(n_accounts=n_accounts, first_row=representative, reason=reason, reasons=tuple(reasons),
                      suppressed=suppressed, star=star, limit=limit)


def household_hubs(
    coded: CodedIncidence, flags: ValueFlags, person: np.ndarray, *, config: GraphConfig
) -> ValueFlags:
    """``flags`` plus household-tier values shared by more persons than one family has.

    A home address is plausible for one family when the accounts sharing it
    belong to few *persons*, whatever their number of accounts: a family of
    five with three accounts each is one household, an office of fourteen
    colleagues with one account each is not. ``person`` labels each account
    code with its person (the components of the person-tier pairs); a value
    whose accounts carry more than ``max_persons_per_household`` labels stops
    linking, with the reason ``shared by N persons``. Allowed values keep linking.

    >>> from linkgraph.graph.incidence import code_identifiers
    >>> coded = code_identifiers(pd.DataFrame({
    ...     "account_id": ["a", "b", "c"], "kind": "address", "value": "1 main st",
    ...     "masked": "*", "first_seen": pd.NaT, "last_seen": pd.NaT, "source": "t",
    ...     "suppressed": None}))
    >>> flags = flag_values(coded, config=GraphConfig())
    >>> config = GraphConfig(max_persons_per_household=2)
    >>> household_hubs(coded, flags, np.array([0, 0, 1]), config=config).reason_labels(
    ...     np.array([0])).tolist()  # two persons: a household
    [nan]
    >>> household_hubs(coded, flags, np.array([0, 1, 2]), config=config).reason_labels(
    ...     np.array([0])).tolist()
    ['shared by 3 persons']
    """
    household_kinds = np.array([TIER_OF_KIND.get(k) == s.T_HOUSEHOLD for k in coded.kinds]
                               or [False])
    limit = config.max_persons_per_household
    allowed, _ = _listed(coded, flags.first_row, config)
    candidate = (~flags.suppressed & ~allowed & (flags.n_accounts > limit)
                 & household_kinds[coded.kind[flags.first_row]])
    if not candidate.any():
        return flags
    rows = np.flatnonzero(candidate[coded.group])
    n_labels = int(person.max()) + 1
    distinct = sorted_unique(coded.group[rows].astype(np.int64) * n_labels + person[coded.account[rows]])
    n_persons = np.bincount(distinct // n_labels, minlength=coded.n_groups)
    hub = candidate & (n_persons > limit)
    if not hub.any():
        return flags
    counts, inverse = np.unique(n_persons[hub], return_inverse=True)
    wide = len(flags.reasons) + len(counts) > np.iinfo(_REASON_CODE).max
    reason = flags.reason.astype(np.int64) if wide else flags.reason.copy()
    reasons = list(flags.reasons)
    reason[hub] = len(reasons) + inverse.ravel()
    reasons += [f"shared by {n} persons" for n in counts]
    logger.info("graph: %d household-tier values shared by more than %d persons are hubs",
                int(hub.sum()), limit)
    return replace(flags, reason=reason, reasons=tuple(reasons), suppressed=reason > 0,
                   star=flags.star & ~hub)


def hub_frame(coded: CodedIncidence, flags: ValueFlags) -> pd.DataFrame:
    """Suppressed values shared by >= 2 accounts: schemas.HUB_COLUMNS, sorted by kind, value."""
    chosen = np.flatnonzero(flags.suppressed & (flags.n_accounts >= 2))
    rows = flags.first_row[chosen]
    frame = coded.frame
    hubs = pd.DataFrame({
        s.KIND: labels(coded.kind[rows], coded.kinds),
        s.VALUE: take(frame[s.VALUE], rows),
        s.MASKED: take(frame[s.MASKED], rows),
        s.N_ACCOUNTS: flags.n_accounts[chosen].astype(np.int64),
        s.REASON: flags.reason_labels(chosen),
    })
    # ranked on codes: pandas' sort of a categorical would hash every category
    order = np.lexsort((sort_ranks(hubs[s.VALUE])[0], sort_ranks(hubs[s.KIND])[0]))
    return hubs.take(order).reset_index(drop=True)


def _business_addresses(
    coded: CodedIncidence, representative: np.ndarray, n_rows: np.ndarray, config: GraphConfig
) -> np.ndarray:
    """Address groups whose canonical key holds a business word (whole word, any case).

    ``n_rows``: the rows of each group (the sharing counts, not counted again here).
    """
    business = np.zeros(coded.n_groups, dtype=bool)
    if not config.business_address_words or s.K_ADDRESS not in coded.kinds or not coded.n_groups:
        return business
    groups = np.flatnonzero(coded.kind[representative] == coded.kinds.index(s.K_ADDRESS))
    groups = groups[n_rows[groups] > 0]
    words = "|".join(re.escape(w.strip().lower()) for w in config.business_address_words)
    pattern = rf"(?:^|[^\pL\pN])(?:{words})(?:$|[^\pL\pN])"
    values = text_array(coded.frame[s.VALUE], representative[groups])
    hit = pc.match_substring_regex(pc.utf8_lower(values), pattern=pattern).fill_null(False)
    business[groups] = hit.to_numpy(zero_copy_only=False)
    return business


def _listed(
    coded: CodedIncidence, representative: np.ndarray, config: GraphConfig
) -> tuple[np.ndarray, np.ndarray]:
    """Groups on the allow list and on the deny list."""
    allowed = np.zeros(coded.n_groups, dtype=bool)
    denied = np.zeros(coded.n_groups, dtype=bool)
    if not (config.hub_allow or config.hub_deny) or coded.n_groups == 0:
        return allowed, denied
    values = text_array(coded.frame[s.VALUE], representative)
    kinds = coded.frame[s.KIND].take(representative).reset_index(drop=True)
    for entries, out in ((config.hub_allow, allowed), (config.hub_deny, denied)):
        pairs = [entry.partition(":") for entry in entries]
        listed_values = sorted({value for _, _, value in pairs})
        listed = pc.is_in(values, value_set=pa.array(listed_values, pa.large_string()))
        candidates = np.flatnonzero(np.asarray(listed.fill_null(False).to_numpy(
            zero_copy_only=False), dtype=bool))
        wanted = {(kind, value) for kind, _, value in pairs}
        for group in candidates:  # only the few groups whose value is listed
            if (kinds[group], values[int(group)].as_py()) in wanted:
                out[group] = True
    return allowed, denied
