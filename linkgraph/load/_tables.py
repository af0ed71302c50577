"""The load stage: every table read, checked and typed; the summary; the reject limit."""

from __future__ import annotations

import dataclasses
import logging
import math
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from linkgraph import schemas as s
from linkgraph.errors import InputError, RejectLimitError
from linkgraph.load._check import KEPT
from linkgraph.load._jobs import Jobs
from linkgraph.load._pieces import (
    FinishedTable,
    IpCheck,
    ReadTable,
    account_codes,
    check_ips,
    finish_table,
    read_table,
    sign_in_devices,
)
from linkgraph.load._read import (
    Unreadable,
    column_problems,
    digest_result,
    find_files,
    sha256,
    table_size,
)
from linkgraph.memory import release_freed_memory

if TYPE_CHECKING:
    from linkgraph.normalize.grouping import KindRows

logger = logging.getLogger(__name__)

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


class LoadedCodes:
    """What the load hashed that the normalize stage would hash again, handed over once.

    ``accounts``: for each table but the accounts, each row's position in
    ``Tables.accounts`` (sorted, one row per account id), int32. ``columns``: by
    ``"table.column"``, the columns the load coded (the IPs of ``accounts`` and
    ``logins``, the sign-ins' ``device_id`` when reduced) as codes (int32, equal
    values equal codes, -1 missing; the codes need not be dense).
    Both describe the frames' rows as loaded: a frame whose rows were dropped or
    reordered since is no longer described (its length is checked, not its values).
    :meth:`take` empties the holder, so that the arrays go with their one reader.

    >>> codes = LoadedCodes({"logins": np.array([0, 0], dtype=np.int32)})
    >>> codes.accounts_of("logins").tolist(), codes.accounts_of("orders")
    ([0, 0], None)
    >>> accounts, columns = codes.take()
    >>> accounts["logins"].tolist(), columns, codes.take()
    ([0, 0], {}, ({}, {}))
    """

    def __init__(self, accounts: dict[str, np.ndarray] | None = None,
                 columns: dict[str, np.ndarray] | None = None) -> None:
        self._accounts = accounts or {}
        self._columns = columns or {}

    def accounts_of(self, table: str) -> np.ndarray | None:
        """``table``'s rows as positions in ``Tables.accounts`` (``None`` when not coded),
        without emptying the holder."""
        return self._accounts.get(table)

    def take(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """The account positions by table and the coded columns; empty once taken."""
        taken = self._accounts, self._columns
        self._accounts, self._columns = {}, {}
        return taken


@dataclass(frozen=True)
class Tables:
    """The input tables, typed, with every contract column present.

    Optional tables that were not supplied are empty frames with the contract
    columns. ``accounts`` is sorted by account_id (unique), the other tables
    keep file order. ``rejects`` has the columns ``schemas.REJECT_COLUMNS``,
    in table order then by row: one row per dropped row (its first failed
    check) plus one per value ignored on a kept account (reason ending in
    "(value ignored, row kept)"); count dropped rows with ``sources``.
    ``codes``: the load's codes of the rows, for the normalize stage (:class:`LoadedCodes`).
    ``order_facts``: when an engine reduced the orders where they were read
    (``Engine.load_tables(..., orders=...)``), what the graph and score stages
    read of them, one row per account with orders
    (:func:`linkgraph.score.order_summary`'s columns); ``orders`` is then empty
    (its columns, no rows). None: the stages read ``orders``.
    ``identifier_rows``: when an engine grouped the identifiers where it read the
    tables (``Engine.load_tables(..., identifiers=...)``), every kind's rows as
    ``linkgraph.normalize.grouping.group_kind`` groups them (a ``KindRows`` per kind
    with rows, sorted by kind), which the normalize stage judges and assembles;
    ``logins``, ``addresses`` and ``payments`` are then empty. None: the stage reads
    the tables.
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
    codes: LoadedCodes = field(default_factory=LoadedCodes, compare=False, repr=False)
    order_facts: pd.DataFrame | None = field(default=None, compare=False, repr=False)
    identifier_rows: tuple[KindRows, ...] | None = field(default=None, compare=False,
                                                         repr=False)


def load_tables(data_dir: str | Path, *, max_reject_rate: float = 0.05,
                sign_ins: Literal["all", "first_last"] = "all") -> Tables:
    """Read and validate every input table of ``data_dir``.

    Ids, phones and postal codes stay strings (leading zeros kept, ids
    stripped of surrounding whitespace); timestamps become UTC
    ``datetime64[ns, UTC]`` (no offset = UTC); ``amount``/``discount``
    ``float64``; ``action``/``decision`` lower case. Extra columns are kept.
    An empty field is a missing value; so are an export's words for nothing
    (``NULL``, ``NaN``, ``N/A``, ``\\N``...) in time, number and IP columns.

    Rows are checked, first failure wins: empty ids, unparseable times, IPs
    or numbers, negative amounts, unknown actions/decisions, unknown accounts,
    duplicate account/order ids (the first kept). In ``accounts`` a bad
    ``created_at`` or ``registration_ip`` only blanks that value (a reject
    row records it; it does not count toward the limit). Each table is read,
    parsed and checked a piece at a time (a Parquet row group, a million CSV
    rows), so that the load never holds a table both as found and as typed.

    Args:
        data_dir: directory holding ``accounts.csv`` or ``accounts.parquet``
            and the optional tables.
        max_reject_rate: the largest share of a table's rows that may be
            dropped before the load fails.
        sign_ins: ``"all"`` keeps every accepted sign-in; ``"first_last"`` keeps,
            of each (account, IP, device) of ``logins``, only its first and last
            (the earliest and the latest ``seen_at``, the earlier row on a tie; a
            sign-in without a time only when its place has none with one): all the
            normalize stage reads of them. Row counts in ``sources`` stay the whole
            table's.

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
    >>> _ = (data / "logins.csv").write_text("account_id,ip,seen_at\\n007,10.0.0.1,2026-01-02\\n"
    ...     "007,10.0.0.1,2026-01-01\\n007,10.0.0.1,2026-01-03\\n")
    >>> logins = load_tables(data, max_reject_rate=0.5, sign_ins="first_last").logins
    >>> logins["seen_at"].dt.day.tolist()
    [1, 3]
    """
    paths, problems = find_files(Path(data_dir))
    first_and_last = sign_ins == "first_last"
    found: dict[str, list[str]] = {}  # each table's contract problems, listed in table order
    finished: dict[str, FinishedTable] = {}
    n_known = 0  # the accounts' distinct ids
    # Two workers read, parse and judge the tables (arrow's readers and kernels
    # release the GIL), then finish them (the frames are not made among this
    # thread's long-lived allocations), the most urgent job first (_jobs): the
    # accounts (every other table waits for their ids), then the sign-ins (the largest
    # table, the longest chain of work: their IPs, devices and accounts coded by both
    # workers at once, then their finish, which shrinks them), then the rest, largest
    # first; the accounts are finished before the rest's ids are hashed (the sorted copy
    # of the accounts not beside the rest's finish: +0.1 GB at 1M), the rest once the
    # sign-ins are (its frames are made after: not beside the sign-ins' pieces), and the
    # files hashed last.
    with ThreadPoolExecutor(max_workers=2) as pool:
        jobs = Jobs(pool)
        rest = sorted((name for name in paths if name not in ("accounts", "logins")),
                      key=lambda name: -table_size(paths[name]))
        reads: dict[str, Future[ReadTable]] = {}
        for name in ["accounts", "logins", *rest]:
            if name in paths:
                reads[name] = jobs.submit(
                    _READ_ACCOUNTS if name == "accounts" else _READ_SIGN_INS if name == "logins"
                    else _READ, partial(read_table, ips=name != "logins"), name, paths[name])
        accounts = reads.get("accounts")
        outputs: dict[Future[Any], tuple[bool, str]] = {  # (a read?, table) of what is waited on
            future: (True, name) for name, future in reads.items()}
        if accounts is not None:
            outputs[jobs.after([accounts], _CODE_OTHERS, _finish_accounts, accounts)] = (
                False, "accounts")
        logins_done: list[Future[Any]] = []
        if "logins" in reads:
            logins = reads["logins"]
            needs = [logins] if accounts is None else [logins, accounts]
            ips = jobs.after([logins], _CODE_SIGN_INS, _sign_in_ips, logins)
            codes = jobs.after(needs, _CODE_SIGN_INS, _sign_in_accounts, accounts, logins)
            devices = (jobs.after([logins], _CODE_SIGN_INS, _sign_in_devices, logins)
                       if first_and_last else None)
            logins_done = [jobs.after([*needs, ips, codes, *([devices] if devices else [])],
                                      _FINISH_SIGN_INS, _finish_sign_ins, accounts, logins, ips,
                                      codes, devices, first_and_last)]
            outputs[logins_done[0]] = (False, "logins")
            del logins, ips, codes, devices
        # the rest's ids hashed with the accounts' ids once read: the largest table's
        # alone, the others' together (two jobs, for the two workers), each table's once
        read_all = [*[reads[name] for name in rest], *([accounts] if accounts is not None else [])]
        groups = [rest[:1], rest[1:]]
        for i, names in enumerate(groups):
            tables = [reads[name] for name in names]
            absent = ([read_table(name, None) for name in s.TABLE_NAMES if name not in paths]
                      if i == len(groups) - 1 else [])
            if not tables and not absent:
                continue
            coded = jobs.after([*tables, *([accounts] if accounts is not None else [])],
                               _CODE_OTHERS, _others_codes, accounts, tables, absent)
            outputs[jobs.after([coded, *logins_done], _FINISH, _finish_others, accounts, coded,
                               first_and_last)] = (False, "others")
            del tables, absent, coded
        digests = {name: jobs.after(read_all, _DIGEST, sha256, path) for name, path in paths.items()}
        del reads, accounts, read_all, logins_done
        while outputs:
            done, _ = wait(outputs, return_when=FIRST_COMPLETED)
            for future in done:
                is_read, name = outputs.pop(future)
                try:
                    result = future.result()
                except Unreadable as e:
                    # a table not read is not finished either (its jobs failed as its read)
                    if is_read:
                        found[name] = [str(e)]
                    continue
                finally:
                    del future  # its result (the pieces) must not outlive the table
                if is_read:
                    found[name] = column_problems(name, paths[name].name, result.header)
                    if name == "accounts":
                        n_known = len(result.ids)
                else:
                    finished.update(result)
                del result
            del done
        problems += [problem for name in s.TABLE_NAMES for problem in found.get(name, [])]
        if problems:
            raise InputError("\n".join(problems))
        sha = {name: digest_result(future) for name, future in digests.items()}

    sources: list[SourceFile] = []
    for name in s.TABLE_NAMES:
        result = finished[name]
        if name not in paths:
            continue
        path = paths[name]
        rows_read = result.accepted + result.dropped
        sources.append(SourceFile(
            table=name, path=str(path), size=table_size(path), sha256=sha[name],
            rows_read=rows_read, rows_accepted=result.accepted, rows_rejected=result.dropped,
            values_ignored=len(result.rejects) - result.dropped,
        ))
        logger.info("%s: %d rows read, %d accepted, %d rejected", path.name,
                    rows_read, result.accepted, result.dropped)
    rejects = _sorted_rejects([finished[name].rejects for name in s.TABLE_NAMES])
    _check_reject_rates(sources, rejects, max_reject_rate)
    return Tables(**{name: finished[name].frame for name in s.TABLE_NAMES}, rejects=rejects,
                  sources=tuple(sources), codes=_loaded_codes(finished, n_known))


def _loaded_codes(finished: dict[str, FinishedTable], n_known: int) -> LoadedCodes:
    """The tables' account codes as positions in the sorted accounts, and the coded columns.

    ``n_known``: how many distinct ids the accounts' codes index.
    """
    accounts = finished["accounts"].known
    columns = {f"{name}.{column}": coded for name in ("accounts", "logins")
               for column, coded in finished[name].coded.items()}
    if accounts is None or len(accounts) != n_known:  # not one row per id: no positions
        return LoadedCodes(columns=columns)
    # the accounts are one row per distinct id, sorted: an id's code -> its row
    row_of = np.zeros(len(accounts), dtype=np.int32)
    row_of[accounts] = np.arange(len(accounts), dtype=np.int32)
    return LoadedCodes({name: row_of[table.known] for name, table in finished.items()
                        if name not in ("accounts", "sanctions", "decisions")
                        and table.known is not None}, columns)


# the jobs' priorities (_jobs.Jobs: lower first)
_READ_ACCOUNTS, _READ_SIGN_INS, _CODE_SIGN_INS, _FINISH_SIGN_INS, _READ, _CODE_OTHERS, \
    _FINISH, _DIGEST = range(8)


def _known_ids(accounts: Future[ReadTable] | None) -> pa.Array:
    """The accounts' distinct ids (none when the accounts were not read)."""
    try:
        ids = accounts.result().ids if accounts is not None else None
    except Unreadable:  # nothing to judge the other tables against
        ids = None
    return pa.array([], type=pa.string()) if ids is None else ids


def _sign_in_ips(logins: Future[ReadTable]) -> IpCheck | None:
    return check_ips(logins.result())


def _sign_in_devices(logins: Future[ReadTable]) -> np.ndarray:
    return sign_in_devices(logins.result())


def _sign_in_accounts(accounts: Future[ReadTable] | None, logins: Future[ReadTable]
                      ) -> np.ndarray:
    return account_codes(_known_ids(accounts), [logins.result()])[0]


def _finish_sign_ins(accounts: Future[ReadTable] | None, logins: Future[ReadTable],
                     ips: Future[IpCheck | None], codes: Future[np.ndarray],
                     devices: Future[np.ndarray] | None, first_and_last: bool
                     ) -> dict[str, FinishedTable]:
    """The sign-ins finished, their columns coded by the jobs before (:func:`load_tables`)."""
    read = dataclasses.replace(logins.result(), ip=ips.result())
    table = finish_table(read, codes=codes.result(), n_known=len(_known_ids(accounts)),
                         first_and_last=first_and_last,
                         devices=None if devices is None else devices.result())
    del read
    release_freed_memory()
    return {"logins": table.codes_kept()}


def _finish_accounts(accounts: Future[ReadTable]) -> dict[str, FinishedTable]:
    # the codes of the frame's rows taken once the frame is made: not beside it
    finished = {"accounts": finish_table(accounts.result()).codes_kept()}
    release_freed_memory()
    return finished


def _others_codes(accounts: Future[ReadTable] | None, others: list[Future[ReadTable]],
                  absent: list[ReadTable]) -> tuple[list[ReadTable], list[np.ndarray]]:
    """The tables but the accounts and sign-ins that were read (and the empty tables of
    those not given), and their account codes: their ids hashed with the accounts' once."""
    reads = list(absent)
    for other in others:
        try:
            reads.append(other.result())
        except Unreadable:  # reported with the read
            continue
    return reads, account_codes(_known_ids(accounts), reads)


def _finish_others(accounts: Future[ReadTable] | None,
                   coded: Future[tuple[list[ReadTable], list[np.ndarray]]], first_and_last: bool
                   ) -> dict[str, FinishedTable]:
    """Finish the tables of ``coded`` (:func:`_others_codes`); each table's pieces go as
    it is finished."""
    reads, codes = coded.result()
    n_known = len(_known_ids(accounts))
    finished = {}
    for table_codes in codes:
        read = reads.pop(0)
        finished[read.name] = finish_table(read, codes=table_codes, n_known=n_known,
                                           first_and_last=first_and_last)
        del read, table_codes
        release_freed_memory()
    # the codes of the frames' rows taken once every table is finished and its pieces
    # gone (not beside them), each table's whole-table codes let go before the next
    for name in list(finished):
        finished[name] = finished.pop(name).codes_kept()
    return finished


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


def _sorted_rejects(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One frame of ``schemas.REJECT_COLUMNS`` (text columns ``str``), in table order, by row."""
    rejects = pd.concat(parts, ignore_index=True).astype({s.ROW: "int64"})
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
        mine = rejects[(rejects[s.TABLE] == source.table) & ~rejects[s.REASON].str.endswith(KEPT)]
        lines.append(
            f"{Path(source.path).name} rejected {source.rows_rejected} of {source.rows_read} rows "
            f"({source.rows_rejected / source.rows_read:.1%}), over the limit of {limit:.1%}; "
            f"top reasons: {_top_reasons(mine.groupby(s.REASON).size())}."
        )
    if lines:
        suggestion = min(1.0, math.ceil(max(src.rows_rejected / src.rows_read for src in sources
                                            if src.rows_read) * 100 + 1) / 100)
        raise RejectLimitError(
            "\n".join(lines) + "\nFix the export, or raise the limit: max_reject_rate in the "
            f"config file (e.g. max_reject_rate = {suggestion:g}).",
            rows=rejects,
        )
