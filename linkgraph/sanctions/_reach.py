"""Bounded multi-source shortest paths over integer account codes.

A breadth-first search run one hop at a time over all sources at once
(a vectorised frontier expansion over a CSR adjacency): hop ``h`` looks only
at the edges leaving the accounts first reached at hop ``h - 1``, so the work
is linear in the edges touched and a Python loop runs once per hop, never per
account. Unlike ``scipy.sparse.csgraph.dijkstra(min_only=True)``, which keeps
an arbitrary source among equally near ones, each account keeps the best of
its shortest paths by a fixed rule: highest path confidence (the product of
the links' confidences), then the smallest source code, then the smallest
predecessor code. Shortest paths pass only through accounts at strictly
smaller distance, so choosing the best per account per hop is exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import csr_matrix

from linkgraph.codes import index_dtype, sorted_unique

#: confidences are compared at this many decimals, so that products taken in
#: a different order do not break ties at random
_CONF_DECIMALS = 9


@dataclass(frozen=True)
class _Graph:
    """A directed graph in CSR form: the edges leaving ``v`` are
    ``target[indptr[v]:indptr[v + 1]]`` with confidences ``conf[...]``."""

    indptr: np.ndarray
    target: np.ndarray
    conf: np.ndarray

    @property
    def n_nodes(self) -> int:
        return len(self.indptr) - 1


@dataclass(frozen=True)
class _Reach:
    """Per account code: ``hops`` (-1 = not reached), ``source``, ``pred`` (the
    next account towards the source; -1 for sources) and path ``conf``."""

    hops: np.ndarray
    source: np.ndarray
    pred: np.ndarray
    conf: np.ndarray


def _directed_graph(tail: np.ndarray, head: np.ndarray, conf: np.ndarray,
                    n_nodes: int) -> tuple[_Graph, np.ndarray]:
    """CSR adjacency of the distinct directed edges ``tail -> head``, and the edge
    order it uses (to carry per-edge attributes along)."""
    indptr, target, order = _csr_order(tail, head, n_nodes)
    return _Graph(indptr=indptr, target=target, conf=conf[order].astype(np.float64, copy=False)), order


def _csr_order(tail: np.ndarray, head: np.ndarray,
               n_nodes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``indptr`` and ``target`` of the CSR adjacency of the distinct directed edges
    ``tail -> head``, and the edge order it uses."""
    # scipy's COO -> CSR is a counting sort; the edge number rides along as data
    # (edges are distinct, so nothing is summed)
    numbers = index_dtype(len(tail))
    adjacency = csr_matrix((np.arange(1, len(tail) + 1, dtype=numbers), (tail, head)),
                           shape=(n_nodes, n_nodes))
    order = adjacency.data - 1
    return adjacency.indptr.astype(np.int64), adjacency.indices.astype(np.int64), order


def _best_per_node(node: np.ndarray, conf: np.ndarray, source: np.ndarray,
                   pred: np.ndarray) -> np.ndarray:
    """Positions of the best candidate per node (confidence, then source, then pred)."""
    order = np.lexsort((pred, source, -np.round(conf, _CONF_DECIMALS), node))
    sorted_node = node[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = sorted_node[1:] != sorted_node[:-1]
    return order[first]


def _out_edges(graph: _Graph, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(tail, edge position, index in ``nodes``) of every edge leaving ``nodes``
    (repeats allowed), without a per-node loop."""
    position, origin = _leaving(graph.indptr, nodes)
    return nodes[origin], position, origin


def _leaving(indptr: np.ndarray, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(edge position, index in ``nodes``) of every edge of the CSR ``indptr``
    leaving ``nodes`` (repeats allowed), without a per-node loop."""
    starts = indptr[nodes]
    counts = indptr[nodes + 1] - starts
    total = int(counts.sum())
    origin = np.repeat(np.arange(len(nodes), dtype=np.int64), counts)
    first = np.repeat(np.cumsum(counts) - counts, counts)
    position = np.arange(total, dtype=np.int64) - first + np.repeat(starts, counts)
    return position, origin


def _reach(graph: _Graph, sources: np.ndarray, *, max_hops: int,
           expandable: np.ndarray, usable: np.ndarray | None = None) -> _Reach:
    """Shortest paths (at most ``max_hops`` links) from the nearest of ``sources``.

    Args:
        graph: the links that may carry this action.
        sources: account codes the action starts from.
        max_hops: the longest path followed.
        expandable: per code, False for accounts that may be reached but not
            passed through (moderator-cleared accounts).
        usable: per edge (CSR position), whether this action may travel it;
            all edges when None.

    Returns:
        For every code, its distance, source, predecessor and path confidence.

    >>> g, _ = _directed_graph(np.array([0, 1, 1, 2]), np.array([1, 0, 2, 1]),
    ...                        np.array([0.5, 0.5, 0.8, 0.8]), 4)
    >>> r = _reach(g, np.array([0]), max_hops=3, expandable=np.ones(4, bool))
    >>> r.hops.tolist(), r.pred.tolist(), r.conf.round(2).tolist()
    ([0, 1, 2, -1], [-1, 0, 1, -1], [1.0, 0.5, 0.4, 0.0])
    """
    n = graph.n_nodes
    hops = np.full(n, -1, dtype=np.int16)
    source = np.full(n, -1, dtype=np.int64)
    pred = np.full(n, -1, dtype=np.int64)
    conf = np.zeros(n, dtype=np.float64)
    frontier = sorted_unique(sources.astype(np.int64))
    hops[frontier] = 0
    source[frontier] = frontier
    conf[frontier] = 1.0
    for hop in range(1, max_hops + 1):
        frontier = frontier[expandable[frontier]]
        tail, position, _ = _out_edges(graph, frontier)
        if usable is not None:
            tail, position = tail[usable[position]], position[usable[position]]
        head = graph.target[position]
        new = hops[head] < 0
        tail, position, head = tail[new], position[new], head[new]
        if not len(head):
            break
        path_conf = conf[tail] * graph.conf[position]
        best = _best_per_node(head, path_conf, source[tail], tail)
        frontier = head[best]
        hops[frontier] = hop
        source[frontier] = source[tail[best]]
        pred[frontier] = tail[best]
        conf[frontier] = path_conf[best]
    return _Reach(hops=hops, source=source, pred=pred, conf=conf)


def _labelled_reach(indptr: np.ndarray, target: np.ndarray, usable: np.ndarray, age: np.ndarray,
                    starts: np.ndarray, goals: np.ndarray, deadlines: np.ndarray, *,
                    passable: np.ndarray, max_hops: int) -> np.ndarray:
    """Per label ``i``: is ``goals[i]`` reached from ``starts[i]`` in at most ``max_hops``
    edges, each with ``usable`` True and ``age < deadlines[i]``?

    One breadth-first search per label, all labels at once (a loop per hop, not per
    label), with a visited set per (node, label) that holds the start: a label whose
    start is its goal is not found. The start is always expanded; every other node
    reached is passed through only when ``passable`` (a goal counts when reached,
    passable or not).

    Args:
        indptr, target: the graph in CSR form (the edges leaving ``v`` are
            ``target[indptr[v]:indptr[v + 1]]``).
        usable: per edge (CSR position), whether the search may travel it.
        age: per edge, int64; an edge serves label ``i`` when ``age < deadlines[i]``.
        starts, goals, deadlines: per label, its start node, the node it looks
            for and its deadline (int64, compared with ``age``).
        passable: per node, whether a path may run through it.
        max_hops: the most edges on a path.

    Returns:
        Per label, bool: its goal was reached.

    >>> indptr, target = np.array([0, 1, 2, 2]), np.array([1, 2])  # 0 -> 1 -> 2
    >>> _labelled_reach(indptr, target, np.ones(2, bool), np.array([5, 7]),
    ...                 np.array([0, 0, 0, 2]), np.array([2, 2, 1, 2]), np.array([8, 7, 6, 9]),
    ...                 passable=np.ones(3, bool), max_hops=2).tolist()
    [True, False, True, False]
    """
    n_labels = len(starts)
    found = np.zeros(n_labels, dtype=bool)
    frontier_node = np.asarray(starts, dtype=np.int64)
    frontier_label = np.arange(n_labels, dtype=np.int64)
    # (node, label) as one integer: node * n_labels + label
    visited = frontier_node * n_labels + frontier_label
    for _hop in range(max_hops):
        if not len(frontier_node):
            break
        position, origin = _leaving(indptr, frontier_node)
        label = frontier_label[origin]
        ok = usable[position] & (age[position] < deadlines[label])
        reached = sorted_unique(target[position[ok]] * n_labels + label[ok])
        reached = reached[~np.isin(reached, visited)]
        visited = np.concatenate([visited, reached])
        head, label = reached // n_labels, reached % n_labels
        found[label[head == goals[label]]] = True
        onward = passable[head]
        frontier_node, frontier_label = head[onward], label[onward]
    return found
