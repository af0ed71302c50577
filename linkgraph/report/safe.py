"""Cells made safe for spreadsheets: formulas neutralised, characters that break or
disguise a cell replaced (OWASP CSV injection); the rules, and a first pass over
Arrow's bytes that leaves only the suspect cells to them."""

from __future__ import annotations

import re
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# A leading =, +, -, @, tab or CR makes Excel/LibreOffice/Sheets evaluate a cell (OWASP CSV injection).
_FORMULA_START = re.compile(r"^[=+\-@\t\r]")
# ... also after leading blanks (Sheets and LibreOffice can trim them on import),
# and in the full-width forms some spreadsheets read as the ASCII ones
_FORMULA_AFTER_BLANKS = re.compile("^\\s*[=+\\-@\uff1d\uff0b\uff0d\uff20]")
# Line breaks and other control characters (C0, C1 with NEL, U+2028/2029) break
# rows in naive readers; bidi controls (U+202A-202E, U+2066-2069, U+200E/F,
# U+061C) and zero-width characters (U+200B-200D, U+2060, U+FEFF) disguise text.
_UNSAFE_CHARS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u061c\u2028\u2029\u202a-\u202e\u2060"
    "\u2066-\u2069\ufeff]"
)


# RE2 supersets of the cells the rules above may change, for a vectorised first pass:
# an unsafe character anywhere, or a first character that is a formula start or a blank
_UNSAFE_RE2 = (r"[\x00-\x1f\x7f-\x9f\x{200b}-\x{200f}\x{061c}\x{2028}\x{2029}"
               r"\x{202a}-\x{202e}\x{2060}\x{2066}-\x{2069}\x{feff}]")
_SUSPECT_START_RE2 = (r"^[=+\-@\x{ff1d}\x{ff0b}\x{ff0d}\x{ff20}\x00-\x20\x{85}\x{a0}\x{1680}"
                      r"\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]")
_ARROW_TEXT = pd.StringDtype("pyarrow")


class _Bytes(NamedTuple):
    """A set of byte values: inclusive ranges (to test whole buffers, a comparison or
    two per range) and the same set as a 256-entry mask (to look up a byte per value)."""

    ranges: tuple[tuple[int, int], ...]
    table: np.ndarray


def _byte_set(*ranges: tuple[int, int]) -> _Bytes:
    """The bytes in the inclusive ``ranges``."""
    table = np.zeros(256, dtype=bool)
    for low, high in ranges:
        table[low:high + 1] = True
    return _Bytes(tuple(ranges), table)


def _bytes_in(data: np.ndarray, byteset: _Bytes) -> np.ndarray:
    """Per byte of ``data`` (uint8): True when it is in ``byteset``.

    Comparisons, not a lookup of each byte in the 256-entry mask: numpy's
    fancy indexing costs ten times a compare over the same bytes.
    """
    hit = np.zeros(len(data), dtype=bool)
    for low, high in byteset.ranges:
        if low == high:
            inside = data == low
        elif low == 0:
            inside = data <= high
        elif high == 0xFF:
            inside = data >= low
        else:  # uint8 wraps below ``low``: one comparison tests both ends
            inside = (data - np.uint8(low)) <= np.uint8(high - low)
        np.bitwise_or(hit, inside, out=hit)
    return hit


# UTF-8 bytes a cell the rules may change holds: every unsafe character is a C0
# control, DEL or non-ASCII; every formula start or blank is one of these ASCII
# characters or non-ASCII (a superset of the RE2 patterns, decided on bytes)
_NOT_PLAIN_BYTES = _byte_set((0x00, 0x1F), (0x7F, 0xFF))
_SUSPECT_FIRST_BYTES = _byte_set(*((ord(c), ord(c)) for c in "=+-@ "))
# the characters that make Python's csv module quote a cell (lineterminator "\n")
_QUOTE_BYTES = _byte_set(*((ord(c), ord(c)) for c in ',"\n'))


def _rows_with_bytes(array: pa.ChunkedArray | pa.Array, anywhere: _Bytes,
                     first: _Bytes | None = None) -> np.ndarray:
    """Per value of a ``large_string`` array: True when one of its UTF-8 bytes is in
    ``anywhere`` or its first byte in ``first``; False for null.

    Works on the array's buffers, no string built: a scan of the bytes costs a
    fraction of a regex match per value.
    """
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    masks = [_chunk_rows_with_bytes(chunk.cast(pa.large_string()), anywhere, first)
             for chunk in chunks]
    return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


def _chunk_rows_with_bytes(chunk: pa.Array, anywhere: _Bytes,
                           first: _Bytes | None) -> np.ndarray:
    n = len(chunk)
    hit = np.zeros(n, dtype=bool)
    _, offsets_buffer, data_buffer = chunk.buffers()
    if n == 0 or data_buffer is None:
        return hit
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[chunk.offset:chunk.offset + n + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]:offsets[-1]]
    starts = offsets[:-1] - offsets[0]
    rows = np.flatnonzero(offsets[1:] > offsets[:-1])  # values with bytes
    flagged = _bytes_in(data, anywhere)
    if flagged.any():
        # the values with bytes tile the data: each one's bytes run to the next one's start
        hit[rows] = np.logical_or.reduceat(flagged, starts[rows])
    if first is not None:
        hit[rows] |= first.table[data[starts[rows]]]
    if chunk.null_count:
        hit &= np.asarray(chunk.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
    return hit


def safe_text(values: pd.Series) -> pd.Series:
    """Neutralise spreadsheet formulas and strip characters that break or disguise a cell.

    >>> safe_text(pd.Series(["=SUM(A1)", "Ann\\nLee", "+7***89", "ok"])).tolist()
    ["'=SUM(A1)", 'Ann Lee', "'+7***89", 'ok']
    """
    safe = _safe_arrow(values)
    return pd.Series(safe.to_numpy(zero_copy_only=False), index=values.index, dtype=object)


def _safe_arrow(values: pd.Series) -> pa.ChunkedArray:
    """:func:`safe_text` as Arrow strings (null for NA): only suspect cells reach Python."""
    text = values.astype(_ARROW_TEXT)
    array = pa.chunked_array(text.array.__arrow_array__(), type=pa.large_string())
    if len(array) == 0:
        return array
    # bytes first (most cells are plain ASCII), the RE2 pattern on what they leave
    candidates = np.flatnonzero(_rows_with_bytes(array, _NOT_PLAIN_BYTES, _SUSPECT_FIRST_BYTES))
    if not len(candidates):
        return array
    suspect = pc.match_substring_regex(array.take(pa.array(candidates)),
                                       f"{_SUSPECT_START_RE2}|{_UNSAFE_RE2}")
    rows = candidates[np.asarray(pc.fill_null(suspect, False).to_numpy(
        zero_copy_only=False), dtype=bool)]
    if not len(rows):
        return array
    fixed = _safe_text_slow(text.iloc[rows])
    patched = pa.array(fixed.to_numpy(dtype=object), type=pa.large_string())
    position = np.full(len(array), -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    take = pa.array(position, mask=position < 0)
    return pc.if_else(pc.is_valid(take), patched.take(pc.fill_null(take, 0)), array)


def _safe_text_slow(values: pd.Series) -> pd.Series:
    """The rules, with Python's ``re`` (whose ``\\s`` the first pass spells out)."""
    text = values.astype("string")
    cleaned = text.str.replace(_UNSAFE_CHARS, " ", regex=True)
    risky = text.str.contains(_FORMULA_START, regex=True, na=False) | cleaned.str.contains(
        _FORMULA_AFTER_BLANKS, regex=True, na=False)
    cleaned = cleaned.where(~risky, "'" + cleaned)
    return cleaned.astype(object).where(text.notna(), None)


def safe_csv_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Every text column through :func:`safe_text`; numbers and times unchanged."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if isinstance(values.dtype, pd.CategoricalDtype) and pd.api.types.is_string_dtype(
                values.dtype.categories.dtype):
            values = values.astype(object)  # a category may be a formula too
        if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
            safe[column] = safe_text(values)
    return safe
