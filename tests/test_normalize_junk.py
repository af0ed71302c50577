"""Junk: placeholder values per kind never link; the configured list adds more."""

from __future__ import annotations

import pandas as pd
import pytest

from linkgraph.normalize.junk import junk_values

# (kind, canonical value, junk?)
VARIANTS = [
    ("phone", "+70000000000", True),
    ("phone", "+79999999999", True),
    ("phone", "+71111111111", True),
    ("phone", "+71234567890", True),
    ("phone", "+79876543210", True),
    ("phone", "+491234567", True),
    ("phone", "+79123456789", False),  # a real-looking Russian mobile, not a digit run
    ("phone", "+447911123456", False),
    ("phone", "0000000000", True),  # unparseable text is judged by its digits
    ("phone", "n/a", True),
    ("email", "test@test.com", True),
    ("email", "noemail@gmail.com", True),
    ("email", "none@mail.ru", True),
    ("email", "jdoe@example.com", True),
    ("email", "jdoe@shop.test", True),
    ("email", "aaaa@gmail.com", True),
    ("email", "123456@mail.ru", True),
    ("email", "jdoe@gmail.com", False),
    ("email", "test.jdoe@gmail.com", False),
    ("email", "unknown", True),
    ("device", "00000000-0000-0000-0000-000000000000", True),
    ("device", "unknown", True),
    ("device", "dev-9f8e7d6c", False),
    ("card", "null", True),
    ("card", "fp_9Xa1b2", False),
    ("card_digits", "000000|0000|0130", True),
    ("card_digits", "553691|0012|0127", False),
    ("address", "-|||", True),
    ("address", "12 main street|4|12345|us", False),
    ("name", "test user", True),
    ("name", "doe john", False),
    ("ip", "unknown", True),
    ("ip", "81.2.69.160", False),
    ("email", "—", True),  # no letter or digit at all
]


@pytest.mark.parametrize(("kind", "value", "junk"), VARIANTS)
def test_placeholder_values_are_junk_and_real_ones_are_not(kind: str, value: str, junk: bool):
    assert junk_values(kind, pd.Series([value])).tolist() == [junk]


def test_configured_junk_values_apply_to_every_kind_or_to_one_kind():
    values = pd.Series(["+79990001122", "shared@corp.com"])
    assert junk_values("phone", values, extra=["+79990001122"]).tolist() == [True, False]
    assert junk_values("email", values, extra=["phone:shared@corp.com"]).tolist() == [False, False]
    assert junk_values("email", values, extra=["email:SHARED@corp.com"]).tolist() == [False, True]


def test_missing_values_are_not_junk():
    assert junk_values("phone", pd.Series([None, pd.NA], dtype=object)).tolist() == [False, False]
