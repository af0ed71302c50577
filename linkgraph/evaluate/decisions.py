"""Sanction metrics: who got an automatic sanction, a review, or was flagged again.

Every account that is not itself blocked falls in one group, by the truth:
*same person* (its person has a blocked account), *family* (another person
of a household with a blocked account) or *unrelated* (no blocked account in
its household). Blocked accounts are the sources and are not scored.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.evaluate.clustering import label_codes

#: proposed actions a moderator does not have to confirm
AUTOMATIC: tuple[str, ...] = ("restrict", "suspend", "ban")
_RANK = {action: rank for rank, action in enumerate(s.ACTIONS)}
_REVIEW = _RANK["review"]


def _ranks_of(codes: np.ndarray, uniques: pd.Index | np.ndarray) -> np.ndarray:
    """Rank of each factorized action (``none`` 0 ... ``ban`` 5), -1 for anything else."""
    table = np.array([_RANK.get(str(u), -1) for u in uniques] + [-1], dtype=np.int64)
    return table[codes]  # code -1 (missing) picks the trailing -1


def _ranks(actions: pd.Series) -> np.ndarray:
    """Rank of each action; one lookup per distinct value."""
    return _ranks_of(*pd.factorize(actions))


def _group_has(codes: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Per row: does any row of the same group satisfy ``mask``."""
    marks = np.zeros(int(codes.max(initial=-1)) + 1, dtype=bool)
    marks[codes[mask]] = True
    return marks[codes]


def _share(hits: pd.Series, among: pd.Series) -> float:
    """Share of ``among`` rows where ``hits`` holds; NaN when ``among`` is empty."""
    n = int(among.sum())
    return float((hits & among).sum() / n) if n else float("nan")


def sanction_metrics(scored: pd.DataFrame) -> dict[str, float | int]:
    """Propagation metrics of one run against the truth.

    Args:
        scored: one row per account: ``account_id, action, blocked, cleared``
            (bool: a moderator cleared it), ``person_id, household_id,
            expected_action`` and, when the truth has it, ``link_group``: then
            only the accounts in a blocked account's link group count as the
            blocked person's linkable accounts.

    Returns:
        ``sanctions.*`` metrics (see docs/metrics.md).

    >>> scored = pd.DataFrame({
    ...     "account_id": ["a1", "a2", "b1", "c1"], "action": ["none", "ban", "review", "none"],
    ...     "blocked": [True, False, False, False], "cleared": [False, False, False, False],
    ...     "person_id": ["pa", "pa", "pb", "pc"], "household_id": ["h1", "h1", "h1", "h2"],
    ...     "expected_action": ["none", "ban", "review", "none"]})
    >>> m = sanction_metrics(scored)
    >>> m["sanctions.same_person_auto_share"], m["sanctions.family_auto_share"]
    (1.0, 0.0)
    """
    blocked = scored["blocked"].to_numpy(dtype=bool)
    action_rank = _ranks(scored[s.ACTION])
    expected_rank = _ranks(scored[s.EXPECTED_ACTION])
    automatic = pd.Series(action_rank >= _RANK[AUTOMATIC[0]])
    review = pd.Series(action_rank == _REVIEW)
    person_hit = _group_has(label_codes(scored[s.PERSON_ID]), blocked)
    household_hit = _group_has(label_codes(scored[s.HOUSEHOLD_ID]), blocked)
    same_person = pd.Series(~blocked & person_hit)
    family = pd.Series(~blocked & ~person_hit & household_hit)
    unrelated = pd.Series(~blocked & ~household_hit)
    linkable = same_person & (expected_rank >= _RANK[AUTOMATIC[0]])
    if s.LINK_GROUP in scored.columns:
        # an account sharing no identifier with the blocked ones cannot be found by any rule
        linkable &= _group_has(label_codes(scored[s.LINK_GROUP]), blocked)

    # issue 6.5: new evidence after a clearance may raise a review, never more
    allowed_review = review & (expected_rank >= _REVIEW)
    cleared = pd.Series(scored["cleared"].to_numpy(dtype=bool))
    flagged_again = cleared & (action_rank >= _REVIEW) & ~allowed_review

    return {
        "sanctions.blocked_accounts": int(blocked.sum()),
        "sanctions.same_person_accounts": int(linkable.sum()),
        "sanctions.same_person_auto_share": _share(automatic, linkable),
        "sanctions.same_person_auto_share_all": _share(automatic, same_person),
        "sanctions.family_accounts": int(family.sum()),
        "sanctions.family_auto_share": _share(automatic, family),
        "sanctions.family_review_share": _share(review, family),
        "sanctions.stranger_auto_count": int((automatic & unrelated).sum()),
        "sanctions.unrelated_review_share": _share(review, unrelated),
        "sanctions.cleared_accounts": int(cleared.sum()),
        "sanctions.cleared_flagged_again": int(flagged_again.sum()),
    }


def action_metrics(scored: pd.DataFrame) -> dict[str, float | int]:
    """Agreement of the proposed action with the truth's expected action, and the confusion counts.

    ``watch`` counts as ``none`` for the agreement (neither asks anything of a
    moderator); the confusion counts keep every action apart, one metric per
    non-empty cell: ``actions.expected_<e>.got_<a>``.

    >>> scored = pd.DataFrame({"action": ["ban", "watch", "review"],
    ...                        "expected_action": ["ban", "none", "none"]})
    >>> m = action_metrics(scored)
    >>> round(m["actions.agreement"], 4), m["actions.expected_none.got_review"]
    (0.6667, 1)
    """
    got_codes, got_values = pd.factorize(scored[s.ACTION])
    expected_codes, expected_values = pd.factorize(scored[s.EXPECTED_ACTION])
    got_rank = _ranks_of(got_codes, got_values)
    expected_rank = _ranks_of(expected_codes, expected_values)
    watch = _RANK["watch"]
    agree = np.where(got_rank == watch, 0, got_rank) == np.where(
        expected_rank == watch, 0, expected_rank
    )
    metrics: dict[str, float | int] = {
        "actions.agreement": float(agree.mean()) if len(agree) else float("nan"),
    }
    n_got = len(got_values)
    cells = np.bincount(expected_codes * n_got + got_codes, minlength=len(expected_values) * n_got)
    order = {action: rank for rank, action in enumerate(s.ACTIONS)}

    def sort_key(value: str) -> tuple[int, str]:
        return order.get(value, len(order)), value

    expected_names = [str(v) for v in expected_values]
    got_names = [str(v) for v in got_values]
    for expected_action in sorted(expected_names, key=sort_key):
        row = expected_names.index(expected_action) * n_got
        for got_action in sorted(got_names, key=sort_key):
            n = int(cells[row + got_names.index(got_action)])
            if n:
                metrics[f"actions.expected_{expected_action}.got_{got_action}"] = n
    return metrics
