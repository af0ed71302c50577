"""Assemble the world: households, persons, shared places, honest and farm accounts, movers.

One call draws everything for both nights, so the first night's files do not
depend on whether the next night is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from linkgraph.synth import vocab
from linkgraph.synth.farmers import farm_accounts, farm_sizes
from linkgraph.synth.mailbox import dedupe_mailboxes
from linkgraph.synth.world import (
    CITY_OFFSET,
    DAY,
    IP_SWITCH,
    N_COUNTRIES,
    NOW1,
    NOW2,
    RECYCLE_AFTER,
    RECYCLE_BEFORE,
    STREET_OFFSET,
    YEAR,
    Entities,
    build_households,
    build_persons,
    cut_to_accounts,
    distinct_homes,
    honest_accounts,
    in_country,
    national_phones,
    new_cards,
    new_devices,
    new_mailboxes,
    public_ipv4,
)

if TYPE_CHECKING:
    from linkgraph.synth.shards import Shared


@dataclass(frozen=True)
class World:
    """Integer-coded tables of everything that exists on either night.

    ``accounts`` is sorted by creation time (its position is the account's
    number); other frames are indexed by position too and referenced by it.
    """

    households: pd.DataFrame
    persons: pd.DataFrame
    accounts: pd.DataFrame
    mailboxes: pd.DataFrame
    cards: pd.DataFrame
    devices: pd.DataFrame
    offices: pd.DataFrame
    nat: pd.DataFrame
    wifi: pd.DataFrame
    vpn: pd.DataFrame
    pickups: pd.DataFrame
    movers: pd.DataFrame


def build_world(n_accounts: int, rng: np.random.Generator, *, shared: Shared | None = None
                ) -> World:
    """Draw a world with exactly ``n_accounts`` accounts on the first night.

    With ``shared`` the world is one shard of a larger marketplace: its
    offices, carrier NATs, Wi-Fi, VPN exits and pickup points are the
    marketplace's (drawn once for all shards), and its phones, home
    addresses, home IPs and mailboxes avoid the values earlier shards took.
    """
    sizes = farm_sizes(rng, n_accounts)
    n_honest = n_accounts - int(sizes.sum())
    n_households = math.ceil(n_honest / 2.4) + 5
    while True:
        households = build_households(rng, n_households, night=1)
        persons = build_persons(rng, households, 0)
        if persons["n_accounts"].sum() >= n_honest:
            break
        n_households *= 2
    households, persons = cut_to_accounts(households, persons, n_honest)
    newcomers = build_households(rng, max(1, round(0.002 * len(households))), night=2)
    persons = pd.concat([persons, build_persons(rng, newcomers, len(households))],
                        ignore_index=True)
    households = distinct_homes(rng, pd.concat([households, newcomers], ignore_index=True),
                                taken=None if shared is None else shared.taken.homes)
    country = persons["country"].to_numpy()
    hh_country = households["country"].to_numpy()
    n_persons, n_hh = len(persons), len(households)

    entities = Entities()
    phone = national_phones(rng, country, taken=None if shared is None else shared.taken.phones)
    persons["phone"] = np.where(persons["has_phone"].to_numpy(), phone, -1)
    first, last = persons["first"].to_numpy(), persons["last"].to_numpy()
    persons["mailbox"] = entities.add("mailbox", new_mailboxes(rng, first, last, country))
    persons["card"] = entities.add("card", new_cards(rng, country, first, last))
    persons["device"] = entities.add("device", new_devices(rng, n_persons))
    persons["quit"] = NOW2

    head = np.searchsorted(persons["household"].to_numpy(), np.arange(n_hh))
    several = households["size"].to_numpy() >= 2
    family_card = several & (rng.random(n_hh) < 0.2)
    households["card"] = -1
    households.loc[family_card, "card"] = entities.add("card", new_cards(
        rng, hh_country[family_card], first[head[family_card]], last[head[family_card]]))
    tablet = several & (rng.random(n_hh) < 0.15)
    households["tablet"] = -1
    households.loc[tablet, "tablet"] = entities.add("device", new_devices(rng, int(tablet.sum())))

    if shared is not None:
        return _shard_world(rng, households, persons, entities, sizes, shared)
    offices = _offices(rng, persons)
    per_country = np.bincount(country, weights=persons["n_accounts"].to_numpy(),
                              minlength=N_COUNTRIES) + 0.03 * n_accounts * np.array(
                                  vocab.COUNTRY_WEIGHTS)
    n_nat, n_wifi, n_vpn = hub_counts(per_country, n_accounts)
    vpn_country = rng.choice([0, 2], size=n_vpn)
    ip_country = np.concatenate([hh_country, hh_country, offices["country"].to_numpy(),
                                 np.repeat(np.arange(N_COUNTRIES), n_nat),
                                 np.repeat(np.arange(N_COUNTRIES), n_wifi), vpn_country])
    ips = np.split(public_ipv4(rng, ip_country), np.cumsum(
        [n_hh, n_hh, len(offices), n_nat.sum(), n_wifi.sum()]))
    households["ip"], households["ip_alt"] = ips[0], ips[1]
    households["ip_switch"] = NOW2 + DAY
    offices["ip"] = ips[2]
    nat = pd.DataFrame({"country": np.repeat(np.arange(N_COUNTRIES), n_nat), "ip": ips[3]})
    wifi = pd.DataFrame({"country": np.repeat(np.arange(N_COUNTRIES), n_wifi), "ip": ips[4]})
    vpn = pd.DataFrame({"country": vpn_country, "ip": ips[5]})
    pickups = draw_pickups(rng, per_country)
    return _finish(rng, households, persons, entities, sizes, offices, nat, wifi, vpn, pickups)


def hub_counts(per_country: np.ndarray, n_accounts: int) -> tuple[np.ndarray, np.ndarray, int]:
    """How many carrier NATs and public Wi-Fi spots per country, and VPN exits, for a world.

    ``per_country``: accounts (expected or drawn) per country.

    >>> nat, wifi, vpn = hub_counts(np.array([4000.0, 3000.0, 2000.0, 1000.0]), 10_000)
    >>> nat.tolist(), wifi.tolist(), vpn
    ([2, 2, 1, 1], [3, 2, 1, 1], 8)
    """
    n_nat = np.maximum(1, np.round(per_country / 2000)).astype(int)
    n_wifi = np.maximum(1, np.round(per_country / 1500)).astype(int)
    return n_nat, n_wifi, max(1, round(0.12 * n_accounts / 150))


def draw_pickups(rng: np.random.Generator, per_country: np.ndarray) -> pd.DataFrame:
    """Pickup points and parcel lockers, one per 2,500 accounts of a country (two at least)."""
    n_pickups = np.maximum(2, np.round(per_country / 2500)).astype(int)
    pickup_country = np.repeat(np.arange(N_COUNTRIES), n_pickups)
    return pd.DataFrame({
        "country": pickup_country, "brand": rng.integers(0, 2, size=len(pickup_country)),
        "number": rng.choice(np.arange(100, 10_000), size=len(pickup_country), replace=False),
        "street": in_country(rng, pickup_country, STREET_OFFSET),
        "no": rng.integers(1, 300, size=len(pickup_country)),
        "city": in_country(rng, pickup_country, CITY_OFFSET),
    })


def _finish(rng: np.random.Generator, households: pd.DataFrame, persons: pd.DataFrame,
            entities: Entities, sizes: np.ndarray, offices: pd.DataFrame, nat: pd.DataFrame,
            wifi: pd.DataFrame, vpn: pd.DataFrame, pickups: pd.DataFrame,
            shared: Shared | None = None) -> World:
    """Recycled numbers, reassigned IPs, the accounts (honest and farm), mailboxes, movers."""
    persons = _recycle_phones(rng, persons)
    households = _reassign_home_ips(rng, households, persons)
    honest = honest_accounts(rng, persons, households, entities, pickups)
    farm, style = farm_accounts(rng, persons, sizes, entities, pickups,
                                taken_phones=None if shared is None else shared.taken.phones)
    persons["farmer"] = style
    accounts = pd.concat([honest, farm], ignore_index=True)
    accounts = accounts.iloc[np.argsort(accounts["created"].to_numpy(), kind="stable")]
    accounts = accounts.reset_index(drop=True)
    accounts["night"] = np.where(accounts["created"].to_numpy() > NOW1, 2, 1)
    return World(
        households=households, persons=persons, accounts=accounts,
        mailboxes=dedupe_mailboxes(rng, entities.table("mailbox"),
                                   taken=None if shared is None else shared.taken.mailboxes),
        cards=entities.table("card"), devices=entities.table("device"), offices=offices,
        nat=nat, wifi=wifi, vpn=vpn, pickups=pickups,
        movers=_movers(rng, persons, households),
    )


def _shard_world(rng: np.random.Generator, households: pd.DataFrame, persons: pd.DataFrame,
                 entities: Entities, sizes: np.ndarray, shared: Shared) -> World:
    """The rest of a shard's world, around the marketplace's shared places."""
    offices = shared.offices
    country, hh_country = persons["country"].to_numpy(), households["country"].to_numpy()
    office_country = offices["country"].to_numpy()
    worker = persons["office_worker"].to_numpy()
    office = np.full(len(persons), -1, dtype=np.int64)
    for x in range(N_COUNTRIES):
        mask = worker & (country == x)
        rows = np.flatnonzero(office_country == x)
        office[mask] = rows[rng.integers(0, rows.size, size=int(mask.sum()))]
    persons["office"] = office
    ips = public_ipv4(rng, np.concatenate([hh_country, hh_country]), taken=shared.taken.ips)
    households["ip"], households["ip_alt"] = ips[:len(households)], ips[len(households):]
    households["ip_switch"] = NOW2 + DAY
    return _finish(rng, households, persons, entities, sizes, offices, shared.nat, shared.wifi,
                   shared.vpn, shared.pickups, shared)


def _offices(rng: np.random.Generator, persons: pd.DataFrame) -> pd.DataFrame:
    """Offices of a few dozen colleagues each; sets each worker's ``office`` in ``persons``."""
    country = persons["country"].to_numpy()
    worker = persons["office_worker"].to_numpy()
    office = np.full(len(persons), -1, dtype=np.int64)
    counts: list[int] = []
    for x in range(N_COUNTRIES):
        mask = worker & (country == x)
        n_offices = max(1, round(mask.sum() / 40))
        office[mask] = sum(counts) + rng.integers(0, n_offices, size=int(mask.sum()))
        counts.append(n_offices)
    persons["office"] = office
    return draw_offices(rng, np.array(counts))


def draw_offices(rng: np.random.Generator, counts: np.ndarray) -> pd.DataFrame:
    """``counts[x]`` offices in each country ``x``: an address, a company and a floor."""
    office_country = np.repeat(np.arange(N_COUNTRIES), counts)
    n = len(office_country)
    return pd.DataFrame({
        "country": office_country, "street": in_country(rng, office_country, STREET_OFFSET),
        "no": rng.integers(1, 500, size=n), "city": in_country(rng, office_country, CITY_OFFSET),
        "company": rng.integers(0, len(vocab.COMPANIES), size=n),
        "floor": rng.integers(1, 30, size=n),
    })


def _recycle_phones(rng: np.random.Generator, persons: pd.DataFrame) -> pd.DataFrame:
    """Give a few late joiners the number of someone who signed up years before and went quiet."""
    persons = persons.copy()
    phone, quit_at = persons["phone"].to_numpy().copy(), persons["quit"].to_numpy().copy()
    t0, country = persons["t0"].to_numpy(), persons["country"].to_numpy()
    household = persons["household"].to_numpy()
    night1 = persons["night"].to_numpy() == 1
    early = night1 & (phone >= 0) & (t0 < RECYCLE_BEFORE) & (persons["n_accounts"].to_numpy() == 1)
    late = night1 & (phone >= 0) & (t0 > RECYCLE_AFTER)
    wanted = max(1, round(0.001 * len(persons)))
    for x in range(N_COUNTRIES):
        a = np.flatnonzero(early & (country == x))
        b = np.flatnonzero(late & (country == x))
        m = min(wanted, a.size, b.size)
        if m == 0:
            continue
        a, b = rng.choice(a, size=m, replace=False), rng.choice(b, size=m, replace=False)
        ok = household[a] != household[b]
        a, b = a[ok], b[ok]
        phone[b] = phone[a]
        quit_at[a] = t0[a] + rng.integers(YEAR // 2, 2 * YEAR, size=a.size)
    persons["phone"], persons["quit"] = phone, quit_at
    return persons


def _reassign_home_ips(rng: np.random.Generator, households: pd.DataFrame,
                       persons: pd.DataFrame) -> pd.DataFrame:
    """Hand a few old households' home IPs to households that moved in after ``IP_SWITCH``."""
    households = households.copy()
    t0 = persons.groupby("household")["t0"].agg(["min", "max"])
    night1 = households["night"].to_numpy() == 1
    old = np.flatnonzero(night1 & (t0["max"].to_numpy() < IP_SWITCH - YEAR))
    new = np.flatnonzero(night1 & (t0["min"].to_numpy() > IP_SWITCH + 30 * DAY))
    m = min(max(1, round(0.002 * len(households))), old.size, new.size)
    if m:
        old, new = rng.choice(old, size=m, replace=False), rng.choice(new, size=m, replace=False)
        ip, switch = households["ip"].to_numpy().copy(), households["ip_switch"].to_numpy().copy()
        ip[new], switch[old] = ip[old], IP_SWITCH
        households["ip"], households["ip_switch"] = ip, switch
    return households


def _movers(rng: np.random.Generator, persons: pd.DataFrame, households: pd.DataFrame
            ) -> pd.DataFrame:
    """A few single people who move in with a partner's household on the next night."""
    size = households["size"].to_numpy()
    household = persons["household"].to_numpy()
    alone = (persons["night"].to_numpy() == 1) & (size[household] == 1) & (
        persons["farmer"].to_numpy() == 0)
    hosts = (households["night"].to_numpy() == 1) & (size <= 3)
    country = persons["country"].to_numpy()
    wanted = max(1, round(0.0005 * len(persons)))
    movers, partners = [], []
    for x in range(N_COUNTRIES):
        cand = np.flatnonzero(alone & (country == x))
        homes = np.flatnonzero(hosts & (households["country"].to_numpy() == x))
        m = min(wanted, cand.size, max(0, homes.size - 1))
        if m == 0:
            continue
        mover = rng.choice(cand, size=m, replace=False)
        partner = rng.choice(homes, size=m)
        ok = ~np.isin(partner, household[mover])
        movers.append(mover[ok])
        partners.append(partner[ok])
    mover = np.concatenate(movers) if movers else np.zeros(0, dtype=np.int64)
    partner = np.concatenate(partners) if partners else np.zeros(0, dtype=np.int64)
    _, first = np.unique(partner, return_index=True)
    first = np.sort(first)
    mover, partner = mover[first], partner[first]
    return pd.DataFrame({
        "person": mover, "from_household": household[mover], "to_household": partner,
        "moved_at": NOW1 + rng.integers(3600, DAY - 4 * 3600, size=mover.size),
    })
