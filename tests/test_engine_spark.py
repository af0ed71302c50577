"""The Spark engine gives exactly what the local engine gives (local[2], one session).

Skipped when pyspark or Java is missing. Spark jobs cost seconds each on a
laptop, so each test makes one or two engine calls over data that covers many
cases at once (e.g. many random graphs as one disjoint union).
"""

from __future__ import annotations

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

import linkgraph
import linkgraph.synth
from linkgraph.config import Config, GraphConfig
from linkgraph.engine import LOCAL, get_engine
from linkgraph.engine.spark import SparkEngine, spark_session
from linkgraph.engine.spark.counts import heavy_keys
from linkgraph.graph import build_links
from linkgraph.load import Tables
from linkgraph.normalize.phone import normalize_phones
from linkgraph.sanctions._reach import _directed_graph, _reach

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


def test_reach_on_spark_keeps_the_same_best_paths_as_the_sanctions_stage(
        spark: SparkEngine) -> None:
    # confidences from a few values, so that many paths tie (0.8 * 0.8 == 0.64 at 9
    # decimals) and the tie-breaks (source, then predecessor) decide
    rng = np.random.default_rng(2)
    n = 150
    key = np.unique(rng.integers(0, n, 400) * n + rng.integers(0, n, 400))
    tail, head = key // n, key % n
    tail, head = tail[tail != head], head[tail != head]
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


def test_spark_run_writes_the_same_files_as_the_local_run(spark: SparkEngine,
                                                          tmp_path: Path) -> None:
    linkgraph.synth.synthesize(tmp_path / "data", accounts=2000, seed=5)
    local = linkgraph.run(tmp_path / "data", out=tmp_path / "local", config=Config())
    linkgraph.run(tmp_path / "data", out=tmp_path / "spark",
                  config=Config(engine="spark", spark_master="local[2]"))

    assert local.accounts["cluster_id"].nunique() < len(local.accounts)  # the data has clusters
    assert len(local.hubs) > 0 and len(local.review_queue) > 0
    for name in ("accounts.csv", "clusters.csv", "links.csv", "hubs.csv", "review_queue.csv"):
        assert filecmp.cmp(tmp_path / "local" / name, tmp_path / "spark" / name,
                           shallow=False), name
