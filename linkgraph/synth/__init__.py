"""A synthetic marketplace with ground truth: ``synthesize(out_dir, accounts=N, seed=S)``.

The generator draws a world of households, persons and their accounts
(honest people, violators and coupon farmers), renders every identifier the
many ways people write it, adds the values strangers share and the junk real
feeds carry, and writes the input contract tables plus ``truth.csv``. With
``next_night`` it also writes the same world a day later. Output is
byte-identical for a seed. See ``data/sample/README.md`` for the truth's columns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from linkgraph import schemas
from linkgraph.errors import LinkgraphError
from linkgraph.synth import commerce, render, tables, truth
from linkgraph.synth.build import World, build_world
from linkgraph.synth.night import write_night

logger = logging.getLogger(__name__)

__all__ = ["SynthResult", "synthesize"]

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
               next_night: str | Path | None = None) -> SynthResult:
    """Write a synthetic marketplace of ``accounts`` accounts and its ground truth.

    Args:
        out_dir: directory for ``accounts.csv`` ... ``decisions.csv`` and ``truth.csv``
            (created if missing; files in it are overwritten).
        accounts: number of accounts on the first night (at least 1).
        seed: the same seed gives byte-identical files.
        fmt: ``"csv"`` or ``"parquet"`` for the input tables (the truth is always CSV).
        next_night: a second directory for the same world one day later.

    Returns:
        A :class:`SynthResult` with paths and row counts.

    Raises:
        LinkgraphError: bad ``accounts``, ``fmt`` or directories.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     result = synthesize(tmp, accounts=200, seed=7)
    ...     result.counts["accounts"], result.counts["truth"]
    (200, 200)
    """
    if not isinstance(accounts, int) or accounts < 1:
        raise LinkgraphError(f"accounts must be a positive integer, got {accounts!r}")
    if fmt not in FORMATS:
        raise LinkgraphError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    out = Path(out_dir)
    out2 = Path(next_night) if next_night is not None else None
    if out2 is not None and out2.resolve() == out.resolve():
        raise LinkgraphError(f"the next night's directory {out2} must differ from {out}")

    streams = [np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)]
    world = build_world(accounts, streams[0])
    logger.info("world: %d accounts, %d persons", len(world.accounts), len(world.persons))
    built, pools = _tables(world, streams[1], streams[2])
    home_since = truth.home_since(built["orders"], built["addresses"], len(world.accounts))
    sanctions, decisions, violator = truth.moderation(world, streams[3], home_since)
    built["sanctions"] = _sanction_table(sanctions)
    built["decisions"] = _decision_table(decisions)

    result = _night(out, built, pools, world, sanctions, decisions, violator, 1, streams[4], fmt)
    if out2 is not None:
        second = _night(out2, built, pools, world, sanctions, decisions, violator, 2,
                        streams[5], fmt)
        result = SynthResult(out_dir=result.out_dir, tables=result.tables, truth=result.truth,
                             counts=result.counts, next_night=second)
    return result


def _tables(world: World, rng_logins: np.random.Generator, rng_commerce: np.random.Generator
            ) -> tuple[dict, dict[str, pa.Array]]:
    login_table, first_ip, ip_pool = tables.logins(world, rng_logins)
    addresses = commerce.addresses(world, rng_commerce)
    payments = commerce.payments(world, rng_commerce)
    orders = commerce.orders(world, rng_commerce, addresses["account"], addresses["eligible"],
                             payments["account"])
    pools = {
        "account": render.ids("u", np.arange(len(world.accounts)), 8),
        "device": tables.device_pool(world), "ip": ip_pool,
        "address": addresses["columns"]["address_id"][1],
        "payment": payments["columns"]["payment_id"][1],
    }
    built = {"accounts": tables.accounts_table(world, first_ip), "addresses": addresses,
             "payments": payments, "logins": login_table, "orders": orders}
    return built, pools


def _sanction_table(sanctions) -> dict:  # type: ignore[no-untyped-def]
    return {"columns": {
        schemas.ACCOUNT_ID: ("code", sanctions["account"].to_numpy(), "account"),
        schemas.ACTION: ("str", pa.array(sanctions["action"].to_numpy(), pa.string())),
        schemas.REASON: ("str", pa.array(sanctions["reason"].to_numpy(), pa.string())),
        schemas.CREATED_AT: ("time", sanctions["time"].to_numpy()),
    }, "time": sanctions["time"].to_numpy()}


def _decision_table(decisions) -> dict:  # type: ignore[no-untyped-def]
    return {"columns": {
        schemas.ACCOUNT_ID: ("code", decisions["account"].to_numpy(), "account"),
        schemas.DECISION: ("str", pa.array(decisions["decision"].to_numpy(), pa.string())),
        schemas.CREATED_AT: ("time", decisions["time"].to_numpy()),
    }, "time": decisions["time"].to_numpy()}


def _night(out: Path, built: dict, pools: dict[str, pa.Array], world: World, sanctions,  # type: ignore[no-untyped-def]
           decisions, violator: np.ndarray, night: int, rng: np.random.Generator, fmt: str
           ) -> SynthResult:
    truth_rows = truth.truth_table(world, sanctions, decisions, violator, night)
    try:
        written = write_night(out, built, pools, truth_rows, night, rng, fmt)
    except OSError as e:
        raise LinkgraphError(f"cannot write the synthetic data to {out}: {e.strerror}") from e
    files = {k: v for k, v in written.items() if isinstance(v, Path)}
    counts = {k.removeprefix("rows."): int(v) for k, v in written.items() if isinstance(v, int)}
    return SynthResult(out_dir=out, tables={k: v for k, v in files.items() if k != "truth"},
                       truth=files["truth"], counts=counts)
