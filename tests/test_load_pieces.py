"""The load stage a piece at a time: checks across pieces, and each place's first and last sign-in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from linkgraph import normalize
from linkgraph.config import Config
from linkgraph.load import load_tables
from linkgraph.load._buckets import bucketed_codes
from linkgraph.load._signins import first_and_last_sign_ins

ACCOUNTS = "account_id,created_at\nA1,2024-01-01T00:00:00Z\nA2,2024-01-02T00:00:00Z\n"
NAT = np.iinfo(np.int64).min


def write(directory: Path, files: dict[str, str]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8", newline="")
    return directory


def rejects_of(tables, table: str) -> list[tuple]:
    rejects = tables.rejects[tables.rejects["table"] == table]
    return [(r.row, r.column, r.reason, r.value) for r in rejects.itertuples()]


# --- each place's first and last sign-in ---------------------------------------------------

SIGN_INS = (
    "account_id,ip,device_id,seen_at\n"
    "A1,10.0.0.1,d1,2024-01-02\n"  # 1: between the first and the last: dropped
    "A1,10.0.0.1,d1,2024-01-01\n"  # 2: the first of (A1, 10.0.0.1, d1)
    "A1,10.0.0.1,d1,\n"  # 3: no time while the place has some: dropped
    "A1,10.0.0.1,d1,2024-01-03\n"  # 4: the last (the earlier of two at the same time)
    "A1,10.0.0.1,d1,2024-01-03\n"  # 5: tied with row 4, later: dropped
    "A1,10.0.0.1,,2024-01-05\n"  # 6: no device is a place of its own
    "A2,10.0.0.1,d1,\n"  # 7: a place with no time at all: its first row stays
    "A2,10.0.0.1,d1,\n"  # 8: dropped
    "A9,10.0.0.1,d1,2024-01-01\n"  # 9: unknown account: rejected, not reduced away
    "A9,10.0.0.1,d1,2024-01-02\n"  # 10: rejected too
    "A9,10.0.0.1,d1,2024-01-03\n"  # 11: rejected too
)


def test_first_and_last_keep_each_places_earliest_and_latest_sign_in(tmp_path: Path) -> None:
    data = write(tmp_path, {"accounts.csv": ACCOUNTS, "logins.csv": SIGN_INS})
    logins = load_tables(data, max_reject_rate=0.5, sign_ins="first_last").logins

    assert logins["account_id"].tolist() == ["A1", "A1", "A1", "A2"]
    assert logins["seen_at"].dt.day.tolist()[:3] == [1, 3, 5]
    assert logins["seen_at"].isna().tolist() == [False, False, False, True]
    assert logins["device_id"].isna().tolist() == [False, False, True, False]


def test_first_and_last_drop_no_reject_and_count_every_sign_in(tmp_path: Path) -> None:
    data = write(tmp_path, {"accounts.csv": ACCOUNTS, "logins.csv": SIGN_INS})
    reduced = load_tables(data, max_reject_rate=0.5, sign_ins="first_last")
    every = load_tables(data, max_reject_rate=0.5)

    assert rejects_of(reduced, "logins") == [(row, "account_id", "unknown account_id", "A9")
                                             for row in (9, 10, 11)]
    pd.testing.assert_frame_equal(reduced.rejects, every.rejects)
    logins = next(source for source in reduced.sources if source.table == "logins")
    assert (logins.rows_read, logins.rows_accepted, logins.rows_rejected) == (11, 8, 3)
    assert reduced.sources == every.sources
    assert len(every.logins) == 8


def test_first_and_last_give_the_identifiers_of_every_sign_in(tmp_path: Path) -> None:
    data = write(tmp_path, {"accounts.csv": ACCOUNTS, "logins.csv": SIGN_INS + (
        "A2, 10.0.0.1 ,d1,2024-02-01\n"  # a padded IP is the same place once trimmed
        "A2,10.0.0.1,d1,2024-01-15\n"
        "A2,10.0.0.1,d2,2024-01-10\n")})
    config = Config().normalize
    reduced = load_tables(data, max_reject_rate=0.5, sign_ins="first_last")
    every = load_tables(data, max_reject_rate=0.5)

    assert len(reduced.logins) < len(every.logins)
    pd.testing.assert_frame_equal(normalize.normalize_identifiers(reduced, config=config),
                                  normalize.normalize_identifiers(every, config=config))


def test_first_and_last_match_a_row_by_row_search() -> None:
    rng = np.random.default_rng(7)
    for _ in range(200):
        n = int(rng.integers(0, 40))
        account, ip, device = (rng.integers(low, 3, n) for low in (0, -1, -1))  # -1: missing
        times = rng.integers(0, 5, n).astype(np.int64)
        times[rng.random(n) < 0.2] = NAT
        expected = np.zeros(n, dtype=bool)
        places: dict[tuple[int, int, int], list[int]] = {}
        for row in range(n):
            places.setdefault((account[row], ip[row], device[row]), []).append(row)
        for rows in places.values():
            never = 1 << 62  # no time: after every time, for the first and for the last
            expected[min(rows, key=lambda r: (never if times[r] == NAT else times[r], r))] = True
            expected[min(rows, key=lambda r: (never if times[r] == NAT else -times[r], r))] = True
        assert first_and_last_sign_ins(account, ip, device, times).tolist() == expected.tolist()


def test_first_and_last_do_not_depend_on_how_large_the_codes_are() -> None:
    # small codes sort with the row number packed under the key; codes this large leave
    # no room for it and take the stable sort: both choose the same sign-ins
    rng = np.random.default_rng(5)
    account, ip, device = rng.integers(0, 6, 300), rng.integers(-1, 3, 300), rng.integers(-1, 3, 300)
    times = rng.integers(0, 4, 300).astype(np.int64)
    times[rng.random(300) < 0.2] = NAT
    large = np.where(device < 0, -1, device + (1 << 50))
    assert first_and_last_sign_ins(account, ip, large, times).tolist() == \
        first_and_last_sign_ins(account, ip, device, times).tolist()


def test_first_and_last_are_the_same_when_sorted_an_account_at_a_time(
        monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(11)
    account, ip, device = rng.integers(0, 9, 500), rng.integers(-1, 4, 500), rng.integers(-1, 4, 500)
    times = rng.integers(0, 6, 500).astype(np.int64)
    whole = first_and_last_sign_ins(account, ip, device, times)
    monkeypatch.setattr("linkgraph.load._signins.PART_ROWS", 60)
    assert first_and_last_sign_ins(account, ip, device, times).tolist() == whole.tolist()


# --- pieces --------------------------------------------------------------------------------

def test_checks_across_pieces_are_those_of_the_whole_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    orders = ("order_id,account_id,amount\n"
              "o1,A1,1\n"
              "o2,A9,2\n"  # unknown account: dropped before the duplicate check
              "o1,A1,3\n"  # duplicate of row 1, in the next piece
              "o2,A2,4\n"  # the first o2 still kept
              " o3 ,A1,5\n"
              "o3,A2,6\n")  # duplicate of the trimmed o3
    accounts = "account_id,registration_ip\nA2,10.0.0.1\nA1,bad\n A1,also bad\n"
    whole = load_tables(write(tmp_path / "whole", {"accounts.csv": accounts,
                                                   "orders.csv": orders}), max_reject_rate=0.9)
    monkeypatch.setattr("linkgraph.load._read.PIECE_ROWS", 2)
    cut = write(tmp_path / "cut", {"accounts.csv": accounts})
    table = pa.table({"order_id": ["o1", "o2", "o1", "o2", " o3 ", "o3"],
                      "account_id": ["A1", "A9", "A1", "A2", "A1", "A2"],
                      "amount": ["1", "2", "3", "4", "5", "6"]})
    pq.write_table(table, cut / "orders.parquet", row_group_size=2)  # three row groups
    pieces = load_tables(cut, max_reject_rate=0.9)

    assert pieces.orders["order_id"].tolist() == ["o1", "o2", "o3"]
    assert pieces.orders["amount"].tolist() == [1.0, 4.0, 5.0]
    assert rejects_of(pieces, "orders") == [
        (2, "account_id", "unknown account_id", "A9"),
        (3, "order_id", "duplicate order_id", "o1"),
        (6, "order_id", "duplicate order_id", "o3"),
    ]
    # the bad IP of the duplicate account is not reported: its row is dropped
    assert rejects_of(pieces, "accounts") == [
        (2, "registration_ip", "bad IP address (value ignored, row kept)", "bad"),
        (3, "account_id", "duplicate account_id", " A1"),
    ]
    for name in ("accounts", "orders"):
        pd.testing.assert_frame_equal(getattr(pieces, name), getattr(whole, name))
    pd.testing.assert_frame_equal(pieces.rejects, whole.rejects)


def test_bucketed_codes_are_equal_exactly_for_equal_strings(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("linkgraph.load._buckets.BATCH_ROWS", 4)
    rng = np.random.default_rng(5)
    words = ["", "a", "b", "ab", "ba", "abc", "xabc", "é", "aé", None]
    values = [words[i] for i in rng.integers(0, len(words), 300)]
    codes = bucketed_codes(pa.chunked_array([values[:120], values[120:]], type=pa.string()))
    for value, code in zip(values, codes, strict=True):
        assert (code == -1) == (value is None)
    pairs = {(v, int(c)) for v, c in zip(values, codes, strict=True) if v is not None}
    assert len(pairs) == len({v for v, _ in pairs}) == len({c for _, c in pairs})
