"""The fast paths of the normalize stage give what the plain pandas calls give (issue 10)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.normalize.grouping import _sorted_codes, decode, pooled_codes, text_codes
from linkgraph.normalize.text import (
    _BLANK_BYTES,
    _BLANK_START,
    TEXT,
    _blank_runs,
    _lower,
    as_text,
    extract,
    keep_ascii,
    map_distinct,
    split_last,
)

# short strings over an alphabet with the blanks, accents and multi-byte characters
# that the byte-level shortcuts must get right
_TEXT = st.one_of(st.none(), st.text(alphabet=" \t\n\x00\x85\xa0\u2003\u3000\ufeffaAbé€𝄞", max_size=4))


def test_every_character_a_blank_cell_may_start_with_is_seen_by_its_first_byte() -> None:
    starts = re.compile(_BLANK_START)
    missed = [c for c in map(chr, range(0x110000))
              if starts.match(c) and not _BLANK_BYTES[c.encode("utf-8", "surrogatepass")[0]]]
    assert missed == []


@settings(max_examples=60, deadline=None)
@given(st.lists(_TEXT, max_size=20))
def test_blank_cells_become_na_and_nothing_else_changes(values: list) -> None:
    text = pd.Series(values, dtype=TEXT)
    got = as_text(text)
    # the rule without the shortcut: a cell is blank when Arrow's strip leaves nothing
    blank = (text.str.strip().str.len() == 0).fillna(False).to_numpy(dtype=bool)
    assert got.isna().tolist() == (text.isna().to_numpy(dtype=bool) | blank).tolist()
    assert got.dropna().tolist() == text[~blank].dropna().tolist()


@settings(max_examples=60, deadline=None)
@given(st.lists(_TEXT, max_size=20), st.booleans())
def test_codes_are_those_of_pandas_factorize(values: list, sort: bool) -> None:
    codes, distinct = text_codes(pd.Series(values, dtype=TEXT), sort=sort)
    expected_codes, expected = pd.factorize(pd.Series(values, dtype=TEXT), sort=sort)
    assert codes.tolist() == expected_codes.tolist()
    assert distinct.tolist() == list(expected)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(_TEXT, max_size=8), min_size=1, max_size=4), st.booleans())
def test_pooled_codes_are_the_codes_of_the_concatenated_parts(parts: list, sort: bool) -> None:
    series = [pd.Series(p, dtype=TEXT) for p in parts]
    codes, distinct = pooled_codes(series, sort=sort)
    expected_codes, expected = text_codes(pd.concat(series, ignore_index=True), sort=sort)
    assert np.concatenate(codes).tolist() == expected_codes.tolist()
    assert distinct.tolist() == expected.tolist()


def test_decoding_to_the_default_text_dtype_keeps_missing_codes_missing() -> None:
    distinct = pd.Series(["a", "b"], dtype=TEXT)
    got = decode(np.array([1, -1, 0, 2], dtype=np.int8), distinct, pd.Series(["x"]).dtype)
    assert got.dtype == pd.Series(["x"]).dtype
    assert got.isna().tolist() == [False, True, False, True]
    assert got.dropna().tolist() == ["b", "a"]


def test_codes_of_a_column_read_in_chunks_are_those_of_one_chunk() -> None:
    import pyarrow as pa

    values = ["b", None, "a", "b", "", "c", "a", None, "d"]
    chunks = [pa.array(values[i:i + 2], pa.large_string()) for i in range(0, len(values), 2)]
    chunked = pd.Series(TEXT.__from_arrow__(pa.chunked_array([*chunks, pa.array([], pa.large_string())])))
    for sort in (False, True):
        codes, distinct = text_codes(chunked, sort=sort)
        expected_codes, expected = pd.factorize(pd.Series(values, dtype=TEXT), sort=sort)
        assert codes.tolist() == expected_codes.tolist()
        assert distinct.tolist() == list(expected)


# the separators and line breaks the regex rules treat specially, with multi-byte text
_SPLIT_TEXT = st.one_of(st.none(), st.text(alphabet="a@.|\n\r é€𝄞", max_size=6))


@settings(max_examples=80, deadline=None)
@given(st.lists(_SPLIT_TEXT, max_size=20), st.integers(0, 3))
def test_split_at_the_last_separator_is_the_regex_extract(values: list, cut: int) -> None:
    text = pd.Series(values, dtype=TEXT).iloc[cut:]  # a slice: an Arrow offset
    expected = extract(text, "^(?P<local>.*)@(?P<domain>[^@]*)$")
    pd.testing.assert_frame_equal(split_last(text, "@", ("local", "domain")), expected)


@settings(max_examples=80, deadline=None)
@given(st.lists(_SPLIT_TEXT, max_size=20), st.integers(0, 3), st.booleans())
def test_keeping_ascii_characters_is_the_regex_replacement(values: list, cut: int,
                                                           two_chunks: bool) -> None:
    text = pd.Series(values, dtype=TEXT).iloc[cut:]
    if two_chunks:
        text = pd.concat([text.iloc[:2], text.iloc[2:]])
    for allowed, pattern in (("0123456789", "[^0-9]"), ("a.|", "[^a.|]")):
        expected = text.str.replace(pattern, "", regex=True)
        pd.testing.assert_series_equal(keep_ascii(text, allowed), expected)


@settings(max_examples=40, deadline=None)
@given(st.lists(_TEXT, min_size=1, max_size=20), st.integers(1, 60))
def test_canonical_values_coded_by_their_sort_are_coded_as_by_a_hash(values: list,
                                                                     copies: int) -> None:
    # many copies: past 1024 values the sort reads the strings' bytes itself
    text = pd.Series(values * copies, dtype=TEXT)
    codes, distinct = _sorted_codes(text)
    want_codes, want_distinct = text_codes(text, sort=True)
    assert codes.tolist() == want_codes.tolist()
    assert distinct.tolist() == want_distinct.tolist()


@settings(max_examples=40, deadline=None)
@given(st.lists(_TEXT, max_size=20))
def test_distinct_values_normalised_without_a_hash_as_with_one(values: list) -> None:
    text = as_text(pd.Series(list(dict.fromkeys(values)), dtype=TEXT))
    rule = lambda s: s.str.upper() + "!"
    pd.testing.assert_series_equal(map_distinct(text, rule, distinct=True),
                                   map_distinct(text, rule))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(_TEXT, st.text(alphabet=" \t\r\x0bAbZ.", max_size=5)), max_size=20))
def test_folding_finds_blank_runs_and_lowers_ascii_as_the_regex_and_unicode_rules(
        values: list) -> None:
    text = pd.Series(values, dtype=TEXT)
    runs = text.str.contains("[\t-\r]|  ", regex=True).fillna(False).to_numpy(dtype=bool)
    assert _blank_runs(text).tolist() == runs.tolist()
    ascii_only = pd.Series([v for v in values if v is None or v.isascii()], dtype=TEXT)
    pd.testing.assert_series_equal(_lower(ascii_only, all_ascii=True), ascii_only.str.lower())
