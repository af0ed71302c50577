"""Evidence in words: the path of shared identifiers to the blocked account, masked.

``card ****4242 and device dev-***a1b2 shared with A17 (banned 2026-10-02)``;
two hops: ``device dev-***a1b2 shared with A9, which shares card ****4242 with
A17 (banned 2026-10-02)``. Only the ``masked`` form of a value is ever used.
Texts are built for the links on chosen paths only, never for every pair.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.codes import sorted_unique
from linkgraph.sanctions._inputs import _pair_rows

#: strongest evidence first; card digits read as a card to a moderator
_KIND_ORDER = {kind: i for i, kind in enumerate(
    (s.K_CARD, s.K_CARD_DIGITS, s.K_DEVICE, s.K_PHONE, s.K_EMAIL, s.K_ADDRESS, s.K_IP, s.K_NAME)
)}
_KIND_LABEL = {s.K_CARD_DIGITS: "card", s.K_IP: "IP"}
#: values named per link; the rest are counted
_MAX_VALUES = 3
_NO_VALUES = "shared identifiers"


def _edge_key(lo: np.ndarray, hi: np.ndarray, weak: np.ndarray, n_nodes: int) -> np.ndarray:
    """One int64 per (unordered account pair, weak-evidence flag)."""
    low, high = np.minimum(lo, hi), np.maximum(lo, hi)
    return (low.astype(np.int64) * n_nodes + high) * 2 + weak.astype(np.int64)


def _join_values(items: pd.Series, edge: np.ndarray, n_values: np.ndarray,
                 position: np.ndarray) -> pd.Series:
    """``a``, ``a and b``, ``a, b and c``, ``a, b and c (+2 more)`` per edge."""
    first = position < _MAX_VALUES
    table = pd.DataFrame({"edge": edge[first], "pos": position[first],
                          "item": items.to_numpy()[first]})
    wide = table.pivot(index="edge", columns="pos", values="item").astype(object)
    count = pd.Series(n_values[first], index=edge[first]).groupby(level=0).first()
    count = count.reindex(wide.index)
    v0 = wide[0]
    v1 = wide[1] if 1 in wide else pd.Series(pd.NA, index=wide.index, dtype=object)
    v2 = wide[2] if 2 in wide else pd.Series(pd.NA, index=wide.index, dtype=object)
    text = v0.where(count < 2, v0 + " and " + v1)
    text = text.where(count < 3, v0 + ", " + v1 + " and " + v2)
    more = count - _MAX_VALUES
    return text.where(more <= 0, text + " (+" + more.astype(str).astype(object) + " more)")


def _edge_texts(pairs: pd.DataFrame, account_ids: pd.Index, keys: np.ndarray) -> pd.Series:
    """The shared values of each link, in words, indexed by edge key.

    Args:
        pairs: the ``LinkSet.pairs`` frame (account_a, account_b, kind, masked, tier).
        account_ids: sorted account ids (position = code).
        keys: edge keys from :func:`_edge_key`; a weak key lists the weak
            values (IP, name), a strong one the person- and household-tier
            values (every value when it has none of its own).
    """
    keys = sorted_unique(keys)
    rows, row_pair = _pair_rows(pairs, account_ids, sorted_unique(keys // 2))
    wanted = pd.Index(keys)
    row_is_weak = rows[s.TIER].eq(s.T_WEAK).fillna(True).to_numpy(bool)
    kinds, masked = rows[s.KIND].to_numpy(), rows[s.MASKED].to_numpy()
    # every row may serve the weak and the strong text of its pair
    joined = []
    for flag in (0, 1):
        at = wanted.get_indexer(row_pair * 2 + flag)
        take = at >= 0
        joined.append(pd.DataFrame({
            "edge": keys[at[take]], "kind": kinds[take],
            "masked": masked[take], "weak_row": row_is_weak[take],
            "weak_edge": bool(flag),
        }))
    items = pd.concat(joined, ignore_index=True)
    # a weak link names its weak values, a strong one its person/household
    # values; either falls back to every value when it has none of its own
    weak_row, weak_edge = items["weak_row"], items["weak_edge"]
    own = weak_row == weak_edge
    n_own = own.groupby(items["edge"]).transform("sum")
    keep = own | n_own.eq(0)
    items = items[keep.to_numpy(bool)]
    items = items.assign(
        order=items["kind"].map(_KIND_ORDER).fillna(len(_KIND_ORDER)),
        label=items["kind"].map(_KIND_LABEL).fillna(items["kind"]),
    ).sort_values(["edge", "order", "masked"], kind="stable")
    items = items.drop_duplicates(["edge", "label", "masked"])
    masked = items["masked"].astype(object).fillna("(masked)")
    words = (items["label"].astype(object) + " " + masked).to_numpy(dtype=object, copy=True)
    label = items["label"].to_numpy(dtype=object)
    for name in pd.unique(label):
        # some masks already name their kind (``card ****4242``)
        of_kind = np.flatnonzero(label == name)
        named = masked.iloc[of_kind].astype("str").str.startswith(f"{name} ").to_numpy(bool)
        words[of_kind[named]] = masked.to_numpy(dtype=object)[of_kind[named]]
    words = pd.Series(words, index=items.index, dtype=object)
    # a card's fingerprint and its digits read the same (``card ****4242``): say it once
    repeated = pd.DataFrame({"edge": items["edge"], "words": words}).duplicated().to_numpy(bool)
    items, words = items[~repeated], words[~repeated]
    edge = items["edge"].to_numpy()
    position = items.groupby("edge").cumcount().to_numpy()
    n_values = items.groupby("edge")["edge"].transform("size").to_numpy()
    text = _join_values(words, edge, n_values, position) if len(items) else pd.Series(dtype=object)
    return text.reindex(keys).fillna(_NO_VALUES)


def _path_texts(paths: np.ndarray, hops: np.ndarray, weak: np.ndarray, status: np.ndarray,
                pairs: pd.DataFrame, account_ids: pd.Index) -> np.ndarray:
    """Evidence per path: ``X shared with B, which shares Y with SOURCE (status)``.

    Args:
        paths: (n_paths, max_hops + 1) account codes, column 0 the flagged
            account, column ``hops`` the source; -1 past the end.
        hops: links per path (>= 1).
        weak: per path, whether its links are weak evidence (list weak values).
        status: per path, the source's status (``banned 2026-10-02``).
    """
    n = len(account_ids)
    depth = int(hops.max()) if len(hops) else 0
    step_keys = [
        _edge_key(paths[:, k - 1], paths[:, k], weak, n) for k in range(1, depth + 1)
    ]
    used = np.concatenate([key[hops >= k] for k, key in enumerate(step_keys, start=1)])
    texts = _edge_texts(pairs, account_ids, used) if len(used) else pd.Series(dtype=object)
    evidence = pd.Series("", index=np.arange(len(hops)), dtype=object)
    for k, key in enumerate(step_keys, start=1):
        on = hops >= k
        shared = texts.reindex(key[on]).to_numpy(dtype=object)
        other = account_ids[np.where(on, paths[:, k], 0)[on]].to_numpy(dtype=object)
        if k == 1:
            link = (pd.Series(shared, dtype=object) + " shared with "
                    + pd.Series(other, dtype=object))
        else:
            link = (", which shares " + pd.Series(shared, dtype=object) + " with "
                    + pd.Series(other, dtype=object))
        evidence[on] = evidence[on].to_numpy(dtype=object) + link.to_numpy(dtype=object)
    evidence = evidence + " (" + pd.Series(status, dtype=object) + ")"
    return evidence.to_numpy(dtype=object)
