"""Grouping the identifier rows on integer codes: one row per (account, kind, value).

The sources of a kind (say ``accounts.registration_ip`` and ``logins.ip``)
arrive as :class:`SourceRows`: account codes, values, and times as integers.
:func:`group_kind` normalises each distinct raw value once, codes the
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

from linkgraph.normalize.text import TEXT, as_text, to_text

#: NaT as an int64 (numpy's and pandas' sentinel)
NAT = np.iinfo(np.int64).min
_BIG = np.iinfo(np.int64).max


@dataclass(frozen=True)
class SourceRows:
    """The rows one input column gives one kind, before grouping.

    ``account``: each row's code into the sorted account ids (-1: no account);
    ``values``: TEXT, raw (``normalized`` None) or already canonical, with
    ``suppressed`` (TEXT, NA = may link) aligned; ``first``/``last``: int64
    microseconds since the epoch, ``NAT`` when unknown; ``last4``: TEXT, the
    card's last digits (cards only).
    """

    source: str
    account: np.ndarray
    values: pd.Series
    first: np.ndarray
    last: np.ndarray
    suppressed: pd.Series | None = None
    last4: pd.Series | None = None


@dataclass(frozen=True)
class KindRows:
    """One kind's identifiers, one row per (account, value), sorted by (account, value).

    ``value``: codes into ``values`` (the sorted distinct canonical values);
    ``source``/``suppressed``/``last4``: codes into ``sources``/``reasons``/
    ``last4s`` (sorted, the code ``len(...)`` for NA, so the minimum is the
    first in sorted order with NA last).
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


def text_codes(values: pd.Series, *, sort: bool = False) -> tuple[np.ndarray, pd.Series]:
    """Codes (-1 for NA) and the distinct values as TEXT; sorted when ``sort``.

    >>> codes, distinct = text_codes(pd.Series(["b", None, "a", "b"]), sort=True)
    >>> codes.tolist(), distinct.tolist()
    ([1, -1, 0, 1], ['a', 'b'])
    """
    text = to_text(values)
    codes, uniques = pd.factorize(text, sort=sort)
    return np.asarray(codes, dtype=np.int64), pd.Series(uniques, dtype=TEXT)


def take_codes(table: np.ndarray, codes: np.ndarray, missing: int = -1) -> np.ndarray:
    """``table[codes]`` with ``missing`` where a code is -1.

    >>> take_codes(np.array([5, 7]), np.array([1, -1, 0])).tolist()
    [7, -1, 5]
    """
    return np.append(table, missing)[codes]


def _min_runs(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The minimum of each run of ``values`` beginning at ``starts`` (int64)."""
    if not len(starts):
        return np.zeros(0, dtype=np.int64)
    return np.minimum.reduceat(values.astype(np.int64, copy=False), starts)


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

    >>> part = SourceRows("t.c", np.array([0, 0, 1]), pd.Series([" A", "a", None], dtype=TEXT),
    ...                   np.array([3, 1, 2]), np.array([3, 1, 2]))
    >>> rows = group_kind("x", [part], lambda v: pd.DataFrame(
    ...     {"value": v.str.strip().str.lower(), "suppressed": pd.Series(pd.NA, dtype=TEXT)}))
    >>> rows.account.tolist(), rows.values.tolist(), rows.first.tolist(), rows.last.tolist()
    ([0], ['a'], [1], [3])
    """
    account = np.concatenate([p.account for p in parts])
    first = np.concatenate([p.first for p in parts])
    last = np.concatenate([p.last for p in parts])
    sources = tuple(sorted({p.source for p in parts}))
    source = np.concatenate([np.full(len(p.account), sources.index(p.source), dtype=np.int64)
                             for p in parts])
    values = pd.concat([p.values for p in parts], ignore_index=True)
    if normalizer is not None:
        # each distinct raw value normalised once, over all sources of the kind
        raw, distinct = text_codes(values)
        normalized = normalizer(as_text(distinct)).reset_index(drop=True)
        canonical, uniques = text_codes(normalized["value"], sort=True)
        reason, reasons = text_codes(normalized["suppressed"], sort=True)
        value = take_codes(canonical, raw)
        suppressed = take_codes(np.where(reason < 0, len(reasons), reason), raw, len(reasons))
    else:
        value, uniques = text_codes(values, sort=True)
        suppressed_text = pd.concat([p.suppressed for p in parts], ignore_index=True)  # type: ignore[misc]
        suppressed, reasons = text_codes(suppressed_text, sort=True)
        suppressed = np.where(suppressed < 0, len(reasons), suppressed)
    if any(p.last4 is not None for p in parts):
        last4_text = pd.concat([p.last4 if p.last4 is not None
                                else pd.Series(pd.NA, index=range(len(p.account)), dtype=TEXT)
                                for p in parts], ignore_index=True)
        last4, last4s = text_codes(as_text(last4_text), sort=True)
        last4 = np.where(last4 < 0, len(last4s), last4)
    else:
        last4, last4s = np.zeros(len(account), dtype=np.int64), pd.Series([], dtype=TEXT)

    keep = np.flatnonzero((account >= 0) & (value >= 0))
    n_values = max(len(uniques), 1)
    key = account[keep] * n_values + value[keep]
    # sorted, not hashed: a sort of the int64 keys is cheaper than a hash table of
    # millions of keys, the reductions run over contiguous runs, and the kinds come
    # out sorted by (account, value), which makes the final sort a merge of runs
    order = np.argsort(key, kind="stable")
    rows = keep[order]
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else keep[:0]
    keys = key[starts]
    first_k = first[rows]
    first_k = np.where(first_k == NAT, _BIG, first_k)
    group_first = _min_runs(first_k, starts)
    return KindRows(
        kind=kind,
        account=keys // n_values,
        value=keys % n_values,
        first=np.where(group_first == _BIG, NAT, group_first),
        last=np.maximum.reduceat(last[rows], starts) if len(starts) else starts,
        source=_min_runs(source[rows], starts),
        suppressed=_min_runs(suppressed[rows], starts),
        last4=_min_runs(last4[rows], starts),
        values=uniques,
        reasons=reasons,
        last4s=last4s,
        sources=sources,
    )


def decode(codes: np.ndarray, distinct: pd.Series) -> pd.Series:
    """Codes back to TEXT (an Arrow ``take``); a code ``len(distinct)`` or -1 is NA.

    >>> decode(np.array([1, 2, 0]), pd.Series(["a", "b"], dtype=TEXT)).tolist()
    ['b', <NA>, 'a']
    """
    padded = pd.concat([distinct.reset_index(drop=True).astype(TEXT),
                        pd.Series([pd.NA], dtype=TEXT)], ignore_index=True)
    return padded.take(np.where(codes < 0, len(distinct), codes)).reset_index(drop=True)


def micros(values: np.ndarray) -> pd.Series:
    """int64 microseconds (``NAT`` for unknown) -> ``datetime64[us, UTC]``.

    >>> micros(np.array([0, NAT])).tolist()
    [Timestamp('1970-01-01 00:00:00+0000', tz='UTC'), NaT]
    """
    return pd.Series(values.astype(np.int64).view("datetime64[us]")).dt.tz_localize("UTC")
