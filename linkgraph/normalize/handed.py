"""Input tables handed over to the normalize stage, with the codes the load made of them.

The load hashes every table's account ids (the unknown-account check), the
accounts' and sign-ins' IPs (the bad-IP check) and the sign-ins' devices (each
place's first and last sign-in). The normalize stage needs the same codes: :class:`HandedOver` takes
them with the tables (``Tables.codes``), and :func:`given_account_codes` and
:func:`given_columns` turn them into what the stage would have hashed itself,
or say that they cannot (a frame not as loaded), and the stage hashes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from linkgraph import schemas as S
from linkgraph.codes import index_dtype, strictly_ascending
from linkgraph.load import Tables
from linkgraph.normalize.grouping import Coded, KindRows
from linkgraph.normalize.text import TEXT, arrow_text, as_text, to_text

#: the load's codes: account positions by table, coded columns by "table.column"
GivenCodes = tuple[dict[str, np.ndarray], dict[str, np.ndarray]]


class HandedOver:
    """Input tables given to ``normalize_identifiers`` for good, so that it can let
    each go as soon as it has read it (the caller keeps no other reference).

    At a million accounts the columns no later stage reads are about 1 GB
    (the logins alone 0.5 GB): handed over, they are freed while the stage
    runs instead of after it. A handover is read once. The load's codes of
    the tables (``Tables.codes``) come with them, taken from ``tables``.

    >>> from linkgraph.schemas import INPUT_TABLES
    >>> empty = {t: pd.DataFrame(columns=list(c)) for t, (_, c) in INPUT_TABLES.items()}
    >>> handed = HandedOver(Tables(**{**empty, "rejects": pd.DataFrame()}))
    >>> sorted(handed.take()), handed.take(), handed.take_codes()
    (['accounts', 'addresses', 'logins', 'orders', 'payments'], {}, ({}, {}))
    """

    def __init__(self, tables: Tables) -> None:
        self._frames = {table: getattr(tables, table) for table in
                        ("accounts", "addresses", "payments", "logins", "orders")}
        self._codes: GivenCodes = tables.codes.take()
        self._grouped = tables.identifier_rows

    def take(self) -> dict[str, pd.DataFrame]:
        """The handed-over frames by table name; empty once taken."""
        frames, self._frames = self._frames, {}
        return frames

    def take_grouped(self) -> tuple[KindRows, ...] | None:
        """The identifiers an engine grouped where it read the tables
        (``Tables.identifier_rows``), or None; None once taken."""
        grouped, self._grouped = self._grouped, None
        return grouped

    def take_codes(self) -> GivenCodes:
        """The load's codes of the frames (``LoadedCodes.take``); empty once taken."""
        codes, self._codes = self._codes, ({}, {})
        return codes


def given_account_codes(frames: dict[str, pd.DataFrame], positions: dict[str, np.ndarray]
                        ) -> tuple[dict[str, np.ndarray], pd.Series] | None:
    """Each frame's rows as codes into the sorted distinct account ids, and those ids,
    from the load's positions of the rows in the accounts; None when they do not fit.

    They fit when the accounts' ids ascend strictly with none blank (then they are
    the sorted distinct ids of every table, as the stage's own hashing finds them)
    and every other frame has a position for each row, within the accounts.

    >>> frames = {"accounts": pd.DataFrame({"account_id": ["a", "b"]}),
    ...           "logins": pd.DataFrame({"account_id": ["b", "b", "a"]})}
    >>> codes, ids = given_account_codes(frames, {"logins": np.array([1, 1, 0])})
    >>> codes["accounts"].tolist(), codes["logins"].tolist(), ids.tolist()
    ([0, 1], [1, 1, 0], ['a', 'b'])
    >>> given_account_codes(frames, {}) is None
    True
    """
    ids = arrow_text(as_text(frames["accounts"][S.ACCOUNT_ID]))
    if ids.type != pa.large_string():
        ids = ids.cast(pa.large_string())
    if ids.null_count or not strictly_ascending(ids):
        return None
    n = len(ids)
    narrow = index_dtype(n)
    codes = {}
    for table, frame in frames.items():
        if table == "accounts":
            codes[table] = np.arange(n, dtype=narrow)
            continue
        given = positions.get(table)
        if given is None or len(given) != len(frame) or (
                len(given) and (int(given.min()) < 0 or int(given.max()) >= n)):
            return None
        codes[table] = given.astype(narrow, copy=False)
    return codes, pd.Series(TEXT.__from_arrow__(pa.chunked_array([ids])))


def given_columns(frames: dict[str, pd.DataFrame], coded: dict[str, np.ndarray]
                  ) -> dict[str, Coded]:
    """The columns the load coded (by ``"table.column"``) as ``narrow_codes`` of the
    column codes them, from the load's codes: each code's first row gives its value
    and its place (distinct values in order of first appearance), no string is hashed.
    A column of a frame whose length changed since the load is left out.

    >>> logins = pd.DataFrame({"ip": ["10.0.0.2", None, "10.0.0.1", "10.0.0.2"]})
    >>> codes, distinct = given_columns({"logins": logins},
    ...                                 {"logins.ip": np.array([7, -1, 3, 7])})["logins.ip"]
    >>> codes.tolist(), distinct.tolist()
    ([0, -1, 1, 0], ['10.0.0.2', '10.0.0.1'])
    """
    given = {}
    for name, codes in coded.items():
        table, column = name.split(".", 1)
        frame = frames.get(table)
        if frame is None or column not in frame.columns or len(codes) != len(frame):
            continue
        present = np.flatnonzero(codes >= 0)
        first = np.full(int(codes.max(initial=-1)) + 1, len(codes), dtype=np.int64)
        np.minimum.at(first, codes[present], present)
        used = np.flatnonzero(first < len(codes))
        # the codes in order of their first row, as hashing the column numbers them
        used = used[np.argsort(first[used], kind="stable")]
        renumber = np.full(len(first) + 1, -1, dtype=index_dtype(len(used)))  # last: -1
        renumber[used] = np.arange(len(used))
        values = to_text(frame[column]).array.__arrow_array__().take(pa.array(first[used]))
        distinct = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
        if distinct.type != pa.large_string():
            distinct = distinct.cast(pa.large_string())
        given[name] = (renumber[codes], pd.Series(TEXT.__from_arrow__(pa.chunked_array([distinct]))))
    return given
