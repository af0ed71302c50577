"""The account-identifier incidence as integer codes: tiers, sharing counts, weights.

Every later step of the graph stage works on the arrays of :class:`CodedIncidence`
(one entry per identifier row, rows sorted by ``account_id, kind, value``), never on
strings: strings are hashed once here and looked up again only for the output.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph import schemas as s
from linkgraph.codes import coded_text, index_dtype
from linkgraph.engine import LOCAL, Aggregation, Engine

logger = logging.getLogger(__name__)

TIER_OF_KIND: dict[str, str] = {
    s.K_EMAIL: s.T_PERSON, s.K_PHONE: s.T_PERSON, s.K_DEVICE: s.T_PERSON,
    s.K_CARD: s.T_PERSON, s.K_CARD_DIGITS: s.T_PERSON,
    s.K_ADDRESS: s.T_HOUSEHOLD,
    s.K_IP: s.T_WEAK, s.K_NAME: s.T_WEAK,
}

#: the weight of a link through a value shared by two accounts, per kind: a card
#: fingerprint is the provider's proof of one card; bin+last4+expiry collides
#: between strangers; a mailbox is cheap to make; IPs and names are weak.
BASE_WEIGHT: dict[str, float] = {
    s.K_CARD: 1.0, s.K_DEVICE: 0.9, s.K_PHONE: 0.9, s.K_EMAIL: 0.8, s.K_CARD_DIGITS: 0.7,
    s.K_ADDRESS: 0.6, s.K_IP: 0.2, s.K_NAME: 0.1,
}
_UNKNOWN_KIND_WEIGHT = 0.1

TIER_CODES: tuple[str, ...] = s.TIERS  # code 0 person, 1 household, 2 weak
NAT = np.iinfo(np.int64).min
_NS_MIN, _NS_MAX = pd.Timestamp.min.as_unit("us"), pd.Timestamp.max.as_unit("us")
_US_MIN, _US_MAX = (int(t.to_datetime64().astype("datetime64[us]").view(np.int64))
                    for t in (_NS_MIN, _NS_MAX))


def rarity_weight(base: np.ndarray, n_accounts: np.ndarray) -> np.ndarray:
    """Link weight of a value shared by ``n_accounts``: ``base * log2(3) / log2(1 + n)``.

    Shared by 2 gives the kind's base weight, by 20 about a third of it (rarer
    is stronger); an unshared value keeps the base weight.

    >>> rarity_weight(np.array([1.0, 1.0, 1.0]), np.array([1, 2, 20])).round(3).tolist()
    [1.0, 1.0, 0.361]
    """
    n = np.asarray(n_accounts)
    n = n if n.dtype.kind == "i" else n.astype(np.int64)  # int32 counts index as they are
    if len(n) == 0:
        return np.zeros(0, dtype=np.float64)
    # one logarithm per distinct count, not per row
    by_count = math.log2(3.0) / np.log2(1.0 + np.maximum(np.arange(n.max() + 1), 2.0))
    return np.asarray(base, dtype=np.float64) * by_count[n]


@dataclass(frozen=True)
class CodedIncidence:
    """The identifiers, deduplicated and sorted, with integer codes per row.

    frame: the identifier rows (``schemas.IDENTIFIER_COLUMNS``), sorted by
        ``account_id, kind, value``, one row per key.
    account: code of the row's account into ``accounts`` (sorted ids); int32 (codes,
        rows and groups are int32 below two billion rows: half the memory of int64).
    kind: code of the row's kind into ``kinds`` (sorted names); int8 for a few kinds.
    group: dense code of the row's (kind, value): rows with equal codes share a value.
    first_row: per group, its first row (that of its smallest account; 0 for an unused code).
    first_seen / last_seen: the rows' times, typed (the frame's own columns when they
        are; no copy): :meth:`seen_ns` reads them for the rows it is asked about.
    active_until: per account code, the latest time any of its values was seen (int64
        nanoseconds, ``NAT`` unknown).
    n_accounts: per group, its rows (the accounts sharing the value), when the frame
        came with the count (``schemas.VALUE_ACCOUNTS``, made where the identifiers
        were grouped); None: the hub flags count them (``engine.count_keys``).
    """

    frame: pd.DataFrame
    account: np.ndarray
    accounts: pd.Index
    kind: np.ndarray
    kinds: tuple[str, ...]
    group: np.ndarray
    n_groups: int
    first_row: np.ndarray
    first_seen: pd.Series
    last_seen: pd.Series
    active_until: np.ndarray
    n_accounts: np.ndarray | None = None

    @property
    def account_start(self) -> np.ndarray:
        """Row index where each account's rows begin (rows are sorted by account)."""
        return np.searchsorted(self.account, np.arange(len(self.accounts)), side="left")

    def seen_ns(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """First and last seen of the ``rows`` as int64 nanoseconds (``NAT`` unknown).

        A value seen once has one time, used for both ends of its interval; a
        value on file (seen at one instant) is held while its account is active
        (:func:`_held_while_active`). Computed for the rows asked about only (the
        pairs' rows), not kept for every row: two int64 arrays of every
        identifier row were 150 MB at a million accounts.
        """
        first = to_ns(take(self.first_seen, rows))
        last = to_ns(take(self.last_seen, rows))
        first = np.where(first == NAT, last, first)
        last = np.where(last == NAT, first, last)
        return first, _held_while_active(self.active_until[self.account[rows]], first, last)


def code_identifiers(identifiers: pd.DataFrame, *, engine: Engine = LOCAL) -> CodedIncidence:
    """Sort, deduplicate and integer-code the identifiers frame.

    Input sorted by its key with the normalize stage's integer codes
    (``schemas.IDENTIFIER_CODE_COLUMNS``) hashes no string; sorted input without
    them costs one hash of the values; any other order is sorted first (on the
    strings), so codes never depend on it. Rows repeating a key (never the
    normalize stage's, which are one per key) are merged, their times by
    ``engine`` (``linkgraph.engine``).
    """
    frame = identifiers.loc[:, list(s.IDENTIFIER_COLUMNS)]
    given = _given_codes(identifiers)
    incomplete = np.zeros(len(frame), dtype=bool)
    for column in (s.ACCOUNT_ID, s.KIND, s.VALUE):
        incomplete |= frame[column].isna().to_numpy()
    if incomplete.any():
        logger.warning("graph: ignoring %d identifier rows with no account, kind or value",
                       int(incomplete.sum()))
        frame = frame[~incomplete]
        if given is not None:
            given = (given[0][~incomplete], given[1][~incomplete])
    frame = frame.reset_index(drop=True)
    if given is not None and not _codes_sorted(*given):
        given = None
    if given is None and not _is_sorted(frame):
        logger.info("graph: identifiers not sorted by (account_id, kind, value); sorting")
        frame = _sorted(frame)
    if given is None:
        account, accounts = _run_codes(frame[s.ACCOUNT_ID])
        kind, kinds = _kind_codes(frame[s.KIND])
        group, n_groups = _group_codes(kind, frame[s.VALUE])
    else:
        account, accounts = _run_codes(frame[s.ACCOUNT_ID], given[0])
        group, n_groups = _dense_codes(given[1])
        first_row = _first_rows(group, n_groups)
        kind, kinds = _kind_codes_of_groups(frame[s.KIND], group, n_groups, first_row)

    duplicate = np.zeros(len(frame), dtype=bool)
    if len(frame) > 1:
        duplicate[1:] = (account[1:] == account[:-1]) & (group[1:] == group[:-1])
    if duplicate.any():
        frame = _merge_duplicates(frame, duplicate, engine)
        keep = ~duplicate
        account, kind, group = account[keep], kind[keep], group[keep]
    if given is None or duplicate.any():
        first_row = _first_rows(group, n_groups)
    first_seen, last_seen = _typed_times(frame[s.FIRST_SEEN]), _typed_times(frame[s.LAST_SEEN])
    counted = None
    if given is not None and not duplicate.any() and not incomplete.any():
        counted = _given_counts(identifiers, first_row, len(frame))
    return CodedIncidence(
        frame=frame, account=account, accounts=accounts, kind=kind, kinds=kinds,
        group=group, n_groups=n_groups, first_row=first_row, first_seen=first_seen,
        last_seen=last_seen,
        active_until=_active_until(account, len(accounts), first_seen, last_seen),
        n_accounts=counted,
    )


#: rows converted to nanoseconds at a time where every row is read (a bounded scratch)
_CHUNK_ROWS = 1 << 20


def _typed_times(column: pd.Series) -> pd.Series:
    """``column`` itself when it holds timestamps, else its values parsed as UTC times
    (:func:`to_ns`): times given as text are parsed once, whole, not chunk by chunk."""
    if column.dtype.kind == "M" or isinstance(column.dtype, pd.DatetimeTZDtype):
        return column
    return from_ns(to_ns(column))


def _active_until(account: np.ndarray, n_accounts: int, first_seen: pd.Series,
                  last_seen: pd.Series) -> np.ndarray:
    """Per account code, the latest last seen of its rows (a row seen once: that time).

    The rows are read a chunk at a time: the nanoseconds of every row are never
    all held at once.
    """
    until = np.full(n_accounts, NAT, dtype=np.int64)
    for start in range(0, len(account), _CHUNK_ROWS):
        end = min(start + _CHUNK_ROWS, len(account))
        first = to_ns(first_seen.iloc[start:end])
        last = to_ns(last_seen.iloc[start:end])
        last = np.where(last == NAT, first, last)
        codes = account[start:end]
        runs = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
        # an account's rows are consecutive: at most the one spanning two chunks is seen twice
        np.maximum.at(until, codes[runs], np.maximum.reduceat(last, runs))
    return until


def _first_rows(group: np.ndarray, n_groups: int) -> np.ndarray:
    """For each group, its first row (rows ascend with the account: its smallest account's)."""
    dtype = index_dtype(len(group))
    first = np.zeros(n_groups, dtype=dtype)
    # written backwards, so that the first row is the last write
    first[group[::-1]] = np.arange(len(group) - 1, -1, -1, dtype=dtype)
    return first


def _held_while_active(
    active_until: np.ndarray, first_ns: np.ndarray, last_ns: np.ndarray
) -> np.ndarray:
    """Last seen, with values on file held for as long as their account is active.

    A value seen at one instant (the phone given at sign-up) stays the
    account's until its last activity (``active_until``, per row: the latest
    last seen of any of its account's values): else a phone kept for years
    would look recycled between two accounts of one person; a number really
    recycled belongs to an old account that went quiet before the new one
    appeared. ``last_ns`` is updated in place and returned.
    """
    on_file = (first_ns == last_ns) & (first_ns != NAT)
    return np.maximum(last_ns, active_until, out=last_ns, where=on_file)


def _given_codes(identifiers: pd.DataFrame) -> tuple[np.ndarray, np.ndarray] | None:
    """The normalize stage's (account_code, value_code) as they are (int32 or int64, not
    copied), or None when absent.

    Frames built by hand (tests, analysts) have no codes, or codes of the wrong
    type: those fall back to coding the strings.
    """
    columns = []
    for name in s.IDENTIFIER_CODE_COLUMNS:
        if name not in identifiers.columns:
            return None
        column = identifiers[name]
        if not pd.api.types.is_integer_dtype(column.dtype) or column.isna().any():
            return None
        values = column.to_numpy()
        columns.append(values if values.dtype in (np.int32, np.int64) else
                       values.astype(np.int64))
    if len(columns[0]) and min(int(columns[0].min()), int(columns[1].min())) < 0:
        return None
    return columns[0], columns[1]


def _given_counts(identifiers: pd.DataFrame, first_row: np.ndarray, n_rows: int
                  ) -> np.ndarray | None:
    """Per group, the accounts the frame says share its value (``schemas.VALUE_ACCOUNTS``,
    read at the group's first row), or None: no such column, or counts that do not add up
    to the rows (a frame edited since the count)."""
    if s.VALUE_ACCOUNTS not in identifiers.columns:
        return None
    column = identifiers[s.VALUE_ACCOUNTS]
    if not pd.api.types.is_integer_dtype(column.dtype) or len(column) != n_rows:
        return None
    counts = column.to_numpy()[first_row]
    return counts if int(counts.sum(dtype=np.int64)) == n_rows else None


def _codes_sorted(account: np.ndarray, value: np.ndarray) -> bool:
    """True when the codes ascend by (account, value), equal keys allowed (merged later).

    The codes ascend with the strings, so this is the strings' order too.
    """
    if len(account) < 2:
        return True
    # comparisons of neighbours (one byte per row), not differences (eight)
    same = account[1:] == account[:-1]
    return bool((account[1:] >= account[:-1]).all()
                and not (same & (value[1:] < value[:-1])).any())


def _dense_codes(codes: np.ndarray) -> tuple[np.ndarray, int]:
    """``codes`` renumbered 0..k-1 in the same order (no unused codes)."""
    dtype = index_dtype(len(codes))
    if len(codes) == 0:
        return np.zeros(0, dtype=dtype), 0
    top = int(codes.max())
    if top > 4 * len(codes) + 1024:
        # sparse codes: a table as long as the largest code would waste memory
        dense, uniques = pd.factorize(codes, sort=True)
        return np.asarray(dense, dtype=dtype), len(uniques)
    used = np.zeros(top + 1, dtype=bool)
    used[codes] = True
    if used.all():
        # dense already (the normalize stage's codes)
        return codes.astype(dtype, copy=False), top + 1
    renumber = (np.cumsum(used) - 1).astype(dtype)
    return renumber[codes], int(renumber[-1]) + 1


def _kind_codes_of_groups(
    kinds: pd.Series, group: np.ndarray, n_groups: int, row_of: np.ndarray
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Kind codes per row from the group codes, reading a few kinds only.

    Group codes ascend with (kind, value) (``schemas.VALUE_CODE``), so the kind
    changes at most once per kind along them: each change is found by bisection
    on one row per group (``row_of``). Kinds out of order fall back to comparing
    every row.
    """
    if n_groups == 0:
        return _kind_codes(kinds)

    def kind_at(code: int) -> str:
        return str(kinds.iat[int(row_of[code])])

    names: list[str] = []
    starts: list[int] = []
    start = 0
    while start < n_groups and len(names) <= len(kinds):
        name = kind_at(start)
        names.append(name)
        starts.append(start)
        low, high = start, n_groups  # kind_at(low) == name; find the first code after it that differs
        while high - low > 1:
            middle = (low + high) // 2
            if kind_at(middle) == name:
                low = middle
            else:
                high = middle
        start = high
    if names != sorted(set(names)):
        logger.info("graph: value codes not ordered by kind; coding the kinds from the strings")
        return _kind_codes(kinds)
    by_group = np.repeat(np.arange(len(names), dtype=_kind_dtype(len(names))),
                         np.diff([*starts, n_groups]))
    return by_group[group], tuple(names)


def _kind_codes(kinds: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes into the sorted names of the kinds present (known kinds by comparison, no hashing)."""
    array = _arrow(kinds)
    codes = np.full(len(kinds), -1, dtype=np.int64)
    names = sorted(s.KINDS)
    for code, name in enumerate(names):
        codes[pc.equal(array, name).to_numpy(zero_copy_only=False)] = code
    unknown = codes < 0
    if unknown.any():
        extra_codes, extra = pd.factorize(kinds[unknown])
        codes[unknown] = len(names) + extra_codes
        names += [str(k) for k in extra]
    present = np.flatnonzero(np.bincount(codes, minlength=len(names)))
    ordered = sorted(present, key=lambda c: names[c])
    remap = np.zeros(len(names), dtype=_kind_dtype(len(ordered)))
    remap[ordered] = np.arange(len(ordered))
    return remap[codes], tuple(names[c] for c in ordered)


def _kind_dtype(n_kinds: int) -> type[np.signedinteger]:
    """A byte per row for the handful of kinds (only ever used as an index)."""
    return np.int8 if n_kinds < 127 else np.int64


def _group_codes(kind: np.ndarray, values: pd.Series) -> tuple[np.ndarray, int]:
    """A code per (kind, value): the value's code, split only where kinds share a value.

    Codes of values re-coded that way stay unused (groups of zero rows).
    """
    dtype = index_dtype(2 * len(values))  # codes of values re-coded run past the rows
    if len(values) == 0:
        return np.zeros(0, dtype=dtype), 0
    encoded = _arrow(values).dictionary_encode()
    value = encoded.indices.to_numpy(zero_copy_only=False).astype(dtype)
    n_values = len(encoded.dictionary)
    some_kind = np.zeros(n_values, dtype=np.int64)
    some_kind[value] = kind
    mixed = np.zeros(n_values, dtype=bool)
    mixed[value[kind != some_kind[value]]] = True
    if not mixed.any():
        return value, n_values
    rows = mixed[value]
    extra, uniques = pd.factorize(kind[rows].astype(np.int64) * n_values + value[rows])
    value = value.copy()
    value[rows] = n_values + extra
    return value, n_values + len(uniques)


def _arrow(series: pd.Series) -> pa.Array:
    if isinstance(series.array, pd.arrays.ArrowStringArray):
        array = pa.array(series.array)
    else:
        array = pa.array(series.astype(object), type=pa.large_string(), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array


def _is_sorted(frame: pd.DataFrame) -> bool:
    """True when rows are strictly ascending by (account_id, kind, value) or one row."""
    if len(frame) < 2:
        return True
    ascending = pa.array(np.zeros(len(frame) - 1, dtype=bool))
    equal = pa.array(np.ones(len(frame) - 1, dtype=bool))
    for column in (s.ACCOUNT_ID, s.KIND, s.VALUE):
        values = _arrow(frame[column])
        before, after = values[:-1], values[1:]
        ascending = pc.or_(ascending, pc.and_(equal, pc.less(before, after)))
        equal = pc.and_(equal, pc.equal(before, after))
    # equal keys are duplicates: sorted, merged later
    return bool(pc.all(pc.or_(ascending, equal)).as_py())


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = [pd.factorize(frame[c], sort=True)[0] for c in (s.VALUE, s.KIND, s.ACCOUNT_ID)]
    return frame.take(np.lexsort(keys)).reset_index(drop=True)


def _run_codes(
    values: pd.Series, given: np.ndarray | None = None
) -> tuple[np.ndarray, pd.Index]:
    """Codes of a sorted column: equal neighbours share a code; codes ascend with values.

    ``given``: integer codes of the values (equal values, equal codes), compared
    instead of the strings.
    """
    if len(values) == 0:
        return np.zeros(0, dtype=index_dtype(0)), pd.Index([], dtype="str")
    starts = np.ones(len(values), dtype=bool)
    if given is not None:
        starts[1:] = given[1:] != given[:-1]
    else:
        array = _arrow(values)
        starts[1:] = pc.not_equal(array[1:], array[:-1]).to_numpy(zero_copy_only=False)
    codes = np.cumsum(starts, dtype=index_dtype(len(values)))
    codes -= 1
    return codes, pd.Index(values[starts], dtype="str")


def to_ns(column: pd.Series) -> np.ndarray:
    """Timestamps as int64 UTC nanoseconds, ``NAT`` where unknown (naive means UTC).

    Times outside 1678-2261 (placeholders such as 9999-12-31) count as unknown.

    >>> to_ns(pd.Series(pd.to_datetime(["1970-01-01 00:00:01", None, "9999-12-31 00:00:00"],
    ...                                utc=True).as_unit("us"))).tolist() == [10**9, NAT, NAT]
    True
    """
    if column.dtype.kind == "M" or isinstance(column.dtype, pd.DatetimeTZDtype):
        # already typed (the normalize stage's microseconds): integer work, no parsing
        stamps = column.array
        if stamps.unit == "ns":
            return np.asarray(stamps.asi8, dtype=np.int64).copy()
        if stamps.unit == "us":
            micros = np.asarray(stamps.asi8, dtype=np.int64)
            ns = micros * 1000  # out-of-range products wrap, and are overwritten next
            ns[(micros <= _US_MIN) | (micros >= _US_MAX)] = NAT
            return ns
    stamps = pd.to_datetime(column, utc=True, errors="coerce").dt.tz_convert(None)
    if stamps.dtype != np.dtype("datetime64[ns]"):
        stamps = stamps.where((stamps > _NS_MIN) & (stamps < _NS_MAX))
    return stamps.astype("datetime64[ns]").to_numpy().view(np.int64)


def from_ns(values: np.ndarray) -> pd.Series:
    """int64 nanoseconds (``NAT`` unknown) back to a UTC timestamp series."""
    return pd.Series(np.asarray(values, dtype=np.int64).view("datetime64[ns]")).dt.tz_localize(
        "UTC"
    )


def _merge_duplicates(frame: pd.DataFrame, duplicate: np.ndarray,
                      engine: Engine = LOCAL) -> pd.DataFrame:
    """One row per key: earliest first seen, latest last seen, any suppression reason.

    The times are two ``engine`` maxima per run of equal keys: of the last seen, and
    of the negated first seen (``NAT``, the smallest int64, is left as it is: an
    unknown time loses to any known one, and a run of unknown times stays unknown).
    """
    logger.info("graph: merging %d duplicate identifier rows", int(duplicate.sum()))
    first_ns, last_ns = to_ns(frame[s.FIRST_SEEN]), to_ns(frame[s.LAST_SEEN])
    run = np.cumsum(~duplicate) - 1
    merged = engine.group_aggregate(run, int(run[-1]) + 1, {
        "first": Aggregation("max", np.where(first_ns == NAT, NAT, -first_ns), fill=NAT),
        "last": Aggregation("max", last_ns, fill=NAT)})
    merged_first = np.where(merged["first"] == NAT, NAT, -merged["first"])
    reasons = frame[s.SUPPRESSED].groupby(run).first()
    kept = frame[~duplicate].reset_index(drop=True)
    kept[s.SUPPRESSED] = reasons.to_numpy()
    kept[s.FIRST_SEEN] = from_ns(merged_first)
    kept[s.LAST_SEEN] = from_ns(merged["last"])
    return kept


def labels(
    codes: np.ndarray, names: tuple[str, ...] | list[str], *, missing: np.ndarray | None = None
) -> pd.Series:
    """Strings from small integer codes, as a ``str`` series (no per-row Python objects).

    ``missing``: where True, the string is NA.
    """
    dictionary = pa.array(list(names) or [""], type=pa.large_string())
    indices = pa.array(np.asarray(codes, dtype=np.int32), mask=missing)
    strings = pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.large_string())
    return pd.Series(pd.array(strings, dtype="str"))


def account_column(coded: CodedIncidence, codes: np.ndarray) -> pd.Categorical:
    """Account ids from account codes, as a categorical of the sorted ids (int32 codes):
    every frame of pairs shares the one list of ids."""
    return coded_text(np.asarray(codes, dtype=np.int32), coded.accounts)


def take(series: pd.Series | pd.Index, rows: np.ndarray) -> pd.Series:
    """``series`` at positions ``rows``, as a new series with a fresh range index."""
    return pd.Series(series.array.take(np.asarray(rows, dtype=np.int64)))


def tier_codes(coded: CodedIncidence, kind: np.ndarray | None = None) -> np.ndarray:
    """Tier code (index into ``TIER_CODES``) per row, or per entry of ``kind`` codes when given.

    Unknown kinds are weak.
    """
    unknown = [k for k in coded.kinds if k not in TIER_OF_KIND]
    if unknown:
        logger.warning("graph: unknown identifier kinds %s are treated as weak", unknown)
    by_kind = np.array([TIER_CODES.index(TIER_OF_KIND.get(k, s.T_WEAK)) for k in coded.kinds]
                       or [0], dtype=np.int8)
    return by_kind[coded.kind if kind is None else kind]


def base_weights(coded: CodedIncidence, kind: np.ndarray | None = None) -> np.ndarray:
    """Base weight (``BASE_WEIGHT``) per row, or per entry of ``kind`` codes when given."""
    by_kind = np.array([BASE_WEIGHT.get(k, _UNKNOWN_KIND_WEIGHT) for k in coded.kinds] or [0.0])
    return by_kind[coded.kind if kind is None else kind]
