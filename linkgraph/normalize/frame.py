"""The identifiers frame assembled from the kinds' grouped rows: sorted, decoded, masked.

The normalize stage groups each kind's rows (``grouping.group_kind``) and judges its
values; :func:`assemble` puts the kinds together into the one frame later stages read,
its text columns as categoricals of their sorted distinct strings.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph import schemas as S
from linkgraph.codes import (
    categorical,
    coded_text,
    index_dtype,
    strictly_ascending,
    string_order,
)
from linkgraph.normalize.grouping import KindRows, micros
from linkgraph.normalize.junk import JUNK
from linkgraph.normalize.sources import TIME
from linkgraph.normalize.text import TEXT


def assemble(
    grouped: list[KindRows], masks: list[tuple[pd.Series, np.ndarray]], account_ids: pd.Series
) -> pd.DataFrame:
    """The kinds' rows sorted by (account_id, kind, value), decoded, masked, junk judged.

    Empties ``grouped`` and ``masks`` once read, so that their arrays are freed
    before the strings are decoded.
    """
    text_dtype = pd.Series(["x"]).dtype  # the installed pandas' default text dtype
    if not grouped:
        empty = {c: pd.Series(dtype=text_dtype) for c in S.IDENTIFIER_COLUMNS}
        empty[S.FIRST_SEEN] = empty[S.LAST_SEEN] = pd.Series(dtype=TIME)
        for column in S.IDENTIFIER_CODE_COLUMNS:
            empty[column] = pd.Series(dtype=np.int32)
        return pd.DataFrame(empty)[[*S.IDENTIFIER_COLUMNS, *S.IDENTIFIER_CODE_COLUMNS]]
    # one value code space: the kinds in sorted order, each kind's values sorted
    offsets = np.cumsum([0] + [len(g.values) for g in grouped])
    # the kinds' arrays taken out of them, so that each goes once its sorted copy is made
    sizes = [len(g.account) for g in grouped]
    kinds = pd.Series([g.kind for g in grouped], dtype=TEXT)
    rows = {field: [getattr(g, field) for g in grouped] for field in ("account", "value", "first",
                                                                       "last")}
    sources = [(g.source, pd.Series(g.sources, dtype=TEXT)) for g in grouped]
    reasons = [(g.suppressed, g.reasons) for g in grouped]
    values = pd.concat([g.values for g in grouped], ignore_index=True)
    grouped.clear()  # the caller keeps no other reference
    value: np.ndarray = np.concatenate([v + offsets[i] for i, v in enumerate(rows.pop("value"))])
    account: np.ndarray = np.concatenate(rows.pop("account")).astype(np.int64, copy=False)
    n_values = int(offsets[-1])
    if len(account_ids) * max(n_values, 1) < 2 ** 62:
        order = np.argsort(account * n_values + value, kind="stable")
    else:
        order = np.lexsort((value, account))
    # int32 codes below two billion accounts and values: half the memory of int64, in this
    # frame and in every array the graph stage derives from them
    narrow = index_dtype(max(len(account_ids), n_values))
    value, account = value.astype(narrow)[order], account.astype(narrow)[order]
    kind = np.repeat(np.arange(len(sizes), dtype=np.int8), sizes)[order]

    def codes(parts: list[tuple[np.ndarray, pd.Series]], rows: np.ndarray
              ) -> tuple[np.ndarray, pd.Series]:
        """A per-kind coded column as codes (at the sorted ``rows``) into one distinct list."""
        codes, distinct = [], []
        # a few sources and reasons: the sorted codes fit a narrow type (-1 included),
        # in which they are made (no int64 copy of every row's code)
        total = sum(len(d) for _, d in parts)
        narrow: type[np.signedinteger] = (np.int8 if total < 127 else np.int16
                                          if total < 32767 else np.int64)
        base = 0
        for c, d in parts:
            c = np.asarray(c)
            # codes past the list are NA, whatever they become
            shifted: np.ndarray = c.astype(narrow)
            shifted += narrow(base)
            codes.append(np.where((c < 0) | (c >= len(d)), narrow(-1), shifted))
            distinct.append(d.reset_index(drop=True).astype(TEXT))
            base += len(d)
        return np.concatenate(codes)[rows], pd.concat(distinct, ignore_index=True)

    first = np.concatenate(rows.pop("first"))[order]
    last = np.concatenate(rows.pop("last"))[order]
    source = codes(sources, order)
    suppressed = codes(reasons, order)
    del sources, reasons
    suppressed_reasons = suppressed[1]
    masked = pd.concat([m for m, _ in masks], ignore_index=True)
    junk = np.concatenate([j for _, j in masks])[value]
    del order
    masks.clear()
    # junk outranks the normalisers' reasons: "n/a" is a placeholder before it is invalid
    junk_code = len(suppressed[1])
    suppressed_codes = np.where(junk, junk_code, suppressed[0])
    del junk, suppressed
    all_reasons = pd.concat([suppressed_reasons, pd.Series([JUNK], dtype=TEXT)],
                            ignore_index=True)
    # the times first (their int64 arrays go), then the text columns, decoded straight to
    # the installed pandas' text type two at a time (Arrow's take releases the GIL)
    first_seen = micros(first)
    del first
    last_seen = micros(last)
    del last
    # the kinds' arrays, now sorted into these, go back to the system before the strings
    # are decoded (glibc would keep them: ~0.3 GB at a million accounts)
    pa.default_memory_pool().release_unused()
    # ids, values and masked values as categoricals (int32 codes into their sorted
    # distinct strings): ~0.5 GB less than strings at a million accounts, for this frame
    # and every frame of the later stages that takes rows of it
    jobs = {S.VALUE: (value, values), S.MASKED: (value, masked),
            S.ACCOUNT_ID: (account, account_ids)}
    with ThreadPoolExecutor(max_workers=2) as pool:
        decoded = {column: pool.submit(_text_categorical, codes, distinct, text_dtype,
                                       sorted_parts=column == S.VALUE)
                   for column, (codes, distinct) in jobs.items()}
        text = {column: pd.Series(future.result(), copy=False)
                for column, future in decoded.items()}
    # a handful of kinds, sources and reasons over every row: categoricals (~0.4 GB less
    # than strings at a million accounts)
    for column, (word_codes, words) in {S.SOURCE: source,
                                        S.SUPPRESSED: (suppressed_codes, all_reasons),
                                        S.KIND: (kind, kinds)}.items():
        text[column] = pd.Series(categorical(word_codes, words.tolist()))
    del jobs, decoded, values, masked, source, suppressed_codes, all_reasons, kind
    # and the codes this stage sorted on, so the graph stage need not hash the strings
    # again (given to the frame as they are: a column set afterwards would be a copy)
    columns = {**text, S.FIRST_SEEN: first_seen, S.LAST_SEEN: last_seen,
               S.ACCOUNT_CODE: pd.Series(account, copy=False),
               S.VALUE_CODE: pd.Series(value, copy=False)}
    return pd.DataFrame({c: columns.pop(c) for c in (*S.IDENTIFIER_COLUMNS,
                                                     *S.IDENTIFIER_CODE_COLUMNS)}, copy=False)


def _text_categorical(codes: np.ndarray, distinct: pd.Series, text_dtype: object, *,
                      sorted_parts: bool = False) -> pd.Categorical:
    """``distinct`` at ``codes`` (-1 missing) as a categorical of the installed text dtype.

    Its categories are the distinct strings the codes use, sorted (``distinct`` may
    repeat a string, as the masked displays of two values do, or one value of two
    kinds); its codes int32. Sorted distinct strings (the account ids) are taken as
    they are. ``sorted_parts``: ``distinct`` is a few sorted lists (each kind's
    values), which Arrow merges into the sorted categories with no hash table;
    otherwise the strings are hashed once and the distinct ones alone sorted.
    """
    array = distinct.astype(TEXT).array.__arrow_array__()
    if array.num_chunks <= 1 and strictly_ascending(array):  # one chunk: no copy to check
        words, category = array, None
    elif sorted_parts:
        words, category = _merged_words(array)
    else:
        words, category = _hashed_words(array)
    # each entry of ``distinct`` -> its word (-1: none), decided on the entries, so that
    # the rows are gathered once, straight into their int32 codes
    codes = np.asarray(codes)
    n_entries = len(distinct)
    word = (np.arange(n_entries, dtype=np.int32) if category is None
            else np.asarray(category[:n_entries], dtype=np.int32))
    present = np.zeros(n_entries + 1, dtype=bool)  # the last: code -1
    present[codes] = True
    used = np.zeros(len(words) + 1, dtype=bool)  # the last: word -1
    used[word[present[:n_entries]]] = True
    used = used[:-1]
    if not used.all():
        # words no row uses (values of rows another rule dropped) are no category
        renumber = np.full(len(words) + 1, -1, dtype=np.int32)
        renumber[np.flatnonzero(used)] = np.arange(int(used.sum()), dtype=np.int32)
        word = renumber[word]
        words = words.filter(pa.array(used))
    row_codes = np.append(word, np.int32(-1))[codes]
    words = words.combine_chunks() if isinstance(words, pa.ChunkedArray) else words
    categories = pd.Index(pd.array(words.cast(pa.large_string()), dtype=text_dtype), copy=False)
    return coded_text(row_codes, categories)


def _merged_words(array: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """The sorted distinct strings of ``array``, and each entry's code into them (the
    last entry, for code -1, and nulls: -1)."""
    order = string_order(array)  # nulls last
    words = array.take(pa.array(order))
    words = words.combine_chunks() if isinstance(words, pa.ChunkedArray) else words
    n_valid = len(words) - words.null_count
    words = words.slice(0, n_valid)
    new = np.ones(n_valid, dtype=bool)
    if n_valid > 1:
        new[1:] = ~np.asarray(pc.equal(words[1:], words[:-1]).to_numpy(zero_copy_only=False),
                              dtype=bool)
    rank = np.full(len(order), -1, dtype=np.int32)
    rank[:n_valid] = np.cumsum(new, dtype=np.int64) - 1
    category = np.full(len(order) + 1, -1, dtype=np.int32)
    category[order] = rank
    if not new.all():  # a string of two kinds is one category
        words = words.filter(pa.array(new))
    return words, category


def _hashed_words(array: pa.ChunkedArray) -> tuple[pa.Array, np.ndarray]:
    """:func:`_merged_words` by one hash of the strings, the distinct ones alone sorted."""
    encoded = pc.dictionary_encode(array)
    chunks = encoded.chunks if isinstance(encoded, pa.ChunkedArray) else [encoded]
    # the chunks are hashed in turn into one table: the last chunk has every word
    dictionary = chunks[-1].dictionary if chunks else pa.array([], pa.large_string())
    slot = np.concatenate([np.asarray(c.indices.fill_null(-1).to_numpy(zero_copy_only=False),
                                      dtype=np.int64) for c in chunks] or [np.zeros(0, np.int64)])
    del encoded, chunks
    order = string_order(dictionary)
    rank = np.empty(len(order) + 1, dtype=np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    rank[-1] = -1  # a missing string
    return dictionary.take(pa.array(order)), np.append(rank[slot], -1).astype(np.int32)
