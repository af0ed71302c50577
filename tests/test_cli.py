"""The command line: exit codes a scheduler understands, exact messages, examples in help."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from linkgraph.cli import main

GOLDEN_INPUT = Path(__file__).parent / "data" / "golden" / "input"
COMMANDS = sorted(main.commands)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_help_ends_with_an_example(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert "linkgraph " + command in result.output.split("Example:")[1]


def test_unknown_option_is_a_usage_error_with_exit_2() -> None:
    result = CliRunner().invoke(main, ["run", "--no-such-flag"])
    assert result.exit_code == 2


def test_missing_account_id_column_exits_1_names_the_column_and_leaves_no_run(tmp_path: Path) -> None:
    data = tmp_path / "feed"
    shutil.copytree(GOLDEN_INPUT, data)
    accounts = data / "accounts.csv"
    header, *rows = accounts.read_text().splitlines()
    accounts.write_text("\n".join([header.replace("account_id", "id", 1), *rows]) + "\n")
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", str(data), "--out", str(out)])
    assert result.exit_code == 1
    assert "Error: accounts.csv has no column 'account_id' (found: id, created_at" in result.output
    assert "Traceback" not in result.output
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["feed"]


def test_misspelt_config_key_exits_1_with_the_nearest_key(tmp_path: Path) -> None:
    config = tmp_path / "linkgraph.toml"
    config.write_text("max_reject_rat = 0.1\n")
    result = CliRunner().invoke(main, ["run", str(GOLDEN_INPUT), "--config", str(config),
                                       "--out", str(tmp_path / "run")])  # fails before loading
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: unknown config key 'max_reject_rat' (did you mean 'max_reject_rate'?)")


def test_run_writes_a_run_directory_and_prints_one_summary_line(tmp_path: Path) -> None:
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["run", str(GOLDEN_INPUT), "--out", str(out),
                                       "--max-reject-rate", "0.5"])
    assert result.exit_code == 0, result.output
    assert (out / "manifest.json").is_file()
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("25 accounts, ") and last.endswith(f"-> {out}")


def test_run_without_data_dir_uses_the_sample_and_writes_under_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = tmp_path / "data" / "sample"
    shutil.copytree(GOLDEN_INPUT, sample)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "linkgraph.toml").write_text("max_reject_rate = 0.5\n")
    result = CliRunner().invoke(main, ["run", "--config", "linkgraph.toml"])
    assert result.exit_code == 0, result.output
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1 and (runs[0] / "accounts.csv").is_file()


def test_validate_reports_rejects_and_exits_0(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["validate", str(GOLDEN_INPUT), "--max-reject-rate", "0.5"])
    assert result.exit_code == 0, result.output
    assert "25 valid accounts" in result.output


def test_too_many_rejects_exits_1_naming_the_table() -> None:
    result = CliRunner().invoke(main, ["validate", str(GOLDEN_INPUT)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: logins.csv rejected 2 of 18 rows (11.1%), over the limit of 5.0%")
    assert "Traceback" not in result.output


def test_synth_says_what_it_wrote_in_words(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["synth", str(tmp_path / "m"), "--accounts", "50",
                                       "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("50 accounts, ")
    assert f"-> {tmp_path / 'm'} in " in result.output
