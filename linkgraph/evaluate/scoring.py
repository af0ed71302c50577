"""score_run: a run's accounts and the truth, as frames, in; the scorecard out."""

from __future__ import annotations

import logging
from collections.abc import Iterable

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.errors import InputError
from linkgraph.evaluate.clustering import clustering_metrics, label_codes, normalisation_only_recall
from linkgraph.evaluate.coupon import coupon_metrics
from linkgraph.evaluate.decisions import action_metrics, sanction_metrics
from linkgraph.evaluate.scorecard import Scorecard
from linkgraph.evaluate.stability import stability_metrics

logger = logging.getLogger(__name__)

#: columns of a run's accounts the scorecard needs, and those it also uses when present
RUN_REQUIRED = (s.ACCOUNT_ID, s.CLUSTER_ID, s.PERSON_CLUSTER_ID, s.ACTION)
RUN_OPTIONAL = (s.LINKED_BLOCKED_ACCOUNT, s.SANCTION, s.BLOCKED, s.CLEARED_AT, s.COUPON_ABUSE_SCORE)
#: columns of the truth the scorecard needs, and those it also uses when present
TRUTH_REQUIRED = (s.ACCOUNT_ID, s.PERSON_ID, s.HOUSEHOLD_ID, s.EXPECTED_ACTION)
TRUTH_OPTIONAL = (s.ROLE, s.IS_FARMER, s.LINK_GROUP)
_TRUE_WORDS = ("true", "1", "yes", "y", "t")


def _require(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    s.require_columns({what: (frame, tuple(columns))}, stage="evaluate",
                      hint="Pass a run directory written by linkgraph run and a truth.csv from "
                           "linkgraph synth.")


def _as_bool(values: pd.Series) -> pd.Series:
    """Booleans from bool, numbers or words (``True``, ``false``, ``1``); missing is False."""
    if pd.api.types.is_bool_dtype(values):
        return values.fillna(False).astype(bool)
    return values.astype("string").str.strip().str.lower().isin(_TRUE_WORDS).fillna(False)


def _present(values: pd.Series) -> pd.Series:
    """True where a value is given (not missing, not an empty string)."""
    return values.notna() & (values.astype("string").fillna("").str.strip() != "")


def _prepare_truth(truth: pd.DataFrame) -> pd.DataFrame:
    _require(truth, TRUTH_REQUIRED, "truth")
    if s.IS_FARMER not in truth.columns and s.ROLE not in truth.columns:
        raise InputError("truth has neither 'is_farmer' nor 'role': add one of them.")
    is_farmer = (
        _as_bool(truth[s.IS_FARMER]) if s.IS_FARMER in truth.columns
        else truth[s.ROLE].astype("string").eq("farmer").fillna(False)
    )
    prepared = pd.DataFrame({
        s.ACCOUNT_ID: truth[s.ACCOUNT_ID].astype(str),
        s.PERSON_ID: truth[s.PERSON_ID].astype(str),
        s.HOUSEHOLD_ID: truth[s.HOUSEHOLD_ID].astype(str),
        s.EXPECTED_ACTION: truth[s.EXPECTED_ACTION].astype("string").fillna("none")
        .str.strip().str.lower().replace("", "none").astype(str),
        s.IS_FARMER: is_farmer.to_numpy(dtype=bool),
    })
    if s.LINK_GROUP in truth.columns:
        prepared[s.LINK_GROUP] = truth[s.LINK_GROUP].astype(str).to_numpy()
    duplicated = prepared[s.ACCOUNT_ID].duplicated(keep=False)
    if duplicated.any():
        raise InputError(
            f"truth lists {int(duplicated.sum())} rows with a repeated account_id "
            f"(e.g. {prepared.loc[duplicated, s.ACCOUNT_ID].iloc[0]!r}): one row per account.",
            rows=truth[duplicated.to_numpy()],
        )
    return prepared


def _prepare_accounts(accounts: pd.DataFrame) -> pd.DataFrame:
    _require(accounts, RUN_REQUIRED, "run accounts")
    if s.BLOCKED not in accounts.columns and s.SANCTION not in accounts.columns:
        raise InputError("run accounts have neither 'blocked' nor 'sanction': add one of them.")
    account_ids = accounts[s.ACCOUNT_ID].astype(str)
    action = accounts[s.ACTION].astype("string").fillna("none").astype(str)
    unknown = ~action.isin(s.ACTIONS)
    if unknown.any():
        raise InputError(
            f"run accounts have {int(unknown.sum())} unknown actions "
            f"({', '.join(sorted(action[unknown].unique())[:5])}); "
            f"expected one of {', '.join(s.ACTIONS)}.",
            rows=accounts[unknown.to_numpy()],
        )
    blocked = (
        _as_bool(accounts[s.BLOCKED]) if s.BLOCKED in accounts.columns
        else accounts[s.SANCTION].isin(s.BLOCKING_ACTIONS)
    )
    cleared = (
        _present(accounts[s.CLEARED_AT]) if s.CLEARED_AT in accounts.columns
        else pd.Series(False, index=accounts.index)
    )
    prepared = pd.DataFrame({
        s.ACCOUNT_ID: account_ids,
        # codes later: a missing cluster id is a singleton
        s.CLUSTER_ID: accounts[s.CLUSTER_ID].astype("string"),
        s.PERSON_CLUSTER_ID: accounts[s.PERSON_CLUSTER_ID].astype("string"),
        s.ACTION: action,
        "blocked": blocked.to_numpy(dtype=bool),
        "cleared": cleared.to_numpy(dtype=bool),
    })
    if s.COUPON_ABUSE_SCORE in accounts.columns:
        prepared[s.COUPON_ABUSE_SCORE] = pd.to_numeric(
            accounts[s.COUPON_ABUSE_SCORE], errors="coerce"
        ).fillna(0.0).to_numpy(dtype=np.float64)
    if prepared[s.ACCOUNT_ID].duplicated().any():
        raise InputError("run accounts list an account_id more than once: one row per account.")
    return prepared


def score_run(
    accounts: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    raw_components: pd.Series | None = None,
    previous_accounts: pd.DataFrame | None = None,
    previous_truth: pd.DataFrame | None = None,
    previous_issued_ids: pd.Series | None = None,
    orders: pd.DataFrame | None = None,
) -> Scorecard:
    """Score a run's accounts against the ground truth.

    Accounts are scored on the intersection of the run and the truth (a
    rejected input row has no output row); the counts of the others are
    reported. Inputs are not modified; row order does not matter.

    Args:
        accounts: the run's ``account_id, cluster_id, person_cluster_id,
            action`` and ``blocked`` (or ``sanction``); optionally
            ``cleared_at`` and ``coupon_abuse_score``.
        truth: ``account_id, person_id, household_id, expected_action`` and
            ``is_farmer`` (or ``role``).
        raw_components: account_id -> raw-equality component (see
            :func:`raw_components`); without it the normalisation-only recall
            is left out.
        previous_accounts: last night's ``account_id, cluster_id``, for the
            stability metrics.
        previous_truth: last night's truth, to score households that merged.
        previous_issued_ids: every cluster id the previous run's registry
            holds, to catch retired ids issued again.
        orders: the input ``account_id, coupon_type``, for the families' score.

    Returns:
        The :class:`Scorecard`.

    Raises:
        InputError: a required column is missing, an action is unknown, or an
            account is listed twice.

    >>> accounts = pd.DataFrame({"account_id": ["a", "b", "c", "d", "e"],
    ...     "cluster_id": ["C1"] * 3 + ["C2"] * 2, "person_cluster_id": ["P1"] * 3 + ["P2"] * 2,
    ...     "action": ["none"] * 5, "blocked": [False] * 5})
    >>> truth = pd.DataFrame({"account_id": ["a", "b", "c", "d", "e"],
    ...     "person_id": ["p", "p", "q", "q", "q"], "household_id": ["h", "h", "g", "g", "g"],
    ...     "expected_action": ["none"] * 5, "is_farmer": [False] * 5})
    >>> card = score_run(accounts, truth)
    >>> round(card.metrics["person.pair_precision"], 4)
    0.5
    """
    run = _prepare_accounts(accounts)
    true = _prepare_truth(truth)
    # ids were checked unique on both sides
    scored = run.merge(true, on=s.ACCOUNT_ID, how="inner").sort_values(
        s.ACCOUNT_ID, kind="stable", ignore_index=True
    )
    metrics: dict[str, float | int] = {
        "accounts.scored": len(scored),
        # account ids are unique on both sides, so the rest are in one side only
        "accounts.missing_from_run": len(true) - len(scored),
        "accounts.missing_from_truth": len(run) - len(scored),
    }
    if len(scored) < max(len(run), len(true)):
        logger.info("scoring %d accounts: %d only in the truth, %d only in the run",
                    len(scored), metrics["accounts.missing_from_run"],
                    metrics["accounts.missing_from_truth"])

    # labels become integer codes once; every metric below works on the codes
    person = label_codes(scored[s.PERSON_ID])
    household = label_codes(scored[s.HOUSEHOLD_ID])
    person_cluster = label_codes(scored[s.PERSON_CLUSTER_ID])
    cluster = label_codes(scored[s.CLUSTER_ID])
    scored = scored.assign(**{s.PERSON_ID: person, s.HOUSEHOLD_ID: household})
    metrics.update(clustering_metrics(person_cluster, person, prefix="person"))
    in_cluster = clustering_metrics(cluster, person, prefix="x")
    metrics["person.pair_recall_in_cluster"] = in_cluster["x.pair_recall"]
    # a link group lies inside one person: its pairs are the person pairs some rule can join
    group = person
    if s.LINK_GROUP in scored.columns:
        group = label_codes(scored[s.LINK_GROUP])
        linkable = clustering_metrics(person_cluster, group, prefix="x")
        metrics["person.linkable_pairs"] = linkable["x.true_pairs"]
        # the all-pairs recall of a run that joins every linkable pair and nothing else
        true_pairs = metrics["person.true_pairs"]
        metrics["person.pair_recall_ceiling"] = (
            linkable["x.true_pairs"] / true_pairs if true_pairs else 1.0)
        metrics["person.pair_recall_linkable"] = linkable["x.pair_recall"]
    if raw_components is not None:
        # an account the components do not know is alone in its own component
        raw = scored[[s.ACCOUNT_ID]].merge(
            pd.DataFrame({s.ACCOUNT_ID: raw_components.index.astype(str),
                          "raw": raw_components.to_numpy()}).drop_duplicates(s.ACCOUNT_ID),
            on=s.ACCOUNT_ID, how="left",
        )["raw"]
        recall, hard_pairs = normalisation_only_recall(person_cluster, group, label_codes(raw))
        metrics["person.normalisation_only_pairs"] = hard_pairs
        metrics["person.pair_recall_normalisation_only"] = recall
    metrics.update(clustering_metrics(cluster, household, prefix="household"))

    largest = int(np.bincount(cluster).max(initial=0))
    largest_household = int(np.bincount(household).max(initial=0))
    metrics["clusters.largest"] = largest
    metrics["clusters.largest_true_household"] = largest_household
    metrics["clusters.largest_over_household"] = largest - largest_household

    metrics.update(sanction_metrics(scored))
    metrics.update(action_metrics(scored))
    if s.COUPON_ABUSE_SCORE in scored.columns:
        if orders is not None:
            _require(orders, (s.ACCOUNT_ID, s.COUPON_TYPE), "orders")
        metrics.update(coupon_metrics(scored, orders))
    if previous_accounts is not None:
        _require(previous_accounts, (s.ACCOUNT_ID, s.CLUSTER_ID), "previous run accounts")
        previous_truth_ids = None
        if previous_truth is not None:
            _require(previous_truth, (s.ACCOUNT_ID, s.HOUSEHOLD_ID), "previous truth")
            previous_truth_ids = previous_truth[[s.ACCOUNT_ID, s.HOUSEHOLD_ID]].astype(str)
        metrics.update(stability_metrics(
            accounts.assign(**{s.ACCOUNT_ID: accounts[s.ACCOUNT_ID].astype(str)}),
            previous_accounts.assign(
                **{s.ACCOUNT_ID: previous_accounts[s.ACCOUNT_ID].astype(str)}
            ),
            truth=true, previous_truth=previous_truth_ids,
            previous_issued_ids=previous_issued_ids,
        ))
    return Scorecard(metrics)
