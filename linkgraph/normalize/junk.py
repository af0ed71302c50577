"""Junk: placeholder values that identify no one and must never link.

Pattern rules per kind, applied to canonical values (after each kind's
normaliser), plus a configurable list (``NormalizeConfig.junk_values``):

- every kind: a placeholder word (``unknown``, ``null``, ``none``, ``n/a``,
  ``-``, ``test``...), a value with no letter or digit, a value listed in
  ``junk_values`` (plain ``value`` for any kind, ``kind:value`` for one kind;
  compared with the canonical value, case-insensitive);
- email: a placeholder mailbox (``test@test.com``, ``noemail@gmail.com``),
  a reserved or fake domain (``example.com``, ``*.test``, ``*.invalid``...),
  a local part of one repeated character or a digit run (``1111@mail.ru``);
- phone: a national number of one repeated digit (``+70000000000``,
  ``+79999999999``) or a run of consecutive digits (``+71234567890``);
- device: a zeroed or one-character id (``00000000-0000-0000-0000-000000000000``),
  a known broken id (``9774d56d682e549c``), fewer than ``min_device_length``
  letters and digits;
- card: a fingerprint shorter than 6 characters or of one repeated character;
  card_digits: a zeroed BIN or last4, or a well-known test card
  (``424242|4242``, ``411111|1111``...);
- address: a street part with fewer than 3 letters and digits or made of
  placeholder words;
- name: every token a placeholder (``test user``, ``client unknown``).
"""

from __future__ import annotations

import string
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from linkgraph import schemas as S
from linkgraph.normalize.phone import split_e164
from linkgraph.normalize.text import (
    TEXT,
    arrow_flags,
    arrow_text,
    as_text,
    extract,
    fold,
    keep_ascii,
    split_last,
)

JUNK = "junk"

#: placeholder words: a value equal to one of them (after folding) is junk
PLACEHOLDERS: frozenset[str] = frozenset({
    "unknown", "unkown", "null", "nil", "none", "n/a", "na", "n.a.", "nan", "-", "--", "---",
    ".", "?", "0", "test", "testing", "xxx", "xx", "x", "tbd", "undefined", "empty", "blank",
    "default", "not available", "not applicable", "no", "nope", "asdf", "qwerty", "dummy",
    "fake", "sample", "placeholder", "неизвестно", "нет", "тест",
})
#: mailbox names people type when they will not give one
PLACEHOLDER_LOCALS: frozenset[str] = frozenset({
    "test", "testing", "tester", "noemail", "no-email", "no_email", "nomail", "no-mail",
    "none", "null", "na", "n/a", "noreply", "no-reply", "donotreply", "unknown", "asdf",
    "qwerty", "example", "fake", "dummy", "xxx", "abc", "user", "email", "mail", "sample",
})
#: domains that deliver to no one (RFC 2606 reserved names and common fakes)
PLACEHOLDER_DOMAINS: frozenset[str] = frozenset({
    "example.com", "example.org", "example.net", "test.com", "test.ru", "domain.com",
    "email.test", "localhost", "none.com", "nomail.com", "noemail.com", "fake.com", "no.email",
    "mailinator.invalid", "xxx.com", "asdf.com",
})
_RESERVED_TLDS = ("test", "example", "invalid", "localhost", "local")
#: device ids that many unrelated devices report
BROKEN_DEVICE_IDS: frozenset[str] = frozenset({
    "9774d56d682e549c",  # the Android 2.2 ANDROID_ID bug
    "android_id", "emulator", "simulator", "device", "deviceid", "device_id", "idfa", "advertising_id",
})
#: payment processors' published test cards, as bin|last4
TEST_CARDS: frozenset[str] = frozenset({
    "424242|4242", "411111|1111", "400000|0002", "555555|4444", "510510|5100", "378282|0005",
    "371449|8431", "601111|1117", "400005|5556", "222300|0003",
})
PLACEHOLDER_NAME_TOKENS: frozenset[str] = frozenset({
    "test", "tester", "user", "name", "customer", "client", "buyer", "unknown", "none", "null",
    "asdf", "qwerty", "xxx", "x", "fake", "dummy", "sample", "first", "last", "firstname",
    "lastname", "клиент", "покупатель", "тест", "пользователь", "неизвестно",
})

# letters of every script and digits, not punctuation or symbols (U+2000-U+2BFF)
_LETTER_OR_DIGIT = "[0-9a-z\u00c0-\u1fff\u2c00-\ud7ff\uf900-\uffdc]"
_REPEATED = "(?:" + "|".join(f"{c}+" for c in "0123456789abcdefghijklmnopqrstuvwxyz") + ")"
_RUNS = ("01234567890123456789", "98765432109876543210")
_SEQUENTIAL: frozenset[str] = frozenset(
    run[i:j] for run in _RUNS for i in range(10) for j in range(i + 6, len(run) + 1)
)


def _flags(values: pd.Series) -> np.ndarray:
    return np.array(values.fillna(False), dtype=bool)


def _repeated(values: pd.Series, min_length: int = 1) -> np.ndarray:
    """One character repeated (``0000``, ``aaaa``), at least ``min_length`` long."""
    long_enough = values.str.len().fillna(0).to_numpy() >= min_length
    return _flags(values.str.fullmatch(_REPEATED)) & long_enough


def _digit_run(values: pd.Series) -> np.ndarray:
    """Consecutive digits up or down, 6 or more (``123456``, ``9876543210``)."""
    return _flags(values.isin(_SEQUENTIAL))


def junk_values(
    kind: str, values: pd.Series, *, extra: Iterable[str] = (), min_device_length: int = 6
) -> pd.Series:
    """True where a canonical ``kind`` value is a placeholder that identifies no one.

    Args:
        kind: the identifier kind (``schemas.KINDS``).
        values: canonical values of that kind (the normalisers' ``value``).
        extra: more junk values: ``value`` for every kind, ``kind:value`` for one.
        min_device_length: device ids with fewer letters and digits are junk.

    Returns:
        A bool Series aligned with ``values`` (False for NA).

    >>> junk_values("phone", pd.Series(["+70000000000", "+71234567890", "+79123456789"])).tolist()
    [True, True, False]
    >>> junk_values("email", pd.Series(["test@test.com", "a@example.org", "jdoe@gmail.com"])).tolist()
    [True, True, False]
    >>> junk_values("device", pd.Series(["00000000-0000-0000-0000-000000000000", "abc",
    ...                                  "dev-9f8e7d6c"])).tolist()
    [True, True, False]
    >>> junk_values("email", pd.Series(["spam@corp.com"]), extra=["email:spam@corp.com"]).tolist()
    [True]
    """
    text = as_text(values)
    folded = fold(text).fillna("")
    listed = _listed(kind, extra)
    junk = _flags(folded.isin(PLACEHOLDERS | listed))
    junk |= ~_flags(folded.str.contains(_LETTER_OR_DIGIT, regex=True))
    rule = _KIND_RULES.get(kind)
    if rule is not None:
        junk |= rule(folded, min_device_length)
    junk &= np.array(text.notna(), dtype=bool)
    return pd.Series(junk, index=values.index, dtype=bool)


def _listed(kind: str, extra: Iterable[str]) -> frozenset[str]:
    listed = set()
    for item in extra:
        head, sep, rest = item.partition(":")
        if sep and head in S.KINDS:
            if head == kind:
                listed.add(rest.strip().lower())
        else:
            listed.add(item.strip().lower())
    if not listed:
        return frozenset()
    return frozenset(v for v in fold(pd.Series(sorted(listed), dtype=TEXT)).dropna())


def _email_junk(values: pd.Series, _: int) -> np.ndarray:
    parts = split_last(values, "@", ("local", "domain"))
    local, domain = parts["local"].fillna(""), parts["domain"].fillna("")
    junk = _flags(local.isin(PLACEHOLDER_LOCALS)) | _flags(domain.isin(PLACEHOLDER_DOMAINS))
    # the top-level domain (after the last dot) is reserved: the domain is one, or ends
    # with a dot and one
    junk |= _flags(domain.isin(_RESERVED_TLDS))
    array = arrow_text(domain)
    for tld in _RESERVED_TLDS:
        junk |= arrow_flags(pc.ends_with(array, "." + tld))
    junk |= _repeated(local) | _digit_run(local)
    return junk


def _phone_junk(values: pd.Series, _: int) -> np.ndarray:
    national = split_e164(values)["national"]
    digits = national.fillna(keep_ascii(values, string.digits))
    return _repeated(digits) | _digit_run(digits)


def _device_junk(values: pd.Series, min_length: int) -> np.ndarray:
    alnum = keep_ascii(values, string.digits + string.ascii_lowercase)
    junk = _repeated(alnum) | _flags(values.isin(BROKEN_DEVICE_IDS))
    return junk | (alnum.str.len().fillna(0).to_numpy() < min_length)


def _card_junk(values: pd.Series, _: int) -> np.ndarray:
    return _repeated(values) | (values.str.len().fillna(0).to_numpy() < 6)


def _card_digits_junk(values: pd.Series, _: int) -> np.ndarray:
    parts = extract(values, r"^(?P<bin>[0-9]+)\|(?P<last4>[0-9]+)\|")
    junk = _flags(parts["bin"] == "000000") | _flags(parts["last4"] == "0000")
    return junk | _flags((parts["bin"] + "|" + parts["last4"]).isin(TEST_CARDS))


def _address_junk(values: pd.Series, _: int) -> np.ndarray:
    street = extract(values, "^(?P<street>[^|]*)")["street"].fillna("")
    alnum = street.str.replace(f"[^{_LETTER_OR_DIGIT[1:-1]}]", "", regex=True)
    junk = alnum.str.len().fillna(0).to_numpy() < 3
    return junk | _flags(street.isin(PLACEHOLDERS | {"address", "street", "home", "n a"}))


def _name_junk(values: pd.Series, _: int) -> np.ndarray:
    tokens = values.str.split(" ")
    exploded = tokens.explode()
    placeholder = exploded.isin(PLACEHOLDER_NAME_TOKENS) | (exploded.fillna("") == "")
    return np.array(placeholder.groupby(level=0).all().reindex(values.index, fill_value=False),
                    dtype=bool)


_KIND_RULES = {
    S.K_EMAIL: _email_junk,
    S.K_PHONE: _phone_junk,
    S.K_DEVICE: _device_junk,
    S.K_CARD: _card_junk,
    S.K_CARD_DIGITS: _card_digits_junk,
    S.K_ADDRESS: _address_junk,
    S.K_NAME: _name_junk,
}
