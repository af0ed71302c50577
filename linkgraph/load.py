"""Load stage: input files -> typed DataFrames and rejects (reads files).

The input contract is DESIGN.md's: one ``NAME.csv`` or ``NAME.parquet`` per
table of ``schemas.INPUT_TABLES``, only ``accounts`` required. Contract
problems (a missing table or column, an unreadable file) are collected over
every table and raised once as :class:`~linkgraph.errors.InputError`. Bad rows
never crash the run: each goes to ``Tables.rejects`` with its reason and the
good rows go on, unless a table rejects more than ``max_reject_rate`` of its
rows (:class:`~linkgraph.errors.RejectLimitError`).

The heavy work runs in pyarrow (one serial CSV pass, vectorised checks); the
slow parsers (pandas' ISO-8601, :mod:`ipaddress`) see each distinct value once.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import ipaddress
import logging
import math
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from linkgraph import schemas as s
from linkgraph.errors import InputError, RejectLimitError, RunDirectoryError

logger = logging.getLogger(__name__)

_ID_COLUMNS = (s.ACCOUNT_ID, s.ORDER_ID, s.ADDRESS_ID, s.PAYMENT_ID, s.DEVICE_ID)
# Unicode whitespace plus the invisible format characters (zero-width, bidi
# marks, BOM) that exports and copy-paste leave around ids.
_TRIM_CHARS = (
    " \t\n\v\f\r\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2060\u2066\u2067\u2068"
    "\u2069\ufeff"
)
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = rf"^(?:{_OCTET}\.){{3}}{_OCTET}$"  # same rules as ipaddress: no leading zeros
_TIMESTAMP = pa.timestamp("ns", tz="UTC")
# datetime64[ns] bounds: later stages do arithmetic in ns
_TS_MIN = pd.Timestamp("1677-09-22", tz="UTC")
_TS_MAX = pd.Timestamp("2262-04-10", tz="UTC")
_KEPT = " (value ignored, row kept)"
_ALLOWED = {"sanctions": (s.ACTION, s.SANCTION_ACTIONS), "decisions": (s.DECISION, s.DECISION_VALUES)}
_FIELD_LEVEL = {s.CREATED_AT: "bad timestamp", s.REGISTRATION_IP: "bad IP address"}
_TOP_REASONS = 3


@dataclass(frozen=True)
class SourceFile:
    """One input file as read: for the manifest.

    ``rows_rejected`` counts dropped rows; ``values_ignored`` counts values of
    optional account fields set to missing on rows that were kept.
    """

    table: str
    path: str
    size: int
    sha256: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int
    values_ignored: int = 0


@dataclass(frozen=True)
class Tables:
    """The input tables, typed, with every contract column present.

    Optional tables that were not supplied are empty frames with the contract
    columns. ``rejects`` has the columns ``schemas.REJECT_COLUMNS``.
    """

    accounts: pd.DataFrame
    addresses: pd.DataFrame
    payments: pd.DataFrame
    logins: pd.DataFrame
    orders: pd.DataFrame
    sanctions: pd.DataFrame
    decisions: pd.DataFrame
    rejects: pd.DataFrame
    sources: tuple[SourceFile, ...] = field(default=())


@dataclass(frozen=True)
class PreviousRun:
    """What a new run needs of last night's run directory.

    ``accounts``: account_id, cluster_id, person_cluster_id.
    ``issued_ids``: every cluster id ever issued (column ``cluster_id``), so a
    retired id is never issued again.
    """

    accounts: pd.DataFrame
    issued_ids: pd.DataFrame


@dataclass(frozen=True)
class _Raw:
    """One table as read, before validation."""

    table: str
    path: Path | None
    header: list[str]  # column names as found (stripped)
    data: pa.Table  # conformed (see _conform), values as found
    rows: np.ndarray  # data-row number in the source file of each row of ``data``
    bad_lines: tuple[tuple[int, str], ...]  # (row, text) of lines with the wrong field count


class _Unreadable(Exception):
    """A file that cannot be read at all; the message is the user's."""


def load_tables(data_dir: str | Path, *, max_reject_rate: float = 0.05) -> Tables:
    """Read and validate every input table of ``data_dir``.

    Ids, phones and postal codes stay strings (leading zeros kept, ids
    stripped of surrounding whitespace); timestamps become UTC
    ``datetime64[ns, UTC]`` (no offset = UTC); ``amount``/``discount``
    ``float64``; ``action``/``decision`` lower case. Extra columns are kept.

    Args:
        data_dir: directory holding ``accounts.csv`` or ``accounts.parquet``
            and the optional tables.
        max_reject_rate: the largest share of a table's rows that may be
            dropped before the load fails.

    Returns:
        The typed tables (accounts sorted by account_id, other tables in file
        order), the rejects and one :class:`SourceFile` per file read.

    Raises:
        InputError: contract problems, every one listed, one per line.
        RejectLimitError: a table dropped more than ``max_reject_rate`` of
            its rows; ``err.rows`` holds the rejects.

    >>> import pathlib, tempfile
    >>> data = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (data / "accounts.csv").write_text("account_id,phone\\n007,0912\\n007,0913\\n")
    >>> tables = load_tables(data, max_reject_rate=0.5)
    >>> tables.accounts[["account_id", "phone"]].values.tolist()
    [['007', '0912']]
    >>> tables.rejects[["table", "row", "reason"]].values.tolist()
    [['accounts', 2, 'duplicate account_id']]
    """
    paths, problems = _find_files(Path(data_dir))
    # Two workers: arrow's readers and kernels release the GIL, so tables are
    # read (and checked) side by side while the files are hashed.
    with ThreadPoolExecutor(max_workers=2) as pool:
        reads = {name: pool.submit(_read, name, path) for name, path in paths.items()}
        digests = {name: pool.submit(_sha256, path) for name, path in paths.items()}
        raws: dict[str, _Raw] = {}
        for name in s.TABLE_NAMES:
            if name not in reads:
                raws[name] = _empty_raw(name)
                continue
            try:
                raws[name] = reads[name].result()
            except _Unreadable as e:
                problems.append(str(e))
                continue
            problems.extend(_column_problems(name, paths[name].name, raws[name].header))
        if problems:
            raise InputError("\n".join(problems))

        ids = {name: _trimmed(raw.data.column(s.ACCOUNT_ID)) for name, raw in raws.items()}
        codes = _account_codes(ids)
        checked = {"accounts": _validate(raws["accounts"], ids["accounts"], codes["accounts"], None)}
        known = np.zeros(max((int(c.max(initial=-1)) for c in codes.values()), default=-1) + 2,
                         dtype=bool)  # the last slot stands for "no id" (code -1)
        known[codes["accounts"][checked["accounts"][2]]] = True
        for name, result in zip(s.TABLE_NAMES[1:], pool.map(
                lambda n: _validate(raws[n], ids[n], codes[n], known), s.TABLE_NAMES[1:])):
            checked[name] = result
        sha = {name: _result(future) for name, future in digests.items()}

    frames: dict[str, pd.DataFrame] = {}
    sources: list[SourceFile] = []
    for name in s.TABLE_NAMES:
        raw, (frame, rejects, keep) = raws[name], checked[name]
        dropped = int(len(keep) - keep.sum()) + len(raw.bad_lines)
        frames[name] = frame
        if raw.path is None:
            continue
        sources.append(SourceFile(
            table=name, path=str(raw.path), size=raw.path.stat().st_size, sha256=sha[name],
            rows_read=len(frame) + dropped, rows_accepted=len(frame), rows_rejected=dropped,
            values_ignored=len(rejects) - dropped,
        ))
        logger.info("%s: %d rows read, %d accepted, %d rejected", raw.path.name,
                    len(frame) + dropped, len(frame), dropped)
    frames["accounts"] = frames["accounts"].sort_values(
        s.ACCOUNT_ID, kind="stable", ignore_index=True)
    rejects = _sorted_rejects([checked[name][1] for name in s.TABLE_NAMES])
    _check_reject_rates(sources, rejects, max_reject_rate)
    return Tables(**frames, rejects=rejects, sources=tuple(sources))


def summarize_tables(tables: Tables) -> pd.DataFrame:
    """One row per input table: file, rows read, accepted, rejected, top reasons.

    ``rejected`` counts dropped rows; ``top_reasons`` also names values that
    were ignored on kept rows. Tables not supplied show an empty ``file``.

    >>> import pathlib, tempfile
    >>> data = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (data / "accounts.csv").write_text("account_id\\nA1\\nA2\\n")
    >>> _ = (data / "logins.csv").write_text("account_id,ip\\nA1,10.0.0.1\\nA9,10.0.0.2\\n")
    >>> summary = summarize_tables(load_tables(data, max_reject_rate=0.5))
    >>> summary.loc[summary["table"] == "logins"].to_dict("records")
    [{'table': 'logins', 'file': 'logins.csv', 'rows_read': 2, 'accepted': 1, 'rejected': 1, \
'top_reasons': 'unknown account_id x1'}]
    """
    by_table = {source.table: source for source in tables.sources}
    reasons = tables.rejects.groupby([s.TABLE, s.REASON], sort=False).size()
    rows = []
    for name in s.TABLE_NAMES:
        source = by_table.get(name)
        counts = reasons[name] if name in reasons.index.get_level_values(0) else pd.Series()
        rows.append({
            s.TABLE: name,
            "file": Path(source.path).name if source else "",
            "rows_read": source.rows_read if source else 0,
            "accepted": source.rows_accepted if source else 0,
            "rejected": source.rows_rejected if source else 0,
            "top_reasons": _top_reasons(counts),
        })
    return pd.DataFrame(rows)


def load_previous_run(run_dir: str | Path) -> PreviousRun:
    """Read what the next run needs of a finished run directory.

    ``accounts.parquet`` (or ``accounts.csv``) gives account_id, cluster_id
    and person_cluster_id; ``issued_ids.parquet`` (or ``.csv``) every cluster
    id ever issued; without it, the cluster ids of ``accounts``. From CSV,
    account ids stay strings and cluster id columns whose every value is a
    plain decimal integer become ``int64`` (as the Parquet file has them).

    Args:
        run_dir: the run directory written by ``linkgraph run``.

    Returns:
        The previous accounts (sorted by account_id) and issued ids (sorted).

    Raises:
        RunDirectoryError: the directory, its accounts file or a column is missing.

    >>> import pathlib, tempfile
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (run / "accounts.csv").write_text(
    ...     "account_id,cluster_id,person_cluster_id\\n007,3,4\\n001,3,3\\n")
    >>> previous = load_previous_run(run)
    >>> previous.accounts.values.tolist(), previous.issued_ids[s.CLUSTER_ID].tolist()
    ([['001', 3, 3], ['007', 3, 4]], [3])
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirectoryError(
            f"previous run directory {run_dir} does not exist. Pass the directory of a finished "
            "run, or leave out --previous."
        )
    columns = (s.ACCOUNT_ID, s.CLUSTER_ID, s.PERSON_CLUSTER_ID)
    accounts = _read_run_table(run_dir, "accounts", columns, required=True)
    assert accounts is not None
    accounts = accounts[list(columns)].sort_values(s.ACCOUNT_ID, kind="stable", ignore_index=True)
    issued = _read_run_table(run_dir, "issued_ids", (s.CLUSTER_ID,), required=False)
    if issued is None:
        issued = accounts[[s.CLUSTER_ID]].drop_duplicates()
    issued = issued.sort_values(s.CLUSTER_ID, kind="stable", ignore_index=True)
    return PreviousRun(accounts=accounts, issued_ids=issued)


# --- reading -----------------------------------------------------------------


def _find_files(data_dir: Path) -> tuple[dict[str, Path], list[str]]:
    if not data_dir.is_dir():
        raise InputError(f"data directory {data_dir} does not exist or is not a directory.")
    paths: dict[str, Path] = {}
    problems: list[str] = []
    for name in s.TABLE_NAMES:
        found = [p for p in (data_dir / f"{name}.csv", data_dir / f"{name}.parquet") if p.is_file()]
        if len(found) == 2:
            problems.append(f"{name}.csv and {name}.parquet are both in {data_dir}: "
                            "keep only one of them.")
        elif found:
            paths[name] = found[0]
        elif name == "accounts":
            problems.append(f"no accounts table in {data_dir}: expected accounts.csv or "
                            "accounts.parquet (it is the one required table).")
    return paths, problems


def _read(name: str, path: Path) -> _Raw:
    if path.suffix == ".parquet":
        try:
            data = pq.read_table(path)
        except (OSError, pa.ArrowException) as e:
            raise _Unreadable(f"{path.name} cannot be read as Parquet: {e}") from e
        return _Raw(name, path, [c.strip() for c in data.column_names], _conform(name, data),
                    np.arange(1, data.num_rows + 1), ())
    return _read_csv(name, path)


def _read_csv(name: str, path: Path) -> _Raw:
    header = _csv_header(path)
    data, bad = _parse_csv(path, header, threads=True)
    lines = [(number - 1, text) for number, text in bad if number is not None]
    if len(lines) < len(bad):
        # only a serial read numbers the skipped lines: pay for it on broken files only
        data, bad = _parse_csv(path, header, threads=False)
        lines = [(number - 1, text) for number, text in bad if number is not None]
    keep = np.ones(data.num_rows + len(bad) + 1, dtype=bool)
    keep[0] = False
    keep[[row for row, _ in lines]] = False
    return _Raw(name, path, [c.strip() for c in header], _conform(name, data),
                np.flatnonzero(keep), tuple(lines))


def _parse_csv(path: Path, header: list[str], *,
               threads: bool) -> tuple[pa.Table, list[tuple[int | None, str]]]:
    """The file as text columns, and the (record number, text) of lines with the wrong
    number of fields (records counted from the header = 1, blank lines not counted)."""
    bad: list[tuple[int | None, str]] = []

    def skip(row: pacsv.InvalidRow) -> str:
        bad.append((row.number, row.text))
        return "skip"

    try:
        data = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=threads),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=skip),
            convert_options=pacsv.ConvertOptions(
                column_types={column: pa.string() for column in header},
                strings_can_be_null=True, null_values=[""],
            ),
        )
    except pa.ArrowInvalid as e:
        if "UTF8" in str(e) or "UTF-8" in str(e):
            raise _Unreadable(_utf8_problem(path)) from e
        raise _Unreadable(f"{path.name} cannot be read as CSV: {e}. Check its quoting.") from e
    except OSError as e:
        raise _Unreadable(f"cannot read {path.name}: {e}") from e
    return data, bad


def _csv_header(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return next(csv.reader(fh))
    except StopIteration as e:
        raise _Unreadable(f"{path.name} is empty: it needs a header row.") from e
    except UnicodeDecodeError as e:
        raise _Unreadable(_utf8_problem(path)) from e
    except (OSError, csv.Error) as e:
        raise _Unreadable(f"cannot read the header of {path.name}: {e}") from e


def _utf8_problem(path: Path) -> str:
    """Where the first invalid UTF-8 byte is, read in 1 MiB pieces."""
    line, offset = 1, 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                line += chunk.count(b"\n", 0, e.start)
                return (f"{path.name} is not valid UTF-8 (line {line}, byte {offset + e.start}). "
                        "Export it as UTF-8.")
            line += chunk.count(b"\n")
            offset += len(chunk)
    return f"{path.name} is not valid UTF-8. Export it as UTF-8."


def _column_problems(name: str, file: str, columns: list[str]) -> list[str]:
    names = [c.strip() for c in columns]
    found = ", ".join(names)
    problems = [f"{file} has column '{c}' more than once (found: {found}). Keep one in the export."
                for c in sorted({c for c in names if names.count(c) > 1})]
    hint = ""
    if len(names) == 1 and (";" in names[0] or "\t" in names[0] or "|" in names[0]):
        hint = " It looks like another separator was used: export it comma-separated."
    required, _ = s.INPUT_TABLES[name]
    problems += [f"{file} has no column '{c}' (found: {found}). Rename it in the export.{hint}"
                 for c in required if c not in names]
    return problems


def _empty_raw(name: str) -> _Raw:
    _, columns = s.INPUT_TABLES[name]
    data = pa.table({c: pa.array([], type=pa.string()) for c in columns})
    return _Raw(name, None, list(columns), data, np.arange(1, 1), ())


def _conform(name: str, data: pa.Table) -> pa.Table:
    """Contract columns first, as strings (or typed times and numbers), extras after.

    A duplicated column name keeps its first column (the duplicate is a contract problem).
    """
    names = [c.strip() for c in data.column_names]
    first = sorted({names.index(c) for c in names})
    data = pa.table([data.column(i) for i in first], names=[names[i] for i in first])
    _, contract = s.INPUT_TABLES[name]
    typed = s.TIMESTAMP_COLUMNS.get(name, ()) + s.NUMERIC_COLUMNS.get(name, ())
    columns: dict[str, pa.ChunkedArray] = {}
    for column in contract:
        if column not in data.column_names:
            columns[column] = pa.chunked_array([pa.nulls(data.num_rows, pa.string())])
            continue
        values = data.column(column)
        if pa.types.is_dictionary(values.type):
            values = values.cast(values.type.value_type)
        keep_type = column in typed and (pa.types.is_timestamp(values.type)
                                         or pa.types.is_date(values.type)
                                         or pa.types.is_integer(values.type)
                                         or pa.types.is_floating(values.type)
                                         or pa.types.is_decimal(values.type))
        columns[column] = values if keep_type or values.type == pa.string() else values.cast(
            pa.string())
    for column in data.column_names:
        columns.setdefault(column, data.column(column))
    return pa.table(columns)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _result(future: Future[str]) -> str:
    try:
        return future.result()
    except OSError as e:
        raise InputError(f"cannot read {e.filename}: {e.strerror}") from e


# --- validation -----------------------------------------------------------------


def _account_codes(ids: dict[str, pa.ChunkedArray]) -> dict[str, np.ndarray]:
    """One integer code per distinct account id over every table (-1 = no id).

    A single dictionary over all tables hashes each id once; a set lookup per
    table would rebuild the set of accounts for every table.
    """
    chunks = [chunk for values in ids.values() for chunk in values.chunks]
    encoded = pc.dictionary_encode(pa.chunked_array(chunks, type=pa.string())).combine_chunks()
    codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False),
                       dtype=np.int64)
    offsets = np.cumsum([0] + [len(values) for values in ids.values()])
    return {name: codes[offsets[i]:offsets[i + 1]] for i, name in enumerate(ids)}


def _validate(raw: _Raw, account_ids: pa.ChunkedArray, codes: np.ndarray,
              known: np.ndarray | None) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The typed frame of the good rows, the rejects, and the mask of rows kept.

    ``codes`` are the rows' account codes (``_account_codes``); ``known[code]``
    is True for a valid account (None while checking the accounts themselves).
    """
    name, data = raw.table, raw.data
    dropped = np.zeros(data.num_rows, dtype=bool)
    parts = [pd.DataFrame({s.TABLE: name, s.ROW: [r for r, _ in raw.bad_lines], s.COLUMN: None,
                           s.REASON: "wrong number of fields",
                           s.VALUE: [t for _, t in raw.bad_lines]})]

    def reject(bad: np.ndarray, column: str, reason: str, *, keep_row: bool = False) -> None:
        new = bad & ~dropped
        if new.any():
            found = data.column(column).filter(pa.array(new))
            if found.type != pa.string():
                found = found.cast(pa.string())
            parts.append(pd.DataFrame({s.TABLE: name, s.ROW: raw.rows[new], s.COLUMN: column,
                                       s.REASON: reason, s.VALUE: found.to_pandas()}))
            if not keep_row:
                np.logical_or(dropped, new, out=dropped)

    out = {column: _trimmed(data.column(column)) for column in _ID_COLUMNS
           if column in data.column_names and column != s.ACCOUNT_ID}
    out[s.ACCOUNT_ID] = account_ids
    if name == "orders":
        reject(_mask(pc.is_null(out[s.ORDER_ID])), s.ORDER_ID, "empty order_id")
    reject(codes < 0, s.ACCOUNT_ID, "empty account_id")

    fixes: dict[str, np.ndarray] = {}  # accounts: optional values set to missing
    for column in s.TIMESTAMP_COLUMNS.get(name, ()):
        out[column], bad = _parse_timestamps(data.column(column))
        if name == "accounts":
            fixes[column] = bad
        else:
            reject(bad, column, "bad timestamp")
    for column in (s.IP, s.REGISTRATION_IP):
        if column in s.INPUT_TABLES[name][1]:
            out[column], bad = _parse_ips(data.column(column))
            if name == "accounts":
                fixes[column] = bad
            else:
                reject(bad, column, "bad IP address")
    for column in s.NUMERIC_COLUMNS.get(name, ()):
        out[column], bad, negative = _parse_numbers(data.column(column))
        reject(bad, column, "not a number")
        reject(negative, column, "negative number")
    if name in _ALLOWED:
        column, allowed = _ALLOWED[name]
        out[column] = pc.utf8_lower(_trimmed(data.column(column)))
        reject(_mask(pc.is_null(out[column])), column, f"empty {column}")
        reject(~_mask(pc.is_in(out[column], value_set=pa.array(allowed))), column,
               f"unknown {column}")
    if known is not None:
        reject(~known[codes], s.ACCOUNT_ID, "unknown account_id")
    if name == "accounts":
        reject(_duplicated(codes, ~dropped), s.ACCOUNT_ID, "duplicate account_id")
    if name == "orders":
        order_codes = np.asarray(pc.dictionary_encode(out[s.ORDER_ID]).combine_chunks().indices
                                 .fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
        reject(_duplicated(order_codes, ~dropped), s.ORDER_ID, "duplicate order_id")
    for column, bad in fixes.items():
        reject(bad, column, _FIELD_LEVEL[column] + _KEPT, keep_row=True)

    for column, values in out.items():
        data = data.set_column(data.column_names.index(column), column, values)
    frame = (data.filter(pa.array(~dropped)) if dropped.any() else data).to_pandas()
    return frame, pd.concat(parts, ignore_index=True), ~dropped


def _mask(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean array as numpy, null = False."""
    return np.asarray(pc.fill_null(values, False).to_numpy(zero_copy_only=False), dtype=bool)


def _trimmed(values: pa.ChunkedArray) -> pa.ChunkedArray:
    """Strings without surrounding whitespace or invisible marks; blank -> null."""
    trimmed = pc.utf8_trim(values, characters=_TRIM_CHARS)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _per_chunk(values: pa.ChunkedArray, fast: Callable[[pa.Array], pa.Array],
               slow: Callable[[pd.Series], pd.Series], out_type: pa.DataType) -> pa.ChunkedArray:
    """``fast`` (vectorised, all-or-nothing) per chunk; ``slow`` over the distinct values of a
    chunk it fails on, so one bad value never slows a whole file."""
    chunks = []
    for chunk in values.chunks:
        try:
            chunks.append(fast(chunk))
        except pa.ArrowInvalid:
            encoded = pc.dictionary_encode(chunk)
            parsed = slow(encoded.dictionary.to_pandas())
            chunks.append(pa.array(parsed, type=out_type, from_pandas=True).take(encoded.indices))
    return pa.chunked_array(chunks, type=out_type)


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
    text = _trimmed(values)

    def fast(chunk: pa.Array) -> pa.Array:
        try:  # arrow's ISO-8601 cast wants every value with an offset, or none
            return chunk.cast(_TIMESTAMP)
        except pa.ArrowInvalid:
            return chunk.cast(pa.timestamp("ns")).cast(_TIMESTAMP)

    def slow(distinct: pd.Series) -> pd.Series:
        parsed = pd.to_datetime(distinct, format="ISO8601", utc=True, errors="coerce")
        return parsed.where((parsed >= _TS_MIN) & (parsed <= _TS_MAX)).astype("datetime64[ns, UTC]")

    parsed = _per_chunk(text, fast, slow, _TIMESTAMP)
    return parsed, _mask(pc.and_(pc.is_valid(text), pc.is_null(parsed)))


def _parse_ips(values: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray]:
    """Trimmed IPs (invalid -> null) and the mask of non-empty values that are not an IP."""
    text = _trimmed(values.cast(pa.string()))
    ipv4 = pc.match_substring_regex(text, _IPV4)
    others = pc.unique(text.filter(pc.invert(pc.fill_null(ipv4, True)))).to_pylist()
    valid = pa.array([v for v in others if _is_ip(v)], type=pa.string())
    ok = pc.or_(pc.fill_null(ipv4, False), pc.is_in(text, value_set=valid))
    bad = _mask(pc.and_(pc.is_valid(text), pc.invert(ok)))
    return pc.if_else(pa.array(bad), pa.scalar(None, pa.string()), text), bad


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _parse_numbers(values: pa.ChunkedArray) -> tuple[pa.ChunkedArray, np.ndarray, np.ndarray]:
    """float64 values, the mask of non-empty non-numbers, and the mask of negatives."""
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)
            or pa.types.is_decimal(values.type)):
        text = _trimmed(values.cast(pa.string()))
        values = _per_chunk(text, lambda chunk: chunk.cast(pa.float64()),
                            lambda distinct: pd.to_numeric(distinct, errors="coerce"), pa.float64())
        given = pc.is_valid(text)
    else:
        values = values.cast(pa.float64())
        given = pc.is_valid(values)
    finite = pc.fill_null(pc.is_finite(values), False)
    bad = _mask(pc.and_(given, pc.invert(finite)))
    negative = _mask(pc.less(values, 0.0))
    return pc.if_else(finite, values, pa.scalar(None, pa.float64())), bad, negative


def _duplicated(codes: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """True on every ``alive`` row whose code (>= 0) appeared on an earlier alive row."""
    candidates = np.flatnonzero(alive & (codes >= 0))
    _, first = np.unique(codes[candidates], return_index=True)
    duplicated = np.zeros(len(codes), dtype=bool)
    duplicated[candidates] = True
    duplicated[candidates[first]] = False
    return duplicated


# --- rejects -----------------------------------------------------------------------


def _sorted_rejects(parts: list[pd.DataFrame]) -> pd.DataFrame:
    rejects = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    rejects = rejects.reindex(columns=list(s.REJECT_COLUMNS)).astype({s.ROW: "int64"})
    for column in (s.TABLE, s.COLUMN, s.REASON, s.VALUE):
        # where(): pandas 2 would turn a missing value into the text 'None'
        rejects[column] = rejects[column].astype("str").where(rejects[column].notna())
    order = rejects[s.TABLE].map({name: i for i, name in enumerate(s.TABLE_NAMES)})
    return (rejects.assign(_order=order).sort_values(["_order", s.ROW, s.COLUMN], kind="stable")
            .drop(columns="_order").reset_index(drop=True))


def _top_reasons(counts: pd.Series) -> str:
    if counts.empty:
        return ""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    text = "; ".join(f"{reason} x{n}" for reason, n in ranked[:_TOP_REASONS])
    more = len(ranked) - _TOP_REASONS
    return text + (f"; {more} more reason{'s' if more > 1 else ''}" if more > 0 else "")


def _check_reject_rates(sources: list[SourceFile], rejects: pd.DataFrame, limit: float) -> None:
    lines = []
    for source in sources:
        if source.rows_read == 0 or source.rows_rejected / source.rows_read <= limit:
            continue
        mine = rejects[(rejects[s.TABLE] == source.table) & ~rejects[s.REASON].str.endswith(_KEPT)]
        lines.append(
            f"{Path(source.path).name} rejected {source.rows_rejected} of {source.rows_read} rows "
            f"({source.rows_rejected / source.rows_read:.1%}), over the limit of {limit:.1%}; "
            f"top reasons: {_top_reasons(mine.groupby(s.REASON).size())}."
        )
    if lines:
        suggestion = min(1.0, math.ceil(max(src.rows_rejected / src.rows_read for src in sources
                                            if src.rows_read) * 100 + 1) / 100)
        raise RejectLimitError(
            "\n".join(lines) + "\nFix the export, or raise the limit with max_reject_rate in the "
            f"config (e.g. max_reject_rate = {suggestion:g}); the rejected rows are in err.rows.",
            rows=rejects,
        )


# --- previous run --------------------------------------------------------------------


def _read_run_table(run_dir: Path, stem: str, columns: tuple[str, ...], *,
                    required: bool) -> pd.DataFrame | None:
    parquet, text = run_dir / f"{stem}.parquet", run_dir / f"{stem}.csv"
    try:
        if parquet.is_file():
            frame = pq.read_table(parquet).to_pandas()
        elif text.is_file():
            frame = pacsv.read_csv(text, convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in _csv_header(text)},
                strings_can_be_null=True, null_values=[""])).to_pandas()
            for column in columns:
                if column != s.ACCOUNT_ID and column in frame:
                    frame[column] = _int_if_integral(frame[column])
        elif required:
            raise RunDirectoryError(
                f"previous run directory {run_dir} has no {stem}.parquet or {stem}.csv: "
                "it is not a finished run. Pass the directory of a finished run."
            )
        else:
            return None
    except (OSError, pa.ArrowException, _Unreadable) as e:
        raise RunDirectoryError(f"cannot read {stem} of previous run {run_dir}: {e}") from e
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RunDirectoryError(
            f"{stem} of previous run {run_dir} has no column {', '.join(map(repr, missing))} "
            f"(found: {', '.join(map(str, frame.columns))}): it was not written by linkgraph."
        )
    return frame


def _int_if_integral(values: pd.Series) -> pd.Series:
    """Cluster ids written as plain decimal integers come back as int64."""
    if values.notna().all() and values.str.fullmatch(r"0|[1-9][0-9]{0,17}").all():
        return values.astype("int64")
    return values
