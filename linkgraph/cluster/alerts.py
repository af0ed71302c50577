"""Giant-cluster guard: clusters too big, or held together by one bridge link.

Either is the usual sign of a missed hub (a shared value that should have
stopped linking) or of a family card that joined two families. Bridges are
found with networkx one cluster at a time, only in clusters big enough to
split into two large parts, which are few.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from linkgraph import schemas as s
from linkgraph.config import ClusterConfig


def find_alerts(
    *,
    cluster_ids: np.ndarray,
    family: np.ndarray,
    edges: np.ndarray,
    account_ids: pd.Index,
    pair_rows: pd.DataFrame,
    config: ClusterConfig,
) -> pd.DataFrame:
    """CLUSTER_ALERT_COLUMNS, one row per alerted cluster, sorted by cluster_id.

    Args:
        cluster_ids: id per family label.
        family: per account code, its family label (codes follow account-id order).
        edges: (m, 2) account codes of the distinct linked pairs (a < b).
        account_ids: account id per code.
        pair_rows: kind-level evidence: ``a``, ``b`` (codes, a < b), ``kind``, ``masked``.
        config: ``alert_size``, ``bridge_min_part``, ``bridge_max_size``.
    """
    size = np.bincount(family, minlength=len(cluster_ids))
    too_big = size > config.alert_size
    bridges = _bridges(family, size, edges, config)
    alerted = np.union1d(np.flatnonzero(too_big), bridges["label"].to_numpy())
    if not len(alerted):
        return pd.DataFrame({
            c: pd.Series(dtype="int64" if c == s.N_ACCOUNTS else "str") for c in s.CLUSTER_ALERT_COLUMNS
        })
    frame = pd.DataFrame({"label": alerted}).merge(bridges, on="label", how="left")
    has_bridge = frame["a"].notna().to_numpy()
    frame = frame.fillna({"a": -1, "b": -1, "side_a": 0, "side_b": 0}).astype(
        {"a": "int64", "b": "int64", "side_a": "int64", "side_b": "int64"}
    )
    evidence = _evidence(frame.loc[has_bridge, ["a", "b"]], pair_rows)
    frame = frame.merge(evidence, on=["a", "b"], how="left")
    labels = frame["label"].to_numpy()
    big = too_big[labels]
    reason = np.where(big & has_bridge, "size;bridge", np.where(big, "size", "bridge"))
    a_ids = np.where(has_bridge, np.asarray(account_ids.take(frame["a"].clip(lower=0)), dtype=object), "")
    b_ids = np.where(has_bridge, np.asarray(account_ids.take(frame["b"].clip(lower=0)), dtype=object), "")
    parts = frame["side_a"].astype(str) + "+" + frame["side_b"].astype(str)
    words = (
        pd.Series(a_ids) + " and " + pd.Series(b_ids) + " share " + frame["shared"].fillna("a link")
        + ": the only link between " + frame["side_a"].astype(str) + " and "
        + frame["side_b"].astype(str) + " accounts"
    )
    out = pd.DataFrame({
        s.CLUSTER_ID: cluster_ids[labels],
        s.N_ACCOUNTS: size[labels],
        s.REASON: reason,
        s.BRIDGE: np.where(has_bridge, words, ""),
        s.BRIDGE_ACCOUNT_A: a_ids,
        s.BRIDGE_ACCOUNT_B: b_ids,
        s.BRIDGE_KINDS: frame["kinds"].fillna("").to_numpy(),
        s.BRIDGE_MASKED: frame["masked"].fillna("").to_numpy(),
        s.PART_SIZES: np.where(has_bridge, parts, ""),
    })
    out = out.astype({c: "str" for c in s.CLUSTER_ALERT_COLUMNS if c != s.N_ACCOUNTS})
    out = out.astype({s.N_ACCOUNTS: "int64"})
    return out.sort_values(s.CLUSTER_ID, kind="stable", ignore_index=True)


def _bridges(family: np.ndarray, size: np.ndarray, edges: np.ndarray, config: ClusterConfig) -> pd.DataFrame:
    """The most balanced qualifying bridge per cluster: label, a, b, side_a, side_b.

    networkx finds the bridges of every searched cluster in one graph; side
    sizes come from the bridge forest (2-edge-connected blocks joined by the
    bridges: Tarjan 1974), so all bridges are sized in one pass. A tie
    between equally balanced bridges goes to the smallest account pair.
    """
    empty = pd.DataFrame({c: pd.Series(dtype="int64") for c in ("label", "a", "b", "side_a", "side_b")})
    searched = (size >= 2 * config.bridge_min_part) & (size <= config.bridge_max_size)
    if not len(edges):
        return empty
    edges = edges[searched[family[edges[:, 0]]]]
    if not len(edges):
        return empty
    graph = nx.Graph()
    graph.add_edges_from(edges.tolist())
    found = np.array(sorted(tuple(sorted(e)) for e in nx.bridges(graph)), dtype=np.int64).reshape(-1, 2)
    if not len(found):
        return empty
    n = len(family)
    key = edges[:, 0] * n + edges[:, 1]
    rest = edges[~np.isin(key, found[:, 0] * n + found[:, 1])]
    ones = np.ones(len(rest), dtype=np.int8)
    block = connected_components(
        coo_matrix((ones, (rest[:, 0], rest[:, 1])), shape=(n, n)).tocsr(), directed=False
    )[1]
    weight = np.bincount(block)
    below = _subtree_sizes(block[found[:, 0]], block[found[:, 1]], weight)
    # below[i]: accounts on the child side of bridge i in the bridge forest.
    label = family[found[:, 0]]
    child_is_b = below[:, 1]
    side_child = below[:, 0]
    side_b = np.where(child_is_b, side_child, size[label] - side_child)
    side_a = size[label] - side_b
    balance = np.minimum(side_a, side_b)
    ok = balance >= config.bridge_min_part
    frame = pd.DataFrame({
        "label": label[ok], "a": found[ok, 0], "b": found[ok, 1],
        "side_a": side_a[ok], "side_b": side_b[ok], "_balance": balance[ok],
    })
    frame = frame.sort_values(["label", "_balance", "a", "b"], ascending=[True, False, True, True])
    return frame.drop_duplicates("label").drop(columns="_balance").reset_index(drop=True)


def _subtree_sizes(block_a: np.ndarray, block_b: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Per bridge: (accounts below it when each tree is rooted anywhere, 1 if b's side is below).

    The loop runs over the blocks of the searched clusters only (bounded).
    """
    tree = nx.Graph()
    tree.add_edges_from(zip(block_a.tolist(), block_b.tolist(), strict=True))
    parent: dict[int, int] = {}
    below = {node: int(weight[node]) for node in tree.nodes}
    for root in sorted(min(c) for c in nx.connected_components(tree)):
        order = [root]
        for u, v in nx.bfs_edges(tree, root):
            parent[v] = u
            order.append(v)
        for node in reversed(order[1:]):
            below[parent[node]] += below[node]
    out = np.empty((len(block_a), 2), dtype=np.int64)
    for i, (u, v) in enumerate(zip(block_a.tolist(), block_b.tolist(), strict=True)):
        child_is_b = parent.get(v) == u
        out[i] = (below[v] if child_is_b else below[u], int(child_is_b))
    return out


def _evidence(bridges: pd.DataFrame, pair_rows: pd.DataFrame) -> pd.DataFrame:
    """Per bridge (a, b): its kinds, masked values and a phrase naming them."""
    rows = pair_rows.merge(bridges, on=["a", "b"], how="inner")
    rows = rows.sort_values(["a", "b", "kind", "masked"], kind="stable")
    rows = rows.assign(phrase=rows["kind"].astype(str) + " " + rows["masked"].astype(str))
    grouped = rows.groupby(["a", "b"], sort=True)  # one group per alert: few
    return pd.DataFrame({
        "kinds": grouped["kind"].agg(lambda v: ";".join(map(str, v))),
        "masked": grouped["masked"].agg(lambda v: ";".join(map(str, v))),
        "shared": grouped["phrase"].agg(", ".join),
    }).reset_index()
