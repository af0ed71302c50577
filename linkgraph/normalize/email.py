"""Email addresses: one canonical key per mailbox, and disposable-domain detection.

Rules (each applied to the distinct values only):

- trimmed and lower-cased, a ``mailto:`` prefix, angle brackets and a trailing
  dot on the domain dropped: ``<J.Doe@Mail.COM.>`` -> ``j.doe@mail.com``;
- domain aliases of one mail system meet: ``googlemail.com`` -> ``gmail.com``,
  ``ya.ru``/``yandex.com``... -> ``yandex.ru``;
- Gmail ignores dots and everything after ``+`` in the local part:
  ``J.Doe+ali@googlemail.com`` -> ``jdoe@gmail.com``;
- providers that deliver ``user+tag`` to ``user`` (Outlook/Hotmail/Live,
  iCloud, Fastmail, Proton, Yandex, Zoho...): ``ann+shop@outlook.com`` ->
  ``ann@outlook.com``; Yahoo has no ``+`` tags but disposable addresses
  ``base-keyword`` that all reach the account owning ``base``:
  ``kate-promo@yahoo.com`` -> ``kate@yahoo.com`` (Yahoo IDs cannot contain
  ``-``, so only such addresses are touched); Yandex treats ``.`` and ``-``
  in logins as the same character: ``ivan.petrov`` = ``ivan-petrov``;
- invalid syntax is not evidence: the value is kept (cleaned) with
  ``suppressed = "invalid"``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph.normalize.text import (
    TEXT,
    apply_where,
    arrow_flags,
    arrow_text,
    as_text,
    extract,
    map_distinct,
    reasons,
    split_last,
)

GMAIL: str = "gmail.com"

DEFAULT_DOMAIN_ALIASES: dict[str, str] = {
    "googlemail.com": GMAIL,
    **{d: "yandex.ru" for d in (
        "ya.ru", "yandex.com", "yandex.by", "yandex.kz", "yandex.ua", "yandex.com.tr",
        "narod.ru",
    )},
}

DEFAULT_PLUS_TAG_DOMAINS: tuple[str, ...] = (
    "outlook.com", "hotmail.com", "live.com", "msn.com", "passport.com",
    "hotmail.co.uk", "hotmail.fr", "hotmail.de", "hotmail.it", "hotmail.es", "live.co.uk",
    "live.fr", "live.de", "live.it", "outlook.fr", "outlook.de", "outlook.es", "outlook.it",
    "icloud.com", "me.com", "mac.com", "fastmail.com", "fastmail.fm", "protonmail.com",
    "protonmail.ch", "proton.me", "pm.me", "yandex.ru", "zoho.com", "zohomail.com",
    "rambler.ru",
)

DEFAULT_HYPHEN_TAG_DOMAINS: tuple[str, ...] = (
    "yahoo.com", "yahoo.co.uk", "yahoo.fr", "yahoo.de", "yahoo.it", "yahoo.es", "ymail.com",
    "rocketmail.com",
)

#: well-known throwaway mailbox services (subdomains match too)
DISPOSABLE_DOMAINS: frozenset[str] = frozenset({
    "mailinator.com", "mailinator.net", "guerrillamail.com", "guerrillamail.net",
    "guerrillamail.org", "guerrillamail.biz", "guerrillamail.de", "guerrillamailblock.com",
    "sharklasers.com", "grr.la", "pokemail.net", "spam4.me", "10minutemail.com",
    "10minutemail.net", "20minutemail.com", "temp-mail.org", "temp-mail.io", "tempmail.com",
    "tempmail.net", "tempmail.dev", "tempail.com", "tempr.email", "tempinbox.com",
    "yopmail.com", "yopmail.fr", "yopmail.net", "throwawaymail.com", "trashmail.com",
    "trashmail.de", "trashmail.net", "getnada.com", "nada.email", "dispostable.com",
    "maildrop.cc", "mailnesia.com", "mintemail.com", "fakeinbox.com", "mohmal.com",
    "emailondeck.com", "discard.email", "mailcatch.com", "spamgourmet.com", "moakt.com",
    "burnermail.io", "mytemp.email", "tmpmail.org", "tmpmail.net", "minuteinbox.com",
    "inboxkitten.com", "mailpoof.com", "emailfake.com", "fakemail.net", "getairmail.com",
    "harakirimail.com", "spambox.us", "mail.tm", "jetable.org", "mailexpire.com",
    "dropmail.me", "1secmail.com", "1secmail.net", "1secmail.org", "33mail.com",
    "tempmailo.com", "emailtemporanea.com", "crazymailing.com", "mailsac.com", "temp-mail.ru",
    "dropmail.ru", "tmail.ws", "mail-temp.com", "luxusmail.org", "anonbox.net",
})

# RFC 5322 dot-atom local part (no leading, trailing or double dot) and a domain
# of LDH labels with a letter TLD; non-ASCII letters allowed (internationalised mail)
_WIDE = "\u0080-\U0010ffff"  # literal code points: valid in both RE2 and Python's re
_ATOM = rf"[a-z0-9!#$%&'*+/=?^_`{{|}}~{_WIDE}-]+"
_LABEL = rf"[a-z0-9{_WIDE}](?:[a-z0-9{_WIDE}-]{{0,61}}[a-z0-9{_WIDE}])?"
_EMAIL = rf"{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+(?:[a-z{_WIDE}]{{2,63}}|xn--[a-z0-9-]+)"


def normalize_emails(
    values: pd.Series,
    *,
    plus_tag_domains: Iterable[str] = DEFAULT_PLUS_TAG_DOMAINS,
    hyphen_tag_domains: Iterable[str] = DEFAULT_HYPHEN_TAG_DOMAINS,
    domain_aliases: Mapping[str, str] | None = None,
    distinct: bool = False,
) -> pd.DataFrame:
    """Canonical mailbox keys: ``value`` and ``suppressed`` (NA or ``invalid``).

    Args:
        values: raw email addresses (any index; NA and blanks stay NA).
        plus_tag_domains: domains whose ``user+tag`` reaches ``user``.
        hyphen_tag_domains: domains whose ``base-keyword`` reaches ``base`` (Yahoo).
        domain_aliases: domain -> the domain of the same mail system; the
            built-in Gmail/Yandex aliases when ``None``.
        distinct: the non-NA values are distinct already (not hashed again).

    Returns:
        A frame aligned with ``values``: ``value`` (the key; the cleaned text
        when invalid; NA for NA) and ``suppressed``.

    >>> emails = pd.Series(["J.Doe+ali@gmail.com", "jdoe@googlemail.com", "ann+x@Outlook.com ",
    ...                     "kate-promo@yahoo.com", "ivan.petrov@ya.ru", "not an email"])
    >>> normalize_emails(emails).to_numpy().tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['jdoe@gmail.com', <NA>], ['jdoe@gmail.com', <NA>], ['ann@outlook.com', <NA>],
     ['kate@yahoo.com', <NA>], ['ivan-petrov@yandex.ru', <NA>], ['not an email', 'invalid']]
    """
    aliases = DEFAULT_DOMAIN_ALIASES if domain_aliases is None else dict(domain_aliases)
    plus = frozenset(d.lower() for d in plus_tag_domains)
    hyphen = frozenset(d.lower() for d in hyphen_tag_domains)

    def _normalize(distinct: pd.Series) -> pd.DataFrame:
        return _normalize_distinct(distinct, plus=plus, hyphen=hyphen, aliases=aliases)

    result = map_distinct(as_text(values), _normalize, distinct=distinct)
    assert isinstance(result, pd.DataFrame)
    return result


def _normalize_distinct(
    raw: pd.Series, *, plus: frozenset[str], hyphen: frozenset[str], aliases: Mapping[str, str]
) -> pd.DataFrame:
    text = raw.str.strip().str.lower()
    # the replacements run on the few values they change
    wrapped = _starts(text, "mailto:") | _starts(text, "<") | _ends(text, ">")
    text = apply_where(text, wrapped,
                       lambda t: t.str.replace(r"^mailto:|^<|>$", "", regex=True))
    text = apply_where(text, _ends(text, "."),
                       lambda t: t.str.replace(r"\.$", "", regex=True)).str.strip()
    valid = text.str.fullmatch(f"(?:{_EMAIL})").fillna(False).to_numpy(dtype=bool)
    parts = split_last(text, "@", ("local", "domain"))
    local = parts["local"].fillna("")
    domain = parts["domain"].fillna("")
    domain = _aliased(domain, aliases)

    is_gmail = (domain == GMAIL).to_numpy(dtype=bool)
    is_plus = domain.isin(plus).to_numpy(dtype=bool) | is_gmail
    is_yandex = (domain == "yandex.ru").to_numpy(dtype=bool)
    is_hyphen = domain.isin(hyphen).to_numpy(dtype=bool)
    # each rule runs on the mailboxes it can change only
    local = apply_where(local, is_plus & _has(local, "+"),
                        lambda t: t.str.replace(r"\+.*$", "", regex=True))
    local = apply_where(local, is_gmail & _has(local, "."),
                        lambda t: t.str.replace(".", "", regex=False))
    local = apply_where(local, is_yandex & _has(local, "."),
                        lambda t: t.str.replace(".", "-", regex=False))
    local = apply_where(local, is_hyphen & _has(local, "-"),
                        lambda t: t.str.replace(r"-.*$", "", regex=True))
    # a tag with nothing before it ("+x@gmail.com") names no mailbox
    valid &= local.str.len().fillna(0).to_numpy() > 0

    key = local + "@" + domain
    # a key must itself be an address: "0.-@yahoo.com" loses its tag and becomes "0.@...";
    # a key equal to the text it came from was checked above
    changed = valid & np.array((key != text).fillna(True), dtype=bool)
    if changed.any():
        rows = np.flatnonzero(changed)
        valid[rows] = np.array(key.iloc[rows].str.fullmatch(f"(?:{_EMAIL})").fillna(False),
                               dtype=bool)
    value = key.where(valid, text)
    suppressed = reasons(~valid, "invalid").set_axis(raw.index)
    return pd.DataFrame({"value": value.astype(TEXT), "suppressed": suppressed})


def _aliased(domain: pd.Series, aliases: Mapping[str, str]) -> pd.Series:
    """Each domain (no NA) as its alias, else itself: ``map(aliases).fillna(domain)`` in Arrow."""
    if not aliases or not len(domain):
        return domain.astype(TEXT)
    array = arrow_text(domain.astype(TEXT))
    found = pc.index_in(array, value_set=pa.array(list(aliases), type=array.type))
    alias = pa.array(list(aliases.values()), type=array.type).take(found)
    return pd.Series(TEXT.__from_arrow__(pa.chunked_array([pc.coalesce(alias, array)])),
                     index=domain.index)


def _has(text: pd.Series, literal: str) -> np.ndarray:
    """True where the value contains ``literal`` (False for NA)."""
    return _test(pc.match_substring, text, literal)


def _starts(text: pd.Series, literal: str) -> np.ndarray:
    """True where the value starts with ``literal`` (False for NA)."""
    return _test(pc.starts_with, text, literal)


def _ends(text: pd.Series, literal: str) -> np.ndarray:
    """True where the value ends with ``literal`` (False for NA)."""
    return _test(pc.ends_with, text, literal)


def _test(kernel: Callable[..., pa.Array], text: pd.Series, literal: str) -> np.ndarray:
    if not len(text):
        return np.zeros(0, dtype=bool)
    return arrow_flags(kernel(arrow_text(text), literal))


def disposable_email(values: pd.Series, *, extra_domains: Iterable[str] = ()) -> pd.Series:
    """True where the address is at a throwaway-mailbox service (or a subdomain of one).

    Args:
        values: email addresses, raw or canonical.
        extra_domains: more disposable domains (``NormalizeConfig.disposable_domains``).

    Returns:
        A bool Series aligned with ``values`` (False for NA).

    >>> disposable_email(pd.Series(["a@mailinator.com", "b@x.yopmail.com", "c@gmail.com", None],
    ...                            )).tolist()
    [True, True, False, False]
    >>> disposable_email(pd.Series(["a@burner.example"]), extra_domains=["burner.example"]).tolist()
    [True]
    """
    domains = DISPOSABLE_DOMAINS | {d.strip().lower() for d in extra_domains}
    domain = extract(as_text(values).str.strip().str.lower(), r"@(?P<domain>[^@]*)$")["domain"]
    domain = domain.str.replace(r"\.$", "", regex=True)
    hit = domain.isin(domains).to_numpy(dtype=bool).copy()
    # parent domains: "x.yopmail.com" -> "yopmail.com" -> "com"
    parent = domain
    for _ in range(4):
        parent = extract(parent, r"^[^.]+\.(?P<parent>.+)$")["parent"]
        if parent.isna().all():
            break
        hit |= parent.isin(domains).to_numpy(dtype=bool)
    return pd.Series(hit, index=values.index, dtype=bool)
