"""A synthetic marketplace with ground truth: ``synthesize(out_dir, accounts=N, seed=S)``.

The generator draws a world of households, persons and their accounts
(honest people, violators and coupon farmers), renders every identifier the
many ways people write it, adds the values strangers share and the junk real
feeds carry, and writes the input contract tables plus ``truth.csv``. With
``next_night`` it also writes the same world a day later. Output is
byte-identical for a seed. Above ``shard_size`` accounts the marketplace is
drawn shard by shard (``shards.py``) so memory does not grow with it. See
``data/sample/README.md`` for the truth's columns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from linkgraph.errors import LinkgraphError
from linkgraph.synth.assemble import Assembled, assemble, truth_of_night
from linkgraph.synth.build import build_world
from linkgraph.synth.night import write_night
from linkgraph.synth.shards import DEFAULT_SHARD_SIZE, write_sharded

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_SHARD_SIZE", "SynthResult", "synthesize"]

FORMATS = ("csv", "parquet")


@dataclass(frozen=True)
class SynthResult:
    """What ``synthesize`` wrote for one night.

    ``tables``: input table name -> file; ``truth``: the truth file;
    ``counts``: rows per table (and ``truth``); ``next_night``: the next
    night's result when one was asked for.
    """

    out_dir: Path
    tables: dict[str, Path]
    truth: Path
    counts: dict[str, int]
    next_night: SynthResult | None = field(default=None)

    def __str__(self) -> str:
        """One line per night: rows per table and where they went.

        >>> print(SynthResult(Path("m"), {}, Path("m/truth.csv"), {"accounts": 2, "truth": 2}))
        2 accounts, 2 truth -> m
        """
        rows = ", ".join(f"{n:,} {table}" for table, n in self.counts.items())
        line = f"{rows} -> {self.out_dir}"
        return line if self.next_night is None else f"{line}\n{self.next_night}"


def synthesize(out_dir: str | Path, *, accounts: int, seed: int, fmt: str = "csv",
               next_night: str | Path | None = None,
               shard_size: int = DEFAULT_SHARD_SIZE, processes: int = 1) -> SynthResult:
    """Write a synthetic marketplace of ``accounts`` accounts and its ground truth.

    Up to ``shard_size`` accounts the marketplace is one world in memory and
    each table one file. Above it the world is drawn shard by shard (memory
    follows the shard, not ``accounts``): each shard has its own households
    and persons, all shards share the marketplace's NATs, Wi-Fi, VPN exits,
    offices and pickup points; a Parquet table is then a directory of parts
    (``accounts.parquet/part-00000.parquet``...), a CSV table one file
    appended shard by shard, and ``truth.csv`` is written last.

    Args:
        out_dir: directory for ``accounts.csv`` ... ``decisions.csv`` and ``truth.csv``
            (created if missing; files in it are overwritten).
        accounts: number of accounts on the first night (at least 1).
        seed: the same seed (and shard size) gives byte-identical files.
        fmt: ``"csv"`` or ``"parquet"`` for the input tables (the truth is always CSV).
        next_night: a second directory for the same world one day later.
        shard_size: most accounts drawn in memory at once (at least 1).
        processes: 2 to write each shard in a second process while the next is
            drawn (sharded worlds only; the bytes do not change).

    Returns:
        A :class:`SynthResult` with paths and row counts.

    Raises:
        LinkgraphError: bad ``accounts``, ``shard_size``, ``processes``, ``fmt`` or
            directories.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     result = synthesize(tmp, accounts=200, seed=7)
    ...     result.counts["accounts"], result.counts["truth"]
    (200, 200)
    """
    if not isinstance(accounts, int) or accounts < 1:
        raise LinkgraphError(f"accounts must be a positive integer, got {accounts!r}")
    if not isinstance(shard_size, int) or shard_size < 1:
        raise LinkgraphError(f"shard_size must be a positive integer, got {shard_size!r}")
    if processes not in (1, 2):
        raise LinkgraphError(f"processes must be 1 or 2, got {processes!r}")
    if fmt not in FORMATS:
        raise LinkgraphError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    out2 = Path(next_night) if next_night is not None else None
    if out2 is not None and out2.resolve() == out.resolve():
        raise LinkgraphError(f"the next night's directory {out2} must differ from {out}")
    if accounts > shard_size:
        return _sharded([out] if out2 is None else [out, out2], accounts=accounts, seed=seed,
                        fmt=fmt, shard_size=shard_size, processes=processes)

    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    world = build_world(accounts, streams[0])
    logger.info("world: %d accounts, %d persons", len(world.accounts), len(world.persons))
    done = assemble(world, streams)
    result = _night(out, done, 1, streams[4], fmt)
    if out2 is not None:
        second = _night(out2, done, 2, streams[5], fmt)
        result = SynthResult(out_dir=result.out_dir, tables=result.tables, truth=result.truth,
                             counts=result.counts, next_night=second)
    return result


def _sharded(outs: list[Path], *, accounts: int, seed: int, fmt: str, shard_size: int,
             processes: int) -> SynthResult:
    try:
        written = write_sharded(outs, accounts=accounts, seed=seed, fmt=fmt,
                                shard_size=shard_size, processes=processes)
    except OSError as e:
        raise LinkgraphError(f"cannot write the synthetic data to {', '.join(map(str, outs))}: "
                             f"{e.strerror}") from e
    result = _result(outs[-1], written[-1])
    if len(outs) == 2:
        result = _result(outs[0], written[0], result)
    return result


def _night(out: Path, done: Assembled, night: int, rng: np.random.Generator, fmt: str
           ) -> SynthResult:
    truth_rows = truth_of_night(done, night)
    try:
        written = write_night(out, done.built, done.pools, truth_rows, night, rng, fmt)
    except OSError as e:
        raise LinkgraphError(f"cannot write the synthetic data to {out}: {e.strerror}") from e
    return _result(out, written)


def _result(out: Path, written: dict[str, Path | int], next_night: SynthResult | None = None
            ) -> SynthResult:
    files = {k: v for k, v in written.items() if isinstance(v, Path)}
    counts = {k.removeprefix("rows."): int(v) for k, v in written.items() if isinstance(v, int)}
    return SynthResult(out_dir=out, tables={k: v for k, v in files.items() if k != "truth"},
                       truth=files["truth"], counts=counts, next_night=next_night)
