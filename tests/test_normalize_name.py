"""Names: folded, accents stripped, tokens sorted; one token identifies no one."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.normalize.junk import junk_values
from linkgraph.normalize.name import normalize_names

# (raw, expected key, expected suppressed)
VARIANTS = [
    ("John Doe", "doe john", None),
    ("Doe John", "doe john", None),
    ("DOE, John", "doe john", None),
    ("  john   doe ", "doe john", None),
    ("Mr. John Doe", "doe john", None),
    ("Dr John Doe", "doe john", None),
    ("José Álvarez", "alvarez jose", None),
    ("Jose Alvarez", "alvarez jose", None),
    ("Zoë Müller", "muller zoe", None),
    ("Jean-Luc Picard", "jean luc picard", None),
    ("Jean Luc Picard", "jean luc picard", None),
    ("Conor O'Neil", "conor oneil", None),
    ("Conor O’Neil", "conor oneil", None),
    ("Иван Петров", "иван петров", None),
    ("ПЕТРОВ Иван", "иван петров", None),
    ("Пётр Иванов", "иванов петр", None),
    ("Straße Hans", "hans strasse", None),
    ("Anna Maria van der Berg", "anna berg der maria van", None),
    ("John", "john", "invalid"),
    ("Mr. John", "john", "invalid"),
    ("J.", "j", "invalid"),
    ("!!", "!!", "invalid"),
]


@pytest.mark.parametrize(("raw", "key", "suppressed"), VARIANTS)
def test_name_written_many_ways_gives_one_key(raw: str, key: str, suppressed: str | None):
    result = normalize_names(pd.Series([raw]))
    assert result["value"].tolist() == [key]
    if suppressed is None:
        assert pd.isna(result["suppressed"].iloc[0])
    else:
        assert result["suppressed"].iloc[0] == suppressed


def test_placeholder_names_are_junk_and_real_ones_are_not():
    keys = normalize_names(pd.Series(["Test User", "Client Unknown", "John Doe", "Иван Тест"]))
    assert junk_values("name", keys["value"]).tolist() == [True, True, False, False]


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=25), min_size=1, max_size=30), st.randoms())
def test_normalising_twice_changes_nothing_and_row_order_does_not_matter(names, rnd):
    raw = pd.Series(names)
    once = normalize_names(raw)
    twice = normalize_names(once["value"])
    valid = once["suppressed"].isna().to_numpy()
    assert twice["value"][valid].tolist() == once["value"][valid].tolist()
    order = list(range(len(raw)))
    rnd.shuffle(order)
    pd.testing.assert_frame_equal(normalize_names(raw.iloc[order]).sort_index(), once)


def test_generational_suffix_tells_a_father_from_his_son() -> None:
    from linkgraph.normalize.name import normalize_names

    names = normalize_names(pd.Series(["John Smith Jr", "John Smith", "Mr. John Smith"]))["value"]
    assert names[0] != names[1]
    assert names[1] == names[2]
