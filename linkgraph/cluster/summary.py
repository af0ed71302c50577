"""One row per family cluster: sizes, blocked accounts, link kinds, density."""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.cluster.ids import sorted_by_id
from linkgraph.errors import InputError

_MAX_KINDS = 62  # kinds are kept as bits of one int64 per cluster


def summarise(
    *,
    cluster_ids: np.ndarray,
    family: np.ndarray,
    person: np.ndarray,
    blocked: np.ndarray,
    edge_a: np.ndarray,
    kind_a: np.ndarray,
    kinds: np.ndarray,
    n_edges: np.ndarray,
) -> pd.DataFrame:
    """CLUSTER_SUMMARY_COLUMNS, sorted by cluster_id.

    Args:
        cluster_ids: the id of each family component (by label).
        family, person: per account, its family and person component label.
        blocked: per account, True when it is blocked.
        edge_a: per linking pair row (kind level), one of its accounts (code).
        kind_a: per linking pair row, the code of its kind in ``kinds``.
        kinds: the kind names, sorted.
        n_edges: per family label, distinct linked account pairs inside it.
    """
    n = len(cluster_ids)
    n_accounts = np.bincount(family, minlength=n)
    # A person cluster lies inside one family, so any member names its family.
    family_of_person = np.zeros(int(person.max()) + 1 if len(person) else 0, dtype=np.int64)
    family_of_person[person] = family
    n_persons = np.bincount(family_of_person, minlength=n)
    n_blocked = np.bincount(family, weights=blocked, minlength=n).astype(np.int64)
    possible = n_accounts * (n_accounts - 1) / 2
    density = np.divide(n_edges, possible, out=np.zeros(n), where=possible > 0)
    frame = pd.DataFrame({
        s.CLUSTER_ID: pd.array(cluster_ids, dtype="str"),
        s.N_ACCOUNTS: n_accounts,
        s.N_PERSONS: n_persons,
        s.N_BLOCKED: n_blocked,
        s.LINK_KINDS: pd.array(_kind_lists(family[edge_a], kind_a, kinds, n), dtype="str"),
        s.DENSITY: density,
    })
    return sorted_by_id(frame)


def _kind_lists(label: np.ndarray, kind: np.ndarray, kinds: np.ndarray, n: int) -> np.ndarray:
    """``;``-joined sorted kinds per label via a bit mask: one string per distinct mask."""
    if len(kinds) > _MAX_KINDS:
        raise InputError(
            f"links have {len(kinds)} identifier kinds; clusters support at most {_MAX_KINDS}. "
            f"Kinds found: {', '.join(map(str, kinds[:20]))}..."
        )
    masks = np.zeros(n, dtype=np.int64)
    np.bitwise_or.at(masks, label, np.left_shift(np.int64(1), kind.astype(np.int64)))
    distinct, inverse = np.unique(masks, return_inverse=True)
    text = np.array(
        [";".join(str(k) for i, k in enumerate(kinds) if m >> i & 1) for m in distinct.tolist()],
        dtype=object,
    )
    return text[inverse]
