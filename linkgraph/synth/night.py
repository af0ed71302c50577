"""Cut one night out of the world: its rows, shuffled, turned into strings and written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from linkgraph import schemas
from linkgraph.synth import render
from linkgraph.synth.world import NOW1

Tables = dict[str, dict[str, Any]]


def rows_of_night(time: np.ndarray, night: int) -> np.ndarray:
    """Positions of the rows that exist on ``night`` (1: up to the first snapshot; 2: all)."""
    return np.flatnonzero(time <= NOW1) if night == 1 else np.arange(len(time))


def materialise(spec: tuple, idx: np.ndarray, pools: dict[str, pa.Array], fmt: str) -> pa.Array:
    """One column of the rows ``idx`` as an Arrow array (codes become strings only now)."""
    kind = spec[0]
    if kind == "str":
        return spec[1].take(pa.array(idx))
    if kind == "code":
        codes, pool = np.asarray(spec[1])[idx], spec[2]
        pool = pools[pool] if isinstance(pool, str) else pool
        return pool.take(pa.array(codes, mask=codes < 0))
    if kind == "time":
        seconds = np.asarray(spec[1])[idx]
        if fmt == "parquet":
            return pa.array(seconds.astype("datetime64[s]")).cast(pa.timestamp("s", tz="UTC"))
        return render.iso_timestamps(seconds)
    return pa.array(np.asarray(spec[1])[idx], from_pandas=True)


def night_tables(tables: Tables, pools: dict[str, pa.Array], night: int,
                 rng: np.random.Generator, fmt: str) -> Iterator[tuple[str, pa.Table]]:
    """Each input table of one night, rows shuffled, in ``schemas.TABLE_NAMES`` order."""
    for name in schemas.TABLE_NAMES:
        table = tables[name]
        idx = rows_of_night(np.asarray(table["time"]), night)
        idx = idx[rng.permutation(idx.size)]
        columns = schemas.INPUT_TABLES[name][1]
        yield name, pa.table({c: materialise(table["columns"][c], idx, pools, fmt)
                              for c in columns})


def truth_arrow(truth: pd.DataFrame, pools: dict[str, pa.Array]) -> pa.Table:
    """The truth frame with account, person and household codes written as ids."""
    account = truth["account"].to_numpy()
    return pa.table({
        schemas.ACCOUNT_ID: pools["account"].take(pa.array(account)),
        schemas.PERSON_ID: render.ids("p", truth[schemas.PERSON_ID].to_numpy(), 8),
        schemas.HOUSEHOLD_ID: render.ids("h", truth[schemas.HOUSEHOLD_ID].to_numpy(), 8),
        **{c: pa.array(truth[c].to_numpy(), from_pandas=True)
           for c in truth.columns if c not in ("account", schemas.PERSON_ID,
                                                schemas.HOUSEHOLD_ID, schemas.LINK_GROUP)},
        schemas.LINK_GROUP: pools["account"].take(pa.array(truth[schemas.LINK_GROUP].to_numpy())),
    })


def write_night(out_dir: Path, tables: Tables, pools: dict[str, pa.Array], truth: pd.DataFrame,
                night: int, rng: np.random.Generator, fmt: str) -> dict[str, Path | int]:
    """Write every input table of one night (rows shuffled) and its ``truth.csv``.

    Returns ``{table: path}`` and ``{"rows.table": count}`` entries.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path | int] = {}
    for name, arrow in night_tables(tables, pools, night, rng, fmt):
        path = out_dir / f"{name}.{fmt}"
        write_table(arrow, path, fmt)
        written[name] = path
        written[f"rows.{name}"] = arrow.num_rows
    path = out_dir / "truth.csv"
    write_table(truth_arrow(truth, pools), path, "csv")
    written["truth"] = path
    written["rows.truth"] = len(truth)
    return written


def write_table(table: pa.Table, path: Path, fmt: str, *, append: bool = False) -> None:
    """Write ``table`` to ``path``; with ``append`` (CSV only) add rows without a header."""
    if fmt == "parquet":
        pq.write_table(table, path)
    elif append:
        with open(path, "ab") as sink:
            pcsv.write_csv(table, sink, pcsv.WriteOptions(include_header=False))
    else:
        pcsv.write_csv(table, path)
