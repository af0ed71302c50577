"""Stable ids: match tonight's components to last night's clusters by overlap.

Matching is the greedy maximum-overlap matching between new components and
old clusters: edges (new, old, shared accounts) are ranked by overlap
(larger first), then the old id's age (issued in an earlier run first, then
the smaller id), then the new component (larger first, then its set hash),
and taken in rank order when both ends are still free. So an unchanged or
grown cluster keeps its id, a merge keeps the id of its larger old part (the
older on ties) and a split leaves the id with its largest part. The greedy
result is computed in vectorised rounds of mutual best edges (an edge that
is the best free edge of both its ends is in the greedy matching); the few
edges left after a bounded number of rounds finish in a plain loop.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from linkgraph import schemas as s

_VECTOR_ROUNDS = 16


@dataclass(frozen=True)
class Overlap:
    """Accounts shared by new component ``new`` and old cluster ``old`` (codes)."""

    new: np.ndarray
    old: np.ndarray
    count: np.ndarray


@dataclass(frozen=True)
class Previous:
    """Last night's clusters of one tier, as codes over tonight's accounts.

    old_of: per tonight's account, the code of its old cluster or -1.
    ids: old id per code; size: last night's accounts per code (all of them,
    including accounts gone tonight); age: rank of the id's age (0 = oldest);
    unlisted: old ids missing from the registry (to be registered as run 0).
    """

    old_of: np.ndarray
    ids: np.ndarray
    size: np.ndarray
    age: np.ndarray
    unlisted: np.ndarray


def previous_tier(
    n_accounts: int, account_codes: np.ndarray, old_ids: pd.Series, registry: pd.DataFrame
) -> Previous:
    """Code last night's ids of one tier (``old_ids``, one per previous account row).

    Args:
        n_accounts: tonight's accounts.
        account_codes: per previous account row, tonight's account code (-1: gone).
        old_ids: per previous account row, its cluster_id or person_cluster_id.
        registry: issued ids with ``issued_run``, for the age of each old id.
    """
    present = old_ids.notna().to_numpy()
    codes, ids = pd.factorize(old_ids[present].astype("str"), sort=True)
    ids = np.asarray(ids, dtype=object)
    account_codes = account_codes[present]
    old_of = np.full(n_accounts, -1, dtype=np.int64)
    here = account_codes >= 0
    old_of[account_codes[here]] = codes[here]
    issued = registry.set_index(s.CLUSTER_ID)[s.ISSUED_RUN].reindex(ids)
    age = np.empty(len(ids), dtype=np.int64)
    # Unlisted ids (an older run directory) count as run 0; ids are sorted, so ties go by id.
    age[np.lexsort((np.arange(len(ids)), issued.fillna(0).to_numpy()))] = np.arange(len(ids))
    return Previous(old_of=old_of, ids=ids, size=np.bincount(codes, minlength=len(ids)), age=age,
                    unlisted=ids[issued.isna().to_numpy()])


def overlaps(labels: np.ndarray, old_of: np.ndarray, n_old: int) -> Overlap:
    """Count shared accounts per (new component, old cluster) with one sort, no loop."""
    both = old_of >= 0
    key = labels[both].astype(np.int64) * max(n_old, 1) + old_of[both]
    key = np.sort(key)
    starts = np.flatnonzero(np.concatenate(([True], key[1:] != key[:-1]))) if len(key) else key
    keys, counts = key[starts], np.diff(np.append(starts, len(key)))
    return Overlap(new=keys // max(n_old, 1), old=keys % max(n_old, 1), count=counts)


def match(
    overlap: Overlap, *, n_new: int, new_size: np.ndarray, new_hash: np.ndarray, old_age: np.ndarray
) -> np.ndarray:
    """The old cluster code each new component inherits its id from, or -1.

    >>> ov = Overlap(new=np.array([0, 0, 1]), old=np.array([0, 1, 1]), count=np.array([5, 3, 2]))
    >>> match(ov, n_new=2, new_size=np.array([8, 2]), new_hash=np.array([7, 9], np.uint64),
    ...       old_age=np.array([0, 1])).tolist()
    [0, 1]
    """
    order = np.lexsort((
        new_hash[overlap.new], -new_size[overlap.new], old_age[overlap.old], -overlap.count,
    ))
    new, old = overlap.new[order], overlap.old[order]
    old_of_new = np.full(n_new, -1, dtype=np.int64)
    new_of_old = np.full(len(old_age), -1, dtype=np.int64)
    for _ in range(_VECTOR_ROUNDS):
        if not len(new):
            return old_of_new
        # Edges are in rank order, so the first edge of each end is its best free edge.
        best = np.zeros(len(new), dtype=bool)
        best[np.unique(new, return_index=True)[1]] = True
        best_of_old = np.zeros(len(new), dtype=bool)
        best_of_old[np.unique(old, return_index=True)[1]] = True
        mutual = best & best_of_old
        old_of_new[new[mutual]] = old[mutual]
        new_of_old[old[mutual]] = new[mutual]
        free = (old_of_new[new] < 0) & (new_of_old[old] < 0)
        new, old = new[free], old[free]
    # Long chains of splits and merges are rare; finish them one edge at a time.
    for n, o in zip(new.tolist(), old.tolist(), strict=True):
        if old_of_new[n] < 0 and new_of_old[o] < 0:
            old_of_new[n] = o
            new_of_old[o] = n
    return old_of_new


def changes(
    overlap: Overlap,
    *,
    inherited: np.ndarray,
    new_ids: np.ndarray,
    new_size: np.ndarray,
    previous: Previous,
) -> pd.DataFrame:
    """One row per changed cluster: CLUSTER_CHANGE_COLUMNS + NEXT_CLUSTER_IDS.

    ``merged``: holds accounts of several old clusters; ``split``: the old
    cluster that gave its id (or the old clusters its accounts came from)
    now spread over several clusters; ``grown`` / ``shrunk``: the same id
    gained / lost accounts (gained at least as many as it lost -> grown);
    ``new``: only accounts never clustered before; ``retired``: an old id no
    longer used (``next_cluster_ids`` says where its accounts went).
    """
    n_new = len(new_size)
    n_old = len(previous.ids)
    old_parts = np.bincount(overlap.new, minlength=n_new)
    new_parts = np.bincount(overlap.old, minlength=n_old)
    kept = inherited >= 0
    shared_with_own = np.zeros(n_new, dtype=np.int64)
    own_edge = inherited[overlap.new] == overlap.old
    shared_with_own[overlap.new[own_edge]] = overlap.count[own_edge]

    added = new_size - shared_with_own
    removed = np.where(kept, previous.size[np.maximum(inherited, 0)] - shared_with_own, 0)
    gone_elsewhere = np.zeros(n_new, dtype=bool)
    gone_elsewhere[kept] = new_parts[inherited[kept]] > 1
    change = np.select(
        [old_parts > 1, gone_elsewhere | (~kept & (old_parts > 0)), ~kept, (added == 0) & (removed == 0),
         added >= removed],
        ["merged", "split", "new", "", "grown"],
        default="shrunk",
    )
    changed = np.flatnonzero(change != "")
    previous_ids = _joined(overlap.new, previous.ids[overlap.old], changed, n_new)
    rows = pd.DataFrame({
        s.CLUSTER_ID: new_ids[changed],
        s.CHANGE: change[changed],
        s.PREVIOUS_CLUSTER_IDS: previous_ids,
        s.ACCOUNTS_ADDED: added[changed],
        s.ACCOUNTS_REMOVED: removed[changed],
        s.NEXT_CLUSTER_IDS: "",
    })

    taken = np.zeros(n_old, dtype=bool)
    taken[inherited[kept]] = True
    retired = np.flatnonzero(~taken)
    retired_rows = pd.DataFrame({
        s.CLUSTER_ID: previous.ids[retired],
        s.CHANGE: "retired",
        s.PREVIOUS_CLUSTER_IDS: "",
        s.ACCOUNTS_ADDED: np.zeros(len(retired), dtype=np.int64),
        s.ACCOUNTS_REMOVED: previous.size[retired],
        s.NEXT_CLUSTER_IDS: _joined(overlap.old, new_ids[overlap.new], retired, n_old),
    })
    out = pd.concat([rows, retired_rows], ignore_index=True)
    out = out.astype({
        s.CLUSTER_ID: "str", s.CHANGE: "str", s.PREVIOUS_CLUSTER_IDS: "str",
        s.ACCOUNTS_ADDED: "int64", s.ACCOUNTS_REMOVED: "int64", s.NEXT_CLUSTER_IDS: "str",
    })
    return out.sort_values(s.CLUSTER_ID, kind="stable", ignore_index=True)


def empty_changes() -> pd.DataFrame:
    """The changes frame of a run without a previous run."""
    return pd.DataFrame({
        s.CLUSTER_ID: pd.Series(dtype="str"),
        s.CHANGE: pd.Series(dtype="str"),
        s.PREVIOUS_CLUSTER_IDS: pd.Series(dtype="str"),
        s.ACCOUNTS_ADDED: pd.Series(dtype="int64"),
        s.ACCOUNTS_REMOVED: pd.Series(dtype="int64"),
        s.NEXT_CLUSTER_IDS: pd.Series(dtype="str"),
    })


def _joined(group: np.ndarray, text: np.ndarray, wanted: np.ndarray, n_groups: np.intp | int) -> np.ndarray:
    """``;``-joined sorted ``text`` per group, for the groups in ``wanted`` ('' if none).

    Most groups have one value, taken directly; only groups with several
    (merges, splits: few) go through a string join.
    """
    out = np.full(n_groups, "", dtype=object)
    keep = np.isin(group, wanted)
    group, text = group[keep], text[keep].astype(str)
    per_group = np.bincount(group, minlength=n_groups)
    single = per_group[group] == 1
    out[group[single]] = text[single]
    if (~single).any():
        several = pd.Series(text[~single]).groupby(group[~single]).agg(lambda v: ";".join(sorted(v)))
        out[several.index.to_numpy()] = several.to_numpy()
    return out[wanted]
