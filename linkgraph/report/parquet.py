"""Parquet files written a row group at a time, coded text decoded as it is written.

The encoding of each column is chosen for what it holds (the values read back
are the same whatever the encoding):

- masked and raw identifier values repeat (one value on the rows of every
  account sharing it): written from the stages' codes as each row group's
  distinct strings and each row's position among them, which is Parquet's
  dictionary encoding without hashing a string per row;
- account, cluster and value ids (unique, or in sorted runs), timestamps and
  the days between them (nearly unique) are written plain: Arrow's dictionary
  encoder hashes values until its dictionary reaches 1 MB, then falls back to
  plain, the hashing wasted, and the plain pages are the smaller ones;
- everything else as Arrow chooses (dictionary, then plain when it is full).
"""

from __future__ import annotations

import base64
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
#: of those, the columns whose values repeat, written as Parquet dictionaries built from
#: the codes. They have no min/max statistics: Arrow's dictionary path finds them by
#: taking the dictionary again at every distinct index (as costly as the rest of the
#: column), and the min and max of an unsorted text column prune no row group
_DICTIONARY_COLUMNS = frozenset({s.VALUE, s.MASKED})
#: columns of values that rarely repeat but in sorted runs: no dictionary (ids, of
#: accounts, clusters and values; a link's days between its first and last time, as
#: nearly unique as the timestamps)
_UNREPEATED_COLUMNS = frozenset({s.ACCOUNT_ID, s.ACCOUNT_A, s.ACCOUNT_B, s.CLUSTER_ID,
                                 s.PERSON_CLUSTER_ID, s.VALUE_CODE, s.GAP_DAYS})


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


def _dictionary(values: pd.Series, categories: TextTable, text_type: pa.DataType,
                ) -> pa.DictionaryArray:
    """The categorical ``values`` as an Arrow dictionary of the categories they use (in
    the categories' order: the file does not depend on the order of the rows)."""
    codes = np.asarray(values.cat.codes)
    missing = codes < 0
    used = np.zeros(len(values.dtype.categories) + 1, dtype=bool)  # the last: missing
    used[codes] = True
    rows = np.flatnonzero(used[:-1])
    # int32 whatever the count: every row group's indices must have the file's type
    renumber = np.zeros(len(used), dtype=np.int32)
    renumber[rows] = np.arange(len(rows))
    indices = pa.array(renumber[codes], mask=missing if missing.any() else None)
    return pa.DictionaryArray.from_arrays(indices, categories.take(rows).cast(text_type))


#: rows per Parquet row group: pyarrow's default, so a file written a group at a time
#: has the row groups of one written whole
_PARQUET_ROW_GROUP = 1024 * 1024


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """``frame`` as a zstd Parquet file, converted and written a row group at a time: the
    decoded text of ten million accounts' identifiers never exists whole.

    The file reads back as ``frame`` with its coded text decoded to ``str``, whatever
    the encoding of its columns (see the module's notes).
    """
    decoders = _decoders(frame)
    # coded columns of an object-free frame only: the schema read back is then decided
    # by the dtypes, and one row tells it
    coded = [c for c in decoders if c in _DICTIONARY_COLUMNS] \
        if not (frame.dtypes == object).any() else []
    stored = None
    if coded:
        stored = pa.Table.from_pandas(_plain_text(frame.iloc[:1], decoders),
                                      preserve_index=False).schema
    rest = {c: table for c, table in decoders.items() if c not in coded}
    writer = None
    try:
        for start in range(0, max(len(frame), 1), _PARQUET_ROW_GROUP):
            part = frame.iloc[start:start + _PARQUET_ROW_GROUP]
            table = pa.Table.from_pandas(_plain_text(part.drop(columns=coded), rest),
                                         preserve_index=False)
            if stored is not None:
                arrays = dict(zip(table.column_names, table.columns, strict=True))
                for column in coded:
                    arrays[column] = _dictionary(part[column], decoders[column],
                                                 stored.field(column).type)
                table = pa.table([arrays[c] for c in frame.columns], names=list(frame.columns))
            if writer is None:
                writer = _writer(path, table.schema, coded=coded, stored=stored)
            writer.write_table(table, row_group_size=_PARQUET_ROW_GROUP)
        if writer is not None and stored is not None:
            # the schema the file reads back as (Arrow's ``ARROW:schema`` key, which it
            # stores itself unless told not to): that of the plain text, not the
            # dictionaries' the writer was given, with the pandas dtypes
            writer.add_key_value_metadata({
                b"pandas": stored.metadata[b"pandas"],
                b"ARROW:schema": base64.b64encode(stored.serialize().to_pybytes()),
            })
    finally:
        if writer is not None:
            writer.close()


def _writer(path: Path, schema: pa.Schema, *, coded: list[str],
            stored: pa.Schema | None) -> pq.ParquetWriter:
    """A zstd writer of tables of ``schema``, each column encoded for what it holds
    (``coded``: dictionaries built from codes, without statistics); ``stored``: the
    schema to read back, which the caller writes (None: ``schema``, stored here)."""
    names = schema.names
    dictionary = [c for c in names if c not in _UNREPEATED_COLUMNS
                  and not pa.types.is_timestamp(schema.field(c).type)]
    statistics = [c for c in names if c not in coded]
    return pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=dictionary,
                            write_statistics=statistics, store_schema=stored is None)
