"""Phone numbers: E.164 keys with the account's country as the default region.

``8 912 345-67-89`` in Russia, ``+7 (912) 345 67 89`` and ``0079123456789``
from Germany are all ``+79123456789``; ``07911 123456`` in Great Britain is
``+447911123456``; ``030 1234567`` in Germany is ``+49301234567``.

The batch path never calls ``phonenumbers.parse`` per value. A vectorised fast
path replays libphonenumber's own parsing steps with Arrow string kernels,
region by region, from the library's metadata (country calling code,
international and national prefixes, the general number pattern and possible
lengths): a leading ``+`` or the region's international prefix (``00``,
``810``, ``011``...), the country code written without ``+`` (``79123456789``),
then the national (trunk) prefix. Values it cannot decide (letters, extensions,
carrier codes, prefix transform rules as in Argentina or Brazil,
non-geographic numbers) go to ``phonenumbers.parse`` one by one; the tests
check that both paths give the same E.164 on a table of variants.

A number is *valid* (may link) when its national number matches the general
pattern and a possible length of a region of its country code; otherwise it
is kept with ``suppressed = "invalid"``.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd
import phonenumbers
import pyarrow as pa
import pyarrow.compute as pc
from phonenumbers import NumberParseException, PhoneMetadata, PhoneNumberFormat

from linkgraph.normalize.text import (
    TEXT,
    arrow_flags,
    arrow_text,
    as_text,
    extract,
    keep_ascii,
    reasons,
    string_bytes,
    to_text,
)

logger = logging.getLogger(__name__)

_CALLING_CODES: dict[int, tuple[str, ...]] = phonenumbers.COUNTRY_CODE_TO_REGION_CODE
_CC_BY_LENGTH: tuple[frozenset[str], ...] = tuple(
    frozenset(str(cc) for cc in _CALLING_CODES if len(str(cc)) == n) for n in (1, 2, 3)
)
_MAX_NSN = 17  # libphonenumber's longest national significant number
_UNDECIDED, _DECIDED = 0, 1


@dataclass(frozen=True)
class _Rules:
    """What the fast path needs of one region's metadata."""

    cc: str
    idd: str | None
    npfp: str | None  # national prefix for parsing (a regex)
    npfp_simple: bool  # no groups, no transform rule: stripping is a plain cut
    general: str
    lengths: frozenset[int]
    local: frozenset[int]
    max_length: int


@cache
def _rules(region: str) -> _Rules | None:
    meta = PhoneMetadata.metadata_for_region(region)
    if meta is None or meta.general_desc is None or not meta.general_desc.national_number_pattern:
        return None
    npfp = meta.national_prefix_for_parsing or None
    idd = meta.international_prefix or None
    lengths = tuple(meta.general_desc.possible_length or ())
    return _Rules(
        cc=str(meta.country_code),
        idd=idd if idd is not None and re.compile(idd).groups == 0 else None,
        npfp=npfp,
        npfp_simple=npfp is None
        or (re.compile(npfp).groups == 0 and not meta.national_prefix_transform_rule),
        general=meta.general_desc.national_number_pattern,
        lengths=frozenset(lengths),
        local=frozenset(meta.general_desc.possible_length_local_only or ()),
        max_length=max(lengths) if lengths else 0,
    )


@cache
def _calling_code_rule(cc: str) -> tuple[str, list[int]] | None:
    """One pattern and the possible lengths over every region sharing a calling code."""
    rules = [r for r in map(_rules, _CALLING_CODES.get(int(cc), ())) if r is not None]
    if not rules:
        return None
    pattern = "|".join(f"(?:{r.general})" for r in rules)
    return pattern, sorted(set().union(*(r.lengths - r.local for r in rules)))


def _main_region(cc: str) -> str:
    return _CALLING_CODES[int(cc)][0]


def _fullmatch(values: pd.Series, pattern: str) -> np.ndarray:
    return _flags(values.str.fullmatch(f"(?:{pattern})"))


def _flags(values: pd.Series) -> np.ndarray:
    """A writable bool array, NA as False."""
    return np.array(values.fillna(False), dtype=bool)


def _lengths(values: pd.Series) -> np.ndarray:
    return values.str.len().fillna(0).to_numpy(dtype=np.int64)


def _cut_prefix(values: pd.Series, pattern: str) -> tuple[np.ndarray, pd.Series]:
    """Where ``pattern`` matches at the start: (matched, the rest after the match)."""
    plain = re.sub(r"(?<!\\)\((?!\?)", "(?:", pattern)  # Arrow wants named groups only
    found = extract(values, f"^(?P<prefix>{plain})")["prefix"]
    matched = _flags(found.notna())
    rest = values.copy()
    cut = _lengths(found)
    for n in np.unique(cut[matched]):
        sel = matched & (cut == n)
        rest[sel] = values[sel].str.slice(int(n))
    return matched, rest


def _nsn_length_ok(national: pd.Series) -> np.ndarray:
    n = _lengths(national)
    return (n >= 2) & (n <= _MAX_NSN)


def _possible(values: pd.Series, rules: _Rules) -> np.ndarray:
    """libphonenumber's length test gives IS_POSSIBLE or TOO_LONG (a strip is kept)."""
    n = _lengths(values)
    local = np.isin(n, list(rules.local))
    return ~local & (np.isin(n, list(rules.lengths)) | (n > rules.max_length))


def _strip_national_prefix(national: pd.Series, rules: _Rules) -> tuple[pd.Series, np.ndarray]:
    """libphonenumber's ``maybe_strip_national_prefix_carrier_code``: (result, undecided)."""
    if rules.npfp is None:
        return national, np.zeros(len(national), dtype=bool)
    matched, stripped = _cut_prefix(national, rules.npfp)
    if not rules.npfp_simple:
        return national, matched
    keep = _fullmatch(national, rules.general) & ~_fullmatch(stripped, rules.general)
    return national.where(~(matched & ~keep), stripped), np.zeros(len(national), dtype=bool)


def _national_number(national: pd.Series, rules: _Rules) -> tuple[pd.Series, np.ndarray]:
    """The national prefix stripped when what is left has a possible length."""
    stripped, undecided = _strip_national_prefix(national, rules)
    changed = _flags(stripped != national)
    accept = changed & _possible(stripped, rules)
    return national.where(~accept, stripped), undecided


def _international(full: pd.Series) -> tuple[pd.Series, pd.Series, np.ndarray]:
    """Digits after ``+``/IDD -> (calling code, national number, undecided)."""
    cc = pd.Series(pd.NA, index=full.index, dtype=TEXT)
    for n in (3, 2, 1):  # calling codes are prefix-free: at most one length matches
        head = full.str.slice(0, n)
        cc = cc.mask(head.isin(_CC_BY_LENGTH[n - 1]).to_numpy(dtype=bool), head)
    lengths = _lengths(full)
    undecided = _flags(cc.isna()) | (lengths <= 2)
    national: _Pieces = ([], [])
    cc_len = _lengths(cc)
    for code in pd.unique(cc[~undecided]):
        sel = _flags(cc == code) & ~undecided
        rules = _rules(_main_region(code))
        if rules is None or _main_region(code) == "001":
            undecided |= sel
            continue
        nat, und = _national_number(full[sel].str.slice(int(cc_len[sel][0])), rules)
        _add(national, np.flatnonzero(sel), nat)
        undecided[np.flatnonzero(sel)[und]] = True
    return cc, _taken(national, _placed(national, len(full)), full.index), undecided


def _national_in_region(digits: pd.Series, rules: _Rules) -> tuple[pd.Series, np.ndarray]:
    """Digits written without ``+`` in ``rules``' region -> (national number, undecided)."""
    n = len(digits)
    national = digits.copy()
    undecided = np.zeros(n, dtype=bool)
    with_cc = _flags(digits.str.startswith(rules.cc))
    if with_cc.any():
        # maybe_extract_country_code: the country code without "+" counts when the
        # number was not viable before and is after, or was too long
        full = digits[with_cc]
        potential, und = _strip_national_prefix(full.str.slice(len(rules.cc)), rules)
        long_ = _lengths(full) > rules.max_length
        take = (~_fullmatch(full, rules.general) & _fullmatch(potential, rules.general)) | long_
        take &= ~und
        if rules.npfp is not None:
            # a second national prefix after the code: leave it to phonenumbers
            again, _ = _cut_prefix(potential, rules.npfp)
            und |= take & again
            take &= ~again
        idx = np.flatnonzero(with_cc)
        undecided[idx[und]] = True
        national.iloc[idx[take]] = potential[take].to_numpy()
        plain = np.ones(n, dtype=bool)
        plain[idx[take | und]] = False
    else:
        plain = np.ones(n, dtype=bool)
    nat, und = _national_number(digits[plain], rules)
    national[plain] = nat
    undecided[np.flatnonzero(plain)[und]] = True
    return national, undecided


def _fast_e164(raw: pd.Series, regions: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """(E.164 or NA, decided) for distinct (raw, region) pairs; NA + decided = unparseable."""
    text = raw.str.strip()
    # E.164 and the digits after + or IDD, gathered in pieces (rows, Arrow strings) and
    # placed once at the end: Arrow setitem and object arrays of strings are slow
    e164: _Pieces = ([], [])
    full: _Pieces = ([], [])
    decided = _flags(text.str.fullmatch(r"(?:\+?[0-9 ().\-/]*[0-9][0-9 ().\-/]*)"))
    # a decided value holds digits and " ().-/+" only: its digits are what is left of it
    # (the digits of the other values are never read)
    digits = keep_ascii(text, "0123456789")
    plus = _flags(text.str.startswith("+")) & decided

    _add(full, np.flatnonzero(plus), digits[plus])
    national_rows = decided & ~plus
    region_codes, region_names = pd.factorize(regions.where(national_rows))
    for code, region in enumerate(region_names):
        sel = region_codes == code
        rules = _rules(str(region))
        if rules is None:
            decided[sel] = False
            continue
        sub = digits[sel]
        idx = np.flatnonzero(sel)
        if rules.idd is not None:
            is_idd, after = _cut_prefix(sub, rules.idd)
            # libphonenumber: an IDD followed by 0 is not an IDD
            is_idd &= ~_flags(after.str.startswith("0"))
            _add(full, idx[is_idd], after[is_idd])
            keep = ~is_idd
            idx, sub = idx[keep], sub[keep]
        national, undecided = _national_in_region(sub, rules)
        ok = ~undecided & _nsn_length_ok(national)  # else libphonenumber raises: unparseable
        _add(e164, idx[ok], "+" + rules.cc + national[ok])
        decided[idx[undecided]] = False
    # no region: libphonenumber cannot read a number without "+" (decided: unparseable)
    no_region = national_rows & (region_codes < 0)
    decided[no_region] = True

    full_digits = _taken(full, _placed(full, len(raw)), pd.RangeIndex(len(raw)))
    intl = np.array(full_digits.notna(), dtype=bool)
    if intl.any():
        cc, national, undecided = _international(full_digits[intl].reset_index(drop=True))
        idx = np.flatnonzero(intl)
        ok = ~undecided & _nsn_length_ok(national)
        _add(e164, idx[ok], ("+" + cc + national)[ok])
        decided[idx[undecided]] = False
    return _taken(e164, _placed(e164, len(raw)), raw.index).where(decided), decided


#: rows and their values, in pieces: see :func:`_add`, :func:`_placed`, :func:`_taken`
_Pieces = tuple[list[np.ndarray], list[pd.Series]]


def _add(pieces: _Pieces, rows: np.ndarray, values: pd.Series) -> None:
    """Values for ``rows`` (each row given a value at most once over all pieces)."""
    pieces[0].append(rows)
    pieces[1].append(values)


def _placed(pieces: _Pieces, n: int) -> np.ndarray:
    """Each of the ``n`` rows' position in the pieces' concatenated values (-1: none)."""
    at = np.full(n, -1, dtype=np.int64)
    if pieces[0]:
        rows = np.concatenate(pieces[0])
        at[rows] = np.arange(len(rows))
    return at


def _taken(pieces: _Pieces, at: np.ndarray, index: pd.Index) -> pd.Series:
    """The pieces' values at the positions ``at`` (NA for -1), as TEXT with ``index``."""
    values = pa.concat_arrays([arrow_text(to_text(v)).cast(pa.large_string())
                               for v in pieces[1]] or [_nulls(0)])
    return _series(values.take(pa.array(at, mask=at < 0)), index)


def _parse_one(raw: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException:
        return None
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def split_e164(values: pd.Series) -> pd.DataFrame:
    """E.164 strings -> ``cc`` (country calling code) and ``national`` (NA when not E.164).

    >>> split_e164(pd.Series(["+79123456789", "+447911123456", "n/a"])).to_numpy().tolist()
    [['7', '9123456789'], ['44', '7911123456'], [<NA>, <NA>]]
    """
    text = values if values.dtype == TEXT else as_text(values)
    if not len(text):
        empty = pd.Series(pd.NA, index=values.index, dtype=TEXT)
        return pd.DataFrame({"cc": empty, "national": empty})
    array = arrow_text(text).cast(pa.large_string())
    # E.164 is ASCII: the calling code is read from the first digits' bytes and the
    # two parts are cut out of the bytes, not by a regex capture per value
    e164 = arrow_flags(pc.match_substring_regex(array, r"^\+[0-9]+$"))
    n_rows = len(array)
    offsets, data = string_bytes(array)
    n_digits = np.where(e164, np.diff(offsets) - 1, 0)
    cc_len = np.zeros(n_rows, dtype=np.int64)
    if len(data) and e164.any():
        number, known = np.zeros(n_rows, dtype=np.int64), []
        for n in (1, 2, 3):
            long_enough = n_digits >= n
            at = np.where(long_enough, offsets[:-1] + n, 0)  # the n-th digit after "+"
            number = number * 10 + data[np.minimum(at, len(data) - 1)].astype(np.int64) - 48
            known.append(long_enough & np.isin(number, _CC_NUMBERS[n - 1]))
        for n in (3, 2, 1):  # calling codes are prefix-free: at most one length matches
            cc_len[known[n - 1]] = n
    cc, national = _cut(array, offsets, data, e164 & (cc_len > 0), cc_len)
    return pd.DataFrame({"cc": _series(cc, values.index),
                         "national": _series(national, values.index)})


#: the calling codes of each length (1, 2, 3) as numbers (none starts with 0)
_CC_NUMBERS = tuple(np.array(sorted(int(c) for c in codes), dtype=np.int64)
                    for codes in _CC_BY_LENGTH)


def _cut(array: pa.Array, offsets: np.ndarray, data: np.ndarray, rows: np.ndarray,
         head: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """The ``head`` bytes after each of the ``rows``' first byte, and the bytes after
    them (NA for the other rows): ``+79123`` with a head of 1 -> ``7``, ``9123``."""
    n_rows = len(array)
    if not len(data) or not rows.any():
        return _nulls(n_rows), _nulls(n_rows)
    head = np.where(rows, head, 0)
    tail = np.where(rows, np.diff(offsets) - 1 - head, 0)
    chosen = np.flatnonzero(rows)
    first = offsets[:-1][chosen] + 1  # the first byte after "+"
    cut = first + head[chosen]
    byte = data[:offsets[-1]]

    def inside(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Flags the bytes of the ranges [starts, ends) by a running sum (the ranges are
        disjoint and in the rows' order: no two start, nor two end, at one byte)."""
        mark = np.zeros(len(byte) + 1, dtype=np.int8)
        mark[starts] += 1
        mark[ends] -= 1
        return np.cumsum(mark[:-1], dtype=np.int8).astype(bool)

    in_head = inside(first, cut)
    in_tail = inside(cut, offsets[1:][chosen])
    valid = pa.array(rows).buffers()[1]
    n_null = int(n_rows - np.count_nonzero(rows))

    def built(lengths: np.ndarray, taken: np.ndarray) -> pa.Array:
        return pa.LargeStringArray.from_buffers(
            n_rows, pa.py_buffer(np.r_[np.int64(0), np.cumsum(lengths, dtype=np.int64)]),
            pa.py_buffer(byte[taken].tobytes()), valid, n_null)

    return built(head, in_head), built(tail, in_tail)


def _nulls(n: int) -> pa.Array:
    return pa.nulls(n, type=pa.large_string())


def _series(array: pa.Array, index: pd.Index) -> pd.Series:
    return pd.Series(TEXT.__from_arrow__(pa.chunked_array([array])), index=index)


def valid_e164(values: pd.Series) -> pd.Series:
    """True where an E.164 number matches a region of its calling code (pattern and length).

    >>> valid_e164(pd.Series(["+79123456789", "+7912", "+10000000000", None])).tolist()
    [True, False, False, False]
    """
    parts = split_e164(values)
    valid = np.zeros(len(values), dtype=bool)
    for code in pd.unique(parts["cc"].dropna()):
        sel = _flags(parts["cc"] == code)
        rule = _calling_code_rule(str(code))
        if rule is None:
            continue
        pattern, lengths = rule
        national = parts["national"][sel]
        valid[sel] = _fullmatch(national, pattern) & np.isin(_lengths(national), lengths)
    return pd.Series(valid, index=values.index, dtype=bool)


def normalize_phones(
    values: pd.Series,
    regions: pd.Series | None = None,
    *,
    default_region: str | None = None,
) -> pd.DataFrame:
    """Phone numbers -> E.164 keys: ``value`` and ``suppressed`` (NA or ``invalid``).

    Args:
        values: raw phone numbers (any index; NA and blanks stay NA).
        regions: ISO 3166 alpha-2 default region per value (the account's
            country), aligned with ``values``; NA or unknown codes fall back
            to ``default_region``.
        default_region: region for numbers with no usable ``regions`` entry;
            ``None`` means a number without ``+`` or an international prefix
            cannot be read (``invalid``).

    Returns:
        A frame aligned with ``values``: ``value`` (E.164; when unparseable,
        the lower-cased text) and ``suppressed``.

    >>> phones = pd.Series(["8 912 345-67-89", "+7 (912) 345 67 89", "07911 123456", "n/a"])
    >>> normalize_phones(phones, pd.Series(["RU", "DE", "GB", "RU"])).to_numpy().tolist()
    [['+79123456789', <NA>], ['+79123456789', <NA>], ['+447911123456', <NA>], ['n/a', 'invalid']]
    """
    raw = as_text(values)
    region = _regions(regions, raw.index, default_region)
    stripped = raw.str.strip()
    raw_codes, _ = pd.factorize(stripped)
    region_codes, region_uniques = pd.factorize(region)
    present = raw_codes >= 0
    pair = raw_codes.astype(np.int64) * (len(region_uniques) + 1) + (region_codes + 1)
    pair_codes, _ = pd.factorize(pair[present])
    codes = np.full(len(raw), -1, dtype=np.int64)
    codes[present] = pair_codes
    _, first = np.unique(pair_codes, return_index=True)
    first = np.flatnonzero(present)[first]
    distinct_raw = stripped.iloc[first].reset_index(drop=True)
    distinct_region = region.iloc[first].reset_index(drop=True)
    e164, decided = _fast_e164(distinct_raw, distinct_region)
    slow = np.flatnonzero(~decided)
    if len(slow):
        logger.debug("phonenumbers.parse for %d of %d distinct phones", len(slow), len(e164))
        raws = distinct_raw.to_numpy(dtype=object)[slow]
        regs = distinct_region.to_numpy(dtype=object, na_value=None)[slow]
        e164.iloc[slow] = [_parse_one(r, g) for r, g in zip(raws, regs, strict=True)]
    valid = valid_e164(e164).to_numpy()
    value = e164.copy()
    unread = np.flatnonzero(np.array(e164.isna(), dtype=bool))
    value.iloc[unread] = distinct_raw.iloc[unread].str.lower().str.replace(
        r"[ \t\r\n\f\v]+", " ", regex=True).to_numpy(dtype=object)
    suppressed = reasons(~valid, "invalid")
    distinct = pd.DataFrame({"value": value, "suppressed": suppressed})
    padded = pd.concat([distinct, distinct.iloc[:0].reindex([len(distinct)])], ignore_index=True)
    result = padded.iloc[np.where(codes < 0, len(distinct), codes)]
    result.index = values.index
    return result


def _regions(regions: pd.Series | None, index: pd.Index, default: str | None) -> pd.Series:
    if regions is None:
        region = pd.Series(pd.NA, index=index, dtype=TEXT)
    else:
        region = as_text(regions).str.strip().str.upper()
        region.index = index
    known = region.isin(phonenumbers.SUPPORTED_REGIONS).to_numpy(dtype=bool)
    fallback = default.strip().upper() if default else pd.NA
    return region.where(known, fallback).astype(TEXT)
