"""Parsing and row checks: typed columns, and which rows fail which check."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph import schemas as s
from linkgraph.codes import dictionary_codes
from linkgraph.load._read import RawTable

_ID_COLUMNS = (s.ACCOUNT_ID, s.ORDER_ID, s.ADDRESS_ID, s.PAYMENT_ID, s.DEVICE_ID)
# Unicode whitespace plus the invisible format characters (zero-width, bidi
# marks, BOM) that exports and copy-paste leave around ids.
_TRIM_CHARS = (
    " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068"
    "\u2069\ufeff"
)

def _end_bytes(last: bool) -> np.ndarray:
    """Which UTF-8 bytes begin (or, with ``last``, end) some trim character."""
    table = np.zeros(256, dtype=bool)
    for char in _TRIM_CHARS:
        encoded = char.encode("utf-8")
        table[encoded[-1] if last else encoded[0]] = True
    return table


_TRIM_FIRST_BYTES = _end_bytes(last=False)
_TRIM_LAST_BYTES = _end_bytes(last=True)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"^(?:{_OCTET}\.){{3}}{_OCTET}$"  # same rules as ipaddress: no leading zeros
_H = "[0-9a-fA-F]{1,4}"
# IPv6 in hextets with at most one "::" (RFC 4291 2.2 forms 1 and 2): a subset of what
# ipaddress accepts (no embedded IPv4, no zone), so a match needs no Python check
_IPV6 = "^(?:" + "|".join((
    f"(?:{_H}:){{7}}{_H}", f"(?:{_H}:){{1,7}}:", f"(?:{_H}:){{1,6}}:{_H}",
    f"(?:{_H}:){{1,5}}(?::{_H}){{1,2}}", f"(?:{_H}:){{1,4}}(?::{_H}){{1,3}}",
    f"(?:{_H}:){{1,3}}(?::{_H}){{1,4}}", f"(?:{_H}:){{1,2}}(?::{_H}){{1,5}}",
    f"{_H}:(?::{_H}){{1,6}}", f":(?:(?::{_H}){{1,7}}|:)",
)) + ")$"
_TIMESTAMP = pa.timestamp("ns", tz="UTC")
# datetime64[ns] bounds: later stages do arithmetic in ns
_TS_MIN = pd.Timestamp("1677-09-22", tz="UTC")
_TS_MAX = pd.Timestamp("2262-04-10", tz="UTC")
KEPT = " (value ignored, row kept)"
# What SQL and spreadsheet exports write for "no value": missing, not bad, in a
# column of times, numbers or IPs (text columns keep them: NA is Namibia).
_NULL_TOKENS = ("null", "none", "nan", "n/a", "na", "nil", "\\n")
_ALLOWED = {"sanctions": (s.ACTION, s.SANCTION_ACTIONS), "decisions": (s.DECISION, s.DECISION_VALUES)}


@dataclass(frozen=True)
class ParsedRows:
    """One table, or a piece of one, after parsing: typed values and the row checks.

    ``checks`` are (bad rows, column, reason) in the order they are applied:
    a row is rejected for the first one it fails. The unknown-account and
    duplicate checks, which depend on other rows, come after them.
    """

    raw: RawTable
    values: dict[str, pa.ChunkedArray]  # typed / trimmed columns replacing the raw ones
    checks: tuple[tuple[np.ndarray, str, str], ...]
    ignored: tuple[tuple[np.ndarray, str, str], ...]  # accounts: values set to missing
    trimmed: frozenset[str] = frozenset()  # id columns whose values trimming changed


@dataclass(frozen=True)
class ParsedTable:
    """One whole table after the checks that need no other table, its ids encoded (how
    the Spark loader judges a batch; the local load goes by :class:`ParsedRows`)."""

    raw: RawTable
    values: dict[str, pa.ChunkedArray]  # typed / trimmed columns replacing the raw ones
    checks: tuple[tuple[np.ndarray, str, str], ...]
    ignored: tuple[tuple[np.ndarray, str, str], ...]  # accounts: values set to missing
    ids: pa.Array  # the distinct trimmed account ids of the table
    id_codes: np.ndarray  # each row's index into ``ids`` (-1 = no id)
    order_codes: np.ndarray | None  # orders: each row's order_id code, for duplicates


def parse_table(raw: RawTable) -> ParsedTable:
    """:func:`parse_rows`, with the account ids (and order ids) encoded."""
    rows = parse_rows(raw)
    ids, id_codes = dictionary_codes(rows.values[s.ACCOUNT_ID])
    order_codes = dictionary_codes(rows.values[s.ORDER_ID])[1] if raw.table == "orders" else None
    return ParsedTable(raw, rows.values, rows.checks, rows.ignored, ids, id_codes, order_codes)


def parse_rows(raw: RawTable, *, ips: bool = True) -> ParsedRows:
    """Trim ids, parse times, IPs and numbers, and find the rows they make bad.

    With ``ips=False`` the IP columns stay as found: the caller checks them over
    the whole table (:func:`parse_ips`). They are the last row check of the
    tables that have them, so the first failure of a row is the same.
    """
    name, data = raw.table, raw.data
    values, trimmed = {}, set()
    for column in _ID_COLUMNS:
        if column in data.column_names:
            found = data.column(column)
            values[column] = _trimmed(found)
            if values[column] is not found:
                trimmed.add(column)
    checks: list[tuple[np.ndarray, str, str]] = []
    ignored: list[tuple[np.ndarray, str, str]] = []
    if name == "orders":
        checks.append((_mask(pc.is_null(values[s.ORDER_ID])), s.ORDER_ID, "empty order_id"))
    checks.append((_mask(pc.is_null(values[s.ACCOUNT_ID])), s.ACCOUNT_ID, "empty account_id"))
    for column in s.TIMESTAMP_COLUMNS.get(name, ()):
        values[column], bad = _parse_timestamps(data.column(column))
        if name == "accounts":
            ignored.append((bad, column, "bad timestamp" + KEPT))
        else:
            checks.append((bad, column, "bad timestamp"))
    for column in (s.IP, s.REGISTRATION_IP) if ips else ():
        if column in s.INPUT_TABLES[name][1]:
            values[column], bad, _ = parse_ips(data.column(column))
            if name == "accounts":
                ignored.append((bad, column, "bad IP address" + KEPT))
            else:
                checks.append((bad, column, "bad IP address"))
    for column in s.NUMERIC_COLUMNS.get(name, ()):
        values[column], bad, negative = _parse_numbers(data.column(column))
        checks += [(bad, column, "not a number"), (negative, column, "negative number")]
    if name in _ALLOWED:
        column, allowed = _ALLOWED[name]
        values[column] = pc.utf8_lower(_trimmed(data.column(column)))
        checks.append((_mask(pc.is_null(values[column])), column, f"empty {column}"))
        checks.append((~_mask(pc.is_in(values[column], value_set=pa.array(allowed))), column,
                       f"unknown {column}"))
    return ParsedRows(raw, values, tuple(checks), tuple(ignored), frozenset(trimmed))


def judge_rows(parsed: ParsedRows) -> tuple[pa.Table, np.ndarray,
                                           list[tuple[np.ndarray, str | None, str, np.ndarray]],
                                           list[tuple[np.ndarray, str | None, str, np.ndarray]]]:
    """The row checks of ``parsed``: the typed table of the rows that pass them, the mask
    of those rows, the rejects (bad lines first) and the values ignored on the rows kept,
    each as (row numbers, column, reason, values as found)."""
    raw = parsed.raw
    data = raw.data
    dropped = np.zeros(data.num_rows, dtype=bool)
    parts: list[tuple[np.ndarray, str | None, str, np.ndarray]] = []
    ignored: list[tuple[np.ndarray, str | None, str, np.ndarray]] = []
    if raw.bad_lines:
        parts.append((np.array([row for row, _ in raw.bad_lines], dtype=np.int64), None,
                      "wrong number of fields",
                      np.array([text for _, text in raw.bad_lines], dtype=object)))
    for bad, column, reason in parsed.checks:
        new = bad & ~dropped
        if new.any():
            parts.append(_reject_part(data, raw.rows, new, column, reason))
            np.logical_or(dropped, new, out=dropped)
    for bad, column, reason in parsed.ignored:
        new = bad & ~dropped
        if new.any():
            ignored.append(_reject_part(data, raw.rows, new, column, reason))
    typed = data
    for column, values in parsed.values.items():
        typed = typed.set_column(typed.column_names.index(column), column, values)
    keep = ~dropped
    return (typed.filter(pa.array(keep)) if dropped.any() else typed), keep, parts, ignored


def _reject_part(data: pa.Table, rows: np.ndarray, bad: np.ndarray, column: str,
                 reason: str) -> tuple[np.ndarray, str | None, str, np.ndarray]:
    """The rows ``bad`` of ``data`` rejected for ``reason``, with the values as found."""
    found = data.column(column).filter(pa.array(bad))
    if found.type != pa.string():
        found = found.cast(pa.string())
    return (np.asarray(rows[bad], dtype=np.int64), column, reason,
            np.asarray(found.to_numpy(zero_copy_only=False), dtype=object))


def judge_table(parsed: ParsedTable, codes: np.ndarray,
           known: np.ndarray | None) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The typed frame of the good rows, the rejects, and the mask of rows kept.

    ``codes`` are the rows' account codes (one per distinct id); ``known[code]``
    is True for a valid account (None while judging the accounts themselves).
    """
    raw = parsed.raw
    name, data = raw.table, raw.data
    dropped = np.zeros(data.num_rows, dtype=bool)
    # (rows, column, reason, values as found) per check that rejected something
    parts: list[tuple[np.ndarray, str | None, str, np.ndarray]] = []
    if raw.bad_lines:
        parts.append((np.array([row for row, _ in raw.bad_lines], dtype=np.int64), None,
                      "wrong number of fields",
                      np.array([text for _, text in raw.bad_lines], dtype=object)))

    def reject(bad: np.ndarray, column: str, reason: str, *, keep_row: bool = False) -> None:
        new = bad & ~dropped
        if new.any():
            found = data.column(column).filter(pa.array(new))
            if found.type != pa.string():
                found = found.cast(pa.string())
            parts.append((raw.rows[new], column, reason,
                          np.asarray(found.to_numpy(zero_copy_only=False), dtype=object)))
            if not keep_row:
                np.logical_or(dropped, new, out=dropped)

    for bad, column, reason in parsed.checks:
        reject(bad, column, reason)
    if known is not None:
        reject(~known[codes], s.ACCOUNT_ID, "unknown account_id")
    if name == "accounts":
        reject(_duplicated(codes, ~dropped), s.ACCOUNT_ID, "duplicate account_id")
    if parsed.order_codes is not None:
        reject(_duplicated(parsed.order_codes, ~dropped), s.ORDER_ID, "duplicate order_id")
    for bad, column, reason in parsed.ignored:
        reject(bad, column, reason, keep_row=True)

    for column, values in parsed.values.items():
        data = data.set_column(data.column_names.index(column), column, values)
    frame = (data.filter(pa.array(~dropped)) if dropped.any() else data).to_pandas()
    sizes = [len(rows) for rows, *_ in parts]
    rejects = pd.DataFrame({
        s.TABLE: np.full(sum(sizes), name, dtype=object),
        s.ROW: np.concatenate([rows for rows, *_ in parts]) if parts else np.zeros(0, np.int64),
        s.COLUMN: np.repeat(np.array([c for _, c, _, _ in parts], dtype=object), sizes),
        s.REASON: np.repeat(np.array([r for _, _, r, _ in parts], dtype=object), sizes),
        s.VALUE: np.concatenate([v for *_, v in parts]) if parts else np.zeros(0, object),
    })
    return frame, rejects, ~dropped


def _mask(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean array as numpy, null = False."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _needs_trim(values: pa.ChunkedArray | pa.Array) -> bool:
    """Whether some value starts or ends with a trim character or is empty (looks at the ends only)."""
    trim = pa.array(list(_TRIM_CHARS), type=values.type)
    for start, stop in ((0, 1), (-1, None)):
        end = pc.utf8_slice_codeunits(values, start=start, stop=stop)
        if pc.any(pc.is_in(end, value_set=trim)).as_py():
            return True
    return bool(pc.any(pc.equal(pc.binary_length(values), 0)).as_py())


def _ends_are_plain(chunk: pa.Array) -> bool:
    """True when no value of a string chunk is empty or may start or end with a trim
    character, judged on its first and last bytes alone (no strings built).

    A superset test: a non-ASCII value whose end byte a trim character shares is
    left to :func:`_needs_trim`, which decides exactly.
    """
    if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
        return False
    if len(chunk) == 0:
        return True
    _, offsets_buffer, data_buffer = chunk.buffers()
    offset_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
    # the offsets as they are (no int64 copy): indices of either width
    offsets = np.frombuffer(offsets_buffer, dtype=offset_type)[
        chunk.offset:chunk.offset + len(chunk) + 1]
    starts: np.ndarray = offsets[:-1]
    stops: np.ndarray = offsets[1:]
    if chunk.null_count:
        valid = _mask(chunk.is_valid())
        starts, stops = starts[valid], stops[valid]
    if (stops <= starts).any():  # an empty value becomes null
        return False
    if data_buffer is None:
        return True
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    if _TRIM_FIRST_BYTES[data[starts]].any():
        return False
    return not _TRIM_LAST_BYTES[data[stops - 1]].any()


def _trimmed(values: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Strings without surrounding whitespace or invisible marks; blank -> null."""
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    if all(_ends_are_plain(chunk) for chunk in chunks):
        return values  # the usual case, decided on bytes: keep the column, do not copy it
    if not _needs_trim(values):
        # nothing to trim (the usual case): keep the column, do not copy it
        trimmed = values
    else:
        trimmed = pc.utf8_trim(values, characters=_TRIM_CHARS)
    blank = pc.equal(pc.binary_length(trimmed), 0)  # lengths only: no string compare
    if not pc.any(blank).as_py():
        return trimmed
    return pc.if_else(blank, pa.scalar(None, pa.string()), trimmed)


def _per_chunk(values: pa.ChunkedArray, fast: Callable[[pa.Array], pa.Array],
               slow: Callable[[pd.Series], pd.Series],
               out_type: pa.DataType) -> tuple[pa.ChunkedArray, np.ndarray]:
    """Parse text with ``fast`` (vectorised, all-or-nothing) per chunk, as found, then trimmed;
    with ``slow`` over the distinct values of a chunk it still fails on, so one bad value
    never slows a whole file. Returns the values and the mask of non-blank unparseable ones."""
    chunks, bad = [], []
    for chunk in values.chunks:
        try:
            chunks.append(fast(chunk))
            bad.append(np.zeros(len(chunk), dtype=bool))
            continue
        except pa.ArrowInvalid:
            text = _trimmed(chunk)
            text = pc.if_else(pc.is_in(pc.utf8_lower(text), value_set=pa.array(_NULL_TOKENS)),
                              pa.scalar(None, pa.string()), text)
        try:
            parsed = fast(text)
        except pa.ArrowInvalid:
            encoded = pc.dictionary_encode(text)
            distinct = slow(encoded.dictionary.to_pandas())
            parsed = pa.array(distinct, type=out_type, from_pandas=True).take(encoded.indices)
        chunks.append(parsed)
        bad.append(_mask(pc.and_(pc.is_valid(text), pc.is_null(parsed))))
    return (pa.chunked_array(chunks, type=out_type),
            np.concatenate(bad) if bad else np.zeros(0, dtype=bool))


def _parse_timestamps(values: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray]:
    """UTC timestamps (no offset = UTC) and the mask of non-empty unparseable values."""
    if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
        try:
            if pa.types.is_date(values.type) or values.type.tz is None:
                values = values.cast(pa.timestamp("ns")).cast(_TIMESTAMP)
            return values.cast(_TIMESTAMP), np.zeros(len(values), dtype=bool)
        except pa.ArrowInvalid:  # out of the ns range: judge it as text
            values = values.cast(pa.string())
    if not pa.types.is_string(values.type):
        values = values.cast(pa.string())

    def fast(chunk: pa.Array) -> pa.Array:
        try:  # arrow's ISO-8601 cast wants every value with an offset, or none
            return chunk.cast(_TIMESTAMP)
        except pa.ArrowInvalid:
            return chunk.cast(pa.timestamp("ns")).cast(_TIMESTAMP)

    def slow(distinct: pd.Series) -> pd.Series:
        parsed = pd.to_datetime(distinct, format="ISO8601", utc=True, errors="coerce")
        return parsed.where((parsed >= _TS_MIN) & (parsed <= _TS_MAX)).astype("datetime64[ns, UTC]")

    return _per_chunk(values, fast, slow, _TIMESTAMP)


def parse_ips(values: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray, np.ndarray]:
    """Trimmed IPs (invalid -> null), the mask of non-empty values that are not an IP,
    and each row's code of its trimmed IP (equal IPs, equal codes; -1 for null).

    Each distinct value is judged once (a login table repeats its IPs about
    ten times): a vectorised regex accepts plain IPv4 and plain IPv6; the
    rest (padded, embedded IPv4, bad values) goes through :mod:`ipaddress`.
    """
    if values.type != pa.string():
        values = values.cast(pa.string())
    distinct, position = dictionary_codes(values)
    plain = _mask(pc.match_substring_regex(distinct, _IPV4))
    # plain IPv6 (hextets, "::", no blanks) is valid as is: only the rest meets ipaddress
    others = np.flatnonzero(~plain)
    if len(others):
        plain[others] = _mask(pc.match_substring_regex(distinct.take(pa.array(others)), _IPV6))
        others = others[~plain[others]]
    if not len(others):
        return values, np.zeros(len(values), dtype=bool), position
    cleaned: list[str | None] = [None] * len(distinct)
    wrong = np.zeros(len(distinct), dtype=bool)
    for i, v in zip(others.tolist(), distinct.take(pa.array(others)).to_pylist(), strict=True):
        v = v.strip(_TRIM_CHARS)
        cleaned[i] = v if v and _is_ip(v) else None
        wrong[i] = bool(v) and cleaned[i] is None and v.lower() not in _NULL_TOKENS
    cleaned_array = pc.if_else(pa.array(plain), distinct, pa.array(cleaned, type=pa.string()))
    # two values as found may trim to one IP: its code is that of the trimmed value
    _, recode = dictionary_codes(cleaned_array)
    valid = position >= 0
    bad = np.zeros(len(position), dtype=bool)
    bad[valid] = wrong[position[valid]]
    codes = np.where(valid, np.append(recode, -1)[position], -1).astype(np.int32)
    typed = cleaned_array.take(pa.array(position, mask=~valid))
    return pa.chunked_array([typed]), bad, codes


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _parse_numbers(values: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray, np.ndarray]:
    """float64 values, the mask of non-empty non-numbers, and the mask of negatives."""
    if (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
            or pa.types.is_decimal(values.type)):
        values, unparsed = values.cast(pa.float64()), np.zeros(len(values), dtype=bool)
    else:
        values, unparsed = _per_chunk(
            values.cast(pa.string()), lambda chunk: chunk.cast(pa.float64()),
            lambda distinct: pd.to_numeric(distinct, errors="coerce"), pa.float64())
    values = pc.if_else(pc.is_nan(values), pa.scalar(None, pa.float64()), values)
    finite = pc.is_finite(values)  # null stays null: missing is not bad
    bad = unparsed | _mask(pc.invert(finite))
    negative = _mask(pc.less(values, 0.0))
    return pc.if_else(pc.fill_null(finite, False), values, pa.scalar(None, pa.float64())), bad, \
        negative


def _duplicated(codes: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """True on every ``alive`` row whose code (>= 0) appeared on an earlier alive row."""
    candidates = np.flatnonzero(alive & (codes >= 0))
    chosen = codes[candidates]
    # each code's first alive row, without sorting the codes
    first = np.full(int(chosen.max()) + 1 if len(chosen) else 0, len(codes), dtype=np.int64)
    np.minimum.at(first, chosen, candidates)
    duplicated = np.zeros(len(codes), dtype=bool)
    duplicated[candidates] = first[chosen] != candidates
    return duplicated
