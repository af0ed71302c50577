"""evaluate: read a run directory and a synth directory, then score them (reads files)."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

from linkgraph import schemas as s
from linkgraph.errors import InputError, RunDirectoryError
from linkgraph.evaluate.clustering import raw_components
from linkgraph.evaluate.scorecard import Scorecard
from linkgraph.evaluate.scoring import (
    RUN_OPTIONAL,
    RUN_REQUIRED,
    TRUTH_OPTIONAL,
    TRUTH_REQUIRED,
    score_run,
)

logger = logging.getLogger(__name__)

#: input tables and the columns the scorecard reads from them
_INPUT_COLUMNS = {
    "accounts": (s.ACCOUNT_ID, s.EMAIL, s.PHONE, s.DEVICE_ID),
    "logins": (s.ACCOUNT_ID, s.DEVICE_ID),
    "payments": (s.ACCOUNT_ID, s.FINGERPRINT),
    "addresses": (s.ACCOUNT_ID, s.LINE1, s.POSTAL_CODE),
    "orders": (s.ACCOUNT_ID, s.COUPON_TYPE),
}


def evaluate(
    run_dir: str | Path,
    truth: str | Path,
    *,
    previous_run: str | Path | None = None,
    previous_truth: str | Path | None = None,
) -> Scorecard:
    """Score a run directory against a synthetic truth.

    Args:
        run_dir: a finished ``linkgraph run`` directory (``accounts.parquet``
            or ``accounts.csv``).
        truth: a ``linkgraph synth`` directory (``truth.csv`` and the input
            tables the run read), or the path of a ``truth.csv``; the input
            tables next to it give the raw-equality components and orders.
        previous_run: last night's run directory, for the stability metrics.
        previous_truth: last night's synth directory or truth file, to score
            households that merged overnight.

    Returns:
        The :class:`Scorecard`.

    Raises:
        RunDirectoryError: the run directory has no accounts file.
        InputError: the truth is missing or unreadable, or a column is missing.

    >>> evaluate("/nonexistent/run", "/nonexistent/truth")
    Traceback (most recent call last):
    ...
    linkgraph.errors.RunDirectoryError: run directory /nonexistent/run has no accounts.parquet or accounts.csv: is it the output of 'linkgraph run'?
    """
    accounts = _read_run_accounts(run_dir)
    truth_frame, truth_dir = _read_truth(truth)
    tables = {
        name: frame for name, columns in _INPUT_COLUMNS.items()
        if (frame := _read_table(truth_dir, name, columns)) is not None
    }
    components = raw_components(tables, truth_frame) if tables else None
    if components is None:
        logger.warning("no input tables next to the truth in %s: "
                       "the normalisation-only recall is left out", truth_dir)
    previous = _read_run_accounts(previous_run) if previous_run is not None else None
    issued = _read_issued_ids(previous_run) if previous_run is not None else None
    previous_truth_frame = _read_truth(previous_truth)[0] if previous_truth is not None else None
    return score_run(
        accounts, truth_frame, raw_components=components, previous_accounts=previous,
        previous_truth=previous_truth_frame, previous_issued_ids=issued,
        orders=tables.get("orders"),
    )


def _read_table(directory: Path, name: str, columns: tuple[str, ...]) -> pd.DataFrame | None:
    """``NAME.parquet`` (preferred) or ``NAME.csv`` with those of ``columns`` it has; raw strings.

    CSV cells are read as the exact strings written (no NA guessing: the
    literal ``null`` is a value); an empty cell is missing.
    """
    parquet, csv = directory / f"{name}.parquet", directory / f"{name}.csv"
    try:
        if parquet.is_file() or parquet.is_dir():  # a directory of parts, as sharded synth writes
            names = ds.dataset(parquet, format="parquet").schema.names
            present = [c for c in columns if c in names]
            return pd.read_parquet(parquet, columns=present)
        if csv.is_file():
            wanted = set(columns)
            return pd.read_csv(
                csv, dtype=str, keep_default_na=False, na_values=[""],
                usecols=lambda c: c in wanted, encoding="utf-8-sig",
            )
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read {name} in {directory}: {e}") from e
    return None


def _read_run_accounts(run_dir: str | Path) -> pd.DataFrame:
    """A run directory's accounts (parquet preferred, CSV fallback)."""
    directory = Path(run_dir)
    accounts = _read_table(directory, "accounts", RUN_REQUIRED + RUN_OPTIONAL)
    if accounts is None:
        raise RunDirectoryError(
            f"run directory {directory} has no accounts.parquet or accounts.csv: "
            "is it the output of 'linkgraph run'?"
        )
    return accounts


def _read_issued_ids(run_dir: str | Path) -> pd.Series | None:
    """The family-level cluster ids of a run's registry of issued ids, if it has one."""
    issued = _read_table(Path(run_dir), "issued_ids", (s.CLUSTER_ID, "kind"))
    if issued is None or s.CLUSTER_ID not in issued.columns:
        return None
    if "kind" in issued.columns:
        issued = issued[issued["kind"].astype("string").fillna("cluster") == "cluster"]
    return issued[s.CLUSTER_ID]


def _read_truth(truth: str | Path) -> tuple[pd.DataFrame, Path]:
    """The truth table and the directory holding the input tables beside it."""
    path = Path(truth)
    directory = path if path.is_dir() else path.parent
    if path.is_dir():
        frame = _read_table(path, "truth", TRUTH_REQUIRED + TRUTH_OPTIONAL)
    elif path.is_file():
        frame = _read_table(directory, path.name.rsplit(".", 1)[0], TRUTH_REQUIRED + TRUTH_OPTIONAL)
    else:
        frame = None
    if frame is None:
        raise InputError(
            f"no ground truth at {path}: give a 'linkgraph synth' directory "
            "(with truth.csv) or the path of a truth.csv."
        )
    return frame, directory
