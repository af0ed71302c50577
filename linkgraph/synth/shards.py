"""A marketplace too large for one world in memory, drawn shard by shard.

Each shard is a world of its own households, persons and accounts; the places
strangers share (carrier NATs, public Wi-Fi, VPN exits, offices, pickup
points) are drawn once for the whole marketplace, sized for every account,
and every shard's people use them. Values that identify someone (phones, home
addresses and IPs, mailboxes) avoid the ones earlier shards took, as they
would in one world; ids continue the earlier shards' numbering. Memory holds
one shard's world, the shared places and ~25 bytes per account of taken values
(with a second process, also the next shard's world while one is written).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd

from linkgraph import schemas
from linkgraph.synth import vocab
from linkgraph.synth.assemble import Assembled, Offsets, assemble, truth_of_night
from linkgraph.synth.build import World, build_world, draw_offices, draw_pickups, hub_counts
from linkgraph.synth.mailbox import canonical_mailboxes, mailbox_hashes
from linkgraph.synth.night import night_tables, truth_arrow, write_table
from linkgraph.synth.world import ACCOUNTS_PER_PERSON, N_COUNTRIES, home_keys, public_ipv4

logger = logging.getLogger(__name__)

#: accounts per shard unless asked otherwise (~3 GB of memory per shard)
DEFAULT_SHARD_SIZE = 1_000_000
#: spawn keys of the marketplace's streams (a whole world uses children 0-5 of the seed)
_PLACES_KEY, _SHARD_KEY = 6, 7
_TRUTH_PARTIAL = ".truth.csv.partial"


def _empty(dtype: type) -> np.ndarray:
    return np.zeros(0, dtype=dtype)


@dataclass(frozen=True)
class Taken:
    """Sorted values earlier shards hold: IPv4s, phone numbers, home keys, mailbox hashes."""

    ips: np.ndarray = field(default_factory=lambda: _empty(np.uint32))
    phones: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    homes: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    mailboxes: np.ndarray = field(default_factory=lambda: _empty(np.uint64))

    def with_world(self, world: World) -> Taken:
        """These values and those ``world`` took.

        >>> t = Taken(ips=np.array([5], dtype=np.uint32))
        >>> _merge(t.ips, np.array([9, 1], dtype=np.uint32)).tolist()
        [1, 5, 9]
        """
        hh, persons, accounts = world.households, world.persons, world.accounts
        phones = np.concatenate([persons["phone"].to_numpy(), accounts["phone"].to_numpy()])
        return Taken(
            ips=_merge(self.ips, np.concatenate([hh["ip"].to_numpy(), hh["ip_alt"].to_numpy()])
                       .astype(np.uint32)),
            phones=_merge(self.phones, phones[phones >= 0].astype(np.int64)),
            homes=_merge(self.homes, home_keys(hh)),
            mailboxes=_merge(self.mailboxes, world.mailboxes["hash"].to_numpy()
                             if "hash" in world.mailboxes
                             else mailbox_hashes(canonical_mailboxes(world.mailboxes))))


def _merge(taken: np.ndarray, new: np.ndarray) -> np.ndarray:
    """The sorted distinct values of both (``taken`` sorted; merged in linear time)."""
    values = np.sort(np.concatenate([taken, np.sort(new.astype(taken.dtype))]), kind="stable")
    return values[np.r_[True, values[1:] != values[:-1]]]


@dataclass(frozen=True)
class Shared:
    """The marketplace's shared places, and the values its earlier shards took."""

    offices: pd.DataFrame
    nat: pd.DataFrame
    wifi: pd.DataFrame
    vpn: pd.DataFrame
    pickups: pd.DataFrame
    taken: Taken


def shared_places(n_accounts: int, rng: np.random.Generator) -> Shared:
    """Offices, carrier NATs, public Wi-Fi, VPN exits and pickup points for ``n_accounts``.

    Sized as one world of ``n_accounts`` would have them, from the expected
    accounts per country (a world draws them from its persons).

    >>> places = shared_places(1_000_000, np.random.default_rng(0))
    >>> len(places.pickups), len(places.nat), int(places.taken.ips.size) == len(
    ...     places.offices) + len(places.nat) + len(places.wifi) + len(places.vpn)
    (400, 500, True)
    """
    per_country = n_accounts * np.array(vocab.COUNTRY_WEIGHTS)
    # a twelfth of persons work in an office of ~40 colleagues; 3% of accounts are farms
    accounts_per_person = float(np.dot(np.arange(1, 1 + ACCOUNTS_PER_PERSON.size),
                                       ACCOUNTS_PER_PERSON))
    workers = 0.12 * 0.97 * per_country / accounts_per_person
    offices = draw_offices(rng, np.maximum(1, np.round(workers / 40)).astype(int))
    n_nat, n_wifi, n_vpn = hub_counts(per_country, n_accounts)
    vpn_country = rng.choice([0, 2], size=n_vpn)
    nat_country = np.repeat(np.arange(N_COUNTRIES), n_nat)
    wifi_country = np.repeat(np.arange(N_COUNTRIES), n_wifi)
    ip = public_ipv4(rng, np.concatenate([offices["country"].to_numpy(), nat_country,
                                          wifi_country, vpn_country]))
    ips = np.split(ip, np.cumsum([len(offices), nat_country.size, wifi_country.size]))
    offices["ip"] = ips[0]
    return Shared(
        offices=offices, nat=pd.DataFrame({"country": nat_country, "ip": ips[1]}),
        wifi=pd.DataFrame({"country": wifi_country, "ip": ips[2]}),
        vpn=pd.DataFrame({"country": vpn_country, "ip": ips[3]}),
        pickups=draw_pickups(rng, per_country), taken=Taken(ips=np.sort(ip)))


def shard_sizes(n_accounts: int, shard_size: int) -> list[int]:
    """Accounts per shard: as few shards as ``shard_size`` allows, sizes as even as can be.

    >>> shard_sizes(900, 300), shard_sizes(901, 300), shard_sizes(5, 300)
    ([300, 300, 300], [226, 225, 225, 225], [5])
    """
    k = -(-n_accounts // shard_size)
    return [n_accounts // k + (i < n_accounts % k) for i in range(k)]


def shard_streams(seed: int, shard: int) -> list[np.random.Generator]:
    """The six generators of shard ``shard``: world, logins, commerce, moderation, two nights."""
    sequence = np.random.SeedSequence(seed, spawn_key=(_SHARD_KEY, shard))
    return [np.random.default_rng(s) for s in sequence.spawn(6)]


def write_sharded(outs: list[Path], *, accounts: int, seed: int, fmt: str, shard_size: int,
                  processes: int = 1) -> list[dict[str, Path | int]]:
    """Draw the marketplace shard by shard and write each night to its directory in ``outs``.

    Tables are directories of parts (Parquet, one part per shard) or one CSV
    appended shard by shard; ``truth.csv`` is written last, when every table is.
    With ``processes=2`` a second process turns each shard's world into
    tables and writes them while this one draws the next world (same bytes).

    Returns, per night, ``{table: path}`` and ``{"rows.table": count}`` entries.
    """
    sizes = shard_sizes(accounts, shard_size)
    places_rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_PLACES_KEY,)))
    shared = shared_places(accounts, places_rng)
    written: list[dict[str, Path | int]] = [{} for _ in outs]
    for out in outs:
        _clear(out, fmt)
    offsets = Offsets()
    pending: Future | None = None
    with _pool(processes) as pool:
        for shard, size in enumerate(sizes):
            world = build_world(size, shard_streams(seed, shard)[0], shared=shared)
            logger.info("shard %d/%d: %d accounts, %d persons", shard + 1, len(sizes),
                        len(world.accounts), len(world.persons))
            if shard + 1 < len(sizes):
                shared = replace(shared, taken=shared.taken.with_world(world))
            if pool is None:
                offsets = _count(_shard_job(world, seed, shard, offsets, outs, fmt), written)
            else:
                # the next shard's numbering follows this one's rows: wait for the previous job
                if pending is not None:
                    offsets = _count(pending.result(), written)
                pending = pool.submit(_shard_job, world, seed, shard, offsets, outs, fmt)
            del world
        if pending is not None:
            _count(pending.result(), written)
    for out, counts in zip(outs, written, strict=True):
        os.replace(out / _TRUTH_PARTIAL, out / "truth.csv")
        counts["truth"] = out / "truth.csv"
    return written


@contextmanager
def _pool(processes: int) -> Iterator[ProcessPoolExecutor | None]:
    if processes < 2:
        yield None
        return
    # spawn, not fork: a forked child would inherit Arrow's and numpy's thread pools mid-use
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
        yield pool


def _shard_job(world: World, seed: int, shard: int, offsets: Offsets, outs: list[Path],
               fmt: str) -> tuple[Offsets, list[dict[str, Path | int]]]:
    """Tables of one shard's world, written for each night; the next shard's offsets."""
    streams = shard_streams(seed, shard)
    done = assemble(world, streams, offsets)
    counts: list[dict[str, Path | int]] = [{} for _ in outs]
    for night, (out, night_counts) in enumerate(zip(outs, counts, strict=True), start=1):
        _write_part(out, done, night, shard, streams[3 + night], fmt, offsets, night_counts)
    return done.next_offsets(offsets), counts


def _count(job: tuple[Offsets, list[dict[str, Path | int]]],
           written: list[dict[str, Path | int]]) -> Offsets:
    offsets, counts = job
    for total, part in zip(written, counts, strict=True):
        for key, value in part.items():
            before = total.get(key, 0)
            total[key] = before + value if isinstance(value, int) and isinstance(before, int) \
                else value
    return offsets


def _clear(out: Path, fmt: str) -> None:
    """Remove what an earlier run left where this one writes (the truth first: it marks done)."""
    out.mkdir(parents=True, exist_ok=True)
    for stale in (out / "truth.csv", out / _TRUTH_PARTIAL):
        stale.unlink(missing_ok=True)
    for name in schemas.TABLE_NAMES:
        path = out / f"{name}.{fmt}"
        if path.is_dir():
            for part in path.glob("part-*.parquet"):
                part.unlink()
        elif path.exists():
            path.unlink()
        if fmt == "parquet":
            path.mkdir(exist_ok=True)


def _write_part(out: Path, done: Assembled, night: int, shard: int, rng: np.random.Generator,
                fmt: str, offsets: Offsets, counts: dict[str, Path | int]) -> None:
    """Write one shard's rows of one night: a part per table, its truth rows appended."""
    for name, arrow in night_tables(done.built, done.pools, night, rng, fmt):
        path = out / f"{name}.{fmt}"
        if fmt == "parquet":
            write_table(arrow, path / f"part-{shard:05d}.parquet", fmt)
        else:
            write_table(arrow, path, fmt, append=shard > 0)
        counts[name] = path
        counts[f"rows.{name}"] = arrow.num_rows
    rows = truth_of_night(done, night, offsets)
    write_table(truth_arrow(rows, done.pools), out / _TRUTH_PARTIAL, "csv", append=shard > 0)
    counts["rows.truth"] = len(rows)
