"""Payment methods: the provider's fingerprint, else bin + last4 + expiry."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.normalize.junk import junk_values
from linkgraph.normalize.payment import card_digits, normalize_expiry, normalize_fingerprints

# (bin, last4, expiry, expected key or None)
CARD_DIGITS = [
    ("424242", "4242", "12/26", "424242|4242|1226"),
    ("424242", "4242", "12/2026", "424242|4242|1226"),
    ("424242", "4242", "1226", "424242|4242|1226"),
    ("424242", "4242", "12-26", "424242|4242|1226"),
    ("424242", "4242", "12.26", "424242|4242|1226"),
    ("424242", "4242", "12 / 26", "424242|4242|1226"),
    ("424242", "4242", "2026-12", "424242|4242|1226"),
    ("424242", "4242", "2026/12", "424242|4242|1226"),
    ("424242", "4242", " 12/26 ", "424242|4242|1226"),
    ("42424242", "4242", "12/26", "424242|4242|1226"),
    ("4242 42", "4242", "12/26", "424242|4242|1226"),
    ("4242-4242", "4242", "12/26", "424242|4242|1226"),
    ("553691", "0012", "1/27", "553691|0012|0127"),
    ("553691", "0012", "01/27", "553691|0012|0127"),
    ("553691", "0012", "127", "553691|0012|0127"),
    ("553691", "12", "01/27", None),  # last4 is not four digits
    ("5536", "0012", "01/27", None),  # too short a BIN
    ("553691", "0012", "13/27", None),  # no 13th month
    ("553691", "0012", "00/27", None),
    ("553691", "0012", None, None),
    (None, "0012", "01/27", None),
    ("553691", None, "01/27", None),
    ("553691", "0012", "soon", None),
]


@pytest.mark.parametrize(("bin_", "last4", "expiry", "key"), CARD_DIGITS)
def test_card_digits_key_only_when_all_three_parts_are_readable(bin_, last4, expiry, key):
    result = card_digits(pd.Series([bin_], dtype=object), pd.Series([last4], dtype=object),
                         pd.Series([expiry], dtype=object))
    value = result["value"].iloc[0]
    assert (None if pd.isna(value) else value) == key


def test_fingerprint_is_trimmed_and_keeps_its_case():
    result = normalize_fingerprints(pd.Series([" fp_9Xa1b2 ", "fp_9xa1b2", None]))
    assert result["value"].tolist() == ["fp_9Xa1b2", "fp_9xa1b2", pd.NA]


def test_test_cards_and_placeholder_fingerprints_are_junk():
    assert junk_values("card_digits", pd.Series(["424242|4242|1226", "411111|1111|0130",
                                                 "553691|0012|0127"])).tolist() == [
        True, True, False,
    ]
    assert junk_values("card", pd.Series(["unknown", "00000000", "fp_1", "fp_9Xa1b2"])).tolist() == [
        True, True, True, False,
    ]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 12), st.integers(0, 99), st.booleans()), min_size=1,
                max_size=30))
def test_expiry_forms_agree_and_normalising_twice_changes_nothing(dates):
    short = pd.Series([f"{m:02d}/{y:02d}" for m, y, _ in dates])
    long_ = pd.Series([f"{m}/20{y:02d}" if four else f"{m:02d}{y:02d}" for m, y, four in dates])
    once = normalize_expiry(short)
    assert once.tolist() == normalize_expiry(long_).tolist()
    assert normalize_expiry(once).tolist() == once.tolist()
