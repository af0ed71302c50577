"""Stable cluster ids night to night, the change log and the issued-id registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from test_cluster import make_accounts, make_links, random_graphs

from linkgraph.cluster import Clustering, assign_clusters
from linkgraph.cluster.stable import Overlap, match
from linkgraph.config import ClusterConfig
from linkgraph.load import PreviousRun

Edges = list[tuple[str, str, str, str]]


def night(ids: list[str], edges: Edges, previous: PreviousRun | Clustering | None = None) -> Clustering:
    if isinstance(previous, Clustering):
        previous = PreviousRun(accounts=previous.accounts, issued_ids=previous.issued_ids)
    return assign_clusters(make_accounts(ids), make_links(edges), blocked=pd.Index([]),
                           previous=previous, config=ClusterConfig())


def last_night(clusters: dict[str, list[str]], issued_run: dict[str, int] | None = None) -> PreviousRun:
    """A hand-written previous run: cluster id -> members; person ids = cluster ids."""
    rows = [(a, cid) for cid, members in clusters.items() for a in members]
    accounts = pd.DataFrame({"account_id": [r[0] for r in rows], "cluster_id": [r[1] for r in rows],
                             "person_cluster_id": ["P" + r[1][1:] for r in rows]})
    issued_run = issued_run or {}
    issued = pd.DataFrame({"cluster_id": list(clusters),
                           "issued_run": [issued_run.get(c, 1) for c in clusters]})
    return PreviousRun(accounts=accounts, issued_ids=issued)


def cluster_of(result: Clustering, account: str) -> str:
    return str(result.accounts.set_index("account_id").loc[account, "cluster_id"])


def change_rows(result: Clustering) -> list[list[object]]:
    return result.changes[["cluster_id", "change", "previous_cluster_ids", "accounts_added",
                           "accounts_removed", "next_cluster_ids"]].values.tolist()


COUPLE = [("a1", "a2", "household", "address")]


def test_unchanged_clusters_keep_their_ids_and_log_no_change() -> None:
    first = night(["a1", "a2", "b1"], COUPLE)
    second = night(["b1", "a2", "a1"], COUPLE[::-1], previous=first)
    pd.testing.assert_frame_equal(first.accounts, second.accounts)
    assert second.changes.empty
    assert set(second.issued_ids.cluster_id) == set(first.issued_ids.cluster_id)


def test_cluster_that_only_grew_keeps_its_id() -> None:
    first = night(["a1", "a2", "b1"], COUPLE)
    second = night(["a1", "a2", "a3", "b1"], COUPLE + [("a2", "a3", "person", "card")], previous=first)
    kept = cluster_of(first, "a1")
    assert cluster_of(second, "a3") == kept
    assert change_rows(second) == [[kept, "grown", kept, 1, 0, ""]]


def test_person_cluster_keeps_its_id_when_the_family_grows() -> None:
    edges = [("a1", "a2", "person", "card")]
    first = night(["a1", "a2"], edges)
    second = night(["a1", "a2", "a3"], edges + [("a1", "a3", "household", "address")], previous=first)
    person = first.accounts.set_index("account_id").person_cluster_id
    assert second.accounts.set_index("account_id").person_cluster_id.loc[["a1", "a2"]].equals(
        person.loc[["a1", "a2"]])


def test_merge_keeps_the_id_of_the_larger_part_and_retires_the_other() -> None:
    previous = last_night({"Cbig00001": ["a1", "a2", "a3"], "Csmall001": ["b1", "b2"]},
                          issued_run={"Cbig00001": 2, "Csmall001": 1})
    edges = [("a1", "a2", "person", "card"), ("a2", "a3", "person", "card"),
             ("b1", "b2", "person", "card"), ("a1", "b1", "household", "address")]
    result = night(["a1", "a2", "a3", "b1", "b2"], edges, previous=previous)
    assert set(result.accounts.cluster_id) == {"Cbig00001"}
    assert change_rows(result) == [
        ["Cbig00001", "merged", "Cbig00001;Csmall001", 2, 0, ""],
        ["Csmall001", "retired", "", 0, 2, "Cbig00001"],
    ]


def test_merge_of_equal_parts_keeps_the_older_id() -> None:
    edges = [("a1", "a2", "person", "card"), ("b1", "b2", "person", "card"),
             ("a2", "b2", "household", "address")]
    older_b = last_night({"Caaaaaaaa": ["a1", "a2"], "Cbbbbbbbb": ["b1", "b2"]},
                         issued_run={"Caaaaaaaa": 5, "Cbbbbbbbb": 3})
    assert cluster_of(night(["a1", "a2", "b1", "b2"], edges, previous=older_b), "a1") == "Cbbbbbbbb"
    same_run = last_night({"Caaaaaaaa": ["a1", "a2"], "Cbbbbbbbb": ["b1", "b2"]})
    # Issued the same night: the smaller id counts as older.
    assert cluster_of(night(["a1", "a2", "b1", "b2"], edges, previous=same_run), "b1") == "Caaaaaaaa"


def test_split_leaves_the_id_with_the_largest_part_and_new_ids_to_the_rest() -> None:
    previous = last_night({"Cfamily01": ["a1", "a2", "a3", "a4", "a5"]})
    edges = [("a1", "a2", "person", "card"), ("a2", "a3", "person", "card"),
             ("a4", "a5", "household", "address")]
    result = night(["a1", "a2", "a3", "a4", "a5"], edges, previous=previous)
    assert cluster_of(result, "a1") == "Cfamily01"
    broken_off = cluster_of(result, "a4")
    assert broken_off != "Cfamily01" and cluster_of(result, "a5") == broken_off
    assert sorted(change_rows(result)) == sorted([
        ["Cfamily01", "split", "Cfamily01", 0, 2, ""],
        [broken_off, "split", "Cfamily01", 2, 0, ""],
    ])


def test_new_cluster_never_reuses_a_retired_id() -> None:
    pair = [("n1", "n2", "person", "card")]
    would_be = cluster_of(night(["n1", "n2"], pair), "n1")
    # That very id was issued to some cluster long ago and retired since.
    previous = last_night({"Cother001": ["x1"]})
    previous = PreviousRun(
        accounts=previous.accounts,
        issued_ids=pd.concat([previous.issued_ids,
                              pd.DataFrame({"cluster_id": [would_be], "issued_run": [1]})]),
    )
    result = night(["x1", "n1", "n2"], pair, previous=previous)
    fresh = cluster_of(result, "n1")
    assert fresh != would_be and fresh.startswith("C") and len(fresh) == 9
    assert ["new", 2, 0] == result.changes.set_index("cluster_id").loc[
        fresh, ["change", "accounts_added", "accounts_removed"]].tolist()
    assert would_be in set(result.issued_ids.cluster_id)


def test_account_gone_shrinks_its_cluster_and_an_empty_cluster_is_retired() -> None:
    previous = last_night({"Cfamily01": ["a1", "a2", "a3"], "Cgone0001": ["g1"]})
    result = night(["a1", "a2"], COUPLE, previous=previous)
    assert change_rows(result) == [
        ["Cfamily01", "shrunk", "Cfamily01", 0, 1, ""],
        ["Cgone0001", "retired", "", 0, 1, ""],
    ]


def test_issued_ids_carry_the_registry_forward_with_the_run_number() -> None:
    previous = last_night({"Cfamily01": ["a1", "a2"]}, issued_run={"Cfamily01": 4})
    result = night(["a1", "a2", "z1"], COUPLE, previous=previous)
    registry = result.issued_ids.set_index("cluster_id")
    assert registry.loc["Cfamily01", "issued_run"] == 4
    new_ids = [cluster_of(result, "z1"),
               *result.accounts.person_cluster_id[result.accounts.account_id == "z1"]]
    assert registry.loc[new_ids, "issued_run"].tolist() == [5, 5]
    assert registry.loc[new_ids, "kind"].tolist() == ["cluster", "person"]
    assert result.issued_ids.cluster_id.is_monotonic_increasing


def test_a_previous_run_with_only_cluster_ids_still_works() -> None:
    previous = PreviousRun(
        accounts=pd.DataFrame({"account_id": ["a1", "a2"], "cluster_id": ["Cfamily01"] * 2}),
        issued_ids=pd.DataFrame({"cluster_id": ["Cfamily01"]}),
    )
    result = night(["a1", "a2"], COUPLE, previous=previous)
    assert cluster_of(result, "a1") == "Cfamily01" and result.changes.empty


# --- properties ---------------------------------------------------------------------


def greedy(ov: Overlap, new_size: np.ndarray, new_hash: np.ndarray, old_age: np.ndarray) -> dict[int, int]:
    """The definition: take (new, old) edges best first while both ends are free."""
    edges = sorted(zip(ov.new.tolist(), ov.old.tolist(), ov.count.tolist(), strict=True),
                   key=lambda e: (-e[2], old_age[e[1]], -new_size[e[0]], int(new_hash[e[0]])))
    taken_new: dict[int, int] = {}
    taken_old: set[int] = set()
    for n, o, _ in edges:
        if n not in taken_new and o not in taken_old:
            taken_new[n] = o
            taken_old.add(o)
    return taken_new


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_vectorised_matching_equals_the_greedy_definition(data) -> None:
    n_new, n_old = data.draw(st.integers(1, 12)), data.draw(st.integers(1, 12))
    cells = data.draw(st.sets(st.tuples(st.integers(0, n_new - 1), st.integers(0, n_old - 1)), max_size=40))
    cells = sorted(cells)
    ov = Overlap(new=np.array([c[0] for c in cells], dtype=np.int64),
                 old=np.array([c[1] for c in cells], dtype=np.int64),
                 count=np.array(data.draw(st.lists(st.integers(1, 4), min_size=len(cells),
                                                   max_size=len(cells))), dtype=np.int64))
    new_size = np.bincount(ov.new, weights=ov.count, minlength=n_new).astype(np.int64) + 1
    new_hash = np.array(data.draw(st.permutations(range(n_new))), dtype=np.uint64)
    old_age = np.array(data.draw(st.permutations(range(n_old))), dtype=np.int64)
    got = match(ov, n_new=n_new, new_size=new_size, new_hash=new_hash, old_age=old_age)
    expected = greedy(ov, new_size, new_hash, old_age)
    assert {i: int(o) for i, o in enumerate(got) if o >= 0} == expected


@settings(max_examples=20, deadline=None)
@given(random_graphs(), st.lists(st.tuples(st.integers(0, 30), st.integers(0, 30)), max_size=6))
def test_a_night_that_only_adds_links_keeps_every_unchanged_id_and_one_id_per_merge(graph, added) -> None:
    ids, edges = graph
    first = night(ids, edges)
    more_ids = ids + [f"new{i}" for i in range(3)]
    extra = [(more_ids[i % len(more_ids)], more_ids[j % len(more_ids)], "household", "address")
             for i, j in added if more_ids[i % len(more_ids)] != more_ids[j % len(more_ids)]]
    second = night(more_ids[::-1], edges + extra, previous=first)
    reordered = night(more_ids, (edges + extra)[::-1], previous=first)
    for name in ("accounts", "changes", "issued_ids"):
        pd.testing.assert_frame_equal(getattr(second, name), getattr(reordered, name))

    old = first.accounts.set_index("account_id").cluster_id
    new = second.accounts.set_index("account_id").cluster_id
    old_sets = {cid: set(g) for cid, g in old.groupby(old).groups.items()}
    for cid, members in new.groupby(new).groups.items():
        members = set(members)
        old_ids = set(old.reindex(list(members)).dropna())
        if old_ids:  # nothing splits on such a night: some old id must survive
            assert cid in old_ids
            assert members >= old_sets[cid]
        else:
            assert cid not in set(first.issued_ids.cluster_id)
    assert set(first.issued_ids.cluster_id) <= set(second.issued_ids.cluster_id)
    assert second.issued_ids.cluster_id.is_unique
    merged = second.changes[second.changes.change == "merged"]
    assert len(merged) == sum(1 for _, g in new.groupby(new) if old.reindex(g.index).nunique() > 1)
