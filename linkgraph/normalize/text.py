"""Text primitives every normaliser shares, so email, name and address agree.

The normalisers work on ``string[pyarrow]`` Series: pandas then runs string
methods and regular expressions in Arrow's vectorised kernels (RE2) instead
of a Python loop per value. pandas falls back to Python's ``re`` for patterns
whose meaning differs between the engines (``\\s``, ``\\w``, ``\\d``,
``\\b``, look-arounds, back-references), which is 10-20x slower, so patterns
here spell their classes out (``[0-9]``, ``[ \\t]``) and are valid in both.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: the working dtype of the normalisers: Arrow-backed strings with ``pd.NA``
TEXT = pd.StringDtype("pyarrow")

#: whitespace, spelt out (``\\s`` sends pandas to the slow Python engine)
SPACES = "[ \t\r\n\f\v\u00a0\u2000-\u200b\u3000]+"

# a first character that str.strip may remove: controls, spaces, Unicode separators
_BLANK_START = "[\x00-\x20\x7f-\xa0\u1680\u180e\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]"

# combining marks left behind by NFKD decomposition (accents, diaereses...)
_COMBINING = "[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]"


def to_text(values: pd.Series) -> pd.Series:
    """``values`` as TEXT (Arrow strings, ``pd.NA``), blanks untouched.

    Any pandas string dtype converts inside Arrow; other dtypes go through
    Python objects (``5`` -> ``'5'``).

    >>> to_text(pd.Series(["a", None], dtype="str")).tolist()
    ['a', <NA>]
    """
    if values.dtype == TEXT:
        return values
    if isinstance(values.dtype, pd.StringDtype):
        return values.astype(TEXT)
    return values.astype(object).astype(TEXT)


def as_text(values: pd.Series) -> pd.Series:
    """``values`` as Arrow strings; empty or blank cells become NA.

    >>> as_text(pd.Series([" a ", "", None, 5])).tolist()
    [' a ', <NA>, <NA>, '5']
    """
    text = to_text(values)
    # a blank cell is one with nothing but whitespace: all-space strings are rare,
    # so test the cheap "empty or starts with a space" first, and before it the
    # cheaper still first byte (any blank start begins with one of _BLANK_BYTES)
    array = arrow_text(text) if len(text) else None
    if array is None or array.type != pa.large_string():
        maybe = np.ones(len(text), dtype=bool)
    else:
        maybe = _first_byte_in(array, _BLANK_BYTES)
    chosen = np.flatnonzero(maybe)
    if not len(chosen):
        return text
    some = text.iloc[chosen]
    suspect = chosen[np.array(((some.str.len() == 0) | some.str.match(_BLANK_START)).fillna(False),
                              dtype=bool)]
    if not len(suspect):
        return text
    blank = np.zeros(len(text), dtype=bool)
    blank[suspect] = np.array(text.iloc[suspect].str.strip().str.len() == 0, dtype=bool)
    return text.mask(blank) if blank.any() else text


#: the first UTF-8 byte of every character in _BLANK_START (checked by a test)
_BLANK_BYTES = np.zeros(256, dtype=bool)
_BLANK_BYTES[[*range(0x21), 0x7F, 0xC2, 0xE1, 0xE2, 0xE3, 0xEF]] = True


def string_bytes(array: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """A ``large_string`` array's offsets (``len + 1``, int64, into the data) and data
    bytes (uint8; empty when there are none), read from its buffers without a copy.

    >>> offsets, data = string_bytes(pa.array(["ab", "c"], type=pa.large_string()).slice(1))
    >>> offsets.tolist(), bytes(data[offsets[0]:offsets[-1]])
    ([2, 3], b'c')
    """
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64, count=len(array) + 1,
                            offset=array.offset * 8)
    data = (np.frombuffer(data_buffer, dtype=np.uint8) if data_buffer is not None
            else np.zeros(0, dtype=np.uint8))
    return offsets, data


def _first_byte_in(array: pa.Array, table: np.ndarray) -> np.ndarray:
    """Per row of a ``large_string`` array: empty, or a first byte flagged in ``table`` (NA: False).

    Read from the Arrow buffers, no string is copied.
    """
    n = len(array)
    offsets, data = string_bytes(array)
    starts, lengths = offsets[:-1], np.diff(offsets)
    first = data[np.minimum(starts, len(data) - 1)] if len(data) else np.zeros(n, np.uint8)
    flagged = (lengths == 0) | table[first]
    if array.null_count:
        flagged &= np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return flagged


def fold(values: pd.Series) -> pd.Series:
    """Case-folded, accents stripped, whitespace collapsed and trimmed.

    ``ß`` becomes ``ss`` and ``ё`` becomes ``е`` so spellings with and without
    diacritics meet. Decomposition and whitespace rules run only on the
    values they can change (ASCII text has no accents; text without a blank
    other than single spaces has nothing to collapse).

    >>> fold(pd.Series(["  Zoë   Straße ", "ÉCOLE"])).tolist()
    ['zoe strasse', 'ecole']
    """
    text = as_text(values)
    wide = ~_ascii(text)
    text = apply_where(text, wide, lambda t: t.str.normalize("NFKD").str.replace(
        _COMBINING, "", regex=True))
    # "ß" (and the capital that lowers to it) is not ASCII: only those values may hold it
    all_ascii = not (wide & np.asarray(text.notna(), dtype=bool)).any()  # NA is not ASCII text
    text = apply_where(_lower(text, all_ascii=all_ascii), wide,
                       lambda t: t.str.replace("ß", "ss", regex=False))
    blanks = ~_ascii(text) | _blank_runs(text)
    text = apply_where(text, blanks, lambda t: t.str.replace(SPACES, " ", regex=True))
    return text.str.strip()


def _lower(text: pd.Series, *, all_ascii: bool) -> pd.Series:
    """``text.str.lower()``; by Arrow's ASCII kernel when every value is ASCII (the same
    result, without the Unicode tables)."""
    if not all_ascii or not len(text):
        return text.str.lower()
    lowered = pc.ascii_lower(arrow_text(text))
    return pd.Series(TEXT.__from_arrow__(pa.chunked_array([lowered])), index=text.index)


def _blank_runs(text: pd.Series) -> np.ndarray:
    """True where the value holds a control blank (``\\t`` to ``\\r``) or two spaces in a
    row (False for NA); with no control byte in any value, a plain substring search."""
    if not len(text):
        return np.zeros(0, dtype=bool)
    array = arrow_text(text)
    if array.type == pa.large_string():
        offsets, data = string_bytes(array)
        used = data[offsets[0]:offsets[-1]]
        if not np.any((used >= 9) & (used <= 13)):
            return arrow_flags(pc.match_substring(array, "  "))
    return arrow_flags(pc.match_substring_regex(array, "[\t-\r]|  "))


def arrow_text(text: pd.Series) -> pa.Array:
    """The Arrow array behind a TEXT series (one chunk).

    >>> arrow_text(pd.Series(["a", None], dtype=TEXT)).to_pylist()
    ['a', None]
    """
    array = text.array.__arrow_array__()
    if isinstance(array, pa.ChunkedArray):
        # one chunk is that chunk (Arrow's combine copies even one)
        return array.chunk(0) if array.num_chunks == 1 else array.combine_chunks()
    return array


def arrow_flags(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """An Arrow boolean array as numpy, null as False.

    >>> arrow_flags(pa.array([True, None, False])).tolist()
    [True, False, False]
    """
    return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def _ascii(text: pd.Series) -> np.ndarray:
    """True where the value is ASCII text (False for NA)."""
    if len(text) == 0:
        return np.zeros(0, dtype=bool)
    return arrow_flags(pc.string_is_ascii(arrow_text(text)))


def apply_where(
    text: pd.Series, rows: np.ndarray, func: Callable[[pd.Series], pd.Series]
) -> pd.Series:
    """``text`` with the element-wise ``func`` applied to the ``rows`` only.

    For rules that are the identity on most values: a cheap vectorised test
    picks the values the rule may change and only those pay for it.

    >>> apply_where(pd.Series(["a", "b"], dtype=TEXT), np.array([False, True]),
    ...             lambda t: t.str.upper()).tolist()
    ['a', 'B']
    """
    if not rows.any():
        return text
    if rows.all():
        return func(text)
    chosen = np.flatnonzero(rows)
    changed = arrow_text(to_text(func(text.iloc[chosen])))
    base = arrow_text(text)
    merged = pc.replace_with_mask(base, pa.array(rows), changed.cast(base.type))
    return pd.Series(TEXT.__from_arrow__(pa.chunked_array([merged])), index=text.index)


def map_distinct(
    values: pd.Series, func: Callable[[pd.Series], pd.DataFrame | pd.Series], *,
    distinct: bool = False,
) -> pd.DataFrame | pd.Series:
    """Apply ``func`` once per distinct value of ``values`` and map the result back.

    ``func`` receives a Series of distinct non-NA values (a RangeIndex) and
    returns a Series or frame aligned with it; the result keeps ``values``'
    index, NA for NA inputs. ``distinct``: the non-NA values are distinct
    already (a column's distinct values, some made NA), so they are not hashed.

    >>> map_distinct(pd.Series(["a", "b", "a"]), lambda s: s.str.upper()).tolist()
    ['A', 'B', 'A']
    >>> map_distinct(pd.Series(["a", None, "b"]), lambda s: s.str.upper(), distinct=True).tolist()
    ['A', <NA>, 'B']
    """
    if distinct:
        valid = np.asarray(values.notna(), dtype=bool)
        codes = np.cumsum(valid, dtype=np.int64) - 1
        codes[~valid] = -1
        uniques = values.array[valid] if not valid.all() else values.array
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    once = pd.Series(uniques if uniques.dtype == TEXT else np.asarray(uniques, dtype=object),
                     dtype=TEXT)
    return take_rows(func(once), codes, values.index)


def take_rows(
    result: pd.DataFrame | pd.Series, codes: np.ndarray, index: pd.Index
) -> pd.DataFrame | pd.Series:
    """The rows ``codes`` of ``result`` (an all-NA row for -1), with ``index``.

    How :func:`map_distinct` maps the results of the distinct values back to the rows.

    >>> take_rows(pd.Series(["A", "B"]), np.array([1, -1, 0]), pd.RangeIndex(3)).tolist()
    ['B', nan, 'A']
    """
    # -1 (NA) indexes the appended all-NA row
    padded = pd.concat([result, result.iloc[:0].reindex([len(result)])], ignore_index=True)
    out = padded.iloc[np.where(codes < 0, len(result), codes)]
    out.index = index
    return out


def extract(values: pd.Series, pattern: str) -> pd.DataFrame:
    """Named groups of the first match of ``pattern`` (RE2), one column per group.

    Runs in Arrow's kernel (pandas' own ``str.extract`` loops in Python);
    NA where the pattern does not match; a group that took no part in the
    match is ``""`` (Arrow's rule), not NA.

    >>> extract(pd.Series(["a@b.c", "x"]), r"^(?P<local>.*)@(?P<domain>[^@]*)$").to_numpy().tolist()
    [['a', 'b.c'], [<NA>, <NA>]]
    """
    text = to_text(values)
    names = list(re.compile(pattern).groupindex)
    array = pa.chunked_array([pa.array([], type=pa.large_string())]) if len(text) == 0 else None
    if array is None:
        array = pa.chunked_array(text.array.__arrow_array__())
    found = pc.extract_regex(array, pattern=pattern)
    columns = {}
    for name in names:
        field = pc.struct_field(found, name) if len(text) else pa.array([], type=pa.large_string())
        columns[name] = pd.Series(TEXT.__from_arrow__(field), index=values.index)
    return pd.DataFrame(columns, index=values.index)


def split_last(values: pd.Series, separator: str, names: tuple[str, str]) -> pd.DataFrame:
    """The text before and after the last ``separator`` (one character), without a regex.

    What ``extract(values, "^(?P<a>.*)@(?P<b>[^@]*)$")`` gives for ``separator``
    ``"@"`` and ``names`` ``("a", "b")``: NA where there is no separator or the
    text before it holds a line break (RE2's ``.`` stops at one), at the cost
    of a split instead of a regex with captures per value.

    >>> split_last(pd.Series(["a@b@c", "x", None]), "@", ("local", "domain")).to_numpy().tolist()
    [['a@b', 'c'], [<NA>, <NA>], [<NA>, <NA>]]
    """
    text = to_text(values)
    if not len(text):
        return pd.DataFrame({name: text for name in names}, index=values.index)
    array = arrow_text(text)
    lists = pc.split_pattern(array, separator, max_splits=1, reverse=True)
    found = arrow_flags(pc.equal(pc.list_value_length(lists), 2))
    starts = np.asarray(lists.offsets.to_numpy()[:-1], dtype=np.int64)
    parts = pc.list_flatten(lists)
    head = parts.take(pa.array(starts, mask=~found))
    found &= ~arrow_flags(pc.match_substring(head, "\n"))
    missing = pa.array(~found)
    columns = {names[0]: pc.if_else(missing, pa.scalar(None, head.type), head),
               names[1]: parts.take(pa.array(starts + 1, mask=~found))}
    return pd.DataFrame({name: pd.Series(TEXT.__from_arrow__(pa.chunked_array([column])),
                                         index=values.index)
                         for name, column in columns.items()}, index=values.index)


def keep_ascii(values: pd.Series, allowed: str) -> pd.Series:
    """``values`` with every character not in ``allowed`` (ASCII characters) removed.

    ``str.replace("[^0-9a-z]", "", regex=True)`` for ``allowed`` the digits and
    lower-case letters, done on the bytes in numpy: every byte of a non-ASCII
    character is >= 0x80, so dropping the bytes not allowed drops exactly the
    characters not allowed, and what is left is ASCII.

    >>> keep_ascii(pd.Series(["ab-12 é", None, ""]), "0123456789abcdefghijklmnopqrstuvwxyz"
    ...            ).tolist()
    ['ab12', <NA>, '']
    """
    table = np.zeros(256, dtype=bool)
    codes = [ord(c) for c in allowed]
    if max(codes, default=0) > 0x7F:
        raise ValueError(f"keep_ascii: {allowed!r} holds a non-ASCII character")
    table[codes] = True
    text = to_text(values)
    if not len(text):
        return text
    array = text.array.__arrow_array__()
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    # a quarter million values at a time: the running counts stay small
    step = 1 << 18
    kept = [_kept_bytes(chunk.cast(pa.large_string()).slice(start, step), table)
            for chunk in chunks for start in range(0, len(chunk), step)]
    return pd.Series(TEXT.__from_arrow__(pa.chunked_array(kept, type=pa.large_string())),
                     index=values.index)


def _kept_bytes(array: pa.Array, table: np.ndarray) -> pa.Array:
    """A ``large_string`` array with the bytes not flagged in ``table`` dropped."""
    n = len(array)
    offsets, data = string_bytes(array)
    data = data[offsets[0]:offsets[-1]]
    keep = table[data]
    # the kept bytes before each byte: int32 while it fits (half the memory traffic)
    count = np.zeros(len(data) + 1, dtype=np.int32 if len(data) < 2 ** 31 else np.int64)
    np.cumsum(keep, out=count[1:])
    starts = count[offsets - offsets[0]].astype(np.int64)
    result = pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(starts), pa.py_buffer(data[keep].tobytes()))
    if array.null_count:
        result = pc.if_else(array.is_null(), pa.scalar(None, pa.large_string()), result)
    return result


def replace_re2(values: pd.Series, pattern: str, replacement: str) -> pd.Series:
    """Replace every match of ``pattern`` with ``replacement`` in Arrow's RE2 kernel.

    For replacements with group references (``\\1``), which pandas sends to
    Python's ``re``; RE2 semantics (ASCII ``\\b``/``\\w``, no look-arounds).

    >>> replace_re2(pd.Series(["hauptstr 5", None]), "([a-z])str ", "\\\\1 street ").tolist()
    ['haupt street 5', <NA>]
    """
    text = to_text(values)
    if len(text) == 0:
        return text
    array = pa.chunked_array(text.array.__arrow_array__())
    replaced = pc.replace_substring_regex(array, pattern=pattern, replacement=replacement)
    return pd.Series(TEXT.__from_arrow__(replaced), index=values.index)


def reasons(flags: np.ndarray, reason: str) -> pd.Series:
    """A ``suppressed``-style column: ``reason`` where ``flags`` is set, else NA.

    >>> reasons(np.array([True, False]), "invalid").tolist()
    ['invalid', <NA>]
    """
    return constant(reason, len(flags)).where(flags)


def constant(text: str, n: int) -> pd.Series:
    """``n`` copies of ``text`` as Arrow strings, built in Arrow (no Python list of n items).

    >>> constant("x", 3).tolist()
    ['x', 'x', 'x']
    """
    array = pc.take(pa.array([text], type=pa.large_string()), pa.array(np.zeros(n, dtype=np.int64)))
    return pd.Series(TEXT.__from_arrow__(array))

