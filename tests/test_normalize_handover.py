"""What the load hashed, the normalize stage does not hash again: the codes handed over give
the identifiers the stage's own hashing gives, and frames changed since the load are hashed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from linkgraph.config import NormalizeConfig
from linkgraph.load import Tables, load_tables
from linkgraph.normalize import HandedOver, identifiers, normalize_identifiers, sources
from linkgraph.normalize.grouping import _pooled, narrow_codes, pooled_codes
from linkgraph.normalize.handed import given_columns

MARKET = {
    # not in id order, one id padded with spaces (the load trims it)
    "accounts.csv": "account_id,created_at,email,device_id,registration_ip\n"
                    "A3,2024-01-03T00:00:00Z,c@example.com,d3,10.0.0.3\n"
                    "A1,2024-01-01T00:00:00Z,a@example.com,d1,10.0.0.1\n"
                    " A2 ,2024-01-02T00:00:00Z,b@example.com,,10.0.0.1\n",
    "logins.csv": "account_id,ip,device_id,seen_at\n"
                  "A2,10.0.0.9,d2,2024-02-01\n"
                  "A2,10.0.0.9,d2,2024-02-03\n"
                  "A2,10.0.0.9,d2,2024-02-02\n"  # between the first and the last: reduced away
                  "A1, 10.0.0.1 ,d1,2024-02-01\n"  # padded IP: trimmed
                  "A9,10.0.0.7,d7,2024-02-01\n"  # unknown account: its IP and device no row's
                  "A3,not-an-ip,d3,2024-02-01\n"  # bad IP: rejected
                  "A3,,,2024-02-04\n",
    "addresses.csv": "account_id,address_id,line1,city,postal_code,country\n"
                     "A1,ad1,1 Main St,Springfield,12345,US\n"
                     "A2,ad2,1 Main St,Springfield,12345,US\n"
                     "A2,ad3,9 Elm St,Springfield,12345,US\n",
    "payments.csv": "account_id,payment_id,fingerprint,card_bin,card_last4,card_expiry\n"
                    "A1,p1,fp1,411111,1111,12/30\n"
                    "A3,p2,,411111,1111,12/30\n",
    "orders.csv": "order_id,account_id,created_at,address_id,payment_id\n"
                  "o1,A1,2024-03-01T00:00:00Z,ad1,p1\n"
                  "o2,A2,2024-03-02T00:00:00Z,ad3,\n"
                  "o3,A3,2024-03-03T00:00:00Z,ad1,p2\n",
}


def _load(tmp_path: Path) -> Tables:
    for name, text in MARKET.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return load_tables(tmp_path, max_reject_rate=0.9, sign_ins="first_last")


def _hashed(tables: Tables) -> pd.DataFrame:
    """The identifiers of ``tables`` by the stage's own hashing (plain tables: no codes read)."""
    return normalize_identifiers(tables, config=NormalizeConfig())


def test_load_codes_are_positions_in_the_sorted_accounts_and_the_ips_and_devices(tmp_path):
    tables = _load(tmp_path)
    positions, columns = tables.codes.take()

    ids = tables.accounts["account_id"].to_numpy()
    assert ids.tolist() == ["A1", "A2", "A3"]
    for name in ("logins", "addresses", "payments", "orders"):
        frame = getattr(tables, name)
        assert ids[positions[name]].tolist() == frame["account_id"].tolist()
    for table, column in (("logins", "ip"), ("logins", "device_id"),
                          ("accounts", "registration_ip")):
        codes = columns[f"{table}.{column}"]
        values = getattr(tables, table)[column]
        # equal codes for equal values, -1 for none
        assert (codes < 0).tolist() == values.isna().tolist()
        assert len(set(zip(codes.tolist(), values.tolist(), strict=True))) == \
            len(set(codes.tolist()))
        assert len(set(codes[codes >= 0].tolist())) == values.nunique()
    assert tables.codes.take() == ({}, {})  # handed over once


def test_handed_over_codes_give_the_identifiers_hashing_gives_without_hashing_ids(
        tmp_path, monkeypatch):
    expected = _hashed(_load(tmp_path))
    tables = _load(tmp_path)

    def no_hashing(*args, **kwargs):
        raise AssertionError("the account ids were hashed again")

    monkeypatch.setattr(identifiers, "_account_codes", no_hashing)
    got = normalize_identifiers(HandedOver(tables), config=NormalizeConfig())
    pd.testing.assert_frame_equal(got, expected)


def test_frames_changed_since_the_load_are_hashed_again(tmp_path):
    tables = _load(tmp_path)
    fewer = dataclasses.replace(tables, logins=tables.logins.iloc[1:].reset_index(drop=True),
                                orders=tables.orders.iloc[:1])
    expected = _hashed(dataclasses.replace(fewer, codes=type(tables.codes)()))
    got = normalize_identifiers(HandedOver(fewer), config=NormalizeConfig())
    pd.testing.assert_frame_equal(got, expected)


# --- orders timing the rows of their own account ---------------------------------------------

def _brute_force(ids: list, account: list[int], order_ids: list, order_account: list[int],
                 times: list) -> tuple[list, list]:
    nat = np.iinfo(np.int64).min
    first, last = [], []
    for own, own_id in zip(account, ids, strict=True):
        blank = own_id is None or not str(own_id).strip()
        seen = [t for o, oid, t in zip(order_account, order_ids, times, strict=True)
                if own >= 0 and not blank and o == own and oid == own_id]
        known = [t for t in seen if t is not None]
        first.append(min(known) if known else nat)
        last.append(max(known) if known else nat)
    return first, last


@pytest.mark.parametrize("few", [0, 1, 2, 8])
def test_orders_time_the_rows_of_their_account_with_an_equal_id_compared_or_hashed(
        monkeypatch, few):
    monkeypatch.setattr(sources, "_FEW", few)  # 0: every account hashed; 8: none
    monkeypatch.setattr(sources, "_ORDER_SLICE", 3)
    ids = ["p1", "p2", "p1", " ", None, "p1", "p3", "p3", "p4"]
    account = [0, 0, 0, 0, 0, 1, 1, -1, 2]
    order_ids = ["p1", "p2", "p1", " ", None, "p1", "p3", "p3", "p1", "p2", "p4"]
    order_account = [0, 0, 0, 0, 0, 0, 1, -1, 1, 2, 2]
    seconds = [5, 1, 9, 2, 3, None, 4, 6, 7, 8, None]
    table = pd.DataFrame({"payment_id": pd.Series(ids, dtype="str")})
    orders = pd.DataFrame({
        "payment_id": pd.Series(order_ids, dtype="str"),
        "created_at": pd.to_datetime(pd.Series([None if s is None else s * 10**9 for s in seconds],
                                               dtype="float64"), utc=True)})
    first, last = sources._order_times(table, np.array(account, dtype=np.int32), orders,
                                       np.array(order_account, dtype=np.int32), "payment_id")
    micros = [None if s is None else s * 10**6 for s in seconds]
    assert (first.tolist(), last.tolist()) == _brute_force(ids, account, order_ids,
                                                           order_account, micros)


# --- a kind of one source is not hashed again ------------------------------------------------

@pytest.mark.parametrize("sort", [False, True])
def test_one_sources_values_pool_as_their_text_would(sort):
    text = pd.Series(["b", None, "a", "b", "c"])
    (codes,), distinct = _pooled([narrow_codes(text)], sort=sort)
    (expected,), expected_distinct = pooled_codes([text], sort=sort)
    assert codes.tolist() == expected.tolist()
    assert distinct.tolist() == expected_distinct.tolist()


def test_coded_columns_give_what_hashing_them_gives_and_codes_of_other_rows_go_unused():
    ips = pd.Series(["10.0.0.3", None, "10.0.0.2", "10.0.0.3", "10.0.0.9"], dtype="str")
    logins = {"logins": pd.DataFrame({"ip": ips})}
    codes, distinct = given_columns(logins, {"logins.ip": np.array([5, -1, 2, 5, 0],
                                                                   dtype=np.int32)})["logins.ip"]
    expected_codes, expected_distinct = narrow_codes(ips)
    assert codes.tolist() == expected_codes.tolist()
    assert distinct.tolist() == expected_distinct.tolist()
    assert given_columns(logins, {"logins.ip": np.array([0], dtype=np.int32)}) == {}
