"""Sanctions, moderators' decisions, and what a careful moderator would decide (the truth).

Rules of the truth (DESIGN.md): a blocked account itself gets ``none`` (it is
the source); a blocked person's other accounts get the source's sanction
(``ban`` from banned, ``suspend`` from suspended, the strongest if both);
family members (same household, another person) of a blocked person get
``review``, unless a moderator already ``cleared`` the account and it already
shared a home, device or card with the blocked relative then (sharing that begins
only after the clearing is new evidence: ``review`` again); everyone else ``none``. Warnings, rating revocations and restrictions are not blocks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkgraph import schemas
from linkgraph.cluster import components
from linkgraph.synth import vocab
from linkgraph.synth.build import World
from linkgraph.synth.world import DAY, NOW1, NOW2

_STRENGTH = {"suspended": 1, "banned": 2}
_INHERITED = np.array(["none", "suspend", "ban"], dtype=object)


#: a time after every snapshot (and far from int64 overflow when a delay is added)
_NEVER = np.iinfo(np.int64).max // 2


def home_since(orders: dict, addresses: dict, n_accounts: int) -> np.ndarray:
    """Per account, when it first ordered to a home address (``_NEVER`` if it never did).

    That order is what the data shows of the home (the address rows carry no
    time), so a family link through the home begins there.

    >>> orders = {"columns": {"account_id": ("code", np.array([0, 0, 1]), "account"),
    ...                       "address_id": ("code", np.array([0, 1, 2]), "address")},
    ...           "time": np.array([50, 20, 30])}
    >>> home_since(orders, {"home": np.array([True, False, False])}, 3).tolist()[:1]
    [50]
    """
    account = orders["columns"]["account_id"][1]
    row = orders["columns"]["address_id"][1]
    at_home = row >= 0
    at_home[at_home] = addresses["home"][row[at_home]]
    since = np.full(n_accounts, _NEVER, dtype=np.int64)
    np.minimum.at(since, account[at_home], orders["time"][at_home])
    return since


def first_uses(world: World, logins: dict, orders: dict, payments: dict,
               junk_devices: int, home: np.ndarray) -> pd.DataFrame:
    """Each account's first use of each device, card and home it used: ``account, person,
    key, at`` (keys: ``3 * device``, ``3 * card + 1``, ``3 * household + 2``).

    An account uses its own device from its creation, the devices it signs in on,
    the cards of its orders, and its home from its first order there (``home``:
    :func:`home_since`). ``junk_devices``: how many junk ids precede the devices in
    the login device codes.
    """
    acc = world.accounts
    own = np.where(acc["device_junk"].to_numpy() > 0, -1, acc["device"].to_numpy())
    has_own = own >= 0
    login_account = logins["columns"]["account_id"][1]
    login_device = logins["columns"]["device_id"][1] - junk_devices
    signed_in = login_device >= 0
    buyer = orders["columns"]["account_id"][1]
    row = orders["columns"]["payment_id"][1]
    card = np.full(len(row), -1, dtype=np.int64)
    card[row >= 0] = payments["card"][row[row >= 0]]
    paid = card >= 0
    at_home = np.flatnonzero(home < _NEVER)
    household = world.persons["household"].to_numpy()[acc["person"].to_numpy()]
    uses = pd.DataFrame({
        "account": np.concatenate([np.flatnonzero(has_own), login_account[signed_in],
                                   buyer[paid], at_home]),
        "key": np.concatenate([3 * own[has_own], 3 * login_device[signed_in],
                               3 * card[paid] + 1, 3 * household[at_home] + 2]),
        "at": np.concatenate([acc["created"].to_numpy()[has_own], logins["time"][signed_in],
                              orders["time"][paid], home[at_home]]),
    })
    first = uses.groupby(["account", "key"])["at"].min().reset_index()
    first.insert(1, "person", acc["person"].to_numpy()[first["account"].to_numpy()])
    return first


def shared_since(uses: pd.DataFrame, household: np.ndarray, blocked: np.ndarray,
                 n_accounts: int) -> np.ndarray:
    """Per account, when it first shared a device, card or home with a blocked person of
    its household (``_NEVER`` if it never did).

    Each counts from the later of the account's own first use and the blocked
    relative's: the home, the family tablet and card, and also a blocked relative
    signing in on the account's own phone. A moderator's clearing saw the family
    link that had begun before it (issue 6 rule 5).

    Args:
        uses: :func:`first_uses`.
        household: per person, their household that night.
        blocked: per person, True when one of their accounts is blocked that night.
        n_accounts: accounts in the world.
    """
    since = np.full(n_accounts, _NEVER, dtype=np.int64)
    person = uses["person"].to_numpy()
    uses = uses.assign(household=household[person])
    # per (household, key): each blocked person's first use, then the earliest two
    by_person = (uses[blocked[person]].groupby(["household", "key", "person"])["at"].min()
                 .reset_index().sort_values(["household", "key", "at", "person"],
                                            kind="stable"))
    if by_person.empty:
        return since
    rank = by_person.groupby(["household", "key"], sort=False).cumcount().to_numpy()
    earliest = by_person[rank == 0].set_index(["household", "key"])
    second = by_person[rank == 1].set_index(["household", "key"])["at"]
    place = pd.MultiIndex.from_frame(uses[["household", "key"]])
    first_person = earliest["person"].reindex(place).to_numpy()
    first_at = earliest["at"].reindex(place).fillna(_NEVER).to_numpy(dtype=np.int64)
    second_at = second.reindex(place).fillna(_NEVER).to_numpy(dtype=np.int64)
    other = np.where(first_person == person, second_at, first_at)
    np.minimum.at(since, uses["account"].to_numpy(), np.maximum(uses["at"].to_numpy(), other))
    return since


def moderation(world: World, rng: np.random.Generator, home_since: np.ndarray
               ) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Sanctions and decisions over both nights, and which persons are violators.

    ``home_since``: per account, its first order to its home (:func:`home_since`).

    Returns ``sanctions`` (account, action, reason, time), ``decisions``
    (account, decision, time) and a boolean per person: banned for their own misdeeds.
    """
    acc = world.accounts
    persons = world.persons
    n_acc = len(acc)
    person = acc["person"].to_numpy()
    created = acc["created"].to_numpy()
    kind = acc["kind"].to_numpy()
    night = acc["night"].to_numpy()
    parts = []

    # farmers: half are caught on the first night, a few more on the next
    farm = np.flatnonzero(kind == 2)
    farmers = np.unique(person[farm])
    caught1 = np.sort(rng.permutation(farmers)[: (farmers.size + 1) // 2])
    rest = np.setdiff1d(farmers, caught1)
    caught2 = rest[rng.random(rest.size) < 0.15] if rest.size else rest
    if rest.size and caught2.size == 0:
        caught2 = rest[:1]
    order = rng.permutation(farm)
    for caught, late in ((caught1, False), (caught2, True)):
        pool = order[np.isin(person[order], caught) & ((night[order] == 1) | late)]
        if pool.size == 0:
            continue
        rank = _rank_within(person[pool])
        limit = 1 if late else 3
        src = pool[rank < np.minimum(limit, 1 + rng.integers(0, 3, size=pool.size))]
        action = np.where(rng.random(farmers.size) < 0.7, "banned", "suspended")
        action = action[np.searchsorted(farmers, person[src])]
        parts.append(_rows(src, action, _reasons(rng, "farm", src.size),
                           _when(rng, created[src], late)))

    # honest people banned for their own misdeeds; their families are innocent
    size = world.households["size"].to_numpy()[persons["household"].to_numpy()]
    honest_person = (persons["farmer"].to_numpy() == 0) & (persons["night"].to_numpy() == 1)
    candidates = np.flatnonzero(honest_person & (size >= 2))
    n_viol = min(candidates.size, max(2, round(0.002 * len(persons))))
    violators = rng.choice(candidates, size=n_viol, replace=False) if n_viol else candidates
    violator = np.zeros(len(persons), dtype=bool)
    violator[violators] = True
    newest = pd.Series(np.arange(n_acc)).groupby(person).max()
    src = newest.reindex(violators).to_numpy().astype(np.int64)
    next_night = np.arange(src.size) < (max(1, src.size // 10) if src.size > 1 else 0)
    action = np.where(rng.random(src.size) < 0.7, "banned", "suspended")
    blocked_at = np.where(next_night, NOW1 + rng.integers(3600, DAY - 3600, src.size),
                          _when(rng, created[src], False))
    parts.append(_rows(src, action, _reasons(rng, "violator", src.size), blocked_at))

    blocks = pd.concat(parts, ignore_index=True)
    # minor sanctions: warnings, rating revocations, restrictions (not blocks)
    minor = []
    for minor_action, share in (("warning", 0.01), ("rating_revoked", 0.003),
                                ("restricted", 0.002)):
        who = np.flatnonzero((rng.random(n_acc) < share) & (night == 1))
        minor.append(_rows(who, np.full(who.size, minor_action), _reasons(rng, "minor", who.size),
                           _when(rng, created[who], False)))
    warned = blocks.loc[rng.random(len(blocks)) < 0.3]
    minor.append(_rows(warned["account"].to_numpy(), np.full(len(warned), "warning"),
                       _reasons(rng, "minor", len(warned)),
                       (created[warned["account"].to_numpy()] + warned["time"].to_numpy()) // 2))
    sanctions = pd.concat([blocks, *minor], ignore_index=True)
    return sanctions, _decisions(rng, world, blocks, home_since), violator


def _decisions(rng: np.random.Generator, world: World, blocks: pd.DataFrame,
               home_since: np.ndarray) -> pd.DataFrame:
    """``confirmed`` on some blocked accounts; ``cleared`` on some family members' accounts."""
    acc = world.accounts
    person = acc["person"].to_numpy()
    household = world.persons["household"].to_numpy()[person]
    src = blocks["account"].to_numpy()
    confirm = rng.random(src.size) < 0.5
    confirmed = _rows(src[confirm], np.full(int(confirm.sum()), "confirmed"), None,
                      np.minimum(blocks["time"].to_numpy()[confirm] + rng.integers(
                          3600, 10 * DAY, int(confirm.sum())), NOW2 - 60))
    first_block = blocks.assign(hh=household[src], person=person[src]).groupby("hh").agg(
        time=("time", "min"), person=("person", "first"))
    in_family = np.isin(household, first_block.index) & (acc["night"].to_numpy() == 1)
    family = np.flatnonzero(in_family)
    blocked_at = first_block["time"].reindex(household[family]).to_numpy()
    other_person = first_block["person"].reindex(household[family]).to_numpy() != person[family]
    # a moderator clears a family member once the links show it: both it and the blocked
    # person have ordered to the home by then (an evasive farmer's accounts ship elsewhere)
    created = acc["created"].to_numpy()
    blocked_person = first_block["person"].reindex(household[family]).to_numpy()
    person_home = pd.Series(home_since).groupby(person).min()
    shown_at = np.maximum(home_since[family], person_home.reindex(blocked_person).to_numpy())
    chance = rng.random(family.size) < 0.3
    cleared_at = np.maximum(blocked_at, shown_at) + rng.integers(DAY, 30 * DAY, family.size)
    pick = other_person & chance & (created[family] < blocked_at) & (cleared_at < NOW2 - 60)
    cleared = _rows(family[pick], np.full(int(pick.sum()), schemas.CLEARED), None,
                    cleared_at[pick])
    # dated the day before the first night: only accounts that exist by then
    escalate = np.flatnonzero((rng.random(len(acc)) < 0.0005) & (acc["night"].to_numpy() == 1))
    escalated = _rows(escalate, np.full(escalate.size, "escalated"), None,
                      np.full(escalate.size, NOW1 - DAY))
    decisions = pd.concat([confirmed, cleared, escalated], ignore_index=True)
    return decisions.rename(columns={"action": "decision"}).drop(columns="reason")


def truth_table(world: World, sanctions: pd.DataFrame, decisions: pd.DataFrame,
                violator: np.ndarray, night: int, uses: pd.DataFrame | None = None
                ) -> pd.DataFrame:
    """The truth for one night: one row per account that exists then, sorted by account.

    ``uses``: each account's first use of each device and card (:func:`first_uses`). A
    cleared family member who first shared one (or a home) with a blocked relative only after the
    clearing may get a ``review``: new evidence after a moderator's decision (issue 6).

    Columns ``schemas.TRUTH_COLUMNS`` plus ``is_farmer, farmer_style, account_kind,
    blocked, cleared, moved`` (see data/sample/README.md). ``account`` holds the position.
    """
    now = NOW1 if night == 1 else NOW2
    acc = world.accounts
    exists = np.flatnonzero(acc["night"].to_numpy() <= night)
    person = acc["person"].to_numpy()[exists]
    persons = world.persons
    household = persons["household"].to_numpy().copy()
    moved = np.zeros(len(persons), dtype=bool)
    if night == 2:
        movers = world.movers
        household[movers["person"].to_numpy()] = movers["to_household"].to_numpy()
        moved[movers["person"].to_numpy()] = True
    hh = household[person]

    s = sanctions.loc[(sanctions["time"] <= now) & sanctions["action"].isin(list(_STRENGTH))]
    strength = np.zeros(len(acc), dtype=np.int64)
    np.maximum.at(strength, s["account"].to_numpy(), s["action"].map(_STRENGTH).to_numpy())
    own = strength[exists]
    person_strength = pd.Series(own).groupby(person).max()
    inherited = person_strength.reindex(person).to_numpy()
    blocked_persons = pd.DataFrame({"hh": hh, "person": person})[own > 0].drop_duplicates()
    blocked_per_hh = blocked_persons.groupby("hh").size()
    n_blocked_in_hh = blocked_per_hh.reindex(hh).fillna(0).to_numpy()
    family_of_blocked = n_blocked_in_hh - (inherited > 0) > 0
    # cleared: the account's latest decision by then (an escalation reopens a clearing)
    d = decisions.loc[decisions["time"] <= now].sort_values(["account", "time"], kind="stable")
    latest = d.drop_duplicates("account", keep="last")
    cleared_rows = latest.loc[latest["decision"] == schemas.CLEARED]
    cleared = np.isin(exists, cleared_rows["account"].to_numpy())
    renewed = np.zeros(len(exists), dtype=bool)
    if uses is not None:
        blocked = np.zeros(len(persons), dtype=bool)
        blocked[person[own > 0]] = True
        shared = shared_since(uses, household, blocked, len(acc))
        cleared_at = np.full(len(acc), _NEVER, dtype=np.int64)
        cleared_at[cleared_rows["account"].to_numpy()] = cleared_rows["time"].to_numpy()
        first_shared = shared[exists]
        renewed = cleared & (first_shared > cleared_at[exists]) & (first_shared <= now)

    expected = np.where(own > 0, "none", _INHERITED[inherited])
    expected = np.where((own == 0) & (inherited == 0) & family_of_blocked
                        & (~cleared | renewed), "review", expected)
    style = persons["farmer"].to_numpy()[person]
    role = np.where(style > 0, "farmer", np.where(violator[person], "violator", "honest"))
    return pd.DataFrame({
        "account": exists,
        schemas.PERSON_ID: person, schemas.HOUSEHOLD_ID: hh, schemas.ROLE: role,
        schemas.EXPECTED_ACTION: expected, "is_farmer": style > 0,
        "farmer_style": np.array(["", "naive", "evasive"], dtype=object)[style],
        "account_kind": np.array(["main", "extra", "farm"], dtype=object)[
            acc["kind"].to_numpy()[exists]],
        "blocked": np.array(["", "suspended", "banned"], dtype=object)[own],
        "cleared": cleared, "moved": moved[person],
        schemas.LINK_GROUP: link_groups(acc, exists),
    })


#: the person-level identifiers an account holds, and the flag that replaces it with junk
_PERSON_ENTITIES = (("mailbox", "email_junk"), ("phone", "phone_junk"),
                    ("device", "device_junk"), ("card", None))


def link_groups(acc: pd.DataFrame, exists: np.ndarray) -> np.ndarray:
    """Per account of ``exists``, the first account of its person's link group.

    Two accounts of one person are in one group when a chain of the person's
    own accounts joins them, each step sharing a mailbox, a phone number, an
    own device or a card, however each account wrote it down (the generator
    knows the entity behind the spelling). Junk values, family cards and
    tablets, home addresses, pickup points and IPs do not join: they are a
    family's or strangers' too. This is the truth of what normalisation and
    corroboration can link at best.

    >>> acc = pd.DataFrame({"person": [0, 0, 0, 1], "mailbox": [5, 5, 6, 5],
    ...     "email_junk": False, "phone": -1, "phone_junk": False,
    ...     "device": -1, "device_junk": 0, "card": [-1, -1, 9, 9]})
    >>> link_groups(acc, np.arange(4)).tolist()
    [0, 0, 2, 3]
    """
    person = acc["person"].to_numpy()[exists]
    n = exists.size
    rows, keys = [], []
    for kind, (column, junk) in enumerate(_PERSON_ENTITIES):
        entity = acc[column].to_numpy()[exists]
        held = entity >= 0
        if junk is not None:
            held &= ~acc[junk].to_numpy()[exists].astype(bool)
        at = np.flatnonzero(held)
        rows.append(at)
        # entities number fewer than 2**32, persons fewer than 2**29
        keys.append(((person[at].astype(np.int64) * 4 + kind) << 32) | entity[at])
    row = np.concatenate(rows)
    _, group = np.unique(np.concatenate(keys), return_inverse=True)
    # a star per (person, kind, entity): each holder to the entity's node
    label = components(n + int(group.max(initial=-1)) + 1, row, n + group)[:n]
    # labels follow each component's smallest node, here always an account: its first
    first = np.unique(label, return_index=True)[1]
    return exists[first[label]]


def _rank_within(group: np.ndarray) -> np.ndarray:
    order = np.argsort(group, kind="stable")
    g = group[order]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    counts = np.diff(np.r_[starts, g.size])
    rank = np.empty(group.size, dtype=np.int64)
    rank[order] = np.arange(g.size) - np.repeat(starts, counts)
    return rank


def _reasons(rng: np.random.Generator, kind: str, n: int) -> np.ndarray:
    options = np.array(vocab.SANCTION_REASONS[kind], dtype=object)
    return options[rng.integers(0, options.size, size=n)]


def _when(rng: np.random.Generator, created: np.ndarray, late: bool) -> np.ndarray:
    """A sanction's time: within 60 days of the account's creation, before the snapshot."""
    if late:
        return np.maximum(NOW1 + rng.integers(3600, DAY - 3600, created.size), created + 1800)
    return np.minimum(created + rng.integers(DAY, 60 * DAY, created.size),
                      np.maximum(NOW1 - 600, created + 60))


def _rows(account: np.ndarray, action: np.ndarray, reason: np.ndarray | None,
          when: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({"account": account, "action": action,
                         "reason": reason if reason is not None else None, "time": when})
