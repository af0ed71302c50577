"""Reading input files: CSV and Parquet to text tables, contract problems, checksums."""

from __future__ import annotations

import codecs
import csv
import hashlib
from collections.abc import Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.dataset as ds

from linkgraph import schemas as s
from linkgraph.errors import InputError


@dataclass(frozen=True)
class RawTable:
    """One table as read, before validation."""

    table: str
    path: Path | None
    header: list[str]  # column names as found (stripped)
    data: pa.Table  # conformed (see _conform), values as found
    rows: np.ndarray  # data-row number in the source file of each row of ``data``
    bad_lines: tuple[tuple[int, str], ...]  # (row, text) of lines with the wrong field count




class Unreadable(Exception):
    """A file that cannot be read at all; the message is the user's."""



def find_files(data_dir: Path) -> tuple[dict[str, Path], list[str]]:
    if not data_dir.is_dir():
        raise InputError(f"data directory {data_dir} does not exist or is not a directory.")
    paths: dict[str, Path] = {}
    problems: list[str] = []
    for name in s.TABLE_NAMES:
        csv_file, parquet = data_dir / f"{name}.csv", data_dir / f"{name}.parquet"
        # a Parquet table may also be a directory of part files (as Spark and Hive write it)
        found = [p for p in (csv_file, parquet) if p.is_file() or (p == parquet and p.is_dir())]
        if len(found) == 2:
            problems.append(f"{name}.csv and {name}.parquet are both in {data_dir}: "
                            "keep only one of them.")
        elif found:
            paths[name] = found[0]
        elif others := _other_formats(data_dir, name):
            # an export linkgraph cannot read must not silently run as if the table were absent
            problems.append(f"{others[0].name} in {data_dir} is not read: linkgraph reads "
                            f"{name}.csv (UTF-8, comma-separated) or {name}.parquet (a file or a "
                            "directory of parts). Convert it, or move it out of the directory.")
        elif name == "accounts":
            problems.append(f"no accounts table in {data_dir}: expected accounts.csv or "
                            "accounts.parquet (it is the one required table).")
    return paths, problems


def _other_formats(data_dir: Path, name: str) -> list[Path]:
    """Files or directories named like table ``name`` in a form that is not read
    (``logins.csv.gz``, ``Logins.CSV``, ``logins.tsv``, ``logins/``), sorted."""
    return sorted(p for p in data_dir.iterdir()
                  if p.name.lower() == name or p.name.lower().startswith(f"{name}."))


#: rows per piece a table is read, parsed and judged in (a Parquet row group, or this
#: many CSV rows): the load holds the judged rows and one piece in flight per thread,
#: never the raw and the typed copy of a whole table at once
PIECE_ROWS = 1 << 20


def read_pieces(name: str, path: Path) -> Iterator[RawTable]:
    """The table in pieces, in file order (at least one, possibly empty).

    Each piece is conformed (:func:`_conform`) and its rows numbered as in the
    whole file. A Parquet table (a file, or a directory of part files) is read a
    row group at a time; a CSV file is read whole (its bad lines and quotes are
    judged over the file) and then cut into slices of ``PIECE_ROWS`` rows, without
    a copy; its lines with the wrong number of fields ride on the first piece.

    Raises:
        Unreadable: the file cannot be read (possibly after some pieces were given).
    """
    if path.suffix == ".parquet":
        yield from _parquet_pieces(name, path)
        return
    whole = _read_csv(name, path)
    for start in range(0, max(whole.data.num_rows, 1), PIECE_ROWS):
        yield RawTable(name, path, whole.header, whole.data.slice(start, PIECE_ROWS),
                       whole.rows[start:start + PIECE_ROWS], whole.bad_lines if not start else ())


def _parquet_pieces(name: str, path: Path) -> Iterator[RawTable]:
    """A Parquet table as ``pq.read_table`` reads it (hive partitions, hidden and ``_``
    files left out), one row group at a time."""
    try:
        dataset = ds.dataset(path, format="parquet", partitioning="hive",
                             ignore_prefixes=[".", "_"])
        header = [c.strip() for c in dataset.schema.names]
        first_row = 1
        for fragment in dataset.get_fragments():
            for group in fragment.split_by_row_group():
                # a chunk a row group (up to PIECE_ROWS rows): not the scanner's default
                # batches of 128k rows, which cost ~15% more CPU to decode and to judge
                data = group.to_table(schema=dataset.schema, batch_size=PIECE_ROWS)
                if not data.num_rows:
                    continue
                yield RawTable(name, path, header, _conform(name, data),
                               np.arange(first_row, first_row + data.num_rows), ())
                first_row += data.num_rows
        if first_row == 1:
            yield RawTable(name, path, header, _conform(name, dataset.schema.empty_table()),
                           np.arange(1, 1), ())
    except (OSError, pa.ArrowException) as e:
        raise Unreadable(f"{path.name} cannot be read as Parquet: {e}") from e


def _read_csv(name: str, path: Path) -> RawTable:
    header = csv_header(path)
    data, bad = _parse_csv(path, header, threads=True)
    lines = [(number - 1, text) for number, text in bad if number is not None]
    if len(lines) < len(bad):
        # only a serial read numbers the skipped lines: pay for it on broken files only
        data, bad = _parse_csv(path, header, threads=False)
        lines = [(number - 1, text) for number, text in bad if number is not None]
    keep = np.ones(data.num_rows + len(bad) + 1, dtype=bool)
    keep[0] = False
    keep[[row for row, _ in lines]] = False
    rows = np.flatnonzero(keep)
    _check_quotes_closed(path, data, rows, lines, len(header))
    return RawTable(name, path, [c.strip() for c in header], _conform(name, data), rows, tuple(lines))


def _check_quotes_closed(path: Path, data: pa.Table, rows: np.ndarray,
                         lines: list[tuple[int, str]], n_columns: int) -> None:
    """Refuse a file whose last quote is never closed: the reader then takes the rest of
    the file as one field, and every row after it would vanish without a reject.

    Such a field is always the file's last record. Either a bad line (the quote opened
    before the last column) with an odd number of quotes across line breaks, or the last
    column of the last row holding a line break while the file does not end with the
    closing quote that a quoted multi-line value needs.
    """
    if lines and (not len(rows) or lines[-1][0] > rows[-1]):
        row, text = lines[-1]
        unclosed = "\n" in text and text.count('"') % 2 == 1
    elif len(rows) and data.num_columns == n_columns:
        row, text = int(rows[-1]), data.column(n_columns - 1)[-1].as_py() or ""
        with open(path, "rb") as fh:
            fh.seek(max(0, path.stat().st_size - 4096))
            unclosed = "\n" in text and not fh.read().rstrip(b"\r\n").endswith(b'"')
    else:
        return
    if unclosed:
        raise Unreadable(
            f"{path.name}: a quote opened on row {row} is never closed, so the rest of the "
            f"file ({len(text.splitlines()) - 1} lines) reads as one field. Fix the quoting in the export."
        )


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
            raise Unreadable(_utf8_problem(path)) from e
        raise Unreadable(f"{path.name} cannot be read as CSV: {e}. Check its quoting.") from e
    except OSError as e:
        raise Unreadable(f"cannot read {path.name}: {e}") from e
    return data, bad


def csv_header(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            return next(csv.reader(fh))
    except StopIteration as e:
        raise Unreadable(f"{path.name} is empty: it needs a header row.") from e
    except UnicodeDecodeError as e:
        raise Unreadable(_utf8_problem(path)) from e
    except (OSError, csv.Error) as e:
        raise Unreadable(f"cannot read the header of {path.name}: {e}") from e


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


def column_problems(name: str, file: str, columns: list[str]) -> list[str]:
    names = [c.strip() for c in columns]
    found = ", ".join(names)
    problems = [f"{file} has column '{c}' more than once (found: {found}). Keep one in the export."
                for c in sorted({c for c in names if names.count(c) > 1})]
    hint = ""
    if len(names) == 1 and (";" in names[0] or "\t" in names[0] or "|" in names[0]):
        hint = " It looks like another separator was used: export it comma-separated."
    required, _ = s.INPUT_TABLES[name]
    for column in required:
        if column in names:
            continue
        # a column that differs only in case or spacing is surely the one meant
        near = [n for n in names if n.lower().replace(" ", "_") == column]
        todo = f"Rename '{near[0]}' to '{column}'" if near else "Rename it"
        problems.append(f"{file} has no column '{column}' (found: {found}). {todo} in the export."
                        f"{hint}")
    return problems


def empty_table(name: str) -> RawTable:
    _, columns = s.INPUT_TABLES[name]
    data = pa.table({c: pa.array([], type=pa.string()) for c in columns})
    return RawTable(name, None, list(columns), data, np.arange(1, 1), ())


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


def sha256(path: Path) -> str:
    """The file's digest; of a directory of parts, the digest of its files' bytes in name order."""
    digest = hashlib.sha256()
    for part in table_files(path):
        with open(part, "rb") as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def table_files(path: Path) -> list[Path]:
    """The file itself, or a directory's data files in name order (hidden and ``_`` files
    such as ``_SUCCESS`` left out, as Parquet readers do)."""
    if not path.is_dir():
        return [path]
    return sorted(p for p in path.rglob("*")
                  if p.is_file() and not any(part.startswith((".", "_"))
                                             for part in p.relative_to(path).parts))


def table_size(path: Path) -> int:
    """Bytes of the file, or of a directory's data files."""
    return sum(p.stat().st_size for p in table_files(path))


def digest_result(future: Future[str]) -> str:
    try:
        return future.result()
    except OSError as e:
        raise InputError(f"cannot read {e.filename}: {e.strerror}") from e
