"""Phone numbers: E.164 keys, the vectorised fast path agrees with phonenumbers."""

from __future__ import annotations

import re

import pandas as pd
import phonenumbers
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.normalize.phone import _fast_e164, normalize_phones, split_e164, valid_e164
from linkgraph.normalize.text import TEXT

# (raw, account country, expected E.164 or None when invalid)
VARIANTS = [
    ("8 912 345-67-89", "RU", "+79123456789"),
    ("+7 (912) 345 67 89", "DE", "+79123456789"),
    ("89123456789", "RU", "+79123456789"),
    ("79123456789", "RU", "+79123456789"),
    ("9123456789", "RU", "+79123456789"),
    ("8-912-345-67-89", "RU", "+79123456789"),
    ("+7-912-345-67-89", "KZ", "+79123456789"),
    ("0079123456789", "DE", "+79123456789"),
    ("810 7 912 345 67 89", "RU", "+79123456789"),
    ("8 (912) 345.67.89", "RU", "+79123456789"),
    ("07911 123456", "GB", "+447911123456"),
    ("+44 (0)7911 123456", "US", "+447911123456"),
    ("447911123456", "GB", "+447911123456"),
    ("00447911123456", "FR", "+447911123456"),
    ("011 44 7911 123456", "US", "+447911123456"),
    ("030 1234567", "DE", "+49301234567"),
    ("+49 30 1234567", "RU", "+49301234567"),
    ("0049 30 1234567", "GB", "+49301234567"),
    ("0170 1234567", "DE", "+491701234567"),
    ("+49 (0)170 1234567", "DE", "+491701234567"),
    ("(212) 555-1234", "US", "+12125551234"),
    ("1-212-555-1234", "US", "+12125551234"),
    ("212.555.1234", "US", "+12125551234"),
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("+33 6 12 34 56 78", "FR", "+33612345678"),
    ("06 1234 5678", "IT", "+390612345678"),
    ("+380 67 123 4567", "UA", "+380671234567"),
    ("067 123 4567", "UA", "+380671234567"),
    ("8 701 123 4567", "KZ", "+77011234567"),
    ("8 800 555 35 35", "RU", "+78005553535"),
    ("12", "RU", None),
    ("n/a", "RU", None),
    ("+0 123", "RU", None),
]


@pytest.mark.parametrize(("raw", "country", "expected"), VARIANTS)
def test_phone_written_many_ways_gives_one_e164(raw: str, country: str, expected: str | None):
    result = normalize_phones(pd.Series([raw]), pd.Series([country]))
    if expected is None:
        assert result["suppressed"].iloc[0] == "invalid"
    else:
        assert result["value"].iloc[0] == expected
        assert pd.isna(result["suppressed"].iloc[0])


def _phonenumbers_e164(raw: str, region: str | None) -> str | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


#: regions with every kind of rule: plain trunk prefixes (RU, GB, DE), none (IT, ES),
#: carrier codes and transform rules (AR, BR, CN), odd international prefixes (US, RU, JP)
REGIONS = ("RU", "KZ", "BY", "UA", "GB", "DE", "FR", "IT", "ES", "PL", "NL", "TR", "US", "CA",
           "MX", "BR", "AR", "CN", "JP", "IN", "AU", "IL", "AE", "SG", "NG", "ZA")


def _example_variants(regions: tuple[str, ...] = REGIONS) -> list[tuple[str, str]]:
    """Each region's example numbers in national, international, E.164 and bare forms."""
    variants = [(raw, country) for raw, country, _ in VARIANTS]
    formats = (phonenumbers.PhoneNumberFormat.NATIONAL,
               phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    for region in regions:
        example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
        if example is None:
            continue
        nsn = phonenumbers.national_significant_number(example)
        variants += [(phonenumbers.format_number(example, f), region) for f in formats]
        variants += [(nsn, region), (str(example.country_code) + nsn, region),
                     ("00" + str(example.country_code) + nsn, region)]
    return variants


def _disagreements(variants: list[tuple[str, str]]) -> list[tuple[str, str, str, str | None]]:
    raw = pd.Series([v for v, _ in variants], dtype=TEXT)
    regions = pd.Series([r for _, r in variants], dtype=TEXT)
    e164, decided = _fast_e164(raw, regions)
    assert decided.mean() > 0.8  # the fast path carries the batch, not the fallback
    return [
        (raw[i], regions[i], e164[i], _phonenumbers_e164(raw[i], regions[i]))
        for i in range(len(raw))
        if decided[i] and (None if pd.isna(e164[i]) else e164[i]) != _phonenumbers_e164(
            raw[i], regions[i])
    ]


def test_fast_path_agrees_with_phonenumbers_on_example_numbers_of_many_regions():
    assert _disagreements(_example_variants()) == []


@pytest.mark.slow
def test_fast_path_agrees_with_phonenumbers_on_example_numbers_of_every_region():
    assert _disagreements(_example_variants(tuple(sorted(phonenumbers.SUPPORTED_REGIONS)))) == []


_random_number = st.tuples(
    st.sampled_from(["", "+", "0", "00", "8", "810", "011"]),
    st.text(alphabet="0123456789", min_size=1, max_size=15),
    st.sampled_from(["RU", "GB", "DE", "US", "FR", "IT", "KZ", "UA", "BY", "BR", "AR", "JP"]),
)


@settings(max_examples=15, deadline=None)
@given(st.lists(_random_number, min_size=1, max_size=60))
def test_fast_path_agrees_with_phonenumbers_on_random_digits(numbers):
    raw = pd.Series([prefix + digits for prefix, digits, _ in numbers], dtype=TEXT)
    regions = pd.Series([region for _, _, region in numbers], dtype=TEXT)
    e164, decided = _fast_e164(raw, regions)
    for i in range(len(raw)):
        if decided[i]:
            assert (None if pd.isna(e164[i]) else e164[i]) == _phonenumbers_e164(
                raw[i], regions[i]), (raw[i], regions[i])


def test_number_without_country_code_is_invalid_when_no_region_is_known():
    result = normalize_phones(pd.Series(["8 912 345-67-89", "+79123456789"]))
    assert result["suppressed"].tolist() == ["invalid", pd.NA]


def test_default_region_reads_numbers_of_accounts_without_country():
    result = normalize_phones(pd.Series(["8 912 345-67-89"]), pd.Series([None]),
                              default_region="RU")
    assert result["value"].tolist() == ["+79123456789"]


def test_unknown_country_code_falls_back_to_default_region():
    result = normalize_phones(pd.Series(["07911 123456"]), pd.Series(["XX"]), default_region="GB")
    assert result["value"].tolist() == ["+447911123456"]


def test_missing_phone_stays_missing():
    result = normalize_phones(pd.Series([None, "", "  "], dtype=object), pd.Series(["RU"] * 3))
    assert result["value"].isna().all()


def test_valid_e164_checks_pattern_and_length_of_the_calling_code():
    assert valid_e164(pd.Series(["+79123456789", "+7912345", "+4930123456"])).tolist() == [
        True, False, True,
    ]


def test_split_e164_separates_calling_code():
    parts = split_e164(pd.Series(["+380671234567", "+12125551234"]))
    assert parts.to_numpy().tolist() == [["380", "671234567"], ["1", "2125551234"]]


@settings(max_examples=10, deadline=None)
@given(st.lists(st.sampled_from(VARIANTS), min_size=1, max_size=20), st.randoms())
def test_normalising_twice_changes_nothing_and_row_order_does_not_matter(rows, rnd):
    raw = pd.Series([r for r, _, _ in rows])
    countries = pd.Series([c for _, c, _ in rows])
    once = normalize_phones(raw, countries)
    valid = once["suppressed"].isna().to_numpy()
    twice = normalize_phones(once["value"][valid], countries[valid])
    assert twice["value"].tolist() == once["value"][valid].tolist()
    order = list(range(len(rows)))
    rnd.shuffle(order)
    shuffled = normalize_phones(raw.iloc[order], countries.iloc[order])
    pd.testing.assert_frame_equal(shuffled.sort_index(), once)


def _split_by_hand(value: str | None) -> tuple[str | None, str | None]:
    """split_e164 spelt out: "+" and digits; the calling code the prefix that is one."""
    if value is None or not re.fullmatch(r"\+[0-9]+", value):
        return None, None
    digits, cc = value[1:], None
    for n in (3, 2, 1):
        if digits[:n] in {str(c) for c in phonenumbers.COUNTRY_CODE_TO_REGION_CODE
                          if len(str(c)) == n}:
            cc = digits[:n]
    return (cc, digits[len(cc):]) if cc is not None else (None, None)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(alphabet="+0123456789 a\n\u0661", max_size=6),
                          st.from_regex(r"\+[0-9]{1,14}", fullmatch=True)), max_size=20),
       st.integers(0, 2))
def test_split_e164_reads_plus_digits_and_the_calling_code_that_starts_them(values, cut):
    text = pd.Series(values, dtype="string[pyarrow]").iloc[cut:]  # a slice: an Arrow offset
    parts = split_e164(text)
    got = [(None if pd.isna(c) else c, None if pd.isna(n) else n)
           for c, n in zip(parts["cc"], parts["national"], strict=True)]
    assert got == [_split_by_hand(v) for v in values[cut:]]
