"""Coupon farmers: one person, many accounts opened in bursts, one small new-user order each.

Naive farmers reuse their own name, phone, address, card and device (spelt
differently); evasive ones vary names and mailboxes, ship to pickup points,
sign in over mobile and VPN, and are tied together only by one device or
one card (and a different card on some accounts).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkgraph.synth import vocab
from linkgraph.synth.world import (
    DAY,
    FIRST_OFFSET,
    GMAIL,
    LAST_OFFSET,
    NOW1,
    NOW2,
    YEAR,
    Entities,
    in_country,
    name_variants,
    national_phones,
    new_cards,
    new_devices,
    new_mailboxes,
    phone_templates,
    pick_in_country,
)

NAIVE = 1
EVASIVE = 2


def farm_sizes(rng: np.random.Generator, n_accounts: int) -> np.ndarray:
    """How many farm accounts each farmer opens (3-40), about 3% of all accounts in all."""
    if n_accounts < 30:
        return np.zeros(0, dtype=np.int64)
    n_farmers = max(2, round(0.03 * n_accounts / 9.5))
    sizes = np.clip(3 + np.floor(rng.exponential(6.5, size=n_farmers)), 3, 40).astype(np.int64)
    keep = np.cumsum(sizes) <= n_accounts // 3
    keep[:2] = True  # both styles exist even in a tiny world
    return sizes[keep]


def farm_accounts(rng: np.random.Generator, persons: pd.DataFrame, sizes: np.ndarray,
                  entities: Entities, pickups: pd.DataFrame,
                  taken_phones: np.ndarray | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """Choose farmers among night-1 persons and open their farm accounts (both nights).

    ``taken_phones``: numbers other parts of the world hold, which burners avoid too.
    Returns the farm accounts and each person's farmer style (0 for honest people).
    """
    style = np.zeros(len(persons), dtype=np.int64)
    candidates = np.flatnonzero(persons["night"].to_numpy() == 1)
    n_farmers = min(len(sizes), candidates.size)
    if n_farmers == 0:
        return pd.DataFrame(), style
    sizes = sizes[:n_farmers]
    farmer = rng.choice(candidates, size=n_farmers, replace=False)
    farmer_style = np.where(np.arange(n_farmers) % 5 < 2, NAIVE, EVASIVE)
    style[farmer] = farmer_style

    # a few farmers come back the next night with a fresh burst
    again = rng.random(n_farmers) < 0.08
    again[np.argmax(sizes)] = True
    sizes2 = np.where(again, rng.integers(3, 7, size=n_farmers), 0)
    who = np.concatenate([np.repeat(np.arange(n_farmers), sizes),
                          np.repeat(np.arange(n_farmers), sizes2)])
    night = np.concatenate([np.ones(sizes.sum(), np.int64), np.full(sizes2.sum(), 2)])
    seq = _ordinal(who, night)
    n = who.size

    n_bursts = 1 + (sizes > 8) + (sizes > 20)
    starts = np.sort(rng.integers(NOW1 - 3 * YEAR, NOW1 - 3 * DAY, size=(n_farmers, 3)), axis=1)
    burst = np.minimum(seq * n_bursts[who] // sizes[who], n_bursts[who] - 1)
    created = np.where(night == 1,
                       starts[who, np.minimum(burst, 2)] + rng.integers(0, 2 * DAY, size=n),
                       NOW1 + rng.integers(600, DAY - 3 * 3600, size=n))
    created = np.minimum(created, np.where(night == 1, NOW1 - 3600, NOW2 - 3 * 3600))
    until = np.where(night == 1, np.minimum(created + rng.integers(3600, 4 * DAY, size=n),
                                            NOW1 - 1), NOW2)

    p = persons.iloc[farmer[who]]
    country = p["country"].to_numpy()
    evasive = farmer_style[who] == EVASIVE
    naive = ~evasive

    # names: the farmer's own (naive) or made up (evasive)
    first = np.where(evasive, in_country(rng, country, FIRST_OFFSET), p["first"].to_numpy())
    last = np.where(evasive, in_country(rng, country, LAST_OFFSET), p["last"].to_numpy())

    # mailboxes: +tags of the farmer's Gmail, numbered copies of it, or unrelated ones
    mailboxes = entities.table("mailbox")
    base = p["mailbox"].to_numpy()
    gmail_farmer = np.isin(mailboxes["domain"].to_numpy()[base], list(GMAIL))
    tagged = naive & gmail_farmer & (rng.random(n_farmers) < 0.5)[who]
    mailbox = base.copy()
    fresh = ~tagged
    made = new_mailboxes(rng, first[fresh], last[fresh], country[fresh])
    numbered = naive[fresh]
    for column in ("style", "domain"):
        made[column] = np.where(numbered, mailboxes[column].to_numpy()[base[fresh]],
                                made[column].to_numpy())
    made["digits"] = np.where(numbered, seq[fresh] + 1, made["digits"].to_numpy())
    mailbox[fresh] = entities.add("mailbox", made)
    variant = np.where(tagged, np.where(seq % 2 == 0, 2, 6), 0)
    tag = len(vocab.PLUS_TAGS) + seq  # "+1", "+2"...: distinct per account

    # phones: the farmer's own (naive), a burner or none (evasive)
    phone = np.where(naive & (rng.random(n) < 0.7), p["phone"].to_numpy(), -1)
    burner = evasive & (rng.random(n) < 0.3)
    taken = persons["phone"].to_numpy()
    taken = taken[taken >= 0]
    if taken_phones is not None:
        taken = np.concatenate([taken_phones, np.sort(taken)])  # two sorted runs
    phone[burner] = national_phones(rng, country[burner], taken=taken)

    # the tie of an evasive farmer: one device, one card, or both
    fp = persons.iloc[farmer]
    tie = rng.choice(3, size=n_farmers, p=[0.45, 0.35, 0.20])
    own = rng.random(n_farmers) < 0.5
    tie_device = np.where(own, fp["device"].to_numpy(), -1)
    tie_device[~own] = entities.add("device", new_devices(rng, int((~own).sum())))
    own = rng.random(n_farmers) < 0.5
    tie_card = np.where(own, fp["card"].to_numpy(), -1)
    tie_card[~own] = entities.add("card", new_cards(
        rng, fp["country"].to_numpy()[~own], fp["first"].to_numpy()[~own],
        fp["last"].to_numpy()[~own]))

    uses_tie_device = evasive & (tie[who] != 1) & (rng.random(n) < 0.9)
    device = np.where(naive & (rng.random(n) < 0.9), p["device"].to_numpy(), -1)
    device = np.where(uses_tie_device, tie_device[who], device)
    own_new_device = evasive & ~uses_tie_device
    device[own_new_device] = entities.add("device", new_devices(rng, int(own_new_device.sum())))

    uses_tie_card = evasive & (tie[who] != 0) & (rng.random(n) < 0.85)
    card = np.where(naive & (rng.random(n) < 0.9), p["card"].to_numpy(), -1)
    card = np.where(uses_tie_card, tie_card[who], card)
    prepaid = evasive & ~uses_tie_card & ((tie[who] != 0) | (rng.random(n) < 0.6))
    card[prepaid] = entities.add("card", new_cards(rng, country[prepaid], first[prepaid],
                                                   last[prepaid]))

    # evasive farmers ship every account to one or two pickup points
    farmer_country = fp["country"].to_numpy()
    pickup_pair = np.stack([pick_in_country(rng, farmer_country, pickups),
                            pick_in_country(rng, farmer_country, pickups)], axis=1)
    pickup = np.where(evasive, pickup_pair[who, rng.integers(0, 2, size=n)], -1)
    farmer_row = farmer[who]
    accounts = pd.DataFrame({
        "person": farmer_row, "kind": 2, "created": created, "until": until,
        "country": country, "household": p["household"].to_numpy(),
        "mailbox": mailbox, "email_variant": variant, "email_tag": tag,
        "phone": phone, "phone_tpl": phone_templates(rng, n),
        "first": first, "last": last, "name_variant": name_variants(rng, n),
        "device": device, "tablet": -1, "card": card, "family_card": -1, "wallet": False,
        "home": np.where(naive, p["household"].to_numpy(), -1), "office": -1, "pickup": pickup,
        "profile": np.where(naive, 1, 2),
        "email_junk": False, "phone_junk": False, "device_junk": 0,
    })
    return accounts, style


def _ordinal(group: np.ndarray, night: np.ndarray) -> np.ndarray:
    """0, 1, 2... within each group, night-1 rows first (rows are grouped by night then group)."""
    order = np.lexsort((night, group))
    ranks = np.empty(group.size, dtype=np.int64)
    sorted_group = group[order]
    starts = np.flatnonzero(np.r_[True, sorted_group[1:] != sorted_group[:-1]])
    counts = np.diff(np.r_[starts, group.size])
    ranks[order] = np.arange(group.size) - np.repeat(starts, counts)
    return ranks
