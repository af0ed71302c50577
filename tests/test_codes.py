"""The shared integer codes: lookups and ranks through categoricals, as through strings."""

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.codes import (
    coded_text,
    dictionary_codes,
    positions,
    sort_ranks,
    sorted_keys,
    sorted_unique,
    string_order,
    text_array,
)


def _ids(codes: list[int], names: list[str]) -> pd.Series:
    return pd.Series(coded_text(np.array(codes), pd.Index(names, dtype="str")))


def test_a_categorical_finds_the_same_positions_as_its_strings():
    column = _ids([2, -1, 0, 1, 2], ["a1", "a2", "zz"])
    keys = pd.Index(["a0", "a1", "a2"], dtype="str")
    assert positions(column, keys).tolist() == positions(
        column.astype(object), keys).tolist() == [-1, -1, 1, 2, -1]


def test_a_categorical_ranks_as_its_strings_missing_last():
    column = _ids([2, -1, 0, 1, 2], ["a1", "a2", "zz"])
    ranks, size = sort_ranks(column)
    assert ranks.tolist() == [2, 3, 0, 1, 2] and size == 4
    assert np.argsort(ranks, kind="stable").tolist() == np.argsort(
        sort_ranks(column.astype(object))[0], kind="stable").tolist()


def test_text_of_a_categorical_at_some_rows_is_those_rows_strings():
    column = _ids([2, -1, 0], ["a1", "a2", "zz"])
    assert text_array(column, np.array([2, 1, 0])).to_pylist() == ["a1", None, "zz"]
    assert text_array(pd.Series(["x", None])).to_pylist() == ["x", None]


def test_unchecked_categories_build_no_hash_table_of_them():
    names = pd.Index([f"id{i:05d}" for i in range(1000)], dtype="str")
    column = _ids(list(range(1000)), list(names))
    positions(column, names)
    sort_ranks(column)
    assert "_engine" not in column.dtype.categories._cache


@given(st.lists(st.integers(-2**40, 2**40), max_size=50))
def test_sorted_unique_is_numpys_unique(values: list[int]) -> None:
    array = np.array(values, dtype=np.int64)
    assert sorted_unique(array).tolist() == np.unique(array).tolist()
    assert sorted_unique(array).dtype == np.unique(array).dtype


@given(st.lists(st.integers(min_value=0, max_value=2**40), max_size=60))
def test_sorted_keys_give_the_stable_argsort_and_the_keys_in_order(values):
    keys = np.array(values, dtype=np.int64)
    sorted_, order = sorted_keys(keys)
    expected = np.argsort(keys, kind="stable")
    assert order.tolist() == expected.tolist()
    assert sorted_.tolist() == keys[expected].tolist()


def test_keys_too_wide_or_negative_to_pack_are_still_sorted_stably():
    for keys in (np.array([2**62, 5, 2**62, 0]), np.array([3, -1, 3, -7])):
        sorted_, order = sorted_keys(keys)
        assert order.tolist() == np.argsort(keys, kind="stable").tolist()
        assert sorted_.tolist() == sorted(keys.tolist())


# words that share long prefixes, end inside and past the seven bytes read at a time,
# hold zero bytes and non-ASCII letters: every way two strings' bytes can compare
_PIECES = ["a", "b", "\x00", "é", "ab", "abcdefg", "abcdefgh", "", "zzzzzzzzzzzzzzz", "ÿ", "я"]


@settings(max_examples=25, deadline=None)
@given(st.lists(st.one_of(st.none(), st.lists(st.sampled_from(_PIECES), max_size=5)),
                min_size=1, max_size=40),
       st.sampled_from([pa.string(), pa.large_string()]), st.integers(0, 7))
def test_strings_sort_in_the_order_arrow_sorts_them(parts, text_type, skip):
    # repeated past the size Arrow is left to sort alone, so that equal strings tie
    values = [None if p is None else "".join(p) for p in parts] * (1100 // len(parts) + 1)
    array = pa.array(values, type=text_type).slice(skip)
    assert string_order(array).tolist() == pc.array_sort_indices(array).to_pylist()


def test_two_chunks_sort_as_one():
    chunked = pa.chunked_array([pa.array(["b", None, "a"] * 400), pa.array(["ab", "a"] * 600)])
    assert string_order(chunked).tolist() == pc.array_sort_indices(chunked).to_pylist()


def test_positions_in_a_narrow_type_are_the_same_positions():
    keys = pd.Index(["a1", "a2", "zz"], dtype="str")
    column = _ids([2, -1, 0, 1, 2], ["a1", "a2", "zz"])
    narrow = positions(column, keys, dtype=np.int32)
    assert narrow.dtype == np.int32
    assert narrow.tolist() == positions(column, keys).tolist() == [2, -1, 0, 1, 2]
    text = positions(column.astype(object), keys, dtype=np.int32)
    assert text.dtype == np.int32 and text.tolist() == narrow.tolist()


@given(st.lists(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "ab", ""])), max_size=5),
                max_size=4))
def test_chunked_text_codes_are_pandas_factorize_in_either_width(chunks):
    values = pa.chunked_array([pa.array(chunk, type=pa.string()) for chunk in chunks],
                              type=pa.string())
    expected_codes, expected_distinct = pd.factorize(
        pd.Series([v for chunk in chunks for v in chunk], dtype=object))
    for dtype in (np.int32, np.int64):
        distinct, codes = dictionary_codes(values, dtype=dtype)
        assert codes.dtype == dtype
        assert codes.tolist() == expected_codes.tolist()
        assert distinct.to_pylist() == list(expected_distinct)
