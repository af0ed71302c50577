"""The ``linkgraph`` command: a thin click layer over the library.

Each command parses its options, builds a config, makes one library call and
prints one summary. A :class:`~linkgraph.errors.LinkgraphError` is printed as
``Error: ...`` with exit code 1 and no traceback; bad usage exits 2.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import logging
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from linkgraph import __version__
from linkgraph.errors import LinkgraphError

F = TypeVar("F", bound=Callable[..., Any])

#: environment variable holding the HMAC key for pseudonyms (never written to a run)
MASK_KEY_ENV = "LINKGRAPH_MASK_KEY"


def _fail_cleanly(func: F) -> F:
    """Map a LinkgraphError to ``Error: ...`` and exit code 1."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except LinkgraphError as e:
            raise click.ClickException(str(e)) from e

    return wrapper  # type: ignore[return-value]


def bundled_sample() -> Path:
    """The sample data set: ``data/sample`` in the current directory or the source tree."""
    for base in (Path.cwd(), Path(__file__).resolve().parent.parent):
        candidate = base / "data" / "sample"
        if (candidate / "accounts.csv").is_file() or (candidate / "accounts.parquet").is_file():
            return candidate
    raise LinkgraphError("no DATA_DIR given and no bundled sample found at data/sample")


def _default_out() -> Path:
    return Path("runs") / datetime.now(UTC).strftime("%Y-%m-%dT%H%M%SZ")


class _Progress:
    """Stage progress: a bar on a terminal, quiet log lines with timings otherwise.

    With ``-v`` the INFO lines (one per finished stage, with its seconds) are
    the progress, so the bar is left out rather than torn by log lines.
    """

    def __init__(self, stages: list[str]) -> None:
        self._bar: Any = None
        self._stages = stages
        self._current: str | None = None
        self._started = 0.0
        self._logger = logging.getLogger("linkgraph.cli")
        if sys.stderr.isatty() and not self._logger.isEnabledFor(logging.INFO):
            from tqdm import tqdm

            self._bar = tqdm(total=len(stages), unit="stage", leave=False, file=sys.stderr)

    def __call__(self, stage: str) -> None:
        self._finish()
        self._current, self._started = stage, time.perf_counter()
        if self._bar is not None:
            if self._bar.n or stage != self._stages[0]:
                self._bar.update(1)
            self._bar.set_description(stage)

    def _finish(self) -> None:
        if self._current is not None:
            self._logger.info("stage %s done in %.2f s", self._current,
                              time.perf_counter() - self._started)
            self._current = None

    def close(self) -> None:
        self._finish()
        if self._bar is not None:
            self._bar.close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="linkgraph")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
def main(verbose: int) -> None:
    """Find accounts that belong to one person or family and decide what to do with them.

    \b
    Example:
      linkgraph run                      # the bundled sample, into runs/
      linkgraph run data/2026-11-27 --out runs/2026-11-27 --previous runs/2026-11-26
    """
    _log_to_stderr(max(logging.WARNING - 10 * verbose, logging.DEBUG))


def _log_to_stderr(level: int) -> None:
    """linkgraph's log on stderr at ``level`` for this command (stdout is for results).

    Only linkgraph's own logger: -vv must not open other libraries' debug
    chatter. The handler and level are undone when the command ends, so
    commands invoked in one process (tests, notebooks) do not pile handlers up.
    """
    log = logging.getLogger("linkgraph")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    previous = log.level
    log.addHandler(handler)
    log.setLevel(level)

    def restore() -> None:
        log.removeHandler(handler)
        log.setLevel(previous)

    click.get_current_context().call_on_close(restore)


@main.command()
@click.argument("data_dir", required=False, type=click.Path(file_okay=False, path_type=Path))
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Run directory to write (default: runs/<UTC time>).")
@click.option("--previous", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Last night's run directory, for stable cluster ids.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML config file.")
@click.option("--policy", "policy_file", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="TOML file with the sanction policy (keys of [policy]).")
@click.option("--engine", type=click.Choice(["local", "spark"]), default=None,
              help="Where the heavy stages run (default: local).")
@click.option("--spark-master", default=None, help="Spark master URL, e.g. local[2].")
@click.option("--max-reject-rate", type=float, default=None,
              help="Fail when a table rejects more than this share of its rows (default 0.05).")
@click.option("--keep-raw", is_flag=True, default=False,
              help="Keep raw identifier values in the analyst Parquet files.")
@click.option("--excel-bom", is_flag=True, default=False, help="Write CSVs as UTF-8 with BOM.")
@_fail_cleanly
def run(
    data_dir: Path | None, out: Path | None, previous: Path | None, config_file: Path | None,
    policy_file: Path | None, engine: str | None, spark_master: str | None,
    max_reject_rate: float | None, keep_raw: bool, excel_bom: bool,
) -> None:
    """Run the nightly job on DATA_DIR (default: the bundled sample) and write a run directory.

    \b
    Example:
      linkgraph run data/sample --out runs/tonight --previous runs/last-night
    """
    import linkgraph as lg
    from linkgraph.pipeline import run_summary

    config = _build_config(config_file, policy_file, engine=engine, spark_master=spark_master,
                           max_reject_rate=max_reject_rate, keep_raw=keep_raw, excel_bom=excel_bom)
    data_dir = data_dir or bundled_sample()
    out = out or _default_out()
    started = time.perf_counter()
    progress = _Progress(["load", "normalize", "graph", "cluster", "sanctions", "score",
                          "assemble", "report"])
    try:
        result = lg.run(data_dir, out=out, previous=previous, config=config, progress=progress)
    finally:
        progress.close()
    summary = run_summary(result)
    actions = ", ".join(f"{k} {v:,}" for k, v in summary["actions"].items()) or "none"
    click.echo(
        f"{summary['accounts']:,} accounts, {summary['links']:,} links, "
        f"{summary['clusters']:,} clusters; actions: {actions}; "
        f"{summary['rejects']:,} rejects; {time.perf_counter() - started:.1f} s -> {out}"
    )


def _build_config(
    config_file: Path | None, policy_file: Path | None, *, keep_raw: bool = False,
    excel_bom: bool = False, **overrides: Any,
) -> Any:
    from linkgraph.config import config_to_dict, load_config, load_policy

    config = load_config(config_file, **overrides)
    if policy_file is not None:
        config = dataclasses.replace(config, policy=load_policy(policy_file))
    report = dataclasses.replace(
        config.report,
        mask_key=config.report.mask_key or os.environ.get(MASK_KEY_ENV) or None,
        keep_raw=keep_raw or config.report.keep_raw,
        excel_bom=excel_bom or config.report.excel_bom,
    )
    config = dataclasses.replace(config, report=report)
    logging.getLogger("linkgraph.cli").debug(
        "effective config (no secrets): %s",
        json.dumps(config_to_dict(config), sort_keys=True, default=str))
    return config


@main.command()
@click.argument("data_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--max-reject-rate", type=float, default=0.05, show_default=True,
              help="Fail when a table rejects more than this share of its rows.")
@_fail_cleanly
def validate(data_dir: Path, max_reject_rate: float) -> None:
    """Check DATA_DIR against the input contract: rows read, accepted, rejected, top reasons.

    \b
    Example:
      linkgraph validate data/sample
    """
    from linkgraph.load import load_tables, summarize_tables

    tables = load_tables(data_dir, max_reject_rate=max_reject_rate)
    summary = summarize_tables(tables)
    click.echo(summary.to_string(index=False))
    dropped = sum(source.rows_rejected for source in tables.sources)
    click.echo(f"{len(tables.accounts):,} valid accounts; {dropped:,} rejected rows; "
               f"{len(tables.rejects) - dropped:,} bad values ignored")


@main.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--accounts", "n_accounts", type=click.IntRange(min=1), default=3000,
              show_default=True, help="How many accounts to generate.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed (same seed, same bytes).")
@click.option("--format", "fmt", type=click.Choice(["csv", "parquet"]), default="csv",
              show_default=True)
@click.option("--next-night", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Also write the same world a day later to this directory.")
@click.option("--shard-size", type=click.IntRange(min=1), default=1_000_000, show_default=True,
              help="Above this many accounts, draw the world shard by shard (bounded memory; "
                   "Parquet tables become directories of parts).")
@click.option("--processes", type=click.IntRange(min=1, max=2), default=1, show_default=True,
              help="2: write each shard in a second process while the next one is drawn "
                   "(sharded worlds; same bytes).")
@_fail_cleanly
def synth(out_dir: Path, n_accounts: int, seed: int, fmt: str, next_night: Path | None,
          shard_size: int, processes: int) -> None:
    """Generate a synthetic marketplace with ground truth (truth.csv) in OUT_DIR.

    \b
    Example:
      linkgraph synth /tmp/market --accounts 100000 --seed 7 --next-night /tmp/market2
      linkgraph synth /tmp/big --accounts 10000000 --format parquet --processes 2
    """
    from linkgraph.synth import synthesize

    started = time.perf_counter()
    result = synthesize(out_dir, accounts=n_accounts, seed=seed, fmt=fmt, next_night=next_night,
                        shard_size=shard_size, processes=processes)
    click.echo(f"{result} in {time.perf_counter() - started:.1f} s")


@main.command()
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.argument("truth", type=click.Path(exists=True, path_type=Path))
@click.option("--previous", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Last night's run directory, for cluster-id stability.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
@_fail_cleanly
def evaluate(run_dir: Path, truth: Path, previous: Path | None, as_json: bool) -> None:
    """Score RUN_DIR against TRUTH (a synthetic data dir with truth.csv, or the file).

    \b
    Example:
      linkgraph evaluate runs/tonight /tmp/market
    """
    from linkgraph.evaluate import evaluate as evaluate_run

    scorecard = evaluate_run(run_dir, truth, previous_run=previous)
    if as_json:
        click.echo(json.dumps(scorecard.to_dict(), indent=2, sort_keys=True, default=str))
    else:
        click.echo(scorecard.to_text())


@main.command()
@click.argument("account_id")
@click.option("--run", "run_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The run directory (written by `linkgraph run --out`).")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@_fail_cleanly
def explain(account_id: str, run_dir: Path, as_json: bool) -> None:
    """Explain ACCOUNT_ID: its clusters, links, the path to the blocked account, ignored hubs.

    \b
    Example:
      linkgraph explain u00000014 --run runs/tonight
      linkgraph explain u00000014 --run runs/tonight --json | jq .path
    """
    from linkgraph.explain import explain_account
    from linkgraph.report import read_run

    explanation = explain_account(read_run(run_dir), account_id)
    if as_json:
        click.echo(json.dumps(explanation.to_dict(), indent=2, ensure_ascii=False))
    else:
        click.echo(explanation.to_text())


@main.command()
@click.argument("cluster_id", required=False)
@click.option("--run", "run_dir", required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="The run directory (written by `linkgraph run --out`).")
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="The HTML file to write for CLUSTER_ID.")
@click.option("--top", type=click.IntRange(min=1), default=None,
              help="Write pages for the first N clusters of the review queue.")
@click.option("--html-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="The directory for the --top pages (<cluster_id>.html).")
@_fail_cleanly
def report(cluster_id: str | None, run_dir: Path, html_file: Path | None, top: int | None,
           html_dir: Path | None) -> None:
    """Write self-contained HTML case pages: CLUSTER_ID to --html, or the top N to --html-dir.

    \b
    Example:
      linkgraph report C3rsmnzxf --run runs/tonight --html case.html
      linkgraph report --run runs/tonight --top 20 --html-dir cases/
    """
    from linkgraph.casepage import write_case_page, write_case_pages
    from linkgraph.report import read_run

    if cluster_id is not None and html_file is not None and top is None and html_dir is None:
        click.echo(f"wrote {write_case_page(read_run(run_dir), cluster_id, html_file)}")
    elif cluster_id is None and html_file is None and top is not None and html_dir is not None:
        pages = write_case_pages(read_run(run_dir), html_dir, top=top)
        for page in pages:
            click.echo(str(page))
        click.echo(f"wrote {len(pages)} case page{'s' if len(pages) != 1 else ''} to {html_dir}"
                   + (" (the review queue spans fewer clusters)" if len(pages) < top else ""))
    else:
        raise click.UsageError(
            "give either CLUSTER_ID with --html FILE, or --top N with --html-dir DIR")
