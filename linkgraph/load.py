"""Load stage: input files -> typed DataFrames and rejects (reads files).

OWNER: load helper. Contract in schemas.py and DESIGN.md.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceFile:
    """One input file as read: for the manifest."""

    table: str
    path: str
    size: int
    sha256: str
    rows_read: int
    rows_accepted: int
    rows_rejected: int


@dataclass(frozen=True)
class Tables:
    """The input tables, typed, with every contract column present.

    Optional tables that were not supplied are empty frames with the contract
    columns. ``rejects`` has the columns ``schemas.REJECT_COLUMNS``.
    """

    accounts: pd.DataFrame
    addresses: pd.DataFrame
    payments: pd.DataFrame
    logins: pd.DataFrame
    orders: pd.DataFrame
    sanctions: pd.DataFrame
    decisions: pd.DataFrame
    rejects: pd.DataFrame
    sources: tuple[SourceFile, ...] = field(default=())


@dataclass(frozen=True)
class PreviousRun:
    """What a new run needs of last night's run directory.

    ``accounts``: account_id, cluster_id, person_cluster_id.
    ``issued_ids``: every cluster id ever issued (column ``cluster_id``), so a
    retired id is never issued again.
    """

    accounts: pd.DataFrame
    issued_ids: pd.DataFrame


def load_tables(data_dir: str | Path, *, max_reject_rate: float = 0.05) -> Tables:
    raise NotImplementedError


def load_previous_run(run_dir: str | Path) -> PreviousRun:
    raise NotImplementedError
