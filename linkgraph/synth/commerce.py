"""Delivery addresses, payment methods and orders of every account."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from linkgraph.synth import render, vocab
from linkgraph.synth.build import World
from linkgraph.synth.places import (
    CITY_NAMES,
    REGIONS,
    home_addresses,
    postal_codes,
    street_lines,
)
from linkgraph.synth.tables import COUNTRY_CODES, Table, _obj, full_names
from linkgraph.synth.world import DAY, NOW1, RECYCLE_BEFORE, YEAR, name_variants

_COMPANY_FORMS = (" Inc.", " OOO", " GmbH", " Ltd")
_PICKUP_LINES = np.array([p for c in vocab.PICKUP_POINTS for p in c], dtype=object)


def addresses(world: World, rng: np.random.Generator, *, first_id: int = 0) -> Table:
    """Home, office and pickup-point addresses of each account; movers' new homes next night.

    ``first_id``: the number of the first ``address_id`` (a shard's ids follow the earlier shards').
    """
    acc = world.accounts
    movers = world.movers
    newest = acc.reset_index().groupby("person")["index"].max()
    mover_acc = newest.reindex(movers["person"].to_numpy()).to_numpy().astype(np.int64)
    parts = []
    for kind, column in ((0, "home"), (1, "office"), (2, "pickup")):
        rows = np.flatnonzero(acc[column].to_numpy() >= 0)
        parts.append(pd.DataFrame({"account": rows, "kind": kind,
                                   "place": acc[column].to_numpy()[rows],
                                   "time": acc["created"].to_numpy()[rows]}))
    parts.append(pd.DataFrame({"account": mover_acc, "kind": 3,
                               "place": movers["to_household"].to_numpy(),
                               "time": movers["moved_at"].to_numpy()}))
    rows = pd.concat(parts, ignore_index=True).sort_values(["account", "kind", "time"],
                                                           kind="stable", ignore_index=True)
    n = len(rows)
    kind, place = rows["kind"].to_numpy(), rows["place"].to_numpy()
    account = rows["account"].to_numpy()
    lines = {k: np.full(n, None, dtype=object) for k in
             ("line1", "line2", "city", "region", "postal_code")}
    country = np.zeros(n, dtype=np.int64)

    home = np.flatnonzero((kind == 0) | (kind == 3))
    hh = world.households.iloc[place[home]]
    country[home] = hh["country"].to_numpy()
    rendered = home_addresses(rng, *(hh[c].to_numpy() for c in (
        "country", "street", "stype", "no", "apt", "city", "postal")))
    for key, value in rendered.items():
        lines[key][home] = value

    office = np.flatnonzero(kind == 1)
    of = world.offices.iloc[place[office]]
    oc = of["country"].to_numpy()
    country[office] = oc
    lines["line1"][office] = street_lines(oc, of["street"].to_numpy(), of["no"].to_numpy() % 4,
                                          of["no"].to_numpy(), rng.integers(0, 3, office.size))
    company = np.array(vocab.COMPANIES, dtype=object)[of["company"].to_numpy()]
    lines["line2"][office] = (company + np.array(_COMPANY_FORMS, dtype=object)[oc] + ", floor "
                              + render.NUMBERS[of["floor"].to_numpy()])
    lines["city"][office] = CITY_NAMES[of["city"].to_numpy()]
    lines["region"][office] = REGIONS[of["city"].to_numpy()]
    lines["postal_code"][office] = postal_codes(oc, of["city"].to_numpy(),
                                                of["no"].to_numpy() % 1000,
                                                np.zeros(office.size, dtype=bool))

    pickup = np.flatnonzero(kind == 2)
    pk = world.pickups.iloc[place[pickup]]
    pcn = pk["country"].to_numpy()
    country[pickup] = pcn
    pattern = _PICKUP_LINES[pcn * 2 + pk["brand"].to_numpy()]
    number = render.NUMBERS[pk["number"].to_numpy()]
    lines["line1"][pickup] = _fill_number(pattern, number)
    lines["line2"][pickup] = street_lines(pcn, pk["street"].to_numpy(), pk["no"].to_numpy() % 4,
                                          pk["no"].to_numpy(), np.zeros(pickup.size, np.int64))
    lines["city"][pickup] = CITY_NAMES[pk["city"].to_numpy()]
    lines["region"][pickup] = REGIONS[pk["city"].to_numpy()]
    lines["postal_code"][pickup] = postal_codes(pcn, pk["city"].to_numpy(), pk["no"].to_numpy(),
                                                np.ones(pickup.size, dtype=bool))

    names = full_names(acc["first"].to_numpy()[account], acc["last"].to_numpy()[account],
                       name_variants(rng, n))
    night = np.where(rows["time"].to_numpy() > NOW1, 2, 1)
    columns = {"account_id": ("code", account, "account"),
               "address_id": ("str", render.ids("ad", first_id + np.arange(n), 9)),
               "recipient_name": ("str", _obj(names))}
    columns.update({k: ("str", _obj(v)) for k, v in lines.items()})
    columns["country"] = ("str", _obj(COUNTRY_CODES[country]))
    return {"columns": columns, "time": rows["time"].to_numpy(), "night": night,
            "account": account, "eligible": kind != 3, "home": (kind == 0) | (kind == 3)}


def _fill_number(pattern: np.ndarray, number: np.ndarray) -> np.ndarray:
    out = np.empty(len(pattern), dtype=object)
    for p in np.unique(pattern):
        mask = pattern == p
        head, _, tail = p.partition("{n}")
        out[mask] = head + number[mask] + tail
    return out


def payments(world: World, rng: np.random.Generator, *, first_id: int = 0,
             first_person: int = 0) -> Table:
    """Cards (own, family, a farmer's), with a provider fingerprint or only BIN/last4/expiry; wallets.

    ``first_id``: the number of the first ``payment_id``; ``first_person``: the
    marketplace-wide number of the world's first person (a wallet token is the person's).
    """
    acc = world.accounts
    parts = []
    for column in ("card", "family_card"):
        values = acc[column].to_numpy()
        rows = np.flatnonzero((values >= 0) & ((column == "card")
                                               | (values != acc["card"].to_numpy())))
        parts.append(pd.DataFrame({"account": rows, "card": values[rows]}))
    wallet = np.flatnonzero(acc["wallet"].to_numpy())
    parts.append(pd.DataFrame({"account": wallet, "card": -1}))
    rows = pd.concat(parts, ignore_index=True).sort_values(["account", "card"], kind="stable",
                                                           ignore_index=True)
    n = len(rows)
    account, card = rows["account"].to_numpy(), rows["card"].to_numpy()
    is_card = card >= 0
    cards = world.cards.iloc[np.maximum(card, 0)]
    created = acc["created"].to_numpy()[account]
    no_fp = rng.random(n) < np.where(created < RECYCLE_BEFORE, 0.4, 0.05)
    fp = render.fixed_strings(np.concatenate([
        np.broadcast_to(np.frombuffer(b"fp_", np.uint8), (n, 3)),
        render.hex_digits(cards["fp"].to_numpy().astype(np.uint64), 16)], axis=1))
    person = (first_person + acc["person"].to_numpy()[account]).astype(np.uint64)
    wallet_token = render.fixed_strings(np.concatenate([
        np.broadcast_to(np.frombuffer(b"wl_", np.uint8), (n, 3)),
        render.hex_digits(person * np.uint64(0x9E3779B97F4A7C15), 16)], axis=1))
    fingerprint = pa.array(np.where(is_card, np.where(no_fp, None, fp.to_numpy(
        zero_copy_only=False)), wallet_token.to_numpy(zero_copy_only=False)), pa.string())
    expiry = cards["expiry"].to_numpy()
    exp_text = render.fixed_strings(np.concatenate([
        render.decimal_digits(expiry % 12 + 1, 2),
        np.broadcast_to(np.frombuffer(b"/", np.uint8), (n, 1)),
        render.decimal_digits(expiry // 12 % 100, 2)], axis=1)).to_numpy(zero_copy_only=False)
    holder = full_names(cards["holder_first"].to_numpy(), cards["holder_last"].to_numpy(),
                        rng.choice([0, 1], size=n, p=[0.4, 0.6]))
    wallet_holder = full_names(acc["first"].to_numpy()[account], acc["last"].to_numpy()[account],
                               np.zeros(n, np.int64))
    bin_text = render.decimal_digits(cards["bin"].to_numpy(), 6)
    last4 = render.decimal_digits(cards["last4"].to_numpy(), 4)
    columns = {
        "account_id": ("code", account, "account"),
        "payment_id": ("str", render.ids("pm", first_id + np.arange(n), 9)),
        "method": ("str", _obj(np.where(is_card, "card", "wallet").astype(object))),
        "fingerprint": ("str", fingerprint),
        "card_bin": ("str", _obj(np.where(is_card, render.fixed_strings(bin_text).to_numpy(
            zero_copy_only=False), render.MISSING))),
        "card_last4": ("str", _obj(np.where(is_card, render.fixed_strings(last4).to_numpy(
            zero_copy_only=False), render.MISSING))),
        "card_expiry": ("str", _obj(np.where(is_card, exp_text, render.MISSING))),
        "holder_name": ("str", _obj(np.where(is_card, holder, wallet_holder))),
    }
    return {"columns": columns, "time": created, "account": account, "card": card}


def orders(world: World, rng: np.random.Generator, address_rows: np.ndarray,
           address_eligible: np.ndarray, payment_rows: np.ndarray, *, first_id: int = 0
           ) -> Table:
    """Orders over the years: honest shoppers buy on and off; farm accounts once, just above the minimum.

    ``address_rows`` / ``payment_rows``: the owning account of each address / payment row
    (sorted), so an order points at one of its own account's rows; a mover's new
    address (not ``address_eligible``, last in its account's rows) is not used.
    ``first_id``: the number of the first ``order_id``.
    """
    acc = world.accounts
    n_acc = len(acc)
    created, until = acc["created"].to_numpy(), acc["until"].to_numpy()
    farm = acc["kind"].to_numpy() == 2
    rate = rng.gamma(1.0, 1.2, size=n_acc)
    counts = np.where(farm, 1, np.minimum(rng.poisson(rate * (until - created) / YEAR), 200))
    counts = np.where(~farm & (rng.random(n_acc) < 0.6), np.maximum(counts, 1), counts)
    account = np.repeat(np.arange(n_acc), counts)
    first = (np.cumsum(counts) - counts)[counts > 0]
    n = account.size
    first_at = created + (rng.random(n_acc) * np.minimum(until - created, 30 * DAY)).astype(
        np.int64)
    first_at = np.where(farm, created + np.minimum(rng.integers(600, 2 * DAY, n_acc),
                                                   until - created), first_at)
    when = first_at[account] + (rng.random(n) * (until[account] - first_at[account])).astype(
        np.int64)
    when[first] = first_at[counts > 0]
    country = acc["country"].to_numpy()[account]
    basket = np.array(vocab.BASKET)[country]
    amount = basket * rng.lognormal(0.0, 0.8, size=n)
    minimum = np.array([c[1] for c in vocab.NEW_USER_COUPON])[country]
    discount_new = np.array([c[2] for c in vocab.NEW_USER_COUPON])[country]
    is_first = np.zeros(n, dtype=bool)
    is_first[first] = True
    new_user = is_first & (farm[account] | (rng.random(n) < 0.45))
    amount = np.where(new_user & (amount < minimum), minimum * rng.uniform(1.0, 1.5, n), amount)
    amount = np.where(farm[account], minimum * rng.uniform(1.0, 1.12, n), amount)
    amount = np.round(amount, 2)
    promo = ~new_user & (rng.random(n) < 0.07)
    coupon_code = np.full(n, None, dtype=object)
    coupon_code[new_user] = np.array([c[0] for c in vocab.NEW_USER_COUPON], dtype=object)[
        country[new_user]]
    coupon_code[promo] = np.array(vocab.PROMO_CODES, dtype=object)[
        rng.integers(0, len(vocab.PROMO_CODES), int(promo.sum()))]
    coupon_type = np.where(new_user, "new_user",
                           np.where(promo, "promo", render.MISSING)).astype(object)
    discount = np.where(new_user, discount_new,
                        np.where(promo, np.round(amount * rng.uniform(0.1, 0.2, n), 2), np.nan))
    address = _own_row(rng, account, address_rows, n_acc, address_eligible)
    payment = _own_row(rng, account, payment_rows, n_acc, np.ones(len(payment_rows), bool))
    order_seq = np.empty(n, dtype=np.int64)
    order_seq[np.argsort(when, kind="stable")] = np.arange(n)
    columns = {
        "order_id": ("str", render.ids("o", first_id + order_seq, 10)),
        "account_id": ("code", account, "account"), "created_at": ("time", when),
        "amount": ("num", amount),
        "currency": ("str", _obj(np.array(vocab.CURRENCIES, dtype=object)[country])),
        "coupon_code": ("str", _obj(coupon_code)), "coupon_type": ("str", _obj(coupon_type)),
        "discount": ("num", discount),
        "address_id": ("code", address, "address"), "payment_id": ("code", payment, "payment"),
    }
    return {"columns": columns, "time": when}


def _own_row(rng: np.random.Generator, account: np.ndarray, owner: np.ndarray, n_acc: int,
             eligible: np.ndarray) -> np.ndarray:
    """A random eligible row among the (sorted) rows of each order's account; -1 when none."""
    count = np.bincount(owner, minlength=n_acc)
    start = np.cumsum(count) - count
    c = np.bincount(owner[eligible], minlength=n_acc)[account]
    pick = start[account] + (rng.random(account.size) * c).astype(np.int64)
    return np.where(c > 0, pick, -1)
