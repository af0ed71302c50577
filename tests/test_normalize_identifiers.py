"""The identifiers frame: every source, times, suppression, masks, order independence."""

from __future__ import annotations

import dataclasses
import gc
import weakref

import pandas as pd
import pytest

from linkgraph import schemas as S
from linkgraph.config import NormalizeConfig
from linkgraph.errors import InputError
from linkgraph.load import Tables
from linkgraph.normalize import HandedOver, identifiers, normalize_identifiers, sources
from linkgraph.normalize.name import normalize_names


def _tables(**frames: pd.DataFrame) -> Tables:
    tables = {}
    for name, (_, columns) in S.INPUT_TABLES.items():
        frame = frames.get(name, pd.DataFrame(columns=list(columns)))
        for column in columns:
            if column not in frame:
                frame = frame.assign(**{column: pd.Series(pd.NA, index=frame.index, dtype=object)})
        for column in S.TIMESTAMP_COLUMNS.get(name, ()):
            frame = frame.assign(**{column: pd.to_datetime(frame[column], utc=True)})
        tables[name] = frame
    return Tables(**tables, rejects=pd.DataFrame(columns=list(S.REJECT_COLUMNS)))


def _family_and_pickup() -> Tables:
    """Two accounts of one person (phone and email written differently), a stranger at a locker."""
    accounts = pd.DataFrame({
        "account_id": ["a1", "a2", "a3"],
        "created_at": ["2026-01-01T10:00:00Z", "2026-02-01T10:00:00Z", "2026-03-01T10:00:00Z"],
        "email": ["J.Doe+shop@gmail.com", "jdoe@googlemail.com", "test@test.com"],
        "phone": ["8 912 345-67-89", "+7 (912) 345 67 89", "0000000000"],
        "full_name": ["John Doe", "Doe John", "Ann"],
        "registration_ip": ["81.2.69.160", "192.168.0.1", None],
        "device_id": ["DEV-9F8E7D6C", None, "unknown"],
        "country": ["RU", "DE", "RU"],
    })
    addresses = pd.DataFrame({
        "account_id": ["a1", "a2", "a3"], "address_id": ["ad1", "ad2", "ad3"],
        "recipient_name": ["John Doe", None, None],
        "line1": ["12 Main St., apt. 4", "12 main street #4", "Packstation 101"],
        "postal_code": ["12345", "12345", "10115"], "country": ["US", "US", "DE"],
    })
    payments = pd.DataFrame({
        "account_id": ["a1", "a2", "a3"], "payment_id": ["p1", "p2", "p3"],
        "fingerprint": ["fp_ABCDEF123456", None, None],
        "card_bin": ["553691", "553691", None], "card_last4": ["0012", "0012", "1111"],
        "card_expiry": ["01/27", "01/2027", "01/27"],
        "holder_name": ["J. Doe", "JOHN DOE", None],
    })
    logins = pd.DataFrame({
        "account_id": ["a1", "a1", "a2"],
        "ip": ["2a02:6b8:0:1::1", "2a02:6b8:0:1::2", "2a02:6b8:0:1:5::9"],
        "device_id": ["dev-9f8e7d6c", "dev-9f8e7d6c", "dev-9f8e7d6c"],
        "seen_at": ["2026-01-05T00:00:00Z", "2026-01-09T00:00:00Z", "2026-02-03T00:00:00Z"],
    })
    orders = pd.DataFrame({
        "order_id": ["o1", "o2", "o3"], "account_id": ["a1", "a1", "a2"],
        "created_at": ["2026-01-10T00:00:00Z", "2026-01-20T00:00:00Z", "2026-02-10T00:00:00Z"],
        "address_id": ["ad1", "ad1", "ad2"], "payment_id": ["p1", "p1", "p2"],
    })
    return _tables(accounts=accounts, addresses=addresses, payments=payments, logins=logins,
                   orders=orders)


def _row(identifiers: pd.DataFrame, account: str, kind: str) -> pd.DataFrame:
    return identifiers[(identifiers["account_id"] == account) & (identifiers["kind"] == kind)]


def test_same_person_written_differently_shares_canonical_values():
    ids = normalize_identifiers(_family_and_pickup(), config=NormalizeConfig())
    for kind in ("email", "phone", "address", "device", "ip", "name"):
        a1 = set(_row(ids, "a1", kind)["value"])
        a2 = set(_row(ids, "a2", kind)["value"])
        assert a1 & a2, kind


def test_identifiers_have_the_contract_columns_sorted_by_key():
    ids = normalize_identifiers(_family_and_pickup(), config=NormalizeConfig())
    assert tuple(ids.columns) == S.IDENTIFIER_COLUMNS + S.IDENTIFIER_CODE_COLUMNS
    keys = ids[["account_id", "kind", "value"]]
    assert not keys.duplicated().any()
    pd.testing.assert_frame_equal(
        ids, ids.sort_values(["account_id", "kind", "value"]).reset_index(drop=True)
    )
    assert str(ids["first_seen"].dt.tz) == "UTC"


def test_junk_private_and_pickup_values_are_kept_but_suppressed():
    ids = normalize_identifiers(_family_and_pickup(), config=NormalizeConfig())
    suppressed = {(r.account_id, r.kind): r.suppressed for r in ids.itertuples()
                  if not pd.isna(r.suppressed)}
    assert suppressed[("a3", "email")] == "junk"
    assert suppressed[("a3", "phone")] == "junk"
    assert suppressed[("a3", "device")] == "junk"
    assert suppressed[("a3", "address")] == "pickup_point"
    assert suppressed[("a3", "name")] == "invalid"
    assert suppressed[("a2", "ip")] == "private_ip"
    assert ("a1", "email") not in suppressed


def test_times_come_from_accounts_logins_and_orders():
    ids = normalize_identifiers(_family_and_pickup(), config=NormalizeConfig())
    device = _row(ids, "a1", "device").iloc[0]
    # the account's own device_id (created 2026-01-01) and its sign-ins (01-05, 01-09)
    assert device["first_seen"] == pd.Timestamp("2026-01-01T10:00:00Z")
    assert device["last_seen"] == pd.Timestamp("2026-01-09T00:00:00Z")
    assert device["source"] == "accounts.device_id"
    address = _row(ids, "a1", "address").iloc[0]
    assert address["first_seen"] == pd.Timestamp("2026-01-10T00:00:00Z")
    assert address["last_seen"] == pd.Timestamp("2026-01-20T00:00:00Z")
    pickup = _row(ids, "a3", "address").iloc[0]
    assert pd.isna(pickup["first_seen"])  # no order used it


def test_untokenised_copy_of_a_tokenised_card_takes_its_fingerprint_and_mask_uses_last4():
    ids = normalize_identifiers(_family_and_pickup(), config=NormalizeConfig())
    # a2's card has no fingerprint and a1's fingerprinted card has the same digits
    assert _row(ids, "a2", "card")["value"].tolist() == ["fp_ABCDEF123456"]
    assert _row(ids, "a2", "card")["masked"].tolist() == ["card ****0012"]
    assert _row(ids, "a1", "card")["masked"].tolist() == ["card ****0012"]
    assert _row(ids, "a1", "card_digits").empty
    assert _row(ids, "a2", "card_digits").empty
    assert _row(ids, "a3", "card_digits").empty  # no BIN


def test_masked_values_hide_the_raw_identifiers():
    ids = normalize_identifiers(_family_and_pickup(), config=NormalizeConfig())
    masked = dict(zip(zip(ids["account_id"], ids["kind"], ids["value"]), ids["masked"],
                      strict=True))
    assert masked[("a1", "email", "jdoe@gmail.com")] == "j***@gmail.com"
    assert masked[("a1", "phone", "+79123456789")] == "+7********89"
    assert masked[("a1", "ip", "2a02:6b8:0:1::/64")] == "2a02:6b8:0:x::/64"


def test_output_does_not_depend_on_input_row_order():
    tables = _family_and_pickup()
    ids = normalize_identifiers(tables, config=NormalizeConfig())
    reversed_tables = Tables(**{
        name: getattr(tables, name).iloc[::-1] for name in
        ("accounts", "addresses", "payments", "logins", "orders", "sanctions", "decisions")
    }, rejects=tables.rejects)
    pd.testing.assert_frame_equal(normalize_identifiers(reversed_tables, config=NormalizeConfig()),
                                  ids)


def test_configured_junk_and_default_country_are_used():
    accounts = pd.DataFrame({"account_id": ["a1"], "phone": ["8 912 345-67-89"]})
    config = NormalizeConfig(default_country="RU", junk_values=("phone:+79123456789",))
    ids = normalize_identifiers(_tables(accounts=accounts), config=config)
    assert ids[["value", "suppressed"]].to_numpy().tolist() == [["+79123456789", "junk"]]


def test_only_accounts_supplied_gives_account_identifiers():
    accounts = pd.DataFrame({"account_id": ["a1"], "email": ["a@b.co"]})
    ids = normalize_identifiers(_tables(accounts=accounts), config=NormalizeConfig())
    assert ids["kind"].tolist() == ["email"]


def test_missing_required_column_is_a_clear_error():
    tables = _tables()
    broken = Tables(**{**{n: getattr(tables, n) for n in S.TABLE_NAMES},
                       "logins": pd.DataFrame({"account_id": []}), "rejects": tables.rejects})
    with pytest.raises(InputError, match="logins.ip"):
        normalize_identifiers(broken, config=NormalizeConfig())


def test_codes_ascend_with_the_strings_one_value_code_per_kind_and_value():
    ids = normalize_identifiers(_family_and_pickup(), config=NormalizeConfig())
    assert (ids["account_code"].diff().dropna() >= 0).all()
    assert ids.groupby("account_code")["account_id"].nunique().eq(1).all()
    assert ids.groupby("account_id")["account_code"].nunique().eq(1).all()
    assert ids.groupby("value_code")[["kind", "value"]].nunique().eq(1).all().all()
    assert ids.groupby(["kind", "value"])["value_code"].nunique().eq(1).all()
    by_code = ids.drop_duplicates("value_code").sort_values("value_code")
    assert by_code[["kind", "value"]].equals(
        by_code[["kind", "value"]].sort_values(["kind", "value"]))


def test_graph_gives_the_same_links_with_or_without_the_codes():
    from linkgraph.config import GraphConfig
    from linkgraph.graph import build_links

    tables = _family_and_pickup()
    ids = normalize_identifiers(tables, config=NormalizeConfig())
    with_codes = build_links(ids, tables, config=GraphConfig())
    without = build_links(ids[list(S.IDENTIFIER_COLUMNS)], tables, config=GraphConfig())
    assert len(with_codes.pair_tiers) > 0
    for name in ("incidence", "pairs", "pair_tiers", "hubs", "profiles"):
        pd.testing.assert_frame_equal(getattr(with_codes, name), getattr(without, name))


def test_no_accounts_gives_an_empty_frame_with_the_contract_columns():
    ids = normalize_identifiers(_tables(), config=NormalizeConfig())
    assert ids.empty and tuple(ids.columns) == S.IDENTIFIER_COLUMNS + S.IDENTIFIER_CODE_COLUMNS
    assert str(ids["first_seen"].dtype).endswith("UTC]")


def _three_cards_same_digits() -> Tables:
    """One card tokenised for a1 and untokenised for a2; a3 a different card with equal digits."""
    accounts = pd.DataFrame({"account_id": ["a1", "a2", "a3", "a4"]})
    payments = pd.DataFrame({
        "account_id": ["a1", "a2", "a3", "a4"], "payment_id": ["p1", "p2", "p3", "p4"],
        "fingerprint": ["fp_one", None, "fp_three", "fp_four"],
        "card_bin": ["446272", "446272", "520000", "520000"],
        "card_last4": ["9505", "9505", "2501", "2501"],
        "card_expiry": ["08/30", "08/2030", "01/27", "01/27"],
    })
    return _tables(accounts=accounts, payments=payments)


def test_card_without_fingerprint_is_the_one_tokenised_card_with_its_digits() -> None:
    identifiers = normalize_identifiers(_three_cards_same_digits(), config=NormalizeConfig())
    cards = identifiers[identifiers["kind"] == "card"]
    assert cards.loc[cards["account_id"].isin(["a1", "a2"]), "value"].tolist() == [
        "fp_one", "fp_one"]
    assert identifiers[identifiers["kind"] == "card_digits"].empty


def test_two_tokenised_cards_with_equal_digits_are_not_joined_by_digits() -> None:
    identifiers = normalize_identifiers(_three_cards_same_digits(), config=NormalizeConfig())
    cards = identifiers[identifiers["kind"] == "card"].set_index("account_id")["value"]
    assert (cards["a3"], cards["a4"]) == ("fp_three", "fp_four")
    assert not identifiers[identifiers["kind"] == "card_digits"]["account_id"].isin(["a3", "a4"]).any()


def test_strangers_card_with_the_same_digits_but_another_holder_is_another_card() -> None:
    accounts = pd.DataFrame({"account_id": ["farm", "stranger"]})
    payments = pd.DataFrame({
        "account_id": ["farm", "stranger"], "payment_id": ["p1", "p2"],
        "fingerprint": ["fp_prepaid", None], "card_bin": ["404159", "404159"],
        "card_last4": ["7569", "7569"], "card_expiry": ["09/30", "09/30"],
        "holder_name": ["Nicole Fischer", "PETRA KOENIG"],
    })
    ids = normalize_identifiers(_tables(accounts=accounts, payments=payments),
                                config=NormalizeConfig())
    cards = ids[ids["kind"].isin(["card", "card_digits"])].set_index("account_id")
    assert cards.loc["farm", "value"] == "fp_prepaid"
    assert cards.loc["stranger", "value"] == "404159|7569|0930|KP"


def _cards_with_equal_digits_and_initials(holders: list[str], fingerprints: list[str | None]
                                          ) -> pd.DataFrame:
    ids = [f"a{i}" for i in range(len(holders))]
    payments = pd.DataFrame({
        "account_id": ids, "payment_id": [f"p{i}" for i in range(len(holders))],
        "fingerprint": fingerprints, "card_bin": "542418", "card_last4": "8584",
        "card_expiry": "12/28", "holder_name": holders,
    })
    tables = _tables(accounts=pd.DataFrame({"account_id": ids}), payments=payments)
    identifiers = normalize_identifiers(tables, config=NormalizeConfig())
    return identifiers[identifiers["kind"].isin(["card", "card_digits"])].set_index("account_id")


def test_strangers_card_with_the_same_digits_and_initials_does_not_take_a_fingerprint() -> None:
    # seen at 2M accounts: an honest shopper's untokenised card and a farm's prepaid card,
    # one BIN, last four and expiry, holders MICHAEL WRIGHT and Megan White (both MW)
    cards = _cards_with_equal_digits_and_initials(["Megan White", "MICHAEL WRIGHT"],
                                                  ["fp_farm", None])
    assert cards.loc["a0", "value"] == "fp_farm"
    assert cards.loc["a1", "kind"] == "card_digits"
    assert cards.loc["a1", "value"] == "542418|8584|1228|MW|michael wright"


def test_one_holder_written_two_ways_still_takes_the_fingerprint() -> None:
    cards = _cards_with_equal_digits_and_initials(
        ["Megan White", "M. WHITE", "White Megan", "Michael Wright"],
        ["fp_card", None, None, None])
    assert cards.loc[["a0", "a1", "a2"], "value"].tolist() == ["fp_card"] * 3
    assert cards.loc["a3", "value"] == "542418|8584|1228|MW|michael wright"


def test_strangers_bare_cards_with_the_same_digits_and_initials_are_two_cards() -> None:
    cards = _cards_with_equal_digits_and_initials(["Megan White", "MICHAEL WRIGHT", "megan white"],
                                                  [None, None, None])
    assert cards["value"].tolist() == ["542418|8584|1228|MW", "542418|8584|1228|MW|michael wright",
                                       "542418|8584|1228|MW"]


def test_card_without_fingerprint_matching_two_tokenised_cards_meets_only_bare_cards() -> None:
    tables = _three_cards_same_digits()
    bare = pd.DataFrame({"account_id": ["a5"], "payment_id": ["p5"], "fingerprint": [None],
                         "card_bin": ["520000"], "card_last4": ["2501"], "card_expiry": ["01/27"]})
    tables = Tables(**{**{n: getattr(tables, n) for n in (
        "accounts", "addresses", "logins", "orders", "sanctions", "decisions")},
        "payments": pd.concat([tables.payments, bare], ignore_index=True),
        "accounts": pd.concat([tables.accounts, pd.DataFrame({"account_id": ["a5"]})],
                              ignore_index=True)}, rejects=tables.rejects)
    identifiers = normalize_identifiers(tables, config=NormalizeConfig())
    digits = identifiers[identifiers["kind"] == "card_digits"]
    assert digits["account_id"].tolist() == ["a5"]
    assert "a5" not in identifiers.loc[identifiers["kind"] == "card", "account_id"].tolist()


def test_ids_values_and_masks_are_categoricals_of_their_sorted_distinct_strings():
    # "annlee" is a name, and the same string a device id: one category for both kinds
    accounts = pd.DataFrame({"account_id": ["a2", "a1"], "full_name": ["Annlee", "Bob Ray"],
                             "device_id": ["annlee", "dev-77"]})
    ids = normalize_identifiers(_tables(accounts=accounts), config=NormalizeConfig())
    for column in ("account_id", "value", "masked"):
        categories = ids[column].cat.categories
        assert categories.is_unique and categories.is_monotonic_increasing
        assert set(categories) == set(ids[column].astype(str))  # no unused category
        assert ids[column].cat.codes.dtype.itemsize <= 4
    shared = ids[ids["value"].astype(str) == "annlee"]
    assert sorted(shared["kind"].astype(str)) == ["device", "name"]
    assert ids.groupby(["kind", "value"], observed=True)["value_code"].nunique().eq(1).all()


def test_tables_handed_over_give_the_same_identifiers_and_are_let_go_once_read(monkeypatch):
    expected = normalize_identifiers(_family_and_pickup(), config=NormalizeConfig())
    frames = HandedOver(_family_and_pickup()).take()
    sign_ins = weakref.ref(frames["logins"])
    handed = HandedOver(Tables(**{name: frames.get(name, pd.DataFrame()) for name in (
        "accounts", "addresses", "payments", "logins", "orders", "sanctions", "decisions",
        "rejects")}))
    del frames
    # names are grouped once every other table is read: the sign-ins must be gone by then
    alive_then = []

    def names(values: pd.Series, *, distinct: bool = False) -> pd.DataFrame:
        gc.collect()
        alive_then.append(sign_ins() is not None)
        return normalize_names(values, distinct=distinct)

    monkeypatch.setitem(identifiers._DEFERRED, S.K_NAME, names)
    ids = normalize_identifiers(handed, config=NormalizeConfig())
    pd.testing.assert_frame_equal(ids, expected)
    assert alive_then == [False]
    assert handed.take() == {}  # read once


def test_rules_given_a_few_rows_at_a_time_give_what_one_call_gives(monkeypatch):
    expected = normalize_identifiers(_family_and_pickup(), config=NormalizeConfig())
    monkeypatch.setattr(sources, "SLICE", 1)  # every address, phone and distinct raw value alone
    monkeypatch.setattr(sources, "_ORDER_SLICE", 1)  # and every order looked up alone
    pd.testing.assert_frame_equal(
        normalize_identifiers(_family_and_pickup(), config=NormalizeConfig()), expected)


def test_orders_without_their_ids_give_the_same_identifiers():
    # the pipeline drops the orders' ids after the load (which checked them): this stage
    # reads the accounts, times, addresses and payments of the orders, not their ids
    tables = _family_and_pickup()
    without = dataclasses.replace(tables, orders=tables.orders.drop(columns=["order_id"]))
    pd.testing.assert_frame_equal(normalize_identifiers(without, config=NormalizeConfig()),
                                  normalize_identifiers(tables, config=NormalizeConfig()))
