"""The world's accounts, addresses, payments, logins and orders as column specs.

A table is a dict of column specs plus each row's ``night`` (1 or 2) and
``time``; ``night.py`` picks a night's rows, shuffles them and only then turns
codes into strings. Specs: ``("str", pa.Array)``, ``("code", codes, pool)``
(code -1 is empty), ``("time", seconds)``, ``("num", array)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph.synth import render, vocab
from linkgraph.synth.build import World
from linkgraph.synth.mailbox import FIRST, LAST, mailbox_locals
from linkgraph.synth.world import DOMAINS, GMAIL, YEAR

Table = dict[str, Any]
COUNTRY_CODES = np.array(vocab.COUNTRIES, dtype=object)
TAGS = np.array(list(vocab.PLUS_TAGS) + [str(i) for i in range(1, 80)], dtype=object)
JUNK_DEVICES = ("00000000-0000-0000-0000-000000000000", "unknown")


def _obj(values: np.ndarray) -> pa.Array:
    return pa.array(values, type=pa.string())


def full_names(first: np.ndarray, last: np.ndarray, variant: np.ndarray) -> np.ndarray:
    """``Anna Petrova``, ``ANNA PETROVA``, ``anna petrova``, ``Petrova Anna``, ``A. Petrova``..."""
    f, s = FIRST[first], LAST[last]
    plain = f + " " + s
    initial = pc.utf8_slice_codeunits(_obj(f), 0, 1).to_numpy(zero_copy_only=False)
    return render.choose(variant, [plain, render.upper(plain), render.lower(plain), s + " " + f,
                                   initial + ". " + s, f + "  " + s + " "])


def emails(world: World) -> np.ndarray:
    """Each account's email: its mailbox, spelt by its variant (dots, +tag, googlemail, case)."""
    acc = world.accounts
    mb = world.mailboxes.iloc[acc["mailbox"].to_numpy()]
    local, toggled = mailbox_locals(mb)
    domain = DOMAINS[mb["domain"].to_numpy()]
    variant = acc["email_variant"].to_numpy()
    tag = "+" + TAGS[acc["email_tag"].to_numpy()]
    gmail = np.isin(mb["domain"].to_numpy(), list(GMAIL))
    variant = np.where(gmail, variant, np.where(variant == 4, 4, 0))
    title = render.capitalize(local)
    email = render.choose(variant, [
        local + "@" + domain, toggled + "@" + domain, local + tag + "@" + domain,
        local + "@googlemail.com", title + "@" + domain, toggled + "@googlemail.com",
        title + tag + "@" + domain,
    ])
    return np.where(acc["email_junk"].to_numpy(), "test@test.com", email).astype(object)


def phones(world: World) -> np.ndarray:
    """Each account's phone in one of its country's formats; junk ``0000000000``; None if none."""
    acc = world.accounts
    number, tpl = acc["phone"].to_numpy(), acc["phone_tpl"].to_numpy()
    country = acc["country"].to_numpy()
    out = np.full(len(acc), None, dtype=object)
    digits = render.decimal_digits(np.maximum(number, 0), 10)
    for x, templates in enumerate(vocab.PHONE_TEMPLATES):
        for k, template in enumerate(templates):
            mask = (number >= 0) & (country == x) & (tpl == k)
            if mask.any():
                out[mask] = render.fill_template(template, digits[mask])
    return np.where(acc["phone_junk"].to_numpy(), "0000000000", out)


def ip_pool(world: World) -> tuple[list[pa.Array], dict[str, int]]:
    """Every IPv4 string once: homes, their later addresses, offices, NAT, Wi-Fi, VPN exits."""
    parts = {"home": world.households["ip"], "alt": world.households["ip_alt"],
             "office": world.offices["ip"], "nat": world.nat["ip"], "wifi": world.wifi["ip"],
             "vpn": world.vpn["ip"]}
    offsets, arrays, at = {}, [], 0
    for name, values in parts.items():
        offsets[name] = at
        arrays.append(render.ipv4(values.to_numpy()))
        at += len(values)
    offsets["v6"] = at
    return arrays, offsets


def _pick(rng: np.random.Generator, keys: np.ndarray, pool_keys: np.ndarray) -> np.ndarray:
    """A uniform row of a pool with the same key (country) as each row; -1 when none."""
    out = np.full(len(keys), -1, dtype=np.int64)
    for x in np.unique(pool_keys):
        rows = np.flatnonzero(pool_keys == x)
        mask = keys == x
        out[mask] = rows[rng.integers(0, rows.size, size=int(mask.sum()))]
    return out


#: login IP kinds and their probabilities per account profile (honest, naive farm, evasive farm)
IP_KINDS = ("home", "home6", "mobile", "office", "wifi", "vpn")
IP_KIND_P = np.array([[0.45, 0.15, 0.25, 0.07, 0.05, 0.03],
                      [0.60, 0.00, 0.40, 0.00, 0.00, 0.00],
                      [0.00, 0.00, 0.50, 0.00, 0.05, 0.45]])


def logins(world: World, rng: np.random.Generator) -> tuple[Table, np.ndarray, pa.Array]:
    """Sign-ins, the first at account creation.

    Returns the table, each account's first IP (a code into the pool) and the IP pool.
    """
    acc = world.accounts
    n_acc = len(acc)
    created, until = acc["created"].to_numpy(), acc["until"].to_numpy()
    profile = acc["profile"].to_numpy()
    years = (until - created) / YEAR
    extra = np.minimum(rng.poisson(1.0 + 1.2 * years), 60)
    extra = np.where(profile > 0, rng.integers(0, 3, size=n_acc), extra)
    # movers sign in from their partner's home on the next night
    movers = world.movers
    mover_acc = _newest_account(acc, movers["person"].to_numpy())
    counts = 1 + extra
    account = np.repeat(np.arange(n_acc), counts)
    first = np.cumsum(counts) - counts
    n = account.size
    when = created[account] + (rng.random(n) * (until - created)[account]).astype(np.int64)
    when[first] = created
    kind = _ip_kinds(rng, profile[account])
    person = world.persons.iloc[acc["person"].to_numpy()]
    household = acc["household"].to_numpy()
    hh = world.households
    v6 = hh["v6"].to_numpy()[household][account]
    office = person["office"].to_numpy()[account]
    vpn_user = person["vpn"].to_numpy()[account] | (profile[account] > 0)
    kind = np.where((kind == 1) & (v6 == 0), 0, kind)
    kind = np.where((kind == 3) & (office < 0), 2, kind)
    kind = np.where((kind == 5) & ~vpn_user, 0, kind)
    country = acc["country"].to_numpy()[account]

    arrays, off = ip_pool(world)
    switch = hh["ip_switch"].to_numpy()[household][account]
    code = np.where(when < switch, off["home"], off["alt"]) + household[account]
    code = np.where(kind == 2, off["nat"] + _pick(rng, country, world.nat["country"].to_numpy()),
                    code)
    code = np.where(kind == 3, off["office"] + np.maximum(office, 0), code)
    code = np.where(kind == 4, off["wifi"] + _pick(rng, country, world.wifi["country"].to_numpy()),
                    code)
    code = np.where(kind == 5, off["vpn"] + rng.integers(0, len(world.vpn), size=n), code)
    six = np.flatnonzero(kind == 1)
    code[six] = off["v6"] + np.arange(six.size)
    arrays.append(render.ipv6(v6[six], rng.integers(0, np.iinfo(np.int64).max, size=six.size)))

    # the movers' first nights at the partner's
    m_acc = np.repeat(mover_acc, 2)
    m_when = np.repeat(movers["moved_at"].to_numpy(), 2) + rng.integers(0, 3 * 3600, m_acc.size)
    m_code = off["home"] + np.repeat(movers["to_household"].to_numpy(), 2)
    account = np.concatenate([account, m_acc])
    when = np.concatenate([when, m_when])
    code = np.concatenate([code, m_code])

    device = _login_devices(rng, world, account)
    pool = pa.concat_arrays([a.cast(pa.string()) for a in arrays])
    table = {
        "account_id": ("code", account, "account"), "ip": ("code", code, pool),
        "device_id": ("code", device, "device"), "seen_at": ("time", when),
    }
    return {"columns": table, "time": when}, code[first], pool


def _ip_kinds(rng: np.random.Generator, profile: np.ndarray) -> np.ndarray:
    cum = np.cumsum(IP_KIND_P, axis=1)[profile]
    return (rng.random(len(profile))[:, None] > cum).sum(axis=1).clip(0, len(IP_KINDS) - 1)


def _newest_account(accounts: pd.DataFrame, persons: np.ndarray) -> np.ndarray:
    order = accounts.reset_index().groupby("person")["index"].max()
    return order.reindex(persons).to_numpy().astype(np.int64)


def device_codes(world: World) -> np.ndarray:
    """Each account's own device as a code into ``device_pool`` (-1 none)."""
    acc = world.accounts
    device = acc["device"].to_numpy()
    junk = acc["device_junk"].to_numpy()
    return np.where(junk > 0, junk - 1, np.where(device >= 0, device + len(JUNK_DEVICES), -1))


def device_pool(world: World) -> pa.Array:
    """The junk device ids, then every device's UUID."""
    devices = world.devices
    uuids = render.uuids(devices["hi"].to_numpy().astype(np.uint64),
                         devices["lo"].to_numpy().astype(np.uint64))
    return pa.concat_arrays([pa.array(JUNK_DEVICES, pa.string()), uuids])


def _login_devices(rng: np.random.Generator, world: World, account: np.ndarray) -> np.ndarray:
    own = device_codes(world)[account]
    tablet = world.accounts["tablet"].to_numpy()[account]
    on_tablet = (tablet >= 0) & (rng.random(account.size) < 0.3)
    code = np.where(on_tablet, tablet + len(JUNK_DEVICES), own)
    return np.where(rng.random(account.size) < 0.2, -1, code)


def accounts_table(world: World, first_ip: np.ndarray) -> Table:
    """The ``accounts`` input table."""
    acc = world.accounts
    names = full_names(acc["first"].to_numpy(), acc["last"].to_numpy(),
                       acc["name_variant"].to_numpy())
    n = len(acc)
    return {"columns": {
        "account_id": ("code", np.arange(n), "account"), "created_at": ("time", acc["created"]),
        "email": ("str", _obj(emails(world))), "phone": ("str", _obj(phones(world))),
        "full_name": ("str", _obj(names)), "registration_ip": ("code", first_ip, "ip"),
        "device_id": ("code", device_codes(world), "device"),
        "country": ("str", _obj(COUNTRY_CODES[acc["country"].to_numpy()])),
    }, "time": acc["created"].to_numpy()}
