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

``12 Main St., apt. 4`` with ``12345`` = ``12 main street #4`` with ``12345``
-> ``12 main street|4|12345|us``. An address that names a pickup point,
parcel locker, post box or forwarder (``NormalizeConfig.pickup_keywords``)
keeps its key with ``suppressed = "pickup_point"``: a fact about the account,
never a household link.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
import pandas as pd

from linkgraph import schemas as S
from linkgraph.normalize.junk import PLACEHOLDERS
from linkgraph.normalize.text import (
    TEXT,
    as_text,
    extract,
    fold,
    map_distinct,
    reasons,
    replace_re2,
)

PICKUP_POINT = "pickup_point"
ADDRESS_FIELDS = (S.LINE1, S.LINE2, S.POSTAL_CODE, S.CITY, S.COUNTRY)

#: canonical word -> the spellings that mean it (after folding and punctuation removal)
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "street": ("st", "str", "strt", "strasse", "straat", "street"),
    "avenue": ("ave", "av", "avn", "avenue"),
    "road": ("rd", "road"),
    "boulevard": ("blvd", "boul", "bd", "boulevard", "бульвар", "б р"),
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
    return fold(values).str.replace(_NOT_WORD, " ", regex=True).str.strip()


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
    combined = fields[0]
    for field in fields[1:]:
        combined = combined + _SEP + field.str.replace(_SEP, " ", regex=False)
    has_street = np.array((fields[0].str.strip() != "") | (fields[1].str.strip() != ""), dtype=bool)
    pattern = _pickup_pattern(pickup_keywords)

    def _normalize(distinct: pd.Series) -> pd.DataFrame:
        return _normalize_distinct(distinct, pickup=pattern)

    result = map_distinct(combined.where(has_street), _normalize)
    assert isinstance(result, pd.DataFrame)
    return result


def _pickup_pattern(keywords: Iterable[str]) -> str | None:
    words = sorted({w for w in _words(pd.Series(list(keywords), dtype=TEXT)).dropna() if w})
    if not words:
        return None
    return "(?:^| )(?:" + "|".join(re.escape(w) for w in words) + ")(?: |$)"


def _normalize_distinct(combined: pd.Series, *, pickup: str | None) -> pd.DataFrame:
    parts = extract(combined, "^" + _SEP.join(f"(?P<{c}>[^{_SEP}]*)" for c in ADDRESS_FIELDS) + "$")
    line2 = _words(parts[S.LINE2]).fillna("")
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
    # "n/a" must stay a placeholder the junk rules know, not become "north a"
    placeholder = np.array(lines.isin(_placeholder_words()), dtype=bool)
    street = _canonical_street(street).mask(placeholder, lines)
    unit = replace_re2(unit, "^0+([0-9])", "\\1")  # "apt 04" = "apt 4"
    postal = _postal_codes(parts[S.POSTAL_CODE], parts[S.COUNTRY])
    city = _words(parts[S.CITY]).fillna("")
    place = postal.where(postal != "", city)
    country = _countries(parts[S.COUNTRY])
    value = street + "|" + unit + "|" + place + "|" + country
    suppressed = reasons(is_pickup, PICKUP_POINT)
    return pd.DataFrame({"value": value.astype(TEXT), "suppressed": suppressed})


@lru_cache(maxsize=1)
def _placeholder_words() -> frozenset[str]:
    words = _words(pd.Series(sorted(PLACEHOLDERS), dtype=TEXT)).dropna()
    return frozenset(w for w in words if w)


def _split_unit(lines: pd.Series) -> tuple[pd.Series, pd.Series]:
    markers = "|".join(re.escape(m) for m in UNIT_MARKERS)
    found = extract(lines, f"^(?P<pre>.*?)(?:^| )(?:{markers}) (?P<unit>[^ ]+)(?P<post>.*)$")
    has_unit = np.array(found["unit"].notna(), dtype=bool)
    street = (found["pre"].fillna("") + found["post"].fillna("")).where(has_unit, lines)
    unit = found["unit"].fillna("")
    return street.str.replace(" +", " ", regex=True).str.strip(), unit


def _canonical_street(street: pd.Series) -> pd.Series:
    # German glued street type: "hauptstr"/"hauptstrasse" -> "haupt street"
    padded = " " + street.str.replace(" ", "  ", regex=False) + " "
    padded = replace_re2(padded, "([a-z])(?:strasse|str) ", "\\1 street ")
    padded = " " + padded.str.replace(" +", "  ", regex=True) + " "
    for canonical, spellings in ABBREVIATIONS.items():
        alternatives = "|".join(re.escape(s).replace("\\ ", "  ") for s in spellings)
        target = f" {canonical} " if canonical else " "
        padded = padded.str.replace(f" (?:{alternatives}) ", target, regex=True)
    street = padded.str.replace(" +", " ", regex=True).str.strip()
    # Slavic street types stand before or after the name ("ul. Mira" = "Mira ul."):
    # one canonical place, after the name, before the house number
    movable = "|".join(_MOVABLE_TYPES)
    return street.str.replace(
        f"^({movable}) ([^0-9]+?)(?: ([0-9].*))?$", r"\2 \1 \3", regex=True
    ).str.strip()


#: street types written before or after the street's name
_MOVABLE_TYPES = ("ulitsa", "prospekt", "pereulok", "shosse", "naberezhnaya")


def _postal_codes(postal: pd.Series, country: pd.Series) -> pd.Series:
    code = fold(postal).str.replace("[^0-9a-z]", "", regex=True).fillna("")
    us = np.array(_countries(country) == "us", dtype=bool)
    zip9 = np.array(code.str.fullmatch("[0-9]{9}").fillna(False), dtype=bool)
    return code.mask(us & zip9, code.str.slice(0, 5))


def _countries(country: pd.Series) -> pd.Series:
    name = _words(country).fillna("")
    return name.map(COUNTRY_ALIASES).fillna(name).astype(TEXT)
