"""`linkgraph run` output: results on stdout, progress and logs on stderr, one summary line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkgraph.cli import main

GOLDEN_INPUT = Path(__file__).parent / "data" / "golden" / "input"
STAGES = ("load", "normalize", "graph", "cluster", "sanctions", "score", "assemble", "report")
SUMMARY = re.compile(
    r"^(?P<accounts>[0-9,]+) accounts, [0-9,]+ links, [0-9,]+ clusters; "
    r"actions: (?:none|[a-z]+ [0-9,]+(?:, [a-z]+ [0-9,]+)*); [0-9,]+ rejects; "
    r"[0-9]+\.[0-9] s -> (?P<out>.+)$"
)


def test_quiet_run_prints_one_summary_line_and_no_bar_off_a_terminal(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", str(GOLDEN_INPUT), "--out", str(out),
                                       "--max-reject-rate", "0.5"])
    assert result.exit_code == 0, result.output
    assert result.stdout.count("\n") == 1
    summary = SUMMARY.match(result.stdout.rstrip("\n"))
    assert summary is not None, result.stdout
    assert summary["accounts"] == "25" and summary["out"] == str(out)
    assert "5 rejects" in result.stdout
    assert result.stderr == ""  # no bar, no log lines


def test_verbose_logs_every_stage_with_its_time_on_stderr_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LINKGRAPH_MASK_KEY", "sekrit-key")
    result = CliRunner().invoke(main, ["-vv", "run", str(GOLDEN_INPUT), "--out",
                                       str(tmp_path / "run"), "--max-reject-rate", "0.5"])
    assert result.exit_code == 0, result.output
    assert SUMMARY.match(result.stdout.rstrip("\n")) and result.stdout.count("\n") == 1
    for stage in STAGES:
        assert re.search(rf"INFO linkgraph\.cli: stage {stage} done in [0-9.]+ s", result.stderr)
    assert "DEBUG linkgraph.cli: effective config" in result.stderr
    assert "sekrit-key" not in result.stderr
