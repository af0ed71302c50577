"""The people behind the accounts: households, persons, their identifiers and honest accounts.

Everything is drawn for all entities of a kind at once (numpy arrays in
integer-coded DataFrames); strings are rendered later (``render.py``,
``tables.py``). Entities that identify someone (mailboxes, cards, devices,
phone numbers, home addresses and IPs) are kept distinct between unrelated
people, so every shared value in the output is shared on purpose.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from linkgraph.synth import vocab

DAY = 86_400
YEAR = 365 * DAY
START = 1_451_606_400  # 2016-01-01: the marketplace opens
NOW1 = 1_795_651_200  # 2026-11-26: the first night's snapshot
NOW2 = NOW1 + DAY  # the next night's snapshot
RECYCLE_BEFORE = 1_546_300_800  # 2019-01-01: a recycled number's first owner signed up before
RECYCLE_AFTER = 1_685_577_600  # 2023-06-01: ...and its second owner after
IP_SWITCH = 1_640_995_200  # 2022-01-01: a reassigned home IP changes hands

N_COUNTRIES = len(vocab.COUNTRIES)
#: offsets of each country's slice in the flattened vocabularies
FIRST_OFFSET = np.cumsum([0] + [len(x) for x in vocab.FIRST_NAMES])
LAST_OFFSET = np.cumsum([0] + [len(x) for x in vocab.LAST_NAMES])
STREET_OFFSET = np.cumsum([0] + [len(x) for x in vocab.STREETS])
CITY_OFFSET = np.cumsum([0] + [len(x) for x in vocab.CITIES])
DOMAIN_OFFSET = np.cumsum([0] + [len(x) for x in vocab.EMAIL_DOMAINS])
DOMAINS = np.array([d for country in vocab.EMAIL_DOMAINS for d, _ in country], dtype=object)
GMAIL = {i for i, d in enumerate(DOMAINS) if d == "gmail.com"}
#: first octets of residential blocks per country (public space only)
_IPV4_BLOCKS = (
    (23, 24, 50, 64, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76, 96, 97, 98, 99, 107, 108),
    (5, 31, 37, 46, 77, 78, 79, 83, 85, 87, 89, 91, 92, 93, 94, 95, 109, 176, 178, 188, 213),
    (2, 31, 37, 46, 62, 77, 79, 80, 82, 84, 87, 88, 89, 91, 93, 95, 178, 188, 217),
    (2, 5, 31, 51, 62, 77, 78, 79, 81, 82, 86, 90, 92, 94, 109, 151, 176, 178, 212),
)
_IPV6_HEADS = (0x2600, 0x2A02, 0x2A01, 0x2A00)

HOUSEHOLD_SIZES = np.array([0.28, 0.32, 0.17, 0.14, 0.06, 0.03])
ACCOUNTS_PER_PERSON = np.array([0.85, 0.12, 0.03])


@dataclass
class Entities:
    """Growing integer-coded entity tables; ``add`` returns the new rows' global ids."""

    frames: dict[str, list[pd.DataFrame]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, frame: pd.DataFrame) -> np.ndarray:
        start = self.sizes.get(kind, 0)
        self.frames.setdefault(kind, []).append(frame)
        self.sizes[kind] = start + len(frame)
        return np.arange(start, start + len(frame), dtype=np.int64)

    def table(self, kind: str) -> pd.DataFrame:
        frames = self.frames.get(kind, [])
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def in_country(rng: np.random.Generator, country: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """A uniform draw from each row's country slice of a flattened vocabulary."""
    sizes = np.diff(offsets)[country]
    return offsets[country] + (rng.random(len(country)) * sizes).astype(np.int64)


def sorted_member(values: np.ndarray, sorted_values: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_values)`` for a sorted second array, by binary search.

    >>> sorted_member(np.array([3, 5, 9]), np.array([1, 5, 9])).tolist()
    [False, True, True]
    """
    if sorted_values.size == 0:
        return np.zeros(len(values), dtype=bool)
    # sorted queries walk the large array in order (cache-friendly binary searches)
    order = np.argsort(values, kind="stable")
    queries = np.asarray(values)[order]
    at = np.minimum(np.searchsorted(sorted_values, queries), sorted_values.size - 1)
    out = np.empty(len(order), dtype=bool)
    out[order] = sorted_values[at] == queries
    return out


def as_sorted(values: np.ndarray) -> np.ndarray:
    """``values`` sorted (returned as is when already sorted; two sorted runs merge in linear time).

    >>> as_sorted(np.array([4, 9, 1, 2])).tolist()
    [1, 2, 4, 9]
    """
    if np.any(values[1:] < values[:-1]):
        return np.sort(values, kind="stable")
    return values


def distinct(rng: np.random.Generator, draw: Callable[[np.random.Generator, int], np.ndarray],
             n: int, taken: np.ndarray | None = None) -> np.ndarray:
    """``draw(rng, k)`` values for ``n`` rows, redrawn until no two rows (or ``taken``) collide."""
    values = draw(rng, n)
    taken = np.array([], dtype=values.dtype) if taken is None else taken
    taken = as_sorted(taken)
    for _ in range(50):
        _, first = np.unique(values, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        dup |= sorted_member(values, taken)
        if not dup.any():
            return values
        values[dup] = draw(rng, int(dup.sum()))
    raise RuntimeError("value space too small for distinct draws")  # pragma: no cover


def public_ipv4(rng: np.random.Generator, country: np.ndarray,
                taken: np.ndarray | None = None) -> np.ndarray:
    """Distinct public IPv4 addresses (uint32) from each row's country's residential blocks."""
    country = np.asarray(country)
    out = np.zeros(len(country), dtype=np.uint32)
    used = np.array([], dtype=np.uint32) if taken is None else as_sorted(taken.astype(np.uint32))
    for x in range(N_COUNTRIES):
        mask = country == x
        if mask.any():
            blocks = np.array(_IPV4_BLOCKS[x], dtype=np.uint32)

            def draw(r: np.random.Generator, k: int, b: np.ndarray = blocks) -> np.ndarray:
                return (r.choice(b, size=k) << np.uint32(24)) | r.integers(
                    1, 1 << 24, size=k, dtype=np.uint32)

            out[mask] = distinct(rng, draw, int(mask.sum()), taken=used)
            used = np.sort(np.concatenate([used, out[mask]]), kind="stable")
    return out


def national_phones(rng: np.random.Generator, country: np.ndarray,
                    taken: np.ndarray | None = None) -> np.ndarray:
    """Distinct 10-digit national mobile numbers (int64) in each row's country's ranges."""
    out = np.zeros(len(country), dtype=np.int64)
    taken = None if taken is None else as_sorted(taken)
    for x in range(N_COUNTRIES):
        mask = country == x
        if mask.any():
            prefixes = np.array([int(p) for p in vocab.PHONE_PREFIXES[x]], dtype=np.int64)

            def draw(r: np.random.Generator, k: int, p: np.ndarray = prefixes) -> np.ndarray:
                # the subscriber part never starts with 0 or 1 (US exchanges cannot)
                return r.choice(p, size=k) * 10_000_000 + r.integers(2_000_000, 10_000_000, size=k)

            out[mask] = distinct(rng, draw, int(mask.sum()), taken=taken)
    return out


def new_mailboxes(rng: np.random.Generator, first: np.ndarray, last: np.ndarray,
                  country: np.ndarray) -> pd.DataFrame:
    """Mailboxes made from a name: a style (``first.last``, ``firstlast``...), digits, a domain."""
    n = len(first)
    kind = rng.choice(4, size=n, p=[0.4, 0.3, 0.15, 0.15])
    digits = np.where(kind == 0, -1, 0)
    digits = np.where(kind == 1, rng.integers(50, 106, size=n) % 100, digits)
    digits = np.where(kind == 2, rng.integers(1950, 2008, size=n), digits)
    digits = np.where(kind == 3, rng.integers(1, 1000, size=n), digits)
    domain = np.zeros(n, dtype=np.int64)
    for x in range(N_COUNTRIES):
        mask = country == x
        weights = np.array([w for _, w in vocab.EMAIL_DOMAINS[x]])
        domain[mask] = DOMAIN_OFFSET[x] + rng.choice(len(weights), size=int(mask.sum()),
                                                     p=weights / weights.sum())
    return pd.DataFrame({
        "first": first, "last": last, "style": rng.choice(5, size=n, p=[.3, .3, .15, .15, .1]),
        "digits": digits, "domain": domain,
    })


def new_cards(rng: np.random.Generator, country: np.ndarray, holder_first: np.ndarray,
              holder_last: np.ndarray) -> pd.DataFrame:
    """Payment cards: provider fingerprint, BIN, last four digits, expiry and holder name."""
    n = len(country)
    bins = np.array([[int(b) for b in c] for c in vocab.CARD_BINS])
    return pd.DataFrame({
        "country": country,
        "bin": bins[country, rng.integers(0, bins.shape[1], size=n)],
        "last4": rng.integers(0, 10_000, size=n),
        "expiry": rng.integers(2025 * 12, 2032 * 12, size=n),  # months since year 0
        "fp": rng.integers(0, np.iinfo(np.int64).max, size=n),
        "holder_first": holder_first, "holder_last": holder_last,
    })


def new_devices(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Devices: 128 random bits each (rendered as UUIDs)."""
    return pd.DataFrame({"hi": rng.integers(0, np.iinfo(np.int64).max, size=n),
                         "lo": rng.integers(0, np.iinfo(np.int64).max, size=n)})


def build_households(rng: np.random.Generator, n: int, night: int) -> pd.DataFrame:
    """Households: a country, a home address, a home IP, sometimes an IPv6 /64."""
    country = rng.choice(N_COUNTRIES, size=n, p=vocab.COUNTRY_WEIGHTS)
    size = 1 + rng.choice(len(HOUSEHOLD_SIZES), size=n, p=HOUSEHOLD_SIZES)
    if night == 2:
        size = np.minimum(size, 2)
    v6 = rng.random(n) < 0.4
    head = np.array(_IPV6_HEADS, dtype=np.uint64)[country] << np.uint64(48)
    prefix = head | rng.integers(0, 1 << 48, size=n, dtype=np.uint64)
    return pd.DataFrame({
        "country": country, "night": night, "size": size,
        "last": in_country(rng, country, LAST_OFFSET),
        "street": in_country(rng, country, STREET_OFFSET),
        "stype": rng.integers(0, 4, size=n),
        "no": rng.integers(1, 1000, size=n),
        "apt": np.where(rng.random(n) < 0.55, rng.integers(1, 200, size=n), 0),
        "city": in_country(rng, country, CITY_OFFSET),
        "postal": rng.integers(0, 1000, size=n),
        "v6": np.where(v6, prefix, np.uint64(0)),
    })


def home_keys(households: pd.DataFrame) -> np.ndarray:
    """One int64 per home address (street, house number, flat, city).

    >>> home_keys(pd.DataFrame({"street": [3], "no": [12], "apt": [0], "city": [5]})).tolist()
    [1204800000005]
    """
    street, no = households["street"].to_numpy(), households["no"].to_numpy()
    apt, city = households["apt"].to_numpy(), households["city"].to_numpy()
    return ((street.astype(np.int64) * 1000 + no) * 400 + apt) * 1_000_000 + city


def distinct_homes(rng: np.random.Generator, households: pd.DataFrame,
                   taken: np.ndarray | None = None) -> pd.DataFrame:
    """Redraw house numbers and flats until no two households (or ``taken`` keys) share a home.

    ``taken``: sorted :func:`home_keys` of homes another part of the world already has.
    """
    households = households.copy()
    for _ in range(50):
        dup = households.duplicated(["street", "no", "apt", "city"]).to_numpy()
        if taken is not None and taken.size:
            dup = dup | sorted_member(home_keys(households), taken)
        if not dup.any():
            return households
        no = households["no"].to_numpy().copy()
        apt = households["apt"].to_numpy().copy()
        no[dup] = rng.integers(1, 1000, size=int(dup.sum()))
        apt[dup] = rng.integers(1, 400, size=int(dup.sum()))
        households["no"], households["apt"] = no, apt
    raise RuntimeError("could not make home addresses distinct")  # pragma: no cover


def build_persons(rng: np.random.Generator, households: pd.DataFrame,
                  first_household: int) -> pd.DataFrame:
    """The members of ``households`` (whose ids start at ``first_household``)."""
    size = households["size"].to_numpy()
    household = np.repeat(np.arange(len(households)), size)
    country = households["country"].to_numpy()[household]
    n = len(household)
    own_last = rng.random(n) < 0.2
    last = np.where(own_last, in_country(rng, country, LAST_OFFSET),
                    households["last"].to_numpy()[household])
    night = households["night"].to_numpy()[household]
    n_accounts = 1 + rng.choice(len(ACCOUNTS_PER_PERSON), size=n, p=ACCOUNTS_PER_PERSON)
    n_accounts = np.where(night == 2, 1, n_accounts)
    skew = rng.random(n) ** 0.6  # more people joined recently than long ago
    t0 = np.where(night == 2, NOW1 + rng.integers(60, DAY - 3 * 3600, size=n),
                  START + (skew * (NOW1 - 3 * DAY - START)).astype(np.int64))
    return pd.DataFrame({
        "household": household + first_household, "country": country, "night": night,
        "first": in_country(rng, country, FIRST_OFFSET), "last": last,
        "has_phone": rng.random(n) < 0.92, "vpn": rng.random(n) < 0.1,
        "office_worker": rng.random(n) < 0.12, "n_accounts": n_accounts, "t0": t0,
    })


def cut_to_accounts(households: pd.DataFrame, persons: pd.DataFrame, n_accounts: int
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep the first households and persons whose accounts add up to exactly ``n_accounts``."""
    before = np.cumsum(persons["n_accounts"].to_numpy()) - persons["n_accounts"].to_numpy()
    keep = before < n_accounts
    persons = persons.loc[keep].copy()
    last = len(persons) - 1
    if last >= 0:
        counts = persons["n_accounts"].to_numpy().copy()
        counts[last] = n_accounts - before[last]
        persons["n_accounts"] = counts
    kept_households = persons["household"].unique()
    households = households.iloc[kept_households].copy()
    households["size"] = persons.groupby("household").size().to_numpy()
    return households.reset_index(drop=True), persons.reset_index(drop=True)


def honest_accounts(rng: np.random.Generator, persons: pd.DataFrame, households: pd.DataFrame,
                    entities: Entities, pickups: pd.DataFrame) -> pd.DataFrame:
    """The accounts of honest people: one each mostly, an old account or a new mailbox sometimes.

    A person's extra accounts always keep a person-level tie to the first one
    (the same phone, card or device, or the same Gmail mailbox spelt another way).
    """
    counts = persons["n_accounts"].to_numpy()
    person = np.repeat(np.arange(len(persons)), counts)
    ordinal = np.arange(len(person)) - np.repeat(np.cumsum(counts) - counts, counts)
    n = len(person)
    p = persons.iloc[person]
    household = p["household"].to_numpy()
    hh = households.iloc[household]

    created = p["t0"].to_numpy().copy()
    until = np.full(n, NOW2, dtype=np.int64)
    for k in range(1, len(ACCOUNTS_PER_PERSON)):
        idx = np.flatnonzero(ordinal == k)
        prev = created[idx - 1]
        created[idx] = prev + ((NOW1 - 2 * DAY - prev) * rng.uniform(0.15, 0.95, idx.size)
                               ).astype(np.int64)
        abandons = rng.random(idx.size) < 0.7  # the old account goes quiet
        until[idx - 1] = np.where(abandons, created[idx] + rng.integers(0, 60 * DAY, idx.size),
                                  NOW2)
    until = np.minimum(until, p["quit"].to_numpy())

    extra = ordinal > 0
    has_phone = p["phone"].to_numpy() >= 0
    tie_phone = has_phone & (rng.random(n) < 0.6)
    tie_card = rng.random(n) < 0.5
    tie_device = rng.random(n) < 0.45
    untied = ~(tie_phone | tie_card | tie_device)
    coin = rng.random(n) < 0.5
    tie_card |= untied & coin
    tie_device |= untied & ~coin

    base_mailbox = p["mailbox"].to_numpy()
    mailbox_gmail = np.isin(entities.table("mailbox")["domain"].to_numpy()[base_mailbox],
                            list(GMAIL))
    same_mailbox = extra & mailbox_gmail & (rng.random(n) < 0.5)
    mailbox = base_mailbox.copy()
    fresh = extra & ~same_mailbox
    mailbox[fresh] = entities.add("mailbox", new_mailboxes(
        rng, p["first"].to_numpy()[fresh], p["last"].to_numpy()[fresh],
        p["country"].to_numpy()[fresh]))
    variant = np.where(rng.random(n) < 0.1, 4, 0)
    variant = np.where(mailbox_gmail & (rng.random(n) < 0.05), 2, variant)
    # each extra account of one person spells the mailbox differently
    spellings = np.array([1, 2, 3, 5, 6])
    offset = rng.integers(0, 5, size=len(persons))[person]
    variant = np.where(same_mailbox, spellings[(ordinal - 1 + offset) % 5], variant)

    phone = np.where(extra & ~tie_phone, -1, p["phone"].to_numpy())
    # a person with several accounts keeps their own card and device on the first one
    multi = counts[person] > 1
    device = np.where(multi | (rng.random(n) < 0.9), p["device"].to_numpy(), -1)
    new_device = extra & ~tie_device & (rng.random(n) < 0.8)
    device = np.where(extra & ~tie_device, -1, device)
    device[new_device] = entities.add("device", new_devices(rng, int(new_device.sum())))
    device = np.where(extra & tie_device, p["device"].to_numpy(), device)
    tablet = hh["tablet"].to_numpy()
    device = np.where((tablet >= 0) & ~multi & (rng.random(n) < 0.15), tablet, device)

    card = np.where(multi | (rng.random(n) < 0.85), p["card"].to_numpy(), -1)
    card = np.where(extra & tie_card, p["card"].to_numpy(), np.where(extra, -1, card))
    new_card = extra & ~tie_card & (rng.random(n) < 0.5)
    card[new_card] = entities.add("card", new_cards(
        rng, p["country"].to_numpy()[new_card], p["first"].to_numpy()[new_card],
        p["last"].to_numpy()[new_card]))
    family_card = np.where(rng.random(n) < 0.6, hh["card"].to_numpy(), -1)

    home = np.where(rng.random(n) < 0.95, household, -1)
    office = np.where(rng.random(n) < 0.4, p["office"].to_numpy(), -1)
    country = p["country"].to_numpy()
    pickup = np.where((rng.random(n) < 0.05) | (home < 0), pick_in_country(rng, country, pickups),
                      -1)
    return pd.DataFrame({
        "person": person, "kind": np.where(extra, 1, 0), "created": created, "until": until,
        "country": country, "household": household,
        "mailbox": mailbox, "email_variant": variant,
        "email_tag": rng.integers(0, len(vocab.PLUS_TAGS), size=n),
        "phone": phone, "phone_tpl": phone_templates(rng, n),
        "first": p["first"].to_numpy(), "last": p["last"].to_numpy(),
        "name_variant": name_variants(rng, n),
        "device": device, "tablet": tablet, "card": card, "family_card": family_card,
        "wallet": rng.random(n) < 0.08, "home": home, "office": office, "pickup": pickup,
        "profile": 0,
        "email_junk": ~multi & (rng.random(n) < 0.003),
        "phone_junk": ~multi & (rng.random(n) < 0.004),
        "device_junk": np.where(multi, 0, rng.choice(3, size=n, p=[0.994, 0.003, 0.003])),
    })


def phone_templates(rng: np.random.Generator, n: int) -> np.ndarray:
    """Which of a country's phone formats each account uses (E.164 a third of the time)."""
    n_templates = len(vocab.PHONE_TEMPLATES[0])
    weights = np.array([0.3] + [0.7 / (n_templates - 1)] * (n_templates - 1))
    return rng.choice(n_templates, size=n, p=weights)


def name_variants(rng: np.random.Generator, n: int) -> np.ndarray:
    """How a full name is written: as is, upper, lower, surname first, initial, extra spaces."""
    return rng.choice(6, size=n, p=[0.70, 0.06, 0.08, 0.06, 0.05, 0.05])


def pick_in_country(rng: np.random.Generator, country: np.ndarray, pool: pd.DataFrame
                    ) -> np.ndarray:
    """A uniformly chosen row of ``pool`` (which has a ``country`` column) in each row's country."""
    out = np.full(len(country), -1, dtype=np.int64)
    pool_country = pool["country"].to_numpy()
    for x in range(N_COUNTRIES):
        rows = np.flatnonzero(pool_country == x)
        mask = country == x
        if rows.size and mask.any():
            out[mask] = rows[rng.integers(0, rows.size, size=int(mask.sum()))]
    return out
