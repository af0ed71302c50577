"""Parquet files written a row group at a time, coded text decoded as it is written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from linkgraph import schemas as s
from linkgraph.codes import text_array
from linkgraph.report.gather import TextTable

#: text columns the stages keep as categoricals (codes into their sorted distinct
#: strings) that the Parquet files hold as plain strings, as they always did
_DECODED_COLUMNS = frozenset({s.ACCOUNT_ID, s.ACCOUNT_A, s.ACCOUNT_B, s.VALUE, s.MASKED})


def _decoders(frame: pd.DataFrame) -> dict[str, TextTable]:
    """Of the categorical columns of ``_DECODED_COLUMNS``, each one's categories to take
    its text from (looked at once per file, not per row group)."""
    return {c: TextTable(text_array(frame[c].dtype.categories)) for c in frame.columns
            if c in _DECODED_COLUMNS and isinstance(frame[c].dtype, pd.CategoricalDtype)}


def _plain_text(frame: pd.DataFrame, decoders: dict[str, TextTable]) -> pd.DataFrame:
    """``frame`` with the categorical columns of ``decoders`` decoded to ``str`` (the
    strings of the rows only: one take of the categories at the codes)."""
    decoded = {}
    for column, categories in decoders.items():
        codes = np.asarray(frame[column].cat.codes)
        text = text_array(frame[column]) if (codes < 0).any() else categories.take(codes)
        decoded[column] = pd.Series(pd.array(text, dtype="str"), index=frame.index)
    return frame.assign(**decoded) if decoded else frame


#: rows per Parquet row group: pyarrow's default, so a file written a group at a time
#: has the bytes of one written whole
_PARQUET_ROW_GROUP = 1024 * 1024


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as a zstd Parquet file, converted and written a row group at a time: the
    decoded text of ten million accounts' identifiers never exists whole."""
    writer = None
    decoders = _decoders(frame)
    try:
        for start in range(0, max(len(frame), 1), _PARQUET_ROW_GROUP):
            part = _plain_text(frame.iloc[start:start + _PARQUET_ROW_GROUP], decoders)
            table = pa.Table.from_pandas(part, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(path, table.schema, compression="zstd")
            writer.write_table(table, row_group_size=_PARQUET_ROW_GROUP)
    finally:
        if writer is not None:
            writer.close()
