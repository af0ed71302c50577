"""Postal addresses written the ways people write them (per country, vectorised)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph.synth import render, vocab
from linkgraph.synth.render import NUMBERS, choose, lower, upper

STREET_NAMES = np.array([s for c in vocab.STREETS for s in c], dtype=object)
CITY_NAMES = np.array([c[0] for cc in vocab.CITIES for c in cc], dtype=object)
REGIONS = np.array([c[1] for cc in vocab.CITIES for c in cc], dtype=object)
POSTAL_PREFIX = np.array([c[2] for cc in vocab.CITIES for c in cc], dtype=object)
_SUFFIXES = {
    0: (("Street", "St", "St."), ("Avenue", "Ave", "Ave."), ("Road", "Rd", "Rd."),
        ("Drive", "Dr", "Dr.")),
    3: (("Road", "Rd", "Rd."), ("Street", "St", "St."), ("Lane", "Ln", "Lane"),
        ("Avenue", "Ave", "Ave.")),
}
_FLATS = (("Apt {}", "Apt. {}", "#{}", "Apartment {}", "apt {}"),
          ("kv. {}", "kv {}", "kvartira {}", "apt {}", "kv.{}"),
          ("Wohnung {}", "Whg. {}", "Apt. {}", "Whg {}", "Wohnung {}"),
          ("Flat {}", "flat {}", "Apt {}", "Flat {}", "Apartment {}"))
_THREE = np.array([s[1:] for s in NUMBERS[1000:2000]], dtype=object)  # "000".."999"
_TWO = np.array([s[2:] for s in NUMBERS[1000:2000]], dtype=object)  # "00".."99"
_GB_LETTERS = np.array(list("ABDEFGHJLNPQRSTUWXYZ"), dtype=object)


def _fmt(pattern: str, values: np.ndarray) -> np.ndarray:
    head, _, tail = pattern.partition("{}")
    return head + values + tail


def street_lines(country: np.ndarray, street: np.ndarray, stype: np.ndarray, no: np.ndarray,
                 spelling: np.ndarray) -> np.ndarray:
    """The street and house number: ``12 Main St.`` / ``Hauptstr. 12`` / ``ul. Lenina, d. 12``."""
    name, number = STREET_NAMES[street], NUMBERS[no]
    out = np.empty(len(country), dtype=object)
    for x in range(len(vocab.COUNTRIES)):
        for k in range(3):
            mask = (country == x) & (spelling == k)
            if not mask.any():
                continue
            n, s, t = number[mask], name[mask], stype[mask]
            if x in _SUFFIXES:
                suffix = np.array([_SUFFIXES[x][i][k] for i in range(4)], dtype=object)[t]
                out[mask] = n + " " + s + " " + suffix
            elif x == 2:
                out[mask] = s + ("straße ", "str. ", "strasse ")[k] + n
            else:
                out[mask] = (("ul. " + s + ", d. " + n), ("ulitsa " + s + ", dom " + n),
                             (s + " ul., " + n))[k]
    return out


def postal_codes(country: np.ndarray, city: np.ndarray, postal: np.ndarray, spaced: np.ndarray
                 ) -> np.ndarray:
    """Postal codes; RU and GB codes written with or without their inner space."""
    prefix = POSTAL_PREFIX[city]
    tail3 = _THREE[postal]
    out = np.empty(len(country), dtype=object)
    us, ru, de, gb = (country == x for x in range(4))
    out[us] = prefix[us] + _TWO[postal[us]]
    sep = np.where(spaced, " ", "").astype(object)
    out[ru] = prefix[ru] + sep[ru] + tail3[ru]
    out[de] = prefix[de] + tail3[de]
    inward = (NUMBERS[postal % 10] + _GB_LETTERS[(postal // 10) % 20]
              + _GB_LETTERS[(postal // 3) % 20])
    out[gb] = prefix[gb] + NUMBERS[postal[gb] % 20 + 1] + sep[gb] + inward[gb]
    return out


def home_addresses(rng: np.random.Generator, country: np.ndarray, street: np.ndarray,
                   stype: np.ndarray, no: np.ndarray, apt: np.ndarray, city: np.ndarray,
                   postal: np.ndarray) -> dict[str, np.ndarray]:
    """``line1, line2, city, region, postal_code`` of homes, each row spelt its own way."""
    n = len(country)
    line1 = street_lines(country, street, stype, no, rng.integers(0, 3, size=n))
    flat_style = rng.integers(0, 5, size=n)
    flat = np.empty(n, dtype=object)
    for x in range(len(vocab.COUNTRIES)):
        for k in range(5):
            mask = (country == x) & (flat_style == k)
            flat[mask] = _fmt(_FLATS[x][k], NUMBERS[apt[mask]])
    has_flat = apt > 0
    inline = has_flat & (rng.random(n) < 0.3)
    line1 = np.where(inline, line1 + ", " + flat, line1)
    line2 = np.where(has_flat & ~inline, flat, render.MISSING)
    spaced = rng.random(n) < 0.05
    if spaced.any():
        line1[spaced] = pc.replace_substring(pa.array(line1[spaced], pa.string()), " ", "  ",
                                             max_replacements=1).to_numpy(zero_copy_only=False)
    cities = CITY_NAMES[city]
    case = rng.choice(3, size=n, p=[0.9, 0.05, 0.05])
    lines = {"line1": line1, "line2": line2, "city": cities}
    for key, value in lines.items():
        lines[key] = choose(case, [value, upper(value), lower(value)])
    return {**lines, "region": REGIONS[city],
            "postal_code": postal_codes(country, city, postal, rng.random(n) < 0.6)}
