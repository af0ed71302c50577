"""Coupon-abuse score: named stories built by hand, and properties."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkgraph.cluster import Clustering
from linkgraph.config import ConfigError, CouponConfig
from linkgraph.errors import InputError
from linkgraph.graph import LinkSet
from linkgraph.load import Tables
from linkgraph.score import Scores, score_clusters

NOW = pd.Timestamp("2026-11-01", tz="UTC")
NONE = pd.DataFrame()


def _inputs(
    accounts: list[tuple[str, str, str, str]],
    orders: list[tuple[str, str, float, str | None]],
    identifiers: list[tuple[str, str, str] | tuple[str, str, str, str]],
    blocked: tuple[str, ...] = (),
    extra_clusters: tuple[str, ...] = (),
) -> tuple[Clustering, LinkSet, Tables]:
    """accounts: (account_id, cluster_id, person_cluster_id, created_at);
    orders: (account_id, created_at, amount, coupon_type);
    identifiers: (account_id, kind, value[, suppressed])."""
    acc = pd.DataFrame(accounts, columns=["account_id", "cluster_id", "person_cluster_id",
                                          "created_at"])
    acc["created_at"] = pd.to_datetime(acc["created_at"], utc=True, format="ISO8601")
    cluster_ids = sorted(set(acc["cluster_id"]) | set(extra_clusters))
    clustering = Clustering(
        accounts=acc[["account_id", "cluster_id", "person_cluster_id"]],
        clusters=pd.DataFrame({"cluster_id": cluster_ids}),
        changes=NONE, alerts=NONE, issued_ids=NONE,
    )
    ords = pd.DataFrame(orders, columns=["account_id", "created_at", "amount", "coupon_type"])
    ords.insert(0, "order_id", [f"o{i}" for i in range(len(ords))])
    ords["created_at"] = pd.to_datetime(ords["created_at"], utc=True, format="ISO8601")
    ords["currency"] = "EUR"
    ords["coupon_code"] = ords["coupon_type"].map({"new_user": "WELCOME10"})
    rows = [(*r, None) if len(r) == 3 else r for r in identifiers]
    inc = pd.DataFrame(rows, columns=["account_id", "kind", "value", "suppressed"])
    inc["masked"] = inc["value"].str[:2] + "***"
    inc["n_accounts"] = inc.groupby(["kind", "value"])["account_id"].transform("size")
    links = LinkSet(incidence=inc, pairs=NONE, pair_tiers=NONE, hubs=NONE, profiles=NONE)
    sanctions = pd.DataFrame({"account_id": list(blocked), "action": ["banned"] * len(blocked)})
    tables = Tables(
        accounts=acc[["account_id", "created_at"]], addresses=NONE, payments=NONE, logins=NONE,
        orders=ords, sanctions=sanctions, decisions=NONE, rejects=NONE,
    )
    return clustering, links, tables


def _score(*args: object, config: CouponConfig | None = None, **kwargs: object) -> Scores:
    clustering, links, tables = _inputs(*args, **kwargs)  # type: ignore[arg-type]
    return score_clusters(clustering, links, tables, config=config or CouponConfig())


def _row(scores: Scores, cluster_id: str) -> pd.Series:
    return scores.clusters.set_index("cluster_id").loc[cluster_id]


# A shopper elsewhere whose recent order marks "now" (the newest order of the data).
BYSTANDER = [("z", "cz", "pz", "2020-01-01")]
BYSTANDER_ORDERS = [("z", "2026-10-31", 80.0, None)]


def family_of_four_each_with_one_coupon() -> tuple[list, list, list]:
    """Parents and two teenagers at one home, each with their own card, phone and
    device, joined years apart, each used the welcome coupon once and kept buying."""
    members = [("mum", "2018-03-01"), ("dad", "2018-06-11"), ("ann", "2022-09-05"),
               ("bob", "2024-01-20")]
    accounts = [(m, "fam", f"p_{m}", when) for m, when in members] + BYSTANDER
    orders = list(BYSTANDER_ORDERS)
    identifiers: list = []
    for m, when in members:
        start = pd.Timestamp(when, tz="UTC")
        orders.append((m, str(start + pd.Timedelta(days=2)), 35.0, "new_user"))
        orders += [(m, str(start + pd.Timedelta(days=40 * k)), 20.0 + 7 * k, None)
                   for k in range(1, 6)]
        identifiers += [(m, "card", f"card_{m}"), (m, "device", f"dev_{m}"),
                        (m, "phone", f"+4917000{len(m)}{m}"), (m, "address", "home_12_main")]
    return accounts, orders, identifiers


def burst_of_eight_coupon_only_on_one_card(
    person_of: str = "one",
) -> tuple[list, list, list]:
    """Eight accounts created over two days, one card and one phone behind all,
    each placed one welcome-coupon order in August and never came back."""
    farm = [f"f{i}" for i in range(8)]
    accounts = [
        (a, "farm", "p_farm" if person_of == "one" else f"p_{a}", f"2026-08-0{1 + i // 4}")
        for i, a in enumerate(farm)
    ] + BYSTANDER
    orders = [(a, "2026-08-05", 31.0, "new_user") for a in farm] + BYSTANDER_ORDERS
    identifiers = [(a, "card", "card_farm") for a in farm]
    identifiers += [(a, "device", "dev_farm") for a in farm]
    identifiers += [(a, "email", f"{a}@example.org") for a in farm]
    return accounts, orders, identifiers


def test_family_of_four_each_with_one_coupon_scores_low() -> None:
    scores = _score(*family_of_four_each_with_one_coupon())
    family = _row(scores, "fam")
    assert family["n_new_user_orders"] == 4
    assert family["n_redeemer_persons"] == 4
    assert family["coupon_abuse_score"] < 15
    for code in ("NEW_USER", "BURST", "COUPON_ONLY", "SHARED_CARD", "SHARED_DEVICE"):
        assert code not in family["coupon_abuse_reasons"]


def test_family_merged_into_one_person_still_counts_four_persons() -> None:
    # The cluster stage may put a family into one person cluster; their own
    # cards and devices still show four people, so no NEW_USER points.
    accounts, orders, identifiers = family_of_four_each_with_one_coupon()
    accounts = [(a, c, "p_fam" if c == "fam" else p, t) for a, c, p, t in accounts]
    family = _row(_score(accounts, orders, identifiers), "fam")
    assert family["n_redeemer_persons"] == 4
    assert family["coupon_abuse_score"] < 15


def test_burst_of_eight_coupon_only_accounts_on_one_card_scores_high() -> None:
    scores = _score(*burst_of_eight_coupon_only_on_one_card())
    farm = _row(scores, "farm")
    assert farm["coupon_abuse_score"] >= 90
    reasons = farm["coupon_abuse_reasons"].split("; ")
    assert reasons[:2] == ["NEW_USER_x8_BY_1", "SHARED_CARD_x8"]
    assert {"SHARED_DEVICE_x8", "BURST_x8", "COUPON_ONLY_x8"} <= set(reasons)
    person = scores.persons.set_index("person_cluster_id").loc["p_farm"]
    assert person["cluster_id"] == "farm"
    assert person["coupon_abuse_score"] == farm["coupon_abuse_score"]


def test_farmers_family_scores_high_as_a_cluster_but_low_as_persons() -> None:
    # The farm lives at the family home: the family-level cluster farms
    # coupons, the relatives (their own persons, with histories) do not.
    farm_accounts, farm_orders, farm_ids = burst_of_eight_coupon_only_on_one_card()
    fam_accounts, fam_orders, fam_ids = family_of_four_each_with_one_coupon()
    fam_accounts = [(a, "farm", p, t) for a, c, p, t in fam_accounts if c == "fam"]
    farm_ids += [(f"f{i}", "address", "home_12_main") for i in range(8)]
    scores = _score(farm_accounts + fam_accounts, farm_orders + fam_orders, farm_ids + fam_ids)
    assert _row(scores, "farm")["coupon_abuse_score"] == 100
    persons = scores.persons.set_index("person_cluster_id")["coupon_abuse_score"]
    assert persons["p_farm"] == 100
    assert persons[["p_mum", "p_dad", "p_ann", "p_bob"]].tolist() == [0, 0, 0, 0]


def test_farm_split_into_eight_persons_still_scores_high() -> None:
    # Without corroboration the cluster stage may keep them apart as persons:
    # the shared card, the burst and the silence still speak.
    farm = _row(_score(*burst_of_eight_coupon_only_on_one_card(person_of="each")), "farm")
    assert "NEW_USER" not in farm["coupon_abuse_reasons"]
    assert farm["coupon_abuse_score"] >= 60


def test_farm_still_shopping_is_not_coupon_only() -> None:
    accounts, orders, identifiers = burst_of_eight_coupon_only_on_one_card()
    orders = orders + [(f"f{i}", "2026-10-20", 60.0, None) for i in range(8)]
    farm = _row(_score(accounts, orders, identifiers), "farm")
    assert farm["n_coupon_only"] == 0
    assert "COUPON_ONLY" not in farm["coupon_abuse_reasons"]


def test_big_cluster_of_strangers_joined_by_a_missed_hub_scores_low() -> None:
    # 60 real people at one office address, joined over two years, one welcome
    # coupon each; a third churned after it. Some bunch up by chance.
    people = [f"w{i:02d}" for i in range(60)]
    start = pd.Timestamp("2024-06-01", tz="UTC")
    accounts = [(a, "office", f"p_{a}", str(start + pd.Timedelta(days=12 * i)))
                for i, a in enumerate(people)] + BYSTANDER
    accounts[1] = ("w01", "office", "p_w01", str(start + pd.Timedelta(days=1)))
    accounts[2] = ("w02", "office", "p_w02", str(start + pd.Timedelta(days=2)))
    orders = [(a, str(start + pd.Timedelta(days=12 * i + 1)), 25.0 + i, "new_user")
              for i, a in enumerate(people)] + BYSTANDER_ORDERS
    orders += [(a, "2026-09-01", 70.0, None) for a in people[20:]]
    identifiers = [(a, "address", "office_1_market_sq") for a in people]
    identifiers += [(a, "card", f"card_{a}") for a in people]
    office = _row(_score(accounts, orders, identifiers), "office")
    assert office["n_coupon_only"] == 20
    assert office["burst_redeemers"] == 3
    assert office["coupon_abuse_reasons"] == "SHARED_ADDRESS_x60"
    assert office["coupon_abuse_score"] == 15


def test_singleton_with_one_coupon_scores_zero() -> None:
    scores = _score([("solo", "c_solo", "p_solo", "2026-08-01")] + BYSTANDER,
                    [("solo", "2026-08-02", 30.0, "new_user")] + BYSTANDER_ORDERS,
                    [("solo", "card", "card_solo"), ("solo", "email", "x@mailinator.com")])
    solo = _row(scores, "c_solo")
    assert solo["coupon_abuse_score"] == 0
    assert solo["coupon_abuse_reasons"] == ""
    assert solo["n_coupon_only"] == 1  # the fact is there, it just cannot be farming


def test_every_cluster_appears_even_without_accounts_or_orders() -> None:
    scores = _score([("a", "c1", "p1", "2026-01-01")], [], [], extra_clusters=("c0", "c9"))
    assert scores.clusters["cluster_id"].tolist() == ["c0", "c1", "c9"]
    assert (scores.clusters["coupon_abuse_score"] == 0).all()
    assert (scores.clusters["coupon_abuse_reasons"] == "").all()


def test_blocked_share_adds_points_to_a_redeeming_cluster() -> None:
    accounts, orders, identifiers = burst_of_eight_coupon_only_on_one_card()
    farm = _row(_score(accounts, orders, identifiers, blocked=("f0", "f1")), "farm")
    assert "BLOCKED_x2_OF_8" in farm["coupon_abuse_reasons"]


def _parse_points(reasons: str, config: CouponConfig) -> float:
    """The documented formula, applied to the codes and numbers of the reasons."""
    total = 0.0
    for reason in filter(None, reasons.split("; ")):
        match = re.fullmatch(r"([A-Z_]+?)_x(\d+)(?:_(BY|OF)_(\d+))?", reason)
        assert match, reason
        code, n, extra, m = match.group(1), int(match.group(2)), match.group(3), match.group(4)
        units = n - int(m) if extra == "BY" else n / int(m) if extra == "OF" else n
        points = min(config.caps[code], config.weights[code] * max(0.0, units - config.free[code]))
        assert points > 0, f"{reason} is listed but earns no points"
        total += round(points, 2)
    return min(100.0, total)


def test_reasons_add_up_to_the_score() -> None:
    config = CouponConfig(weights={"BURST": 2.5}, caps={"NEW_USER": 20})
    accounts, orders, identifiers = burst_of_eight_coupon_only_on_one_card()
    fam_accounts, fam_orders, fam_ids = family_of_four_each_with_one_coupon()
    scores = _score(accounts + fam_accounts[:4], orders + fam_orders, identifiers + fam_ids,
                    blocked=("f3",), config=config)
    for row in scores.clusters.itertuples():
        assert row.coupon_abuse_score == pytest.approx(
            _parse_points(row.coupon_abuse_reasons, config), abs=0.05)


def test_reason_order_is_fixed() -> None:
    order = list(CouponConfig.REASONS)
    scores = _score(*burst_of_eight_coupon_only_on_one_card(), blocked=("f0",))
    codes = [re.sub(r"_x\d+.*", "", r) for r in _row(scores, "farm")["coupon_abuse_reasons"]
             .split("; ")]
    assert codes == sorted(codes, key=order.index)


def test_zero_weight_removes_a_reason() -> None:
    config = CouponConfig(weights={"SHARED_CARD": 0})
    farm = _row(_score(*burst_of_eight_coupon_only_on_one_card(), config=config), "farm")
    assert "SHARED_CARD" not in farm["coupon_abuse_reasons"]


def test_misspelt_reason_code_names_the_nearest() -> None:
    with pytest.raises(ConfigError, match=r"coupon.weights.BRUST \(did you mean 'BURST'\?\)"):
        CouponConfig(weights={"BRUST": 3})


def test_coupon_only_singletons_at_one_pickup_point_form_a_coupon_hub() -> None:
    # An evasive farm: six singletons, nothing shared but the parcel locker
    # they ship to, created on one day, one welcome order each.
    farm = [f"s{i}" for i in range(6)]
    accounts = [(a, f"c_{a}", f"p_{a}", "2026-07-01") for a in farm] + BYSTANDER
    orders = [(a, "2026-07-02", 30.0, "new_user") for a in farm] + BYSTANDER_ORDERS
    locker = [(a, "address", "locker_17_station_rd", "pickup_point") for a in farm]
    scores = _score(accounts, orders, locker)
    hubs = scores.coupon_hubs
    assert hubs[["kind", "value", "n_redeemers", "n_clusters", "burst_redeemers"]].values.tolist() \
        == [["address", "locker_17_station_rd", 6, 6, 6]]
    assert "lo***" == hubs["masked"].iloc[0]
    for a in farm:
        row = _row(scores, f"c_{a}")
        assert row["coupon_abuse_reasons"] == "COUPON_HUB_x6"
        assert row["coupon_abuse_score"] > 0


def test_busy_pickup_point_with_new_users_all_year_is_not_a_coupon_hub() -> None:
    # 150 strangers, one new account every ~2.4 days, each one welcome order:
    # the locker's background, not a burst.
    people = [f"u{i:03d}" for i in range(150)]
    start = pd.Timestamp("2025-10-01", tz="UTC")
    accounts = [(a, f"c_{a}", f"p_{a}", str(start + pd.Timedelta(hours=58 * i)))
                for i, a in enumerate(people)] + BYSTANDER
    orders = [(a, str(start + pd.Timedelta(hours=58 * i + 5)), 30.0, "new_user")
              for i, a in enumerate(people[:120])] + BYSTANDER_ORDERS
    locker = [(a, "address", "locker_main", "pickup_point") for a in people]
    scores = _score(accounts, orders, locker)
    assert scores.coupon_hubs.empty
    assert (scores.clusters["coupon_abuse_score"] == 0).all()


def test_campaign_day_signups_at_a_busy_locker_are_not_a_coupon_hub() -> None:
    # A promotion brings 100 new users on one day, six of them to locker A,
    # which serves 6% of all new users: six is what chance gives it.
    start = pd.Timestamp("2025-01-01", tz="UTC")
    accounts, orders, identifiers = [], [], []
    for i in range(600):
        campaign = i < 100
        when = start + pd.Timedelta(days=200) if campaign else start + pd.Timedelta(hours=14 * i)
        a = f"n{i:03d}"
        accounts.append((a, f"c_{a}", f"p_{a}", str(when)))
        orders.append((a, str(when + pd.Timedelta(hours=2)), 30.0, "new_user"))
        at_a = i < 6 or (not campaign and i % 17 == 0)
        identifiers.append((a, "address", "locker_a" if at_a else f"locker_{i % 40}",
                            "pickup_point"))
    scores = _score(accounts + BYSTANDER, orders + BYSTANDER_ORDERS, identifiers)
    assert "locker_a" not in set(scores.coupon_hubs["value"])


def test_orders_just_above_a_coupons_minimum_are_counted() -> None:
    # WELCOME10 needs 30 EUR: 40 shoppers order 30..130; the farm orders 30.50.
    shoppers = [f"u{i:02d}" for i in range(40)]
    accounts = [(a, f"c_{a}", f"p_{a}", "2025-01-01") for a in shoppers]
    orders = [(a, "2025-03-01", 30.0 + 2.5 * i, "new_user") for i, a in enumerate(shoppers)]
    farm_accounts, _, farm_ids = burst_of_eight_coupon_only_on_one_card()
    farm_orders = [(f"f{i}", "2026-08-05", 30.5 if i < 5 else 90.0, "new_user")
                   for i in range(8)]
    scores = _score(accounts + farm_accounts, orders + farm_orders + BYSTANDER_ORDERS, farm_ids)
    assert _row(scores, "farm")["n_near_min_orders"] == 5
    assert "NEAR_MIN_x5" in _row(scores, "farm")["coupon_abuse_reasons"]


def test_missing_input_column_is_named() -> None:
    clustering, links, tables = _inputs(*burst_of_eight_coupon_only_on_one_card())
    broken = Clustering(accounts=clustering.accounts.drop(columns="person_cluster_id"),
                        clusters=clustering.clusters, changes=NONE, alerts=NONE,
                        issued_ids=NONE)
    with pytest.raises(InputError, match="clusters.accounts.person_cluster_id"):
        score_clusters(broken, links, tables, config=CouponConfig())


def _shuffled(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _all_frames(scores: Scores) -> list[pd.DataFrame]:
    return [scores.clusters, scores.persons, scores.coupon_hubs]


@st.composite
def _random_worlds(draw: st.DrawFn) -> tuple[list, list, list]:
    n = draw(st.integers(1, 14))
    cluster = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    day = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
    accounts = [(f"a{i}", f"c{cluster[i]}", f"p{cluster[i]}_{i % 2}",
                 str(pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(days=day[i])))
                for i in range(n)]
    orders = [
        (f"a{draw(st.integers(0, n - 1))}", f"2026-0{draw(st.integers(1, 9))}-10",
         float(draw(st.integers(10, 60))), draw(st.sampled_from(["new_user", None, "promo"])))
        for _ in range(draw(st.integers(0, 25)))
    ]
    kinds = ["card", "device", "address", "phone"]
    identifiers = list({
        (f"a{draw(st.integers(0, n - 1))}", kind, f"{kind}{draw(st.integers(0, 3))}",
         draw(st.sampled_from([None, None, "pickup_point"])) if kind == "address" else None)
        for kind in draw(st.lists(st.sampled_from(kinds), max_size=20))
    })
    identifiers = list({(a, k, v): (a, k, v, sup) for a, k, v, sup in identifiers}.values())
    return accounts, orders, identifiers


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(world=_random_worlds(), seed=st.integers(0, 1000))
def test_output_does_not_depend_on_row_order_and_reasons_explain_every_point(
    world: tuple[list, list, list], seed: int,
) -> None:
    config = CouponConfig(hub_min_burst=2)
    clustering, links, tables = _inputs(*world)
    scores = score_clusters(clustering, links, tables, config=config)
    shuffled = score_clusters(
        Clustering(accounts=_shuffled(clustering.accounts, seed),
                   clusters=_shuffled(clustering.clusters, seed), changes=NONE, alerts=NONE,
                   issued_ids=NONE),
        LinkSet(incidence=_shuffled(links.incidence, seed), pairs=NONE, pair_tiers=NONE,
                hubs=NONE, profiles=NONE),
        Tables(accounts=_shuffled(tables.accounts, seed), addresses=NONE, payments=NONE,
               logins=NONE, orders=_shuffled(tables.orders, seed),
               sanctions=tables.sanctions, decisions=NONE, rejects=NONE),
        config=config,
    )
    for ours, theirs in zip(_all_frames(scores), _all_frames(shuffled), strict=True):
        pd.testing.assert_frame_equal(ours, theirs)
    assert set(scores.clusters["cluster_id"]) == set(clustering.clusters["cluster_id"])
    for row in scores.clusters.itertuples():
        assert 0 <= row.coupon_abuse_score <= 100
        assert row.coupon_abuse_score == pytest.approx(
            _parse_points(row.coupon_abuse_reasons, config), abs=0.05)
        if row.n_new_user_orders <= 1 and row.hub_burst_redeemers == 0:
            assert row.coupon_abuse_score == 0
    assert np.all(np.diff(scores.clusters.index) == 1)


def test_orders_found_through_the_graph_score_as_orders_looked_up_again() -> None:
    """The graph stage's lookup of the orders' accounts (kept on the LinkSet) gives the
    scores a fresh lookup gives, an order of an account the table lacks included."""
    from dataclasses import replace

    from linkgraph.config import GraphConfig
    from linkgraph.graph import build_links

    accounts = pd.DataFrame({"account_id": ["a1", "a2", "a3"],
                             "created_at": pd.to_datetime(["2026-01-01"] * 3, utc=True)})
    identifiers = pd.DataFrame({
        "account_id": ["a1", "a2", "a1", "a2", "a3"],
        "kind": ["card", "card", "device", "device", "card"],
        "value": ["fp9", "fp9", "d1", "d1", "fp3"],
        "masked": ["****fp9", "****fp9", "d***", "d***", "****fp3"],
        "first_seen": pd.NaT, "last_seen": pd.NaT, "source": "payments", "suppressed": None})
    orders = pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4"], "account_id": ["a2", "zz", "a1", "a2"],
        "created_at": pd.to_datetime(["2026-01-02"] * 4, utc=True),
        "amount": [30.0, 5.0, 31.0, 90.0], "currency": "EUR",
        "coupon_code": ["W", "W", "W", None], "coupon_type": ["new_user", "new_user", "new_user", None]})
    tables = Tables(accounts=accounts, addresses=NONE, payments=NONE, logins=NONE, orders=orders,
                    sanctions=pd.DataFrame({"account_id": [], "action": []}), decisions=NONE,
                    rejects=NONE)
    links = build_links(identifiers, tables, config=GraphConfig())
    assert links.order_accounts is not None and links.order_accounts.tolist() == [1, -1, 0, 1]
    clustering = Clustering(
        accounts=pd.DataFrame({"account_id": ["a1", "a2", "a3"], "cluster_id": ["c1", "c1", "c2"],
                               "person_cluster_id": ["p1", "p1", "p2"]}),
        clusters=pd.DataFrame({"cluster_id": ["c1", "c2"]}),
        changes=NONE, alerts=NONE, issued_ids=NONE)
    shared = score_clusters(clustering, links, tables, config=CouponConfig())
    fresh = score_clusters(clustering, replace(links, order_accounts=None), tables,
                           config=CouponConfig())
    pd.testing.assert_frame_equal(shared.clusters, fresh.clusters)
    pd.testing.assert_frame_equal(shared.persons, fresh.persons)
    assert shared.clusters["coupon_abuse_score"].iloc[0] > 0


@settings(max_examples=60, deadline=None)
@given(amounts=st.lists(st.one_of(st.none(), st.floats(0, 500).map(lambda x: round(x, 1))),
                        max_size=60),
       seed=st.integers(0, 2**32 - 1), q=st.sampled_from([0.0, 0.05, 0.25, 1 / 3, 0.5, 0.9, 1.0]),
       spread=st.sampled_from([1, 100, 10**6]))
def test_order_amount_quantiles_per_currency_are_the_ones_pandas_groupby_gives(
    amounts: list[float | None], seed: int, q: float, spread: int
) -> None:
    # the small-order limit and the coupon minimum are group quantiles of four million
    # amounts at a million accounts; computed by one sort, they must be pandas' own numbers
    from linkgraph.score.facts import _per_row, _quantile_by

    values = np.array([np.nan if a is None else a for a in amounts], dtype="float64")
    # a few currencies (each sorted on its own), or keys spread wide (coupon codes: one
    # sort of all, looked up densely or by search)
    groups = np.random.default_rng(seed).integers(0, 4, len(values)) * spread
    keys, quantile, size = _quantile_by(values, groups, q)
    grouped = pd.Series(values).groupby(groups)
    expected = grouped.quantile(q)
    assert keys.tolist() == expected.index.tolist()
    assert np.array_equal(quantile, expected.to_numpy(), equal_nan=True)
    assert size.tolist() == grouped.size().tolist()
    assert np.array_equal(_per_row(keys, quantile, groups),
                          expected.reindex(groups).to_numpy(dtype="float64"), equal_nan=True)


def test_orders_as_the_pipeline_holds_them_give_the_profiles_and_scores_of_the_loaded_text(
) -> None:
    """Coupon words as categoricals, account ids as positions among the accounts, no
    order ids: the graph's profiles and the scores are those of the loaded text orders,
    spaces around a word and blank words included."""
    from dataclasses import replace

    from linkgraph import pipeline
    from linkgraph.config import GraphConfig
    from linkgraph.graph import build_links

    accounts = pd.DataFrame({"account_id": ["a1", "a2", "a3", "a4"],
                             "created_at": pd.to_datetime(["2026-01-01"] * 4, utc=True)})
    identifiers = pd.DataFrame({
        "account_id": ["a1", "a2", "a4", "a1", "a2"],
        "kind": ["card", "card", "card", "device", "device"],
        "value": ["fp9", "fp9", "fp9", "d1", "d1"],
        "masked": ["****fp9", "****fp9", "****fp9", "d***", "d***"],
        "first_seen": pd.NaT, "last_seen": pd.NaT, "source": "payments", "suppressed": None})
    orders = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(7)],
        "account_id": ["a2", "a4", "a1", "a2", "a3", "a4", "a1"],
        "created_at": pd.to_datetime(["2026-01-02"] * 6 + ["2026-03-02"], utc=True),
        "amount": [30.0, 5.0, 31.0, 90.0, 12.0, 31.5, 40.0],
        "currency": ["EUR", "EUR", "EUR ", "USD", None, "EUR", "EUR"],
        "coupon_code": ["W", " W", "W", None, "", "W", None],
        "coupon_type": ["new_user", " New_User", "new_user", None, "promo", "new_user", " "],
        "discount": 1.0, "address_id": "ad", "payment_id": "p"}).astype(
        {c: "str" for c in ("order_id", "account_id", "currency", "coupon_code", "coupon_type")})
    sanctions = pd.DataFrame({"account_id": [], "action": []})
    loaded = Tables(accounts=accounts, addresses=NONE, payments=NONE, logins=NONE,
                    orders=orders, sanctions=sanctions, decisions=NONE, rejects=NONE)
    held = replace(loaded, orders=pipeline._with_account_codes(pipeline._kept(
        orders, *pipeline._ORDER_COLUMNS_KEPT, words=pipeline._ORDER_WORDS), accounts))
    assert isinstance(held.orders["account_id"].dtype, pd.CategoricalDtype)

    from_text = build_links(identifiers, loaded, config=GraphConfig())
    from_codes = build_links(identifiers, held, config=GraphConfig())
    pd.testing.assert_frame_equal(from_text.profiles, from_codes.profiles)
    assert from_codes.order_accounts is not None and from_text.order_accounts is not None
    assert from_codes.order_accounts.tolist() == from_text.order_accounts.tolist()
    clustering = Clustering(
        accounts=pd.DataFrame({"account_id": ["a1", "a2", "a3", "a4"],
                               "cluster_id": ["c1", "c1", "c2", "c1"],
                               "person_cluster_id": ["p1", "p1", "p2", "p3"]}),
        clusters=pd.DataFrame({"cluster_id": ["c1", "c2"]}),
        changes=NONE, alerts=NONE, issued_ids=NONE)
    config = CouponConfig(near_min_min_orders=2)
    for links in (from_codes, replace(from_codes, order_accounts=None)):
        scores = score_clusters(clustering, links, held, config=config)
        expected = score_clusters(clustering, from_text, loaded, config=config)
        pd.testing.assert_frame_equal(scores.clusters, expected.clusters)
        pd.testing.assert_frame_equal(scores.persons, expected.persons)
    assert expected.clusters["coupon_abuse_score"].iloc[0] > 0


def test_tables_handed_over_score_the_same_and_their_orders_go_once_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc
    import weakref

    from linkgraph.score import HandedOver, facts

    clustering, links, tables = _inputs(*family_of_four_each_with_one_coupon())
    expected = score_clusters(clustering, links, tables, config=CouponConfig())
    orders = weakref.ref(tables.orders)
    handed = HandedOver(tables)
    del tables
    alive_then = []
    own_identity = facts._own_identity

    def watched(*args: object) -> np.ndarray:
        gc.collect()
        alive_then.append(orders() is not None)
        return own_identity(*args)  # type: ignore[arg-type]

    # the identifiers' facts come after the orders' (and the clusters' features later)
    monkeypatch.setattr(facts, "_own_identity", watched)
    scores = score_clusters(clustering, links, handed, config=CouponConfig())
    pd.testing.assert_frame_equal(scores.clusters, expected.clusters)
    pd.testing.assert_frame_equal(scores.persons, expected.persons)
    assert alive_then == [False]
    with pytest.raises(ValueError, match="handed over"):
        score_clusters(clustering, links, handed, config=CouponConfig())


def test_facts_read_from_the_tables_before_the_clusters_score_the_same() -> None:
    from linkgraph.score import table_facts

    world = burst_of_eight_coupon_only_on_one_card()
    family = family_of_four_each_with_one_coupon()
    clustering, links, tables = _inputs(
        world[0] + family[0][:-1], world[1] + family[1][1:], world[2] + family[2],
        blocked=("f3", "mum"))
    expected = score_clusters(clustering, links, tables, config=CouponConfig())
    early = table_facts(tables, config=CouponConfig())
    scores = score_clusters(clustering, links, early, config=CouponConfig())
    for got, want in zip(_all_frames(scores), _all_frames(expected), strict=True):
        pd.testing.assert_frame_equal(got, want)


def test_facts_read_before_the_clusters_follow_their_accounts_not_the_tables_order() -> None:
    from linkgraph.score import table_facts

    accounts, orders, identifiers = burst_of_eight_coupon_only_on_one_card()
    clustering, links, tables = _inputs(accounts, orders, identifiers, blocked=("f2",))
    # the clustering in another order, with an account the tables lack
    newcomer = pd.DataFrame({"account_id": ["q"], "cluster_id": ["cq"],
                             "person_cluster_id": ["pq"]})
    clustering = Clustering(
        accounts=pd.concat([_shuffled(clustering.accounts, 3), newcomer], ignore_index=True),
        clusters=pd.DataFrame({"cluster_id": sorted([*clustering.clusters["cluster_id"], "cq"])}),
        changes=NONE, alerts=NONE, issued_ids=NONE)
    expected = score_clusters(clustering, links, tables, config=CouponConfig())
    scores = score_clusters(clustering, links, table_facts(tables, config=CouponConfig()),
                            config=CouponConfig())
    for got, want in zip(_all_frames(scores), _all_frames(expected), strict=True):
        pd.testing.assert_frame_equal(got, want)
    assert "BLOCKED_x1_OF_8" in _row(scores, "farm")["coupon_abuse_reasons"]


def test_account_facts_made_before_the_clusters_score_the_same_or_are_made_again() -> None:
    from linkgraph.score import facts_before_clusters, table_facts

    accounts, orders, identifiers = burst_of_eight_coupon_only_on_one_card()
    clustering, links, tables = _inputs(accounts, orders, identifiers, blocked=("f2",))
    expected = score_clusters(clustering, links, tables, config=CouponConfig())
    early = facts_before_clusters(links, table_facts(tables, config=CouponConfig()),
                                  config=CouponConfig())
    scores = score_clusters(clustering, links, early, config=CouponConfig())
    for got, want in zip(_all_frames(scores), _all_frames(expected), strict=True):
        pd.testing.assert_frame_equal(got, want)
    # a clustering of the accounts in another order: its own facts are made
    shuffled = Clustering(accounts=_shuffled(clustering.accounts, 5),
                          clusters=clustering.clusters, changes=NONE, alerts=NONE,
                          issued_ids=NONE)
    again = score_clusters(shuffled, links, early, config=CouponConfig())
    for got, want in zip(_all_frames(again), _all_frames(expected), strict=True):
        pd.testing.assert_frame_equal(got, want)
