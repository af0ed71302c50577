"""Masks show what an identifier is, never the identifier; pseudonyms are keyed."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.mask import mask_values, pseudonymize

# (kind, value, masked)
EXAMPLES = [
    ("email", "jdoe@gmail.com", "j***@gmail.com"),
    ("email", "ab@mail.ru", "a***@mail.ru"),
    ("email", "a@mail.ru", "***@mail.ru"),
    ("email", "not an email", "n***"),
    ("phone", "+79123456789", "+7********89"),
    ("phone", "+447911123456", "+44********56"),
    ("phone", "+712", "+7***"),
    ("phone", "n/a", "***"),
    ("card_digits", "553691|0012|0127", "****0012"),
    ("ip", "81.2.69.160", "81.2.69.x"),
    ("ip", "2a02:6b8:0:1::/64", "2a02:6b8:0:x::/64"),
    ("ip", "2001:db8::/64", "2001:db8:0:x::/64"),
    ("address", "12 main street|4|12345|us", "*** main street, apt ***, 12345, US"),
    ("address", "haupt street 5||10115|de", "haupt street ***, 10115, DE"),
    ("address", "5th avenue 10||10001|us", "5th avenue ***, 10001, US"),
    ("device", "dev-9f8e7d6c5b4aa1b2", "dev-***a1b2"),
    ("device", "dev-9f8e7d6c", "***7d6c"),
    ("device", "abc", "***"),
    ("name", "doe john", "D*** J***"),
    ("name", "иван петров", "И*** П***"),
    ("unknown_kind", "something", "s***"),
]


@pytest.mark.parametrize(("kind", "value", "masked"), EXAMPLES)
def test_masks_for_moderators(kind: str, value: str, masked: str):
    assert mask_values(kind, pd.Series([value])).tolist() == [masked]


def test_card_fingerprint_shows_the_card_last4_when_known_else_the_token_tail():
    tokens = pd.Series(["fp_ABCDEF123456", "fp_ABCDEF123456", "tok1"])
    masked = mask_values("card", tokens, last4=pd.Series(["0012", None, None]))
    assert masked.tolist() == ["card ****0012", "card ****3456", "card ****"]


def test_missing_values_stay_missing():
    assert mask_values("email", pd.Series([None, "a@b.co"])).isna().tolist() == [True, False]


_emails = st.tuples(st.text("abcdefghij.-_0123", min_size=1, max_size=12),
                    st.sampled_from(["gmail.com", "mail.ru", "corp.example"]))


@settings(max_examples=25, deadline=None)
@given(st.lists(_emails, min_size=1, max_size=20))
def test_email_mask_shows_at_most_the_first_character_of_the_mailbox(emails):
    values = pd.Series([f"{local}@{domain}" for local, domain in emails])
    for (local, domain), masked in zip(emails, mask_values("email", values), strict=True):
        shown = masked.split("@")[0].replace("*", "")
        assert len(shown) <= 1 and local.startswith(shown)
        assert masked.endswith("@" + domain)
        assert f"{local}@{domain}" not in masked or len(local) == 0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.from_regex(r"\+7[0-9]{10}", fullmatch=True), min_size=1, max_size=20))
def test_phone_mask_shows_no_more_than_two_trailing_digits(phones):
    for phone, masked in zip(phones, mask_values("phone", pd.Series(phones)), strict=True):
        assert re.fullmatch(r"\+7\*+[0-9]{2}", masked)
        assert masked.endswith(phone[-2:]) and phone not in masked


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["email", "phone", "device", "card", "card_digits",
                                           "address", "ip", "name", "other"]),
                          st.text(min_size=1, max_size=30)), min_size=1, max_size=20))
def test_no_mask_contains_the_whole_value(values):
    for kind, value in values:
        masked = mask_values(kind, pd.Series([value])).iloc[0]
        shown = value.strip()
        if len(shown) >= 2 and not pd.isna(masked):
            # a mask may keep a value's first character; a value whose rest is made of
            # the mask's own characters ("0*" -> "0***") is found in it, not shown by it
            assert shown not in masked or set(shown[1:]) <= set("*x., |")


def test_pseudonyms_are_stable_keyed_and_short():
    values = pd.Series(["jdoe@gmail.com", "ann@outlook.com", "jdoe@gmail.com", None])
    first = pseudonymize(values, key=b"secret")
    assert first[0] == first[2] and first[0] != first[1]
    assert first[:3].str.fullmatch("[0-9a-f]{16}").all() and pd.isna(first[3])
    assert (pseudonymize(values, key=b"other")[:3] != first[:3]).all()
    assert pseudonymize(values.iloc[::-1], key=b"secret").sort_index().equals(first)


def test_an_email_with_no_mailbox_does_not_show_its_domain_as_the_whole_value():
    assert mask_values("email", pd.Series(["@0", "@gmail.com", "a@b"])).tolist() == [
        "***", "@***", "***@b"]


def test_a_bare_number_in_an_ip_column_is_starred_not_echoed():
    assert mask_values("ip", pd.Series(["00", "12345"])).tolist() == ["***", "***"]
