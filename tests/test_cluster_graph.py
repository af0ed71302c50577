"""cluster_graph: the graph of one cluster for analysts and explanations."""

from __future__ import annotations

import pandas as pd
import pytest

from linkgraph.cluster import cluster_graph
from linkgraph.errors import InputError
from linkgraph.graph import LinkSet

# run.links: pairs inside clusters, with the cluster id in front.
RUN_LINKS = pd.DataFrame({
    "cluster_id": ["Cfam", "Cfam", "Cfam", "Cother"],
    "account_a": ["mum", "mum", "dad", "x1"],
    "account_b": ["son", "son", "mum", "x2"],
    "kind": ["card", "ip", "address", "card"],
    "value": ["fp1", "10.0.0.1", "12 main st", "fp9"],
    "masked": ["card ••11", "10.0.•.•", "12 M*** St", "card ••99"],
    "tier": ["person", "weak", "household", "person"],
    "weight": [0.9, 0.1, 0.5, 0.9],
})
# run.identifiers: one row per (account, kind, value), hubs marked not linking.
RUN_IDENTIFIERS = pd.DataFrame({
    "account_id": ["mum", "son", "dad", "mum", "mum"],
    "kind": ["card", "card", "address", "address", "ip"],
    "value": ["fp1", "fp1", "12 main st", "12 main st", "100.64.0.1"],
    "masked": ["card ••11", "card ••11", "12 M*** St", "12 M*** St", "100.64.•.•"],
    "tier": ["person", "person", "household", "household", "weak"],
    "n_accounts": [2, 2, 2, 2, 5000],
    "weight": [0.8, 0.7, 0.5, 0.5, 0.0],
    "linking": [True, True, True, True, False],
})


def test_family_graph_has_typed_account_and_identifier_nodes_and_weighted_edges() -> None:
    graph = cluster_graph(RUN_LINKS, ["mum", "son", "dad", "grandma"], identifiers=RUN_IDENTIFIERS,
                          accounts=pd.DataFrame({"account_id": ["mum", "son"], "action": ["ban", "review"]}))
    accounts = sorted(n for n, d in graph.nodes(data=True) if d["type"] == "account")
    identifiers = sorted(n for n, d in graph.nodes(data=True) if d["type"] == "identifier")
    assert accounts == ["dad", "grandma", "mum", "son"]
    assert identifiers == ["address:12 main st", "card:fp1", "ip:10.0.0.1"]
    assert graph.nodes["card:fp1"] == {"type": "identifier", "kind": "card", "masked": "card ••11",
                                       "tier": "person", "n_accounts": 2}
    assert graph.edges["mum", "card:fp1"] == {"kind": "card", "tier": "person", "weight": 0.8}
    assert graph.edges["son", "card:fp1"]["weight"] == 0.7
    assert graph.edges["mum", "ip:10.0.0.1"]["tier"] == "weak"
    assert graph.nodes["mum"]["action"] == "ban" and graph.degree["grandma"] == 0
    # The carrier NAT address of 5000 accounts is a hub: never a node.
    assert not any("100.64" in str(n) for n in graph.nodes)


def test_tiers_filter_leaves_weak_links_out() -> None:
    graph = cluster_graph(RUN_LINKS, ["mum", "son", "dad"], tiers=("person", "household"))
    assert sorted(n for n in graph.nodes if ":" in n) == ["address:12 main st", "card:fp1"]
    assert graph.edges["dad", "address:12 main st"]["weight"] == 0.5


def test_linkset_works_like_the_run_frames() -> None:
    links = LinkSet(incidence=RUN_IDENTIFIERS, pairs=RUN_LINKS.drop(columns="cluster_id"),
                    pair_tiers=pd.DataFrame(), hubs=pd.DataFrame(), profiles=pd.DataFrame())
    from_links = cluster_graph(links, ["x1", "x2"])
    assert sorted(from_links.nodes) == ["card:fp9", "x1", "x2"]


def test_links_without_account_columns_is_a_clear_error() -> None:
    with pytest.raises(InputError, match="no column 'account_b'"):
        cluster_graph(RUN_LINKS.drop(columns="account_b"), ["mum"])
