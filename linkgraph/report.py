"""Report stage: DataFrames -> run directory (writes files). OWNER: lead."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from linkgraph.config import Config
from linkgraph.run import Run


def write_run(run: Run, out: str | Path, *, timings: dict[str, float], config: Config) -> Run:
    raise NotImplementedError


def read_run(run_dir: str | Path) -> Run:
    raise NotImplementedError
