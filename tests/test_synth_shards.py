"""A marketplace drawn shard by shard: one marketplace to the loader, shared hubs, unique ids.

The shards are tiny (300 accounts) so each test stays fast; what holds for
them holds for shards of a million.
"""

from __future__ import annotations

import filecmp
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

import linkgraph
from linkgraph import schemas
from linkgraph.errors import LinkgraphError
from linkgraph.load import load_tables
from linkgraph.normalize.email import normalize_emails
from linkgraph.synth import synthesize

N, SHARD = 900, 300
JUNK = {"test@test.com", "0000000000", "00000000-0000-0000-0000-000000000000", "unknown"}


@pytest.fixture(scope="module")
def market(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("shards")
    synthesize(base / "n1", accounts=N, seed=3, fmt="parquet", shard_size=SHARD,
               next_night=base / "n2")
    return base


def _parts(directory: Path, table: str) -> pd.DataFrame:
    """A table's rows with the shard (part number) each came from."""
    parts = sorted((directory / f"{table}.parquet").glob("part-*.parquet"))
    return pd.concat([pq.read_table(p).to_pandas().assign(shard=k) for k, p in enumerate(parts)],
                     ignore_index=True)


def _truth(directory: Path) -> pd.DataFrame:
    return pd.read_csv(directory / "truth.csv", dtype=str, keep_default_na=False)


def _crossing(rows: pd.DataFrame, column: str) -> pd.Series:
    """Values of ``column`` (junk left out) and how many shards hold each."""
    held = rows.loc[rows[column].notna() & ~rows[column].isin(JUNK), [column, "shard"]]
    return held.drop_duplicates().groupby(column).size()


def test_sharded_world_is_a_directory_of_parts_per_table(market: Path) -> None:
    for name in schemas.TABLE_NAMES:
        parts = sorted(p.name for p in (market / "n1" / f"{name}.parquet").iterdir())
        assert parts == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert not list((market / "n1").glob(".*"))  # the truth's partial file is renamed


def test_sharded_world_loads_as_one_marketplace_without_rejects(market: Path) -> None:
    for night in ("n1", "n2"):
        tables = load_tables(market / night)
        assert sum(source.rows_rejected for source in tables.sources) == 0
        truth = _truth(market / night)
        assert sorted(tables.accounts[schemas.ACCOUNT_ID]) == sorted(truth[schemas.ACCOUNT_ID])
    assert len(load_tables(market / "n1").accounts) == N


def test_truth_has_one_row_per_account_and_persons_do_not_cross_shards(market: Path) -> None:
    accounts = _parts(market / "n1", "accounts")
    truth = _truth(market / "n1").merge(accounts[[schemas.ACCOUNT_ID, "shard"]],
                                        on=schemas.ACCOUNT_ID, validate="one_to_one")
    assert len(truth) == N
    assert truth.groupby(schemas.PERSON_ID)["shard"].nunique().max() == 1
    assert truth.groupby(schemas.HOUSEHOLD_ID)["shard"].nunique().max() == 1
    assert set(truth[schemas.ROLE]) >= {"honest", "farmer"}


def test_ids_are_unique_across_shards(market: Path) -> None:
    for table, key in (("accounts", "account_id"), ("addresses", "address_id"),
                       ("payments", "payment_id"), ("orders", "order_id")):
        rows = _parts(market / "n2", table)
        assert rows[key].is_unique, table
        assert rows[key].str.len().nunique() == 1, table  # formatted as one world's ids


def test_identifiers_of_a_person_never_appear_in_another_shard(market: Path) -> None:
    accounts = _parts(market / "n1", "accounts")
    accounts["mailbox"] = normalize_emails(accounts["email"].astype(object))["value"].to_numpy()
    accounts["number"] = accounts["phone"].str.replace(r"\D", "", regex=True).str[-10:]
    accounts.loc[accounts["phone"].isin(JUNK), "number"] = None
    payments = _parts(market / "n1", "payments")
    for rows, column in ((accounts, "mailbox"), (accounts, "number"), (accounts, "device_id"),
                         (payments, "fingerprint")):
        assert _crossing(rows, column).max() == 1, column


def test_shared_places_are_shared_by_accounts_of_every_shard(market: Path) -> None:
    logins = _parts(market / "n1", "logins")
    ips = _crossing(logins, "ip")
    assert (ips == 3).any()  # a carrier NAT or public Wi-Fi seen from all shards
    addresses = _parts(market / "n1", "addresses")
    addresses["place"] = addresses["line1"] + "|" + addresses["postal_code"]
    assert (_crossing(addresses, "place") >= 2).any()  # a pickup point or an office
    homes = addresses.merge(_truth(market / "n1"), on=schemas.ACCOUNT_ID)
    assert homes.groupby("place")[schemas.HOUSEHOLD_ID].nunique().max() > 1


def test_same_seed_and_shard_size_give_identical_bytes(market: Path, tmp_path: Path) -> None:
    synthesize(tmp_path, accounts=N, seed=3, fmt="parquet", shard_size=SHARD)
    for name in [*schemas.TABLE_NAMES]:
        for part in (market / "n1" / f"{name}.parquet").iterdir():
            assert filecmp.cmp(part, tmp_path / f"{name}.parquet" / part.name, shallow=False)
    assert filecmp.cmp(market / "n1" / "truth.csv", tmp_path / "truth.csv", shallow=False)


def test_pipeline_runs_on_a_sharded_world(market: Path) -> None:
    run = linkgraph.run(market / "n1")
    assert len(run.accounts) == N
    assert {"ban", "none"} <= set(run.accounts["action"])


def test_sharded_csv_is_one_file_per_table_with_one_header(tmp_path: Path, market: Path) -> None:
    result = synthesize(tmp_path, accounts=N, seed=3, fmt="csv", shard_size=SHARD)
    lines = (tmp_path / "accounts.csv").read_text().splitlines()
    assert len(lines) == N + 1 and lines.count(lines[0]) == 1
    assert result.counts["truth"] == N
    assert len(_truth(tmp_path)) == N
    assert result.counts == {**result.counts, "accounts": N,
                             "orders": len(_parts(market / "n1", "orders"))}


def test_next_night_keeps_every_account_of_the_first(market: Path) -> None:
    first, second = _truth(market / "n1"), _truth(market / "n2")
    assert set(first[schemas.ACCOUNT_ID]) < set(second[schemas.ACCOUNT_ID])
    same = first.merge(second, on=schemas.ACCOUNT_ID, suffixes=("", "_2"))
    assert (same[schemas.PERSON_ID] == same[f"{schemas.PERSON_ID}_2"]).all()


def test_a_world_within_the_shard_size_keeps_the_single_file_layout(tmp_path: Path) -> None:
    synthesize(tmp_path / "a", accounts=SHARD, seed=3, fmt="parquet", shard_size=SHARD)
    synthesize(tmp_path / "b", accounts=SHARD, seed=3, fmt="parquet")
    for name in [*schemas.TABLE_NAMES]:
        path = tmp_path / "a" / f"{name}.parquet"
        assert path.is_file()
        assert filecmp.cmp(path, tmp_path / "b" / f"{name}.parquet", shallow=False)


def test_rewriting_a_directory_replaces_the_earlier_parts(tmp_path: Path) -> None:
    synthesize(tmp_path, accounts=400, seed=3, fmt="parquet", shard_size=100)
    synthesize(tmp_path, accounts=400, seed=3, fmt="parquet", shard_size=200)
    assert len(list((tmp_path / "accounts.parquet").iterdir())) == 2
    assert len(load_tables(tmp_path).accounts) == 400


def test_a_shard_size_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LinkgraphError, match="shard_size"):
        synthesize(tmp_path, accounts=10, seed=1, shard_size=0)
    with pytest.raises(LinkgraphError, match="processes"):
        synthesize(tmp_path, accounts=10, seed=1, processes=3)


def test_a_second_process_writes_the_same_bytes(market: Path, tmp_path: Path) -> None:
    synthesize(tmp_path, accounts=N, seed=3, fmt="parquet", shard_size=SHARD, processes=2)
    for name in [*schemas.TABLE_NAMES]:
        for part in (market / "n1" / f"{name}.parquet").iterdir():
            assert filecmp.cmp(part, tmp_path / f"{name}.parquet" / part.name, shallow=False)
    assert filecmp.cmp(market / "n1" / "truth.csv", tmp_path / "truth.csv", shallow=False)
