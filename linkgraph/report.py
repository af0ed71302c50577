"""Report stage: a :class:`Run` -> a run directory, and back (the only writer of files).

The directory appears all at once: every file is written into a hidden
sibling directory, which is renamed into place at the end, so a crash leaves
no partial directory and never touches an earlier run.

Moderator files (``review_queue.csv``, ``links.csv``, ``hubs.csv``...) hold
masked identifiers only; raw identifier values reach the analyst Parquet
files only when ``ReportConfig.keep_raw`` is set. Every CSV cell a
spreadsheet would run as a formula is neutralised (see :func:`safe_csv_frame`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import platform
import re
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from linkgraph import schemas as s
from linkgraph.codes import index_dtype, text_array
from linkgraph.config import Config, ReportConfig, config_to_dict
from linkgraph.errors import RunDirectoryError
from linkgraph.memory import release_freed_memory
from linkgraph.run import Run

logger = logging.getLogger(__name__)

#: frame attribute of Run -> file stem; CSV for people, Parquet for analysts
_CSV_FILES = {
    "accounts": "accounts",
    "clusters": "clusters",
    "review_queue": "review_queue",
    "links": "links",
    "rejects": "rejects",
    "hubs": "hubs",
    "cluster_changes": "cluster_changes",
    "cluster_alerts": "cluster_alerts",
    "coupon_hubs": "coupon_hubs",
}
_PARQUET_FILES = {
    **_CSV_FILES,
    "identifiers": "identifiers",
    "issued_ids": "issued_ids",
    # what-if sanctions on a run read back (Run.with_policy): values coded, never raw
    "pairs": "pairs",
    "pair_tiers": "pair_tiers",
    "sanctions": "input_sanctions",
    "decisions": "input_decisions",
}
#: frames whose ``value`` column is a raw identifier, never written to moderator files
#: (``rejects.value`` is the offending cell as found, which the contract requires)
_IDENTIFIER_FRAMES = ("links", "hubs", "identifiers", "coupon_hubs", "cluster_alerts")
_MANIFEST = "manifest.json"

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


def _byte_table(*ranges: tuple[int, int]) -> np.ndarray:
    """A 256-entry mask of the bytes in the inclusive ``ranges``."""
    table = np.zeros(256, dtype=bool)
    for low, high in ranges:
        table[low:high + 1] = True
    return table


# UTF-8 bytes a cell the rules may change holds: every unsafe character is a C0
# control, DEL or non-ASCII; every formula start or blank is one of these ASCII
# characters or non-ASCII (a superset of the RE2 patterns, decided on bytes)
_NOT_PLAIN_BYTES = _byte_table((0x00, 0x1F), (0x7F, 0xFF))
_SUSPECT_FIRST_BYTES = _byte_table(*((ord(c), ord(c)) for c in "=+-@ "))
# the characters that make Python's csv module quote a cell (lineterminator "\n")
_QUOTE_BYTES = _byte_table(*((ord(c), ord(c)) for c in ',"\n'))


def _rows_with_bytes(array: pa.ChunkedArray | pa.Array, anywhere: np.ndarray,
                     first: np.ndarray | None = None) -> np.ndarray:
    """Per value of a ``large_string`` array: True when one of its UTF-8 bytes is in
    ``anywhere`` or its first byte in ``first`` (256-entry masks); False for null.

    Works on the array's buffers, no string built: a scan of the bytes costs a
    fraction of a regex match per value.
    """
    chunks = array.chunks if isinstance(array, pa.ChunkedArray) else [array]
    masks = [_chunk_rows_with_bytes(chunk.cast(pa.large_string()), anywhere, first)
             for chunk in chunks]
    return np.concatenate(masks) if masks else np.zeros(0, dtype=bool)


def _chunk_rows_with_bytes(chunk: pa.Array, anywhere: np.ndarray,
                           first: np.ndarray | None) -> np.ndarray:
    n = len(chunk)
    hit = np.zeros(n, dtype=bool)
    _, offsets_buffer, data_buffer = chunk.buffers()
    if n == 0 or data_buffer is None:
        return hit
    offsets = np.frombuffer(offsets_buffer, dtype=np.int64)[chunk.offset:chunk.offset + n + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)[offsets[0]:offsets[-1]]
    starts = offsets[:-1] - offsets[0]
    rows = np.flatnonzero(offsets[1:] > offsets[:-1])  # values with bytes
    flagged = anywhere[data]
    if flagged.any():
        # the values with bytes tile the data: each one's bytes run to the next one's start
        hit[rows] = np.logical_or.reduceat(flagged, starts[rows])
    if first is not None:
        hit[rows] |= first[data[starts[rows]]]
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


def _moderator_frame(frame: pd.DataFrame, attr: str, *, keep_raw: bool) -> pd.DataFrame:
    """Drop raw identifier values (kept in Parquet only when configured)."""
    if keep_raw or attr not in _IDENTIFIER_FRAMES or s.VALUE not in frame.columns:
        return frame
    return frame.drop(columns=[s.VALUE])


def _with_pseudonyms(frame: pd.DataFrame, key: bytes | None) -> pd.DataFrame:
    """Add ``value_id``, a keyed pseudonym of ``value``, so analysts can join without raw values."""
    if key is None or s.VALUE not in frame.columns or frame.empty:
        return frame
    from linkgraph.mask import pseudonymize

    kinds = frame[s.KIND].astype("string") if s.KIND in frame.columns else ""
    keyed = kinds + ":" + frame[s.VALUE].astype("string")
    return frame.assign(value_id=pseudonymize(keyed, key=key))


_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_CSV_CHUNK = 131_072  # rows formatted at a time: bounds the memory of big files


def _write_csv(frame: pd.DataFrame, path: Path, *, bom: bool) -> None:
    """``frame`` as CSV, cells made safe; byte for byte what ``DataFrame.to_csv`` writes.

    Columns are formatted in Arrow kernels as pandas would (Python's csv
    quoting, ``str`` of ints and bools, numpy's float text, ``_DATE_FORMAT``);
    a frame with a column of another dtype, or of one column, goes to pandas.
    A categorical column's categories are formatted once for the whole file,
    and each line's ``\n`` rides on its last cell (one join builds the lines).
    """
    fields = [_csv_fields(frame[c].iloc[:0]) for c in frame.columns] if frame.shape[1] > 1 else []
    if not fields or any(f is None for f in fields):
        safe_csv_frame(frame).to_csv(
            path, index=False, encoding="utf-8-sig" if bom else "utf-8",
            lineterminator="\n", date_format=_DATE_FORMAT,
        )
        return
    header = ",".join(_quoted_python(str(c)) for c in frame.columns) + "\n"
    last = frame.shape[1] - 1
    # the categories some rows use, of every column coded by them (flags, not counts:
    # no int64 copy of the codes; -1, missing, flags the spare last slot)
    used: dict[int, np.ndarray] = {}
    for i in range(frame.shape[1]):
        dtype = frame.dtypes.iloc[i]
        if isinstance(dtype, pd.CategoricalDtype):
            flags = used.setdefault(id(dtype.categories),
                                    np.zeros(len(dtype.categories) + 1, dtype=bool))
            flags[np.asarray(frame.iloc[:, i].cat.codes)] = True
    formatted: dict[tuple[int, str], tuple[pa.Array, np.ndarray]] = {}
    cells = [_column_cells(frame.iloc[:, i], suffix="\n" if i == last else "",
                           used=used, formatted=formatted) for i in range(frame.shape[1])]
    del used, formatted
    with open(path, "wb") as fh:
        fh.write((("\ufeff" if bom else "") + header).encode("utf-8"))
        for start in range(0, len(frame), _CSV_CHUNK):
            stop = min(start + _CSV_CHUNK, len(frame))
            lines = pc.binary_join_element_wise(*(cell(start, stop) for cell in cells), _lit(","))
            for chunk in lines.chunks if isinstance(lines, pa.ChunkedArray) else [lines]:
                _write_values(fh, chunk)


def _column_cells(values: pd.Series, *, suffix: str, used: dict[int, np.ndarray],
                  formatted: dict[tuple[int, str], tuple[pa.Array, np.ndarray]],
                  ) -> Callable[[int, int], pa.Array]:
    """For rows ``[start, stop)`` of ``values``, each cell's CSV text followed by ``suffix``.

    A categorical's categories are formatted once, here, and each slice is one
    take of them: an account id is formatted once per file, not once per slice
    it appears in; ``formatted`` shares that work between columns of the same
    categories (the two ends of a pair). Only the categories some column of the
    file uses (``used``: flags by ``id`` of the categories) are formatted: the
    stages share their categories between frames.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = np.asarray(values.cat.codes)
        categories = values.dtype.categories
        key = (id(categories), suffix)
        if key not in formatted:
            used_rows = np.flatnonzero(used[id(categories)][:-1])
            # category code -> its text's position (the last, the suffix alone, for missing)
            renumber = np.full(len(categories) + 1, len(used_rows),
                               dtype=index_dtype(len(categories)))
            renumber[used_rows] = np.arange(len(used_rows))
            words = _csv_fields(pd.Series(categories.take(used_rows).astype("str")),
                                suffix=suffix)
            assert words is not None  # text: always formatted
            text = pa.concat_arrays([*words.chunks, pa.array([suffix], pa.large_string())])
            del used_rows, words
            formatted[key] = (text, renumber)
        else:
            text, renumber = formatted[key]
        return lambda start, stop: text.take(pa.array(renumber[codes[start:stop]]))

    def cells(start: int, stop: int) -> pa.Array:
        text = _csv_fields(values.iloc[start:stop], suffix=suffix)
        assert text is not None  # the dtype was checked on the frame's empty slice
        return text.combine_chunks() if isinstance(text, pa.ChunkedArray) else text

    return cells


def _write_values(fh: Any, chunk: pa.Array) -> None:
    """The concatenated bytes of a string array (its data buffer between the offsets)."""
    if len(chunk) == 0:
        return
    chunk = chunk.cast(pa.large_string())
    offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)
    first, last = offsets[chunk.offset], offsets[chunk.offset + len(chunk)]
    fh.write(memoryview(chunk.buffers()[2])[first:last])


def _lit(text: str) -> pa.Scalar:
    return pa.scalar(text, pa.large_string())


def _quoted_python(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(c in cell for c in ',"\n') else cell


def _float_text(floats: np.ndarray) -> pa.Array:
    """numpy's ``astype(str)`` of floats (Python's repr), mostly by Arrow's shortest cast.

    Both write the shortest digits that read back; they differ in the layout only:
    numpy adds ``.0`` to whole numbers and uses an exponent below 1e-4 and from 1e16,
    so those ranges (and float32) are left to numpy.
    """
    if floats.dtype != np.float64:
        return pa.array(floats.astype(str)).cast(pa.large_string())
    size = np.abs(floats)
    with np.errstate(invalid="ignore"):
        whole = (floats == np.trunc(floats)) & (size < 1e16)
    arrow = pa.array(floats).cast(pa.large_string())
    plain = ~np.asarray(pc.match_substring(arrow, "e").to_numpy(zero_copy_only=False), dtype=bool)
    arrow = pc.if_else(pa.array(whole), pc.binary_join_element_wise(arrow, _lit(".0"), _lit("")),
                       arrow)
    rest = np.flatnonzero(~(plain & (whole | ((size >= 1e-4) & (size < 1e16)))))
    if not len(rest):
        return arrow
    position = np.full(len(floats), -1, dtype=np.int64)
    position[rest] = np.arange(len(rest))
    take = pa.array(position, mask=position < 0)
    numpy_text = pa.array(floats[rest].astype(str)).cast(pa.large_string())
    return pc.if_else(pc.is_valid(take), numpy_text.take(pc.fill_null(take, 0)), arrow)


def _csv_fields(values: pd.Series, *, suffix: str = "") -> pa.ChunkedArray | None:
    """Each cell as ``to_csv`` writes it (NA empty) followed by ``suffix``, or None for a
    dtype left to pandas."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        # each category formatted once (kinds, tiers, reasons: a handful over millions of
        # rows); of the ids and values of the stages, the ones these rows use
        codes = np.asarray(values.cat.codes, dtype=np.int64)
        words = dtype.categories
        if len(words) > len(codes):
            used = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(words)))
            renumber = np.full(len(words) + 1, -1, dtype=np.int64)
            renumber[used] = np.arange(len(used))
            codes, words = renumber[codes], words.take(used)
        categories = _csv_fields(pd.Series(words.astype("str")), suffix=suffix)
        if categories is None:
            return None
        text = pa.concat_arrays([*categories.chunks, pa.array([suffix], pa.large_string())])
        return pa.chunked_array([text.take(pa.array(np.where(codes < 0, len(text) - 1, codes)))])
    if pd.api.types.is_string_dtype(dtype) or dtype == object:
        text = pc.fill_null(_safe_arrow(values), _lit(""))
        # Python's csv.QUOTE_MINIMAL with lineterminator "\n"
        quote = _rows_with_bytes(text, _QUOTE_BYTES)
        if quote.any():
            quote = pa.array(quote)
            quoted = pc.binary_join_element_wise(
                _lit('"'), pc.replace_substring(text, '"', '""'), _lit('"'), _lit(""))
            text = pc.if_else(quote, quoted, text)
        return _suffixed(text, suffix)
    if dtype == bool:
        flags = pa.array(values.to_numpy())
        return pa.chunked_array([pc.if_else(flags, _lit("True" + suffix), _lit("False" + suffix))])
    if isinstance(dtype, np.dtype) and dtype.kind in "iu":
        return _suffixed(pa.array(values.to_numpy()).cast(pa.large_string()), suffix)
    if isinstance(dtype, pd.core.dtypes.dtypes.BaseMaskedDtype) and dtype.kind in "iu":
        # pandas writes str() of each Python int, NA empty
        numbers = pa.array(values.array).cast(pa.large_string())
        return _suffixed(pc.fill_null(numbers, _lit("")), suffix)
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        # numpy's shortest repr ("1e-05", "0.5", "-0.0"), as pandas writes floats; each
        # distinct bit pattern formatted once
        numbers = values.to_numpy()
        codes, distinct = pd.factorize(numbers.view(f"i{numbers.itemsize}"))
        floats = np.asarray(distinct).view(numbers.dtype)
        text = _float_text(floats)
        text = _suffixed(pc.if_else(pa.array(np.isnan(floats)), _lit(""), text), suffix)
        return pa.chunked_array([text.combine_chunks().take(pa.array(codes))])
    if isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC" or (
            isinstance(dtype, np.dtype) and dtype.kind == "M"):
        # whole seconds (floored, as strftime), written by Arrow's ISO cast
        ticks = np.asarray(values.array.asi8)
        per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[np.datetime_data(
            values.dtype.base if isinstance(dtype, np.dtype) else np.dtype(f"M8[{dtype.unit}]"))[0]]
        missing = ticks == np.iinfo(np.int64).min
        seconds = pa.array(np.floor_divide(ticks, per_second), type=pa.timestamp("s"),
                           mask=missing)
        text = seconds.cast(pa.large_string())
        fixed = _iso_layout(text, missing, suffix)
        if fixed is not None:
            return pa.chunked_array([fixed])
        text = pc.replace_substring(text, " ", "T")
        text = pc.binary_join_element_wise(text, _lit("Z" + suffix), _lit(""))
        return pa.chunked_array([pc.fill_null(text, _lit(suffix))])
    return None


def _iso_layout(text: pa.Array, missing: np.ndarray, suffix: str) -> pa.Array | None:
    """Arrow's ``YYYY-MM-DD HH:MM:SS`` (``text``, null where ``missing``) as
    ``YYYY-MM-DDTHH:MM:SSZ`` + ``suffix`` (``suffix`` alone where missing), moved as
    bytes: a substring replace and a join cost eight times the cast itself.
    None when a value is not 19 bytes long (a year before 0 or after 9999).
    """
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:text.offset + n + 1]
    lengths = np.diff(offsets)
    if not (np.all(lengths[~missing] == 19) and np.all(lengths[missing] == 0)):
        return None
    tail = np.frombuffer(("Z" + suffix).encode("utf-8"), dtype=np.uint8)
    width = 19 + len(tail)
    data = text.buffers()[2]
    present = np.frombuffer(data, dtype=np.uint8)[offsets[0]:offsets[-1]] if data is not None \
        else np.zeros(0, dtype=np.uint8)
    lines = np.empty((len(present) // 19, width), dtype=np.uint8)
    lines[:, :19] = present.reshape(-1, 19)
    lines[:, 10] = ord("T")
    lines[:, 19:] = tail
    ends = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.where(missing, len(tail) - 1, width), out=ends[1:])
    if not missing.any():
        return pa.LargeStringArray.from_buffers(n, pa.py_buffer(ends), pa.py_buffer(lines))
    out = np.empty(int(ends[-1]), dtype=np.uint8)
    rows = np.flatnonzero(~missing)
    out[(ends[rows][:, None] + np.arange(width)).ravel()] = lines.ravel()
    absent = ends[np.flatnonzero(missing)]
    for at, byte in enumerate(tail[1:]):  # the suffix alone
        out[absent + at] = byte
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(ends), pa.py_buffer(out))


def _suffixed(text: pa.Array | pa.ChunkedArray, suffix: str) -> pa.ChunkedArray:
    """``text`` (large strings) with ``suffix`` after each value, as one chunked array."""
    if suffix:
        text = pc.binary_join_element_wise(text, _lit(suffix), _lit(""))
    return pa.chunked_array([text] if isinstance(text, pa.Array) else text.chunks,
                            type=pa.large_string())


#: text columns the stages keep as categoricals (codes into their sorted distinct
#: strings) that the Parquet files hold as plain strings, as they always did
_DECODED_COLUMNS = frozenset({s.ACCOUNT_ID, s.ACCOUNT_A, s.ACCOUNT_B, s.VALUE, s.MASKED})


def _plain_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its categorical columns of ``_DECODED_COLUMNS`` decoded to ``str``
    (the strings of the rows only: one take of the categories at the codes)."""
    decoded = {c: pd.Series(pd.array(text_array(frame[c]), dtype="str"), index=frame.index)
               for c in frame.columns if c in _DECODED_COLUMNS
               and isinstance(frame[c].dtype, pd.CategoricalDtype)}
    return frame.assign(**decoded) if decoded else frame


#: rows per Parquet row group: pyarrow's default, so a file written a group at a time
#: has the bytes of one written whole
_PARQUET_ROW_GROUP = 1024 * 1024


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as a zstd Parquet file, converted and written a row group at a time: the
    decoded text of ten million accounts' identifiers never exists whole."""
    writer = None
    try:
        for start in range(0, max(len(frame), 1), _PARQUET_ROW_GROUP):
            part = _plain_text(frame.iloc[start:start + _PARQUET_ROW_GROUP])
            table = pa.Table.from_pandas(part, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=_PARQUET_ROW_GROUP)
    finally:
        if writer is not None:
            writer.close()


def _write_analyst_parquet(frame: pd.DataFrame, attr: str, path: Path, *, key: bytes | None,
                           keep_raw: bool) -> None:
    """The Parquet file of ``attr``: pseudonyms added (made here, in the writing thread,
    so that only the frames being written hold them), raw values dropped unless kept."""
    if attr in _IDENTIFIER_FRAMES:
        frame = _with_pseudonyms(frame, key)
    _write_parquet(_moderator_frame(frame, attr, keep_raw=keep_raw), path)


def _written(write: Callable[[], None], path: Path) -> tuple[str, dict[str, Any]]:
    """Run ``write`` (which creates ``path``); the file's name and manifest entry.

    The memory the writer freed goes back to the system before the next file:
    each writing thread allocates from its own malloc arena, which keeps what
    it frees (a big file's text and pages, hundreds of MB at a million accounts).
    """
    write()
    entry = _file_entry(path)
    release_freed_memory()
    return path.name, entry


def _file_entry(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def _versions() -> dict[str, str]:
    names = ("linkgraph", "pandas", "pyarrow", "numpy", "scipy", "networkx", "phonenumbers")
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def build_manifest(
    run: Run, *, inputs: list[dict[str, Any]], config: Config, timings: dict[str, float]
) -> dict[str, Any]:
    """The run's manifest: inputs with checksums, effective config, counts, timings, versions."""
    accounts = run.accounts
    actions = accounts[s.ACTION].value_counts().sort_index()
    return {
        "linkgraph_run": 1,
        "inputs": inputs,
        "config": config_to_dict(config),
        "counts": {
            "accounts": len(accounts),
            "clusters": len(run.clusters),
            "clusters_multi": int((run.clusters[s.N_ACCOUNTS] > 1).sum())
            if s.N_ACCOUNTS in run.clusters else 0,
            "links": len(run.links),
            "hubs": len(run.hubs),
            "rejects": len(run.rejects),
            "review_queue": len(run.review_queue),
            "actions": {str(k): int(v) for k, v in actions.items()},
        },
        "timings": {**timings, "finished_at": datetime.now(UTC).isoformat(timespec="seconds")},
        "versions": _versions(),
    }


def write_run(run: Run, out: str | Path, *, timings: dict[str, float], config: Config) -> Run:
    """Write ``run`` as a run directory at ``out``, atomically.

    Args:
        run: the finished run (in memory).
        out: the directory to create. It must not exist, unless empty.
        timings: seconds per stage, for the manifest.
        config: the effective config (written to the manifest without secrets).

    Returns:
        The same run with ``path`` and ``manifest`` filled in.

    Raises:
        RunDirectoryError: ``out`` exists and is not empty, or cannot be written.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunDirectoryError(
            f"run directory {out} already exists; choose a new --out (each night its own directory)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    report: ReportConfig = config.report
    key = report.mask_key.encode() if report.mask_key else None
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        # Every file is a job for two threads (CSV formatting and Parquet encoding run
        # mostly in Arrow, which releases the GIL), the largest first so that neither
        # thread is left with a big file at the end; each file is hashed by the thread
        # that wrote it, while it is still in the page cache
        jobs: list[tuple[int, Callable[[], None], Path]] = []
        for attr, stem in _PARQUET_FILES.items():
            frame = getattr(run, attr)
            parquet, csv = tmp / f"{stem}.parquet", tmp / f"{stem}.csv"
            jobs.append((frame.size, partial(_write_analyst_parquet, frame, attr, parquet,
                                             key=key, keep_raw=report.keep_raw), parquet))
            if attr in _CSV_FILES:
                moderator = _moderator_frame(frame, attr, keep_raw=False)
                jobs.append((2 * moderator.size, partial(_write_csv, moderator, csv,
                                                         bom=report.excel_bom), csv))
        jobs.sort(key=lambda job: -job[0])
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = [pool.submit(_written, write, path) for _, write, path in jobs]
            outputs = dict(future.result() for future in done)
        manifest = build_manifest(run, inputs=run.manifest.get("inputs", []),
                                  config=config, timings=timings)
        manifest["outputs"] = {name: outputs[name] for name in sorted(outputs)}
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote run directory %s", out)
    return dataclasses.replace(run, manifest=manifest, path=out)


def read_run(run_dir: str | Path) -> Run:
    """Read a run directory written by :func:`write_run` (the Parquet files).

    Raises:
        RunDirectoryError: the directory or one of its files is missing.
    """
    run_dir = Path(run_dir)
    if not (run_dir / _MANIFEST).is_file():
        raise RunDirectoryError(
            f"{run_dir} is not a linkgraph run directory (no {_MANIFEST}); "
            "pass the directory that `linkgraph run --out` wrote"
        )
    frames: dict[str, pd.DataFrame] = {}
    for attr, stem in _PARQUET_FILES.items():
        path = run_dir / f"{stem}.parquet"
        if not path.is_file():
            raise RunDirectoryError(f"run directory {run_dir} has no {path.name}; it is incomplete")
        frames[attr] = pd.read_parquet(path)
    manifest = json.loads((run_dir / _MANIFEST).read_text())
    return Run(**frames, manifest=manifest, path=run_dir)
