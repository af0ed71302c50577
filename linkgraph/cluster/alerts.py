"""Giant-cluster guard: clusters too big, or held together by one bridge link.

Either is the usual sign of a missed hub (a shared value that should have
stopped linking) or of a family card that joined two families. Bridges are
searched only in clusters big enough to split into two large parts, all at
once with scipy (no per-cluster loop): in a missed-hub night such clusters
are many, and networkx on each of them cost more than the rest of the stage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import breadth_first_order

from linkgraph import schemas as s
from linkgraph.codes import sorted_unique
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
    alerted = sorted_unique(np.concatenate([np.flatnonzero(too_big), bridges["label"].to_numpy()]))
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

    A tie between equally balanced bridges goes to the smallest account pair.
    """
    searched = (size >= 2 * config.bridge_min_part) & (size <= config.bridge_max_size)
    found = bridge_sides(family, edges[searched[family[edges[:, 0]]]] if len(edges) else edges)
    found = found.assign(_balance=np.minimum(found["side_a"], found["side_b"]))
    found = found[found["_balance"] >= config.bridge_min_part]
    found = found.sort_values(["label", "_balance", "a", "b"], ascending=[True, False, True, True])
    return found.drop_duplicates("label").drop(columns="_balance").reset_index(drop=True)


def bridge_sides(family: np.ndarray, edges: np.ndarray) -> pd.DataFrame:
    """Every bridge of the graph ``edges`` with the accounts on each side.

    Vectorised over all clusters at once: a BFS spanning forest (scipy), a
    random 64-bit tag per non-tree edge XOR-ed into both ends, and subtree
    sums level by level; a tree edge is a bridge exactly when no non-tree
    edge leaves the subtree below it, i.e. when the subtree's XOR is zero
    (the XOR-hashing bridge test; a false positive has probability 2^-64 per
    edge and the tags are seeded, so the result is deterministic).

    Args:
        family: per account code, its cluster label (sides are cluster sizes).
        edges: (m, 2) distinct account-code pairs, smaller code first.

    Returns:
        label, a, b (a < b), side_a, side_b: one row per bridge, sorted by (a, b).

    >>> edges = np.array([[0, 1], [1, 2], [0, 2], [2, 3]])
    >>> bridge_sides(np.zeros(4, dtype=np.int64), edges).values.tolist()
    [[0, 2, 3, 3, 1]]
    """
    columns = ("label", "a", "b", "side_a", "side_b")
    if not len(edges):
        return pd.DataFrame({c: pd.Series(dtype="int64") for c in columns})
    n = len(family)
    root = n  # a virtual root joined to one account per cluster makes the forest one tree
    label = family[edges[:, 0]]
    first = np.full(int(family.max()) + 1, n, dtype=np.int64)
    np.minimum.at(first, label, edges[:, 0])
    starts = first[first < n]
    rows = np.concatenate([edges[:, 0], np.full(len(starts), root)])
    cols = np.concatenate([edges[:, 1], starts])
    graph = coo_matrix((np.ones(len(rows), dtype=np.int8), (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    order, pred = breadth_first_order(graph, root, directed=False, return_predecessors=True)
    pred = np.where(pred >= 0, pred, -1)

    u, v = edges[:, 0], edges[:, 1]
    tree = (pred[v] == u) | (pred[u] == v)
    tags = np.random.default_rng(20141).integers(0, 2**63, size=int((~tree).sum()), dtype=np.uint64)
    xor = np.zeros(n + 1, dtype=np.uint64)
    np.bitwise_xor.at(xor, u[~tree], tags)
    np.bitwise_xor.at(xor, v[~tree], tags)
    below = np.zeros(n + 1, dtype=np.int64)
    below[order] = 1
    below[root] = 0

    depth = _depths(pred)
    reached = order[order != root]
    by_depth = reached[np.argsort(-depth[reached], kind="stable")]
    bounds = np.flatnonzero(np.diff(depth[by_depth])) + 1
    for level in np.split(by_depth, bounds):  # deepest first; one step per BFS level
        np.add.at(below, pred[level], below[level])
        np.bitwise_xor.at(xor, pred[level], xor[level])

    child = np.where(pred[v] == u, v, u)[tree]
    is_bridge = xor[child] == 0
    child = child[is_bridge]
    parent = pred[child]
    total = np.bincount(family)[family[child]]
    a, b = np.minimum(child, parent), np.maximum(child, parent)
    side_child = below[child]
    frame = pd.DataFrame({
        "label": family[child], "a": a, "b": b,
        "side_a": np.where(a == child, side_child, total - side_child),
        "side_b": np.where(b == child, side_child, total - side_child),
    })
    return frame.sort_values(["a", "b"], ignore_index=True).astype("int64")


def _depths(pred: np.ndarray) -> np.ndarray:
    """Depth of every node in a forest given by parent pointers (-1: root), by pointer jumping."""
    ancestor = pred.copy()
    depth = (ancestor >= 0).astype(np.int64)
    while (ancestor >= 0).any():
        up = ancestor >= 0
        step = np.zeros_like(depth)
        step[up] = depth[ancestor[up]]
        jump = np.full_like(ancestor, -1)
        jump[up] = ancestor[ancestor[up]]
        depth, ancestor = depth + step, jump
    return depth


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
