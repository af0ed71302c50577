"""From a drawn world to its tables: addresses, payments, logins, orders, moderation.

A world may be the whole marketplace or one shard of it; ``Offsets`` says
where the shard's numbering of accounts, persons, households and rows starts,
so ids stay unique across shards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from linkgraph import schemas
from linkgraph.synth import commerce, render, tables, truth
from linkgraph.synth.build import World


@dataclass(frozen=True)
class Offsets:
    """The marketplace-wide number of a world's first account, person, household and rows.

    >>> Offsets().account, Offsets(account=300).account
    (0, 300)
    """

    account: int = 0
    person: int = 0
    household: int = 0
    address: int = 0
    payment: int = 0
    order: int = 0


@dataclass(frozen=True)
class Assembled:
    """A world's tables (column specs), code pools and moderation, ready for a night's cut."""

    world: World
    built: dict
    pools: dict[str, pa.Array]
    sanctions: pd.DataFrame
    decisions: pd.DataFrame
    violator: np.ndarray
    uses: pd.DataFrame | None = None  # truth.first_uses

    def next_offsets(self, offsets: Offsets) -> Offsets:
        """Where the next shard's numbering starts, after this world numbered from ``offsets``."""
        world, built = self.world, self.built
        return Offsets(
            account=offsets.account + len(world.accounts),
            person=offsets.person + len(world.persons),
            household=offsets.household + len(world.households),
            address=offsets.address + len(built["addresses"]["time"]),
            payment=offsets.payment + len(built["payments"]["time"]),
            order=offsets.order + len(built["orders"]["time"]))


def assemble(world: World, streams: list[np.random.Generator], offsets: Offsets = Offsets()
             ) -> Assembled:
    """The tables of ``world`` drawn from ``streams[1:4]`` (logins, commerce, moderation).

    Args:
        world: a drawn world (``build_world``).
        streams: the world's generators (``streams[0]`` drew the world).
        offsets: the world's first numbers (all zero for a whole marketplace).

    Returns:
        The :class:`Assembled` tables.

    >>> from linkgraph.synth.build import build_world
    >>> rngs = [np.random.default_rng(s) for s in range(6)]
    >>> done = assemble(build_world(50, rngs[0]), rngs)
    >>> done.pools["account"][0].as_py(), len(done.built["accounts"]["time"]) >= 50
    ('u00000000', True)
    """
    login_table, first_ip, ip_pool = tables.logins(world, streams[1])
    rng = streams[2]
    addresses = commerce.addresses(world, rng, first_id=offsets.address)
    payments = commerce.payments(world, rng, first_id=offsets.payment,
                                 first_person=offsets.person)
    orders = commerce.orders(world, rng, addresses["account"], addresses["eligible"],
                             payments["account"], first_id=offsets.order)
    pools = {
        "account": render.ids("u", offsets.account + np.arange(len(world.accounts)), 8),
        "device": tables.device_pool(world), "ip": ip_pool,
        "address": addresses["columns"]["address_id"][1],
        "payment": payments["columns"]["payment_id"][1],
    }
    built = {"accounts": tables.accounts_table(world, first_ip), "addresses": addresses,
             "payments": payments, "logins": login_table, "orders": orders}
    home_since = truth.home_since(built["orders"], built["addresses"], len(world.accounts))
    sanctions, decisions, violator = truth.moderation(world, streams[3], home_since)
    built["sanctions"] = _sanction_table(sanctions)
    built["decisions"] = _decision_table(decisions)
    uses = truth.first_uses(world, login_table, orders, payments, len(tables.JUNK_DEVICES),
                            home_since)
    return Assembled(world=world, built=built, pools=pools, sanctions=sanctions,
                     decisions=decisions, violator=violator, uses=uses)


def truth_of_night(done: Assembled, night: int, offsets: Offsets = Offsets()) -> pd.DataFrame:
    """The truth rows of one night, persons and households numbered marketplace-wide."""
    rows = truth.truth_table(done.world, done.sanctions, done.decisions, done.violator, night,
                             done.uses)
    if offsets.person or offsets.household:
        rows = rows.assign(**{
            schemas.PERSON_ID: rows[schemas.PERSON_ID].to_numpy() + offsets.person,
            schemas.HOUSEHOLD_ID: rows[schemas.HOUSEHOLD_ID].to_numpy() + offsets.household})
    return rows


def _sanction_table(sanctions: pd.DataFrame) -> dict:
    return {"columns": {
        schemas.ACCOUNT_ID: ("code", sanctions["account"].to_numpy(), "account"),
        schemas.ACTION: ("str", pa.array(sanctions["action"].to_numpy(), pa.string())),
        schemas.REASON: ("str", pa.array(sanctions["reason"].to_numpy(), pa.string())),
        schemas.CREATED_AT: ("time", sanctions["time"].to_numpy()),
    }, "time": sanctions["time"].to_numpy()}


def _decision_table(decisions: pd.DataFrame) -> dict:
    return {"columns": {
        schemas.ACCOUNT_ID: ("code", decisions["account"].to_numpy(), "account"),
        schemas.DECISION: ("str", pa.array(decisions["decision"].to_numpy(), pa.string())),
        schemas.CREATED_AT: ("time", decisions["time"].to_numpy()),
    }, "time": decisions["time"].to_numpy()}
