"""Masking for moderators' files and keyed pseudonyms for analysts.

``mask_values(kind, values)`` shows enough of an identifier for a moderator
to see that two accounts share it and what it is (the mail provider, the
country, the card's last digits, the street), never the whole value:

=========== ================================== =====================================
kind        value                              masked
=========== ================================== =====================================
email       ``jdoe@gmail.com``                 ``j***@gmail.com``
phone       ``+79123456789``                   ``+7********89``
card        a fingerprint (+ the card's last4) ``card ****4242``
card_digits ``424242|4242|1226``               ``****4242``
ip          ``81.2.69.160`` / a /64            ``81.2.69.x`` / ``2a02:6b8:0:x::/64``
address     ``12 main street|4|12345|us``      ``*** main street, apt ***, 12345, US``
device      ``dev-9f8e7d6c5b4aa1b2``           ``dev-***a1b2``
name        ``doe john``                       ``D*** J***``
=========== ================================== =====================================

A card fingerprint is the provider's opaque token: with the card's last four
digits (``last4=``, from the payments row) the mask is ``card ****4242``, which
a moderator can check with the customer; without them, ``card ****`` and the
token's last four characters, enough to tell two cards apart.

``pseudonymize(values, key=...)`` is a keyed HMAC-SHA256, so analysts can
join and count identifiers across files without the raw values; without the
key a pseudonym cannot be reversed or recomputed from a guessed value.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import string

import numpy as np
import pandas as pd
import pyarrow as pa

from linkgraph import schemas as S
from linkgraph.normalize.phone import split_e164
from linkgraph.normalize.text import TEXT, as_text, extract, keep_ascii, map_distinct, split_last

_STARS = "***"


def mask_values(
    kind: str, values: pd.Series, *, last4: pd.Series | None = None, distinct: bool = False
) -> pd.Series:
    """Display forms of identifier values of one ``kind`` that hide the value itself.

    Args:
        kind: the identifier kind (``schemas.KINDS``); any other kind gets
            the generic mask (first character and ``***``).
        values: canonical values (the ``value`` column of the identifiers).
        last4: for ``card``, the card's last four digits aligned with
            ``values`` (NA where unknown).
        distinct: the caller's promise that ``values`` holds each value once
            (the identifiers stage masks its distinct values): skips the
            deduplication.

    Returns:
        A Series of strings aligned with ``values`` (NA for NA).

    >>> mask_values("email", pd.Series(["jdoe@gmail.com"])).tolist()
    ['j***@gmail.com']
    >>> mask_values("phone", pd.Series(["+79123456789"])).tolist()
    ['+7********89']
    >>> mask_values("card", pd.Series(["tok_abcdef123", "tok_zzz9876"]),
    ...             last4=pd.Series(["4242", None])).tolist()
    ['card ****4242', 'card ****9876']
    >>> mask_values("ip", pd.Series(["81.2.69.160", "2a02:6b8:0:1::/64"])).tolist()
    ['81.2.69.x', '2a02:6b8:0:x::/64']
    >>> mask_values("address", pd.Series(["12 main street|4|12345|us"])).tolist()
    ['*** main street, apt ***, 12345, US']
    >>> mask_values("name", pd.Series(["doe john"])).tolist()
    ['D*** J***']
    """
    text = as_text(values)
    if kind == S.K_CARD:
        return _mask_cards(text, last4)
    masker = _MASKERS.get(kind, _mask_generic)
    if distinct:
        return masker(text).astype(TEXT)
    result = map_distinct(text, masker)
    assert isinstance(result, pd.Series)
    return result.astype(TEXT)


def pseudonymize(values: pd.Series, *, key: bytes) -> pd.Series:
    """Keyed pseudonyms: HMAC-SHA256 of each value, 16 hex characters.

    Args:
        values: identifier values (NA stays NA).
        key: the secret key (``ReportConfig.mask_key`` encoded); never stored
            in a run directory.

    Returns:
        A Series of 16-character hex strings aligned with ``values``.

    >>> p = pseudonymize(pd.Series(["jdoe@gmail.com", None, "jdoe@gmail.com"]), key=b"k")
    >>> p[0] == p[2], len(p[0]), p[1]
    (True, 16, <NA>)
    """

    def _digest(distinct: pd.Series) -> pd.Series:
        digests = [
            hmac.new(key, v.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
            for v in distinct.to_numpy(dtype=object)
        ]
        return pd.Series(digests, index=distinct.index, dtype=TEXT)

    result = map_distinct(as_text(values), _digest)
    assert isinstance(result, pd.Series)
    return result.astype(TEXT)


def _stars(lengths: np.ndarray, index: pd.Index) -> pd.Series:
    n = np.maximum(lengths, 0)
    longest = int(n.max(initial=0))
    if longest > _FEW_STARS:  # a table of every length would grow with its square
        return pd.Series(["*" * int(k) for k in n], index=index, dtype=TEXT)
    # a few lengths: each row's stars taken from a table of them (no string per row built)
    table = pa.array(["*" * k for k in range(longest + 1)], type=pa.large_string())
    return pd.Series(TEXT.__from_arrow__(pa.chunked_array([table.take(pa.array(n))])),
                     index=index)


#: the longest run of stars _stars takes from a table
_FEW_STARS = 256


def _lengths(values: pd.Series) -> np.ndarray:
    return np.array(values.str.len().fillna(0), dtype=np.int64)


def _mask_generic(values: pd.Series) -> pd.Series:
    long_enough = _lengths(values) >= 4
    return (values.str.slice(0, 1) + _STARS).where(long_enough, _STARS).astype(TEXT)


def _mask_email(values: pd.Series) -> pd.Series:
    parts = split_last(values, "@", ("local", "domain"))
    local = parts["local"]
    shown = (local.str.slice(0, 1) + _STARS).where(_lengths(local) >= 2, _STARS)
    masked = shown + "@" + parts["domain"]
    # no mailbox before the @: the domain would be the whole value
    mailbox = parts["domain"].notna() & (_lengths(local) > 0)
    return masked.where(mailbox, _mask_generic(values)).astype(TEXT)


def _mask_phone(values: pd.Series) -> pd.Series:
    parts = split_e164(values)
    national = parts["national"]
    n = _lengths(national)
    masked = "+" + parts["cc"] + _stars(n - 2, values.index) + national.str.slice(-2)
    masked = masked.where(n > 4, "+" + parts["cc"] + _STARS)
    digits = keep_ascii(values, string.digits)
    fallback = (_STARS + digits.str.slice(-2)).where(_lengths(digits) > 4, _STARS)
    return masked.where(parts["cc"].notna(), fallback).astype(TEXT)


def _mask_card_digits(values: pd.Series) -> pd.Series:
    last4 = extract(values, r"^[0-9]*\|(?P<last4>[0-9]{4})\|")["last4"]
    return ("****" + last4).where(last4.notna(), _mask_generic(values)).astype(TEXT)


def _mask_cards(values: pd.Series, last4: pd.Series | None) -> pd.Series:
    token = ("card ****" + values.str.slice(-4)).where(_lengths(values) >= 8, "card ****")
    if last4 is not None:
        digits = keep_ascii(as_text(last4), string.digits).set_axis(values.index)
        digits = digits.where(_lengths(digits) == 4)
        token = ("card ****" + digits).where(digits.notna(), token)
    return token.where(values.notna()).astype(TEXT)


def _mask_ip(values: pd.Series) -> pd.Series:
    v4 = values.str.replace(r"\.[0-9]+$", ".x", regex=True)
    # dotted quads only: a bare number ("00") is no address and is starred, never echoed
    is_v4 = np.array(values.str.fullmatch(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}").fillna(False),
                     dtype=bool)
    v6 = _STARS + values.str.slice(0, 0)  # no ":" (or NA): not an address
    # the normaliser's /64 text ("2a02:6b8::/64"): its leading hextets, zeros implied
    canonical = np.array(values.str.fullmatch(_V6_PREFIX).fillna(False), dtype=bool) & ~is_v4
    if canonical.any():
        head = values[canonical].str.slice(0, -5)
        head = head.where(head != "", "0") + ":0:0:0"
        first3 = extract(head, "^(?P<groups>[^:]+:[^:]+:[^:]+)")["groups"]
        v6 = v6.mask(canonical, first3 + ":x::/64")
    other = np.flatnonzero(~canonical & ~is_v4
                           & np.array(values.str.contains(":", regex=False).fillna(False)))
    if len(other):
        v6.iloc[other] = [_mask_v6(v) for v in values.iloc[other].to_numpy(dtype=object)]
    return v4.where(is_v4, v6).astype(TEXT)


# a /64 as ipaddress writes it: up to four leading hextets without leading zeros, then "::/64"
_HEXTET = "(?:0|[1-9a-f][0-9a-f]{0,3})"
_V6_PREFIX = f"(?:{_HEXTET}(?::{_HEXTET}){{0,3}})?::/64"


def _mask_v6(value: str | None) -> str | None:
    if value is None or ":" not in value:
        return None if value is None else _STARS
    try:
        network = ipaddress.IPv6Network(value, strict=False)
    except ValueError:
        return _STARS
    groups = [g.lstrip("0") or "0" for g in network.network_address.exploded.split(":")[:3]]
    return ":".join(groups) + ":x::/64"


def _mask_address(values: pd.Series) -> pd.Series:
    parts = extract(
        values, r"^(?P<street>[^|]*)\|(?P<unit>[^|]*)\|(?P<place>[^|]*)\|(?P<country>[^|]*)$"
    )
    # house and building numbers: 12, 12a, 12/3, 5-7 (not ordinals such as "5th")
    street = " " + parts["street"].str.replace(" ", "  ", regex=False) + " "
    street = street.str.replace(" [0-9]+(?:[a-zа-я]|[/-][0-9a-zа-я]+)? ", " *** ", regex=True)
    street = street.str.replace(" +", " ", regex=True).str.strip()
    unit = pd.Series("apt ***, ", index=values.index, dtype=TEXT).where(
        parts["unit"].fillna("") != "", "")
    place = (parts["place"] + ", ").where(parts["place"].fillna("") != "", "")
    masked = street + ", " + unit + place + parts["country"].str.upper()
    masked = masked.str.replace("(?:, )+$", "", regex=True)
    return masked.where(parts["street"].notna(), _mask_generic(values)).astype(TEXT)


def _mask_device(values: pd.Series) -> pd.Series:
    n = _lengths(values)
    long_form = values.str.slice(0, 4) + _STARS + values.str.slice(-4)
    mid_form = (_STARS + values.str.slice(-4)).where(n >= 8, _STARS)
    return long_form.where(n >= 16, mid_form).astype(TEXT)


def _mask_name(values: pd.Series) -> pd.Series:
    tokens = values.str.split(" ").to_numpy(dtype=object, na_value=None)
    masked = [
        None if t is None else " ".join(w[:1].upper() + _STARS for w in t if w) for t in tokens
    ]
    return pd.Series(masked, index=values.index, dtype=TEXT)


_MASKERS = {
    S.K_EMAIL: _mask_email,
    S.K_PHONE: _mask_phone,
    S.K_CARD_DIGITS: _mask_card_digits,
    S.K_IP: _mask_ip,
    S.K_ADDRESS: _mask_address,
    S.K_DEVICE: _mask_device,
    S.K_NAME: _mask_name,
}
