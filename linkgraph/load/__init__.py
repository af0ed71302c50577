"""Load stage: input files -> typed DataFrames and rejects (reads files).

The input contract is DESIGN.md's: one ``NAME.csv`` or ``NAME.parquet`` per
table of ``schemas.INPUT_TABLES``, only ``accounts`` required. Contract
problems (a missing table or column, an unreadable file) are collected over
every table and raised once as :class:`~linkgraph.errors.InputError`. Bad rows
never crash the run: each goes to ``Tables.rejects`` with its reason and the
good rows go on, unless a table rejects more than ``max_reject_rate`` of its
rows (:class:`~linkgraph.errors.RejectLimitError`).

The heavy work runs in pyarrow (its CSV and Parquet readers, vectorised
checks on two threads, each table a piece at a time); the slow parsers
(pandas' ISO-8601, :mod:`ipaddress`) only see the distinct values arrow's
fast paths reject. A dropped row has one reject, for the first check it fails.

Modules: ``_read`` (files -> text tables in pieces, contract problems),
``_check`` (parsing and the row checks), ``_pieces`` (a table judged piece by
piece, then finished by the checks over its rows), ``_signins`` (each place's
first and last sign-in), ``_buckets`` (duplicate order ids without one huge
hash table), ``_jobs`` (the stage's work on two threads, the most urgent first),
``_tables`` (the stage itself, the summary, the reject limit), ``_previous`` (last
night's run directory).
"""

from linkgraph.load._previous import PreviousRun, load_previous_run
from linkgraph.load._tables import (
    LoadedCodes,
    SourceFile,
    Tables,
    load_tables,
    summarize_tables,
)

__all__ = ["LoadedCodes", "PreviousRun", "SourceFile", "Tables", "load_previous_run",
           "load_tables", "summarize_tables"]
