"""CSV files written from Arrow kernels, byte for byte what ``DataFrame.to_csv`` writes."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph.codes import index_dtype
from linkgraph.report.gather import TextTable
from linkgraph.report.safe import (
    _QUOTE_BYTES,
    _byte_set,
    _rows_with_bytes,
    _safe_arrow,
    safe_csv_frame,
)

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
    formatted: dict[tuple[int, str], tuple[TextTable, pa.Array, np.ndarray]] = {}
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
                  formatted: dict[tuple[int, str], tuple[TextTable, pa.Array, np.ndarray]],
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
            formatted[key] = (TextTable(text.slice(0, len(text) - 1)), text, renumber)
        table, text, renumber = formatted[key]
        missing = len(text) - 1

        def coded(start: int, stop: int) -> pa.Array:
            positions = renumber[codes[start:stop]]
            if (positions == missing).any():
                return text.take(pa.array(positions))
            return table.take(positions)

        return coded

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


_EXPONENT_BYTES = _byte_set((ord("e"), ord("e")))


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
        # nan and inf read the same in both
        same_layout = whole | ((size >= 1e-4) & (size < 1e16)) | ~np.isfinite(floats)
    arrow = pa.array(floats).cast(pa.large_string())
    rest = _rows_with_bytes(arrow, _EXPONENT_BYTES) | ~same_layout
    if whole.sum() * 8 > len(floats):  # many whole numbers: Arrow's text and ".0"
        arrow = pc.if_else(pa.array(whole),
                           pc.binary_join_element_wise(arrow, _lit(".0"), _lit("")), arrow)
    else:  # a few: numpy's text
        rest |= whole
    if not rest.any():
        return arrow
    numpy_text = pa.array(floats[rest].astype(str), pa.large_string())
    return pc.replace_with_mask(arrow, pa.array(rest), numpy_text)


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
        if quote.any():  # the quoted cells alone are rewritten
            quote = pa.array(quote)
            quoted = pc.binary_join_element_wise(
                _lit('"'), pc.replace_substring(text.filter(quote), '"', '""'), _lit('"'),
                _lit(""))
            text = pc.replace_with_mask(text, quote, quoted.combine_chunks()
                                        if isinstance(quoted, pa.ChunkedArray) else quoted)
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
        missing = np.isnan(floats)
        if missing.any():
            text = pc.if_else(pa.array(missing), _lit(""), text)
        text = _suffixed(text, suffix)
        return pa.chunked_array([text.combine_chunks().take(pa.array(codes))])
    if isinstance(dtype, pd.DatetimeTZDtype) and str(dtype.tz) == "UTC" or (
            isinstance(dtype, np.dtype) and dtype.kind == "M"):
        # whole seconds (floored, as strftime)
        ticks = np.asarray(values.array.asi8)
        per_second = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[np.datetime_data(
            values.dtype.base if isinstance(dtype, np.dtype) else np.dtype(f"M8[{dtype.unit}]"))[0]]
        missing = ticks == np.iinfo(np.int64).min
        seconds = np.floor_divide(ticks, per_second)
        fixed = _iso_text(seconds, missing, suffix)
        if fixed is not None:
            return pa.chunked_array([fixed])
        # a year before 0 or after 9999 (not four digits): Arrow's ISO cast, as before
        text = pa.array(seconds, type=pa.timestamp("s"), mask=missing).cast(pa.large_string())
        text = pc.replace_substring(text, " ", "T")
        text = pc.binary_join_element_wise(text, _lit("Z" + suffix), _lit(""))
        return pa.chunked_array([pc.fill_null(text, _lit(suffix))])
    return None


#: days from 1970-01-01 to 0000-01-01 and to 9999-12-31: the years written in four digits
_FIRST_DAY, _LAST_DAY = -719_528, 2_932_896
_DAY = 86_400


_DAYS_BLOCK = 1024


@lru_cache(maxsize=8)
def _date_texts(first: int, last: int) -> np.ndarray:
    """``YYYY-MM-DD`` of the days ``first`` to ``last`` (inclusive, since 1970), as ``S10``."""
    dates = np.datetime_as_string(np.arange(first, last + 1).astype("M8[D]")).astype("S10")
    dates.flags.writeable = False  # shared by the writing threads
    return dates


@cache
def _clock_texts() -> np.ndarray:
    """``HH:MM:SS`` of every second of a day, each as the 8 bytes of one uint64."""
    second = np.arange(_DAY)
    digits = np.empty((_DAY, 8), dtype=np.uint8)
    for at, part in ((0, second // 3600), (3, second // 60 % 60), (6, second % 60)):
        digits[:, at] = ord("0") + part // 10
        digits[:, at + 1] = ord("0") + part % 10
    digits[:, [2, 5]] = ord(":")
    clock = digits.view(np.uint64).ravel()
    clock.flags.writeable = False  # shared by the writing threads
    return clock


def _iso_text(seconds: np.ndarray, missing: np.ndarray, suffix: str) -> pa.Array | None:
    """Each of ``seconds`` (since 1970, UTC) as ``YYYY-MM-DDTHH:MM:SSZ`` + ``suffix``
    (``suffix`` alone where ``missing``), or None when a year is before 0 or after 9999.

    Built as bytes, the ``YYYY-MM-DD`` of each day the rows span formatted once and
    the time of day looked up among the 86,400 of a day: Arrow's cast formats
    every value whole, at four times the cost.
    """
    n = len(seconds)
    tail = np.frombuffer(("Z" + suffix).encode("utf-8"), dtype=np.uint8)
    days, clock = np.divmod(seconds, _DAY)  # floored: before 1970 counts back from midnight
    present_days = days[~missing]
    if len(present_days):
        first, last = int(present_days.min()), int(present_days.max())
        if first < _FIRST_DAY or last > _LAST_DAY:
            return None
        # the days the rows span, in whole blocks: the slices of one column share a table
        low = max(first // _DAYS_BLOCK * _DAYS_BLOCK, _FIRST_DAY)
        high = min((last // _DAYS_BLOCK + 1) * _DAYS_BLOCK - 1, _LAST_DAY)
        if high - low < max(n, 4096) + 2 * _DAYS_BLOCK:  # a table no larger than the rows
            dates, day = _date_texts(low, high), days - low
            day[missing] = 0
        else:
            calendar, day = np.unique(np.where(missing, first, days), return_inverse=True)
            dates = np.datetime_as_string(calendar.astype("M8[D]")).astype("S10")
        clock[missing] = 0
    else:
        dates, day = np.zeros(1, dtype="S10"), np.zeros(n, dtype=np.int64)
    width = 19 + len(tail)
    lines = np.empty((n, width), dtype=np.uint8)
    lines[:, :10] = dates.view("V10")[day].view(np.uint8).reshape(n, 10)
    lines[:, 10] = ord("T")
    lines[:, 11:19] = _clock_texts()[clock].view(np.uint8).reshape(n, 8)
    lines[:, 19:] = tail
    if not missing.any():
        ends = np.arange(0, (n + 1) * width, width, dtype=np.int64)
        return pa.LargeStringArray.from_buffers(n, pa.py_buffer(ends), pa.py_buffer(lines))
    # a missing time is its suffix alone: those rows keep their first bytes only
    lines[missing, :len(tail) - 1] = tail[1:]
    keep = np.ones((n, width), dtype=bool)
    keep[missing, len(tail) - 1:] = False
    ends = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.where(missing, len(tail) - 1, width), out=ends[1:])
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(ends), pa.py_buffer(lines[keep]))


def _suffixed(text: pa.Array | pa.ChunkedArray, suffix: str) -> pa.ChunkedArray:
    """``text`` (large strings) with ``suffix`` after each value, as one chunked array."""
    if suffix:
        text = pc.binary_join_element_wise(text, _lit(suffix), _lit(""))
    return pa.chunked_array([text] if isinstance(text, pa.Array) else text.chunks,
                            type=pa.large_string())
