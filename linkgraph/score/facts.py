"""Per-account facts the coupon-abuse score is built from (one row per account).

Everything here is vectorised: orders and identifiers are mapped to integer
account positions once, then counted with ``np.bincount`` / groupby.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph import schemas as s
from linkgraph.config import CouponConfig
from linkgraph.graph import LinkSet
from linkgraph.load import Tables

#: identifier classes the "one card, device or address behind many redeemers"
#: features count; card fingerprints and card digits are one class
CARD, DEVICE, ADDRESS, PICKUP = 0, 1, 2, 3
CLASS_NAMES = ("card", "device", "address", "pickup")
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

DAY = pd.Timedelta(days=1)


def days(values: pd.Series) -> np.ndarray:
    """Timestamps as float days since the epoch (NaN where missing)."""
    stamps = pd.to_datetime(values, utc=True, errors="coerce")
    return ((stamps - pd.Timestamp(0, tz="UTC")) / DAY).to_numpy(dtype="float64", na_value=np.nan)


def positions(index: pd.Index, values: pd.Series | pd.Index) -> np.ndarray:
    """The position of each value in ``index`` (-1 when absent).

    Arrow's hash lookup is several times faster than ``Index.get_indexer`` on
    millions of strings; other types fall back to pandas.
    """
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    try:
        needles = pa.array(values, from_pandas=True)
        haystack = pa.array(index, from_pandas=True)
        if haystack.type != needles.type:
            haystack = haystack.cast(needles.type)
        found = pc.index_in(needles, value_set=haystack)
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return index.get_indexer(values).astype(np.int64)


def column(frame: pd.DataFrame, name: str) -> pd.Series:
    """``frame[name]``, or an all-NA column when the frame lacks it."""
    if name in frame.columns:
        return frame[name]
    return pd.Series(pd.NA, index=frame.index, dtype="object")


def arrow_text(values: pd.Series) -> pa.Array:
    """A column as an Arrow string array, trimmed, with empty strings as nulls."""
    array = pa.array(values, from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if pa.types.is_null(array.type):
        return pa.nulls(len(array), pa.string())
    if not (pa.types.is_string(array.type) or pa.types.is_large_string(array.type)):
        array = array.cast(pa.string())
    array = pc.utf8_trim_whitespace(array)
    return pc.if_else(pc.equal(array, ""), pa.scalar(None, array.type), array)


def _flags(array: pa.Array) -> np.ndarray:
    return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


def account_facts(
    accounts: pd.DataFrame, links: LinkSet, tables: Tables, *, config: CouponConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Facts per account and the redeemers' identifiers.

    Args:
        accounts: ``account_id, cluster_id, person_cluster_id``, one row per account.
        links: the graph stage's output (incidence, profiles).
        tables: the input tables (orders, accounts, sanctions).
        config: the coupon settings.

    Returns:
        ``facts``: one row per account, aligned with ``accounts``: created (days),
        n_orders, n_new_user, redeemer, coupon_only, n_near_min, disposable,
        own_identity, blocked.
        ``identifiers``: one row per (redeemer, identifier) of the non-junk
        card, device, phone and address values: ``pos`` (account position),
        ``kind`` (index into ``schemas.KINDS``), ``cls`` (card/device/
        address/pickup, -1 for phones), ``vkey`` (an integer per (kind, value))
        and ``row`` (its row in ``links.incidence``).
    """
    index = pd.Index(accounts[s.ACCOUNT_ID])
    n = len(index)
    facts = pd.DataFrame(index=pd.RangeIndex(n))

    created = np.full(n, np.nan)
    for source in (tables.accounts, links.profiles):
        if {s.ACCOUNT_ID, s.CREATED_AT} <= set(source.columns) and np.isnan(created).all():
            created = _per_account(index, source[s.ACCOUNT_ID], days(source[s.CREATED_AT]))
    facts["created"] = created

    order_facts = _order_facts(tables.orders, index, config=config)
    facts = pd.concat([facts, order_facts], axis=1)
    redeemer = facts["n_new_user"].to_numpy() > 0
    facts["redeemer"] = redeemer

    incidence = links.incidence
    pos = positions(index, incidence[s.ACCOUNT_ID])
    kind = np.full(len(incidence), -1, dtype=np.int64)
    kinds = pa.array(incidence[s.KIND], from_pandas=True)
    for code, name in enumerate(s.KINDS):
        kind[_flags(pc.equal(kinds, name))] = code
    suppressed = arrow_text(column(incidence, s.SUPPRESSED))
    clean = _flags(pc.is_null(suppressed))
    pickup = _flags(pc.equal(suppressed, _PICKUP))

    facts["own_identity"] = _own_identity(incidence, pos, kind, clean, n)
    facts["disposable"] = _disposable(links, pos, kind, index)
    identifiers = _redeemer_identifiers(incidence, pos, kind, clean, pickup, redeemer)

    sanctions = tables.sanctions
    blocked = np.zeros(n, dtype=bool)
    if {s.ACCOUNT_ID, s.ACTION} <= set(sanctions.columns) and len(sanctions):
        hit = sanctions[s.ACTION].isin(s.BLOCKING_ACTIONS).to_numpy(dtype=bool)
        blocked_pos = positions(index, sanctions.loc[hit, s.ACCOUNT_ID])
        blocked[blocked_pos[blocked_pos >= 0]] = True
    facts["blocked"] = blocked
    return facts, identifiers


def _order_facts(orders: pd.DataFrame, index: pd.Index, *, config: CouponConfig) -> pd.DataFrame:
    """n_orders, n_new_user, coupon_only, n_near_min per account position."""
    n = len(index)
    if s.ACCOUNT_ID not in orders.columns or orders.empty:
        zeros = np.zeros(n, dtype=np.int64)
        return pd.DataFrame({"n_orders": zeros, "n_new_user": zeros,
                             "coupon_only": zeros.astype(bool), "n_near_min": zeros})
    pos = positions(index, orders[s.ACCOUNT_ID])
    known = pos >= 0
    pos = pos[known]

    coupon_type = pc.utf8_lower(arrow_text(column(orders, s.COUPON_TYPE)).filter(known))
    coupon_code = arrow_text(column(orders, s.COUPON_CODE)).filter(known)
    new_user = _flags(pc.is_in(coupon_type, value_set=pa.array(config.new_user_types,
                                                                  coupon_type.type)))
    has_coupon = _flags(pc.or_(pc.is_valid(coupon_type), pc.is_valid(coupon_code)))
    amount = pd.to_numeric(column(orders, s.AMOUNT), errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan)[known]
    currency, _ = pd.factorize(arrow_text(column(orders, s.CURRENCY)).filter(known)
                               .to_pandas(), use_na_sentinel=False)
    when = days(column(orders, s.CREATED_AT))[known]

    n_orders = np.bincount(pos, minlength=n)
    n_new_user = np.bincount(pos, weights=new_user, minlength=n).astype(np.int64)
    n_coupon = np.bincount(pos, weights=has_coupon, minlength=n).astype(np.int64)

    # "small": below a fixed amount, or below the currency's usual order (quantile)
    if config.small_order_amount is not None:
        limit = np.full(len(pos), config.small_order_amount)
    else:
        usual = pd.Series(amount).groupby(currency).quantile(config.small_order_quantile)
        limit = usual.reindex(currency).to_numpy(dtype="float64")
    large = amount > limit  # a missing amount is not evidence of a large order
    n_large = np.bincount(pos, weights=large, minlength=n)

    last = np.full(n, -np.inf)
    np.maximum.at(last, pos, np.where(np.isnan(when), -np.inf, when))
    as_of = np.nanmax(when) if not np.isnan(when).all() else np.nan
    # silence is only required when the data has order times at all
    silent = np.isinf(last) | np.isnan(as_of) | (last <= as_of - config.silence_days)
    coupon_only = (
        (n_orders >= 1) & (n_orders <= config.coupon_only_max_orders) & (n_coupon == n_orders)
        & (n_new_user >= 1) & (n_large == 0) & silent
    )

    code = pc.coalesce(coupon_code, coupon_type)
    near = new_user & _near_minimum(code, currency, amount, has_coupon, config=config)
    n_near_min = np.bincount(pos, weights=near, minlength=n).astype(np.int64)
    return pd.DataFrame({
        "n_orders": n_orders, "n_new_user": n_new_user, "coupon_only": coupon_only,
        "n_near_min": n_near_min,
    })


def _near_minimum(
    code: pa.Array, currency: np.ndarray, amount: np.ndarray, has_coupon: np.ndarray,
    *, config: CouponConfig,
) -> np.ndarray:
    """Orders at most ``margin`` above their coupon's minimum (inferred per code and currency).

    A coupon with a minimum spend shows a floor in its orders' amounts: the
    low quantile of the amounts of the code's orders estimates it. Codes with
    too few orders to see a floor flag nothing.
    """
    usable = has_coupon & ~np.isnan(amount) & _flags(pc.is_valid(code))
    if not usable.any():
        return np.zeros(len(amount), dtype=bool)
    code_codes, _ = pd.factorize(code.to_pandas(), use_na_sentinel=False)
    key = code_codes.astype(np.int64) * (int(currency.max()) + 1) + currency
    sub = pd.Series(amount[usable]).groupby(key[usable])
    floor = sub.quantile(config.near_min_quantile).where(sub.size() >= config.near_min_min_orders)
    row_floor = floor.reindex(key).to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        return usable & (row_floor > 0) & (amount <= row_floor * (1 + config.near_min_margin))


def _per_account(index: pd.Index, account_id: pd.Series, values: np.ndarray) -> np.ndarray:
    """``values`` (one per row of ``account_id``) placed at each account's position."""
    out = np.full(len(index), np.nan)
    pos = positions(index, account_id)
    out[pos[pos >= 0]] = values[pos >= 0]
    return out


def _redeemer_identifiers(
    incidence: pd.DataFrame, pos: np.ndarray, kind: np.ndarray, clean: np.ndarray,
    pickup: np.ndarray, redeemer: np.ndarray,
) -> pd.DataFrame:
    kinds = np.array([k in _CLASS_OF_KIND or k == s.K_PHONE for k in s.KINDS])
    usable = (pos >= 0) & (kind >= 0) & (clean | pickup)
    usable[usable] &= kinds[kind[usable]] & redeemer[pos[usable]]
    rows = np.flatnonzero(usable)
    class_of = np.array([_CLASS_OF_KIND.get(k, -1) for k in s.KINDS])
    cls = class_of[kind[rows]]
    cls = np.where(pickup[rows] & (cls == ADDRESS), PICKUP, cls)
    values = pa.array(incidence[s.VALUE], from_pandas=True).take(pa.array(rows))
    value_code, uniques = pd.factorize(values.to_pandas(), use_na_sentinel=False)
    return pd.DataFrame({
        "pos": pos[rows], s.KIND: kind[rows], "cls": cls,
        "vkey": kind[rows] * (len(uniques) + 1) + value_code, "row": rows,
    })


def _own_identity(
    incidence: pd.DataFrame, pos: np.ndarray, kind: np.ndarray, clean: np.ndarray, n: int
) -> np.ndarray:
    """An unshared card AND an unshared device: evidence of a distinct person.

    Both are required because one of them alone is cheap to vary (a reinstalled
    app gives a new device id; a virtual card a new fingerprint).
    """
    if s.N_ACCOUNTS in incidence.columns:
        shared_by = pd.to_numeric(incidence[s.N_ACCOUNTS], errors="coerce").to_numpy(
            dtype="float64", na_value=np.nan)
    else:
        shared_by = incidence.groupby([s.KIND, s.VALUE])[s.ACCOUNT_ID].transform("size").to_numpy(
            dtype="float64"
        )
    alone = (shared_by == 1) & clean & (pos >= 0)
    card = (kind == s.KINDS.index(s.K_CARD)) | (kind == s.KINDS.index(s.K_CARD_DIGITS))
    device = kind == s.KINDS.index(s.K_DEVICE)
    has_card = np.bincount(pos[alone & card], minlength=n) > 0
    has_device = np.bincount(pos[alone & device], minlength=n) > 0
    return has_card & has_device


def _disposable(links: LinkSet, pos: np.ndarray, kind: np.ndarray, index: pd.Index) -> np.ndarray:
    profiles = links.profiles
    if "disposable_email" in profiles.columns and s.ACCOUNT_ID in profiles.columns:
        flag = profiles["disposable_email"].astype("boolean").fillna(False)
        return _per_account(index, profiles[s.ACCOUNT_ID], flag.to_numpy(dtype="float64")) == 1
    rows = np.flatnonzero((kind == s.KINDS.index(s.K_EMAIL)) & (pos >= 0))
    emails = arrow_text(links.incidence[s.VALUE]).take(pa.array(rows))
    domain = pc.utf8_lower(pc.replace_substring_regex(emails, pattern="^.*@", replacement=""))
    hit = _flags(pc.is_in(domain, value_set=pa.array(sorted(_DISPOSABLE_DOMAINS), domain.type)))
    return np.bincount(pos[rows[hit]], minlength=len(index)) > 0
