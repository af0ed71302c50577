"""Coupon-abuse metrics: ROC AUC, precision at k, and how families score."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from linkgraph import schemas as s
from linkgraph.evaluate.clustering import joint_codes, label_codes


def roc_auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC from ranks (Mann-Whitney U), ties counted as half a win.

    Returns NaN when there are no positives or no negatives.

    >>> roc_auc(np.array([0.9, 0.4, 0.5, 0.1, 0.4]), np.array([True, True, False, False, False]))
    0.75
    """
    positive = np.asarray(positive, dtype=bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = rankdata(np.asarray(scores, dtype=np.float64), method="average")
    u = ranks[positive].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def precision_at_k(scores: np.ndarray, positive: np.ndarray, k: int) -> float:
    """Share of positives among the ``k`` highest scores, ties at the cut shared evenly.

    When several items tie at the k-th score, each of them fills the
    remaining places with equal probability: the result is the expected
    precision under a random order of ties, not an artefact of row order.

    >>> precision_at_k(np.array([90, 80, 80, 10]), np.array([True, True, False, False]), 2)
    0.75
    """
    scores = np.asarray(scores, dtype=np.float64)
    positive = np.asarray(positive, dtype=bool)
    if k <= 0 or len(scores) == 0:
        return float("nan")
    k = min(k, len(scores))
    cut = np.sort(scores)[::-1][k - 1]
    above = scores > cut
    tied = scores == cut
    places = k - int(above.sum())
    hits = positive[above].sum() + places * positive[tied].sum() / tied.sum()
    return float(hits / k)


def coupon_metrics(scored: pd.DataFrame, orders: pd.DataFrame | None) -> dict[str, float | int]:
    """Coupon-abuse metrics of one run against the truth.

    Args:
        scored: one row per account: ``account_id, coupon_abuse_score,
            is_farmer, person_id, household_id``.
        orders: ``account_id, coupon_type`` (the input orders), or ``None``:
            then the family metrics are left out.

    Returns:
        ``coupon.roc_auc``, ``coupon.precision_at_k``, ``coupon.farmer_accounts``
        and, with orders, ``coupon.families_with_new_user`` and
        ``coupon.family_mean_score``.

    >>> scored = pd.DataFrame({"account_id": ["a", "b", "c"], "coupon_abuse_score": [90, 10, 5],
    ...     "is_farmer": [True, False, False], "person_id": ["p", "q", "r"],
    ...     "household_id": ["h", "g", "g"]})
    >>> orders = pd.DataFrame({"account_id": ["b", "c"], "coupon_type": ["new_user", "new_user"]})
    >>> m = coupon_metrics(scored, orders)
    >>> m["coupon.roc_auc"], m["coupon.family_mean_score"]
    (1.0, 10.0)
    """
    score = scored[s.COUPON_ABUSE_SCORE].astype("float64").fillna(0.0).to_numpy()
    farmer = scored[s.IS_FARMER].astype(bool).to_numpy()
    n_farmers = int(farmer.sum())
    metrics: dict[str, float | int] = {
        "coupon.farmer_accounts": n_farmers,
        "coupon.roc_auc": roc_auc(score, farmer),
        "coupon.precision_at_k": precision_at_k(score, farmer, n_farmers),
    }
    if orders is None:
        return metrics
    redeemed = orders.loc[orders[s.COUPON_TYPE] == s.NEW_USER, s.ACCOUNT_ID].astype(str)
    # one hash pass over accounts and redeeming orders; codes of accounts come first
    account_codes = pd.factorize(
        pd.concat([scored[s.ACCOUNT_ID].astype(str), redeemed], ignore_index=True)
    )[0]
    n = len(scored)
    order_codes = account_codes[n:]
    redemptions = np.bincount(order_codes[order_codes < n], minlength=n)
    household = label_codes(scored[s.HOUSEHOLD_ID])
    person = label_codes(scored[s.PERSON_ID])
    n_households = int(household.max(initial=-1)) + 1
    first_of_person = ~pd.Series(joint_codes(household, person)).duplicated().to_numpy()
    households = pd.DataFrame({
        "persons": np.bincount(household[first_of_person], minlength=n_households),
        "redemptions": np.bincount(household, weights=redemptions, minlength=n_households),
        "farmer": np.bincount(household, weights=farmer, minlength=n_households) > 0,
        "score": pd.Series(score).groupby(household).max().reindex(range(n_households)),
    })
    families = households[
        (households["persons"] >= 2) & (households["redemptions"] >= 2) & ~households["farmer"]
    ]
    metrics["coupon.families_with_new_user"] = len(families)
    metrics["coupon.family_mean_score"] = (
        float(families["score"].mean()) if len(families) else float("nan")
    )
    return metrics
