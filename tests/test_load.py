"""The load stage: the input contract, rejects and the reject limit."""

from __future__ import annotations

import csv
from pathlib import Path

import hypothesis.strategies as st
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings

from linkgraph import schemas as s
from linkgraph.errors import InputError, RejectLimitError, RunDirectoryError
from linkgraph.load import load_previous_run, load_tables, summarize_tables

MESSY = Path(__file__).parent / "data" / "messy"

TWO_ACCOUNTS = "account_id,created_at\nA1,2024-01-01T00:00:00Z\nA2,2024-01-02T00:00:00Z\n"


def write_tables(directory: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = directory / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
    return directory


def csv_to_parquet(directory: Path, name: str) -> None:
    """Replace NAME.csv by NAME.parquet with every column as text (what a string export gives)."""
    source = directory / f"{name}.csv"
    header = next(csv.reader(source.open(encoding="utf-8-sig", newline="")))
    table = pacsv.read_csv(source, convert_options=pacsv.ConvertOptions(
        column_types={c: pa.string() for c in header}, strings_can_be_null=True,
        null_values=[""]))
    pq.write_table(table, directory / f"{name}.parquet")
    source.unlink()


def rejects_of(tables, table: str) -> list[tuple]:
    rejects = tables.rejects[tables.rejects[s.TABLE] == table]
    return [(r.row, None if pd.isna(r.column) else r.column, r.reason,
             None if pd.isna(r.value) else r.value) for r in rejects.itertuples()]


# --- types ---------------------------------------------------------------------------------


def test_ids_phones_and_postal_codes_keep_leading_zeros(tmp_path: Path) -> None:
    write_tables(tmp_path, {
        "accounts.csv": "account_id,phone\n007,0912345\n",
        "addresses.csv": "account_id,postal_code,address_id\n007,01234,0042\n",
        "payments.csv": "account_id,card_bin,card_last4\n007,004512,0042\n",
    })
    tables = load_tables(tmp_path)
    assert tables.accounts[[s.ACCOUNT_ID, s.PHONE]].values.tolist() == [["007", "0912345"]]
    assert tables.addresses[[s.POSTAL_CODE, s.ADDRESS_ID]].values.tolist() == [["01234", "0042"]]
    assert tables.payments[[s.CARD_BIN, s.CARD_LAST4]].values.tolist() == [["004512", "0042"]]


def test_timezone_offsets_become_utc_and_naive_times_are_utc(tmp_path: Path) -> None:
    write_tables(tmp_path, {
        "accounts.csv": "account_id\nA1\n",
        "logins.csv": ("account_id,ip,seen_at\n"
                       "A1,10.0.0.1,2024-03-01T10:00:00+03:00\n"
                       "A1,10.0.0.1,2024-03-01T10:00:00-05:30\n"
                       "A1,10.0.0.1,2024-03-01 10:00:00\n"
                       "A1,10.0.0.1,2024-03-01T10:00:00Z\n"
                       "A1,10.0.0.1,2024-03-01\n"),
    })
    seen = load_tables(tmp_path).logins[s.SEEN_AT]
    assert str(seen.dtype) == "datetime64[ns, UTC]"
    assert seen.tolist() == [pd.Timestamp(t, tz="UTC") for t in (
        "2024-03-01 07:00", "2024-03-01 15:30", "2024-03-01 10:00", "2024-03-01 10:00",
        "2024-03-01 00:00")]


def test_mixed_offsets_and_naive_times_in_one_column_all_become_utc(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": "account_id,created_at\nA1,2024-01-01T12:00:00+01:00\n"
                                            "A2,2024-01-01 12:00\nA3,\n"})
    created = load_tables(tmp_path).accounts[s.CREATED_AT]
    assert created.iloc[:2].tolist() == [pd.Timestamp("2024-01-01 11:00", tz="UTC"),
                                         pd.Timestamp("2024-01-01 12:00", tz="UTC")]
    assert pd.isna(created.iloc[2])


def test_amounts_are_floats_ids_are_stripped_and_decisions_lower_case(tmp_path: Path) -> None:
    write_tables(tmp_path, {
        "accounts.csv": "account_id\n A1 \n",
        "orders.csv": "order_id,account_id,amount,discount\n O1\t,A1, 12.50 ,\n",
        "decisions.csv": "account_id,decision\nA1, Cleared\n",
        "sanctions.csv": "account_id,action\nA1,BANNED\n",
    })
    tables = load_tables(tmp_path)
    assert tables.accounts[s.ACCOUNT_ID].tolist() == ["A1"]
    assert tables.orders[[s.ORDER_ID, s.ACCOUNT_ID]].values.tolist() == [["O1", "A1"]]
    assert tables.orders[s.AMOUNT].dtype == np.float64
    assert tables.orders[s.AMOUNT].tolist() == [12.5]
    assert pd.isna(tables.orders[s.DISCOUNT].iloc[0])
    assert tables.decisions[s.DECISION].tolist() == ["cleared"]
    assert tables.sanctions[s.ACTION].tolist() == ["banned"]
    assert tables.rejects.empty


def test_extra_columns_are_kept_and_missing_optional_columns_are_empty(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": "loyalty_tier,account_id\ngold,A1\n"})
    accounts = load_tables(tmp_path).accounts
    contract = list(s.INPUT_TABLES["accounts"][1])
    assert list(accounts.columns) == contract + ["loyalty_tier"]
    assert accounts["loyalty_tier"].tolist() == ["gold"]
    assert accounts[s.EMAIL].isna().all()
    assert str(accounts[s.CREATED_AT].dtype) == "datetime64[ns, UTC]"


def test_tables_not_supplied_are_empty_with_contract_columns_and_types(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": TWO_ACCOUNTS})
    tables = load_tables(tmp_path)
    assert tables.orders.empty
    assert list(tables.orders.columns) == list(s.INPUT_TABLES["orders"][1])
    assert tables.orders[s.AMOUNT].dtype == np.float64
    assert str(tables.sanctions[s.CREATED_AT].dtype) == "datetime64[ns, UTC]"
    assert [source.table for source in tables.sources] == ["accounts"]


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": "\ufeffaccount_id,full_name\nA1,Zoë\n".encode()})
    assert load_tables(tmp_path).accounts.values.tolist()[0][:1] == ["A1"]


def test_accounts_are_sorted_by_id_whatever_the_file_order(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": "account_id\nB\nA\nC\n"})
    assert load_tables(tmp_path).accounts[s.ACCOUNT_ID].tolist() == ["A", "B", "C"]


# --- CSV and Parquet ------------------------------------------------------------------------


def test_csv_and_parquet_give_identical_frames(tmp_path: Path) -> None:
    files = {
        "accounts.csv": ("account_id,created_at,phone,registration_ip,extra\n"
                         "007,2024-01-01T10:00:00+02:00,0912,10.0.0.1,x\n"
                         "008,bad-time,,300.0.0.1,\n"
                         " 007,2024-01-01,,,\n"),
        "orders.csv": ("order_id,account_id,amount,discount,created_at\n"
                       "O1,007,10.5,1,2024-02-01T00:00:00Z\n"
                       "O2,008,-3,,\n"
                       "O3,999,4,,\n"),
        "logins.csv": "account_id,ip,seen_at\n007,::1,2024-01-01\n008,1.2.3,\n",
        "decisions.csv": "account_id,decision\n007,Cleared\n",
    }
    csv_dir, parquet_dir = tmp_path / "csv", tmp_path / "parquet"
    csv_dir.mkdir()
    parquet_dir.mkdir()
    from_csv = load_tables(write_tables(csv_dir, files), max_reject_rate=1.0)
    write_tables(parquet_dir, files)
    for name in ("accounts", "orders", "logins", "decisions"):
        csv_to_parquet(parquet_dir, name)
    from_parquet = load_tables(parquet_dir, max_reject_rate=1.0)
    for name in (*s.TABLE_NAMES, "rejects"):
        pd.testing.assert_frame_equal(getattr(from_csv, name), getattr(from_parquet, name))
    assert len(from_csv.rejects) == 6


def test_parquet_directory_of_parts_loads_like_one_file(tmp_path: Path) -> None:
    logins = "account_id,ip,seen_at\nA1,10.1.1.1,2024-01-01\nA2,10.1.1.2,2024-01-02\n"
    one, parts = tmp_path / "one", tmp_path / "parts"
    one.mkdir()
    parts.mkdir()
    write_tables(one, {"accounts.csv": TWO_ACCOUNTS, "logins.csv": logins})
    csv_to_parquet(one, "logins")
    table = pq.read_table(one / "logins.parquet")
    write_tables(parts, {"accounts.csv": TWO_ACCOUNTS})
    (parts / "logins.parquet").mkdir()
    pq.write_table(table.slice(0, 1), parts / "logins.parquet" / "part-0000.parquet")
    pq.write_table(table.slice(1), parts / "logins.parquet" / "part-0001.parquet")
    (parts / "logins.parquet" / "_SUCCESS").write_text("")
    from_parts = load_tables(parts)
    pd.testing.assert_frame_equal(from_parts.logins, load_tables(one).logins)
    assert from_parts.sources[[x.table for x in from_parts.sources].index("logins")].size > 0


@pytest.mark.parametrize("name", ["logins.csv.gz", "Logins.CSV", "logins.tsv"])
def test_table_in_a_form_not_read_is_an_error_not_a_missing_table(tmp_path: Path,
                                                                  name: str) -> None:
    write_tables(tmp_path, {"accounts.csv": TWO_ACCOUNTS, name: b"account_id,ip\nA1,10.1.1.1\n"})
    with pytest.raises(InputError, match=rf"{name} in .* is not read: linkgraph reads logins.csv"):
        load_tables(tmp_path)


def test_typed_parquet_columns_load_like_their_text(tmp_path: Path) -> None:
    text_dir, typed_dir = tmp_path / "text", tmp_path / "typed"
    text_dir.mkdir()
    typed_dir.mkdir()
    write_tables(text_dir, {
        "accounts.csv": "account_id,created_at\n1,2024-01-01T10:00:00+02:00\n2,\n",
        "orders.csv": "order_id,account_id,amount,created_at\n5,1,10.5,2024-02-01\n",
    })
    pq.write_table(pa.table({
        "account_id": pa.array([1, 2], pa.int64()),  # ids stored as numbers come back as text
        "created_at": pa.array([pd.Timestamp("2024-01-01 08:00", tz="UTC"), None],
                               pa.timestamp("ms", tz="UTC")),
    }), typed_dir / "accounts.parquet")
    pq.write_table(pa.table({
        "order_id": pa.array(["5"]).dictionary_encode(),
        "account_id": ["1"],
        "amount": pa.array([10.5], pa.float32()),
        "created_at": pa.array([pd.Timestamp("2024-02-01")], pa.timestamp("us")),
    }), typed_dir / "orders.parquet")
    from_text, from_typed = load_tables(text_dir), load_tables(typed_dir)
    pd.testing.assert_frame_equal(from_text.accounts, from_typed.accounts)
    pd.testing.assert_frame_equal(from_text.orders, from_typed.orders)


# --- rejects --------------------------------------------------------------------------------

REJECT_CASES = {
    "empty_account_id": (
        {"accounts.csv": "account_id,email\nA1,a@x\n,b@x\n  ,c@x\n"},
        "accounts", [(2, "account_id", "empty account_id", None),
                     (3, "account_id", "empty account_id", "  ")]),
    "duplicate_account_id_keeps_the_first": (
        {"accounts.csv": "account_id,email\nA1,first@x\nA2,a2@x\nA1 ,second@x\n"},
        "accounts", [(3, "account_id", "duplicate account_id", "A1 ")]),
    "duplicate_order_id": (
        {"accounts.csv": "account_id\nA1\n", "orders.csv": "order_id,account_id\nO1,A1\nO1,A1\n"},
        "orders", [(2, "order_id", "duplicate order_id", "O1")]),
    "empty_order_id": (
        {"accounts.csv": "account_id\nA1\n", "orders.csv": "order_id,account_id\n,A1\nO2,A1\n"},
        "orders", [(1, "order_id", "empty order_id", None)]),
    "unparseable_timestamp": (
        {"accounts.csv": "account_id\nA1\n",
         "logins.csv": "account_id,ip,seen_at\nA1,10.0.0.1,31/12/2024\nA1,10.0.0.1,\n"
                       "A1,10.0.0.1,2024-02-30\n"},
        "logins", [(1, "seen_at", "bad timestamp", "31/12/2024"),
                   (3, "seen_at", "bad timestamp", "2024-02-30")]),
    "ip_that_is_not_an_ip": (
        {"accounts.csv": "account_id\nA1\n",
         "logins.csv": "account_id,ip\nA1,256.1.1.1\nA1,2001:db8::1\nA1,localhost\nA1,01.2.3.4\n"
                       "A1,10.0.0.1\n"},
        "logins", [(1, "ip", "bad IP address", "256.1.1.1"),
                   (3, "ip", "bad IP address", "localhost"),
                   (4, "ip", "bad IP address", "01.2.3.4")]),
    "amount_not_a_number_or_negative": (
        {"accounts.csv": "account_id\nA1\n",
         "orders.csv": "order_id,account_id,amount,discount\nO1,A1,12,50,\nO2,A1,-1,\n"
                       "O3,A1,7,x\nO4,A1,inf,\nO5,A1,1e2,0\n"},
        "orders", [(1, None, "wrong number of fields", "O1,A1,12,50,"),
                   (2, "amount", "negative number", "-1"),
                   (3, "discount", "not a number", "x"),
                   (4, "amount", "not a number", "inf")]),
    "row_of_an_unknown_account": (
        {"accounts.csv": "account_id\nA1\n,\n",
         "payments.csv": "account_id,fingerprint\nA1,f1\nA9,f2\n"},
        "payments", [(2, "account_id", "unknown account_id", "A9")]),
    "unknown_sanction_action": (
        {"accounts.csv": "account_id\nA1\n",
         "sanctions.csv": "account_id,action\nA1,banned\nA1,jailed\nA1,\n"},
        "sanctions", [(2, "action", "unknown action", "jailed"),
                      (3, "action", "empty action", None)]),
    "unknown_decision": (
        {"accounts.csv": "account_id\nA1\n",
         "decisions.csv": "account_id,decision\nA1,CLEARED\nA1,perhaps\n"},
        "decisions", [(2, "decision", "unknown decision", "perhaps")]),
    "line_with_wrong_number_of_fields": (
        {"accounts.csv": 'account_id,full_name\nA1,"Ann\nLee"\nA2,Bob,extra\nA3\nA4,Cy\n'},
        "accounts", [(2, None, "wrong number of fields", "A2,Bob,extra"),
                     (3, None, "wrong number of fields", "A3")]),
}


@pytest.mark.parametrize("case", REJECT_CASES)
def test_each_bad_row_goes_to_rejects_and_good_rows_go_on(tmp_path: Path, case: str) -> None:
    files, table, expected = REJECT_CASES[case]
    tables = load_tables(write_tables(tmp_path, files), max_reject_rate=1.0)
    assert rejects_of(tables, table) == expected
    source = next(src for src in tables.sources if src.table == table)
    assert len(getattr(tables, table)) == source.rows_accepted
    assert source.rows_accepted + source.rows_rejected == source.rows_read


def test_null_words_of_exports_are_missing_values_in_typed_columns(tmp_path: Path) -> None:
    write_tables(tmp_path, {
        "accounts.csv": "account_id,country\nA1,NA\n",
        "orders.csv": "order_id,account_id,amount,discount,created_at\nO1,A1,NaN,N/A,NULL\n"
                      "O2,A1,NULL,none,\\N\n",
        "logins.csv": "account_id,ip,seen_at\nA1,null,NULL\nA1,NA,nil\n",
    })
    tables = load_tables(tmp_path, max_reject_rate=0.0)
    assert tables.rejects.empty
    assert tables.accounts[s.COUNTRY].tolist() == ["NA"]  # text keeps it: Namibia
    assert tables.orders[[s.AMOUNT, s.DISCOUNT, s.CREATED_AT]].isna().all().all()
    assert tables.logins[[s.IP, s.SEEN_AT]].isna().all().all()
    assert len(tables.orders) == 2 and len(tables.logins) == 2


def test_duplicate_account_keeps_the_first_row(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": "account_id,email\nA1,first@x\nA1,second@x\n"})
    assert load_tables(tmp_path, max_reject_rate=1.0).accounts[s.EMAIL].tolist() == ["first@x"]


def test_bad_optional_account_fields_are_ignored_and_the_account_kept(tmp_path: Path) -> None:
    write_tables(tmp_path, {
        "accounts.csv": "account_id,created_at,registration_ip\nA1,soon,10.0.0.1\nA2,2024-01-01,"
                        "10.0.0.300\n",
    })
    tables = load_tables(tmp_path, max_reject_rate=0.0)  # field-level rejects do not count
    assert tables.accounts[s.ACCOUNT_ID].tolist() == ["A1", "A2"]
    assert pd.isna(tables.accounts[s.CREATED_AT].iloc[0])
    assert pd.isna(tables.accounts[s.REGISTRATION_IP].iloc[1])
    assert tables.accounts[s.REGISTRATION_IP].iloc[0] == "10.0.0.1"
    assert rejects_of(tables, "accounts") == [
        (1, "created_at", "bad timestamp (value ignored, row kept)", "soon"),
        (2, "registration_ip", "bad IP address (value ignored, row kept)", "10.0.0.300"),
    ]
    assert tables.sources[0].rows_rejected == 0
    assert tables.sources[0].values_ignored == 2


def test_login_without_ip_or_time_is_kept(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": "account_id\nA1\n",
                            "logins.csv": "account_id,ip,device_id,seen_at\nA1,,d1,\n"})
    tables = load_tables(tmp_path)
    assert tables.logins[s.DEVICE_ID].tolist() == ["d1"]
    assert tables.rejects.empty


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(
    st.sampled_from(["A1", "A2", "A9", "", " A2 "]),
    st.sampled_from(["10.0.0.1", "::1", "10.0.0.256", "x", ""]),
    st.sampled_from(["2024-01-01T00:00:00Z", "2024-01-01 05:00", "never", ""]),
), max_size=30))
def test_every_login_row_is_either_accepted_or_rejected_once(tmp_path_factory, rows) -> None:
    directory = tmp_path_factory.mktemp("logins")
    lines = "".join(f"{a},{ip},{t},{n}\n" for n, (a, ip, t) in enumerate(rows, start=1))
    write_tables(directory, {"accounts.csv": "account_id\nA1\nA2\n",
                             "logins.csv": "account_id,ip,seen_at,n\n" + lines})
    tables = load_tables(directory, max_reject_rate=1.0)
    accepted = tables.logins["n"].astype(int).tolist()
    rejected = tables.rejects.loc[tables.rejects[s.TABLE] == "logins", s.ROW].tolist()
    assert sorted(accepted + rejected) == list(range(1, len(rows) + 1))
    assert set(tables.logins[s.ACCOUNT_ID]) <= {"A1", "A2"}


# --- reject limit ---------------------------------------------------------------------------


def test_reject_rate_over_the_limit_fails_naming_the_table(tmp_path: Path) -> None:
    logins = "account_id,ip\n" + "A1,10.0.0.1\n" * 8 + "A9,10.0.0.1\nA1,nope\n"
    write_tables(tmp_path, {"accounts.csv": TWO_ACCOUNTS, "logins.csv": logins})
    with pytest.raises(RejectLimitError) as err:
        load_tables(tmp_path, max_reject_rate=0.1)
    message = str(err.value)
    assert message.startswith("logins.csv rejected 2 of 10 rows (20.0%), over the limit of 10.0%;")
    assert "bad IP address x1; unknown account_id x1" in message
    assert "max_reject_rate" in message
    assert rejects_of(load_tables(tmp_path, max_reject_rate=0.2), "logins") == \
        [(r.row, r.column, r.reason, r.value) for r in err.value.rows.itertuples()]


def test_reject_rate_at_or_under_the_limit_lets_good_rows_go_on(tmp_path: Path) -> None:
    logins = "account_id,ip\n" + "A1,10.0.0.1\n" * 9 + "A9,10.0.0.1\n"
    write_tables(tmp_path, {"accounts.csv": TWO_ACCOUNTS, "logins.csv": logins})
    tables = load_tables(tmp_path, max_reject_rate=0.1)
    assert len(tables.logins) == 9
    assert len(tables.rejects) == 1


def test_broken_accounts_feed_fails_rather_than_giving_an_empty_report(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": "account_id,email\n,a\n,b\nA1,c\n"})
    with pytest.raises(RejectLimitError, match=r"^accounts\.csv rejected 2 of 3 rows"):
        load_tables(tmp_path)


# --- contract problems ----------------------------------------------------------------------


def test_missing_account_id_column_names_the_file_and_what_was_found(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": "id,created_at\nA1,2024-01-01\n"})
    with pytest.raises(InputError) as err:
        load_tables(tmp_path)
    assert str(err.value) == ("accounts.csv has no column 'account_id' (found: id, created_at). "
                              "Rename it in the export.")


def test_every_contract_problem_is_listed_at_once(tmp_path: Path) -> None:
    write_tables(tmp_path, {
        "logins.csv": "account_id,addr\nA1,10.0.0.1\n",
        "orders.csv": "id,account\n",
        "sanctions.csv": "account_id,action\n",
        "decisions.csv": b"account_id,decision\nA1,cleared\nA2,\xff\xfe\n",
    })
    pq.write_table(pa.table({"account_id": ["A1"], "action": ["banned"]}),
                   tmp_path / "sanctions.parquet")
    with pytest.raises(InputError) as err:
        load_tables(tmp_path)
    assert str(err.value).splitlines() == [
        (f"no accounts table in {tmp_path}: expected accounts.csv or accounts.parquet (it is "
         "the one required table)."),
        f"sanctions.csv and sanctions.parquet are both in {tmp_path}: keep only one of them.",
        "logins.csv has no column 'ip' (found: account_id, addr). Rename it in the export.",
        "orders.csv has no column 'order_id' (found: id, account). Rename it in the export.",
        "orders.csv has no column 'account_id' (found: id, account). Rename it in the export.",
        "decisions.csv is not valid UTF-8 (line 3, byte 34). Export it as UTF-8.",
    ]


def test_invalid_utf8_names_the_file_and_the_line(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": b"account_id,full_name\nA1,Zo\xe9\n"})
    with pytest.raises(InputError, match=r"^accounts\.csv is not valid UTF-8 \(line 2, byte 26\)"):
        load_tables(tmp_path)


@pytest.mark.parametrize("line", ['A3,"Cy,x\n', 'A3,Cy,"x\n'])
def test_quote_never_closed_is_a_contract_problem_not_lost_rows(tmp_path: Path, line: str) -> None:
    accounts = "account_id,full_name,notes\nA1,\"Ann\nLee\",a\nA2,Bob,b\n" + line + \
        "A4,Dee,d\nA5,Eve,e\n"
    write_tables(tmp_path, {"accounts.csv": accounts})
    with pytest.raises(InputError) as err:
        load_tables(tmp_path)
    assert str(err.value) == ("accounts.csv: a quote opened on row 3 is never closed, so the "
                              "rest of the file (2 lines) reads as one field. Fix the quoting "
                              "in the export.")


@pytest.mark.parametrize("end", ["", "\n", "\r\n"])
def test_multiline_value_on_the_last_row_is_fine(tmp_path: Path, end: str) -> None:
    write_tables(tmp_path, {"accounts.csv": f'account_id,full_name\nA1,"Ann\nLee, Jr."{end}'})
    assert load_tables(tmp_path).accounts[s.FULL_NAME].tolist() == ["Ann\nLee, Jr."]


def test_quote_inside_an_unquoted_value_is_literal(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": 'account_id,full_name\nA1,12" pizza\nA2,Bo\n'})
    assert load_tables(tmp_path).accounts[s.FULL_NAME].tolist() == ['12" pizza', "Bo"]


def test_semicolon_separated_file_gets_a_hint(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": "account_id;email\nA1;a@x\n"})
    with pytest.raises(InputError, match="another separator was used"):
        load_tables(tmp_path)


def test_empty_file_and_repeated_column_are_contract_problems(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": "account_id,email,email\nA1,a,b\n",
                            "logins.csv": ""})
    with pytest.raises(InputError) as err:
        load_tables(tmp_path)
    assert str(err.value).splitlines() == [
        ("accounts.csv has column 'email' more than once (found: account_id, email, email). "
         "Keep one in the export."),
        "logins.csv is empty: it needs a header row.",
    ]


def test_missing_data_directory_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="does not exist"):
        load_tables(tmp_path / "nowhere")


def test_unreadable_parquet_is_a_contract_problem(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.parquet": b"not parquet at all"})
    with pytest.raises(InputError, match=r"^accounts\.parquet cannot be read as Parquet"):
        load_tables(tmp_path)


# --- manifest and summary -------------------------------------------------------------------


def test_sources_record_size_checksum_and_counts(tmp_path: Path) -> None:
    content = "account_id\nA1\nA1\n"
    write_tables(tmp_path, {"accounts.csv": content})
    (source,) = load_tables(tmp_path, max_reject_rate=0.5).sources
    import hashlib

    assert source.sha256 == hashlib.sha256(content.encode()).hexdigest()
    assert (source.size, source.rows_read, source.rows_accepted, source.rows_rejected) == \
        (len(content), 2, 1, 1)


def test_summary_has_one_row_per_table_with_top_reasons(tmp_path: Path) -> None:
    logins = "account_id,ip,seen_at\nA1,1.1.1.1,\nA9,1.1.1.1,\nA8,1.1.1.1,\nA1,1.1.1.1,x\n"
    write_tables(tmp_path, {"accounts.csv": TWO_ACCOUNTS, "logins.csv": logins})
    summary = summarize_tables(load_tables(tmp_path, max_reject_rate=1.0))
    assert summary[s.TABLE].tolist() == list(s.TABLE_NAMES)
    row = summary.set_index(s.TABLE).loc["logins"]
    assert (row["file"], row["rows_read"], row["accepted"], row["rejected"]) == \
        ("logins.csv", 4, 1, 3)
    assert row["top_reasons"] == "unknown account_id x2; bad timestamp x1"
    assert summary.set_index(s.TABLE).loc["orders", "file"] == ""


# --- the messy feed -------------------------------------------------------------------------

MESSY_REJECTS = {
    "accounts": [
        (11, "created_at", "bad timestamp (value ignored, row kept)", "yesterday"),
        (12, "registration_ip", "bad IP address (value ignored, row kept)", "300.1.2.3"),
        (20, "account_id", "empty account_id", None),
        (21, "account_id", "empty account_id", "   "),
        (22, "account_id", "duplicate account_id", "00002"),
        (23, "account_id", "duplicate account_id", " 00003"),
        (24, None, "wrong number of fields",
         "00024,2024-01-01,too,many,fields,in,this,line,for,accounts,at,all"),
    ],
    "addresses": [(5, "account_id", "unknown account_id", "77777")],
    "payments": [(5, "account_id", "empty account_id", None)],
    "logins": [
        (5, "ip", "bad IP address", "999.1.1.1"),
        (6, "ip", "bad IP address", "not-an-ip"),
        (10, "seen_at", "bad timestamp", "2024-13-45T00:00:00"),
        (13, "account_id", "unknown account_id", "99999"),
        (14, "account_id", "empty account_id", None),
        (15, "account_id", "unknown account_id", "00020"),
        (16, "ip", "bad IP address", "01.2.3.4"),
    ],
    "orders": [
        (5, "amount", "not a number", "12,50"),
        (6, "amount", "negative number", "-5"),
        (7, "discount", "not a number", "abc"),
        (8, "order_id", "duplicate order_id", "o00002"),
        (9, "account_id", "unknown account_id", "88888"),
        (11, "created_at", "bad timestamp", "2024-02-30"),
    ],
    "sanctions": [(4, "action", "unknown action", "jailed")],
    "decisions": [(4, "decision", "unknown decision", "maybe")],
}


def test_messy_feed_loads_every_valid_account_once_and_every_bad_row_in_rejects() -> None:
    tables = load_tables(MESSY)  # the default limit: the feed is messy, not broken
    for table, expected in MESSY_REJECTS.items():
        assert rejects_of(tables, table) == expected, table
    expected_ids = [f"{i:05d}" for i in range(1, 121) if i not in (20, 21, 22, 23, 24)]
    assert tables.accounts[s.ACCOUNT_ID].tolist() == expected_ids
    by_id = tables.accounts.set_index(s.ACCOUNT_ID)
    assert by_id.loc["00003", s.FULL_NAME] == '=HYPERLINK("http://evil.example","click me")'
    assert by_id.loc["00004", s.FULL_NAME] == "Ann\nLee"
    assert by_id.loc["00005", s.FULL_NAME].startswith("\u200f")
    assert by_id.loc["00002", s.EMAIL] == "user2@example.com"  # the first of the duplicates
    assert by_id.loc["00009", s.CREATED_AT] == pd.Timestamp("2024-03-01 07:00", tz="UTC")
    assert by_id.loc["00041", s.COUNTRY] == "NA"  # Namibia, not a missing value
    assert by_id.loc["00004", "notes"] == "vip, prefers email"
    for table in ("addresses", "payments", "logins", "orders", "sanctions", "decisions"):
        assert set(getattr(tables, table)[s.ACCOUNT_ID]) <= set(expected_ids), table
    assert sorted(tables.sanctions[s.ACTION].unique()) == sorted(s.SANCTION_ACTIONS)
    assert tables.addresses.loc[tables.addresses[s.ADDRESS_ID] == "ad6", s.POSTAL_CODE].item() \
        == "01234"
    counts = {src.table: (src.rows_read, src.rows_accepted) for src in tables.sources}
    assert counts == {"accounts": (120, 115), "addresses": (40, 39), "payments": (40, 39),
                      "logins": (200, 193), "orders": (140, 134), "sanctions": (25, 24),
                      "decisions": (25, 24)}


# --- previous run ---------------------------------------------------------------------------


def test_previous_run_reads_parquet_and_issued_ids(tmp_path: Path) -> None:
    pq.write_table(pa.table({"account_id": ["b", "a"], "cluster_id": ["C7", "C5"],
                             "person_cluster_id": ["P8", "P5"], "action": ["none", "ban"]}),
                   tmp_path / "accounts.parquet")
    pq.write_table(pa.table({"cluster_id": ["C9", "C5", "P8"], "issued_run": [3, 1, 2]}),
                   tmp_path / "issued_ids.parquet")
    previous = load_previous_run(tmp_path)
    assert previous.accounts.values.tolist() == [["a", "C5", "P5"], ["b", "C7", "P8"]]
    assert previous.issued_ids.values.tolist() == [["C5", 1], ["C9", 3], ["P8", 2]]


def test_previous_run_from_csv_without_issued_ids_uses_the_accounts_ids(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": "account_id,cluster_id,person_cluster_id,action\n"
                                            "008,C0012,P0013,none\n007,C0012,P0012,ban\n"})
    previous = load_previous_run(tmp_path)
    assert previous.accounts.values.tolist() == [["007", "C0012", "P0012"],
                                                 ["008", "C0012", "P0013"]]
    assert previous.issued_ids[s.CLUSTER_ID].tolist() == ["C0012", "P0012", "P0013"]


def test_previous_run_missing_directory_or_file_is_a_run_directory_error(tmp_path: Path) -> None:
    with pytest.raises(RunDirectoryError, match="does not exist"):
        load_previous_run(tmp_path / "nowhere")
    with pytest.raises(RunDirectoryError, match="has no accounts.parquet or accounts.csv"):
        load_previous_run(tmp_path)
    write_tables(tmp_path, {"accounts.csv": "account_id,cluster_id\na,1\n"})
    with pytest.raises(RunDirectoryError, match="has no column 'person_cluster_id'"):
        load_previous_run(tmp_path)


def test_column_differing_only_in_case_gets_a_precise_rename_hint(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": "Account ID,email\nA1,a@x\n"})
    with pytest.raises(InputError) as err:
        load_tables(tmp_path)
    assert str(err.value) == ("accounts.csv has no column 'account_id' (found: Account ID, "
                              "email). Rename 'Account ID' to 'account_id' in the export.")


def test_header_only_files_give_empty_tables(tmp_path: Path) -> None:
    write_tables(tmp_path, {"accounts.csv": "\ufeffaccount_id\n", "logins.csv": "account_id,ip\n"})
    tables = load_tables(tmp_path)
    assert tables.accounts.empty and tables.logins.empty and tables.rejects.empty
    assert [(src.rows_read, src.rows_accepted) for src in tables.sources] == [(0, 0), (0, 0)]


def test_wrong_field_lines_deep_in_a_large_file_keep_their_row_numbers(tmp_path: Path) -> None:
    # several reader blocks (1 MiB each), quoted newlines throughout, bad lines late
    lines = [f'A{i},"line one\nline two {i}",{"x" * 40}\n' for i in range(1, 40_001)]
    bad = {25_000: "B1,too,many,fields\n", 39_999: "B2\n"}
    for row, line in bad.items():
        lines[row - 1] = line
    write_tables(tmp_path, {"accounts.csv": "account_id,full_name,notes\n" + "".join(lines)})
    tables = load_tables(tmp_path)
    assert rejects_of(tables, "accounts") == [
        (25_000, None, "wrong number of fields", "B1,too,many,fields"),
        (39_999, None, "wrong number of fields", "B2"),
    ]
    assert len(tables.accounts) == 39_998
    assert "A40000" in set(tables.accounts[s.ACCOUNT_ID])


def test_parquet_text_column_with_bytes_that_are_not_utf8_is_unreadable(tmp_path: Path) -> None:
    pq.write_table(pa.table({"account_id": pa.array([b"A1", b"\xff"], pa.binary())}),
                   tmp_path / "accounts.parquet")
    with pytest.raises(InputError, match=r"^accounts\.parquet cannot be read as Parquet"):
        load_tables(tmp_path)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.permutations([f"A{i:03d},{i % 3}.0.0.{i},2024-01-{i % 28 + 1:02d}" for i in range(12)]
                       + ["A999,1.1.1.1,2024-01-01", ",1.1.1.1,", "A001,bad,"]))
def test_tables_do_not_depend_on_input_row_order(tmp_path_factory, logins) -> None:
    directory = tmp_path_factory.mktemp("order")
    accounts = "account_id,registration_ip\n" + "".join(
        f"A{i:03d},{i}.0.0.1\n" for i in reversed(range(12)))
    write_tables(directory, {"accounts.csv": accounts,
                             "logins.csv": "account_id,ip,seen_at\n" + "\n".join(logins) + "\n"})
    tables = load_tables(directory, max_reject_rate=1.0)
    assert tables.accounts[s.ACCOUNT_ID].tolist() == [f"A{i:03d}" for i in range(12)]
    key = [s.ACCOUNT_ID, s.IP, s.SEEN_AT]
    assert sorted(map(tuple, tables.logins[key].astype(str).values.tolist())) == sorted(
        (f"A{i:03d}", f"{i % 3}.0.0.{i}", f"2024-01-{i % 28 + 1:02d} 00:00:00+00:00")
        for i in range(12))
    assert sorted(tables.rejects[s.REASON]) == ["bad IP address", "empty account_id",
                                                "unknown account_id"]


_ID_TEXT = st.text(alphabet=st.sampled_from(list("ab7_-") + [" ", "\t", "\xa0", "\u200b", "\ufeff",
                                                        "\u3000", "é", "\u2028", "\u0100"]),
                   max_size=4)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.none() | _ID_TEXT, max_size=6))
def test_ids_are_trimmed_exactly_whatever_the_fast_byte_check_says(ids: list[str | None]) -> None:
    from linkgraph.load._check import _TRIM_CHARS, _trimmed

    column = pa.chunked_array([pa.array(ids, type=pa.string())])
    expected = [None if v is None or not v.strip(_TRIM_CHARS) else v.strip(_TRIM_CHARS)
                for v in ids]
    assert _trimmed(column).to_pylist() == expected
