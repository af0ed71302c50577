"""Device ids: case and whitespace ignored; placeholder ids are junk."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.normalize.device import normalize_devices
from linkgraph.normalize.junk import junk_values

# (raw, expected key, junk?)
VARIANTS = [
    ("dev-9f8e7d6c", "dev-9f8e7d6c", False),
    (" DEV-9F8E7D6C ", "dev-9f8e7d6c", False),
    ("Dev-9f8E7d6C", "dev-9f8e7d6c", False),
    ("A1B2C3D4-E5F6-4711-8899-AABBCCDDEEFF", "a1b2c3d4-e5f6-4711-8899-aabbccddeeff", False),
    ("a1b2c3d4-e5f6-4711-8899-aabbccddeeff\n", "a1b2c3d4-e5f6-4711-8899-aabbccddeeff", False),
    ("3f2504e0 4f89 11d3 9a0c 0305e82c3301", "3f2504e04f8911d39a0c0305e82c3301", False),
    ("ab12cd34ef56ab78", "ab12cd34ef56ab78", False),
    ("ios:4A5B6C7D", "ios:4a5b6c7d", False),
    ("00000000-0000-0000-0000-000000000000", "00000000-0000-0000-0000-000000000000", True),
    ("FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", "ffffffff-ffff-ffff-ffff-ffffffffffff", True),
    ("0000000000000000", "0000000000000000", True),
    ("unknown", "unknown", True),
    ("UNKNOWN", "unknown", True),
    ("null", "null", True),
    ("none", "none", True),
    ("undefined", "undefined", True),
    ("n/a", "n/a", True),
    ("-", "-", True),
    ("abc", "abc", True),
    ("12345", "12345", True),
    ("9774d56d682e549c", "9774d56d682e549c", True),
    ("emulator", "emulator", True),
    ("aaaaaaaaaaaa", "aaaaaaaaaaaa", True),
]


@pytest.mark.parametrize(("raw", "key", "junk"), VARIANTS)
def test_device_id_key_and_junk(raw: str, key: str, junk: bool):
    value = normalize_devices(pd.Series([raw]))["value"]
    assert value.tolist() == [key]
    assert junk_values("device", value).tolist() == [junk]


def test_min_device_length_is_configurable():
    ids = pd.Series(["dev-12", "dev-1234"])
    assert junk_values("device", ids, min_device_length=6).tolist() == [True, False]
    assert junk_values("device", ids, min_device_length=4).tolist() == [False, False]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=20), min_size=1, max_size=30), st.randoms())
def test_normalising_twice_changes_nothing_and_row_order_does_not_matter(ids, rnd):
    raw = pd.Series(ids)
    once = normalize_devices(raw)
    twice = normalize_devices(once["value"])
    assert twice["value"].tolist() == once["value"].tolist()
    order = list(range(len(raw)))
    rnd.shuffle(order)
    pd.testing.assert_frame_equal(normalize_devices(raw.iloc[order]).sort_index(), once)
