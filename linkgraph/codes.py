"""Integer codes the stages share: positions of ids, and small vocabularies.

Stages join on integer positions, not on string merges (:func:`positions`, the
one lookup they share), and keep words repeated over every row as categoricals
(:func:`categorical`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


def index_dtype(n: int) -> type[np.signedinteger]:
    """int32 for codes and row positions below ``n`` (half the memory of int64), int64
    past two billion.

    >>> index_dtype(10**9).__name__, index_dtype(3 * 10**9).__name__
    ('int32', 'int64')
    """
    return np.int32 if n < np.iinfo(np.int32).max else np.int64


def positions(values: pd.Series | pd.Index | np.ndarray, keys: pd.Index | pd.Series, *,
              dtype: type[np.signedinteger] = np.int64) -> np.ndarray:
    """Position of each value in ``keys`` (-1 when absent; missing finds missing), as
    ``dtype`` (``index_dtype(len(keys) + 1)`` holds them all in half the memory).

    >>> positions(pd.Series(["b", "x", "a"]), pd.Index(["a", "b"])).tolist()
    [1, -1, 0]

    Text ids are hashed by Arrow (several times faster than ``Index.get_indexer``
    on millions of ids); other dtypes fall back to pandas.
    """
    if isinstance(values.dtype, pd.CategoricalDtype) and not isinstance(values, np.ndarray):
        # each category is looked up once; the rows follow their codes (as they are:
        # int32 codes index as well as int64, with no copy of millions of them), and
        # take their positions in ``dtype`` straight away (no int64 column of the rows)
        codes = np.asarray(_codes(values))
        found = positions(pd.Index(values.dtype.categories), keys)
        missing = positions(pd.Series([None], dtype=object), keys) if codes.min(
            initial=0) < 0 else np.array([-1])
        return np.append(found, missing[0]).astype(dtype)[codes]
    return _positions(values, keys).astype(dtype, copy=False)


def _positions(values: pd.Series | pd.Index | np.ndarray, keys: pd.Index | pd.Series
               ) -> np.ndarray:
    """:func:`positions` of values that are not a categorical, as int64."""
    if isinstance(keys.dtype, pd.CategoricalDtype):
        keys = pd.Series(text_array(keys), dtype=str) if _text_categories(keys) else \
            pd.Series(np.asarray(keys))
    try:
        left, right = pa.array(values, from_pandas=True), pa.array(keys, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return pd.Index(keys).get_indexer(values).astype(np.int64)
    text = (pa.types.is_string(left.type) or pa.types.is_large_string(left.type)) and (
        pa.types.is_string(right.type) or pa.types.is_large_string(right.type))
    if not text:
        return pd.Index(keys).get_indexer(values).astype(np.int64)
    left, right = left.cast(pa.large_string()), right.cast(pa.large_string())
    if _same_sorted_ids(left, right):
        # stages often look a table's sorted ids up in the very same ids
        return np.arange(len(right), dtype=np.int64)
    if 4 * len(left) < len(right):
        # few values, many keys: hash the few and probe the keys once (a hash of
        # a million keys costs more than probing them)
        distinct = pc.unique(left)
        slot = pc.index_in(right, value_set=distinct).fill_null(-1).to_numpy(zero_copy_only=False)
        code_of = np.full(len(distinct), -1, dtype=np.int64)
        hit = np.flatnonzero(slot >= 0)[::-1]  # the first key wins, as get_indexer
        code_of[slot[hit]] = hit
        at = pc.index_in(left, value_set=distinct).fill_null(-1).to_numpy(zero_copy_only=False)
        return np.where(at >= 0, code_of[at], -1)
    found = pc.index_in(left, value_set=right)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _same_sorted_ids(left: pa.Array | pa.ChunkedArray, right: pa.Array | pa.ChunkedArray
                     ) -> bool:
    """True when both are the same strictly ascending list: each is its own position."""
    if len(left) != len(right) or left.null_count:
        return False
    return strictly_ascending(right) and bool(pc.all(pc.equal(left, right)).as_py())


def strictly_ascending(values: pd.Series | pa.Array | pa.ChunkedArray) -> bool:
    """True when the text ``values`` ascend strictly with none missing (a sorted list of
    distinct ids, its own index).

    >>> strictly_ascending(pd.Series(["a", "b", "c"])), strictly_ascending(pd.Series(["a", "a"]))
    (True, False)
    """
    if isinstance(values, pd.Series):
        values = _as_large_string(values)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if values.null_count:
        return False
    if len(values) < 2:
        return True
    return bool(pc.all(pc.less(values[:-1], values[1:])).as_py())


def sorted_unique(values: np.ndarray) -> np.ndarray:
    """The distinct ``values`` ascending, as ``np.unique(values)`` gives them, by one sort.

    numpy 2.3+ answers a bare ``np.unique`` of integers from a hash table and
    sorts the distinct values afterwards: at a million codes that is several
    times slower than sorting them all and keeping each run's first.

    >>> sorted_unique(np.array([3, 1, 3, 2, 1])).tolist()
    [1, 2, 3]
    """
    ordered = np.sort(np.asarray(values).ravel())
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=bool)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def dictionary_codes(values: pa.Array | pa.ChunkedArray, *,
                     dtype: type[np.signedinteger] = np.int32) -> tuple[pa.Array, np.ndarray]:
    """The distinct ``values`` in order of first appearance, and each row's index into
    them as ``dtype`` (-1 for a missing value): ``pd.factorize`` of Arrow text.

    The chunks are hashed in turn into one table by Arrow's ``dictionary_encode``
    (every chunk comes out with the same, final, dictionary), with no copy of the
    strings into one chunk first; each chunk's indices are written straight into
    the one array of codes (not copied per chunk, then concatenated).

    >>> distinct, codes = dictionary_codes(pa.chunked_array([["b", None], ["a", "b"]]))
    >>> distinct.to_pylist(), codes.tolist(), codes.dtype.name
    (['b', 'a'], [0, -1, 1, 0], 'int32')
    """
    encoded = pc.dictionary_encode(values)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    if not chunks:
        return pa.array([], type=values.type), np.zeros(0, dtype=dtype)
    codes = np.empty(sum(len(chunk) for chunk in chunks), dtype=dtype)
    at = 0
    for chunk in chunks:
        codes[at:at + len(chunk)] = chunk.indices.fill_null(-1).to_numpy(zero_copy_only=False)
        at += len(chunk)
    return chunks[-1].dictionary, codes


def categorical(codes: np.ndarray, names: Sequence[str]) -> pd.Categorical:
    """A categorical of ``codes`` into ``names`` (-1 missing), its categories the distinct
    names sorted, so that it sorts and compares as the strings would.

    Columns that repeat a handful of words over millions of rows (kinds, sources,
    tiers, reasons) take a byte a row this way instead of a string.

    >>> categorical(np.array([1, 0, -1, 2]), ["ip", "email", "ip"]).tolist()
    ['email', 'ip', nan, 'ip']
    """
    categories, recode = np.unique(np.asarray(names, dtype=object), return_inverse=True)
    recode = np.append(recode, -1)  # code -1 stays missing
    # in the categorical's own code type (a byte for a few names): the codes of millions
    # of rows are made once, not as int64 first
    narrow = category_code_dtype(len(categories))
    return pd.Categorical.from_codes(recode.astype(narrow)[codes], categories=categories.tolist())


def category_code_dtype(n_categories: int) -> np.dtype:
    """The integer type pandas keeps the codes of a categorical of ``n_categories`` in
    (a byte for a few words): codes made in it are never widened and narrowed again.

    >>> category_code_dtype(3).name, category_code_dtype(40_000).name
    ('int8', 'int32')
    """
    return pd.Categorical.from_codes([], categories=pd.RangeIndex(n_categories)).codes.dtype


def text_array(values: pd.Series | pd.Index | pd.Categorical,
               rows: np.ndarray | None = None) -> pa.Array:
    """The text ``values`` (at positions ``rows`` when given) as one Arrow
    ``large_string`` array, null where missing.

    A categorical is decoded by one take of its categories at its codes (its
    codes taken at ``rows`` first): the strings of the rows asked for are all
    that is built.

    >>> text_array(pd.Series(["b", "a", None, "b"], dtype="category"), np.array([3, 2])).to_pylist()
    ['b', None]
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = np.asarray(_codes(values))
        if rows is not None:
            codes = codes[np.asarray(rows, dtype=np.int64)]
        words = _as_large_string(values.dtype.categories)
        return words.take(pa.array(codes, type=pa.int32() if codes.dtype.itemsize <= 4
                                   else pa.int64(), mask=codes < 0))
    array = _as_large_string(values)
    if rows is not None:
        array = array.take(pa.array(np.asarray(rows, dtype=np.int64)))
    return array


def _as_large_string(values: pd.Series | pd.Index) -> pa.Array:
    if isinstance(values.array, pd.arrays.ArrowStringArray):
        array = pa.array(values.array)
    else:
        array = pa.array(np.asarray(values, dtype=object), from_pandas=True)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array if array.type == pa.large_string() else array.cast(pa.large_string())


def _text_categories(values: pd.Series | pd.Index) -> bool:
    return pd.api.types.is_string_dtype(values.dtype.categories.dtype) or \
        values.dtype.categories.dtype == object


def coded_text(codes: np.ndarray, categories: pd.Index) -> pd.Categorical:
    """A categorical of ``codes`` (-1 missing) into ``categories``, distinct strings
    sorted as the strings sort, which the caller guarantees: unchecked.

    pandas checks new categories by building a hash table of them, which it keeps
    (about 90 bytes a category: 0.3 GB for three million values); the callers made
    them distinct and sorted already.

    >>> coded_text(np.array([1, -1, 0]), pd.Index(["a", "b"])).tolist()
    ['b', nan, 'a']
    """
    make = getattr(pd.CategoricalDtype, "_from_fastpath", None)
    dtype = make(categories, False) if make is not None else pd.CategoricalDtype(categories)
    return pd.Categorical.from_codes(codes, dtype=dtype, validate=False)


def _codes(values: pd.Series | pd.Index | pd.Categorical) -> np.ndarray:
    """The codes of a categorical series, index or array (no copy)."""
    if isinstance(values, pd.Categorical):
        return values.codes
    return values.array.codes


def sort_ranks(values: pd.Series) -> tuple[np.ndarray, int]:
    """Integer ranks that sort as ``values`` do (missing last), and how many ranks.

    A categorical of sorted categories ranks by its codes, with no string
    compared (pandas' own sort of a categorical builds a hash table of every
    category, and keeps it); text is ranked by Arrow, the distinct values alone
    sorted; other types by ``pd.factorize``.

    >>> sort_ranks(pd.Series(["b", None, "a", "b"]))[0].tolist()
    [1, 2, 0, 1]
    """
    if isinstance(values.dtype, pd.CategoricalDtype) and _sorted_categories(values):
        codes = np.asarray(_codes(values), dtype=np.int64)
        n = len(values.dtype.categories)
        return np.where(codes >= 0, codes, n), n + 1
    try:
        array = text_array(values) if not isinstance(values.dtype, pd.CategoricalDtype) else None
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        array = None
    if array is None:
        codes, uniques = pd.factorize(values, sort=True)
        return np.where(codes >= 0, codes, len(uniques)), len(uniques) + 1
    encoded = pc.dictionary_encode(array)
    n_distinct = len(encoded.dictionary)
    rank_of = np.empty(n_distinct + 1, dtype=np.int64)
    rank_of[np.asarray(pc.array_sort_indices(encoded.dictionary))] = np.arange(n_distinct)
    rank_of[n_distinct] = n_distinct  # missing values last
    codes = encoded.indices.fill_null(n_distinct).to_numpy(zero_copy_only=False)
    return rank_of[codes], n_distinct + 1


def _sorted_categories(values: pd.Series | pd.Index) -> bool:
    """Whether a categorical's categories ascend (compared in Arrow when text: pandas'
    ``is_monotonic_increasing`` would build and keep a hash table of them)."""
    categories = values.dtype.categories
    if _text_categories(values):
        return strictly_ascending(_as_large_string(categories))
    return bool(categories.is_monotonic_increasing)


def sorted_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``keys`` sorted and the order that sorts them: ``np.argsort(keys, kind="stable")``.

    Non-negative integer keys whose largest value and row number fit 64 bits
    together are sorted with their row numbers packed into the low bits: one
    sort of the values (vectorised, about twice as fast as a stable argsort of
    millions of keys in random order), equal keys in row order. Others go to
    ``np.argsort``. The keys come back int64.

    >>> keys, order = sorted_keys(np.array([5, 3, 5, 0]))
    >>> keys.tolist(), order.tolist()
    ([0, 3, 5, 5], [3, 1, 0, 2])
    """
    keys = np.asarray(keys)
    n = len(keys)
    row_bits = max(n - 1, 1).bit_length()
    top = int(keys.max()) if n else 0
    if not n or keys.dtype.kind not in "iu" or int(keys.min()) < 0 \
            or top.bit_length() + row_bits > 64:
        order = np.argsort(keys, kind="stable")
        return keys[order].astype(np.int64, copy=False), order
    packed = keys.astype(np.uint64) << np.uint64(row_bits)
    packed |= np.arange(n, dtype=np.uint64)
    packed.sort()
    order = (packed & np.uint64((1 << row_bits) - 1)).astype(np.int64)
    packed >>= np.uint64(row_bits)
    return packed.view(np.int64), order


def string_order(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """``pc.array_sort_indices(array)`` of a string array, as int64: byte order, equal
    strings in row order, nulls last.

    Arrow compares the strings two at a time (a random read of each per
    comparison); here the strings are sorted by their first seven bytes, packed
    with how many of them there are into one integer each (a numpy sort), and
    only the runs that tie on all seven are sorted again by the next seven.

    >>> string_order(pa.array(["b", None, "abcdefghij", "", "abcdefgh", "b"])).tolist()
    [3, 4, 2, 0, 5, 1]
    """
    if isinstance(array, pa.ChunkedArray):
        # one chunk as it is; several would be copied into one: Arrow sorts those
        array = array.chunk(0) if array.num_chunks == 1 else array
    if (isinstance(array, pa.ChunkedArray) or array.type not in (pa.string(), pa.large_string())
            or len(array) < 1024):
        return np.asarray(pc.array_sort_indices(array), dtype=np.int64)
    n = len(array)
    _, offsets_buffer, data_buffer = array.buffers()
    offset_type = np.int64 if array.type == pa.large_string() else np.int32
    offsets: np.ndarray = np.frombuffer(offsets_buffer, dtype=offset_type)[
        array.offset:array.offset + n + 1]
    start: np.ndarray = offsets[:-1].astype(np.int64, copy=False)  # no copy of large offsets
    length: np.ndarray = offsets[1:] - offsets[:-1]
    data = (np.zeros(0, dtype=np.uint8) if data_buffer is None
            else np.frombuffer(data_buffer, dtype=np.uint8))
    # the last bytes again with eight zero bytes after them, so that no read of eight
    # bytes runs past the strings (and the strings themselves are not copied)
    last = min(len(data), 8)
    tail = np.zeros(16, dtype=np.uint8)
    tail[:last] = data[len(data) - last:]
    tail_from = len(data) - last  # the first byte position read from ``tail``
    # every byte position as the little-endian integer of the eight bytes from there
    words = np.ndarray(shape=(max(len(data) - 7, 0),), dtype="<u8", buffer=data, strides=(1,))
    tail_words = np.ndarray(shape=(9,), dtype="<u8", buffer=tail, strides=(1,))
    nulls = array.null_count > 0
    valid = (np.flatnonzero(np.asarray(array.is_valid().to_numpy(zero_copy_only=False)))
             if nulls else None)

    def keys(rows: np.ndarray | None, at: int, size: int) -> np.ndarray:
        """``size`` bytes from byte ``at`` of the ``rows``' strings (all: ``None``; zeros
        past the end), shifted up four bits for how many of them there are (``size + 1``:
        more). Made in place: a few arrays of the rows at a time."""
        where = start + at if rows is None else start[rows]
        if rows is not None:
            where += at
        near = np.flatnonzero(where >= tail_from)
        from_tail = tail_words[where[near] - tail_from]
        if len(words):
            np.minimum(where, len(words) - 1, out=where)
            head: np.ndarray = words[where].astype(np.uint64, copy=False)
        else:
            head = np.zeros(len(where), dtype=np.uint64)
        del where
        head[near] = from_tail
        head.byteswap(inplace=True)  # now the integer of the bytes read big-endian
        head >>= np.uint64(8 * (8 - size))
        left = (length if rows is None else length[rows]).astype(np.int64)
        left -= at
        np.clip(left, 0, size + 1, out=left)
        # the bytes past the string's end read as zeros (they are the next string's)
        missing = np.minimum(left, size)
        np.subtract(size, missing, out=missing)
        missing *= 8
        low = missing.view(np.uint64)
        np.left_shift(np.uint64(1), low, out=low)
        low -= np.uint64(1)
        np.invert(low, out=low)
        head &= low
        del missing, low
        head <<= np.uint64(4)
        head |= left.view(np.uint64)
        return head

    size = 7
    key = keys(valid, 0, size)
    order = np.argsort(key, kind="stable")
    rows = order if valid is None else valid[order]
    key = key[order]
    del order
    at = np.arange(len(rows), dtype=np.int64)  # the rows still to sort, by run of ties
    done = 0  # the bytes every row in ``at`` shares with the others of its run
    while len(at) > 1:
        # neighbours of one run with equal keys whose strings go on tie: sorted again
        same = key[1:] == key[:-1]
        same &= (key[1:] & np.uint64(0xF)) == np.uint64(size + 1)
        tied = np.zeros(len(at), dtype=bool)
        tied[1:] = same
        tied[:-1] |= same
        chosen = np.flatnonzero(tied)
        del tied, key
        if not len(chosen):
            break
        run = np.cumsum(np.r_[False, ~same[chosen[1:] - 1]]).astype(np.uint64)
        del same
        at = at[chosen]
        del chosen
        done += size
        # the run in the high bits, as many bytes as fit below it: one sort of integers
        size = max(1, min(7, (60 - int(run[-1]).bit_length()) // 8))
        key = keys(rows[at], done, size)
        run <<= np.uint64(8 * size + 4)
        key |= run
        del run
        within = np.argsort(key, kind="stable")  # equal strings stay in row order
        rows[at] = rows[at][within]
        key = key[within]
    if nulls:
        rows = np.concatenate([rows, np.flatnonzero(np.asarray(
            array.is_null().to_numpy(zero_copy_only=False)))])
    return rows
