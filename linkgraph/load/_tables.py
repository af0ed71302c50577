"""The load stage: every table read, checked and typed; the summary; the reject limit."""

from __future__ import annotations

import logging
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.errors import InputError, RejectLimitError
from linkgraph.load._check import (
    KEPT,
    ParsedTable,
    account_codes,
    judge_table,
    parse_table,
    read_and_parse,
)
from linkgraph.load._read import (
    Unreadable,
    column_problems,
    digest_result,
    empty_table,
    find_files,
    sha256,
    table_size,
)

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


@dataclass(frozen=True)
class Tables:
    """The input tables, typed, with every contract column present.

    Optional tables that were not supplied are empty frames with the contract
    columns. ``accounts`` is sorted by account_id (unique), the other tables
    keep file order. ``rejects`` has the columns ``schemas.REJECT_COLUMNS``,
    in table order then by row: one row per dropped row (its first failed
    check) plus one per value ignored on a kept account (reason ending in
    "(value ignored, row kept)"); count dropped rows with ``sources``.
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


def load_tables(data_dir: str | Path, *, max_reject_rate: float = 0.05) -> Tables:
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
    row records it; it does not count toward the limit).

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
    paths, problems = find_files(Path(data_dir))
    # Two workers: arrow's readers and kernels release the GIL, so tables are
    # read and parsed side by side while the files are hashed.
    with ThreadPoolExecutor(max_workers=2) as pool:
        # the largest files first, so that no thread is left with the logins at the end
        largest_first = sorted(paths.items(), key=lambda item: -table_size(item[1]))
        reads = {name: pool.submit(read_and_parse, name, path) for name, path in largest_first}
        digests = {name: pool.submit(sha256, path) for name, path in paths.items()}
        parsed: dict[str, ParsedTable] = {}
        for name in s.TABLE_NAMES:
            if name not in reads:
                parsed[name] = parse_table(empty_table(name))
                continue
            try:
                parsed[name] = reads[name].result()
            except Unreadable as e:
                problems.append(str(e))
                continue
            problems.extend(column_problems(name, paths[name].name, parsed[name].raw.header))
        if problems:
            raise InputError("\n".join(problems))

        codes, n_ids = account_codes(parsed)
        checked = {"accounts": judge_table(parsed["accounts"], codes["accounts"], None)}
        known = np.zeros(n_ids + 1, dtype=bool)  # the last slot stands for "no id" (code -1)
        known[codes["accounts"][checked["accounts"][2]]] = True
        others = s.TABLE_NAMES[1:]
        for name, result in zip(others, pool.map(
                lambda n: judge_table(parsed[n], codes[n], known), others)):
            checked[name] = result
        sha = {name: digest_result(future) for name, future in digests.items()}

    frames: dict[str, pd.DataFrame] = {}
    sources: list[SourceFile] = []
    for name in s.TABLE_NAMES:
        raw, (frame, rejects, keep) = parsed[name].raw, checked[name]
        dropped = int(len(keep) - keep.sum()) + len(raw.bad_lines)
        frames[name] = frame
        if raw.path is None:
            continue
        sources.append(SourceFile(
            table=name, path=str(raw.path), size=table_size(raw.path), sha256=sha[name],
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
