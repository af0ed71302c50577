"""Clustering metrics: pair counts from contingency tables, B-cubed, raw components.

Pair counts never enumerate pairs: the number of account pairs that two
labelings both put together is the sum of ``n * (n - 1) / 2`` over the cells
of their contingency table, so the metrics run in ``O(n log n)`` at millions
of accounts.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from linkgraph import codes
from linkgraph import schemas as s
from linkgraph.cluster import components

logger = logging.getLogger(__name__)

#: (table, columns whose exact raw values are one person-level identifier)
_RAW_IDENTIFIERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("accounts", (s.EMAIL,)),
    ("accounts", (s.PHONE,)),
    ("accounts", (s.DEVICE_ID,)),
    ("logins", (s.DEVICE_ID,)),
    ("payments", (s.FINGERPRINT,)),
    ("addresses", (s.LINE1, s.POSTAL_CODE)),
)


def label_codes(labels: pd.Series | np.ndarray) -> np.ndarray:
    """Integer codes of one labeling; a missing label is a group of its own (a singleton).

    Labels that already are small non-negative integers (codes) are kept as they are.

    >>> label_codes(pd.Series(["x", None, "y", "x", None])).tolist()
    [0, 2, 1, 0, 3]
    """
    if isinstance(labels, pd.Series) and isinstance(labels.dtype, np.dtype):
        labels = labels.to_numpy()
    if (
        isinstance(labels, np.ndarray)
        and labels.dtype.kind in "iu"
        and (len(labels) == 0 or (labels.min() >= 0 and labels.max() <= 2 * len(labels)))
    ):
        return labels.astype(np.int64, copy=False)
    codes, uniques = pd.factorize(labels)
    codes = codes.astype(np.int64)
    missing = codes < 0
    if missing.any():
        codes[missing] = len(uniques) + np.arange(int(missing.sum()))
    return codes


def joint_codes(*labelings: pd.Series | np.ndarray) -> np.ndarray:
    """Integer codes of the tuples of several labelings (the cells of their contingency table).

    Codes follow first appearance; every metric here is a sum over cells and
    does not depend on which cell gets which code.

    >>> joint_codes(np.array([0, 0, 1]), np.array([5, 6, 5])).tolist()
    [0, 1, 2]
    """
    codes = label_codes(labelings[0])
    for labels in labelings[1:]:
        labels_codes = label_codes(labels)
        # both codes are at most 2n, so the key stays far below 2**63
        key = codes * (int(labels_codes.max(initial=-1)) + 1) + labels_codes
        codes = pd.factorize(key)[0].astype(np.int64)
    return codes


def pair_count(*labelings: np.ndarray) -> int:
    """Number of unordered item pairs that every labeling puts in the same group.

    Computed from the contingency cells: ``sum(n * (n - 1) // 2)``.

    >>> pair_count(np.array(["a", "a", "a", "b"]))
    3
    >>> pair_count(np.array(["a", "a", "a", "b"]), np.array([1, 1, 2, 2]))
    1
    """
    if len(labelings[0]) == 0:
        return 0
    sizes = np.bincount(joint_codes(*labelings)).astype(np.int64)
    return int((sizes * (sizes - 1) // 2).sum())


def _bcubed(predicted: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """B-cubed precision and recall (Bagga & Baldwin 1998; Amigo et al. 2009)."""
    n = len(predicted)
    if n == 0:
        return float("nan"), float("nan")
    pred_codes = label_codes(predicted)
    true_codes = label_codes(truth)
    cell_codes = joint_codes(pred_codes, true_codes)
    cell_size = np.bincount(cell_codes).astype(np.float64)
    # every item of a cell shares the same predicted and true group
    first = np.zeros(len(cell_size), dtype=np.int64)
    first[cell_codes] = np.arange(n)
    pred_size = np.bincount(pred_codes).astype(np.float64)[pred_codes[first]]
    true_size = np.bincount(true_codes).astype(np.float64)[true_codes[first]]
    squared = cell_size * cell_size
    return float((squared / pred_size).sum() / n), float((squared / true_size).sum() / n)


def _ratio(numerator: float, denominator: float) -> float:
    """``numerator / denominator``, 1.0 when there is nothing to get wrong."""
    return float(numerator / denominator) if denominator else 1.0


def clustering_metrics(
    predicted: np.ndarray, truth: np.ndarray, *, prefix: str
) -> dict[str, float | int]:
    """Pairwise and B-cubed precision and recall of one labeling against another.

    Args:
        predicted: the run's cluster label per account.
        truth: the true group (person or household) per account, aligned.
        prefix: the metric names' section, e.g. ``"person"``.

    Returns:
        ``{prefix}.pair_precision``, ``.pair_recall``, ``.bcubed_precision``,
        ``.bcubed_recall``, ``.true_pairs``, ``.predicted_pairs``.

    >>> m = clustering_metrics(np.array([1, 1, 1, 2, 2]), np.array([1, 1, 2, 2, 2]), prefix="p")
    >>> round(m["p.pair_precision"], 4), round(m["p.pair_recall"], 4)
    (0.5, 0.5)
    """
    true_pairs = pair_count(truth)
    predicted_pairs = pair_count(predicted)
    both = pair_count(predicted, truth)
    bcubed_precision, bcubed_recall = _bcubed(predicted, truth)
    return {
        f"{prefix}.pair_precision": _ratio(both, predicted_pairs),
        f"{prefix}.pair_recall": _ratio(both, true_pairs),
        f"{prefix}.bcubed_precision": bcubed_precision,
        f"{prefix}.bcubed_recall": bcubed_recall,
        f"{prefix}.true_pairs": true_pairs,
        f"{prefix}.predicted_pairs": predicted_pairs,
    }


def normalisation_only_recall(
    predicted: np.ndarray, person: np.ndarray, raw: np.ndarray
) -> tuple[float, int]:
    """Recall on the same-person pairs that exact raw values do not join.

    Args:
        predicted: the run's person cluster per account.
        person: the true person per account, or better its link group (the
            person's accounts that share a true identifier): then the pairs
            are those normalisation can join and exact values do not.
        raw: the raw-equality component per account (see :func:`raw_components`).

    Returns:
        (recall, number of such pairs); recall is 1.0 when there are none.

    >>> normalisation_only_recall(np.array([1, 1, 1]), np.array([7, 7, 7]), np.array([0, 0, 1]))
    (1.0, 2)
    """
    hard_pairs = pair_count(person) - pair_count(person, raw)
    found = pair_count(person, predicted) - pair_count(person, predicted, raw)
    return _ratio(found, hard_pairs), hard_pairs


def raw_components(tables: Mapping[str, pd.DataFrame], truth: pd.DataFrame) -> pd.Series:
    """Components of each person's accounts joined by exactly equal raw identifier values.

    Two accounts of one true person are joined when they hold the very same
    raw string (no normalisation at all) of a person-level value: email,
    phone or device id in ``accounts``, device id in ``logins``, payment
    fingerprint, or address ``line1`` + ``postal_code``. Only the person's own
    accounts are chained: a raw value shared with a stranger (a junk phone, a
    pickup point) would chain half the marketplace and leave no pair that
    "only normalisation can join", so such chains do not count.

    Args:
        tables: input tables by name (missing tables or columns are skipped);
            values are compared as strings, empty or missing values never join.
        truth: ``account_id, person_id``.

    Returns:
        account_id -> integer component label, for every truth account.

    >>> truth = pd.DataFrame({"account_id": ["a", "b", "c"], "person_id": ["p", "p", "p"]})
    >>> accounts = pd.DataFrame({"account_id": ["a", "b", "c"],
    ...                          "email": ["x@y.com", "x@y.com", "X@y.com"]})
    >>> raw_components({"accounts": accounts}, truth).tolist()
    [0, 0, 1]
    """
    truth = truth.drop_duplicates(s.ACCOUNT_ID).sort_values(s.ACCOUNT_ID, ignore_index=True)
    account_ids = truth[s.ACCOUNT_ID].astype(str)
    person_codes = label_codes(truth[s.PERSON_ID].astype(str))
    n = len(account_ids)

    rows: list[np.ndarray] = []
    groups: list[np.ndarray] = []
    n_groups = 0
    for kind_code, (table, columns) in enumerate(_RAW_IDENTIFIERS):
        frame = tables.get(table)
        if frame is None or s.ACCOUNT_ID not in frame or not set(columns) <= set(frame.columns):
            continue
        values = _raw_values(frame, columns)
        positions = codes.positions(frame[s.ACCOUNT_ID].astype(str), account_ids)
        keep = (positions >= 0) & values.notna().to_numpy()
        if not keep.any():
            continue
        positions = positions[keep]
        value_codes = pd.factorize(values[keep])[0].astype(np.int64)
        # a group is one raw value of one kind held by one person's accounts
        group = joint_codes(person_codes[positions], value_codes)
        rows.append(positions)
        groups.append(group + n_groups)
        n_groups += int(group.max()) + 1
        logger.debug("raw identifiers %s.%s: %d values", table, "+".join(columns), keep.sum())
    if not rows:
        return pd.Series(np.arange(n), index=account_ids.to_numpy(), name="raw_component")
    row = np.concatenate(rows)
    col = np.concatenate(groups) + n
    labels = components(n + n_groups, row, col)
    return pd.Series(
        joint_codes(labels[:n]), index=account_ids.to_numpy(), name="raw_component"
    )


def _raw_values(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """One raw string per row (columns joined by a separator), NA when all parts are empty."""
    parts = [frame[c].astype("string").fillna("") for c in columns]
    empty = np.logical_and.reduce([(p == "").to_numpy(dtype=bool) for p in parts])
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "\x1f" + part
    return joined.mask(empty)
