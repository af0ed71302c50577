"""Report stage: a :class:`Run` -> a run directory, and back (the only writer of files).

The directory appears all at once: every file is written into a hidden
sibling directory, which is renamed into place at the end, so a crash leaves
no partial directory and never touches an earlier run.

Moderator files (``review_queue.csv``, ``links.csv``, ``hubs.csv``...) hold
masked identifiers only; raw identifier values reach the analyst Parquet
files only when ``ReportConfig.keep_raw`` is set. Every CSV cell a
spreadsheet would run as a formula is neutralised (see :func:`safe_csv_frame`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from linkgraph import schemas as s
from linkgraph.config import Config, ReportConfig, config_to_dict
from linkgraph.errors import RunDirectoryError
from linkgraph.memory import release_freed_memory
from linkgraph.report.csvfile import _write_csv
from linkgraph.report.parquet import _write_parquet
from linkgraph.report.safe import safe_csv_frame, safe_text
from linkgraph.run import Run

__all__ = ["build_manifest", "read_run", "safe_csv_frame", "safe_text", "write_run"]

logger = logging.getLogger(__name__)

#: frame attribute of Run -> file stem; CSV for people, Parquet for analysts
_CSV_FILES = {
    "accounts": "accounts",
    "clusters": "clusters",
    "review_queue": "review_queue",
    "links": "links",
    "rejects": "rejects",
    "hubs": "hubs",
    "cluster_changes": "cluster_changes",
    "cluster_alerts": "cluster_alerts",
    "coupon_hubs": "coupon_hubs",
}
_PARQUET_FILES = {
    **_CSV_FILES,
    "identifiers": "identifiers",
    "issued_ids": "issued_ids",
    # what-if sanctions on a run read back (Run.with_policy): values coded, never raw
    "pairs": "pairs",
    "pair_tiers": "pair_tiers",
    "sanctions": "input_sanctions",
    "decisions": "input_decisions",
}
#: frames whose ``value`` column is a raw identifier, never written to moderator files
#: (``rejects.value`` is the offending cell as found, which the contract requires)
_IDENTIFIER_FRAMES = ("links", "hubs", "identifiers", "coupon_hubs", "cluster_alerts")
_MANIFEST = "manifest.json"

def _moderator_frame(frame: pd.DataFrame, attr: str, *, keep_raw: bool) -> pd.DataFrame:
    """Drop raw identifier values (kept in Parquet only when configured)."""
    if keep_raw or attr not in _IDENTIFIER_FRAMES or s.VALUE not in frame.columns:
        return frame
    return frame.drop(columns=[s.VALUE])


def _with_pseudonyms(frame: pd.DataFrame, key: bytes | None) -> pd.DataFrame:
    """Add ``value_id``, a keyed pseudonym of ``value``, so analysts can join without raw values."""
    if key is None or s.VALUE not in frame.columns or frame.empty:
        return frame
    from linkgraph.mask import pseudonymize

    kinds = frame[s.KIND].astype("string") if s.KIND in frame.columns else ""
    keyed = kinds + ":" + frame[s.VALUE].astype("string")
    return frame.assign(value_id=pseudonymize(keyed, key=key))


def _write_analyst_parquet(frame: pd.DataFrame, attr: str, path: Path, *, key: bytes | None,
                           keep_raw: bool) -> None:
    """The Parquet file of ``attr``: pseudonyms added (made here, in the writing thread,
    so that only the frames being written hold them), raw values dropped unless kept."""
    if attr in _IDENTIFIER_FRAMES:
        frame = _with_pseudonyms(frame, key)
    _write_parquet(_moderator_frame(frame, attr, keep_raw=keep_raw), path)


def _written(write: Callable[[], None], path: Path) -> tuple[str, dict[str, Any]]:
    """Run ``write`` (which creates ``path``); the file's name and manifest entry.

    The memory the writer freed goes back to the system before the next file:
    each writing thread allocates from its own malloc arena, which keeps what
    it frees (a big file's text and pages, hundreds of MB at a million accounts).
    """
    write()
    entry = _file_entry(path)
    release_freed_memory()
    return path.name, entry


def _file_entry(path: Path) -> dict[str, Any]:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def _versions() -> dict[str, str]:
    names = ("linkgraph", "pandas", "pyarrow", "numpy", "scipy", "networkx", "phonenumbers")
    versions = {"python": platform.python_version()}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "unknown"
    return versions


def build_manifest(
    run: Run, *, inputs: list[dict[str, Any]], config: Config, timings: dict[str, float]
) -> dict[str, Any]:
    """The run's manifest: inputs with checksums, effective config, counts, timings, versions."""
    accounts = run.accounts
    actions = accounts[s.ACTION].value_counts().sort_index()
    return {
        "linkgraph_run": 1,
        "inputs": inputs,
        "config": config_to_dict(config),
        "counts": {
            "accounts": len(accounts),
            "clusters": len(run.clusters),
            "clusters_multi": int((run.clusters[s.N_ACCOUNTS] > 1).sum())
            if s.N_ACCOUNTS in run.clusters else 0,
            "links": len(run.links),
            "hubs": len(run.hubs),
            "rejects": len(run.rejects),
            "review_queue": len(run.review_queue),
            "actions": {str(k): int(v) for k, v in actions.items()},
        },
        "timings": {**timings, "finished_at": datetime.now(UTC).isoformat(timespec="seconds")},
        "versions": _versions(),
    }


def write_run(run: Run, out: str | Path, *, timings: dict[str, float], config: Config) -> Run:
    """Write ``run`` as a run directory at ``out``, atomically.

    Args:
        run: the finished run (in memory).
        out: the directory to create. It must not exist, unless empty.
        timings: seconds per stage, for the manifest.
        config: the effective config (written to the manifest without secrets).

    Returns:
        The same run with ``path`` and ``manifest`` filled in.

    Raises:
        RunDirectoryError: ``out`` exists and is not empty, or cannot be written.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunDirectoryError(
            f"run directory {out} already exists; choose a new --out (each night its own directory)"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    report: ReportConfig = config.report
    key = report.mask_key.encode() if report.mask_key else None
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    try:
        # Every file is a job for two threads (CSV formatting and Parquet encoding run
        # mostly in Arrow, which releases the GIL), the largest first so that neither
        # thread is left with a big file at the end; each file is hashed by the thread
        # that wrote it, while it is still in the page cache
        jobs: list[tuple[int, Callable[[], None], Path]] = []
        for attr, stem in _PARQUET_FILES.items():
            frame = getattr(run, attr)
            parquet, csv = tmp / f"{stem}.parquet", tmp / f"{stem}.csv"
            jobs.append((frame.size, partial(_write_analyst_parquet, frame, attr, parquet,
                                             key=key, keep_raw=report.keep_raw), parquet))
            if attr in _CSV_FILES:
                moderator = _moderator_frame(frame, attr, keep_raw=False)
                jobs.append((2 * moderator.size, partial(_write_csv, moderator, csv,
                                                         bom=report.excel_bom), csv))
        jobs.sort(key=lambda job: -job[0])
        with ThreadPoolExecutor(max_workers=2) as pool:
            done = [pool.submit(_written, write, path) for _, write, path in jobs]
            outputs = dict(future.result() for future in done)
        manifest = build_manifest(run, inputs=run.manifest.get("inputs", []),
                                  config=config, timings=timings)
        manifest["outputs"] = {name: outputs[name] for name in sorted(outputs)}
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n")
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    logger.info("wrote run directory %s", out)
    return dataclasses.replace(run, manifest=manifest, path=out)


def read_run(run_dir: str | Path) -> Run:
    """Read a run directory written by :func:`write_run` (the Parquet files).

    Raises:
        RunDirectoryError: the directory or one of its files is missing.
    """
    run_dir = Path(run_dir)
    if not (run_dir / _MANIFEST).is_file():
        raise RunDirectoryError(
            f"{run_dir} is not a linkgraph run directory (no {_MANIFEST}); "
            "pass the directory that `linkgraph run --out` wrote"
        )
    frames: dict[str, pd.DataFrame] = {}
    for attr, stem in _PARQUET_FILES.items():
        path = run_dir / f"{stem}.parquet"
        if not path.is_file():
            raise RunDirectoryError(f"run directory {run_dir} has no {path.name}; it is incomplete")
        frames[attr] = pd.read_parquet(path)
    manifest = json.loads((run_dir / _MANIFEST).read_text())
    return Run(**frames, manifest=manifest, path=run_dir)
