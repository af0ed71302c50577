"""Strings taken by position from a list of distinct strings (the categories of coded
text), as one Arrow ``large_string`` array: how categoricals become plain text."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


class TextTable:
    """Strings to take by position, ``large_string`` without nulls.

    When every string has the same length (account ids), a take is a numpy gather
    of fixed-width rows: one memory access per row where Arrow's take makes two
    (the offsets, then the bytes) at twice the cost; otherwise Arrow's take.

    >>> TextTable(pa.array(["ab", "cd", "ef"], pa.large_string())).take(np.array([2, 0, 2])).to_pylist()
    ['ef', 'ab', 'ef']
    >>> TextTable(pa.array(["a", "bcd"], pa.large_string())).take(np.array([1, 0])).to_pylist()
    ['bcd', 'a']
    """

    def __init__(self, text: pa.Array) -> None:
        self.text = text
        self._rows: np.ndarray | None = None
        n = len(text)
        if n and not text.null_count:
            offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:text.offset + n + 1]
            width = int(offsets[1] - offsets[0])
            if width > 0 and int(offsets[-1] - offsets[0]) == width * n and \
                    np.all(np.diff(offsets) == width):
                data = np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]]
                self._rows = data.view(f"V{width}")

    def take(self, positions: np.ndarray) -> pa.Array:
        """The strings at ``positions`` (each a valid position)."""
        if self._rows is None:
            return self.text.take(pa.array(positions))
        width = self._rows.dtype.itemsize
        ends = np.arange(0, (len(positions) + 1) * width, width, dtype=np.int64)
        return pa.LargeStringArray.from_buffers(len(positions), pa.py_buffer(ends),
                                                pa.py_buffer(np.take(self._rows, positions)))
