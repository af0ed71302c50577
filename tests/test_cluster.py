"""Cluster stage: components, ids without a previous run, the clusters frame, alerts."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.cluster import Clustering, assign_clusters, components
from linkgraph.cluster.alerts import bridge_sides
from linkgraph.config import ClusterConfig
from linkgraph.errors import InputError
from linkgraph.graph import LinkSet

CONFIG = ClusterConfig()


def make_links(edges: list[tuple[str, str, str, str]]) -> LinkSet:
    """LinkSet from (account_a, account_b, pair tier, kind) rows; one value per row.

    A pair listed twice takes its strongest tier, whatever the row order.
    """
    rows = [(min(a, b), max(a, b), tier, kind) for a, b, tier, kind in edges]
    pairs = pd.DataFrame({
        "account_a": [r[0] for r in rows], "account_b": [r[1] for r in rows],
        "kind": [r[3] for r in rows], "value": [f"{r[3]}-{r[0]}-{r[1]}" for r in rows],
        "masked": [f"{r[3]} ••{r[0][-1]}{r[1][-1]}" for r in rows],
        "tier": ["weak" if r[3] in ("ip", "name") else r[2] for r in rows],
        "weight": 1.0,
    }, columns=["account_a", "account_b", "kind", "value", "masked", "tier", "weight"])
    pair_tiers = pairs.drop_duplicates(["account_a", "account_b"])[["account_a", "account_b"]].copy()
    strength = {"person": 0, "household": 1, "weak": 2}
    tier_of: dict[tuple[str, str], str] = {}
    for a, b, tier, _ in rows:  # a pair's tier is its strongest link's
        if strength[tier] < strength[tier_of.get((a, b), "weak")]:
            tier_of[(a, b)] = tier
        tier_of.setdefault((a, b), tier)
    pair_tiers["tier"] = [tier_of[(a, b)] for a, b in zip(pair_tiers.account_a, pair_tiers.account_b)]
    pair_tiers = pair_tiers.astype({"account_a": "str", "account_b": "str", "tier": "str"})
    return LinkSet(incidence=pd.DataFrame(), pairs=pairs, pair_tiers=pair_tiers,
                   hubs=pd.DataFrame(), profiles=pd.DataFrame())


def make_accounts(ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"account_id": pd.array(ids, dtype="str")})


def cluster(ids: list[str], edges: list[tuple[str, str, str, str]], *, blocked: tuple[str, ...] = (),
            config: ClusterConfig = CONFIG) -> Clustering:
    return assign_clusters(make_accounts(ids), make_links(edges), blocked=pd.Index(list(blocked)),
                           config=config)


def partition(frame: pd.DataFrame, column: str) -> set[frozenset[str]]:
    return {frozenset(g) for g in frame.groupby(column)["account_id"].apply(list)}


def nx_partition(ids: list[str], edges: list[tuple[str, str]]) -> set[frozenset[str]]:
    graph = nx.Graph()
    graph.add_nodes_from(ids)
    graph.add_edges_from(edges)
    return {frozenset(c) for c in nx.connected_components(graph)}


@st.composite
def random_graphs(draw: st.DrawFn) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    n = draw(st.integers(1, 25))
    ids = [f"acc{i}" for i in range(n)]
    edge = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1),
                     st.sampled_from(["person", "household", "weak"]))
    raw = draw(st.lists(edge, max_size=40))
    seen: dict[tuple[str, str], str] = {}
    for i, j, tier in raw:
        if i != j:
            seen.setdefault((min(ids[i], ids[j]), max(ids[i], ids[j])), tier)
    return ids, [(a, b, tier, "card") for (a, b), tier in seen.items()]


# --- components ---------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(random_graphs())
def test_components_equal_networkx_connected_components_on_random_graphs(graph) -> None:
    ids, edges = graph
    result = cluster(ids, edges)
    family_edges = [(a, b) for a, b, tier, _ in edges if tier in ("person", "household")]
    person_edges = [(a, b) for a, b, tier, _ in edges if tier == "person"]
    assert partition(result.accounts, "cluster_id") == nx_partition(ids, family_edges)
    assert partition(result.accounts, "person_cluster_id") == nx_partition(ids, person_edges)


@settings(max_examples=25, deadline=None)
@given(random_graphs())
def test_every_account_gets_one_cluster_and_its_person_cluster_lies_inside_it(graph) -> None:
    ids, edges = graph
    accounts = cluster(ids, edges).accounts
    assert sorted(accounts.account_id) == sorted(ids)
    assert accounts.account_id.is_unique
    assert accounts[["cluster_id", "person_cluster_id"]].notna().all().all()
    assert (accounts.groupby("person_cluster_id")["cluster_id"].nunique() == 1).all()


@settings(max_examples=25, deadline=None)
@given(random_graphs(), st.randoms(use_true_random=False))
def test_ids_do_not_depend_on_input_row_order(graph, rnd) -> None:
    ids, edges = graph
    shuffled_ids, shuffled_edges = ids[:], edges[:]
    rnd.shuffle(shuffled_ids)
    rnd.shuffle(shuffled_edges)
    # Small alert thresholds so that alerts are exercised too.
    config = ClusterConfig(alert_size=5, bridge_min_part=2)
    first = cluster(ids, edges, config=config)
    second = cluster(shuffled_ids, shuffled_edges, config=config)
    for name in ("accounts", "clusters", "alerts", "issued_ids"):
        pd.testing.assert_frame_equal(getattr(first, name), getattr(second, name))


@settings(max_examples=20, deadline=None)
@given(random_graphs())
def test_relabelling_account_ids_consistently_keeps_the_clusters(graph) -> None:
    ids, edges = graph
    # Reversed sort order: the last account by id becomes the first.
    rename = {a: f"z{len(ids) - i:03d}" for i, a in enumerate(sorted(ids))}
    renamed = cluster([rename[a] for a in ids], [(rename[a], rename[b], t, k) for a, b, t, k in edges])
    original = cluster(ids, edges)
    relabelled = {frozenset(rename[a] for a in c) for c in partition(original.accounts, "cluster_id")}
    assert relabelled == partition(renamed.accounts, "cluster_id")
    assert original.clusters.n_accounts.sort_values().tolist() == renamed.clusters.n_accounts.sort_values().tolist()


def test_cluster_id_is_a_function_of_its_members_not_of_other_accounts() -> None:
    family = [("a1", "a2", "household", "address")]
    alone = cluster(["a1", "a2"], family).accounts
    crowded = cluster(["a0", "a1", "a2", "b9"], family + [("a0", "b9", "person", "card")]).accounts
    assert alone.set_index("account_id").loc["a1", "cluster_id"] == (
        crowded.set_index("account_id").loc["a1", "cluster_id"]
    )


def test_ids_are_short_opaque_and_prefixed_by_tier() -> None:
    accounts = cluster(["a1", "a2", "a3"], [("a1", "a2", "person", "card")]).accounts
    assert accounts.cluster_id.str.fullmatch(r"C[0-9a-z]{8}").all()
    assert accounts.person_cluster_id.str.fullmatch(r"P[0-9a-z]{8}").all()
    assert accounts.cluster_id.nunique() == 2


def test_weak_links_never_join_clusters() -> None:
    result = cluster(["a1", "a2"], [("a1", "a2", "weak", "ip")])
    assert result.accounts.cluster_id.nunique() == 2


def test_pairs_naming_unknown_accounts_are_ignored() -> None:
    result = cluster(["a1", "a2"], [("a1", "ghost", "person", "card"), ("a1", "a2", "household", "address")])
    assert sorted(result.accounts.account_id) == ["a1", "a2"]
    assert result.accounts.cluster_id.nunique() == 1


def test_no_accounts_gives_empty_frames() -> None:
    result = cluster([], [])
    assert result.accounts.empty and result.clusters.empty and result.alerts.empty
    assert list(result.changes.columns[:5]) == [
        "cluster_id", "change", "previous_cluster_ids", "accounts_added", "accounts_removed"]


def test_missing_columns_are_reported_together() -> None:
    links = make_links([("a1", "a2", "person", "card")])
    broken = LinkSet(incidence=links.incidence, pairs=links.pairs.drop(columns=["kind", "masked"]),
                     pair_tiers=links.pair_tiers.drop(columns=["tier"]), hubs=links.hubs,
                     profiles=links.profiles)
    with pytest.raises(InputError, match="pair_tiers has no column 'tier'.*pairs has no column "
                                         "'kind', 'masked'"):
        assign_clusters(make_accounts(["a1", "a2"]), broken, blocked=pd.Index([]), config=CONFIG)


# --- the clusters frame ---------------------------------------------------------


def test_family_of_two_people_counts_persons_blocked_kinds_and_density() -> None:
    # mum's two accounts share card and device (one person); dad shares the address.
    edges = [
        ("mum1", "mum2", "person", "card"), ("mum1", "mum2", "person", "device"),
        ("mum1", "dad", "household", "address"), ("dad", "mum2", "weak", "ip"),
    ]
    result = cluster(["mum1", "mum2", "dad", "stranger"], edges, blocked=("mum2", "stranger"))
    by_id = result.clusters.set_index("cluster_id")
    family = by_id.loc[result.accounts.set_index("account_id").loc["dad", "cluster_id"]]
    assert (family.n_accounts, family.n_persons, family.n_blocked) == (3, 2, 1)
    assert family.link_kinds == "address;card;device"  # ip is weak: not a linking kind
    assert family.density == pytest.approx(2 / 3)  # mum1-mum2, mum1-dad of 3 possible
    loner = by_id.loc[result.accounts.set_index("account_id").loc["stranger", "cluster_id"]]
    assert (loner.n_accounts, loner.n_persons, loner.n_blocked, loner.link_kinds, loner.density) == (
        1, 1, 1, "", 0.0)
    assert result.clusters.cluster_id.is_monotonic_increasing


# --- giant-cluster guard ----------------------------------------------------------


def barbell(size: int) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    left = [f"l{i:02d}" for i in range(size)]
    right = [f"r{i:02d}" for i in range(size)]
    edges = [(a, b, "person", "device") for side in (left, right)
             for i, a in enumerate(side) for b in side[i + 1:]]
    return left + right, edges + [("l00", "r00", "household", "address")]


def test_two_families_joined_by_one_address_raise_a_bridge_alert() -> None:
    ids, edges = barbell(10)
    result = cluster(ids, edges, config=ClusterConfig(alert_size=60, bridge_min_part=10))
    assert len(result.alerts) == 1
    alert = result.alerts.iloc[0]
    assert (alert.n_accounts, alert.reason, alert.part_sizes) == (20, "bridge", "10+10")
    assert (alert.bridge_account_a, alert.bridge_account_b, alert.bridge_kinds) == ("l00", "r00", "address")
    assert "l00 and r00 share address" in alert.bridge
    assert alert.bridge_masked.startswith("address ••")


def test_bridge_to_a_small_part_is_not_alerted() -> None:
    ids, edges = barbell(10)
    result = cluster(ids, edges, config=ClusterConfig(bridge_min_part=11))
    assert result.alerts.empty


def test_cluster_over_the_alert_size_is_alerted_even_without_a_bridge() -> None:
    ring = [f"a{i:02d}" for i in range(8)]
    edges = [(ring[i], ring[(i + 1) % 8], "household", "address") for i in range(8)]
    result = cluster(ring, edges, config=ClusterConfig(alert_size=5, bridge_min_part=2))
    assert result.alerts[["n_accounts", "reason", "bridge"]].values.tolist() == [[8, "size", ""]]


def test_chain_alerts_its_most_balanced_bridge() -> None:
    chain = [f"a{i:02d}" for i in range(9)]
    edges = [(chain[i], chain[i + 1], "person", "card") for i in range(8)]
    result = cluster(chain, edges, config=ClusterConfig(bridge_min_part=3))
    alert = result.alerts.iloc[0]
    assert (alert.bridge_account_a, alert.bridge_account_b, alert.part_sizes) == ("a03", "a04", "4+5")


def test_components_of_300_accounts_with_random_addresses_match_networkx() -> None:
    rng = np.random.default_rng(3)
    ids = [f"u{i:04d}" for i in range(300)]
    pairs = rng.integers(0, 300, size=(250, 2))
    edges = [(ids[i], ids[j], "household", "address") for i, j in pairs if i != j]
    result = cluster(ids, edges)
    assert partition(result.accounts, "cluster_id") == nx_partition(ids, [(a, b) for a, b, _, _ in edges])


@settings(max_examples=40, deadline=None)
@given(random_graphs())
def test_bridges_and_their_sides_equal_networkx(graph) -> None:
    ids, edges = graph
    code = {a: i for i, a in enumerate(ids)}
    pairs = np.array(sorted({(code[a], code[b]) for a, b, _, _ in edges}), dtype=np.int64).reshape(-1, 2)
    family = components(len(ids), pairs[:, 0], pairs[:, 1])
    found = bridge_sides(family, pairs)

    graph_nx = nx.Graph()
    graph_nx.add_nodes_from(range(len(ids)))
    graph_nx.add_edges_from(pairs.tolist())
    expected = []
    for a, b in sorted(tuple(sorted(e)) for e in nx.bridges(graph_nx)):
        cut = graph_nx.copy()
        cut.remove_edge(a, b)
        expected.append([int(family[a]), a, b, len(nx.node_connected_component(cut, a)),
                         len(nx.node_connected_component(cut, b))])
    assert found.values.tolist() == expected


def test_ids_of_the_usual_format_sort_as_their_text_does():
    from linkgraph.cluster.ids import sorted_by_id

    ids = ["P0000000a", "C0000000z", "C00000010", "C0000000z", "Czzzzzzzz", "C00000009"]
    frame = pd.DataFrame({"cluster_id": pd.array(ids, dtype="str"), "row": range(len(ids))})
    expected = frame.sort_values("cluster_id", kind="stable", ignore_index=True)
    assert sorted_by_id(frame).equals(expected)
    # an id of another format: the text sort, same result
    odd = pd.DataFrame({"cluster_id": pd.array(["old-7", "C00000001"], dtype="str")})
    assert sorted_by_id(odd)["cluster_id"].tolist() == ["C00000001", "old-7"]


def test_new_clusters_with_equal_set_hashes_still_get_distinct_ids():
    from linkgraph.cluster.ids import fresh_ids

    hashes = np.array([7 << 40, 3, 7 << 40], dtype=np.uint64)
    ids = fresh_ids(hashes, pd.Index([]), "cluster")
    assert len(set(ids)) == 3
    # the first of the two equal hashes keeps the unsalted candidate
    assert ids[0] == fresh_ids(hashes[:1], pd.Index([]), "cluster")[0]
