"""End to end: the messy feed, the golden run byte for byte, determinism."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import linkgraph as lg
from linkgraph.cli import main
from linkgraph.config import Config

DATA = Path(__file__).parent / "data"
MESSY = DATA / "messy"
GOLDEN_INPUT = DATA / "golden" / "input"
GOLDEN_EXPECTED = DATA / "golden" / "expected"
#: the golden input is 25 accounts with planted bad rows: more than 5% of a tiny table
GOLDEN_CONFIG = Config(max_reject_rate=0.5)
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def messy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("messy") / "run"
    result = CliRunner().invoke(main, ["run", str(MESSY), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_messy_feed_keeps_every_valid_account_exactly_once(messy_run: Path) -> None:
    accounts = pd.read_csv(messy_run / "accounts.csv", dtype=str)
    expected = [f"{i:05d}" for i in range(1, 121) if not 20 <= i <= 24]
    assert sorted(accounts["account_id"]) == expected


def test_messy_feed_rejects_every_bad_row_with_its_reason(messy_run: Path) -> None:
    rejects = pd.read_csv(messy_run / "rejects.csv", dtype=str)
    assert set(rejects.columns) >= {"table", "row", "column", "reason", "value"}
    assert rejects["reason"].notna().all()
    by_table = rejects.groupby("table").size().to_dict()
    assert by_table["logins"] == 7 and by_table["orders"] == 6
    assert ("sanctions", "4", "unknown action") in set(
        zip(rejects["table"], rejects["row"], rejects["reason"]))


def test_no_csv_cell_of_a_run_starts_with_a_formula_character(messy_run: Path) -> None:
    for path in messy_run.glob("*.csv"):
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                for cell in row:
                    assert not cell.startswith(FORMULA_START), (path.name, cell)
                    assert "\n" not in cell and "\u202e" not in cell, (path.name, cell)


def test_planted_same_person_inherits_the_ban(messy_run: Path) -> None:
    accounts = pd.read_csv(messy_run / "accounts.csv", dtype=str).set_index("account_id")
    assert accounts.loc["00010", "action"] == "ban"
    assert accounts.loc["00010", "linked_blocked_account"] == "00009"


def _run_files(out: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(out.iterdir()) if p.name != "manifest.json"}


def test_golden_run_byte_for_byte(tmp_path: Path, update_golden: bool) -> None:
    out = tmp_path / "run"
    lg.run(GOLDEN_INPUT, out=out, config=GOLDEN_CONFIG)
    actual = {k: v for k, v in _run_files(out).items() if k.endswith(".csv")}
    if update_golden:
        shutil.rmtree(GOLDEN_EXPECTED, ignore_errors=True)
        GOLDEN_EXPECTED.mkdir(parents=True)
        for name, content in actual.items():
            (GOLDEN_EXPECTED / name).write_bytes(content)
        pytest.skip("golden outputs rewritten; review the diff and commit it")
    expected = {p.name: p.read_bytes() for p in sorted(GOLDEN_EXPECTED.glob("*.csv"))}
    assert sorted(actual) == sorted(expected)
    for name, content in expected.items():
        assert actual[name] == content, f"{name} differs from the golden copy; " \
            "if the change is intended, rerun with --update-golden and review the diff"


def test_same_input_gives_same_bytes_whatever_the_row_order(tmp_path: Path) -> None:
    shuffled = tmp_path / "shuffled"
    shutil.copytree(GOLDEN_INPUT, shuffled)
    for path in shuffled.glob("*.csv"):
        header, *rows = path.read_text().splitlines()
        # orders has a duplicated order_id (the first one wins): rotate, keeping their order
        rows = rows[5:] + rows[:5] if path.name == "orders.csv" else rows[::-1]
        path.write_text("\n".join([header, *rows]) + "\n")
    lg.run(GOLDEN_INPUT, out=tmp_path / "a", config=GOLDEN_CONFIG)
    lg.run(shuffled, out=tmp_path / "b", config=GOLDEN_CONFIG)
    a, b = _run_files(tmp_path / "a"), _run_files(tmp_path / "b")
    for name in ("accounts.csv", "clusters.csv", "links.csv", "hubs.csv", "review_queue.csv"):
        assert a[name] == b[name], name


def test_run_in_memory_equals_run_on_disk(tmp_path: Path) -> None:
    in_memory = lg.run(GOLDEN_INPUT, config=GOLDEN_CONFIG)
    on_disk = lg.run(GOLDEN_INPUT, out=tmp_path / "run", config=GOLDEN_CONFIG)
    assert in_memory.path is None and on_disk.path == tmp_path / "run"
    pd.testing.assert_frame_equal(in_memory.accounts, on_disk.accounts)


def test_second_night_keeps_cluster_ids(tmp_path: Path) -> None:
    first = lg.run(GOLDEN_INPUT, out=tmp_path / "n1", config=GOLDEN_CONFIG)
    second = lg.run(GOLDEN_INPUT, out=tmp_path / "n2", previous=tmp_path / "n1", config=GOLDEN_CONFIG)
    pd.testing.assert_series_equal(first.accounts["cluster_id"], second.accounts["cluster_id"])
    assert second.cluster_changes.empty


def _loaded_orders() -> pd.DataFrame:
    """Orders as the load gives them: every contract column, text as ``str``, an extra."""
    return pd.DataFrame({
        "order_id": ["o1", "o2", "o3", "o4"], "account_id": ["a2", "a1", "a2", "a3"],
        "created_at": pd.to_datetime(["2026-01-02"] * 4, utc=True),
        "amount": [30.0, 5.0, 31.0, 90.0], "currency": ["USD", "EUR", None, "USD"],
        "coupon_code": ["W10", None, " W10", ""], "coupon_type": ["new_user", None, "promo", ""],
        "discount": [3.0, None, 1.0, None], "address_id": ["ad1", "ad2", "ad1", "ad3"],
        "payment_id": ["p1", "p2", "p1", "p3"], "channel": ["app", "web", "app", "app"],
    }).astype({c: "str" for c in ("order_id", "account_id", "currency", "coupon_code",
                                  "coupon_type", "address_id", "payment_id", "channel")})


def test_orders_after_normalize_hold_only_the_columns_later_stages_read() -> None:
    from linkgraph import pipeline

    orders = _loaded_orders()
    kept = pipeline._kept(orders, *pipeline._ORDER_COLUMNS_KEPT, words=pipeline._ORDER_WORDS)
    # order ids, discounts, the addresses and payments used, extra columns: all gone
    assert list(kept.columns) == ["account_id", "created_at", "amount", "currency",
                                  "coupon_code", "coupon_type"]
    for column in pipeline._ORDER_WORDS:
        words = kept[column].dtype.categories.tolist()
        assert words == sorted(words)  # sorts as the strings do
        # every row, blanks and surrounding spaces included, reads back as loaded
        assert kept[column].astype("str").equals(orders[column])
    assert kept["currency"].cat.codes.tolist() == [1, 0, -1, 1]


def test_orders_account_ids_become_the_positions_of_their_accounts() -> None:
    from linkgraph import pipeline

    accounts = pd.DataFrame({"account_id": pd.Series(["a1", "a2", "a3", "a4"], dtype="str")})
    coded = pipeline._with_account_codes(_loaded_orders(), accounts)["account_id"]
    assert coded.cat.codes.tolist() == [1, 0, 1, 2]
    assert coded.astype("str").tolist() == ["a2", "a1", "a2", "a3"]
    # an order of an account the table lacks (the load rejects them) keeps the text
    fewer = accounts.iloc[:2]
    kept = pipeline._with_account_codes(_loaded_orders(), fewer)["account_id"]
    assert kept.dtype == "str" and kept.tolist() == ["a2", "a1", "a2", "a3"]


def test_orders_coded_from_the_loads_positions_equal_orders_coded_by_their_ids(
        tmp_path: Path) -> None:
    from linkgraph import pipeline
    from linkgraph.engine import LOCAL

    accounts = pd.DataFrame({"account_id": ["a3", "a1", "a2"], "created_at": "2024-01-01"})
    orders = _loaded_orders().drop(columns=["channel"]).assign(
        account_id=["a2", "a1", "a2", "a3"], created_at="2024-02-01")
    accounts.to_csv(tmp_path / "accounts.csv", index=False)
    orders.to_csv(tmp_path / "orders.csv", index=False)
    tables = LOCAL.load_tables(tmp_path, max_reject_rate=0.5, reduced=True)
    given = tables.codes.accounts_of("orders")
    assert given is not None and given.tolist() == [1, 0, 1, 2]  # the sorted accounts' rows
    from_load = pipeline._with_account_codes(tables.orders, tables.accounts, given=given)
    looked_up = pipeline._with_account_codes(tables.orders, tables.accounts)
    assert from_load["account_id"].equals(looked_up["account_id"])
    # the load's positions are what is used: the ids are not looked up again
    trusted = pipeline._with_account_codes(tables.orders, tables.accounts, given=given * 0)
    assert trusted["account_id"].tolist() == ["a1"] * 4
    # positions of other rows than the frame's (rows dropped since) are not used
    shorter = pipeline._with_account_codes(tables.orders, tables.accounts, given=given[:2])
    assert shorter["account_id"].equals(looked_up["account_id"])


def test_emptied_orders_keep_no_account_ids_through_their_categories() -> None:
    from linkgraph import pipeline
    from linkgraph.load import Tables

    accounts = pd.DataFrame({"account_id": pd.Series(["a1", "a2", "a3"], dtype="str")})
    orders = pipeline._with_account_codes(_loaded_orders(), accounts)
    empty = pd.DataFrame()
    tables = Tables(accounts=accounts, addresses=empty, payments=empty, logins=empty,
                    orders=orders, sanctions=empty, decisions=empty, rejects=empty)
    emptied = pipeline._emptied(tables, "orders").orders
    assert emptied.empty and list(emptied.columns) == list(orders.columns)
    assert emptied["account_id"].dtype == "str"


def test_kept_amounts_let_the_dropped_discounts_of_their_block_go() -> None:
    import numpy as np

    from linkgraph import pipeline

    loaded = _loaded_orders()
    # amounts and discounts as the load gives them: one block, two rows of numbers
    numbers = pd.DataFrame(np.column_stack([loaded["amount"], loaded["discount"]]),
                           columns=["amount", "discount"])
    orders = pd.concat([loaded.drop(columns=["amount", "discount"]), numbers], axis=1)
    block = orders["discount"].to_numpy(copy=False).base  # both columns' memory
    assert np.shares_memory(orders["amount"].to_numpy(copy=False), block)
    kept = pipeline._kept(orders, *pipeline._ORDER_COLUMNS_KEPT)
    assert not any(np.shares_memory(kept[c].to_numpy(copy=False), block)
                   for c in kept.columns if isinstance(kept[c].dtype, np.dtype))
    assert kept["amount"].tolist() == orders["amount"].tolist()
    # a column on its own already is not copied again
    again = pipeline._kept(kept, *pipeline._ORDER_COLUMNS_KEPT)
    assert np.shares_memory(again["amount"].to_numpy(copy=False),
                            kept["amount"].to_numpy(copy=False))


def test_later_stage_work_runs_beside_an_earlier_stage_only_in_process() -> None:
    import threading

    from linkgraph.engine import LOCAL
    from linkgraph.pipeline import _beside

    class Remote:
        name = "spark"

    ran_on = []

    def work(x: int, *, y: int) -> int:
        ran_on.append(threading.current_thread() is threading.main_thread())
        return x + y

    assert _beside(Remote(), work, 1, y=2) is None  # type: ignore[arg-type]
    beside = _beside(LOCAL, work, 1, y=2)
    assert beside is not None and beside.result() == 3
    assert ran_on == [False]
