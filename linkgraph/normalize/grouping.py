"""Grouping the identifier rows on integer codes: one row per (account, kind, value).

The sources of a kind (say ``accounts.registration_ip`` and ``logins.ip``)
arrive as :class:`SourceRows`: account codes, codes into the column's distinct
values, and times as integers (each input column hashed once, where it is
read, so its strings need not outlive it). :func:`group_kind` pools the
distinct values, normalises each distinct raw value once, codes the
canonical values in sorted order and reduces the rows of a kind with numpy
(a sort of int64 keys, then ``reduceat`` over the runs), so no string is
hashed or sorted per row twice and no string column is grouped.
:func:`assemble` sorts the kinds' rows by (account, kind, value) and decodes
them (Arrow ``take`` on the sorted distinct values).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph.codes import dictionary_codes, index_dtype, sorted_keys, string_order
from linkgraph.normalize.text import TEXT, arrow_flags, arrow_text, as_text, to_text

#: NaT as an int64 (numpy's and pandas' sentinel)
NAT = np.iinfo(np.int64).min
_BIG = np.iinfo(np.int64).max


#: a text column as integer codes (-1: NA) into its distinct values (TEXT)
Coded = tuple[np.ndarray, pd.Series]


@dataclass(frozen=True)
class SourceRows:
    """The rows one input column gives one kind, before grouping, as codes.

    ``account``: each row's code into the sorted account ids (-1: no account);
    ``values``: codes into the distinct values, raw or already canonical (then
    with ``suppressed``, the reasons, NA = may link); ``first``/``last``: int64
    microseconds since the epoch, ``NAT`` when unknown; ``last4``: the card's
    last digits (cards only). Only codes and distinct values: the input
    column's strings can go once its rows are built (see :func:`source_rows`).
    """

    source: str
    account: np.ndarray
    values: Coded
    first: np.ndarray
    last: np.ndarray
    suppressed: Coded | None = None
    last4: Coded | None = None


def source_rows(source: str, account: np.ndarray, values: pd.Series, first: np.ndarray,
                last: np.ndarray, suppressed: pd.Series | None = None,
                last4: pd.Series | None = None) -> SourceRows:
    """:class:`SourceRows` of text columns, each hashed once (blank ``last4`` cells are NA).

    >>> rows = source_rows("t.c", np.array([0, 1]), pd.Series(["b", "b"]), np.array([1, 2]),
    ...                    np.array([1, 2]))
    >>> rows.values[0].tolist(), rows.values[1].tolist()
    ([0, 0], ['b'])
    """
    return SourceRows(source, account, narrow_codes(values), first, last,
                      suppressed=None if suppressed is None else narrow_codes(suppressed),
                      last4=None if last4 is None else narrow_codes(as_text(last4)))


def narrow_codes(values: pd.Series) -> Coded:
    """``text_codes`` with the codes as int32 where they fit (half the memory kept).

    >>> codes, distinct = narrow_codes(pd.Series(["b", None, "b"]))
    >>> codes.dtype.name, codes.tolist(), distinct.tolist()
    ('int32', [0, -1, 0], ['b'])
    """
    codes, distinct = text_codes(values)
    codes = codes.astype(index_dtype(len(distinct)), copy=False)
    return codes, distinct


@dataclass(frozen=True)
class KindRows:
    """One kind's identifiers, one row per (account, value), sorted by (account, value).

    ``value``: codes into ``values`` (the sorted distinct canonical values);
    ``source``/``suppressed``/``last4``: codes into ``sources``/``reasons``/
    ``last4s`` (sorted, the code ``len(...)`` for NA, so the minimum is the
    first in sorted order with NA last). ``accounts``: per value, the rows
    (accounts) that have it, when the engine that grouped them counted them
    (None: not counted).
    """

    kind: str
    account: np.ndarray
    value: np.ndarray
    first: np.ndarray
    last: np.ndarray
    source: np.ndarray
    suppressed: np.ndarray
    last4: np.ndarray
    values: pd.Series
    reasons: pd.Series
    last4s: pd.Series
    sources: tuple[str, ...]
    accounts: np.ndarray | None = None


def text_codes(values: pd.Series, *, sort: bool = False) -> tuple[np.ndarray, pd.Series]:
    """Codes (-1 for NA) and the distinct values as TEXT; sorted when ``sort``.

    What ``pd.factorize`` gives (distinct values in order of first appearance,
    or in sorted order), hashed by Arrow's ``dictionary_encode`` straight into
    one dictionary (pandas unifies per-chunk dictionaries, and sorts in Python).

    >>> codes, distinct = text_codes(pd.Series(["b", None, "a", "b"]), sort=True)
    >>> codes.tolist(), distinct.tolist()
    ([1, -1, 0, 1], ['a', 'b'])
    """
    text = to_text(values)
    if not len(text):
        return np.zeros(0, dtype=np.int64), pd.Series([], dtype=TEXT)
    array = text.array.__arrow_array__()
    single = not isinstance(array, pa.ChunkedArray) or array.num_chunks == 1
    distinct, codes = dictionary_codes(arrow_text(text) if single else array, dtype=np.int64)
    if sort:
        codes, distinct = _sorted(codes, distinct)
    return codes, _series(distinct)


def _sorted(codes: np.ndarray, distinct: pa.Array) -> tuple[np.ndarray, pa.Array]:
    """Codes into distinct strings recoded into the strings sorted, and those (-1 stays)."""
    if len(distinct) < 2:
        return codes, distinct
    # Arrow compares strings byte by byte, as pandas' sort of Arrow strings does
    order = string_order(distinct)
    rank = np.empty(len(order) + 1, dtype=np.int64)
    rank[order] = np.arange(len(order), dtype=np.int64)
    rank[-1] = -1
    return rank[codes], distinct.take(pa.array(order))


def _sorted_codes(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """``text_codes(values, sort=True)`` by a sort of the values, not a hash: equal
    values are neighbours once sorted (the values of distinct inputs, which a rule
    made the same, are mostly distinct: their sort is the one the hash would have
    been followed by)."""
    array = arrow_text(to_text(values))
    if len(array) < 2:
        return text_codes(values, sort=True)
    order = string_order(array)  # nulls last
    n_valid = len(array) - array.null_count
    words = array.take(pa.array(order[:n_valid]))
    new = np.ones(n_valid, dtype=bool)
    if n_valid > 1:
        new[1:] = ~arrow_flags(pc.equal(words.slice(1), words.slice(0, n_valid - 1)))
    codes = np.full(len(array), -1, dtype=np.int64)
    codes[order[:n_valid]] = np.cumsum(new, dtype=np.int64) - 1
    if not new.all():
        words = words.filter(pa.array(new))
    return codes, _series(words)


def compacted(codes: np.ndarray, distinct: pa.Array) -> Coded:
    """Codes (-1: none) into ``distinct`` strings, without the strings no code uses: what
    ``narrow_codes`` of the coded column gives, up to the order of the distinct values.

    >>> codes, distinct = compacted(np.array([2, -1, 2]), pa.array(["a", "b", "c"]))
    >>> codes.tolist(), distinct.tolist()
    ([0, -1, 0], ['c'])
    """
    n = len(distinct)
    used = np.zeros(n + 1, dtype=bool)  # the last: code -1
    used[codes] = True
    used = used[:n]
    if not used.all():
        renumber = np.full(n + 1, -1, dtype=index_dtype(n))
        kept = np.flatnonzero(used)
        renumber[kept] = np.arange(len(kept))
        codes = renumber[codes]
        distinct = distinct.filter(pa.array(used))
    if distinct.type != pa.large_string():
        distinct = distinct.cast(pa.large_string())
    return codes.astype(index_dtype(len(distinct)), copy=False), _series(distinct)


def take_codes(table: np.ndarray, codes: np.ndarray, missing: int = -1) -> np.ndarray:
    """``table[codes]`` with ``missing`` where a code is -1.

    >>> take_codes(np.array([5, 7]), np.array([1, -1, 0])).tolist()
    [7, -1, 5]
    """
    return np.append(table, missing)[codes]


def _min_runs(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The minimum of each run of ``values`` beginning at ``starts`` (``values``' dtype)."""
    if not len(starts):
        return np.zeros(0, dtype=values.dtype)
    return np.minimum.reduceat(values, starts)


def group_kind(
    kind: str,
    parts: Sequence[SourceRows],
    normalizer: Callable[[pd.Series], pd.DataFrame] | None,
) -> KindRows:
    """The rows of ``kind`` from every source, one per (account, canonical value).

    Args:
        kind: the identifier kind.
        parts: its sources; with ``normalizer`` their ``values`` are raw.
        normalizer: ``values -> frame(value, suppressed)`` run on the distinct
            raw values of all sources together (blank ones already NA), or
            ``None`` when the parts carry canonical values and reasons.

    Returns:
        The grouped rows: first seen the earliest, last seen the latest,
        source, reason and last4 the first in sorted order.

    >>> part = source_rows("t.c", np.array([0, 0, 1]), pd.Series([" A", "a", None], dtype=TEXT),
    ...                    np.array([3, 1, 2]), np.array([3, 1, 2]))
    >>> rows = group_kind("x", [part], lambda v: pd.DataFrame(
    ...     {"value": v.str.strip().str.lower(), "suppressed": pd.Series(pd.NA, dtype=TEXT)}))
    >>> rows.account.tolist(), rows.values.tolist(), rows.first.tolist(), rows.last.tolist()
    ([0], ['a'], [1], [3])
    """
    sources = tuple(sorted({p.source for p in parts}))
    # each part's distinct values pooled (hashed once more, far fewer than its rows);
    # from here on the rows are integer codes, in the narrowest type that holds them
    # where they are gathered
    codes, distinct = _pooled([p.values for p in parts], sort=normalizer is None)
    if normalizer is not None:
        # each distinct raw value normalised once, over all sources of the kind
        normalized = normalizer(as_text(distinct)).reset_index(drop=True)
        del distinct
        canonical, uniques = _sorted_codes(normalized["value"])
        reason, reasons = text_codes(normalized["suppressed"], sort=True)
        del normalized
        reason = np.where(reason < 0, len(reasons), reason)
        value = np.concatenate([take_codes(canonical, c) for c in codes])
        suppressed = np.concatenate([take_codes(reason, c, len(reasons)) for c in codes])
    else:
        uniques = distinct
        value = np.concatenate(codes)
        reason_codes, reasons = _pooled([p.suppressed for p in parts],  # type: ignore[misc]
                                        sort=True)
        suppressed = np.concatenate(reason_codes)
        suppressed[suppressed < 0] = len(reasons)
        del reason_codes
    del codes
    if any(p.last4 is not None for p in parts):
        none: Coded = (np.zeros(0, dtype=np.int64), pd.Series([], dtype=TEXT))
        last4_codes, last4s = _pooled(
            [p.last4 if p.last4 is not None else (np.full(len(p.account), -1), none[1])
             for p in parts], sort=True)
        last4_all = np.concatenate(last4_codes)
        last4_all[last4_all < 0] = len(last4s)
        last4: np.ndarray | None = last4_all
    else:
        last4, last4s = None, pd.Series([], dtype=TEXT)

    account = np.concatenate([p.account for p in parts])
    keep = np.flatnonzero((account >= 0) & (value >= 0))
    n_values = max(len(uniques), 1)
    key = account[keep].astype(np.int64) * n_values + value[keep]  # codes may be int32
    del account, value
    # sorted, not hashed: a sort of the int64 keys is cheaper than a hash table of
    # millions of keys, the reductions run over contiguous runs, and the kinds come
    # out sorted by (account, value), which makes the final sort a merge of runs
    key, order = sorted_keys(key)
    rows = keep[order]
    del keep, order
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else rows[:0]
    keys = key[starts]
    del key
    group_first, group_last = _time_runs(parts, rows, starts)
    source = _small(np.concatenate([np.full(len(p.account), sources.index(p.source), dtype=np.int8)
                                    for p in parts]))
    return KindRows(
        kind=kind,
        account=_int32(keys // n_values),
        value=_int32(keys % n_values),
        first=group_first,
        last=group_last,
        source=_min_runs(source[rows], starts),
        suppressed=_min_runs(_small(suppressed)[rows], starts),
        last4=(_min_runs(_small(last4)[rows], starts) if last4 is not None
               else np.zeros(len(starts), dtype=np.int8)),
        values=uniques,
        reasons=reasons,
        last4s=last4s,
        sources=sources,
    )


def _time_runs(parts: Sequence[SourceRows], rows: np.ndarray, starts: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray]:
    """The earliest first and the latest last time of each run (``NAT`` when unknown)."""
    first = np.concatenate([p.first for p in parts])[rows]
    same = all(p.first is p.last for p in parts)  # sign-ins: one time for both
    last = first if same else np.concatenate([p.last for p in parts])[rows]
    group_last = np.maximum.reduceat(last, starts) if len(starts) else starts.astype(np.int64)
    del last
    # NaT is the smallest int64: the minimum must skip it
    np.putmask(first, first == NAT, _BIG)
    group_first = _min_runs(first, starts)
    np.putmask(group_first, group_first == _BIG, NAT)
    return group_first, group_last


def _int32(codes: np.ndarray) -> np.ndarray:
    """Codes as int32 where they fit (the kinds' rows wait for each other: half the memory)."""
    return codes.astype(np.int32) if len(codes) and codes.max() < np.iinfo(np.int32).max \
        else codes


def _small(codes: np.ndarray) -> np.ndarray:
    """Non-negative codes in the narrowest integer type that holds them (less to gather)."""
    top = int(codes.max()) if len(codes) else 0
    for dtype in (np.int8, np.int16, np.int32):
        if top <= np.iinfo(dtype).max:
            return codes.astype(dtype, copy=False)
    return codes


def pooled_codes(parts: Sequence[pd.Series], *, sort: bool = False
                 ) -> tuple[list[np.ndarray], pd.Series]:
    """Codes of several text columns into their common distinct values (-1: NA).

    ``text_codes`` of their concatenation, split back into the parts: one hash
    of every row is cheaper than hashing each part and then their distinct
    values again (the parts of a kind share most of their values).

    >>> codes, distinct = pooled_codes([pd.Series(["b", "a"]), pd.Series(["c", None, "b"])])
    >>> [c.tolist() for c in codes], distinct.tolist()
    ([[0, 1], [2, -1, 0]], ['b', 'a', 'c'])
    """
    if len(parts) == 1:
        codes, uniques = text_codes(parts[0], sort=sort)
        return [codes], uniques
    codes, uniques = text_codes(pd.concat([to_text(p) for p in parts], ignore_index=True),
                                sort=sort)
    bounds = np.cumsum([0] + [len(p) for p in parts])
    return [codes[bounds[i]:bounds[i + 1]] for i in range(len(parts))], uniques


def _pooled(parts: Sequence[Coded], *, sort: bool = False) -> tuple[list[np.ndarray], pd.Series]:
    """Coded columns recoded into their common distinct values, as ``pooled_codes`` of
    the columns' text would (the distinct values in order of first appearance, or sorted).

    The rows' codes are looked up in each part's recoded distinct values: no row's
    string is hashed again; the distinct values of a single part are not hashed at all
    (they are distinct already).
    """
    if len(parts) == 1:
        codes, distinct = parts[0]
        codes = np.asarray(codes, dtype=np.int64)
        if not sort:
            return [codes], distinct
        ranked, words = _sorted(codes, arrow_text(distinct))
        return [ranked], _series(words)
    mapped, uniques = pooled_codes([distinct for _, distinct in parts], sort=sort)
    return [np.asarray(take_codes(m, codes), dtype=np.int64)
            for m, (codes, _) in zip(mapped, parts, strict=True)], uniques


def decode(codes: np.ndarray, distinct: pd.Series, dtype: object = TEXT) -> pd.Series:
    """Codes back to text (an Arrow ``take``); a code ``len(distinct)`` or -1 is NA.

    ``dtype``: TEXT, or a pandas string dtype built on Arrow (``str``), made
    straight from the taken Arrow array; any other dtype by ``astype``.

    >>> decode(np.array([1, 2, 0]), pd.Series(["a", "b"], dtype=TEXT)).tolist()
    ['b', <NA>, 'a']
    """
    codes = np.asarray(codes)
    missing = (codes < 0) | (codes >= len(distinct))
    indices = pa.array(codes, mask=missing if missing.any() else None)
    taken = pa.chunked_array([arrow_text(distinct.astype(TEXT)).take(indices)])
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        return pd.Series(dtype.__from_arrow__(taken))
    return pd.Series(TEXT.__from_arrow__(taken)).astype(dtype)


def micros(values: np.ndarray) -> pd.Series:
    """int64 microseconds (``NAT`` for unknown) -> ``datetime64[us, UTC]``.

    >>> micros(np.array([0, NAT])).tolist()
    [Timestamp('1970-01-01 00:00:00+0000', tz='UTC'), NaT]
    """
    # no copy before the one tz_localize makes
    naive = pd.Series(np.asarray(values, dtype=np.int64).view("datetime64[us]"), copy=False)
    return naive.dt.tz_localize("UTC")


def _series(array: pa.Array) -> pd.Series:
    """An Arrow string array as a TEXT series with a RangeIndex."""
    return pd.Series(TEXT.__from_arrow__(pa.chunked_array([array])))
