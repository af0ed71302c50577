"""Account pairs through shared values: all pairs of a group bounded by its cap.

Pairs are generated per group size, not per value: for all groups of size k
one ``triu_indices(k)`` template is broadcast over their start offsets, so the
Python loop runs over at most ``cap`` sizes whatever the number of values.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.codes import categorical, index_dtype, sorted_unique
from linkgraph.config import GraphConfig
from linkgraph.graph.hubs import ValueFlags
from linkgraph.graph.incidence import (
    NAT,
    TIER_CODES,
    CodedIncidence,
    account_column,
    base_weights,
    from_ns,
    rarity_weight,
    take,
    tier_codes,
)

_NS_PER_DAY = 86_400 * 10**9


@dataclass(frozen=True)
class PairRows:
    """One entry per (account_a, account_b, value), sorted by a, b, kind, value.

    row_a / row_b: incidence rows of the two accounts' holding of the value.
    weight: rarity weight, lowered by the time gap for recyclable kinds.
    gap_days: days between the two accounts' use (0 overlapping, NaN unknown).
    recycled: a recyclable kind with a gap over the limit: not a link.
    gapped: a recyclable kind the two accounts never held at the same time
        (a gap of more than a day): a number that may have changed hands.
    """

    row_a: np.ndarray
    row_b: np.ndarray
    weight: np.ndarray
    first_ns: np.ndarray
    last_ns: np.ndarray
    gap_days: np.ndarray
    recycled: np.ndarray
    gapped: np.ndarray

    def without_groups(self, coded: CodedIncidence, dropped: np.ndarray) -> PairRows:
        """These pairs less those through the groups where ``dropped`` (per group) is True."""
        keep = ~dropped[coded.group[self.row_a]]
        return PairRows(**{f.name: getattr(self, f.name)[keep] for f in fields(self)})


def pair_rows(coded: CodedIncidence, flags: ValueFlags, *, config: GraphConfig) -> PairRows:
    """Every pair of accounts sharing a non-suppressed value (star edges over the cap)."""
    linkable = ~flags.suppressed & (flags.n_accounts >= 2)
    row_a, row_b = _all_pairs(coded.group, linkable & ~flags.star, flags)
    if flags.star.any():
        star_a, star_b = _star_pairs(coded.group, flags.star)
        row_a, row_b = np.concatenate([row_a, star_a]), np.concatenate([row_b, star_b])

    # ordered first: the per-pair arrays are then computed once, in output order, and
    # gathered from incidence rows that ascend with account_a (cache-friendly)
    row_a, row_b = _in_pair_order(coded, row_a, row_b)
    first_ns, last_ns = coded.seen_ns(row_a)
    first_b, last_b = coded.seen_ns(row_b)
    known = (first_ns != NAT) & (first_b != NAT)
    # the later start and the earlier end of the two accounts' use, in place
    np.maximum(first_ns, first_b, out=first_ns)
    np.minimum(last_ns, last_b, out=last_ns)
    del first_b, last_b
    first_ns[~known] = NAT
    last_ns[~known] = NAT
    gap_days = np.where(known, np.maximum(first_ns - last_ns, 0) / _NS_PER_DAY, np.nan)

    kind_a = coded.kind[row_a]
    recyclable = np.array([k in config.recyclable_kinds for k in coded.kinds] or [False])[kind_a]
    gap = np.where(recyclable & known, gap_days, 0.0)
    weight = rarity_weight(base_weights(coded, kind_a), flags.n_accounts[coded.group[row_a]])
    weight = weight * np.exp2(-gap / config.gap_half_life_days)
    return PairRows(
        row_a=row_a, row_b=row_b, weight=weight, first_ns=first_ns, last_ns=last_ns,
        gap_days=gap_days, recycled=gap > config.recycle_gap_days, gapped=gap > 1.0,
    )


def pair_frame(coded: CodedIncidence, pairs: PairRows) -> pd.DataFrame:
    """The ``pairs`` frame: schemas.PAIR_COLUMNS, sorted by account_a, account_b, kind, value."""
    frame = coded.frame
    kind = coded.kind[pairs.row_a]
    # the arrays become the columns as they are (copy=False: neither copied nor stacked
    # into blocks; nothing writes to them afterwards)
    pairs_frame = pd.DataFrame({
        s.ACCOUNT_A: account_column(coded, coded.account[pairs.row_a]),
        s.ACCOUNT_B: account_column(coded, coded.account[pairs.row_b]),
        s.KIND: categorical(kind, coded.kinds),
        s.VALUE: take(frame[s.VALUE], pairs.row_a),
        s.MASKED: take(frame[s.MASKED], pairs.row_a),
        s.TIER: categorical(tier_codes(coded, kind), TIER_CODES),
        s.WEIGHT: pairs.weight,
        s.FIRST_SEEN: from_ns(pairs.first_ns),
        s.LAST_SEEN: from_ns(pairs.last_ns),
        s.GAP_DAYS: pairs.gap_days,
    }, copy=False)
    for column in (s.FIRST_SEEN, s.LAST_SEEN):  # the identifiers' own time resolution
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            pairs_frame[column] = pairs_frame[column].astype(frame[column].dtype)
    return pairs_frame


def _group_runs(group: np.ndarray, chosen_groups: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                     np.ndarray]:
    """Rows of the chosen groups, grouped (rows ascending within a group), run starts, sizes."""
    rows = np.flatnonzero(chosen_groups[group])
    # keys are unique (group, row), so an unstable sort keeps rows ascending in a group
    rows = rows[np.argsort(group[rows].astype(np.int64) * len(group) + rows)].astype(
        index_dtype(len(group)))
    if len(rows) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return rows, empty, empty
    boundary = np.flatnonzero(group[rows][1:] != group[rows][:-1]) + 1
    starts = np.concatenate([[0], boundary])
    sizes = np.diff(np.concatenate([starts, [len(rows)]]))
    return rows, starts, sizes


def _all_pairs(
    group: np.ndarray, chosen_groups: np.ndarray, flags: ValueFlags
) -> tuple[np.ndarray, np.ndarray]:
    """All (row_i, row_j), i < j, inside each chosen group."""
    # values shared by exactly two accounts (most shared values) need no sort
    twos = chosen_groups & (flags.n_accounts == 2)
    two_rows = np.flatnonzero(twos[group])
    last_row = np.zeros(len(twos), dtype=flags.first_row.dtype)
    last_row[group[two_rows]] = two_rows  # ascending rows: the last write is the larger row
    two_groups = np.flatnonzero(twos)
    row_a, row_b = [flags.first_row[two_groups]], [last_row[two_groups]]

    rows, starts, sizes = _group_runs(group, chosen_groups & ~twos)
    for size in sorted_unique(sizes):  # bounded by the largest cap, not by the number of values
        if size < 2:
            continue
        i, j = np.triu_indices(int(size), k=1)
        offsets = starts[sizes == size][:, None]
        row_a.append(rows[(offsets + i).ravel()])
        row_b.append(rows[(offsets + j).ravel()])
    return np.concatenate(row_a), np.concatenate(row_b)


def _star_pairs(group: np.ndarray, chosen_groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(first row, each other row) per chosen group: k - 1 edges keep it connected."""
    rows, starts, sizes = _group_runs(group, chosen_groups)
    hub_row = np.repeat(rows[starts], sizes)
    others = np.ones(len(rows), dtype=bool)
    others[starts] = False
    return hub_row[others], rows[others]


def _in_pair_order(coded: CodedIncidence, row_a: np.ndarray, row_b: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray]:
    """The pairs by account_a, account_b, then kind and value (the row order within account_a).

    Each pair's accounts and rows within them fit one int64 but at the largest
    scales: a plain sort of those unique integers (several times faster than an
    argsort, and no gather after it) gives the rows back in order.
    """
    start = coded.account_start
    account_a, account_b = coded.account[row_a], coded.account[row_b]
    within_a, within_b = row_a - start[account_a], row_b - start[account_b]
    account_bits = max(len(coded.accounts) - 1, 1).bit_length()
    bits_a = int(within_a.max(initial=0)).bit_length()
    bits_b = int(within_b.max(initial=0)).bit_length()
    if 2 * account_bits + bits_a + bits_b > 62:
        order = _pair_order(coded, row_a, row_b)
        return row_a[order], row_b[order]
    key = account_a.astype(np.int64) << (account_bits + bits_a + bits_b)
    key |= account_b.astype(np.int64) << (bits_a + bits_b)
    key |= within_a.astype(np.int64) << bits_b
    key |= within_b
    del account_a, account_b, within_a, within_b
    key.sort()
    mask = np.int64(-1) ^ (np.int64(-1) << account_bits)
    rows_b = start[(key >> (bits_a + bits_b)) & mask] + (key & ((1 << bits_b) - 1))
    rows_a = start[key >> (account_bits + bits_a + bits_b)] + \
        ((key >> bits_b) & ((1 << bits_a) - 1))
    return rows_a.astype(row_a.dtype, copy=False), rows_b.astype(row_b.dtype, copy=False)


def _pair_order(coded: CodedIncidence, row_a: np.ndarray, row_b: np.ndarray) -> np.ndarray:
    """Order by account_a, account_b, then kind and value (the row order within account_a)."""
    n_accounts = max(len(coded.accounts), 1)
    account_a = coded.account[row_a]
    pair_key = account_a.astype(np.int64) * n_accounts + coded.account[row_b]
    within = row_a - coded.account_start[account_a]
    span = int(within.max()) + 1 if len(within) else 1
    if n_accounts * n_accounts * span < np.iinfo(np.int64).max // 2:
        return np.argsort(pair_key * span + within)  # unique keys: any sort is stable
    return np.lexsort((within, pair_key))
