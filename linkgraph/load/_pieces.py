"""A table read and judged a piece at a time, then finished by the checks over its rows.

:func:`read_table` (the unit of work of the load's threads) reads, parses and
judges each piece by the row checks (:func:`judge_piece`), then runs what needs
the whole table once over the judged pieces: its account ids and order ids
encoded, its IPs checked (each distinct value judged once). :func:`finish_table`
adds the checks that need other rows (unknown account, duplicate ids), keeps of
the sign-ins only each place's first and last when asked, and returns the frame.
No step holds a table as found and as typed at once.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph import schemas as s
from linkgraph.codes import dictionary_codes
from linkgraph.load._buckets import bucketed_codes
from linkgraph.load._check import (
    KEPT,
    _duplicated,
    judge_rows,
    parse_ips,
    parse_rows,
)
from linkgraph.load._read import RawTable, empty_table, read_pieces
from linkgraph.load._signins import first_and_last_sign_ins
from linkgraph.memory import release_freed_memory

#: rejected rows of one check: (row numbers, column, reason, values as found)
RejectPart = tuple[np.ndarray, "str | None", str, np.ndarray]


@dataclass(frozen=True)
class JudgedPiece:
    """A piece after the row checks: the rows that pass them, typed, and their rejects.

    The kept rows' numbers in the file are ``rows``, or ``first_row`` onwards when
    they follow one another (``rows`` None: no array for the usual piece).
    """

    kept: pa.Table
    first_row: int
    rows: np.ndarray | None
    raw_ids: pa.ChunkedArray | None  # account_id as found, of the kept rows, when trimmed
    raw_orders: pa.ChunkedArray | None  # order_id as found, of the kept rows, when trimmed
    rejects: tuple[RejectPart, ...]
    ignored: tuple[RejectPart, ...]  # accounts: values ignored on the kept rows
    n_dropped: int  # rows the row checks dropped, bad lines included

    def row_numbers(self, mask: np.ndarray) -> np.ndarray:
        """The file row numbers of the kept rows ``mask`` picks."""
        if self.rows is None:
            return np.flatnonzero(mask).astype(np.int64) + self.first_row
        return self.rows[mask].astype(np.int64)

    def found(self, column: str, mask: np.ndarray) -> np.ndarray:
        """The values as found in ``column`` of the kept rows ``mask`` picks."""
        raw = {s.ACCOUNT_ID: self.raw_ids, s.ORDER_ID: self.raw_orders}.get(column)
        values = (raw if raw is not None else self.kept.column(column)).filter(pa.array(mask))
        if values.type != pa.string():
            values = values.cast(pa.string())
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=object)


def judge_piece(raw: RawTable) -> JudgedPiece:
    """Parse one piece and apply the row checks but the IP check (see :func:`read_table`)."""
    parsed = parse_rows(raw, ips=False)
    kept, keep, parts, ignored = judge_rows(parsed)
    everything = bool(keep.all())
    rows = raw.rows if everything else raw.rows[keep]
    consecutive = not len(rows) or int(rows[-1]) - int(rows[0]) == len(rows) - 1

    def as_found(column: str) -> pa.ChunkedArray | None:
        if column not in parsed.trimmed:
            return None
        found = raw.data.column(column)
        return found if everything else found.filter(pa.array(keep))

    return JudgedPiece(
        kept=kept, first_row=int(rows[0]) if len(rows) else 0,
        rows=None if consecutive else rows.astype(np.int64),
        raw_ids=as_found(s.ACCOUNT_ID), raw_orders=as_found(s.ORDER_ID),
        rejects=tuple(parts), ignored=tuple(ignored),
        n_dropped=int(len(keep) - keep.sum()) + len(raw.bad_lines))


@dataclass(frozen=True)
class IpCheck:
    """The IP column of a table judged over all its pieces (:func:`parse_ips`)."""

    column: str
    typed: pa.ChunkedArray | None  # the trimmed IPs, None when every value stays as found
    bad: np.ndarray  # values that are not an IP
    codes: np.ndarray  # each row's code of its trimmed IP (-1: none)


@dataclass(frozen=True)
class ReadTable:
    """A table read and judged by its row checks, piece by piece, with its codes.

    Accounts only: ``codes`` (int32) index ``ids``, the distinct account ids, for
    each kept row of the pieces in order (the other tables' ids are encoded against
    them: :func:`account_codes`). Orders only: ``order_codes`` likewise.
    """

    name: str
    path: Path | None
    header: list[str]
    pieces: list[JudgedPiece]
    ids: pa.Array | None
    codes: np.ndarray | None
    ip: IpCheck | None
    order_codes: np.ndarray | None


def read_table(name: str, path: Path | None, *, ips: bool = True) -> ReadTable:
    """Read (``path`` None: the empty table), parse and judge table ``name`` piece by piece.

    The IPs are judged over the whole table after the pieces: a login table
    repeats each IP many times in every piece, and the codes they get serve the
    sign-ins' first and last. It is the last row check of the tables with an IP
    column, so a row fails the same check first. With ``ips=False`` they are left
    to the caller (``ip`` None: :func:`check_ips`, on another thread).
    """
    pieces = []
    header: list[str] = []
    for raw in read_pieces(name, path) if path is not None else iter([empty_table(name)]):
        header = raw.header
        pieces.append(judge_piece(raw))
        del raw
        release_freed_memory()
    ids, codes = dictionary_codes(_column(pieces, s.ACCOUNT_ID)) if name == "accounts" else (None, None)
    read = ReadTable(name, path, header, pieces, ids, codes, None, None)
    ip = check_ips(read) if ips else None
    # order ids are mostly distinct: one hash table of them all would take gigabytes
    order_codes = bucketed_codes(_column(pieces, s.ORDER_ID)) if name == "orders" else None
    return dataclasses.replace(read, ip=ip, order_codes=order_codes)


def check_ips(read: ReadTable) -> IpCheck | None:
    """The IP column of ``read`` judged over all its pieces (None: the table has none)."""
    ip = None
    for column in (s.IP, s.REGISTRATION_IP):
        if column in s.INPUT_TABLES[read.name][1]:
            found = _column(read.pieces, column)
            typed, bad, ip_codes = parse_ips(found)
            ip = IpCheck(column, None if typed is found else typed, bad, ip_codes)
    return ip


def sign_in_devices(read: ReadTable) -> np.ndarray:
    """The sign-ins' devices as codes (int32, -1 missing), for :func:`finish_table`."""
    return dictionary_codes(_column(read.pieces, s.DEVICE_ID))[1]


@dataclass(frozen=True)
class FinishedTable:
    """A table after every check: the frame, its rejects, the counts of the whole table.

    What the load hashed, for the normalize stage (``Tables.codes``), of the rows
    ``kept`` picks (all when None), in the ``order`` of the frame's rows (as they are
    when None): ``known``, each row's index into the accounts' distinct ids (the
    ``known`` of :func:`account_codes`; for the accounts, their ``ReadTable.ids``),
    int32; ``coded``, columns of the frame as codes (int32, equal values equal codes,
    -1 missing): the IPs, and the sign-ins' devices when reduced. :meth:`codes_kept`
    takes the frame's rows out of them, once the frame is made (not beside it).
    """

    frame: pd.DataFrame
    rejects: pd.DataFrame
    accepted: int  # rows accepted (before any sign-in reduction)
    dropped: int  # rows rejected, bad lines included
    known: np.ndarray | None = None
    coded: dict[str, np.ndarray] = field(default_factory=dict)
    kept: np.ndarray | None = None
    order: np.ndarray | None = None

    def codes_kept(self) -> FinishedTable:
        """This table with ``known`` and ``coded`` of the frame's rows alone, in its order.

        Empties ``coded``: each whole-table array goes before the next is copied.
        """
        def rows(codes: np.ndarray) -> np.ndarray:
            codes = codes if self.kept is None else codes[self.kept]
            return codes if self.order is None else codes[self.order]

        coded = {}
        for column in list(self.coded):
            coded[column] = rows(self.coded.pop(column))
        return dataclasses.replace(self, known=None if self.known is None else rows(self.known),
                                   coded=coded, kept=None, order=None)


def account_codes(known: pa.Array, reads: list[ReadTable]) -> list[np.ndarray]:
    """Each table's account codes (int32): the index of the id in ``known`` (the
    accounts' distinct ids) when it is there, else ``len(known)`` or more.

    One hashing of the known ids and of every row of the tables, together.
    """
    encoded = dictionary_codes(pa.chunked_array(
        [known, *(chunk for read in reads for chunk in _column(read.pieces, s.ACCOUNT_ID).chunks)],
        type=known.type))[1]
    bounds = np.cumsum([len(known)] + [sum(piece.kept.num_rows for piece in read.pieces)
                                       for read in reads])
    return [encoded[start:stop] for start, stop in itertools.pairwise(bounds)]


def finish_table(read: ReadTable, *, codes: np.ndarray | None = None, n_known: int = 0,
                 first_and_last: bool = False, devices: np.ndarray | None = None
                 ) -> FinishedTable:
    """The checks over ``read``'s rows in the load's order, and the frame of the rows kept.

    ``codes`` are the rows' account codes (:func:`account_codes`), those under
    ``n_known`` the accounts' ids; None for the accounts themselves. After the row
    checks: bad IP address (sign-ins), unknown account_id, duplicate account_id
    (accounts) or order_id (orders) among the rows still
    kept, the first kept. Values ignored on an account are reported only on rows
    that stay. With ``first_and_last`` (sign-ins), the frame keeps only each
    (account, IP, device)'s first and last sign-in (:func:`first_and_last_sign_ins`), the
    devices coded by :func:`sign_in_devices` (``devices``, when given, are those codes).
    Accounts come sorted by account_id.
    """
    name, pieces = read.name, read.pieces
    bounds = np.cumsum([0] + [piece.kept.num_rows for piece in pieces])
    dropped = np.zeros(int(bounds[-1]), dtype=bool)
    parts: list[RejectPart] = [part for piece in pieces for part in piece.rejects]

    def reject(bad: np.ndarray, column: str, reason: str, *, keep_row: bool = False) -> None:
        new = bad & ~dropped
        if not new.any():
            return
        for piece, start, stop in zip(pieces, bounds[:-1], bounds[1:], strict=True):
            mine = new[start:stop]
            if mine.any():
                parts.append((piece.row_numbers(mine), column, reason, piece.found(column, mine)))
        if not keep_row:
            np.logical_or(dropped, new, out=dropped)

    ip = read.ip
    if ip is not None and name != "accounts":
        reject(ip.bad, ip.column, "bad IP address")
    if codes is None:
        assert read.codes is not None
        codes = read.codes
        reject(_duplicated(codes, ~dropped), s.ACCOUNT_ID, "duplicate account_id")
    else:
        reject(codes >= n_known, s.ACCOUNT_ID, "unknown account_id")
    if read.order_codes is not None:
        reject(_duplicated(read.order_codes, ~dropped), s.ORDER_ID, "duplicate order_id")
    for piece, start, stop in zip(pieces, bounds[:-1], bounds[1:], strict=True):
        gone = piece.row_numbers(dropped[start:stop])
        parts.extend(part if not len(gone) else _without(part, gone) for part in piece.ignored)
    if ip is not None and name == "accounts":
        reject(ip.bad, ip.column, "bad IP address" + KEPT, keep_row=True)

    keep = ~dropped
    accepted = int(keep.sum())
    coded: dict[str, np.ndarray] = {}
    if ip is not None:
        coded[ip.column] = ip.codes
    if first_and_last and name == "logins" and accepted:
        coded[s.DEVICE_ID] = _keep_first_and_last(
            read, codes, keep, sign_in_devices(read) if devices is None else devices)
    n_dropped = sum(piece.n_dropped for piece in pieces) + int(dropped.sum())
    tables = []
    for i, (start, stop) in enumerate(itertools.pairwise(bounds)):
        table, pieces[i] = pieces[i].kept, _GONE  # each piece goes once it is taken
        if ip is not None and ip.typed is not None:
            at = table.column_names.index(ip.column)
            table = table.set_column(at, ip.column, ip.typed.slice(start, stop - start))
        mine = keep[start:stop]
        tables.append(table if mine.all() else table.filter(pa.array(mine)))
        del table
        # the piece's memory back before the next piece's copy: freed by this thread, it
        # was allocated by the one that read it (another arena, not reused here)
        release_freed_memory()
    table = pa.concat_tables(tables)
    del tables
    sorted_by: np.ndarray | None = None
    if name == "accounts":
        order = np.asarray(pc.sort_indices(table.column(s.ACCOUNT_ID)), dtype=np.int64)
        if (np.diff(order) < 0).any():  # not already in order
            table = table.take(pa.array(order))
            sorted_by = order
    return FinishedTable(table.to_pandas(), reject_frame(name, parts), accepted, n_dropped,
                         known=codes, coded=coded, kept=None if keep.all() else keep,
                         order=sorted_by)


_GONE = JudgedPiece(pa.table({}), 0, None, None, None, (), (), 0)


def _keep_first_and_last(read: ReadTable, account: np.ndarray, keep: np.ndarray,
                         devices: np.ndarray) -> np.ndarray:
    """Of the sign-ins ``keep`` holds, leave only each (account, IP, device)'s first and last.

    ``devices``: the devices as codes of every row (-1 missing); returned.
    """
    assert read.ip is not None
    alive = None if keep.all() else np.flatnonzero(keep)

    def rows(values: np.ndarray) -> np.ndarray:
        return values if alive is None else values[alive]

    seen = _column(read.pieces, s.SEEN_AT).cast(pa.int64())
    times = np.asarray(pc.fill_null(seen, np.iinfo(np.int64).min).to_numpy(), dtype=np.int64)
    chosen = first_and_last_sign_ins(rows(account), rows(read.ip.codes), rows(devices),
                                     rows(times))
    if alive is None:
        keep &= chosen
    else:
        keep[alive[~chosen]] = False
    return devices


def reject_frame(name: str, parts: list[RejectPart]) -> pd.DataFrame:
    """The rejects of table ``name`` as a frame of ``schemas.REJECT_COLUMNS``."""
    sizes = [len(rows) for rows, *_ in parts]
    return pd.DataFrame({
        s.TABLE: np.full(sum(sizes), name, dtype=object),
        s.ROW: np.concatenate([rows for rows, *_ in parts]) if parts else np.zeros(0, np.int64),
        s.COLUMN: np.repeat(np.array([c for _, c, _, _ in parts], dtype=object), sizes),
        s.REASON: np.repeat(np.array([r for _, _, r, _ in parts], dtype=object), sizes),
        s.VALUE: np.concatenate([v for *_, v in parts]) if parts else np.zeros(0, object),
    })


def _column(pieces: list[JudgedPiece], column: str) -> pa.ChunkedArray:
    """One column over every piece (no copy)."""
    first = pieces[0].kept.column(column)
    return pa.chunked_array([chunk for piece in pieces
                             for chunk in piece.kept.column(column).chunks], type=first.type)


def _without(part: RejectPart, rows: np.ndarray) -> RejectPart:
    keep = ~np.isin(part[0], rows)
    return part[0][keep], part[1], part[2], part[3][keep]
