"""Per-account facts that corroboration and the coupon score use."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph import schemas as s
from linkgraph.codes import positions, strictly_ascending, text_array
from linkgraph.config import GraphConfig
from linkgraph.graph.incidence import NAT, TIER_CODES, CodedIncidence, tier_codes, to_ns
from linkgraph.normalize import disposable_email

#: kinds that make an identity of one's own when nobody else has them (a
#: mailbox does not: it costs nothing to make)
_IDENTITY_KINDS = (s.K_PHONE, s.K_CARD, s.K_CARD_DIGITS, s.K_DEVICE)
_COUPON_ONLY_MAX_ORDERS = 2
_N_ORDERS, _N_COUPON, _N_NEW_USER = "orders", "coupon", "new_user"


@dataclass(frozen=True)
class AccountIndex:
    """The accounts table's ids against the account codes, and their orders, looked up once.

    ids: the accounts table's distinct ids, sorted (one profile each).
    code: per id, its account code (-1: the account has no identifiers).
    orders: per id, ``n_orders``, ``n_new_user_orders`` and ``coupon_only``.
    coupon_only: per account code (accounts missing from the table included).
    disposable: per account code, a mailbox on a throwaway domain.
    order_rows: per order, the position of its account in ``ids`` (-1 none), int32.
    """

    ids: pd.Index
    code: np.ndarray
    orders: dict[str, np.ndarray]
    coupon_only: np.ndarray
    disposable: np.ndarray
    order_rows: np.ndarray


def index_accounts(accounts: pd.DataFrame, orders: pd.DataFrame,
                   coded: CodedIncidence, summary: pd.DataFrame | None = None) -> AccountIndex:
    """Look the accounts and the orders' accounts up once, for every later use.

    Orders are counted per id of the accounts table; only orders of accounts
    missing from it (normally none) are looked up again among the account codes.
    With ``summary`` (the orders' summary an engine made: ``Tables.order_facts``)
    its counts are read instead of ``orders``.
    """
    column = accounts[s.ACCOUNT_ID].astype("str")
    ids = pd.Index(column) if strictly_ascending(column) else \
        pd.Index(column).unique().sort_values()
    code = positions(ids, coded.accounts)
    present = code >= 0
    n_codes = len(coded.accounts)
    counts, stray, order_rows = _order_counts(orders, ids) if summary is None else \
        _summary_counts(summary, ids)
    per_code = {}
    for name, per_id in counts.items():
        out = np.zeros(n_codes, dtype=np.int64)
        out[code[present]] = per_id[present]
        per_code[name] = out
    if stray is not None:
        stray_ids, kinds = stray
        at = positions(stray_ids, coded.accounts)
        found = at >= 0
        for name, chosen in kinds.items():
            per_code[name] += np.bincount(at[found], weights=chosen[found],
                                          minlength=n_codes).astype(np.int64)
    return AccountIndex(ids=ids, code=code, orders=_order_columns(counts),
                        coupon_only=_order_columns(per_code)[s.COUPON_ONLY],
                        disposable=_disposable_by_code(coded), order_rows=order_rows)


def account_profiles(
    accounts: pd.DataFrame,
    index: AccountIndex,
    coded: CodedIncidence,
    suppressed: np.ndarray,
    n_accounts: np.ndarray,
    linked: tuple[np.ndarray, np.ndarray],
    *,
    config: GraphConfig,
) -> pd.DataFrame:
    """One row per account of ``accounts`` (sorted by account_id): s.PROFILE_COLUMNS.

    ``index`` is :func:`index_accounts` of the same accounts; ``suppressed``
    and ``n_accounts`` are per group (value); ``linked`` holds the account
    codes (a, b) of pairs sharing a linking value, for bursts.
    """
    ids = index.ids
    # the ids' own strings (those of the accounts table, as a rule), not a copy of them
    profiles = pd.DataFrame({s.ACCOUNT_ID: ids.array}).astype({s.ACCOUNT_ID: "str"})
    if s.CREATED_AT not in accounts.columns:
        created_at = pd.Series(pd.NaT, index=ids, dtype="datetime64[ns, UTC]")
    elif len(accounts) == len(ids) and strictly_ascending(accounts[s.ACCOUNT_ID].astype("str")):
        # the table is its own profile order: no lookup of the ids
        created_at = pd.to_datetime(accounts[s.CREATED_AT], utc=True)
    else:
        created = accounts.drop_duplicates(s.ACCOUNT_ID).set_index(s.ACCOUNT_ID)
        created_at = pd.to_datetime(created[s.CREATED_AT], utc=True).reindex(ids)
    profiles[s.CREATED_AT] = created_at.reset_index(drop=True)

    n_codes = len(coded.accounts)
    # decided once per value, then spread to its rows
    person_value = ((tier_codes(coded, coded.kind[coded.first_row]) == TIER_CODES.index(s.T_PERSON))
                    & ~suppressed)
    person = person_value[coded.group]
    own = (person_value & (n_accounts == 1))[coded.group]
    identity_kind = identity_kinds(coded)
    own_identity = own & identity_kind[coded.kind]
    per_code = {
        s.N_PERSON_IDS: np.bincount(coded.account[person], minlength=n_codes),
        s.N_OWN_PERSON_IDS: np.bincount(coded.account[own], minlength=n_codes),
        s.HAS_OWN_IDENTITY: np.bincount(coded.account[own_identity], minlength=n_codes) > 0,
        s.DISPOSABLE_EMAIL: index.disposable,
    }
    code = index.code
    present = code >= 0
    for column, values in per_code.items():
        # counts of one account's identifiers and orders: int32 (the profiles are kept
        # to the end of the run; no file holds them)
        out = np.zeros(len(ids), dtype=np.int32 if values.dtype.kind in "iu" else values.dtype)
        out[present] = values[code[present]]
        profiles[column] = out

    profiles = profiles.assign(**index.orders)
    profiles[s.BURST_SIZE] = _burst_sizes(profiles, coded, code, linked, config=config)
    return profiles.loc[:, list(s.PROFILE_COLUMNS)]


def farmed_accounts(index: AccountIndex) -> np.ndarray:
    """Per account code: a coupon-only history or a disposable mailbox (no link needed)."""
    return index.coupon_only | index.disposable


def with_burst_sizes(
    profiles: pd.DataFrame,
    coded: CodedIncidence,
    code: np.ndarray,
    linked: tuple[np.ndarray, np.ndarray],
    *,
    config: GraphConfig,
) -> pd.DataFrame:
    """``profiles`` with ``burst_size`` counted again over the pairs ``linked``.

    ``code`` is each profile's account code (-1 none). The other facts do not
    depend on which values link, so a change of hubs recounts only the bursts.
    """
    sizes = _burst_sizes(profiles, coded, code, linked, config=config)
    return profiles.assign(**{s.BURST_SIZE: sizes})


def _disposable_by_code(coded: CodedIncidence) -> np.ndarray:
    flags = np.zeros(len(coded.accounts), dtype=bool)
    if s.K_EMAIL not in coded.kinds:
        return flags
    rows = np.flatnonzero(coded.kind == coded.kinds.index(s.K_EMAIL))
    emails = pd.Series(pd.array(text_array(coded.frame[s.VALUE], rows), dtype="str"))
    disposable = _disposable(emails)
    flags[coded.account[rows[disposable]]] = True
    return flags


def _disposable(emails: pd.Series) -> np.ndarray:
    """True for a mailbox on a throwaway domain, judged once per distinct domain."""
    addresses = pa.array(emails.array) if isinstance(emails.array, pd.arrays.ArrowStringArray) \
        else pa.array(emails.astype(object), type=pa.large_string(), from_pandas=True)
    domain = pc.replace_substring_regex(addresses, pattern="^.*@", replacement="")
    distinct = pd.Series(pc.unique(domain).to_pylist(), dtype="str")
    throwaway = distinct[disposable_email("x@" + distinct).to_numpy(dtype=bool)]
    hit = pc.is_in(domain, value_set=pa.array(throwaway.tolist(), type=domain.type))
    return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


def _order_counts(
    orders: pd.DataFrame, ids: pd.Index
) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, dict[str, np.ndarray]] | None,
           np.ndarray]:
    """Orders, orders with a coupon and new-user orders per id of ``ids``.

    Also the orders of accounts not in ``ids``, as (their account ids, per
    count the orders it counts), or None when there are none; and per order
    its account's position in ``ids`` (-1 none), as int32.
    """
    zero = np.zeros(len(ids), dtype=np.int64)
    if s.ACCOUNT_ID not in orders.columns or orders.empty:
        return ({_N_ORDERS: zero, _N_COUPON: zero, _N_NEW_USER: zero}, None,
                np.full(len(orders), -1, dtype=np.int32))
    used_coupon = np.zeros(len(orders), dtype=bool)
    for column in (s.COUPON_CODE, s.COUPON_TYPE):
        if column in orders.columns:
            used_coupon |= _text_rule(orders[column], _used)
    new_user = welcome_orders(orders)
    account_ids = orders[s.ACCOUNT_ID]
    order_rows = _order_rows(account_ids, ids)
    known = order_rows >= 0
    counts = {
        _N_ORDERS: np.bincount(order_rows[known], minlength=len(ids)),
        _N_COUPON: np.bincount(order_rows[known & used_coupon], minlength=len(ids)),
        _N_NEW_USER: np.bincount(order_rows[known & new_user], minlength=len(ids)),
    }
    if known.all():
        return counts, None, order_rows
    unknown = np.flatnonzero(~known)
    return counts, (account_ids.take(unknown).astype("str"),
                    {_N_ORDERS: np.ones(len(unknown), dtype=bool),
                     _N_COUPON: used_coupon[unknown], _N_NEW_USER: new_user[unknown]}), \
        order_rows


def _summary_counts(
    summary: pd.DataFrame, ids: pd.Index
) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, dict[str, np.ndarray]] | None,
           np.ndarray]:
    """:func:`_order_counts` read from an order summary (``schemas.ORDER_SUMMARY_COLUMNS``):
    no order's position (the orders are not here)."""
    at = positions(summary[s.ACCOUNT_ID].astype("str"), ids)
    known = at >= 0
    read = {_N_ORDERS: s.N_ORDERS, _N_COUPON: s.O_COUPON, _N_NEW_USER: s.O_WELCOME}
    counts = {}
    for name, column in read.items():
        counts[name] = np.zeros(len(ids), dtype=np.int64)
        counts[name][at[known]] = summary[column].to_numpy()[known]
    none = np.zeros(0, dtype=np.int32)
    if known.all():
        return counts, None, none
    unknown = np.flatnonzero(~known)
    return counts, (summary[s.ACCOUNT_ID].take(unknown).astype("str"),
                    {name: summary[column].to_numpy()[unknown]
                     for name, column in read.items()}), none


def welcome_orders(orders: pd.DataFrame) -> np.ndarray:
    """Per order, whether its coupon type is the welcome coupon's (``new_user``)."""
    if s.COUPON_TYPE not in orders.columns:
        return np.zeros(len(orders), dtype=bool)
    return _text_rule(orders[s.COUPON_TYPE], _new_user)


def _used(text: pd.Series) -> pd.Series:
    """A coupon field that names a coupon: not missing, not blank."""
    stripped = text.str.strip()
    return stripped.notna() & (stripped != "")


def _new_user(text: pd.Series) -> pd.Series:
    """A coupon type that is the welcome coupon's."""
    return (text.str.strip().str.lower() == s.NEW_USER).fillna(False)


def _text_rule(values: pd.Series, rule: Callable[[pd.Series], pd.Series]) -> np.ndarray:
    """``rule`` of each value's text, True or False per row (False where missing).

    Of a categorical, judged once per category: its rows follow their codes (the
    orders' coupon words are a few categories over millions of rows).
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        words = pd.Series(values.dtype.categories).astype("str")
        judged = rule(words).to_numpy(dtype=bool, na_value=False)
        return np.append(judged, False)[values.array.codes]
    return rule(values.astype("str")).to_numpy(dtype=bool, na_value=False)


def _order_rows(account_ids: pd.Series, ids: pd.Index) -> np.ndarray:
    """Per order the position of its account in ``ids`` (-1 none), int32.

    Orders whose ids are a categorical of ``ids`` themselves (the pipeline codes
    them so) have the positions as their codes: no id is looked up.
    """
    if isinstance(account_ids.dtype, pd.CategoricalDtype):
        codes = account_ids.array.codes
        categories = account_ids.dtype.categories
        if len(categories) == len(ids) and pd.api.types.is_string_dtype(categories.dtype):
            found = positions(pd.Index(categories), ids)
            if np.array_equal(found, np.arange(len(ids))):
                return codes if codes.dtype == np.int32 else codes.astype(np.int32)
        return positions(account_ids, ids).astype(np.int32)
    return positions(account_ids.astype("str"), ids).astype(np.int32)


def _order_columns(counts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """n_orders, n_new_user_orders, coupon_only (every order used a coupon, at most 2)."""
    n_orders = counts[_N_ORDERS]
    return {
        s.N_ORDERS: n_orders.astype(np.int32),
        s.N_NEW_USER_ORDERS: counts[_N_NEW_USER].astype(np.int32),
        s.COUPON_ONLY: (n_orders >= 1) & (n_orders <= _COUPON_ONLY_MAX_ORDERS)
        & (counts[_N_COUPON] == n_orders),
    }


def _burst_sizes(
    profiles: pd.DataFrame,
    coded: CodedIncidence,
    code: np.ndarray,
    linked: tuple[np.ndarray, np.ndarray],
    *,
    config: GraphConfig,
) -> np.ndarray:
    """Accounts sharing a linking value with each account created within burst_days, itself included."""
    created_ns = np.full(len(coded.accounts), NAT, dtype=np.int64)
    present = code >= 0
    created_ns[code[present]] = to_ns(profiles[s.CREATED_AT])[present]
    a, b = linked
    window = config.burst_days * 86_400 * 10**9
    close = ((created_ns[a] != NAT) & (created_ns[b] != NAT)
             & (np.abs(created_ns[a] - created_ns[b]) <= window))
    n_codes = len(coded.accounts)
    per_code = (np.bincount(a[close], minlength=n_codes)
                + np.bincount(b[close], minlength=n_codes) + 1)
    sizes = np.ones(len(code), dtype=np.int32)
    sizes[present] = per_code[code[present]]
    return sizes


def identity_kinds(coded: CodedIncidence) -> np.ndarray:
    """Per kind code of ``coded``: whether the kind names a person's identity (phone
    number, card, device)."""
    return np.array([k in _IDENTITY_KINDS for k in coded.kinds] or [False])
