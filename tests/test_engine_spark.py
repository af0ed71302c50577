"""The Spark engine gives exactly what the local engine gives (local[2], one session).

Skipped when pyspark or Java is missing. Spark jobs cost seconds each on a
laptop, so each test makes one or two engine calls over data that covers many
cases at once (e.g. many random graphs as one disjoint union).
"""

from __future__ import annotations

import dataclasses
import filecmp
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("pyspark")
if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
    pytest.skip("the Spark engine needs Java 17 (no java on PATH, no JAVA_HOME)",
                allow_module_level=True)

import pyarrow as pa
import pyarrow.parquet as pq
from pyspark.sql import functions as F

import linkgraph
import linkgraph.synth
from linkgraph import cluster, graph, normalize, sanctions, score
from linkgraph import schemas as s
from linkgraph.config import Config, CouponConfig, GraphConfig
from linkgraph.engine import LOCAL, Aggregation, get_engine
from linkgraph.engine.spark import SparkEngine, spark_session
from linkgraph.engine.spark.counts import heavy_keys
from linkgraph.graph import build_links
from linkgraph.load import Tables, load_tables
from linkgraph.normalize.phone import normalize_phones
from linkgraph.sanctions._reach import _directed_graph, _reach
from linkgraph.score.facts import account_facts
from linkgraph.score.hubs import find_coupon_hubs

pytestmark = [
    pytest.mark.spark,
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:PySpark does not yet fully support pandas:FutureWarning"),
    pytest.mark.filterwarnings("ignore:The copy keyword is deprecated"),
]


@pytest.fixture(scope="module")
def spark() -> Iterator[SparkEngine]:
    session = spark_session("local[2]")
    session.sparkContext.setLogLevel("ERROR")
    # small Arrow batches: a rule run in batches that read more than its own row (or its
    # own key) gives other results across batch edges, which small data would not show
    session.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "300")
    yield SparkEngine(master="local[2]", checkpoint_every=2, heavy_rows=40)
    session.stop()


def _random_graphs(seed: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Many small random graphs as one disjoint union, with the shapes that stress
    label propagation: a long path in shuffled order, a star, duplicates, self-loops,
    isolated nodes."""
    rng = np.random.default_rng(seed)
    src, dst, offset = [], [], 0
    for _ in range(25):
        n = int(rng.integers(1, 30))
        m = int(rng.integers(0, 2 * n))
        src.append(offset + rng.integers(0, n, m))
        dst.append(offset + rng.integers(0, n, m))
        offset += n
    path = offset + rng.permutation(60)
    src.append(path[:-1])
    dst.append(path[1:])
    offset += 60
    src.append(np.full(20, offset))
    dst.append(offset + np.arange(1, 21))
    offset += 21
    offset += 5  # isolated nodes at the end
    return offset, np.concatenate(src), np.concatenate(dst)


def test_components_equal_networkx_on_random_graphs(spark: SparkEngine) -> None:
    n, src, dst = _random_graphs(seed=3)
    labels = spark.connected_components(n, src, dst)

    graph = nx.Graph()
    graph.add_nodes_from(range(n))
    graph.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    expected = np.empty(n, dtype=np.int64)
    for label, members in enumerate(sorted(nx.connected_components(graph), key=min)):
        expected[list(members)] = label
    assert labels.max() + 1 == nx.number_connected_components(graph)
    assert labels.tolist() == expected.tolist()
    assert labels.tolist() == LOCAL.connected_components(n, src, dst).tolist()


def test_components_of_a_graph_without_edges_are_the_nodes(spark: SparkEngine) -> None:
    empty = np.zeros(0, dtype=np.int64)
    assert spark.connected_components(3, empty, empty).tolist() == [0, 1, 2]


def test_heavy_key_is_salted_and_counts_equal_bincount(spark: SparkEngine) -> None:
    # key 7 is a carrier NAT address: 300 rows; the rest have one to three
    rng = np.random.default_rng(5)
    keys = np.concatenate([np.full(300, 7), rng.integers(0, 60, 120)])
    rng.shuffle(keys)
    session = spark.session
    frame = session.createDataFrame(pd.DataFrame({"key": keys}))
    assert heavy_keys(frame, min_rows=spark.heavy_rows) == [7]
    assert spark.count_keys(keys, 64).tolist() == np.bincount(keys, minlength=64).tolist()


def test_phone_rule_runs_once_per_distinct_row_with_the_same_result(spark: SparkEngine) -> None:
    rows = pd.DataFrame({
        "phone": ["8 912 345-67-89", "+7 (912) 345 67 89", "07911 123456", "n/a", None,
                  "8 912 345-67-89", "07911 123456"],
        "country": ["RU", "DE", "GB", "RU", "RU", "RU", None],
    }, index=[10, 11, 12, 13, 14, 15, 16])

    def rule(frame: pd.DataFrame) -> pd.DataFrame:
        return normalize_phones(frame["phone"], frame["country"])

    on_spark = spark.map_rows(rule, rows)
    assert on_spark["value"].tolist()[:4] == ["+79123456789", "+79123456789", "+447911123456",
                                             "n/a"]
    pd.testing.assert_frame_equal(on_spark, LOCAL.map_rows(rule, rows))


def _random_arcs(rng: np.random.Generator, n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``m`` distinct arcs (tail, head) between ``n`` nodes, sorted, no loops."""
    key = np.unique(rng.integers(0, n, m) * n + rng.integers(0, n, m))
    tail, head = key // n, key % n
    return tail[tail != head], head[tail != head]


def test_reach_on_spark_keeps_the_same_best_paths_as_the_sanctions_stage(
        spark: SparkEngine) -> None:
    # confidences from a few values, so that many paths tie (0.8 * 0.8 == 0.64 at 9
    # decimals) and the tie-breaks (source, then predecessor) decide
    rng = np.random.default_rng(2)
    n = 150
    tail, head = _random_arcs(rng, n, 400)
    conf = rng.choice([0.5, 0.64, 0.8, 0.9, 1.0], len(tail))
    sources = rng.choice(n, 8, replace=False)
    expandable = rng.random(n) > 0.1  # cleared accounts: reached, not passed through
    graph, _ = _directed_graph(tail, head, conf, n)
    usable = rng.random(len(tail)) > 0.1  # edges this action may not travel
    local = _reach(graph, sources, max_hops=4, expandable=expandable, usable=usable)

    on_spark = spark.bounded_reach(graph.indptr, graph.target, graph.conf, sources, max_hops=4,
                                   expandable=expandable, usable=usable)

    assert (local.hops >= 2).any()
    assert on_spark.hops.tolist() == local.hops.tolist()
    assert on_spark.source.tolist() == local.source.tolist()
    assert on_spark.pred.tolist() == local.pred.tolist()
    assert on_spark.conf.tolist() == local.conf.tolist()

    # every node passable (the search for links near cleared accounts), every edge usable
    everywhere = np.ones(n, dtype=bool)
    near = _reach(graph, sources, max_hops=2, expandable=everywhere)
    near_on_spark = spark.bounded_reach(graph.indptr, graph.target, graph.conf, sources,
                                        max_hops=2, expandable=everywhere)
    assert (near.hops == 2).any()
    assert near_on_spark.hops.tolist() == near.hops.tolist()
    assert near_on_spark.pred.tolist() == near.pred.tolist()


def _identifiers(kind: str, value: str, accounts: list[str]) -> pd.DataFrame:
    return pd.DataFrame({
        "account_id": accounts, "kind": kind, "value": value, "masked": "***",
        "first_seen": pd.NaT, "last_seen": pd.NaT, "source": "addresses", "suppressed": None,
    })


def test_parcel_locker_shared_by_30_is_the_same_hub_on_both_engines(spark: SparkEngine) -> None:
    locker = _identifiers("address", "locker 1|||de", [f"a{i:02d}" for i in range(30)])
    family_home = _identifiers("address", "12 main street|4|12345|us", ["a01", "a02", "a03"])
    ids = pd.concat([locker, family_home], ignore_index=True).sort_values(
        ["account_id", "kind", "value"], ignore_index=True)
    empty = pd.DataFrame({"account_id": []})
    tables = Tables(accounts=pd.DataFrame({"account_id": sorted(set(ids["account_id"]))}),
                    addresses=empty, payments=empty, logins=empty, orders=empty,
                    sanctions=empty, decisions=empty, rejects=empty)

    local = build_links(ids, tables, config=GraphConfig())
    on_spark = build_links(ids, tables, config=GraphConfig(), engine=spark)

    assert local.hubs[["value", "n_accounts"]].to_numpy().tolist() == [["locker 1|||de", 30]]
    pd.testing.assert_frame_equal(on_spark.hubs, local.hubs)
    pd.testing.assert_frame_equal(on_spark.incidence, local.incidence)


def test_get_engine_spark_joins_the_running_session(spark: SparkEngine) -> None:
    engine = get_engine("spark", master="local[2]")
    assert engine.name == "spark"
    assert engine.session is spark.session  # type: ignore[attr-defined]


def test_spark_run_writes_the_same_files_as_the_local_run(
        spark: SparkEngine, marketplace: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    local = linkgraph.run(marketplace, out=tmp_path / "local", config=Config())

    # the hub counts come with the identifiers grouped on Spark: no incidence key is shipped
    def shipped(*args: object, **kwargs: object) -> None:
        raise AssertionError("count_keys called: the incidence was shipped to Spark")

    monkeypatch.setattr(SparkEngine, "count_keys", shipped)
    linkgraph.run(marketplace, out=tmp_path / "spark",
                  config=Config(engine="spark", spark_master="local[2]"))

    assert local.accounts["cluster_id"].nunique() < len(local.accounts)  # the data has clusters
    assert len(local.hubs) > 0 and len(local.review_queue) > 0
    for name in ("accounts.csv", "clusters.csv", "links.csv", "hubs.csv", "review_queue.csv"):
        assert filecmp.cmp(tmp_path / "local" / name, tmp_path / "spark" / name,
                           shallow=False), name


def test_group_aggregates_on_spark_equal_numpy(spark: SparkEngine) -> None:
    # group 3 is a giant cluster (most rows); groups 5 and 9 have no rows at all
    rng = np.random.default_rng(11)
    keys = np.concatenate([np.full(400, 3), rng.choice([0, 1, 2, 4, 6, 7, 8], 200)])
    rng.shuffle(keys)
    value = rng.integers(-1, 6, len(keys))  # -1: the row has no value
    when = np.where(rng.random(len(keys)) < 0.1, -np.inf, rng.random(len(keys)) * 100)
    aggregations = {
        "rows": Aggregation("count"),
        "redeemers": Aggregation("sum", rng.random(len(keys)) < 0.3),
        "orders": Aggregation("sum", rng.integers(0, 4, len(keys))),
        "hub": Aggregation("max", rng.integers(0, 50, len(keys)), fill=0),
        "last": Aggregation("max", when, fill=-np.inf),
        "persons": Aggregation("nunique", value),
        "top_card": Aggregation("top_count", value),
        "top_device": Aggregation("top_count", np.where(value % 2 == 0, value, -1)),
    }

    on_spark = spark.group_aggregate(keys, 10, aggregations)
    local = LOCAL.group_aggregate(keys, 10, aggregations)

    three = value[(keys == 3) & (value >= 0)]
    assert local["persons"][3] == len(set(three.tolist()))
    assert local["top_card"][3] == np.bincount(three).max()
    assert local["rows"][[5, 9]].tolist() == [0, 0]
    assert local["last"][5] == -np.inf
    for name in aggregations:
        assert on_spark[name].dtype == local[name].dtype, name
        assert on_spark[name].tolist() == local[name].tolist(), name



def test_repeated_identifier_rows_merge_to_the_same_times_on_spark(spark: SparkEngine) -> None:
    # a hand-built frame (not the normalize stage's, which is one row per key): a card
    # seen three times, a phone once with no time known, a device twice with none
    ids = pd.DataFrame({
        "account_id": ["a1", "a1", "a1", "a1", "a2", "a2", "a2"],
        "kind": ["card", "card", "card", "phone", "device", "device", "email"],
        "value": ["fp1", "fp1", "fp1", "+1555", "d1", "d1", "x@y.z"],
        "masked": "*", "source": "payments",
        "first_seen": pd.to_datetime(["2024-03-01", None, "2024-01-05", "2024-02-01", None,
                                      None, "2024-04-01"], utc=True),
        "last_seen": pd.to_datetime(["2024-03-02", "2024-06-01", None, None, None, None,
                                     "2024-04-02"], utc=True),
        "suppressed": [None, "test_card", None, None, None, None, None],
    })

    local = graph.incidence.code_identifiers(ids)
    on_spark = graph.incidence.code_identifiers(ids, engine=spark)

    card = local.frame.iloc[0]
    assert (card["first_seen"], card["last_seen"], card["suppressed"]) == (
        pd.Timestamp("2024-01-05", tz="UTC"), pd.Timestamp("2024-06-01", tz="UTC"), "test_card")
    assert local.frame["first_seen"].isna().tolist() == [False, False, True, False]
    pd.testing.assert_frame_equal(on_spark.frame, local.frame)


def test_quantiles_on_spark_equal_the_score_stages_own(spark: SparkEngine) -> None:
    # many sparse groups (coupons: the sorting path) and a few dense ones (currencies:
    # one sort per group), with NaN amounts, a group of NaN only and groups of one
    rng = np.random.default_rng(7)
    coupons = rng.choice(np.arange(0, 5000, 7), 900)
    currencies = rng.integers(1, 4, 300)
    groups = np.concatenate([coupons, 10_000 + currencies, [20_000, 20_000, 30_000]])
    values = np.round(rng.random(len(groups)) * 50, 1)  # ties, so that ranks matter
    values[rng.random(len(groups)) < 0.1] = np.nan
    values[-3:] = [np.nan, np.nan, 12.5]
    few = np.concatenate([currencies, [5]])
    few_values = np.concatenate([values[900:1200], [np.nan]])

    for q, in_groups, in_values in ((0.1, groups, values), (0.5, few, few_values)):
        local = LOCAL.group_quantile(in_values, in_groups, q)
        on_spark = spark.group_quantile(in_values, in_groups, q)
        expected = pd.Series(in_values).groupby(in_groups).quantile(q)
        assert local[0].tolist() == expected.index.tolist()
        np.testing.assert_array_equal(local[1], expected.to_numpy())
        for mine, theirs in zip(on_spark, local, strict=True):
            assert mine.dtype == theirs.dtype
            np.testing.assert_array_equal(mine, theirs)



def test_a_big_group_is_not_sorted_whole_for_its_quantile(
        spark: SparkEngine, monkeypatch: pytest.MonkeyPatch) -> None:
    # one currency holds most orders: a group of 120,000 amounts, one of 60,000 mostly
    # equal amounts (ties at the bracket's ends), and small groups the bracket may miss
    from linkgraph.engine.spark import quantile

    rng = np.random.default_rng(3)
    big = np.round(rng.random(120_000) * 500, 2)
    tied = np.where(rng.random(60_000) < 0.9, 9.99, np.round(rng.random(60_000) * 50, 2))
    small = np.round(rng.random(400) * 20, 1)
    values = np.concatenate([big, tied, small, [np.nan] * 50])
    groups = np.concatenate([np.full(len(big), 1), np.full(len(tied), 2),
                             rng.integers(10, 30, len(small)), np.full(50, 1)])
    seen: list[tuple[pd.DataFrame, np.ndarray, list[np.ndarray]]] = []
    ranked = quantile._ranked

    def spy(rows, keys, found, ranks, inside, missed):  # type: ignore[no-untyped-def]
        seen.append((found, missed, inside))
        return ranked(rows, keys, found, ranks, inside, missed)

    monkeypatch.setattr(quantile, "_ranked", spy)
    for q in (0.1, 0.5, 0.97):
        local = LOCAL.group_quantile(values, groups, q)
        on_spark = spark.group_quantile(values, groups, q)
        for mine, theirs in zip(on_spark, local, strict=True):
            assert mine.dtype == theirs.dtype
            np.testing.assert_array_equal(mine, theirs)
        found, missed, _ = seen[-1]
        big_groups = found["g"].isin([1, 2]).to_numpy()
        assert not missed[big_groups].any()  # bracketed, never ranked whole
    # the big group's wanted values lay strictly inside its bracket at least once
    assert any((at[found["g"].to_numpy() == 1] >= 0).any() for found, _, inside in seen
               for at in inside)


def test_wanted_ranks_are_placed_against_their_bracket() -> None:
    from linkgraph.engine.spark.quantile import _placed_values

    nan = np.nan
    # per group: present values, the bracket [lo, hi], and its exact counts
    found = pd.DataFrame({
        "present": [10, 10, 10, 10, 0], "lo": [3.0, 3.0, 5.0, 5.0, nan],
        "hi": [6.0, 6.0, 5.0, 5.0, nan], "below": [2, 2, 4, 9, 0], "at_lo": [1, 1, 2, 1, 0],
        "between": [3, 3, 0, 0, 0], "at_hi": [2, 2, 0, 0, 0]})
    ranks = (np.array([2, 4, 5, 3, 0]), np.array([3, 8, 6, 3, 0]))

    values, inside, missed = _placed_values(found, ranks)

    np.testing.assert_array_equal(values[0], [3.0, nan, 5.0, nan, nan])  # at the low end
    np.testing.assert_array_equal(values[1], [nan] * 5)
    assert inside[0].tolist() == [-1, 1, -1, -1, -1]  # strictly inside: its rank there
    assert inside[1].tolist() == [0, -1, -1, -1, -1]
    # above the bracket, past a bracket of one value, below it; a group without values is not
    assert missed.tolist() == [False, True, True, True, False]


def test_a_table_read_in_several_parts_is_numbered_in_read_order(spark: SparkEngine) -> None:
    # a directory of part files is read in several partitions, some of them empty
    from linkgraph.engine.spark.load import _numbered

    frame = spark.session.range(0, 1000, numPartitions=5).where(
        (F.col("id") < 300) | (F.col("id") >= 600))

    rows = frame.transform(_numbered).orderBy("id").toPandas()

    assert rows["_row"].tolist() == list(range(1, 701))


def test_largest_burst_on_spark_equals_the_local_sliding_window(spark: SparkEngine) -> None:
    # group 1: five redeemers on one day and two more exactly a window later (the window
    # holds its ends); group 4 is a giant cluster; group 2 has no rows, group 3 no times
    rng = np.random.default_rng(3)
    keys = np.concatenate([np.ones(7, dtype=np.int64), [3, 3], np.full(300, 4),
                           rng.choice([0, 5, 6, 7], 200)])
    when = np.concatenate([[10.0, 10.0, 10.5, 11.0, 11.0, 12.0, 12.5], [np.nan, np.nan],
                           rng.integers(0, 60, 300) + 0.25, rng.random(200) * 40])
    when[rng.random(len(when)) < 0.05] = np.nan
    when[:9] = [10.0, 10.0, 10.5, 11.0, 11.0, 12.0, 12.5, np.nan, np.nan]

    local = LOCAL.largest_window(keys, 8, when, 2.0)
    on_spark = spark.largest_window(keys, 8, when, 2.0)

    assert local[:4].tolist() == [local[0], 6, 0, 0]  # 10.0 .. 12.0 holds six
    assert on_spark.dtype == local.dtype
    assert on_spark.tolist() == local.tolist()


_ACCOUNTS = """account_id,created_at,email,phone,registration_ip,country
 a1 ,2024-01-02T10:00:00Z,a1@x.com,+491701234567,10.0.0.1,DE
a2,not a time,a2@x.com,,300.1.1.1,DE
 a2,2024-01-03,dup@x.com,,,DE
a3,2024-01-04 10:00:00+02:00,"line
break@x.com",,NULL,GB
,2024-01-05,blank@x.com,,,DE
a4,2024-01-06,extra,field,too,many,here
a5,,a5@x.com,,::1,US
a6,2024-02-30,a6@x.com,,1.2.3.4,US
"""
_ORDERS = """order_id,account_id,created_at,amount,currency,coupon_code,coupon_type
o1,a1,2024-01-10T00:00:00Z,10.5,EUR,WELCOME,new_user
o2,a2,2024-01-11,-3,EUR,,
o2,a1,2024-01-12,4,EUR,,
o3,zz,2024-01-12,4,EUR,,
o4,a3,yesterday,4,EUR,,
o5,a3,2024-01-13,abc,EUR,,
 o1 ,a5,2024-01-14,NaN,EUR,X,new_user
,a5,2024-01-14,1,EUR,,
o6, a5 ,2024-01-15,1e2,USD,,
o7, zz ,2024-01-16,5,EUR,,
o7,a1,2024-01-16,5,EUR,,
"""
_SANCTIONS = """account_id,action,reason,created_at
a1, BANNED ,fraud,2024-01-20
a2,frobnicate,x,2024-01-20
a9,banned,x,2024-01-20
"""


def _assert_same_tables(on_spark: Tables, local: Tables) -> None:
    for name in ("accounts", "addresses", "payments", "logins", "orders", "sanctions",
                 "decisions", "rejects"):
        pd.testing.assert_frame_equal(getattr(on_spark, name), getattr(local, name), obj=name)
    assert on_spark.sources == local.sources


def test_messy_export_loads_with_the_same_rows_and_rejects_on_spark(
        spark: SparkEngine, tmp_path: Path) -> None:
    csv = tmp_path / "csv"
    csv.mkdir()
    for name, text in (("accounts", _ACCOUNTS), ("orders", _ORDERS), ("sanctions", _SANCTIONS)):
        (csv / f"{name}.csv").write_text(text)
    local = load_tables(csv, max_reject_rate=1.0)
    on_spark = spark.load_tables(csv, max_reject_rate=1.0)

    # written by hand from the files: every check of the load stage fires once or more
    reasons = local.rejects[["table", "row", "reason"]].to_numpy().tolist()
    assert reasons == [
        ["accounts", 2, "bad timestamp (value ignored, row kept)"],
        ["accounts", 2, "bad IP address (value ignored, row kept)"],
        ["accounts", 3, "duplicate account_id"],  # its good created_at is not reported
        ["accounts", 5, "empty account_id"],
        ["accounts", 6, "wrong number of fields"],
        ["accounts", 8, "bad timestamp (value ignored, row kept)"],
        ["orders", 2, "negative number"],
        ["orders", 4, "unknown account_id"],
        ["orders", 5, "bad timestamp"],
        ["orders", 6, "not a number"],
        ["orders", 7, "duplicate order_id"],  # o2 of row 3 stays: row 2 was dropped first
        ["orders", 8, "empty order_id"],
        ["orders", 10, "unknown account_id"],  # so the o7 of row 11 is no duplicate
        ["sanctions", 2, "unknown action"],
        ["sanctions", 3, "unknown account_id"],
    ]
    # a cross-row check quotes the id as read, padded or not
    cross_row = local.rejects["reason"].isin(
        ["duplicate account_id", "unknown account_id", "duplicate order_id"])
    quoted = local.rejects.loc[cross_row, "value"].tolist()
    assert quoted == [" a2", "zz", " o1 ", " zz ", "a9"]
    _assert_same_tables(on_spark, local)

    # the same tables as Parquet, with typed amount and time columns
    parquet = tmp_path / "parquet"
    parquet.mkdir()
    orders = pd.DataFrame({
        "order_id": ["o1", "o1", "o2", "o3"], "account_id": ["a1", "a2", " a2", "a9"],
        "created_at": pd.to_datetime(["2024-01-10", "2024-01-11", None, "2024-01-12"], utc=True),
        "amount": [10.5, -1.0, 3.0, 4.0]})
    pq.write_table(pa.Table.from_pandas(orders, preserve_index=False),
                   parquet / "orders.parquet")
    accounts = pd.DataFrame({"account_id": ["a2", "a1", "a2"], "country": ["DE", None, "FR"]})
    pq.write_table(pa.Table.from_pandas(accounts, preserve_index=False),
                   parquet / "accounts.parquet")
    local = load_tables(parquet, max_reject_rate=1.0)
    assert local.orders["order_id"].tolist() == ["o1", "o2"]
    _assert_same_tables(spark.load_tables(parquet, max_reject_rate=1.0), local)


@pytest.fixture(scope="module")
def marketplace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A generated marketplace with clusters, hubs and coupon farms."""
    data = tmp_path_factory.mktemp("marketplace") / "data"
    linkgraph.synth.synthesize(data, accounts=2000, seed=5)
    return data


def test_reduced_logins_addresses_and_payments_give_the_identifiers_of_every_row(
    spark: SparkEngine, marketplace: Path, tmp_path: Path
) -> None:
    # one account signing in again and again from one place; an address saved twice (two
    # ids) with an order on each; a card saved twice and never used; an address id blank
    # to the normalize stage (a control character the load does not trim) that an order
    # names: of these, only one row per distinct row crosses to the driver, with its first
    # and last time, and normalize finds the same identifiers (first and last seen too)
    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(marketplace / f"{name}.csv", dtype=str, keep_default_na=False)

    logins, addresses, payments, orders = (read(n) for n in
                                           ("logins", "addresses", "payments", "orders"))
    again = logins.iloc[[0] * 5].assign(seen_at=[f"2026-0{m}-01T00:00:00Z" for m in range(1, 6)])
    used = orders.loc[orders["address_id"] != ""].iloc[0]
    home = addresses.loc[addresses["address_id"] == used["address_id"]].iloc[[0]]
    twice = home.assign(address_id="ad-again")
    blank = addresses.iloc[[1]].assign(address_id="\x1c")
    owner = blank["account_id"].item()
    later = pd.DataFrame([{**used.to_dict(), "order_id": "o-again", "address_id": "ad-again",
                           "created_at": "2027-01-01T00:00:00Z"},
                          {**used.to_dict(), "order_id": "o-blank", "account_id": owner,
                           "address_id": "\x1c", "created_at": "2027-02-01T00:00:00Z"}])
    card = payments.iloc[[2, 2]].assign(payment_id=["pm-again-1", "pm-again-2"])
    # cards for the token rule: digits of two tokens (a bare card with them keeps its
    # digits), digits of one token (a bare card with them takes it), a card with only a
    # blank last4; and an account's messy fields
    who = payments["account_id"].iloc[:5].tolist()
    cards = pd.DataFrame({
        "account_id": who, "payment_id": [f"pm-rule-{i}" for i in range(5)], "method": "card",
        "fingerprint": ["tok-A", "tok-B", "", "tok-C", ""],
        "card_bin": ["411111", "411111", "4111 11", "522222", "522222"],
        "card_last4": ["1111", "1111", "1111", "2222", "2222"],
        "card_expiry": ["01/30", "01/30", "1/2030", "02/31", "02/31"],
        "holder_name": ["ANA LIMA", "Ana Lima", "ana lima", "Bo Ek", "BO EK"]})
    # and two strangers on one key (BIN, last four, expiry, initials), in rows far apart:
    # the second is told apart by name (payment.namesakes_apart reads a key's holders)
    namesakes = cards.iloc[[3, 3]].assign(
        payment_id=["pm-rule-6", "pm-rule-7"], fingerprint="", card_bin="433333",
        card_last4="3333", card_expiry="03/29", holder_name=["Megan White", "Michael Wright"])
    cards = pd.concat([namesakes.iloc[[0]], cards, cards.iloc[[0]].assign(
        payment_id="pm-rule-5", fingerprint="", card_last4=" ")])
    tail = namesakes.iloc[[1]]
    messy = read("accounts").iloc[[3]].assign(
        account_id="acc-messy", email=" J.Doe+Promo@GMAIL.com ", phone="8 (912) 345-67-89",
        full_name="   ", device_id="n/a", registration_ip="10.0.0.1")
    data = tmp_path / "data"
    shutil.copytree(marketplace, data)
    for name, frame in (("logins", pd.concat([logins, again])),
                        ("addresses", pd.concat([addresses, twice, blank])),
                        ("payments", pd.concat([cards, payments, card, tail])),
                        ("accounts", pd.concat([read("accounts"), messy])),
                        ("orders", pd.concat([orders, later]))):
        frame.to_csv(data / f"{name}.csv", index=False)
    config = Config()
    local = load_tables(data, max_reject_rate=config.max_reject_rate)
    reduced = spark.load_tables(data, max_reject_rate=config.max_reject_rate, reduced=True)

    assert len(reduced.logins) < len(local.logins) - 4
    assert len(reduced.addresses) == len(local.addresses) - 2  # twice, blank: copies
    assert len(reduced.payments) == len(local.payments) - 2
    assert reduced.sources == local.sources  # rows read and accepted: the whole table's
    ids = ["address_id", "payment_id"]
    assert reduced.orders[ids].isna().all().all()
    pd.testing.assert_frame_equal(reduced.orders.drop(columns=ids), local.orders.drop(columns=ids))
    pd.testing.assert_frame_equal(reduced.accounts, local.accounts)
    on_spark = normalize.normalize_identifiers(reduced, config=config.normalize)
    expected = normalize.normalize_identifiers(local, config=config.normalize)
    pd.testing.assert_frame_equal(on_spark, expected)

    # grouped on Spark: none of the three tables reaches the driver, and the stage judges
    # and assembles the same frame from the kinds' codes (same categories too)
    grouped = spark.load_tables(data, max_reject_rate=config.max_reject_rate, reduced=True,
                                identifiers=config.normalize)
    assert grouped.identifier_rows is not None
    assert [g.kind for g in grouped.identifier_rows] == sorted(expected["kind"].unique())
    assert grouped.logins.empty and grouped.addresses.empty and grouped.payments.empty
    assert grouped.sources == local.sources
    from_codes = normalize.normalize_identifiers(normalize.HandedOver(grouped),
                                                 config=config.normalize)
    # with each value's accounts, counted on Spark, for the graph's hub count
    value_code = from_codes["value_code"].to_numpy()
    assert from_codes.pop("value_accounts").tolist() == np.bincount(value_code)[value_code].tolist()
    pd.testing.assert_frame_equal(from_codes, expected, check_categorical=True)
    for column in ("kind", "source", "suppressed"):
        assert from_codes[column].cat.categories.equals(expected[column].cat.categories)
    cards = expected.loc[expected["kind"].isin(["card", "card_digits"])
                         & expected["account_id"].isin(who)]
    def values_of(account: str) -> set[str]:
        return set(cards.loc[cards["account_id"] == account, "value"])

    assert "tok-C" in values_of(who[4])  # the bare card of one token's digits takes it
    assert any(v.startswith("411111|1111|0130") for v in values_of(who[2]))  # two tokens'
    assert "433333|3333|0329|MW|michael wright" in values_of(who[3])
    # the address saved twice is last seen at the later order, on the second id
    mine = on_spark.loc[(on_spark["account_id"] == home["account_id"].item())
                        & (on_spark["kind"] == "address")]
    assert (mine["last_seen"] == pd.Timestamp("2027-01-01", tz="UTC")).sum() == 1
    # and no order gives the blank id a time
    theirs = on_spark.loc[(on_spark["account_id"] == owner) & (on_spark["kind"] == "address")
                          & (on_spark["last_seen"] == pd.Timestamp("2027-02-01", tz="UTC"))]
    assert theirs.empty


def _clustered(marketplace: Path, config: Config
               ) -> tuple[Tables, graph.LinkSet, cluster.Clustering]:
    """The generated marketplace's tables, links and clusters (local engine)."""
    tables = load_tables(marketplace, max_reject_rate=config.max_reject_rate)
    identifiers = normalize.normalize_identifiers(tables, config=config.normalize)
    links = graph.build_links(identifiers, tables, config=config.graph)
    clusters = cluster.assign_clusters(
        tables.accounts, links, blocked=sanctions.blocked_accounts(tables.sanctions),
        config=config.cluster)
    return tables, links, clusters


def test_coupon_scores_on_spark_equal_the_local_scores(spark: SparkEngine,
                                                       marketplace: Path) -> None:
    config = Config()
    tables, links, clusters = _clustered(marketplace, config)

    local = score.score_clusters(clusters, links, tables, config=config.coupon)
    on_spark = score.score_clusters(clusters, links, tables, config=config.coupon, engine=spark)

    assert (local.clusters["coupon_abuse_score"] > 0).any()
    pd.testing.assert_frame_equal(on_spark.clusters, local.clusters)
    pd.testing.assert_frame_equal(on_spark.persons, local.persons)
    pd.testing.assert_frame_equal(on_spark.coupon_hubs, local.coupon_hubs)


def test_labelled_search_on_spark_finds_the_same_goals_as_the_sanctions_stage(
        spark: SparkEngine) -> None:
    from linkgraph.sanctions._reach import _labelled_reach

    # ages and deadlines from a few values, so that many edges are exactly at a deadline;
    # labels sharing starts and goals, labels starting at their goal, starts and goals
    # that may not be passed, duplicate labels, edges no rule may travel
    rng = np.random.default_rng(11)
    n = 120
    tail, head = _random_arcs(rng, n, 360)
    graph, _ = _directed_graph(tail, head, np.ones(len(tail)), n)
    age = rng.choice(np.array([np.iinfo(np.int64).min, 10, 20, 30, 40]), len(tail))
    usable = rng.random(len(tail)) > 0.15
    passable = rng.random(n) > 0.2
    n_labels = 300
    starts = rng.integers(0, n, n_labels)
    goals = rng.integers(0, n, n_labels)
    goals[:20] = starts[:20]
    deadlines = rng.choice(np.array([10, 20, 30, 40, 50]), n_labels)
    starts[-10:], goals[-10:], deadlines[-10:] = starts[0], goals[0], deadlines[0]
    args = (graph.indptr, graph.target, usable, age, starts, goals, deadlines)

    local = _labelled_reach(*args, passable=passable, max_hops=3)
    on_spark = spark.labelled_reach(*args, passable=passable, max_hops=3)

    one_hop = _labelled_reach(*args, passable=passable, max_hops=1)
    assert local.any() and not local.all() and (local & ~one_hop).any()
    assert not local[:20].any()  # a start is never found again
    assert on_spark.dtype == local.dtype
    assert on_spark.tolist() == local.tolist()

    # every node passable; no label; no edge any deadline admits
    everywhere = np.ones(n, dtype=bool)
    assert (spark.labelled_reach(*args, passable=everywhere, max_hops=2).tolist()
            == _labelled_reach(*args, passable=everywhere, max_hops=2).tolist())
    none = spark.labelled_reach(*args[:4], starts[:0], goals[:0], deadlines[:0],
                                passable=passable, max_hops=3)
    assert none.dtype == np.bool_ and len(none) == 0
    too_old = spark.labelled_reach(*args[:3], np.full(len(tail), 60), *args[4:],
                                   passable=passable, max_hops=3)
    assert too_old.dtype == np.bool_ and not too_old.any() and len(too_old) == n_labels


def test_window_count_of_every_row_on_spark_equals_the_local_sliding_windows(
    spark: SparkEngine,
) -> None:
    # group 1: three redeemers at one moment, two more exactly a window later (the window
    # holds its ends), in shuffled input order so that equal times keep the input order;
    # group 2: -0.0 and 0.0 (equal times); group 3 only NaN times; group 4 a giant value
    # with many equal times; groups 0, 5-7 random; 5 % of the times NaN
    rng = np.random.default_rng(11)
    keys = np.concatenate([np.ones(7, dtype=np.int64), [2, 2, 2, 3, 3], np.full(400, 4),
                           rng.choice([0, 5, 6, 7], 300)])
    when = np.concatenate([np.zeros(12), rng.integers(0, 60, 400) + 0.25,
                           rng.random(300) * 40])
    when[rng.random(len(when)) < 0.05] = np.nan
    when[:12] = [12.0, 10.0, 12.0, 10.0, 11.5, 10.0, 13.0, 0.0, -0.0, 1.0, np.nan, np.nan]
    shuffle = rng.permutation(len(keys))
    shuffle = np.concatenate([np.arange(12), shuffle[shuffle >= 12]])
    keys, when = keys[shuffle], when[shuffle]

    order, count = LOCAL.window_counts(keys, when, 2.0)
    on_spark = spark.window_counts(keys, when, 2.0)

    mine = np.isin(keys[order], [1, 2, 3])
    assert order[mine].tolist() == [1, 3, 5, 4, 0, 2, 6, 7, 8, 9]
    assert count[mine].tolist() == [6, 5, 4, 4, 3, 2, 1, 3, 2, 1]
    for mine, theirs in zip(on_spark, (order, count), strict=True):
        assert mine.dtype == theirs.dtype == np.int64
        np.testing.assert_array_equal(mine, theirs)
    # the largest window of each group is the most of its rows' counts, on both engines
    largest = spark.largest_window(keys, 8, when, 2.0)
    expected = np.zeros(8, dtype=np.int64)
    np.maximum.at(expected, keys[order], count)
    np.testing.assert_array_equal(largest, expected)


def test_window_counts_without_any_time_are_empty_on_spark(spark: SparkEngine) -> None:
    for keys, when in ((np.zeros(0, dtype=np.int64), np.zeros(0)),
                       (np.array([0, 3]), np.array([np.nan, np.nan]))):
        for mine, theirs in zip(spark.window_counts(keys, when, 3.0),
                                LOCAL.window_counts(keys, when, 3.0), strict=True):
            assert mine.dtype == theirs.dtype
            assert mine.tolist() == theirs.tolist() == []


def test_coupon_hubs_on_spark_equal_the_local_hubs(spark: SparkEngine,
                                                   marketplace: Path) -> None:
    # the generated marketplace's pickup points hold bursts of 3 coupon-only new users
    # within 60 days in several clusters: coupon hubs with these settings; the creation
    # times rounded down to the week, so that a hub's redeemers share times
    config = Config()
    coupon = dataclasses.replace(config.coupon, hub_min_burst=3, burst_days=60.0)
    tables, links, clusters = _clustered(marketplace, config)
    accounts = clusters.accounts[["account_id", "cluster_id", "person_cluster_id"]]
    facts, redeemers = account_facts(accounts, links, tables, config=coupon)
    facts = facts.assign(created=np.floor(facts["created"] / 7) * 7)
    codes = pd.factorize(accounts["cluster_id"])[0]

    local = find_coupon_hubs(facts, redeemers, links.incidence, codes, config=coupon)
    on_spark = find_coupon_hubs(facts, redeemers, links.incidence, codes, config=coupon,
                                engine=spark)

    assert len(local[0]) >= 2
    assert (local[1] > 0).sum() >= 6
    pd.testing.assert_frame_equal(on_spark[0], local[0])
    assert on_spark[1].dtype == local[1].dtype
    np.testing.assert_array_equal(on_spark[1], local[1])


def test_orders_summarised_on_spark_equal_the_summary_of_every_order(
        spark: SparkEngine, tmp_path: Path) -> None:
    # coupon words as exports write them (blanks, case, spaces, codes and types alone),
    # missing amounts, currencies and times, and coupons with few and many orders
    rng = np.random.default_rng(11)
    n = 3000

    def pick(words: list[str], p: list[float]) -> np.ndarray:
        return rng.choice(np.array(words, dtype=object), n, p=p)

    amount = rng.choice([9.99, 10.0, 10.5, 12.0, 30.0, 250.0], n) + rng.integers(0, 3, n) / 4
    orders = pd.DataFrame({
        "order_id": [f"o{i}" for i in range(n)],
        "account_id": [f"a{i}" for i in rng.integers(0, 400, n)],
        "created_at": np.where(rng.random(n) < 0.05, "",
                               pd.Series(pd.Timestamp("2024-03-01") + pd.to_timedelta(
                                   rng.integers(0, 90 * 86_400, n), unit="s")).astype(str)),
        "amount": np.where(rng.random(n) < 0.05, "", amount.astype(str)),
        "currency": pick(["EUR", "USD", "", "PLN"], [0.6, 0.3, 0.05, 0.05]),
        "coupon_code": pick(["", "HELLO10", "SPRING", "hello10", "RARE1"],
                            [0.5, 0.3, 0.15, 0.04, 0.01]),
        "coupon_type": pick(["", "new_user", "NEW_USER", "loyalty"], [0.4, 0.4, 0.1, 0.1]),
    })
    data = tmp_path / "data"
    data.mkdir()
    pd.DataFrame({"account_id": [f"a{i}" for i in range(400)]}).to_csv(
        data / "accounts.csv", index=False)
    orders.to_csv(data / "orders.csv", index=False)
    every_order = load_tables(data).orders

    for config in (CouponConfig(), CouponConfig(small_order_amount=20.0, near_min_margin=0.3,
                                                new_user_types=("new_user", "loyalty"))):
        tables = spark.load_tables(data, reduced=True, orders=config)
        expected = score.order_summary(every_order, config=config)

        assert tables.orders.empty and list(tables.orders.columns) == list(every_order.columns)
        assert (expected[s.O_NEAR_MIN] > 0).any() and (expected[s.O_LARGE] > 0).any()
        pd.testing.assert_frame_equal(tables.order_facts, expected)
        orders_read = next(f for f in tables.sources if f.table == "orders")
        assert orders_read.rows_accepted == len(every_order) == n
