"""Per-account facts the coupon-abuse score is built from (one row per account).

Everything here is vectorised: orders and identifiers are mapped to integer
account positions once, then counted with ``np.bincount`` / groupby.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph import schemas as s
from linkgraph.codes import category_code_dtype, dictionary_codes, index_dtype, text_array
from linkgraph.codes import positions as code_positions
from linkgraph.config import CouponConfig
from linkgraph.engine import LOCAL, Aggregation, Engine
from linkgraph.errors import InputError
from linkgraph.graph import LinkSet
from linkgraph.graph.profiles import welcome_orders
from linkgraph.load import Tables
from linkgraph.memory import release_freed_memory

#: identifier classes the "one card, device or address behind many redeemers"
#: features count; card fingerprints and card digits are one class
CARD, DEVICE, ADDRESS, PICKUP = 0, 1, 2, 3
_CLASS_OF_KIND = {s.K_CARD: CARD, s.K_CARD_DIGITS: CARD, s.K_DEVICE: DEVICE, s.K_ADDRESS: ADDRESS}
_PICKUP = "pickup_point"

#: well-known throwaway mailbox domains, used only when the graph stage's
#: profiles carry no ``disposable_email`` column
_DISPOSABLE_DOMAINS = frozenset({
    "mailinator.com", "guerrillamail.com", "guerrillamail.net", "sharklasers.com",
    "10minutemail.com", "yopmail.com", "temp-mail.org", "tempmail.com", "trashmail.com",
    "getnada.com", "dispostable.com", "maildrop.cc", "throwawaymail.com", "fakeinbox.com",
    "mailnesia.com", "mintemail.com", "emailondeck.com", "moakt.com", "tempail.com",
})

#: kinds the score reads; weak kinds never speak for or against a person here
_SCORED_KINDS = (s.K_EMAIL, s.K_PHONE, s.K_DEVICE, s.K_CARD, s.K_CARD_DIGITS, s.K_ADDRESS)

DAY = pd.Timedelta(days=1)


def days(values: pd.Series) -> np.ndarray:
    """Timestamps as float days since the epoch (NaN where missing)."""
    stamps = pd.to_datetime(values, utc=True, errors="coerce")
    return ((stamps - pd.Timestamp(0, tz="UTC")) / DAY).to_numpy(dtype="float64", na_value=np.nan)


def positions(
    index: pd.Index, *parts: tuple[pd.Series | pd.Index, np.ndarray | None]
) -> list[np.ndarray]:
    """For each ``(values, rows)``: the position in ``index`` of ``values[rows]``
    (of every value when ``rows`` is None); -1 when absent.

    One Arrow hash lookup for all parts: building the lookup table of a
    million ids once, and Arrow's hashing of strings, are several times faster
    than ``Index.get_indexer`` per part. Non-Arrow types fall back to pandas.
    """
    if any(isinstance(values.dtype, pd.CategoricalDtype) for values, _ in parts):
        # a categorical's categories are looked up once, its rows follow their codes; a
        # whole column (the accounts' own sorted ids, often) needs no hash when it is the index
        return [_positions_of_codes(index, values, rows)
                if isinstance(values.dtype, pd.CategoricalDtype)
                else code_positions(values, index) if rows is None
                else positions(index, (values, rows))[0] for values, rows in parts]
    try:
        haystack = pa.array(index, from_pandas=True)
        needles = []
        for values, rows in parts:
            array = pa.array(values, from_pandas=True)
            if isinstance(array, pa.ChunkedArray):
                array = array.combine_chunks()
            if rows is not None:
                array = array.take(pa.array(rows, pa.int64()))
            needles.append(array.cast(haystack.type) if array.type != haystack.type else array)
        found = pc.index_in(pa.concat_arrays(needles), value_set=haystack)
        flat = found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
        return np.split(flat, np.cumsum([len(a) for a in needles])[:-1])
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return [
            index.get_indexer(values if rows is None else pd.Series(values).iloc[rows]).astype(
                np.int64)
            for values, rows in parts
        ]


def _positions_of_codes(index: pd.Index, values: pd.Series | pd.Index,
                        rows: np.ndarray | None) -> np.ndarray:
    """:func:`positions` of one categorical part, as :func:`linkgraph.codes.index_dtype`
    (int32 below two billion accounts): the rows' narrow codes are taken, never widened."""
    codes = np.asarray(values.array.codes)
    if rows is not None:
        codes = codes[rows]
    # the categories are often the index itself (the accounts' sorted ids): no lookup then
    found = code_positions(pd.Index(values.dtype.categories), index)
    return np.append(found, -1).astype(index_dtype(len(index)))[codes]


def _order_positions(index: pd.Index, links: LinkSet, orders: pd.DataFrame) -> np.ndarray | None:
    """Each order's account position in ``index`` (-1 absent), from the graph stage's
    lookup of the same orders (``links.order_accounts``); None when it made none.

    Only the profiles' ids are looked up (usually ``index`` itself), and the
    orders the accounts table lacks: not the millions of orders' text ids again.
    """
    rows = links.order_accounts
    if rows is None or len(rows) != len(orders) or s.ACCOUNT_ID not in links.profiles.columns:
        return None
    found = code_positions(links.profiles[s.ACCOUNT_ID], index)
    # as narrow as the positions allow: one per order
    at = np.append(found, -1).astype(index_dtype(len(index) + 1))[rows]
    stray = np.flatnonzero(rows < 0)
    if len(stray):
        at[stray] = positions(index, (orders[s.ACCOUNT_ID], stray))[0]
    return at


def categories(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Codes (-1 for missing or blank) and the distinct values, trimmed.

    Cleaning the few distinct values instead of every row keeps string work
    off the millions of rows; a categorical's are its categories, its codes
    are taken as they are (no hash of its rows). The codes are narrow (int32
    below two billion distinct values): a column of the millions of orders
    each, never an int64 one.

    >>> codes, names = categories(pd.Series(["a ", None, "b", " ", "a "]))
    >>> codes.tolist(), names
    ([0, -1, 1, -1, 0], ['a', 'b', ''])
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        return _category_codes(values, None)
    codes, uniques = _factorized(values)
    cleaned = [str(u).strip() for u in uniques]
    recode = np.array([-1 if c == "" else i for i, c in enumerate(cleaned)] + [-1],
                      dtype=index_dtype(len(cleaned) + 1))
    return recode[codes], cleaned


def _factorized(values: pd.Series) -> tuple[np.ndarray, list[object]]:
    """``pd.factorize(values)`` (codes -1 for missing, distinct values in order of first
    appearance); Arrow text is encoded by Arrow itself, its int32 indices kept (pandas
    widens them to int64 first)."""
    if isinstance(values.array, pd.arrays.ArrowStringArray):
        distinct, codes = dictionary_codes(pa.array(values.array))
        return codes, distinct.to_pylist()
    codes, uniques = pd.factorize(values)
    return codes, list(uniques)


def _scored_rows(incidence: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The incidence rows of the kinds the score reads, and their kinds (index into
    ``schemas.KINDS``, int8): weak kinds (ip, name) say nothing here, so their rows
    are dropped before the costly lookups."""
    # a byte per incidence row (ten million at a million accounts)
    kind = _kind_numbers(incidence[s.KIND])
    rows = _flat_rows(np.isin(kind, [s.KINDS.index(k) for k in _SCORED_KINDS]))
    return rows, kind[rows]


def _flat_rows(mask: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(mask)`` as :func:`linkgraph.codes.index_dtype` (int32 below two
    billion rows), a slice at a time: never an int64 array of every row found.

    >>> _flat_rows(np.array([False, True, True, False, True])).tolist()
    [1, 2, 4]
    """
    dtype = index_dtype(len(mask))
    step = 1 << 22
    parts = []
    for start in range(0, len(mask), step):
        part = np.flatnonzero(mask[start:start + step]).astype(dtype)
        part += start
        parts.append(part)
    return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)


def _category_codes(values: pd.Series, rows: np.ndarray | None
                    ) -> tuple[np.ndarray, list[str]]:
    """:func:`categories` of ``values.take(rows)`` (of every row when None); of a
    categorical, from its own codes (no rows taken, factorized or widened to int64)."""
    if not isinstance(values.dtype, pd.CategoricalDtype):
        return categories(values if rows is None else values.take(rows))
    names = [str(c).strip() for c in values.dtype.categories]
    recode = np.array([-1 if n == "" else i for i, n in enumerate(names)] + [-1],
                      dtype=category_code_dtype(len(names)))
    codes = np.asarray(values.array.codes)
    return recode[codes if rows is None else codes[rows]], names


def _kind_numbers(kinds: pd.Series) -> np.ndarray:
    """Each row's index into ``schemas.KINDS`` (-1: another kind or missing), as int8.

    A categorical maps its few categories, its rows follow their codes: no
    per-row factorize or int64 copy of the ten million incidence rows.
    """
    if isinstance(kinds.dtype, pd.CategoricalDtype):
        codes = np.asarray(kinds.array.codes)
        names = [str(c).strip() for c in kinds.dtype.categories]
    else:
        codes, names = categories(kinds)
    number = np.array([s.KINDS.index(k) if k in s.KINDS else -1 for k in names] + [-1],
                      dtype=np.int8)
    return number[codes]


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """``frame[name]``, or an all-NA column when the frame lacks it."""
    if name in frame.columns:
        return frame[name]
    return pd.Series(pd.NA, index=frame.index, dtype="object")


def _lookup(codes: np.ndarray, table: list[bool]) -> np.ndarray:
    """``table[code]`` per row; False for code -1."""
    return np.array(table + [False], dtype=bool)[codes]


class HandedOver:
    """Input tables given to :func:`score_clusters` for good (the caller keeps no other
    reference), so that the orders go once the account facts are read from them.

    Only the facts of the accounts read the tables; the identifiers' facts and the
    clusters' features come after them: at a million accounts the orders' times,
    amounts, accounts and coupons (0.1 GB) would otherwise stay under the stage's
    peak. A handover is read once.

    >>> from linkgraph.load import Tables
    >>> none = pd.DataFrame()
    >>> handed = HandedOver(Tables(accounts=none, addresses=none, payments=none, logins=none,
    ...                            orders=none, sanctions=none, decisions=none, rejects=none))
    >>> handed.take() is not None, handed.take()
    (True, None)
    """

    def __init__(self, tables: Tables) -> None:
        self._tables: Tables | None = tables

    def peek(self) -> Tables | None:
        """The handed-over tables, left in the handover; None once taken."""
        return self._tables

    def take(self) -> Tables | None:
        """The handed-over tables; None once taken."""
        tables, self._tables = self._tables, None
        return tables


def tables_of(tables: Tables | HandedOver) -> Tables:
    """The tables, or those of a handover (left in it, for a look at their columns).

    Args:
        tables: the tables, or a :class:`HandedOver` of them.

    Returns:
        The tables.

    Raises:
        ValueError: the handover was read already.

    >>> from linkgraph.load import Tables
    >>> none = pd.DataFrame()
    >>> tables = Tables(accounts=none, addresses=none, payments=none, logins=none,
    ...                 orders=none, sanctions=none, decisions=none, rejects=none)
    >>> tables_of(HandedOver(tables)) is tables_of(tables) is tables
    True
    """
    found = tables.peek() if isinstance(tables, HandedOver) else tables
    if found is None:
        raise ValueError("these tables were handed over to the score stage before")
    return found


def _taken(tables: Tables | HandedOver) -> Tables:
    """The tables, or those of a handover (taken from it)."""
    found = tables_of(tables)
    if isinstance(tables, HandedOver):
        tables.take()
    return found


#: the columns of the account facts read from the tables alone, in the facts' order
#: (``created`` first, ``blocked`` last)
_TABLE_FACT_COLUMNS = ("created", "n_orders", "n_new_user", "coupon_only", "n_near_min")


def missing_columns(missing: list[str]) -> InputError:
    """The score stage's error for the input columns ``missing`` (``frame.column``)."""
    return InputError("the score stage is missing input columns: " + ", ".join(missing)
                      + ". The earlier stage that builds them must provide them.")


@dataclass(frozen=True)
class TableFacts:
    """The account facts read from the input tables alone (orders, accounts, sanctions),
    made before the clusters are (:func:`table_facts`): the score stage reads them
    instead of the tables.

    ids: the accounts' ids the facts are aligned with (the accounts table's).
    facts: one row per id: created (days; NaN when unknown), n_orders, n_new_user,
        coupon_only, n_near_min, blocked.
    created_known: False when the accounts table had no creation times: ``created``
        is then read from the graph stage's profiles, as without these facts.
    """

    ids: pd.Index
    facts: pd.DataFrame
    created_known: bool


def table_facts(tables: Tables, *, config: CouponConfig, engine: Engine = LOCAL) -> TableFacts:
    """The account facts of :func:`account_facts` that read the tables alone, per account of
    ``tables.accounts``: the same numbers, whatever the clusters.

    Each order counts for the account of its id (orders of an id the accounts lack
    count for none: the load rejects them), so the facts of an account do not
    depend on the other accounts; :func:`account_facts` places them at its own
    accounts' positions.

    Args:
        tables: the input tables (``accounts``: account_id, created_at; ``orders``;
            ``sanctions``).
        config: the coupon settings.
        engine: where the per-account counts are grouped (``linkgraph.engine``).

    Returns:
        :class:`TableFacts`.

    Raises:
        InputError: the orders have columns but no ``account_id``.

    >>> from linkgraph.load import Tables
    >>> none = pd.DataFrame()
    >>> accounts = pd.DataFrame({"account_id": ["a", "b"]})
    >>> orders = pd.DataFrame({"account_id": ["b", "b"], "coupon_type": ["new_user", None]})
    >>> tables = Tables(accounts=accounts, addresses=none, payments=none, logins=none,
    ...                 orders=orders, sanctions=none, decisions=none, rejects=none)
    >>> table_facts(tables, config=CouponConfig()).facts[["n_orders", "n_new_user"]].to_numpy().tolist()
    [[0, 0], [2, 1]]
    """
    if len(tables.orders.columns) and s.ACCOUNT_ID not in tables.orders.columns:
        raise missing_columns([f"tables.orders.{s.ACCOUNT_ID}"])
    index = pd.Index(tables.accounts[s.ACCOUNT_ID]) if s.ACCOUNT_ID in tables.accounts.columns \
        else pd.Index(pd.Series([], dtype="str"))
    n = len(index)
    facts = pd.DataFrame(index=pd.RangeIndex(n))
    sanctions = tables.sanctions
    blocking = _blocking_rows(sanctions)
    created_known = {s.ACCOUNT_ID, s.CREATED_AT} <= set(tables.accounts.columns)
    orders = _orders_of(tables.orders)
    order_pos, created_pos, blocked_pos = positions(
        index, (orders[s.ACCOUNT_ID], None),
        (tables.accounts[s.ACCOUNT_ID] if created_known else pd.Series([], dtype="str"), None),
        (sanctions[s.ACCOUNT_ID] if len(blocking) else pd.Series([], dtype="str"), blocking),
    )
    facts["created"] = _created(n, created_pos, tables.accounts if created_known else None)
    order_facts = _order_facts(orders, order_pos, n, config=config, engine=engine) \
        if tables.order_facts is None else \
        _summary_facts(tables.order_facts, index, n, config=config)
    facts = pd.concat([facts, order_facts], axis=1)
    facts["blocked"] = _blocked(n, blocked_pos)
    return TableFacts(ids=index, facts=facts, created_known=created_known)


@dataclass(frozen=True)
class AccountFacts:
    """:func:`account_facts` made before the clusters, for the accounts of the tables
    (:func:`facts_before_clusters`); the score reads them when its clustering has the
    same accounts in the same order, else makes them again from ``tables``.

    tables: the :class:`TableFacts` they were made from.
    facts, identifiers: as :func:`account_facts` returns them.
    """

    tables: TableFacts
    facts: pd.DataFrame
    identifiers: pd.DataFrame


def facts_before_clusters(links: LinkSet, tables: TableFacts, *, config: CouponConfig,
                          engine: Engine = LOCAL) -> AccountFacts:
    """The account facts of the tables' accounts: what :func:`account_facts` gives for
    a clustering of the same accounts, none of it read from the clusters.

    Args:
        links: the graph stage's links (incidence, profiles).
        tables: the :class:`TableFacts` of the input tables.
        config: the coupon settings.
        engine: where the per-account counts are grouped (``linkgraph.engine``).

    Returns:
        :class:`AccountFacts`.

    >>> from linkgraph.load import Tables
    >>> none = pd.DataFrame()
    >>> tables = Tables(accounts=pd.DataFrame({"account_id": ["a", "b"]}), addresses=none,
    ...                 payments=none, logins=none, sanctions=none, decisions=none,
    ...                 orders=pd.DataFrame({"account_id": ["b"], "coupon_type": ["new_user"]}),
    ...                 rejects=none)
    >>> cards = pd.DataFrame({"account_id": ["a", "b"], "kind": "card", "value": "fp1"})
    >>> links = LinkSet(incidence=cards, pairs=none, pair_tiers=none, hubs=none, profiles=none)
    >>> early = facts_before_clusters(links, table_facts(tables, config=CouponConfig()),
    ...                               config=CouponConfig())
    >>> early.facts["redeemer"].tolist(), early.identifiers["pos"].tolist()
    ([False, True], [1])
    """
    facts, identifiers = account_facts(pd.DataFrame({s.ACCOUNT_ID: tables.ids}), links, tables,
                                       config=config, engine=engine)
    return AccountFacts(tables=tables, facts=facts, identifiers=identifiers)


def _blocking_rows(sanctions: pd.DataFrame) -> np.ndarray:
    """The rows of the sanctions that block their account."""
    if {s.ACCOUNT_ID, s.ACTION} <= set(sanctions.columns):
        return np.flatnonzero(sanctions[s.ACTION].isin(s.BLOCKING_ACTIONS).to_numpy(dtype=bool))
    return np.zeros(0, dtype=np.int64)


def _orders_of(orders: pd.DataFrame) -> pd.DataFrame:
    """The orders, or an empty frame of account ids when they have none."""
    return orders if s.ACCOUNT_ID in orders.columns else pd.DataFrame(
        {s.ACCOUNT_ID: pd.Series([], dtype="str")})


def _created(n: int, created_pos: np.ndarray, created_from: pd.DataFrame | None) -> np.ndarray:
    """Per account position, its creation time in days (NaN when unknown)."""
    created = np.full(n, np.nan)
    if created_from is None:
        return created
    known = created_pos >= 0
    created[created_pos[known]] = days(created_from[s.CREATED_AT])[known]
    return created


def _blocked(n: int, blocked_pos: np.ndarray) -> np.ndarray:
    """Per account position, whether a blocking sanction names it."""
    blocked = np.zeros(n, dtype=bool)
    blocked[blocked_pos[blocked_pos >= 0]] = True
    return blocked


def same_ids(ids: pd.Index, accounts: pd.Index | pd.Series) -> bool:
    """Whether ``accounts`` are ``ids``, in their order (the facts made for ``ids`` then
    serve them as they are)."""
    return len(ids) == len(accounts) and (ids is accounts or ids.equals(pd.Index(accounts)))


def _placed(early: TableFacts, index: pd.Index) -> pd.DataFrame:
    """The early facts at the positions of ``index`` (no orders, no creation time and
    not blocked for an id they lack); the very same frame when the ids are the same
    (the usual case)."""
    if same_ids(early.ids, index):
        return early.facts
    at = code_positions(index, early.ids)
    found = at >= 0
    taken = np.where(found, at, 0)
    placed = {}
    for name, values in early.facts.items():
        column_values = values.to_numpy()[taken]
        column_values[~found] = np.nan if name == "created" else 0
        placed[name] = column_values
    return pd.DataFrame(placed)


def account_facts(
    accounts: pd.DataFrame, links: LinkSet, tables: Tables | HandedOver | TableFacts, *,
    config: CouponConfig, engine: Engine = LOCAL,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Facts per account and the redeemers' identifiers.

    Args:
        accounts: ``account_id, cluster_id, person_cluster_id``, one row per account.
        links: the graph stage's output (incidence, profiles).
        tables: the input tables (orders, accounts, sanctions), or a
            :class:`HandedOver` of them (taken: they go once read), or the
            :class:`TableFacts` read from them earlier.
        config: the coupon settings.
        engine: where the per-account counts are grouped (``linkgraph.engine``).

    Returns:
        ``facts``: one row per account, aligned with ``accounts``: created (days),
        n_orders, n_new_user, coupon_only, n_near_min, redeemer, own_identity,
        disposable, blocked.
        ``identifiers``: one row per (redeemer, identifier) of the non-junk
        card, device, phone and address values: ``pos`` (account position),
        ``kind`` (index into ``schemas.KINDS``), ``cls`` (card/device/
        address/pickup, -1 for phones), ``vkey`` (an integer per (kind, value))
        and ``row`` (its row in ``links.incidence``).
    """
    index = pd.Index(accounts[s.ACCOUNT_ID])
    n = len(index)
    incidence = links.incidence
    kind: np.ndarray | None = None
    if isinstance(tables, TableFacts):
        # read from the tables before the clusters were made: placed at the accounts' rows
        early = _placed(tables, index)
        facts = early[list(_TABLE_FACT_COLUMNS)].copy(deep=False)
        blocked = early["blocked"].to_numpy()
        del early
        if not tables.created_known:
            created_from = _created_from(None, links)
            (created_pos,) = positions(index, (created_from[s.ACCOUNT_ID], None))
            facts = facts.assign(created=_created(n, created_pos, created_from))
    else:
        facts, blocked, rows, kind, incidence_pos = _facts_of_tables(
            index, links, _taken(tables), config=config, engine=engine)
    redeemer = facts["n_new_user"].to_numpy() > 0
    facts["redeemer"] = redeemer

    if kind is None:
        rows, kind = _scored_rows(incidence)
        (incidence_pos,) = positions(index, (incidence[s.ACCOUNT_ID], rows))
    pos = incidence_pos
    suppressed_codes, reasons = _category_codes(column(incidence, s.SUPPRESSED), rows)
    clean = suppressed_codes < 0
    pickup = _lookup(suppressed_codes, [r == _PICKUP for r in reasons])

    facts["own_identity"] = _own_identity(incidence, rows, pos, kind, clean, n, engine)
    facts["disposable"] = _disposable(links, rows, pos, kind, index)
    identifiers = _redeemer_identifiers(incidence, rows, pos, kind, clean, pickup, redeemer)

    facts["blocked"] = blocked
    return facts, identifiers


def _created_from(tables: Tables | None, links: LinkSet) -> pd.DataFrame:
    """Where the accounts' creation times are read: the accounts table, else the graph
    stage's profiles, else nowhere (an empty frame)."""
    return next(
        (frame for frame in ((tables.accounts,) if tables is not None else ()) + (links.profiles,)
         if {s.ACCOUNT_ID, s.CREATED_AT} <= set(frame.columns)), pd.DataFrame({
             s.ACCOUNT_ID: pd.Series([], dtype="str"), s.CREATED_AT: pd.Series([], dtype="str")})
    )


def _facts_of_tables(
    index: pd.Index, links: LinkSet, tables: Tables, *, config: CouponConfig, engine: Engine,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray | None, np.ndarray]:
    """The facts the tables give (created, the orders' facts) and ``blocked`` per account
    of ``index``; with the incidence's scored rows, their kinds and account positions when
    they were looked up with the tables' (text ids), else empty rows and None kinds."""
    n = len(index)
    facts = pd.DataFrame(index=pd.RangeIndex(n))
    incidence = links.incidence
    # categorical ids (the graph stage's) are looked up by their categories, on their own:
    # then the incidence's rows are read after the orders', whose peak they would add to
    joined = not isinstance(incidence[s.ACCOUNT_ID].dtype, pd.CategoricalDtype)
    rows, kind = _scored_rows(incidence) if joined else (np.zeros(0, np.int64), None)
    # (deferred: an empty categorical keeps the lookup below on the categorical path)
    ids = incidence[s.ACCOUNT_ID] if joined else pd.Series(pd.Categorical([]))

    sanctions = tables.sanctions
    blocking = _blocking_rows(sanctions)
    created_from = _created_from(tables, links)
    orders = _orders_of(tables.orders)
    summary = tables.order_facts
    # (an order summary is looked up on its own: no order is)
    order_pos = _order_positions(index, links, orders) if summary is None else \
        np.zeros(0, dtype=np.int64)
    # with the graph stage's lookup, only its strays were looked up: none here
    order_part = (orders[s.ACCOUNT_ID], None) if order_pos is None else (
        pd.Series([], dtype="str"), None)
    incidence_pos, looked_up, created_pos, blocked_pos = positions(
        index, (ids, rows), order_part,
        (created_from[s.ACCOUNT_ID], None),
        (sanctions[s.ACCOUNT_ID] if len(blocking) else pd.Series([], dtype="str"), blocking),
    )
    if order_pos is None:
        order_pos = looked_up

    facts["created"] = _created(n, created_pos, created_from)

    order_facts = _order_facts(orders, order_pos, n, config=config, engine=engine) \
        if summary is None else _summary_facts(summary, index, n, config=config)
    # the tables are read: handed over, the orders go before the identifiers' facts
    del order_pos, looked_up, order_part, orders, created_from, sanctions, tables, summary
    release_freed_memory()  # the orders' columns, before the incidence's are read
    return (pd.concat([facts, order_facts], axis=1), _blocked(n, blocked_pos), rows, kind,
            incidence_pos)


def _order_facts(
    orders: pd.DataFrame, pos: np.ndarray, n: int, *, config: CouponConfig,
    engine: Engine = LOCAL,
) -> pd.DataFrame:
    """n_orders, n_new_user, coupon_only, n_near_min per account position."""
    counts, as_of = _order_counts(orders, pos, n, config=config, engine=engine)
    return _with_coupon_only(counts, as_of, config=config)


@dataclass(frozen=True)
class OrderWords:
    """What the score reads of each order (:func:`order_words`).

    new_user, has_coupon: the order used a new-user coupon / any coupon.
    coupon: its coupon: a code's index in ``codes``, ``-2 - i`` for type ``types[i]``
        when it has no code, -1 for none (a coupon is its code, else its type).
    currency: 1 + the index of its currency in ``currencies``; 0 for none.
    amount: float64, NaN where missing or not a number.
    """

    new_user: np.ndarray
    has_coupon: np.ndarray
    coupon: np.ndarray
    currency: np.ndarray
    amount: np.ndarray
    codes: list[str]
    types: list[str]
    currencies: list[str]


def order_words(orders: pd.DataFrame, rows: slice | np.ndarray = slice(None), *,
                config: CouponConfig) -> OrderWords:
    """The coupon, currency and amount of each order of ``orders[rows]``, as the score
    reads them (each engine's one definition: the local stage and Spark's batches)."""
    type_codes, types = categories(column(orders, s.COUPON_TYPE))
    type_codes = type_codes[rows]
    new_user = _lookup(type_codes, [t.lower() in config.new_user_types for t in types])
    code_codes, codes = categories(column(orders, s.COUPON_CODE))
    code_codes = code_codes[rows]
    has_coupon = (type_codes >= 0) | (code_codes >= 0)
    # a coupon is its code, or its type when the code is missing (built in place: each
    # a narrow column of the millions of orders)
    coupon = code_codes
    missing = coupon < 0
    coupon[missing] = np.where(type_codes[missing] >= 0, -2 - type_codes[missing], -1)
    del type_codes, code_codes, missing
    amount = pd.to_numeric(column(orders, s.AMOUNT), errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan)[rows]
    currency, currencies = categories(column(orders, s.CURRENCY))
    currency = currency[rows]
    currency += 1  # 0: no currency
    return OrderWords(new_user=new_user, has_coupon=has_coupon, coupon=coupon,
                      currency=currency, amount=amount, codes=codes, types=types,
                      currencies=currencies)


def large_orders(amount: np.ndarray, limit: np.ndarray | float) -> np.ndarray:
    """Orders above the small-order ``limit`` of their currency (a missing amount is not
    evidence of a large order)."""
    with np.errstate(invalid="ignore"):
        return np.asarray(amount > limit, dtype=bool)


def coupon_floors(floor: np.ndarray, size: np.ndarray, *, config: CouponConfig) -> np.ndarray:
    """A coupon's inferred minimum spend, from the low quantile ``floor`` of its ``size``
    orders' amounts: NaN when it has too few orders to show one."""
    return np.where(np.asarray(size) >= config.near_min_min_orders, floor, np.nan)


def near_floor(spent: np.ndarray, floor: np.ndarray, *, config: CouponConfig) -> np.ndarray:
    """Orders at most ``near_min_margin`` above their coupon's ``floor`` (NaN: none)."""
    with np.errstate(invalid="ignore"):
        return np.asarray((floor > 0) & (spent <= floor * (1 + config.near_min_margin)),
                          dtype=bool)


def _order_counts(
    orders: pd.DataFrame, pos: np.ndarray, n: int, *, config: CouponConfig, engine: Engine,
    welcome: bool = False,
) -> tuple[dict[str, np.ndarray], float]:
    """Per account position, the order summary's counts (``schemas.ORDER_SUMMARY_COLUMNS``;
    ``n_welcome`` only when asked), and the time of the latest order (days; NaN: none)."""
    known = pos >= 0
    # every order's account is known, as a rule: then no column is copied to drop rows
    rows = slice(None) if known.all() else known
    pos = pos[rows]
    words = order_words(orders, rows, config=config)
    amount, currency = words.amount, words.currency

    # "small": below a fixed amount, or below the currency's usual order (quantile)
    if config.small_order_amount is not None:
        limit: np.ndarray | float = config.small_order_amount
    else:
        limit = _per_row(*engine.group_quantile(amount, currency, config.small_order_quantile)[:2],
                         currency)
    large = large_orders(amount, limit)
    del limit
    near = words.new_user & _near_minimum(words.coupon, currency, amount, config=config,
                                          engine=engine)
    new_user, has_coupon = words.new_user, words.has_coupon
    del words, currency, amount  # an order's times are read after these are freed
    when = days(column(orders, s.CREATED_AT))[rows]
    if not when.flags.writeable:  # a read-only view of pandas' own (copy-on-write)
        when = when.copy()
    as_of = _known_last(when)
    when[np.isnan(when)] = -np.inf  # in place: no second column of the orders' times
    aggregations = {
        s.N_ORDERS: Aggregation("count"), s.O_NEW_USER: Aggregation("sum", new_user),
        s.O_COUPON: Aggregation("sum", has_coupon), s.O_LARGE: Aggregation("sum", large),
        s.O_LAST: Aggregation("max", when, fill=-np.inf),
        s.O_NEAR_MIN: Aggregation("sum", near),
    }
    if welcome:
        aggregations[s.O_WELCOME] = Aggregation("sum", welcome_orders(orders)[rows])
    return engine.group_aggregate(pos, n, aggregations), as_of


def _known_last(when: np.ndarray) -> float:
    """The latest of the times ``when`` (days; -inf or NaN: unknown), NaN when none is known."""
    known = np.isfinite(when)
    return float(np.max(when, where=known, initial=-np.inf)) if known.any() else np.nan


def _with_coupon_only(counts: dict[str, np.ndarray], as_of: float, *,
                      config: CouponConfig) -> pd.DataFrame:
    """The account facts of the orders (n_orders, n_new_user, coupon_only, n_near_min)
    from their counts per account."""
    n_orders, n_new_user = counts[s.N_ORDERS], counts[s.O_NEW_USER]
    last = counts[s.O_LAST]
    # silence is only required when the data has order times at all
    silent = np.isinf(last) | np.isnan(as_of) | (last <= as_of - config.silence_days)
    coupon_only = (
        (n_orders >= 1) & (n_orders <= config.coupon_only_max_orders)
        & (counts[s.O_COUPON] == n_orders) & (n_new_user >= 1) & (counts[s.O_LARGE] == 0)
        & silent
    )
    return pd.DataFrame({
        "n_orders": n_orders, "n_new_user": n_new_user, "coupon_only": coupon_only,
        "n_near_min": counts[s.O_NEAR_MIN],
    })


def order_summary(orders: pd.DataFrame, *, config: CouponConfig,
                  engine: Engine = LOCAL) -> pd.DataFrame:
    """What the graph and score stages read of ``orders``: one row per account with
    orders, sorted by account id (``schemas.ORDER_SUMMARY_COLUMNS``).

    An engine that keeps the orders where it read them gives these rows instead of
    the orders (``Tables.order_facts``); here they are made from the orders
    themselves, with the stages' own rules. The small-order limits and the coupons'
    minimums are those of all the orders given.

    >>> orders = pd.DataFrame({"account_id": ["b", "a", "b"],
    ...                        "coupon_type": ["new_user", None, "new_user"],
    ...                        "amount": [10.0, 80.0, 11.0]})
    >>> order_summary(orders, config=CouponConfig())[["account_id", "n_orders", "n_welcome"]]
      account_id  n_orders  n_welcome
    0          a         1          0
    1          b         2          2
    """
    orders = _orders_of(orders)
    ids = pd.Index(orders[s.ACCOUNT_ID].dropna().astype("str").unique()).sort_values()
    (pos,) = positions(ids, (orders[s.ACCOUNT_ID], None))
    counts, _ = _order_counts(orders, pos, len(ids), config=config, engine=engine, welcome=True)
    return pd.DataFrame({s.ACCOUNT_ID: ids.to_numpy(), **counts}).loc[
        :, list(s.ORDER_SUMMARY_COLUMNS)]


def _summary_facts(summary: pd.DataFrame, index: pd.Index, n: int, *,
                   config: CouponConfig) -> pd.DataFrame:
    """:func:`_order_facts` of the accounts of ``index``, from their order summary."""
    (pos,) = positions(index, (summary[s.ACCOUNT_ID], None))
    found = pos >= 0
    at = pos[found]
    counts = {}
    for name in s.ORDER_SUMMARY_COLUMNS[1:]:
        values = summary[name].to_numpy()[found]
        last = name == s.O_LAST
        counts[name] = np.full(n, -np.inf) if last else np.zeros(n, dtype=np.int64)
        counts[name][at] = values
    return _with_coupon_only(counts, _known_last(counts[s.O_LAST]), config=config)


def _near_minimum(
    coupon: np.ndarray, currency: np.ndarray, amount: np.ndarray, *, config: CouponConfig,
    engine: Engine = LOCAL,
) -> np.ndarray:
    """Orders at most ``margin`` above their coupon's minimum (inferred per coupon and currency).

    A coupon with a minimum spend shows a floor in its orders' amounts: the
    low quantile of the amounts of the coupon's orders estimates it. Coupons
    with too few orders to see a floor flag nothing. ``coupon`` is -1 for
    orders without one.
    """
    usable = (coupon != -1) & ~np.isnan(amount)
    if not usable.any():
        return np.zeros(len(amount), dtype=bool)
    # the coupon orders alone: the rest are never near a minimum
    rows = _flat_rows(usable)
    del usable
    # int64 whatever the codes' width (a code times the currencies may pass int32), built
    # in place: one column of the coupon orders
    key = coupon[rows].astype(np.int64)
    key -= int(key.min())
    key *= int(currency.max()) + 1
    key += currency[rows]
    spent = amount[rows]
    keys, floor, size = engine.group_quantile(spent, key, config.near_min_quantile)
    row_floor = _per_row(keys, coupon_floors(floor, size, config=config), key)
    del key
    near = np.zeros(len(amount), dtype=bool)
    near[rows] = near_floor(spent, row_floor, config=config)
    return near


def _quantile_by(values: np.ndarray, groups: np.ndarray, q: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``pd.Series(values).groupby(groups).quantile(q)`` (linear, NaN skipped), by one sort:
    the groups ascending, their quantiles and their sizes (rows, NaN counted).

    The arithmetic is pandas' own (``group_quantile``): the value at
    ``int(q * (n - 1))`` of the group's sorted values, plus the fraction of
    the step to the next one. pandas' groupby holds several copies of the
    four million orders' amounts; this holds one.

    >>> _quantile_by(np.array([4.0, 1.0, np.nan, 2.0, 9.0]), np.array([0, 0, 0, 0, 5]), 0.5)
    (array([0, 5]), array([2., 9.]), array([4, 1]))
    """
    groups = np.asarray(groups)
    if not len(groups):
        return groups, np.zeros(0), np.zeros(0, dtype=np.int64)
    first = int(groups.min())
    if int(groups.max()) - first < 256:
        counts = np.bincount(groups - first)
        if np.count_nonzero(counts) <= 32:
            return _quantile_of_few(values, groups, q, first, counts)
    # NaN sorts last within its group: each group's present values lead its run
    order = np.lexsort((values, groups))
    ordered, grouped = values[order], groups[order]
    del order
    starts = np.flatnonzero(np.concatenate([[True], grouped[1:] != grouped[:-1]]))
    size = np.diff(np.append(starts, len(grouped)))
    present = np.add.reduceat(~np.isnan(ordered), starts)
    rank, frac = quantile_steps(present, q)
    at = np.minimum(starts + rank, len(ordered) - 1)
    low = ordered[at]
    high = ordered[np.minimum(at + 1, len(ordered) - 1)]
    return grouped[starts], np.where(present > 0, interpolated(low, high, frac), np.nan), size


def quantile_steps(present: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """pandas' linear quantile of ``present`` sorted values: the rank (from 0) of the
    lower value, ``int(q * (present - 1))``, and the fraction of the step to the next.

    >>> rank, frac = quantile_steps(np.array([4, 1]), 0.5)
    >>> rank.tolist(), frac.tolist()
    ([1, 0], [0.5, 0.0])
    """
    position = q * (np.asarray(present) - 1).astype(np.float64)
    return position.astype(np.int64), np.fmod(position, 1.0)


def interpolated(low: np.ndarray | float, high: np.ndarray | float, frac: np.ndarray | float
                 ) -> np.ndarray:
    """The quantile between the values ``low`` and ``high`` at ``frac`` of the step
    (``low`` itself where the fraction is 0, whatever ``high`` is)."""
    with np.errstate(invalid="ignore"):
        return np.where(frac == 0.0, low, low + (high - low) * frac)


def _quantile_of_few(values: np.ndarray, groups: np.ndarray, q: float, low: int,
                    size: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_quantile_by` for a few groups (currencies): each group's values sorted on
    their own, the same arithmetic on them; no sort order of every row is held."""
    keys = np.flatnonzero(size)
    quantile = np.full(len(keys), np.nan)
    for i, key in enumerate(keys):
        ordered = np.sort(values[groups == key + low])  # NaN last, as in the joint sort
        present = len(ordered) - int(np.count_nonzero(np.isnan(ordered)))
        if not present:
            continue
        rank, frac = quantile_steps(np.array([present]), q)
        at = min(int(rank[0]), len(ordered) - 1)
        quantile[i] = interpolated(ordered[at], ordered[min(at + 1, len(ordered) - 1)], frac[0])
    return (keys + low).astype(groups.dtype), quantile, size[keys].astype(np.int64)


def _per_row(keys: np.ndarray, per_key: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """``per_key`` (aligned with the ascending ``keys``) at each row's group; NaN for a
    group not among ``keys``."""
    if not len(keys):
        return np.full(len(groups), np.nan)
    low, high = int(keys[0]), int(keys[-1])
    if high - low <= max(len(groups), 1 << 16):
        # dense keys (currencies, coupon codes): one table lookup, no row positions
        table = np.full(high - low + 2, np.nan)
        table[keys - low] = per_key
        at = groups - low
        at[(groups < low) | (groups > high)] = high - low + 1  # NaN: not among keys
        return table[at]
    at = np.searchsorted(keys, groups)
    np.minimum(at, len(keys) - 1, out=at)
    found = per_key[at]
    found[keys[at] != groups] = np.nan
    return found


def _per_account(index: pd.Index, account_id: pd.Series, values: np.ndarray) -> np.ndarray:
    """``values`` (one per row of ``account_id``) placed at each account's position."""
    out = np.full(len(index), np.nan)
    (pos,) = positions(index, (account_id, None))
    out[pos[pos >= 0]] = values[pos >= 0]
    return out


def _redeemer_identifiers(
    incidence: pd.DataFrame, rows: np.ndarray, pos: np.ndarray, kind: np.ndarray,
    clean: np.ndarray, pickup: np.ndarray, redeemer: np.ndarray,
) -> pd.DataFrame:
    wanted = np.array([k in _CLASS_OF_KIND or k == s.K_PHONE for k in s.KINDS])
    usable = (pos >= 0) & (clean | pickup)
    usable[usable] &= wanted[kind[usable]] & redeemer[pos[usable]]
    keep = _flat_rows(usable)
    del usable
    kept_kind = kind[keep]
    class_of = np.array([_CLASS_OF_KIND.get(k, -1) for k in s.KINDS], dtype=np.int8)
    cls = class_of[kept_kind]
    cls[pickup[keep] & (cls == ADDRESS)] = PICKUP
    row = rows[keep]
    value_code, n_values = _value_codes(incidence[s.VALUE], row)
    vkey = kept_kind.astype(np.int64)
    vkey *= n_values + 1
    vkey += value_code
    del value_code
    # narrow columns (positions and rows int32, kind and class int8): a row per
    # redeemer's identifier, kept to the end of the stage
    return pd.DataFrame({"pos": pos[keep], s.KIND: kept_kind, "cls": cls, "vkey": vkey,
                         "row": row})


def _value_codes(values: pd.Series, rows: np.ndarray) -> tuple[np.ndarray, int]:
    """A code per value of ``values[rows]`` (equal values, equal codes; missing its own
    code), as narrow as they fit (int32 below two billion codes), and the number of codes.

    A categorical's own codes are such codes: no string is decoded or hashed.
    Text is coded in Arrow: millions of values never become Python strings.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        n_categories = len(values.dtype.categories)
        codes = np.asarray(values.array.codes)[rows].astype(index_dtype(n_categories + 1))
        codes[codes < 0] = n_categories
        return codes, n_categories + 1
    encoded = text_array(values, rows).dictionary_encode(null_encoding="encode")
    return encoded.indices.to_numpy(zero_copy_only=False), len(encoded.dictionary)


def _own_identity(
    incidence: pd.DataFrame, rows: np.ndarray, pos: np.ndarray, kind: np.ndarray,
    clean: np.ndarray, n: int, engine: Engine = LOCAL,
) -> np.ndarray:
    """An unshared card AND an unshared device: evidence of a distinct person.

    Both are required because one of them alone is cheap to vary (a reinstalled
    app gives a new device id; a virtual card a new fingerprint).
    """
    counts = incidence[s.N_ACCOUNTS] if s.N_ACCOUNTS in incidence.columns else None
    if counts is not None and counts.dtype.kind in "iu":
        # integer counts compared where they are: a byte per row, not a float copy of all
        single = (counts.to_numpy() == 1)[rows]
    elif counts is not None:
        single = pd.to_numeric(counts, errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan)[rows] == 1
    else:
        single = incidence.groupby([s.KIND, s.VALUE])[s.ACCOUNT_ID].transform("size").to_numpy(
            dtype="float64")[rows] == 1
    alone = single & clean & (pos >= 0)
    del single
    card = (kind == s.KINDS.index(s.K_CARD)) | (kind == s.KINDS.index(s.K_CARD_DIGITS))
    device = kind == s.KINDS.index(s.K_DEVICE)
    found = engine.group_aggregate(pos[alone], n, {
        "card": Aggregation("sum", card[alone]), "device": Aggregation("sum", device[alone])})
    return (found["card"] > 0) & (found["device"] > 0)


def _disposable(
    links: LinkSet, rows: np.ndarray, pos: np.ndarray, kind: np.ndarray, index: pd.Index
) -> np.ndarray:
    profiles = links.profiles
    if "disposable_email" in profiles.columns and s.ACCOUNT_ID in profiles.columns:
        flag = profiles["disposable_email"].astype("boolean").fillna(False)
        return _per_account(index, profiles[s.ACCOUNT_ID], flag.to_numpy(dtype="float64")) == 1
    email = np.flatnonzero((kind == s.KINDS.index(s.K_EMAIL)) & (pos >= 0))
    values = text_array(links.incidence[s.VALUE], rows[email])
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        values = values.cast(pa.string())
    domain = pc.utf8_lower(pc.utf8_trim_whitespace(
        pc.replace_substring_regex(values, pattern="^.*@", replacement="")))
    hit = pc.is_in(domain, value_set=pa.array(sorted(_DISPOSABLE_DOMAINS), domain.type))
    hit = np.asarray(hit.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)
    return np.bincount(pos[email[hit]], minlength=len(index)) > 0
