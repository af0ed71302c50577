"""Each input table's identifier columns, as the rows of a source per kind.

``accounts`` gives its own fields at its creation time; ``addresses`` and
``payments`` the canonical address key, card fingerprint or digits and the
names on them, at the times of the orders that used them; ``logins`` the IP
and device of each sign-in, at its time. The kinds are grouped, judged and
assembled in :mod:`linkgraph.normalize.identifiers`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from functools import partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph import schemas as S
from linkgraph.codes import sorted_keys, sorted_unique
from linkgraph.config import NormalizeConfig
from linkgraph.engine import GIVEN_FIRST, GIVEN_LAST, Engine
from linkgraph.normalize.address import ADDRESS_FIELDS, normalize_addresses
from linkgraph.normalize.grouping import (
    NAT,
    Coded,
    SourceRows,
    compacted,
    narrow_codes,
    pooled_codes,
    source_rows,
    take_codes,
    text_codes,
)
from linkgraph.normalize.payment import card_digits, normalize_fingerprints
from linkgraph.normalize.phone import normalize_phones
from linkgraph.normalize.text import TEXT, arrow_flags, arrow_text, as_text, to_text

#: identifier times: microseconds, UTC
TIME = "datetime64[us, UTC]"
_NEVER = np.iinfo(np.int64).max  # the minimum's start: later than any time


#: rows a normaliser is given at a time on the local engine (see map_sliced)
SLICE = 1 << 18


def map_sliced(engine: Engine, rule: Callable[[pd.DataFrame], pd.DataFrame],
               rows: pd.DataFrame) -> pd.DataFrame:
    """``engine.map_rows(rule, rows)``, given ``SLICE`` rows at a time on the local engine.

    The rules are per row (every engine may split the rows as it likes), so the
    result is the same; the normalisers' working copies of the strings exist
    for a slice at a time (at a million accounts the address rules' were 0.45 GB).

    >>> from linkgraph.engine import LOCAL
    >>> upper = lambda rows: pd.DataFrame({"value": rows["raw"].str.upper()})
    >>> map_sliced(LOCAL, upper, pd.DataFrame({"raw": ["a", "b"]}))["value"].tolist()
    ['A', 'B']
    """
    if engine.name != "local" or len(rows) <= SLICE:
        return engine.map_rows(rule, rows)
    return pd.concat([engine.map_rows(rule, rows.iloc[start:start + SLICE])
                      for start in range(0, len(rows), SLICE)])


def micros_of(values: pd.Series) -> np.ndarray:
    """UTC times as int64 microseconds (``NAT`` when unknown or unparseable).

    >>> micros_of(pd.Series(["1970-01-01T00:00:01Z", None])).tolist() == [1_000_000, NAT]
    True
    """
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        times = values.dt.tz_convert("UTC").astype(TIME)
    else:
        times = pd.to_datetime(values, utc=True, errors="coerce").astype(TIME)
    return np.asarray(times.array.asi8, dtype=np.int64)


def login_times(logins: pd.DataFrame, pool: Executor
                ) -> tuple[Future[np.ndarray], Future[np.ndarray]]:
    """The first and last time of each sign-in row, computed in ``pool``: its own time twice,
    or the first and last of the sign-ins an engine reduced the row from
    (``Engine.load_tables(..., reduced=True)``)."""
    if GIVEN_FIRST in logins.columns:
        return (pool.submit(micros_of, logins[GIVEN_FIRST]),
                pool.submit(micros_of, logins[GIVEN_LAST]))
    seen = pool.submit(micros_of, logins[S.SEEN_AT])
    return seen, seen


def _part(source: str, account: np.ndarray, normalized: pd.DataFrame | pd.Series,
          first: np.ndarray, last: np.ndarray, last4: pd.Series | None = None) -> SourceRows:
    """A source of canonical values (a frame of value, suppressed) or raw ones (a Series),
    as codes (blank raw cells are made NA later, per distinct value)."""
    if isinstance(normalized, pd.Series):
        return source_rows(source, account, to_text(normalized), first, last)
    return source_rows(source, account, normalized["value"].astype(TEXT), first, last,
                       suppressed=normalized["suppressed"].astype(TEXT),
                       last4=None if last4 is None else to_text(last4))


def account_rows(
    accounts: pd.DataFrame, account: np.ndarray, config: NormalizeConfig, engine: Engine, *,
    ip: Coded | None = None,
) -> list[tuple[str, SourceRows]]:
    """The accounts' own fields, at their creation time; ``ip``: the registration IPs
    already coded (``narrow_codes``, by the load: not hashed again)."""
    created = micros_of(accounts[S.CREATED_AT])
    phones = map_sliced(engine, partial(phone_rule, default_region=config.default_country),
                        accounts[[S.PHONE, S.COUNTRY]])
    return [
        (S.K_EMAIL, _part("accounts.email", account, accounts[S.EMAIL], created, created)),
        (S.K_PHONE, _part("accounts.phone", account, phones, created, created)),
        (S.K_DEVICE, _part("accounts.device_id", account, accounts[S.DEVICE_ID], created,
                           created)),
        (S.K_IP, _part("accounts.registration_ip", account, accounts[S.REGISTRATION_IP],
                       created, created) if ip is None else
         SourceRows("accounts.registration_ip", account, ip, created, created)),
        (S.K_NAME, _part("accounts.full_name", account, accounts[S.FULL_NAME], created,
                         created)),
    ]


def _order_times(
    table: pd.DataFrame, account: np.ndarray, orders: pd.DataFrame, order_account: np.ndarray,
    key: str,
) -> tuple[np.ndarray, np.ndarray]:
    """First and last time each row's (account, ``key``) was used by an order (``NAT``: never).

    An order matches the rows of its own account with an equal, non-blank ``key``.
    Most accounts have a few rows: each order's id is compared with the id of
    each row of its account in turn (at most ``_FEW``), so that no id is hashed;
    the rows of accounts with more are matched by hashing their ids and their
    accounts' orders' (:func:`_hashed_order_times`).
    """
    if GIVEN_FIRST in table.columns:  # rows an engine reduced and timed (Engine.load_tables)
        return micros_of(table[GIVEN_FIRST]), micros_of(table[GIVEN_LAST])
    ids = _large(arrow_text(as_text(table[key])))  # a blank id matches nothing
    account = np.asarray(account)
    first = np.full(len(table), _NEVER, dtype=np.int64)
    last = np.full(len(table), NAT, dtype=np.int64)
    usable = np.flatnonzero((account >= 0) & arrow_flags(pc.is_valid(ids)))
    n_accounts = int(max(account.max(initial=-1), order_account.max(initial=-1))) + 1
    # each account's usable rows together: its k-th is rows[start[account] + k]
    _, order = sorted_keys(account[usable])
    rows = usable[order]
    del usable, order
    counts = np.bincount(account[rows], minlength=n_accounts)
    start = np.cumsum(counts) - counts
    heavy = counts > _FEW
    order_ids = to_text(orders[key]).array.__arrow_array__()
    for at in range(0, len(orders), _ORDER_SLICE):
        stop = min(at + _ORDER_SLICE, len(orders))
        of = np.asarray(order_account[at:stop], dtype=np.int64)
        known = np.maximum(of, 0)
        few = np.where((of >= 0) & ~heavy[known], counts[known], 0)
        if not few.any():
            continue
        times = micros_of(orders[S.CREATED_AT].iloc[at:stop])
        window = _large(order_ids.slice(at, stop - at).combine_chunks())
        for k in range(int(few.max())):
            chosen = np.flatnonzero(few > k)
            row = rows[start[of[chosen]] + k]
            same = arrow_flags(pc.equal(window.take(pa.array(chosen)), ids.take(pa.array(row))))
            _note_times(first, last, row[same], times[chosen[same]])
    if heavy.any():
        _hashed_order_times(first, last, ids, rows[heavy[account[rows]]], account, orders,
                            order_account, heavy, key)
    first[first == _NEVER] = NAT
    return first, last


#: the most rows of one account whose ids each order is compared with (_order_times)
_FEW = 8
#: orders looked up at a time in _order_times
_ORDER_SLICE = 1 << 20


def _note_times(first: np.ndarray, last: np.ndarray, at: np.ndarray, times: np.ndarray) -> None:
    """The earliest and the latest of ``times`` (NaT: none) kept in ``first``/``last`` at ``at``."""
    np.minimum.at(first, at, np.where(times == NAT, _NEVER, times))
    np.maximum.at(last, at, times)


def _hashed_order_times(first: np.ndarray, last: np.ndarray, ids: pa.Array, rows: np.ndarray,
                        account: np.ndarray, orders: pd.DataFrame, order_account: np.ndarray,
                        heavy: np.ndarray, key: str) -> None:
    """:func:`_order_times` of the usable ``rows`` of the ``heavy`` accounts: their ids and
    their accounts' orders' hashed together, each order's (account, id) looked up."""
    of = np.asarray(order_account, dtype=np.int64)
    theirs = np.flatnonzero((of >= 0) & heavy[np.maximum(of, 0)])
    (row_id, order_id), _ = pooled_codes([
        pd.Series(TEXT.__from_arrow__(pa.chunked_array([ids.take(pa.array(rows))]))),
        to_text(orders[key].iloc[theirs])])
    n_ids = int(max(row_id.max(initial=-1), order_id.max(initial=-1))) + 1
    pairs, pair_of = np.unique(account[rows].astype(np.int64) * n_ids + row_id,
                               return_inverse=True)
    wanted = of[theirs] * n_ids + order_id
    found = np.minimum(np.searchsorted(pairs, wanted), len(pairs) - 1)
    hit = np.flatnonzero((order_id >= 0) & (pairs[found] == wanted))
    pair_first = np.full(len(pairs), _NEVER, dtype=np.int64)
    pair_last = np.full(len(pairs), NAT, dtype=np.int64)
    _note_times(pair_first, pair_last, found[hit],
                micros_of(orders[S.CREATED_AT].iloc[theirs[hit]]))
    first[rows] = pair_first[pair_of]
    last[rows] = pair_last[pair_of]


def _large(array: pa.Array) -> pa.Array:
    """A string array as ``large_string`` (two arrays compared must be of one type)."""
    return array if array.type == pa.large_string() else array.cast(pa.large_string())


def address_rows(
    addresses: pd.DataFrame, orders: pd.DataFrame, account: dict[str, np.ndarray],
    config: NormalizeConfig, engine: Engine,
) -> list[tuple[str, SourceRows]]:
    if not len(addresses):
        return []
    first, last = _order_times(addresses, account["addresses"], orders, account["orders"],
                               S.ADDRESS_ID)
    keys = map_sliced(engine, partial(normalize_addresses, pickup_keywords=config.pickup_keywords),
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
    fingerprints, digits = card_words(payments)
    # a card without a fingerprint whose bin + last4 + expiry (with the holder's initials,
    # see card_digits) belong to exactly one fingerprinted card is that card (tokenised by one feed and not by another): it takes
    # the fingerprint, and the card's own sharing limits. Digits stand in for the rest;
    # two fingerprinted cards with equal digits but different tokens are different cards,
    # and a bare card matching both is neither's for sure: it meets only bare cards.
    tokens, digit_values = _card_codes(digits["value"], fingerprints["value"])
    return [
        (S.K_CARD, SourceRows("payments.fingerprint", mine, tokens, first, last,
                              suppressed=narrow_codes(fingerprints["suppressed"].astype(TEXT)),
                              last4=narrow_codes(as_text(payments[S.CARD_LAST4])))),
        (S.K_CARD_DIGITS, SourceRows("payments.card_digits", mine, digit_values, first, last,
                                     suppressed=narrow_codes(digits["suppressed"].astype(TEXT)))),
        (S.K_NAME, _part("payments.holder_name", mine, payments[S.HOLDER_NAME], first, last)),
    ]


def card_words(payments: pd.DataFrame, *, namesakes: bool = True
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The payment rows' card fingerprints (``normalize_fingerprints``) and digits
    (``card_digits``, with the holder's initials), each a frame of value and suppressed;
    ``namesakes``: as ``card_digits`` (False: a rule per row)."""
    return (normalize_fingerprints(payments[S.FINGERPRINT]),
            card_digits(payments[S.CARD_BIN], payments[S.CARD_LAST4], payments[S.CARD_EXPIRY],
                        payments[S.HOLDER_NAME], namesakes=namesakes))


def _card_codes(digits: pd.Series, tokens: pd.Series) -> tuple[Coded, Coded]:
    """The rows' tokens and digits as codes (-1: none), each column hashed once.

    A row without a token takes the one token that every tokenised row with its
    digits has (none where no tokenised row or several different tokens have
    them); a row keeps its digits only while it has no token. The distinct values
    are those some row has (``narrow_codes`` of the columns so changed, up to order).
    """
    digit, digit_texts = text_codes(digits)
    token, token_texts = text_codes(tokens)
    n_tokens = max(len(token_texts), 1)
    tokenised = (token >= 0) & (digit >= 0)
    pairs = sorted_unique(digit[tokenised] * n_tokens + token[tokenised])
    pair_digit, pair_token = pairs // n_tokens, pairs % n_tokens
    n_digits = int(digit.max()) + 1 if len(digit) else 0
    token_of = np.full(n_digits, -1, dtype=np.int64)
    token_of[pair_digit] = pair_token
    token_of[np.bincount(pair_digit, minlength=n_digits) != 1] = -1
    token = np.where((token < 0) & (digit >= 0), take_codes(token_of, digit), token)
    digit[token >= 0] = -1
    return (compacted(token, arrow_text(token_texts)),
            compacted(digit, arrow_text(digit_texts)))


def login_rows(account: np.ndarray, ip: Coded, device: Coded, first: np.ndarray,
               last: np.ndarray) -> list[tuple[str, SourceRows]]:
    """The sign-ins' rows, from their columns already coded (``narrow_codes``) and their
    first and last times (``micros_of``: each sign-in's time, or the first and last an engine
    that reduced the rows gave, ``login_times``): the identifier columns are read apart, each
    let go once coded."""
    if not len(account):
        return []
    return [
        (S.K_IP, SourceRows("logins.ip", account, ip, first, last)),
        (S.K_DEVICE, SourceRows("logins.device_id", account, device, first, last)),
    ]


def phone_rule(rows: pd.DataFrame, *, default_region: str | None) -> pd.DataFrame:
    """The accounts' phones (with their countries) as a frame of value and suppressed."""
    return normalize_phones(rows[S.PHONE], rows[S.COUNTRY], default_region=default_region)
