"""Per-account facts that corroboration and the coupon score use."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph import schemas as s
from linkgraph.config import GraphConfig
from linkgraph.graph.incidence import NAT, TIER_CODES, CodedIncidence, positions, tier_codes, to_ns
from linkgraph.normalize import disposable_email

#: kinds that make an identity of one's own when nobody else has them (a
#: mailbox does not: it costs nothing to make)
_IDENTITY_KINDS = (s.K_PHONE, s.K_CARD, s.K_CARD_DIGITS, s.K_DEVICE)
_COUPON_ONLY_MAX_ORDERS = 2


def account_profiles(
    accounts: pd.DataFrame,
    orders: pd.DataFrame,
    coded: CodedIncidence,
    suppressed: np.ndarray,
    n_accounts: np.ndarray,
    linked: tuple[np.ndarray, np.ndarray],
    *,
    config: GraphConfig,
) -> pd.DataFrame:
    """One row per account of ``accounts`` (sorted by account_id): s.PROFILE_COLUMNS.

    ``suppressed`` and ``n_accounts`` are per incidence row; ``linked`` holds
    the account codes (a, b) of pairs sharing a linking value, for bursts.
    """
    ids = pd.Index(accounts[s.ACCOUNT_ID].astype("str")).unique().sort_values()
    profiles = pd.DataFrame({s.ACCOUNT_ID: ids.to_numpy()}).astype({s.ACCOUNT_ID: "str"})
    created = accounts.drop_duplicates(s.ACCOUNT_ID).set_index(s.ACCOUNT_ID)
    created_at = (
        pd.to_datetime(created[s.CREATED_AT], utc=True).reindex(ids)
        if s.CREATED_AT in created.columns
        else pd.Series(pd.NaT, index=ids, dtype="datetime64[ns, UTC]")
    )
    profiles[s.CREATED_AT] = created_at.reset_index(drop=True)

    n_codes = len(coded.accounts)
    person = (tier_codes(coded) == TIER_CODES.index(s.T_PERSON)) & ~suppressed
    own = person & (n_accounts == 1)
    identity_kind = np.array([k in _IDENTITY_KINDS for k in coded.kinds] or [False])
    own_identity = own & identity_kind[coded.kind]
    per_code = {
        s.N_PERSON_IDS: np.bincount(coded.account[person], minlength=n_codes),
        s.N_OWN_PERSON_IDS: np.bincount(coded.account[own], minlength=n_codes),
        s.HAS_OWN_IDENTITY: np.bincount(coded.account[own_identity], minlength=n_codes) > 0,
        s.DISPOSABLE_EMAIL: _disposable_by_code(coded),
    }
    code = positions(ids, coded.accounts)
    present = code >= 0
    for column, values in per_code.items():
        out = np.zeros(len(ids), dtype=values.dtype)
        out[present] = values[code[present]]
        profiles[column] = out

    profiles = _order_facts(profiles, orders, ids)
    profiles[s.BURST_SIZE] = _burst_sizes(profiles, coded, code, linked, config=config)
    return profiles.loc[:, list(s.PROFILE_COLUMNS)]


def farmed_accounts(accounts: pd.DataFrame, orders: pd.DataFrame,
                    coded: CodedIncidence) -> np.ndarray:
    """Per account code: a coupon-only history or a disposable mailbox (no link needed)."""
    ids = pd.Index(coded.accounts)
    facts = _order_facts(pd.DataFrame(index=np.arange(len(ids))), orders, ids)
    return facts[s.COUPON_ONLY].to_numpy(dtype=bool) | _disposable_by_code(coded)


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
    emails = coded.frame[s.VALUE].take(rows).astype("str")
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


def _order_facts(profiles: pd.DataFrame, orders: pd.DataFrame, ids: pd.Index) -> pd.DataFrame:
    """n_orders, n_new_user_orders, coupon_only (every order used a coupon, at most 2)."""
    if s.ACCOUNT_ID not in orders.columns or orders.empty:
        zero = np.zeros(len(ids), dtype=np.int64)
        return profiles.assign(**{s.N_ORDERS: zero, s.N_NEW_USER_ORDERS: zero,
                                  s.COUPON_ONLY: np.zeros(len(ids), dtype=bool)})
    used_coupon = np.zeros(len(orders), dtype=bool)
    for column in (s.COUPON_CODE, s.COUPON_TYPE):
        if column in orders.columns:
            text = orders[column].astype("str").str.strip()
            used_coupon |= (text.notna() & (text != "")).to_numpy(dtype=bool)
    new_user = np.zeros(len(orders), dtype=bool)
    if s.COUPON_TYPE in orders.columns:
        coupon_type = orders[s.COUPON_TYPE].astype("str").str.strip().str.lower()
        new_user = (coupon_type == s.NEW_USER).fillna(False).to_numpy(dtype=bool)
    account = positions(orders[s.ACCOUNT_ID].astype("str"), ids)
    known = account >= 0
    n_orders = np.bincount(account[known], minlength=len(ids))
    n_coupon = np.bincount(account[known & used_coupon], minlength=len(ids))
    return profiles.assign(**{
        s.N_ORDERS: n_orders.astype(np.int64),
        s.N_NEW_USER_ORDERS: np.bincount(account[known & new_user], minlength=len(ids)).astype(
            np.int64),
        s.COUPON_ONLY: (n_orders >= 1) & (n_orders <= _COUPON_ONLY_MAX_ORDERS)
        & (n_coupon == n_orders),
    })


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
    sizes = np.ones(len(code), dtype=np.int64)
    sizes[present] = per_code[code[present]]
    return sizes
