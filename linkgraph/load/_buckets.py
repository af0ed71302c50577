"""Codes of a text column whose values are mostly distinct, hashed a bucket at a time.

Hashing millions of distinct strings at once (the order ids) builds a table that
outgrows the processor's caches and, while it grows, takes several times the
column's own size. Equal strings end alike, so the rows are first sorted by a
16-bit key of their last bytes and length (read straight from the Arrow
buffers), then hashed a few thousand rows at a time: each small table stays in
the cache and the column is copied once.
"""

from __future__ import annotations

import itertools

import numpy as np
import pyarrow as pa

from linkgraph.codes import dictionary_codes

#: rows hashed at a time (about 64k: a table that fits in the caches)
BATCH_ROWS = 1 << 16


def bucketed_codes(values: pa.ChunkedArray) -> np.ndarray:
    """Each row's code (int32): equal strings get equal codes, a null -1.

    >>> bucketed_codes(pa.chunked_array([["b", "a", None], ["b"]])).tolist()
    [0, 1, -1, 0]
    """
    n = len(values)
    if n <= 2 * BATCH_ROWS:
        return _codes(values)
    bucket = _bucket_keys(values)
    order = np.argsort(bucket, kind="stable")  # a radix sort of 16-bit keys
    ends = np.cumsum(np.bincount(bucket, minlength=1 << 16))
    del bucket
    # batches of about BATCH_ROWS rows, cut between buckets: equal strings share a batch
    bounds = np.unique(np.r_[0, ends[np.searchsorted(ends, np.arange(BATCH_ROWS, n, BATCH_ROWS))],
                             n])
    ordered = values.take(pa.array(order))
    codes = np.empty(n, dtype=np.int32)
    base = 0
    for start, stop in itertools.pairwise(bounds):
        local = _codes(ordered.slice(start, stop - start))
        codes[order[start:stop]] = np.where(local >= 0, local + base, -1)
        base += int(local.max(initial=-1)) + 1
    return codes


def _codes(values: pa.ChunkedArray) -> np.ndarray:
    """Dictionary codes (int32, -1 for null), numbered by first appearance."""
    return dictionary_codes(values)[1]


def _bucket_keys(values: pa.ChunkedArray) -> np.ndarray:
    """A 16-bit key of each string's length and last three bytes (equal strings, equal keys)."""
    keys = []
    for chunk in values.chunks:
        offset_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
        _, offsets_buffer, data_buffer = chunk.buffers()
        offsets: np.ndarray = np.frombuffer(offsets_buffer, dtype=offset_type)[
            chunk.offset:chunk.offset + len(chunk) + 1].astype(np.int64)
        data = (np.frombuffer(data_buffer, dtype=np.uint8)
                if data_buffer is not None and data_buffer.size else np.zeros(1, dtype=np.uint8))
        starts: np.ndarray = offsets[:-1]
        stops: np.ndarray = offsets[1:]
        length = (stops - starts).astype(np.uint32)
        key = length.copy()
        for back in (1, 2, 3):
            # a string shorter than that repeats its first byte; an empty one adds 0
            at = np.minimum(np.maximum(stops - back, starts), len(data) - 1)
            key = key * np.uint32(31) + np.where(length > 0, data[at], 0).astype(np.uint32)
        keys.append((key & 0xFFFF).astype(np.uint16))
    return np.concatenate(keys) if keys else np.zeros(0, dtype=np.uint16)
