"""Graph stage: hubs, pairs, weights, corroboration and profiles on named scenarios."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph import schemas as s
from linkgraph.config import GraphConfig, config_from_dict
from linkgraph.errors import ConfigError, InputError
from linkgraph.graph import LinkSet, build_links
from linkgraph.load import Tables

DAY0 = pd.Timestamp("2026-01-01", tz="UTC")


def identifiers(*rows: tuple) -> pd.DataFrame:
    """Rows of (account, kind, value[, suppressed[, first_seen, last_seen]]), days from DAY0."""
    records = []
    for row in rows:
        account, kind, value, *rest = row
        suppressed = rest[0] if rest else None
        first = DAY0 + pd.Timedelta(days=rest[1]) if len(rest) > 1 else pd.NaT
        last = DAY0 + pd.Timedelta(days=rest[2]) if len(rest) > 2 else first
        records.append({
            s.ACCOUNT_ID: account, s.KIND: kind, s.VALUE: value, s.MASKED: f"*{value[-3:]}",
            s.FIRST_SEEN: first, s.LAST_SEEN: last, s.SOURCE: "test", s.SUPPRESSED: suppressed,
        })
    frame = pd.DataFrame(records, columns=list(s.IDENTIFIER_COLUMNS))
    frame[s.FIRST_SEEN] = pd.to_datetime(frame[s.FIRST_SEEN], utc=True)
    frame[s.LAST_SEEN] = pd.to_datetime(frame[s.LAST_SEEN], utc=True)
    return frame.astype({s.SUPPRESSED: "str"})


def tables(accounts: list[str], *, created_day: dict[str, int] | None = None,
           orders: Sequence[tuple[str, str | None]] = ()) -> Tables:
    """Accounts (created on DAY0 + created_day) and orders as (account, coupon_type)."""
    created_day = created_day or {}
    account_frame = pd.DataFrame({
        s.ACCOUNT_ID: accounts,
        s.CREATED_AT: pd.to_datetime(
            [DAY0 + pd.Timedelta(days=created_day.get(a, 400 + 37 * i % 3000))
             for i, a in enumerate(accounts)], utc=True),
    })
    order_frame = pd.DataFrame({
        s.ORDER_ID: [f"o{i}" for i in range(len(orders))],
        s.ACCOUNT_ID: [a for a, _ in orders],
        s.COUPON_CODE: [("C" + t) if t else None for _, t in orders],
        s.COUPON_TYPE: [t for _, t in orders],
    }, columns=[s.ORDER_ID, s.ACCOUNT_ID, s.COUPON_CODE, s.COUPON_TYPE]).astype("str")
    empty = pd.DataFrame({s.ACCOUNT_ID: pd.Series([], dtype="str")})
    return Tables(accounts=account_frame, addresses=empty, payments=empty, logins=empty,
                  orders=order_frame, sanctions=empty, decisions=empty, rejects=empty)


def links_of(ids: pd.DataFrame, accounts: list[str] | None = None, *,
             config: GraphConfig | None = None, **table_options: Any) -> LinkSet:
    accounts = accounts or sorted(set(ids[s.ACCOUNT_ID]))
    return build_links(ids, tables(accounts, **table_options), config=config or GraphConfig())


def tier_of(links: LinkSet, a: str, b: str) -> str | None:
    rows = links.pair_tiers[(links.pair_tiers[s.ACCOUNT_A] == a)
                            & (links.pair_tiers[s.ACCOUNT_B] == b)]
    return None if rows.empty else str(rows[s.TIER].iloc[0])


def own_phones(*accounts: str) -> list[tuple]:
    return [(a, "phone", f"+7900{i:07d}") for i, a in enumerate(accounts)]


def registered(ids: pd.DataFrame, **names: str) -> pd.DataFrame:
    """``ids`` plus each account's registered name (accounts.full_name), already normalised."""
    rows = identifiers(*[(account, "name", name) for account, name in names.items()])
    rows[s.SOURCE] = "accounts.full_name"
    return pd.concat([ids, rows], ignore_index=True)


def corroboration_of(links: LinkSet, a: str, b: str) -> tuple[str | None, str | None]:
    rows = links.pair_tiers[(links.pair_tiers[s.ACCOUNT_A] == a)
                            & (links.pair_tiers[s.ACCOUNT_B] == b)]
    return (None, None) if rows.empty else (str(rows[s.TIER].iloc[0]),
                                            str(rows[s.CORROBORATION].iloc[0]))


# --- hubs and junk ---------------------------------------------------------------


def test_pickup_point_shared_by_500_is_a_hub_and_links_no_one() -> None:
    pickup_point_shared_by_500 = identifiers(
        *[(f"acc{i:03d}", "address", "pvz ozon, lenina 1, moscow", "pickup_point")
          for i in range(500)])
    links = links_of(pickup_point_shared_by_500)
    assert links.hubs.to_dict("records") == [{
        s.KIND: "address", s.VALUE: "pvz ozon, lenina 1, moscow", s.MASKED: "*cow",
        s.N_ACCOUNTS: 500, s.REASON: "pickup_point"}]
    assert links.pairs.empty and links.pair_tiers.empty
    assert not links.incidence[s.LINKING].any()
    assert (links.incidence[s.N_ACCOUNTS] == 500).all()


def test_address_shared_by_500_without_a_keyword_is_found_as_a_hub() -> None:
    links = links_of(identifiers(*[(f"acc{i:03d}", "address", "1 warehouse rd") for i in range(500)]))
    assert links.hubs[[s.KIND, s.N_ACCOUNTS, s.REASON]].to_dict("records") == [
        {s.KIND: "address", s.N_ACCOUNTS: 500, s.REASON: "hub"}]
    assert links.pairs.empty
    assert (links.incidence[s.SUPPRESSED] == "hub").all()
    assert (links.incidence[s.WEIGHT] == 0.0).all()


FARM = [f"farm{i:02d}" for i in range(60)]


def test_farm_past_the_device_limit_stays_one_farm() -> None:
    # sixty coupon-only accounts on one phone, shipping to a pickup point: one farmer
    farm = identifiers(*[(a, "device", "dev-farm") for a in FARM],
                       *[(a, "address", "pvz 1, moscow", "pickup_point") for a in FARM])
    links = links_of(farm, orders=[(a, "new_user") for a in FARM])
    assert links.hubs[s.KIND].tolist() == ["address"]  # the pickup point only
    linked = links.pair_tiers[links.pair_tiers[s.TIER] != "weak"]
    assert set(linked[s.ACCOUNT_A]) | set(linked[s.ACCOUNT_B]) == set(FARM)
    assert len(linked) < len(FARM)  # star edges over the cap, not every pair


def test_kiosk_tablet_of_sixty_new_customers_shipping_home_stays_a_hub() -> None:
    # sixty strangers signed up on a shop's tablet for the welcome coupon; each ships home
    kiosk = identifiers(*[(a, "device", "dev-kiosk") for a in FARM],
                        *[(a, "address", f"{i} oak st") for i, a in enumerate(FARM)])
    links = links_of(kiosk, orders=[(a, "new_user") for a in FARM])
    assert links.hubs[[s.KIND, s.REASON]].to_dict("records") == [
        {s.KIND: "device", s.REASON: "hub"}]
    assert links.pair_tiers.empty


def test_device_id_of_sixty_new_customers_at_sixty_pickup_points_stays_a_hub() -> None:
    # a device id an app bug gave many phones: new customers, each at the pickup point
    # near their home, are strangers however alike their histories look
    strangers = identifiers(*[(a, "device", "dev-bug") for a in FARM],
                            *[(a, "address", f"pvz {i}, moscow", "pickup_point")
                              for i, a in enumerate(FARM)])
    links = links_of(strangers, orders=[(a, "new_user") for a in FARM])
    assert "device" in links.hubs[s.KIND].tolist()
    assert links.pair_tiers.empty


def test_device_of_sixty_regular_shoppers_stays_a_hub() -> None:
    shoppers = identifiers(*[(a, "device", "dev-demo") for a in FARM])
    links = links_of(shoppers, orders=[(a, None) for a in FARM])
    assert links.hubs[s.REASON].tolist() == ["hub"]
    assert links.pair_tiers.empty


def test_junk_phone_never_links_two_families() -> None:
    two_families_with_junk_phone = identifiers(
        ("ann", "phone", "0000000000", "junk"), ("bob", "phone", "0000000000", "junk"),
        ("ann", "address", "1 oak st"), ("ann2", "address", "1 oak st"),
        ("bob", "address", "9 elm st"), ("bob2", "address", "9 elm st"),
    )
    links = links_of(two_families_with_junk_phone)
    linked = set(zip(links.pair_tiers[s.ACCOUNT_A], links.pair_tiers[s.ACCOUNT_B]))
    assert linked == {("ann", "ann2"), ("bob", "bob2")}
    assert links.hubs[[s.KIND, s.REASON, s.N_ACCOUNTS]].to_dict("records") == [
        {s.KIND: "phone", s.REASON: "junk", s.N_ACCOUNTS: 2}]


def test_ip_hub_of_5000_accounts_gives_no_pairs_but_families_still_link() -> None:
    carrier_nat = [(f"acc{i:04d}", "ip", "100.64.0.1") for i in range(5000)]
    family = [("acc0001", "address", "7 pine st"), ("acc0002", "address", "7 pine st")]
    links = links_of(identifiers(*carrier_nat, *family))
    assert links.hubs[[s.KIND, s.N_ACCOUNTS, s.REASON]].to_dict("records") == [
        {s.KIND: "ip", s.N_ACCOUNTS: 5000, s.REASON: "hub"}]
    assert links.pairs[[s.ACCOUNT_A, s.ACCOUNT_B, s.KIND]].to_numpy().tolist() == [
        ["acc0001", "acc0002", "address"]]


def test_farmers_device_of_40_accounts_still_links() -> None:
    farmer_device = identifiers(*[(f"f{i:02d}", "device", "emu-7731") for i in range(40)])
    links = links_of(farmer_device)
    assert links.hubs.empty
    assert len(links.pairs) == 40 * 39 // 2


def test_deny_list_stops_a_value_and_allow_list_links_one_over_its_cap_by_star_edges() -> None:
    office = identifiers(*[(f"e{i:02d}", "address", "1 office park") for i in range(60)],
                         ("x1", "device", "d-1"), ("x2", "device", "d-1"))
    config = GraphConfig(hub_allow=("address:1 office park",), hub_deny=("device:d-1",))
    links = links_of(office, config=config)
    assert links.hubs[[s.KIND, s.REASON]].to_numpy().tolist() == [["device", "deny_list"]]
    assert len(links.pairs) == 59  # star: e00 to each other account, never 60 * 59 / 2
    assert set(links.pairs[s.ACCOUNT_A]) == {"e00"}


def test_hub_limit_is_decided_per_kind_from_its_own_counts() -> None:
    config = GraphConfig(max_accounts_per_value={"address": 100},
                         plausible_accounts_per_value={"address": 4})
    homes = [(f"h{i:03d}a", "address", f"{i} main st") for i in range(40)] + \
            [(f"h{i:03d}b", "address", f"{i} main st") for i in range(40)]
    building = [(f"b{i:02d}", "address", "5 tower sq") for i in range(60)]
    links = links_of(identifiers(*homes, *building), config=config)
    assert links.hubs[s.VALUE].tolist() == ["5 tower sq"]  # 60 is far above the typical 2


def test_config_rejects_an_unknown_kind_and_keeps_default_caps_of_other_kinds() -> None:
    config = config_from_dict({"graph": {"max_accounts_per_value": {"device": 30}}}).graph
    assert config.max_accounts_per_value["device"] == 30
    assert config.max_accounts_per_value["address"] == 50
    with pytest.raises(ConfigError, match="did you mean 'device'"):
        GraphConfig(hub_deny=("devcie:abc",))


def test_office_of_14_strangers_is_a_hub_shared_by_14_persons() -> None:
    colleagues = [f"c{i:02d}" for i in range(14)]
    office_of_14_strangers = identifiers(
        *[(c, "address", "1 river plaza") for c in colleagues], *own_phones(*colleagues))
    links = links_of(office_of_14_strangers)
    assert links.hubs[[s.KIND, s.N_ACCOUNTS, s.REASON]].to_dict("records") == [
        {s.KIND: "address", s.N_ACCOUNTS: 14, s.REASON: "shared by 14 persons"}]
    assert links.pair_tiers.empty
    assert (links.incidence.query("kind == 'address'")[s.SUPPRESSED]
            == "shared by 14 persons").all()


def test_family_of_5_persons_with_3_accounts_each_is_one_household_not_a_hub() -> None:
    persons = {f"p{i}": [f"p{i}a{j}" for j in range(3)] for i in range(5)}
    accounts = [a for own in persons.values() for a in own]
    big_family = identifiers(
        *[(a, "address", "7 pine st 2") for a in accounts],
        *[(a, "phone", f"+7900000000{i}") for i, own in enumerate(persons.values()) for a in own])
    links = links_of(big_family)
    assert links.hubs.empty
    assert len(links.pair_tiers) == 15 * 14 // 2
    assert (links.pair_tiers[s.TIER] == "person").sum() == 5 * 3
    assert set(links.pair_tiers[s.TIER]) == {"person", "household"}


def test_nine_persons_at_one_address_is_a_hub_with_a_family_limit_of_8() -> None:
    nine = [f"n{i}" for i in range(9)]
    links = links_of(identifiers(*[(a, "address", "3 elm st") for a in nine], *own_phones(*nine)))
    assert links.hubs[s.REASON].tolist() == ["shared by 9 persons"]
    relaxed = links_of(identifiers(*[(a, "address", "3 elm st") for a in nine]),
                       config=GraphConfig(max_persons_per_household=9))
    assert relaxed.hubs.empty and len(relaxed.pair_tiers) == 36


def test_company_address_of_two_colleagues_is_a_business_address_not_a_household() -> None:
    two_colleagues = identifiers(("ann", "address", "12 main street acme gmbh floor 3||10115|de"),
                                 ("bob", "address", "12 main street acme gmbh floor 3||10115|de"),
                                 ("cat", "address", "40 princeton road|2|08540|us"),
                                 ("dan", "address", "40 princeton road|2|08540|us"))
    links = links_of(two_colleagues)
    assert links.hubs[[s.N_ACCOUNTS, s.REASON]].to_dict("records") == [
        {s.N_ACCOUNTS: 2, s.REASON: "business_address"}]
    # "inc" inside "princeton" is no business word: whole words only
    assert links.pair_tiers[[s.ACCOUNT_A, s.ACCOUNT_B]].to_numpy().tolist() == [["cat", "dan"]]


def test_business_words_are_configurable() -> None:
    suite = identifiers(("a", "address", "5 oak ave suite 200"), ("b", "address", "5 oak ave suite 200"))
    assert links_of(suite).pair_tiers.empty
    homes = links_of(suite, config=GraphConfig(business_address_words=("gmbh",)))
    assert tier_of(homes, "a", "b") == "household"


def test_config_checks_the_household_and_corroboration_settings() -> None:
    config = config_from_dict({"graph": {"max_persons_per_household": 6,
                                         "business_address_words": ["gmbh", "llc"],
                                         "personal_kinds": ["phone"]}}).graph
    assert (config.max_persons_per_household, config.business_address_words,
            config.personal_kinds) == (6, ("gmbh", "llc"), ("phone",))
    with pytest.raises(ConfigError, match="max_persons_per_household"):
        GraphConfig(max_persons_per_household=0)
    with pytest.raises(ConfigError, match="did you mean 'phone'"):
        GraphConfig(personal_kinds=("phnoe",))


# --- pairs and weights -------------------------------------------------------------


def test_weight_falls_with_the_number_of_accounts_sharing_a_value() -> None:
    cards = [(f"p{i}", "card", "fp-pair") for i in range(2)] + \
            [(f"q{i:02d}", "card", "fp-twenty") for i in range(20)]
    pairs = links_of(identifiers(*cards)).pairs
    by_value = pairs.groupby(s.VALUE)[s.WEIGHT].first()
    assert by_value["fp-pair"] == pytest.approx(1.0)
    assert by_value["fp-twenty"] == pytest.approx(1.0 * 1.58496 / 4.39232, rel=1e-4)


def test_pairs_carry_the_time_both_accounts_held_the_value() -> None:
    shared_card = identifiers(("a", "card", "fp1", None, 10, 50), ("b", "card", "fp1", None, 30, 90))
    pair = links_of(shared_card).pairs.iloc[0]
    assert (pair[s.FIRST_SEEN], pair[s.LAST_SEEN]) == (DAY0 + pd.Timedelta(days=30),
                                                       DAY0 + pd.Timedelta(days=50))
    assert pair[s.GAP_DAYS] == 0.0


def test_recycled_phone_years_apart_does_not_link() -> None:
    recycled_phone = identifiers(
        ("old", "phone", "+79001234567", None, 0, 100), ("new", "phone", "+79001234567", None, 900, 950),
        ("old", "card", "fp-old"), ("new", "card", "fp-new"),
    )
    links = links_of(recycled_phone)
    pair = links.pairs.iloc[0]
    assert pair[s.GAP_DAYS] == 800.0
    assert pair[s.WEIGHT] < 0.9 * 0.1
    assert links.pair_tiers.empty


def test_phone_on_file_of_an_account_still_active_is_not_recycled() -> None:
    kept_phone = identifiers(
        ("old", "phone", "+79001234567", None, 0, 0), ("old", "ip", "81.2.69.160", None, 850, 880),
        ("new", "phone", "+79001234567", None, 900, 900),
    )
    pair = links_of(kept_phone).pairs.query("kind == 'phone'").iloc[0]
    assert pair[s.GAP_DAYS] == 20.0
    assert len(links_of(kept_phone).pair_tiers) == 1


def test_phone_on_file_of_an_account_quiet_for_years_is_recycled() -> None:
    recycled = identifiers(
        ("old", "phone", "+79001234567", None, 0, 0), ("old", "ip", "81.2.69.160", None, 10, 40),
        ("new", "phone", "+79001234567", None, 900, 900),
    )
    assert links_of(recycled).pairs[s.GAP_DAYS].iloc[0] == 860.0
    assert links_of(recycled).pair_tiers.empty


def test_phone_shared_at_the_same_time_keeps_its_full_weight() -> None:
    same_time = identifiers(("a", "phone", "+79001234567", None, 0, 100),
                            ("b", "phone", "+79001234567", None, 50, 150))
    assert links_of(same_time).pairs[s.WEIGHT].iloc[0] == pytest.approx(0.9)


# --- corroboration -------------------------------------------------------------------


def test_family_tablet_gives_a_household_pair() -> None:
    family_tablet = identifiers(("mum", "device", "tablet-1"), ("son", "device", "tablet-1"),
                                ("mum", "ip", "81.2.69.160"), ("son", "ip", "81.2.69.160"),
                                *own_phones("mum", "son"))
    links = links_of(family_tablet, created_day={"mum": 0, "son": 2})
    row = links.pair_tiers.iloc[0]
    assert (row[s.TIER], row[s.N_PERSON_KINDS]) == ("household", 1)
    assert row[s.CORROBORATION] == "single shared device: family or same person (also ip)"


def test_card_and_device_give_a_person_pair() -> None:
    card_and_device = identifiers(("a", "card", "fp1"), ("b", "card", "fp1"),
                                  ("a", "device", "d1"), ("b", "device", "d1"),
                                  *own_phones("a", "b"))
    row = links_of(card_and_device).pair_tiers.iloc[0]
    assert (row[s.TIER], row[s.N_PERSON_KINDS], row[s.CORROBORATION]) == (
        "person", 2, "card+device")


def test_card_fingerprint_and_card_digits_count_as_one_kind() -> None:
    one_card_two_keys = identifiers(("a", "card", "fp1"), ("b", "card", "fp1"),
                                    ("a", "card_digits", "411111|1111|12/29"),
                                    ("b", "card_digits", "411111|1111|12/29"),
                                    *own_phones("a", "b"))
    row = links_of(one_card_two_keys).pair_tiers.iloc[0]
    assert (row[s.TIER], row[s.N_PERSON_KINDS]) == ("household", 1)


def test_shared_device_with_an_account_without_identity_is_the_same_person() -> None:
    second_account = identifiers(("main", "device", "d1"), ("alt", "device", "d1"),
                                 *own_phones("main"))
    row = links_of(second_account).pair_tiers.iloc[0]
    assert (row[s.TIER], row[s.CORROBORATION]) == (
        "person", "shared device; account has no own identity")


def test_farmers_burst_of_8_coupon_only_accounts_on_one_device_gives_person_pairs() -> None:
    farm = [f"farm{i}" for i in range(8)]
    farmers_burst = identifiers(*[(a, "device", "phone-x") for a in farm], *own_phones(*farm))
    links = links_of(farmers_burst, created_day={a: i // 3 for i, a in enumerate(farm)},
                     orders=[(a, "new_user") for a in farm])
    assert len(links.pair_tiers) == 28
    assert (links.pair_tiers[s.TIER] == "person").all()
    assert links.pair_tiers[s.CORROBORATION].str.startswith("shared device; burst").all()
    assert (links.profiles["burst_size"] == 8).all()


def test_family_created_the_same_week_with_real_histories_stays_household() -> None:
    family = ["dad", "kid", "mum"]
    tablet = identifiers(*[(a, "device", "tablet-9") for a in family], *own_phones(*family))
    history = [(a, t) for a in family for t in (None, None, "promo")]
    links = links_of(tablet, created_day={a: 0 for a in family}, orders=history)
    assert (links.pair_tiers[s.TIER] == "household").all()


def test_shared_ip_alone_is_weak_and_never_promotes() -> None:
    neighbours = identifiers(("a", "ip", "81.2.69.160"), ("b", "ip", "81.2.69.160"),
                             ("a", "name", "ivan petrov"), ("b", "name", "ivan petrov"))
    row = links_of(neighbours).pair_tiers.iloc[0]
    assert (row[s.TIER], row[s.N_PERSON_KINDS], row[s.CORROBORATION]) == (
        "weak", 0, "shared ip+name only: weak")


def test_same_name_second_account_on_one_card_is_the_same_person() -> None:
    # the new account gave no phone of its own (with one each, see the namesakes below)
    second_account = registered(
        identifiers(("old", "card", "fp1"), ("new", "card", "fp1"), *own_phones("old")),
        old="anna petrova", new="anna petrova")
    assert corroboration_of(links_of(second_account), "new", "old") == (
        "person", "shared card; same registered name (also name)")


def test_namesakes_with_a_phone_each_on_the_family_card_are_household() -> None:
    # father and son, both Kirill Nikitin, each with his own number, pay with one card
    namesakes = registered(
        identifiers(("father", "card", "fp1"), ("son", "card", "fp1"),
                    *own_phones("father", "son")),
        father="kirill nikitin", son="kirill nikitin")
    words = "shared card; each account has its own phone: family or same person (also name)"
    assert corroboration_of(links_of(namesakes), "father", "son") == ("household", words)


def test_namesake_whose_phone_is_also_on_her_second_account_is_still_household() -> None:
    # mum's number sits on both her accounts; her daughter of the same name has her own
    namesakes = registered(
        identifiers(("mum", "card", "fp1"), ("kid", "card", "fp1"),
                    ("mum", "phone", "+79001111111"), ("mum2", "phone", "+79001111111"),
                    ("kid", "phone", "+79002222222")),
        mum="rachel adams", kid="rachel adams")
    assert tier_of(links_of(namesakes), "kid", "mum") == "household"
    assert tier_of(links_of(namesakes), "mum", "mum2") == "person"


def test_same_number_written_years_apart_is_no_second_phone() -> None:
    # N. Frolov and Nikolay Frolov: one card, one number used five years apart
    one_man = registered(
        identifiers(("old", "card", "fp1"), ("new", "card", "fp1"),
                    ("old", "phone", "+79254362441", None, 0, 10),
                    ("new", "phone", "+79254362441", None, 1800, 1810)),
        old="frolov nikolay", new="frolov n")
    assert tier_of(links_of(one_man), "new", "old") == "person"


def test_initial_for_the_first_name_still_matches_the_registered_name() -> None:
    initial = registered(
        identifiers(("old", "device", "d1"), ("new", "device", "d1"), *own_phones("old")),
        old="anna petrova", new="a petrova")
    assert tier_of(links_of(initial), "new", "old") == "person"


def test_spouses_sharing_a_card_with_different_names_and_own_phones_are_household() -> None:
    spouses = registered(
        identifiers(("anna", "card", "fp1"), ("ivan", "card", "fp1"), *own_phones("anna", "ivan"),
                    ("anna", "address", "1 oak st 4"), ("ivan", "address", "1 oak st 4")),
        anna="anna petrova", ivan="ivan petrov")
    assert corroboration_of(links_of(spouses), "anna", "ivan") == (
        "household", "shared card; registered names differ: family (also address)")


def test_holder_name_of_a_family_card_does_not_make_its_users_one_person() -> None:
    family_card = registered(
        identifiers(("mum", "card", "fp1"), ("son", "card", "fp1"), *own_phones("mum", "son"),
                    ("mum", "name", "anna petrova"), ("son", "name", "anna petrova")),
        mum="anna petrova", son="oleg petrov")
    assert tier_of(links_of(family_card), "mum", "son") == "household"


def test_card_and_tablet_of_differently_named_family_members_stay_household() -> None:
    card_and_tablet = registered(
        identifiers(("mum", "card", "fp1"), ("son", "card", "fp1"), ("mum", "device", "tab"),
                    ("son", "device", "tab"), *own_phones("mum", "son")),
        mum="anna petrova", son="oleg petrov")
    assert corroboration_of(links_of(card_and_tablet), "mum", "son") == (
        "household", "shared card+device; registered names differ: family")


def test_kid_without_own_identity_on_the_family_tablet_stays_household() -> None:
    kid = registered(identifiers(("mum", "device", "tab"), ("kid", "device", "tab"),
                                 *own_phones("mum")),
                     mum="anna petrova", kid="masha petrova")
    links = links_of(kid, orders=[("kid", None), ("kid", None), ("kid", "promo")])
    assert tier_of(links, "kid", "mum") == "household"


def test_sibling_whose_card_and_phone_sit_on_their_own_second_account_is_someone_apart() -> None:
    # seen at 2M accounts: a family tablet; one sibling's card, phone and phone's device are
    # shared with that sibling's own second account, so none is "only theirs"; still, the
    # sibling has a card and a phone the blocked brother lacks: family, not one person
    family = identifiers(
        ("sib", "device", "tab"), ("bro", "device", "tab"), ("bro", "phone", "+79001112233"),
        ("sib", "card", "fp-sib"), ("sib2", "card", "fp-sib"),
        ("sib", "phone", "+79005556677"), ("sib2", "phone", "+79005556677"),
        ("sib", "device", "phone-sib"), ("sib2", "device", "phone-sib"))
    assert tier_of(links_of(family), "bro", "sib") == "household"
    # the sibling's second account is still theirs
    assert tier_of(links_of(family), "sib", "sib2") == "person"


def test_account_whose_only_device_is_the_others_has_no_identity_apart() -> None:
    shadow = identifiers(("main", "device", "tab"), ("alt", "device", "tab"),
                         ("main", "card", "fp-1"), *own_phones("main"))
    assert tier_of(links_of(shadow), "alt", "main") == "person"
    # with a card of its own (even one it shares with a third account) it is someone apart
    apart = pd.concat([shadow, identifiers(("alt", "card", "fp-2"), ("third", "card", "fp-2"))])
    assert tier_of(links_of(apart), "alt", "main") == "household"


def test_shared_phone_is_one_persons_when_names_do_not_conflict() -> None:
    phone = identifiers(("a", "phone", "+79001234567"), ("b", "phone", "+79001234567"),
                        ("a", "card", "fp-a"), ("b", "card", "fp-b"))
    assert corroboration_of(links_of(phone), "a", "b") == (
        "person", "shared phone; one person's identifier")
    named = registered(phone, a="ivan petrov", b="anna petrova")
    assert tier_of(links_of(named), "a", "b") == "weak"  # no home in common: a borrowed number


def test_second_account_under_a_nickname_sharing_mailbox_and_phone_is_the_same_person() -> None:
    sam = registered(
        identifiers(("a", "email", "sam.lee@outlook.com"), ("b", "email", "sam.lee@outlook.com"),
                    ("a", "phone", "+14155550134"), ("b", "phone", "+14155550134"),
                    ("a", "card", "fp-1"), ("b", "card", "fp-1")),
        a="sam lee", b="samuel lee")
    assert tier_of(links_of(sam), "a", "b") == "person"


def test_family_mailbox_and_card_of_differently_named_people_stay_household() -> None:
    family = registered(
        identifiers(("mum", "email", "petrovs@mail.ru"), ("dad", "email", "petrovs@mail.ru"),
                    ("mum", "card", "fp1"), ("dad", "card", "fp1"), *own_phones("mum", "dad")),
        mum="anna petrova", dad="ivan petrov")
    assert tier_of(links_of(family), "dad", "mum") == "household"


def test_family_mailbox_of_two_people_with_own_phones_stays_household() -> None:
    family_mailbox = identifiers(("mum", "email", "petrovs@mail.ru"),
                                 ("dad", "email", "petrovs@mail.ru"), *own_phones("mum", "dad"))
    assert corroboration_of(links_of(family_mailbox), "dad", "mum") == (
        "household", "single shared email: family or same person")


def test_mailbox_of_differently_named_people_counts_as_family_only_with_a_home() -> None:
    mailbox = [("a", "email", "jsmith@gmail.com"), ("b", "email", "jsmith@gmail.com")]
    strangers = registered(identifiers(*mailbox), a="john smith", b="jane smith")
    assert corroboration_of(links_of(strangers), "a", "b") == (
        "weak", "shared email only, registered names differ, no home in common: weak")
    at_home = registered(identifiers(*mailbox, ("a", "ip", "81.2.69.160"),
                                     ("b", "ip", "81.2.69.160")),
                         a="john smith", b="jane smith")
    assert tier_of(links_of(at_home), "a", "b") == "household"


def test_phone_kept_years_apart_under_the_same_registered_name_is_still_one_person() -> None:
    kept = registered(identifiers(
        ("old", "phone", "+79001234567", None, 0, 100), ("new", "phone", "+79001234567", None, 900, 950),
        ("old", "card", "fp-old"), ("new", "card", "fp-new")), old="ivan petrov", new="ivan petrov")
    assert corroboration_of(links_of(kept), "new", "old") == (
        "person", "shared phone; same registered name (also name)")


def test_phone_passed_on_between_differently_named_accounts_is_weak() -> None:
    passed_on = registered(identifiers(
        ("old", "phone", "+79001234567", None, 0, 100), ("new", "phone", "+79001234567", None, 200, 250),
        ("old", "ip", "81.2.69.160", None, 0, 260), ("new", "ip", "81.2.69.160", None, 200, 260)),
        old="ivan petrov", new="anna smirnova")
    assert tier_of(links_of(passed_on), "new", "old") == "weak"


def test_throwaways_in_a_burst_on_the_farmers_phone_are_his_whatever_their_names() -> None:
    farm = ["f1", "f2", "f3"]
    farmer = registered(
        identifiers(*[(a, "device", "his-phone") for a in ["main", *farm]], *own_phones("main")),
        main="ivan petrov", f1="anna smirnova", f2="oleg sidorov", f3="maria kuznetsova")
    links = links_of(farmer, created_day={"main": 0, "f1": 900, "f2": 901, "f3": 903},
                     orders=[(a, "new_user") for a in farm] + [("main", None)] * 5)
    assert corroboration_of(links, "f1", "main") == (
        "person", "shared device; account has no own phone or card and only farmed coupons")
    assert (links.pair_tiers[s.TIER] == "person").all()


def test_naive_farmers_burst_at_home_under_his_own_name_is_one_person() -> None:
    farm = ["f1", "f2", "f3"]
    home = identifiers(*[(a, "address", "9 elm st 3") for a in farm])
    created = {"f1": 500, "f2": 501, "f3": 502}
    naive_farmer = registered(home, f1="ivan petrov", f2="ivan petrov", f3="ivan petrov")
    links = links_of(naive_farmer, created_day=created, orders=[(a, "new_user") for a in farm])
    assert corroboration_of(links, "f1", "f2") == (
        "person", ("shared address under one registered name; burst of coupon-only or "
                   "disposable-mailbox accounts"))
    family = registered(home, f1="ivan petrov", f2="anna petrova", f3="oleg petrov")
    links = links_of(family, created_day=created, orders=[(a, "new_user") for a in farm])
    assert (links.pair_tiers[s.TIER] == "household").all()


def test_home_address_gives_a_household_pair() -> None:
    home = identifiers(("a", "address", "1 oak st 4"), ("b", "address", "1 oak st 4"),
                       ("a", "ip", "81.2.69.160"), ("b", "ip", "81.2.69.160"))
    row = links_of(home).pair_tiers.iloc[0]
    assert (row[s.TIER], row[s.N_HOUSEHOLD_KINDS]) == ("household", 1)
    assert row[s.CORROBORATION] == "shared address: household (also ip)"


# --- profiles -------------------------------------------------------------------------


def test_profiles_state_each_accounts_facts() -> None:
    ids = identifiers(
        ("a", "phone", "+79001111111"), ("a", "card", "fp-shared"), ("b", "card", "fp-shared"),
        ("b", "email", "x@mailinator.com"), ("b", "phone", "0000000000", "junk"),
        ("c", "email", "c@gmail.com"),
    )
    links = links_of(ids, ["a", "b", "c", "d"], created_day={"a": 0, "b": 3, "c": 4, "d": 5},
                     orders=[("a", None), ("a", "new_user"), ("b", "new_user"),
                             ("c", "promo"), ("c", "promo"), ("c", "promo")])
    facts = links.profiles.set_index(s.ACCOUNT_ID)
    assert facts.loc[:, ["n_person_ids", "n_own_person_ids", "has_own_identity",
                         "disposable_email", "n_orders", "n_new_user_orders", "coupon_only",
                         "burst_size"]].to_dict("index") == {
        "a": {"n_person_ids": 2, "n_own_person_ids": 1, "has_own_identity": True,
              "disposable_email": False, "n_orders": 2, "n_new_user_orders": 1,
              "coupon_only": False, "burst_size": 2},
        "b": {"n_person_ids": 2, "n_own_person_ids": 1, "has_own_identity": False,
              "disposable_email": True, "n_orders": 1, "n_new_user_orders": 1,
              "coupon_only": True, "burst_size": 2},
        "c": {"n_person_ids": 1, "n_own_person_ids": 1, "has_own_identity": False,
              "disposable_email": False, "n_orders": 3, "n_new_user_orders": 0,
              "coupon_only": False, "burst_size": 1},
        "d": {"n_person_ids": 0, "n_own_person_ids": 0, "has_own_identity": False,
              "disposable_email": False, "n_orders": 0, "n_new_user_orders": 0,
              "coupon_only": False, "burst_size": 1},
    }
    assert facts.index.tolist() == ["a", "b", "c", "d"]


# --- contract -------------------------------------------------------------------------


def test_missing_identifier_columns_are_named_in_one_error() -> None:
    with pytest.raises(InputError, match="masked, first_seen"):
        links_of(identifiers(("a", "card", "fp")).drop(columns=["masked", "first_seen"]), ["a"])


def test_frames_have_the_contract_columns_and_are_sorted() -> None:
    links = links_of(identifiers(("b", "card", "fp1"), ("a", "card", "fp1"),
                                 ("a", "ip", "81.2.69.160"), ("c", "ip", "81.2.69.160")))
    assert tuple(links.pairs.columns) == s.PAIR_COLUMNS
    assert tuple(links.pair_tiers.columns) == s.PAIR_TIER_COLUMNS
    assert tuple(links.hubs.columns) == s.HUB_COLUMNS
    assert links.incidence[[s.ACCOUNT_ID, s.KIND]].to_numpy().tolist() == [
        ["a", "card"], ["a", "ip"], ["b", "card"], ["c", "ip"]]
    assert links.pairs[[s.ACCOUNT_A, s.ACCOUNT_B]].to_numpy().tolist() == [["a", "b"], ["a", "c"]]


def test_empty_identifiers_give_empty_frames_and_one_profile_per_account() -> None:
    links = links_of(identifiers(), ["a", "b"])
    assert links.pairs.empty and links.pair_tiers.empty and links.hubs.empty
    assert links.profiles[s.ACCOUNT_ID].tolist() == ["a", "b"]


_KINDS = ["card", "device", "phone", "address", "ip", "email"]


@settings(max_examples=10, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 7), st.sampled_from(_KINDS), st.integers(0, 3),
                            st.integers(0, 400)), min_size=1, max_size=40),
    seed=st.randoms(use_true_random=False),
)
def test_pairs_are_all_shared_values_and_do_not_depend_on_row_order(rows: list, seed: object) -> None:
    ids = identifiers(*{(f"acc{a}", k, f"v{v}", None, d, d + 30): None
                        for a, k, v, d in rows})
    accounts = [f"acc{i}" for i in range(8)]
    shuffled = ids.sample(frac=1.0, random_state=seed.randint(0, 2**31)).reset_index(drop=True)  # type: ignore[attr-defined]
    first, second = links_of(ids, accounts), links_of(shuffled, accounts)
    for name in ("incidence", "pairs", "pair_tiers", "hubs", "profiles"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name), obj=name)
    holders: dict[tuple[str, str], set[str]] = {}
    for account, kind, value in ids[[s.ACCOUNT_ID, s.KIND, s.VALUE]].itertuples(index=False):
        holders.setdefault((kind, value), set()).add(account)
    hubs = set(zip(first.hubs[s.KIND], first.hubs[s.VALUE]))
    expected = sorted((a, b, kind, value) for (kind, value), accounts in holders.items()
                      if (kind, value) not in hubs
                      for a, b in itertools.combinations(sorted(accounts), 2))
    got = first.pairs[[s.ACCOUNT_A, s.ACCOUNT_B, s.KIND, s.VALUE]].itertuples(index=False)
    assert [tuple(row) for row in got] == expected


def test_profiles_do_not_depend_on_the_accounts_table_order() -> None:
    ids = identifiers(("a1", "card", "fp1"), ("a2", "card", "fp1"), ("a3", "phone", "+15550100"))
    orders = [("a1", "new_user"), ("a2", None), ("a1", None)]
    created = {"a1": 10, "a2": 11, "a3": 900}
    in_order = build_links(ids, tables(["a1", "a2", "a3"], created_day=created, orders=orders),
                           config=GraphConfig()).profiles
    shuffled = build_links(ids, tables(["a3", "a1", "a2"], created_day=created, orders=orders),
                           config=GraphConfig()).profiles
    pd.testing.assert_frame_equal(in_order, shuffled)
    assert in_order[s.N_ORDERS].tolist() == [2, 1, 0]
    assert in_order[s.N_NEW_USER_ORDERS].tolist() == [1, 0, 0]


def test_coupon_orders_of_an_account_missing_from_the_accounts_table_still_farm() -> None:
    from linkgraph.graph.incidence import code_identifiers
    from linkgraph.graph.profiles import farmed_accounts, index_accounts

    coded = code_identifiers(identifiers(("a1", "card", "fp1"), ("a2", "card", "fp1")))
    table = tables(["a1"], orders=[("a1", None), ("a2", "new_user")])
    index = index_accounts(table.accounts, table.orders, coded)
    assert index.ids.tolist() == ["a1"]
    assert farmed_accounts(index).tolist() == [False, True]


def test_phone_on_file_is_held_while_its_account_is_active_across_chunks(monkeypatch) -> None:
    # the accounts' latest activity is found a chunk of rows at a time: an account whose
    # rows straddle two chunks (here one row each) is as active as one read whole
    from linkgraph.graph import incidence
    monkeypatch.setattr(incidence, "_CHUNK_ROWS", 1)
    kept_phone = identifiers(
        ("old", "ip", "81.2.69.160", None, 850, 880), ("old", "phone", "+79001234567", None, 0, 0),
        ("new", "phone", "+79001234567", None, 900, 900),
    )
    pair = links_of(kept_phone).pairs.query("kind == 'phone'").iloc[0]
    assert pair[s.GAP_DAYS] == 20.0


def test_the_normalize_stages_int32_codes_give_the_links_of_the_strings() -> None:
    family = identifiers(
        ("a", "card", "fp1"), ("a", "device", "d1"), ("b", "card", "fp1"), ("b", "device", "d1"),
        ("c", "address", "1 main st"), ("b", "address", "1 main st"), ("c", "ip", "81.2.69.160"),
    ).sort_values([s.ACCOUNT_ID, s.KIND, s.VALUE], ignore_index=True)
    coded = family.assign(
        account_code=pd.factorize(family[s.ACCOUNT_ID], sort=True)[0].astype("int32"),
        value_code=pd.factorize(family[s.KIND] + "\0" + family[s.VALUE], sort=True)[0].astype(
            "int32"))
    from_codes, from_strings = links_of(coded), links_of(family)
    for name in ("incidence", "pairs", "pair_tiers", "hubs", "profiles"):
        pd.testing.assert_frame_equal(getattr(from_codes, name), getattr(from_strings, name))
    assert from_codes.pair_tiers[[s.ACCOUNT_A, s.ACCOUNT_B]].to_numpy().tolist() == [["a", "b"],
                                                                                   ["b", "c"]]


def test_value_counts_given_with_the_identifiers_are_the_hub_counts() -> None:
    # an engine that grouped the identifiers sends each value's accounts with them
    # (value_accounts): the graph takes them instead of counting, and finds the same hub
    import numpy as np

    from linkgraph.engine import LOCAL
    from linkgraph.graph.incidence import code_identifiers

    class NoCounting:
        name = "no-counting"

        def __getattr__(self, call: str) -> Any:
            if call == "count_keys":
                raise AssertionError("the counts came with the identifiers")
            return getattr(LOCAL, call)

    locker = [(f"u{i:02d}", "address", "locker 7") for i in range(40)]
    family = identifiers(*locker, ("u00", "card", "fp1"), ("u01", "card", "fp1"),
                         ("u02", "device", "d1")).sort_values(
        [s.ACCOUNT_ID, s.KIND, s.VALUE], ignore_index=True)
    value = pd.factorize(family[s.KIND] + "\0" + family[s.VALUE], sort=True)[0].astype("int32")
    coded = family.assign(
        account_code=pd.factorize(family[s.ACCOUNT_ID], sort=True)[0].astype("int32"),
        value_code=value)
    counted = coded.assign(value_accounts=np.bincount(value)[value].astype("int32"))
    given = build_links(counted, tables(sorted(set(family[s.ACCOUNT_ID]))),
                        config=GraphConfig(), engine=NoCounting())  # type: ignore[arg-type]
    made = links_of(coded)
    for name in ("incidence", "pairs", "pair_tiers", "hubs", "profiles"):
        pd.testing.assert_frame_equal(getattr(given, name), getattr(made, name))
    assert given.hubs[s.KIND].tolist() == ["address"]
    # counts that do not add up to the rows (a frame edited since) are not taken
    assert code_identifiers(counted).n_accounts is not None
    edited = counted.assign(value_accounts=counted["value_accounts"] + 1)
    assert code_identifiers(edited).n_accounts is None


def test_pairs_come_in_the_same_order_from_the_packed_sort_as_from_the_argsort() -> None:
    # pairs sharing several values, groups of three, accounts with many rows: the rows
    # packed into one integer per pair sort as the argsort of the pair keys orders them
    import numpy as np

    from linkgraph.graph.incidence import code_identifiers
    from linkgraph.graph.pairs import _in_pair_order, _pair_order

    coded = code_identifiers(identifiers(
        ("a1", "card", "fp1"), ("a2", "card", "fp1"), ("a3", "card", "fp1"),
        ("a1", "device", "d1"), ("a2", "device", "d1"), ("a1", "ip", "81.2.69.160"),
        ("a3", "ip", "81.2.69.160"), ("a4", "ip", "81.2.69.160"), ("a2", "email", "x@y.org"),
        ("a4", "email", "x@y.org"), ("a3", "phone", "+79001234567"),
    ))
    group = coded.group
    row_a, row_b = (np.array(rows) for rows in zip(*[
        (i, j) for i in range(len(group)) for j in range(i + 1, len(group)) if group[i] == group[j]
    ], strict=True))
    shuffled = np.random.default_rng(3).permutation(len(row_a))
    row_a, row_b = row_a[shuffled], row_b[shuffled]
    order = _pair_order(coded, row_a, row_b)
    in_order = _in_pair_order(coded, row_a, row_b)
    assert len(row_a) == 8
    assert in_order[0].tolist() == row_a[order].tolist()
    assert in_order[1].tolist() == row_b[order].tolist()
