"""Email addresses: one key per mailbox; invalid syntax and disposable domains."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.normalize.email import disposable_email, normalize_emails

# (raw, expected key, expected suppressed)
VARIANTS = [
    ("J.Doe+ali@gmail.com", "jdoe@gmail.com", None),
    ("jdoe@googlemail.com", "jdoe@gmail.com", None),
    ("  JDOE@GMAIL.COM ", "jdoe@gmail.com", None),
    ("j.d.o.e@gmail.com", "jdoe@gmail.com", None),
    ("jdoe+shop+2@gmail.com", "jdoe@gmail.com", None),
    ("mailto:jdoe@gmail.com", "jdoe@gmail.com", None),
    ("<jdoe@gmail.com>", "jdoe@gmail.com", None),
    ("jdoe@gmail.com.", "jdoe@gmail.com", None),
    ("ann+promo@outlook.com", "ann@outlook.com", None),
    ("Ann@Hotmail.com", "ann@hotmail.com", None),
    ("ann.lee@hotmail.com", "ann.lee@hotmail.com", None),  # dots matter outside Gmail
    ("tim+x@icloud.com", "tim@icloud.com", None),
    ("kate-promo@yahoo.com", "kate@yahoo.com", None),
    ("kate@yahoo.com", "kate@yahoo.com", None),
    ("ivan.petrov@ya.ru", "ivan-petrov@yandex.ru", None),
    ("ivan-petrov+shop@yandex.com", "ivan-petrov@yandex.ru", None),
    ("bob+tag@mail.ru", "bob+tag@mail.ru", None),  # mail.ru has no plus addressing
    ("o'brien@example.ie", "o'brien@example.ie", None),
    ("user@xn--80ak6aa92e.com", "user@xn--80ak6aa92e.com", None),
    ("пользователь@почта.рф", "пользователь@почта.рф", None),
    ("not an email", "not an email", "invalid"),
    ("jdoe@", "jdoe@", "invalid"),
    ("@gmail.com", "@gmail.com", "invalid"),
    ("jdoe@gmail", "jdoe@gmail", "invalid"),
    ("j..doe@mail.com", "j..doe@mail.com", "invalid"),
    ("+shop@gmail.com", "+shop@gmail.com", "invalid"),
    ("a@b@c.com", "a@b@c.com", "invalid"),
]


@pytest.mark.parametrize(("raw", "key", "suppressed"), VARIANTS)
def test_email_written_many_ways_gives_one_mailbox_key(raw: str, key: str, suppressed: str | None):
    result = normalize_emails(pd.Series([raw]))
    assert result["value"].iloc[0] == key
    if suppressed is None:
        assert pd.isna(result["suppressed"].iloc[0])
    else:
        assert result["suppressed"].iloc[0] == suppressed


def test_configured_plus_tag_domain_drops_tags():
    result = normalize_emails(pd.Series(["me+x@corp.example"]),
                              plus_tag_domains=["corp.example"])
    assert result["value"].tolist() == ["me@corp.example"]


def test_missing_email_stays_missing():
    assert normalize_emails(pd.Series([None, ""], dtype=object))["value"].isna().all()


def test_disposable_domains_and_their_subdomains_are_flagged():
    emails = pd.Series(["a@mailinator.com", "b@sub.guerrillamail.com", "c@gmail.com",
                        "d@notmailinator.com", None, "e@burner.test"])
    assert disposable_email(emails, extra_domains=["burner.test"]).tolist() == [
        True, True, False, False, False, True,
    ]


_local = st.text(alphabet="abcXYZ019._+-", min_size=1, max_size=12)
_domain = st.sampled_from(["gmail.com", "googlemail.com", "outlook.com", "yahoo.com", "ya.ru",
                           "mail.ru", "corp.example"])


@settings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(_local, _domain), min_size=1, max_size=30), st.randoms())
def test_normalising_twice_changes_nothing_and_row_order_does_not_matter(addresses, rnd):
    raw = pd.Series([f"{local}@{domain}" for local, domain in addresses])
    once = normalize_emails(raw)
    valid = once["suppressed"].isna().to_numpy()
    twice = normalize_emails(once["value"][valid])
    assert twice["value"].tolist() == once["value"][valid].tolist()
    assert twice["suppressed"].isna().all()
    order = list(range(len(raw)))
    rnd.shuffle(order)
    pd.testing.assert_frame_equal(normalize_emails(raw.iloc[order]).sort_index(), once)
