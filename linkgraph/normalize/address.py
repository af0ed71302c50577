"""Delivery addresses: one canonical key per dwelling; pickup points flagged.

The key is ``street|unit|place|country`` where

- ``street`` is line 1 and line 2 case-folded, accents stripped, punctuation
  and whitespace collapsed, with street-type and other abbreviations written
  one way (``St``/``Str.``/``Street``/``Straße`` -> ``street``, ``Ave`` ->
  ``avenue``, ``Rd`` -> ``road``, ``ul.``/``ул.`` -> ``ulitsa``, ``pr-t`` ->
  ``prospekt``, ``N`` -> ``north``...; house markers ``d.``/``No.``/``№``
  dropped; German glued ``Hauptstr.`` -> ``haupt street``);
- ``unit`` is the flat (``Apt 4``, ``apt. 4``, ``#4``, ``Flat 4``,
  ``Unit 4``, ``kv. 4``, ``кв. 4``, or a bare ``4`` as line 2): kept, since
  two flats of one building are two households;
- ``place`` is the postal code (upper case, spaces and dashes dropped, US
  ZIP+4 cut to the ZIP) or, when there is none, the city;
- ``country`` is the ISO code (common names such as ``USA``, ``Россия``
  mapped), lower case.

Street, flat and city are written in Latin letters (Cyrillic transliterated
per distinct word, ``й`` as ``y``, soft signs dropped), so one street typed in
either script gives one key: ``ул. Ленина 5`` = ``ul. Lenina 5`` ->
``lenina ulitsa 5``; ``Цветной`` = ``Tsvetnoy``. In Russia and its neighbours
``ул. Ленина 12-4`` is house 12, flat 4: = ``ул. Ленина, д. 12, кв. 4`` =
``ul. Lenina 12, kv. 4`` -> ``lenina ulitsa 12|4|...``.

``12 Main St., apt. 4`` with ``12345`` = ``12 main street #4`` with ``12345``
-> ``12 main street|4|12345|us``. An address that names a pickup point,
parcel locker, post box or forwarder (``NormalizeConfig.pickup_keywords``)
keeps its key with ``suppressed = "pickup_point"``: a fact about the account,
never a household link.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from functools import lru_cache

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from linkgraph import schemas as S
from linkgraph.normalize.grouping import text_codes
from linkgraph.normalize.junk import PLACEHOLDERS
from linkgraph.normalize.text import (
    TEXT,
    apply_where,
    as_text,
    extract,
    fold,
    map_distinct,
    reasons,
    replace_re2,
    take_rows,
)
from linkgraph.normalize.words import latin_words, replace_words, word_rules

PICKUP_POINT = "pickup_point"
ADDRESS_FIELDS = (S.LINE1, S.LINE2, S.POSTAL_CODE, S.CITY, S.COUNTRY)

#: canonical word -> the spellings that mean it (after folding and punctuation removal)
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "street": ("st", "str", "strt", "strasse", "straat", "street"),
    "avenue": ("ave", "av", "avn", "avenue"),
    "road": ("rd", "road"),
    "boulevard": ("blvd", "boul", "bd", "boulevard", "bulvar", "бульвар", "б р"),
    "drive": ("dr", "drv", "drive"),
    "lane": ("ln", "lane"),
    "court": ("ct", "court"),
    "place": ("pl", "place"),
    "square": ("sq", "square"),
    "highway": ("hwy", "highway"),
    "parkway": ("pkwy", "parkway"),
    "terrace": ("ter", "terr", "terrace"),
    "crescent": ("cres", "crescent"),
    "ulitsa": ("ul", "ulitsa", "ulica", "ул", "улица"),
    "prospekt": ("pr", "pr t", "prosp", "prospekt", "пр", "пр т", "просп", "проспект"),
    "pereulok": ("per", "pereulok", "пер", "переулок"),
    "shosse": ("sh", "shosse", "ш", "шоссе"),
    "naberezhnaya": ("nab", "naberezhnaya", "наб", "набережная"),
    "building": ("bldg", "building", "korp", "korpus", "корп", "корпус"),
    "north": ("n", "north"),
    "south": ("s", "south"),
    "east": ("e", "east"),
    "west": ("w", "west"),
    "": ("d", "dom", "д", "дом", "no", "nr", "house"),
}

#: words that introduce the flat or unit number
UNIT_MARKERS: tuple[str, ...] = (
    "apt", "apartment", "appt", "app", "flat", "unit", "suite", "ste", "room", "rm",
    "kv", "kvartira", "кв", "квартира", "whg", "wohnung", "lgh",
)

COUNTRY_ALIASES: dict[str, str] = {
    "usa": "us", "united states": "us", "united states of america": "us", "america": "us",
    "uk": "gb", "united kingdom": "gb", "great britain": "gb", "england": "gb",
    "russia": "ru", "russian federation": "ru", "россия": "ru", "рф": "ru",
    "germany": "de", "deutschland": "de", "france": "fr", "spain": "es", "espana": "es",
    "italy": "it", "italia": "it", "kazakhstan": "kz", "казахстан": "kz", "ukraine": "ua",
    "украина": "ua", "belarus": "by", "беларусь": "by", "poland": "pl", "polska": "pl",
    "netherlands": "nl", "canada": "ca", "turkey": "tr", "turkiye": "tr",
}

_SEP = "\x1f"
_NOT_WORD = "[^0-9a-z\u00c0-\u1fff\u2c00-\ud7ff]+"  # letters of every script, digits


def _words(values: pd.Series) -> pd.Series:
    """Folded text with punctuation as single spaces: ``St.-Petersburg`` -> ``st petersburg``."""
    folded = fold(_short_i(as_text(values)))
    # folded text of ASCII letters, digits and single spaces has no punctuation to replace
    other = _has(folded, "[^0-9a-z ]")
    return apply_where(folded, other, lambda t: t.str.replace(_NOT_WORD, " ", regex=True)
                       ).str.strip()


def _short_i(text: pd.Series) -> pd.Series:
    """``й`` as ``y``: a letter of its own, not ``и`` with an accent for folding to strip.

    ``Цветной`` must meet ``Tsvetnoy`` once Cyrillic is written in Latin letters.
    """
    return apply_where(text, _has(text, "[йЙ]"), lambda t: t.str.replace("[йЙ]", "y", regex=True))


def _has(text: pd.Series, pattern: str) -> np.ndarray:
    """True where ``pattern`` (RE2) occurs in the value (False for NA)."""
    if not len(text):
        return np.zeros(0, dtype=bool)
    array = text.array.__arrow_array__()
    # a pattern without metacharacters is a plain substring: no regex engine per value
    found = (pc.match_substring(array, pattern) if not _METACHARACTERS.intersection(pattern)
             else pc.match_substring_regex(array, pattern))
    return np.asarray(found.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


_METACHARACTERS = frozenset(".^$*+?{}[]\\|()")


def _squeezed(text: pd.Series) -> pd.Series:
    """Runs of spaces as one space (only the values that have a run pay for the regex)."""
    return apply_where(text, _has(text, "  "), lambda t: t.str.replace(" +", " ", regex=True))


def normalize_addresses(
    addresses: pd.DataFrame, *, pickup_keywords: Iterable[str] = ()
) -> pd.DataFrame:
    """Address rows -> ``value`` (the dwelling key) and ``suppressed`` (NA or ``pickup_point``).

    Args:
        addresses: a frame with ``line1``, ``line2``, ``postal_code``, ``city``
            and ``country`` (missing columns count as empty).
        pickup_keywords: phrases that mark a pickup point, locker or
            forwarder (matched as whole words, case and punctuation ignored).

    Returns:
        A frame aligned with ``addresses``; ``value`` is NA when line 1 and
        line 2 are both empty.

    >>> rows = pd.DataFrame({"line1": ["12 Main St., apt. 4", "12 main street #4", "Hauptstr. 5"],
    ...                      "line2": [None, None, "Packstation 101"],
    ...                      "postal_code": ["12345", "12345-6789", "10115"],
    ...                      "city": ["Springfield", "SPRINGFIELD", "Berlin"],
    ...                      "country": ["US", "USA", "DE"]})
    >>> normalize_addresses(rows, pickup_keywords=["packstation"]).to_numpy().tolist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [['12 main street|4|12345|us', <NA>], ['12 main street|4|12345|us', <NA>],
     ['haupt street 5 packstation 101||10115|de', 'pickup_point']]
    """
    fields = [
        as_text(addresses[c]).fillna("") if c in addresses else pd.Series("", index=addresses.index,
                                                                          dtype=TEXT)
        for c in ADDRESS_FIELDS
    ]
    has_street = np.array((fields[0].str.strip() != "") | (fields[1].str.strip() != ""), dtype=bool)
    codes, parts = _distinct_addresses(fields, np.flatnonzero(has_street))
    result = _normalize_distinct(parts, pickup=_pickup_pattern(pickup_keywords))
    return take_rows(result, codes, addresses.index)


def _distinct_addresses(fields: list[pd.Series], rows: np.ndarray
                        ) -> tuple[np.ndarray, pd.DataFrame]:
    """Each of the ``rows``' code into its distinct (``ADDRESS_FIELDS``) tuple (-1 elsewhere),
    and the distinct tuples as :func:`_normalize_distinct` reads them.

    The fields are coded one by one and their codes combined, so no string is
    built or hashed per row beyond each field's own. The fields are read as
    they would be split back out of ``line1 + SEP + line2 + SEP + ...`` with
    the separator made a space in all but line 1: a line 1 holding it splits
    into nothing (all NA).
    """
    key = np.zeros(len(rows), dtype=np.int64)
    n_keys = 1
    for field in fields:
        code, distinct = text_codes(field.iloc[rows])
        if n_keys > np.iinfo(np.int64).max // max(len(distinct), 1):
            key, uniques = pd.factorize(key)
            n_keys = len(uniques)
        key = key * max(len(distinct), 1) + code
        n_keys *= max(len(distinct), 1)
    row_code, uniques = pd.factorize(key)
    first = np.empty(len(uniques), dtype=np.int64)
    first[row_code[::-1]] = np.arange(len(rows) - 1, -1, -1)  # the first row of each tuple
    codes = np.full(len(fields[0]), -1, dtype=np.int64)
    codes[rows] = row_code
    taken = rows[first]
    columns = {c: field.iloc[taken].reset_index(drop=True)
               for c, field in zip(ADDRESS_FIELDS, fields, strict=True)}
    for c in ADDRESS_FIELDS[1:]:
        columns[c] = apply_where(columns[c], _has(columns[c], _SEP),
                                 lambda t: t.str.replace(_SEP, " ", regex=False))
    parts = pd.DataFrame(columns)
    unsplit = _has(columns[ADDRESS_FIELDS[0]], _SEP)
    return codes, parts.mask(pd.Series(unsplit)) if unsplit.any() else parts


def _pickup_pattern(keywords: Iterable[str]) -> str | None:
    words = sorted({w for w in _words(pd.Series(list(keywords), dtype=TEXT)).dropna() if w})
    if not words:
        return None
    return "(?:^| )(?:" + "|".join(re.escape(w) for w in words) + ")(?: |$)"


def _normalize_distinct(parts: pd.DataFrame, *, pickup: str | None) -> pd.DataFrame:
    # fields with few distinct values (line 2, postal code, city, country) are
    # normalised once per distinct value, not once per distinct address
    line2 = _per_distinct(parts[S.LINE2], _words).fillna("")
    lines = _words(parts[S.LINE1].str.replace("#", " unit ", regex=False)
                   + " , " + parts[S.LINE2].str.replace("#", " unit ", regex=False))
    lines = lines.fillna("")
    is_pickup = (
        np.array(lines.str.contains(pickup, regex=True).fillna(False), dtype=bool)
        if pickup is not None else np.zeros(len(lines), dtype=bool)
    )
    street, unit = _split_unit(lines)
    # a bare short token as line 2 is the flat: "12 Main St" + "4"
    bare = np.array(line2.str.fullmatch("(?:[0-9]{1,4}[a-z]?|[a-z])").fillna(False), dtype=bool)
    bare &= np.array(unit == "", dtype=bool)
    if bare.any():
        unit = unit.mask(bare, line2)
        head = _words(parts[S.LINE1]).fillna("")
        street = street.mask(bare, head)
    country = _per_distinct(parts[S.COUNTRY].fillna(""), _countries)
    street, unit = _house_and_flat(parts[S.LINE1], line2, country, street, unit)
    # "n/a" must stay a placeholder the junk rules know, not become "north a"
    placeholder = np.array(lines.isin(_placeholder_words()), dtype=bool)
    street = latin_words(_canonical_street(street)).mask(placeholder, lines)
    unit = latin_words(apply_where(unit, _has(unit, "^0"),  # "apt 04" = "apt 4"
                                   lambda t: replace_re2(t, "^0+([0-9])", "\\1")))
    postal_country = parts[S.POSTAL_CODE].fillna("") + _SEP + parts[S.COUNTRY].fillna("")
    postal = _per_distinct(postal_country, _postal_codes_of)
    city = _per_distinct(parts[S.CITY], lambda c: latin_words(_words(c))).fillna("")
    place = postal.where(postal != "", city)
    value = street + "|" + unit + "|" + place + "|" + country
    suppressed = reasons(is_pickup, PICKUP_POINT)
    return pd.DataFrame({"value": value.astype(TEXT), "suppressed": suppressed})


#: countries where ``12-4`` after the street is house 12, flat 4 (elsewhere it may be
#: a house number range, as ``Hauptstr. 5-7`` in Germany)
HOUSE_FLAT_COUNTRIES: frozenset[str] = frozenset({
    "ru", "ua", "by", "kz", "uz", "kg", "tj", "tm", "am", "az", "ge", "md",
})
_HOUSE_FLAT = (
    "^(?P<head>.*[^0-9 ,.-].*?)[ ,.]+(?P<house>[0-9]{1,5}[a-z\u0430-\u044f]?) ?- ?"
    "(?P<flat>[0-9]{1,4})[ .]*$"
)


def _house_and_flat(
    line1: pd.Series, line2: pd.Series, country: pd.Series, street: pd.Series, unit: pd.Series
) -> tuple[pd.Series, pd.Series]:
    """Street and unit with ``house-flat`` numbers split: ``ul. Lenina 12-4`` -> ``... 12``, ``4``.

    In Russia and its neighbours ``ул. Ленина 12-4`` is house 12, flat 4, the
    same dwelling as ``ул. Ленина, д. 12, кв. 4``. Read so only at the end of
    line 1 after a street name, in :data:`HOUSE_FLAT_COUNTRIES`, when no unit
    was written otherwise and line 2 is empty. The house may carry a letter
    (``12а-4``: house 12а, flat 4); two flats stay two keys (``12-4``, ``12-5``).
    """
    # the cheap tests first: the pattern runs on the few lines that may hold both numbers
    maybe = (np.array(unit == "", dtype=bool) & np.array(line2 == "", dtype=bool)
             & np.array(country.isin(HOUSE_FLAT_COUNTRIES), dtype=bool) & _has(line1, "-"))
    if not maybe.any():
        return street, unit
    candidates = np.flatnonzero(maybe)
    found = extract(fold(_short_i(as_text(line1.iloc[candidates]))), _HOUSE_FLAT)
    matched = np.array(found["flat"].notna(), dtype=bool)
    if not matched.any():
        return street, unit
    rows = candidates[matched]
    found = found[matched]
    head = _words(found["head"] + " " + found["house"])
    street = street.copy()
    unit = unit.copy()
    street.iloc[rows] = _squeezed(head).str.strip().to_numpy()
    unit.iloc[rows] = found["flat"].to_numpy()
    return street, unit


@lru_cache(maxsize=1)
def _placeholder_words() -> frozenset[str]:
    words = _words(pd.Series(sorted(PLACEHOLDERS), dtype=TEXT)).dropna()
    return frozenset(w for w in words if w)


def _split_unit(lines: pd.Series) -> tuple[pd.Series, pd.Series]:
    markers = "|".join(re.escape(m) for m in UNIT_MARKERS)
    # the captures run only where a marker and a unit may be: a match test is far cheaper
    maybe = np.flatnonzero(_has(lines, f"(?:^| )(?:{markers}) [^ ]"))
    found = extract(lines.iloc[maybe],
                    f"^(?P<pre>.*?)(?:^| )(?:{markers}) (?P<unit>[^ ]+)(?P<post>.*)$")
    has_unit = np.array(found["unit"].notna(), dtype=bool)
    rows = maybe[has_unit]
    found = found[has_unit]
    street = lines.copy()
    unit = pd.Series("", index=lines.index, dtype=TEXT)
    if len(rows):
        street.iloc[rows] = (found["pre"] + found["post"]).to_numpy()
        unit.iloc[rows] = found["unit"].to_numpy()
    return _squeezed(street).str.strip(), unit


def _canonical_street(street: pd.Series) -> pd.Series:
    # German glued street type: "hauptstr"/"hauptstrasse" -> "haupt street"
    padded = " " + street.str.replace(" ", "  ", regex=False) + " "
    padded = apply_where(padded, _has(padded, "str"),
                         lambda t: replace_re2(t, "([a-z])(?:strasse|str) ", "\\1 street "))
    street = replace_words(padded, _WORD_RULES).str.strip()
    # Slavic street types stand before or after the name ("ul. Mira" = "Mira ul."):
    # one canonical place, after the name, before the house number. A name that is
    # itself a type word ("Naberezhnaya ul." = "ul. Naberezhnaya") has no telling which
    # is which: the two words go in alphabetical order, and neither moves.
    movable = "|".join(_MOVABLE_TYPES)

    def reordered(text: pd.Series) -> pd.Series:
        # in Arrow's RE2 (no look-arounds): the word after a pair is kept by a group, and
        # a type word followed by another stays where it is by the test, not the pattern
        for later, earlier in _SWAPPED_TYPES.items():
            text = replace_re2(text, f"^({later}) ({earlier})( |$)", "\\2 \\1\\3")
        return apply_where(text, ~_has(text, f"^(?:{movable}) (?:{movable})(?: |$)"),
                           lambda t: replace_re2(
                               t, f"^({movable}) ([^0-9]+?)(?: ([0-9].*))?$", "\\2 \\1 \\3"))

    return apply_where(street, _has(street, f"^(?:{movable}) "), reordered).str.strip()


#: street types written before or after the street's name
_MOVABLE_TYPES = ("ulitsa", "prospekt", "pereulok", "shosse", "naberezhnaya")
#: each type word -> the type words sorting before it, as a regex alternation
_SWAPPED_TYPES = {t: "|".join(e for e in _MOVABLE_TYPES if e < t)
                  for t in _MOVABLE_TYPES if any(e < t for e in _MOVABLE_TYPES)}
_WORD_RULES = word_rules(ABBREVIATIONS)


def _per_distinct(values: pd.Series, func: Callable[[pd.Series], pd.Series]) -> pd.Series:
    """``func`` (element-wise, NA for NA) run once per distinct value of ``values``."""
    result = map_distinct(values, func)
    assert isinstance(result, pd.Series)
    return result.astype(TEXT)


def _postal_codes_of(postal_country: pd.Series) -> pd.Series:
    """:func:`_postal_codes` of ``postal + _SEP + country`` values."""
    parts = extract(postal_country, f"^(?P<postal>[^{_SEP}]*){_SEP}(?P<country>[^{_SEP}]*)$")
    return _postal_codes(parts["postal"], parts["country"])


def _postal_codes(postal: pd.Series, country: pd.Series) -> pd.Series:
    code = fold(postal).str.replace("[^0-9a-z]", "", regex=True).fillna("")
    us = np.array(_countries(country) == "us", dtype=bool)
    zip9 = np.array(code.str.fullmatch("[0-9]{9}").fillna(False), dtype=bool)
    return code.mask(us & zip9, code.str.slice(0, 5))


def _countries(country: pd.Series) -> pd.Series:
    name = _words(country).fillna("")
    return name.map(COUNTRY_ALIASES).fillna(name).astype(TEXT)
