"""Last night's run directory: what the cluster stage needs for stable ids."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from linkgraph import schemas as s
from linkgraph.errors import RunDirectoryError
from linkgraph.load._read import Unreadable, csv_header


@dataclass(frozen=True)
class PreviousRun:
    """What a new run needs of last night's run directory.

    ``accounts``: account_id, cluster_id, person_cluster_id.
    ``issued_ids``: every cluster id ever issued (column ``cluster_id``), so a
    retired id is never issued again.
    """

    accounts: pd.DataFrame
    issued_ids: pd.DataFrame


def load_previous_run(run_dir: str | Path) -> PreviousRun:
    """Read what the next run needs of a finished run directory.

    ``accounts.parquet`` (or ``accounts.csv``) gives account_id, cluster_id
    and person_cluster_id; ``issued_ids.parquet`` (or ``.csv``) every cluster
    id ever issued (other columns kept); without it, the cluster and person
    cluster ids found in ``accounts``. CSV columns are read as text.

    Args:
        run_dir: the run directory written by ``linkgraph run``.

    Returns:
        The previous accounts (sorted by account_id) and issued ids (sorted).

    Raises:
        RunDirectoryError: the directory, its accounts file or a column is missing.

    >>> import pathlib, tempfile
    >>> run = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (run / "accounts.csv").write_text(
    ...     "account_id,cluster_id,person_cluster_id\\n007,3,4\\n001,3,3\\n")
    >>> previous = load_previous_run(run)
    >>> previous.accounts.values.tolist(), previous.issued_ids[s.CLUSTER_ID].tolist()
    ([['001', '3', '3'], ['007', '3', '4']], ['3', '4'])
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirectoryError(
            f"previous run directory {run_dir} does not exist. Pass the directory of a finished "
            "run, or leave out --previous."
        )
    columns = (s.ACCOUNT_ID, s.CLUSTER_ID, s.PERSON_CLUSTER_ID)
    accounts = _read_run_table(run_dir, "accounts", columns, required=True)
    assert accounts is not None
    accounts = accounts[list(columns)].sort_values(s.ACCOUNT_ID, kind="stable", ignore_index=True)
    issued = _read_run_table(run_dir, "issued_ids", (s.CLUSTER_ID,), required=False)
    if issued is None:
        ids = pd.concat([accounts[s.CLUSTER_ID], accounts[s.PERSON_CLUSTER_ID]], ignore_index=True)
        issued = ids.dropna().drop_duplicates().to_frame(s.CLUSTER_ID)
    issued = issued.sort_values(s.CLUSTER_ID, kind="stable", ignore_index=True)
    return PreviousRun(accounts=accounts, issued_ids=issued)


def _read_run_table(run_dir: Path, stem: str, columns: tuple[str, ...], *,
                    required: bool) -> pd.DataFrame | None:
    parquet, text = run_dir / f"{stem}.parquet", run_dir / f"{stem}.csv"
    try:
        if parquet.is_file():
            frame = pq.read_table(parquet).to_pandas()
        elif text.is_file():
            frame = pacsv.read_csv(text, convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in csv_header(text)},
                strings_can_be_null=True, null_values=[""])).to_pandas()
        elif required:
            raise RunDirectoryError(
                f"previous run directory {run_dir} has no {stem}.parquet or {stem}.csv: "
                "it is not a finished run. Pass the directory of a finished run."
            )
        else:
            return None
    except (OSError, pa.ArrowException, Unreadable) as e:
        raise RunDirectoryError(f"cannot read {stem} of previous run {run_dir}: {e}") from e
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise RunDirectoryError(
            f"{stem} of previous run {run_dir} has no column {', '.join(map(repr, missing))} "
            f"(found: {', '.join(map(str, frame.columns))}): it was not written by linkgraph."
        )
    return frame
