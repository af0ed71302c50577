"""Each input table's identifier columns, as the rows of a source per kind.

``accounts`` gives its own fields at its creation time; ``addresses`` and
``payments`` the canonical address key, card fingerprint or digits and the
names on them, at the times of the orders that used them; ``logins`` the IP
and device of each sign-in, at its time. The kinds are grouped, judged and
assembled in :mod:`linkgraph.normalize.identifiers`.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pandas as pd

from linkgraph import schemas as S
from linkgraph.config import NormalizeConfig
from linkgraph.engine import GIVEN_FIRST, GIVEN_LAST, Engine
from linkgraph.normalize.address import ADDRESS_FIELDS, normalize_addresses
from linkgraph.normalize.grouping import (
    NAT,
    SourceRows,
    decode,
    pooled_codes,
    take_codes,
    text_codes,
)
from linkgraph.normalize.payment import card_digits, normalize_fingerprints
from linkgraph.normalize.phone import normalize_phones
from linkgraph.normalize.text import TEXT, as_text, to_text

#: identifier times: microseconds, UTC
TIME = "datetime64[us, UTC]"
_NEVER = np.iinfo(np.int64).max  # the minimum's start: later than any time


def _micros(values: pd.Series) -> np.ndarray:
    """UTC times as int64 microseconds (``NAT`` when unknown or unparseable)."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        times = values.dt.tz_convert("UTC").astype(TIME)
    else:
        times = pd.to_datetime(values, utc=True, errors="coerce").astype(TIME)
    return np.asarray(times.array.asi8, dtype=np.int64)


def _text(values: pd.Series) -> pd.Series:
    """TEXT with a RangeIndex (blank cells are made NA later, per distinct value)."""
    text = to_text(values)
    return text.reset_index(drop=True)


def _part(source: str, account: np.ndarray, normalized: pd.DataFrame | pd.Series,
          first: np.ndarray, last: np.ndarray, last4: pd.Series | None = None) -> SourceRows:
    """A source of canonical values (a frame of value, suppressed) or raw ones (a Series)."""
    if isinstance(normalized, pd.Series):
        return SourceRows(source, account, _text(normalized), first, last)
    return SourceRows(
        source, account, normalized["value"].astype(TEXT).reset_index(drop=True), first, last,
        suppressed=normalized["suppressed"].astype(TEXT).reset_index(drop=True),
        last4=None if last4 is None else _text(last4),
    )


def account_rows(
    accounts: pd.DataFrame, account: np.ndarray, config: NormalizeConfig, engine: Engine
) -> list[tuple[str, SourceRows]]:
    created = _micros(accounts[S.CREATED_AT])
    phones = engine.map_rows(partial(_phones, default_region=config.default_country),
                             accounts[[S.PHONE, S.COUNTRY]])
    return [
        (S.K_EMAIL, _part("accounts.email", account, accounts[S.EMAIL], created, created)),
        (S.K_PHONE, _part("accounts.phone", account, phones, created, created)),
        (S.K_DEVICE, _part("accounts.device_id", account, accounts[S.DEVICE_ID], created,
                           created)),
        (S.K_IP, _part("accounts.registration_ip", account, accounts[S.REGISTRATION_IP],
                       created, created)),
        (S.K_NAME, _part("accounts.full_name", account, accounts[S.FULL_NAME], created,
                         created)),
    ]


def _order_times(
    table: pd.DataFrame, account: np.ndarray, orders: pd.DataFrame, order_account: np.ndarray,
    key: str,
) -> tuple[np.ndarray, np.ndarray]:
    """First and last time each row's (account, ``key``) was used by an order (``NAT``: never)."""
    if GIVEN_FIRST in table.columns:  # rows an engine reduced and timed (Engine.load_tables)
        return _micros(table[GIVEN_FIRST]), _micros(table[GIVEN_LAST])
    (ids, order_ids), distinct = pooled_codes([table[key], orders[key]])
    # a blank id matches nothing
    usable = np.where(as_text(distinct).isna(), -1, np.arange(len(distinct)))
    ids, order_ids = take_codes(usable, ids), take_codes(usable, order_ids)
    n_ids = max(len(distinct), 1)
    pair = np.where((ids >= 0) & (account >= 0), account * n_ids + ids, -1)
    order_pair = np.where((order_ids >= 0) & (order_account >= 0),
                          order_account * n_ids + order_ids, -1)
    del ids, order_ids
    # the rows' pairs hashed, the orders' looked up in them (an order of no row's pair
    # is not needed)
    groups, uniques = pd.factorize(pair)
    found = pd.Index(uniques).get_indexer(order_pair)
    used = (order_pair >= 0) & (found >= 0)
    at = _micros(orders[S.CREATED_AT])
    first = np.full(len(uniques), _NEVER, dtype=np.int64)
    np.minimum.at(first, found[used], np.where(at == NAT, _NEVER, at)[used])
    first = np.where(first == _NEVER, NAT, first)
    last = np.full(len(uniques), NAT, dtype=np.int64)
    np.maximum.at(last, found[used], at[used])
    return first[groups], last[groups]


def address_rows(
    addresses: pd.DataFrame, orders: pd.DataFrame, account: dict[str, np.ndarray],
    config: NormalizeConfig, engine: Engine,
) -> list[tuple[str, SourceRows]]:
    if not len(addresses):
        return []
    first, last = _order_times(addresses, account["addresses"], orders, account["orders"],
                               S.ADDRESS_ID)
    keys = engine.map_rows(partial(normalize_addresses, pickup_keywords=config.pickup_keywords),
                           addresses[[c for c in ADDRESS_FIELDS if c in addresses.columns]])
    mine = account["addresses"]
    return [
        (S.K_ADDRESS, _part("addresses", mine, keys, first, last)),
        (S.K_NAME, _part("addresses.recipient_name", mine, addresses[S.RECIPIENT_NAME], first,
                         last)),
    ]


def payment_rows(
    payments: pd.DataFrame, orders: pd.DataFrame, account: dict[str, np.ndarray]
) -> list[tuple[str, SourceRows]]:
    if not len(payments):
        return []
    first, last = _order_times(payments, account["payments"], orders, account["orders"],
                               S.PAYMENT_ID)
    mine = account["payments"]
    fingerprints = normalize_fingerprints(payments[S.FINGERPRINT])
    digits = card_digits(payments[S.CARD_BIN], payments[S.CARD_LAST4], payments[S.CARD_EXPIRY],
                         payments[S.HOLDER_NAME])
    # a card without a fingerprint whose bin + last4 + expiry (with the holder's initials,
    # see card_digits) belong to exactly one fingerprinted card is that card (tokenised by one feed and not by another): it takes
    # the fingerprint, and the card's own sharing limits. Digits stand in for the rest;
    # two fingerprinted cards with equal digits but different tokens are different cards,
    # and a bare card matching both is neither's for sure: it meets only bare cards.
    taken = _single_tokens(digits["value"], fingerprints["value"])
    fingerprints = fingerprints.assign(value=fingerprints["value"].fillna(taken))
    digits = digits.assign(value=digits["value"].where(fingerprints["value"].isna()))
    return [
        (S.K_CARD, _part("payments.fingerprint", mine, fingerprints, first, last,
                         last4=payments[S.CARD_LAST4])),
        (S.K_CARD_DIGITS, _part("payments.card_digits", mine, digits, first, last)),
        (S.K_NAME, _part("payments.holder_name", mine, payments[S.HOLDER_NAME], first, last)),
    ]


def _single_tokens(digits: pd.Series, tokens: pd.Series) -> pd.Series:
    """For rows without a token: the one token that every tokenised row with their digits has.

    NA where the row has a token, no digits, or digits that no tokenised row
    or several different tokens have. On integer codes (each string hashed once).
    """
    digit, _ = text_codes(digits)
    token, token_texts = text_codes(tokens)
    n_tokens = max(len(token_texts), 1)
    tokenised = (token >= 0) & (digit >= 0)
    pairs = np.unique(digit[tokenised] * n_tokens + token[tokenised])
    pair_digit, pair_token = pairs // n_tokens, pairs % n_tokens
    n_digits = int(digit.max()) + 1 if len(digit) else 0
    token_of = np.full(n_digits, -1, dtype=np.int64)
    token_of[pair_digit] = pair_token
    token_of[np.bincount(pair_digit, minlength=n_digits) != 1] = -1
    row_token = np.where((token < 0) & (digit >= 0), take_codes(token_of, digit), -1)
    return decode(row_token, token_texts).set_axis(tokens.index)


def login_rows(logins: pd.DataFrame, account: np.ndarray) -> list[tuple[str, SourceRows]]:
    if not len(logins):
        return []
    if GIVEN_FIRST in logins.columns:  # rows an engine reduced and timed (Engine.load_tables)
        first, last = _micros(logins[GIVEN_FIRST]), _micros(logins[GIVEN_LAST])
    else:
        first = last = _micros(logins[S.SEEN_AT])
    return [
        (S.K_IP, _part("logins.ip", account, logins[S.IP], first, last)),
        (S.K_DEVICE, _part("logins.device_id", account, logins[S.DEVICE_ID], first, last)),
    ]


def _phones(rows: pd.DataFrame, *, default_region: str | None) -> pd.DataFrame:
    return normalize_phones(rows[S.PHONE], rows[S.COUNTRY], default_region=default_region)
