"""The quality scorecard: every metric on tiny truths whose numbers are worked out by hand."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.errors import InputError, RunDirectoryError
from linkgraph.evaluate import (
    Scorecard,
    evaluate,
    pair_count,
    precision_at_k,
    raw_components,
    roc_auc,
    score_run,
)
from linkgraph.evaluate.clustering import _bcubed


def run_accounts(rows: dict[str, tuple[str, str, str]], **extra: list[object]) -> pd.DataFrame:
    """account_id -> (cluster_id, person_cluster_id, action); blocked False unless given."""
    ids = list(rows)
    frame = pd.DataFrame({
        "account_id": ids,
        "cluster_id": [rows[a][0] for a in ids],
        "person_cluster_id": [rows[a][1] for a in ids],
        "action": [rows[a][2] for a in ids],
        "blocked": [False] * len(ids),
    })
    for column, values in extra.items():
        frame[column] = values
    return frame


def truth_of(rows: dict[str, tuple[str, str]], **extra: list[object]) -> pd.DataFrame:
    """account_id -> (person_id, household_id); expected none, no farmers unless given."""
    ids = list(rows)
    frame = pd.DataFrame({
        "account_id": ids,
        "person_id": [rows[a][0] for a in ids],
        "household_id": [rows[a][1] for a in ids],
        "expected_action": ["none"] * len(ids),
        "is_farmer": [False] * len(ids),
    })
    for column, values in extra.items():
        frame[column] = values
    return frame


# --- clustering ----------------------------------------------------------------


def five_accounts_one_wrong_merge() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Persons p={a,b,c} and q={d,e}; the run puts d with p's accounts.

    Pairs: true ab ac bc de (4); predicted ab ac ad bc bd cd (6); both ab ac bc (3).
    """
    accounts = run_accounts({
        "a": ("C1", "P1", "none"), "b": ("C1", "P1", "none"), "c": ("C1", "P1", "none"),
        "d": ("C1", "P1", "none"), "e": ("C2", "P2", "none"),
    })
    truth = truth_of({"a": ("p", "h1"), "b": ("p", "h1"), "c": ("p", "h1"),
                      "d": ("q", "h2"), "e": ("q", "h2")})
    return accounts, truth


def test_wrong_merge_gives_pairwise_precision_one_half_and_recall_three_quarters() -> None:
    accounts, truth = five_accounts_one_wrong_merge()
    metrics = score_run(accounts, truth).metrics
    assert metrics["person.pair_precision"] == pytest.approx(3 / 6)
    assert metrics["person.pair_recall"] == pytest.approx(3 / 4)
    assert metrics["household.pair_precision"] == pytest.approx(3 / 6)
    assert metrics["household.pair_recall"] == pytest.approx(3 / 4)
    assert metrics["person.true_pairs"] == 4
    assert metrics["person.predicted_pairs"] == 6


def test_wrong_merge_gives_bcubed_by_hand() -> None:
    # precision: a,b,c 3/4 each, d 1/4, e 1/1 -> 3.5/5; recall: a,b,c 1, d 1/2, e 1/2 -> 4/5
    accounts, truth = five_accounts_one_wrong_merge()
    metrics = score_run(accounts, truth).metrics
    assert metrics["person.bcubed_precision"] == pytest.approx(0.7)
    assert metrics["person.bcubed_recall"] == pytest.approx(0.8)


def test_person_split_inside_one_family_cluster_counts_for_recall_in_cluster() -> None:
    # one person {a,b,c}: person tier splits c off, the family cluster keeps all three
    accounts = run_accounts({"a": ("C1", "P1", "none"), "b": ("C1", "P1", "none"),
                             "c": ("C1", "P2", "none")})
    truth = truth_of({"a": ("p", "h"), "b": ("p", "h"), "c": ("p", "h")})
    metrics = score_run(accounts, truth).metrics
    assert metrics["person.pair_recall"] == pytest.approx(1 / 3)
    assert metrics["person.pair_recall_in_cluster"] == 1.0
    assert metrics["person.pair_precision"] == 1.0


def test_family_of_two_persons_in_one_cluster_is_household_precision_one() -> None:
    accounts = run_accounts({"a": ("C1", "P1", "none"), "b": ("C1", "P2", "none"),
                             "c": ("C2", "P3", "none")})
    truth = truth_of({"a": ("p", "h1"), "b": ("q", "h1"), "c": ("r", "h2")})
    metrics = score_run(accounts, truth).metrics
    assert metrics["household.pair_precision"] == 1.0
    assert metrics["household.pair_recall"] == 1.0
    # no true person pairs and none predicted: nothing to get wrong
    assert metrics["person.pair_precision"] == 1.0
    assert metrics["person.pair_recall"] == 1.0


def test_normalisation_only_recall_counts_pairs_raw_values_cannot_join() -> None:
    # person p has a,b (same raw email) and c,d (same raw phone): hard pairs ac ad bc bd;
    # the run joins a,b,c only: of the hard pairs it finds ac and bc -> 2/4
    accounts = run_accounts({"a": ("C1", "P1", "none"), "b": ("C1", "P1", "none"),
                             "c": ("C1", "P1", "none"), "d": ("C2", "P2", "none")})
    truth = truth_of({a: ("p", "h") for a in "abcd"})
    raw = pd.Series({"a": 0, "b": 0, "c": 1, "d": 1})
    metrics = score_run(accounts, truth, raw_components=raw).metrics
    assert metrics["person.normalisation_only_pairs"] == 4
    assert metrics["person.pair_recall_normalisation_only"] == pytest.approx(0.5)
    assert metrics["person.pair_recall"] == pytest.approx(3 / 6)


def test_link_groups_leave_out_pairs_nothing_could_join() -> None:
    # person p: a,b share a true mailbox written alike, c its other spelling; d shares
    # nothing with them (its own group): the hard pairs are ac and bc, not ad bd cd
    accounts = run_accounts({"a": ("C1", "P1", "none"), "b": ("C1", "P1", "none"),
                             "c": ("C1", "P2", "none"), "d": ("C2", "P3", "none")})
    truth = truth_of({a: ("p", "h") for a in "abcd"}, link_group=["a", "a", "a", "d"])
    raw = pd.Series({"a": 0, "b": 0, "c": 1, "d": 2})
    metrics = score_run(accounts, truth, raw_components=raw).metrics
    assert metrics["person.linkable_pairs"] == 3
    assert metrics["person.pair_recall_linkable"] == pytest.approx(1 / 3)
    assert metrics["person.normalisation_only_pairs"] == 2
    assert metrics["person.pair_recall_normalisation_only"] == 0.0
    assert metrics["person.pair_recall"] == pytest.approx(1 / 6)
    # 3 of the person's 6 pairs can be joined at all
    assert metrics["person.pair_recall_ceiling"] == pytest.approx(3 / 6)


def test_blocked_persons_account_sharing_nothing_with_the_blocked_one_is_not_linkable() -> None:
    accounts, truth = blocked_violator_with_family_and_neighbours()
    # a3 shares no identifier with a1: missing it is no miss of the rules
    truth["link_group"] = ["a1", "a1", "a3", "f1", "f1", "f3", "s1", "s1", "s3", "s3"]
    metrics = score_run(accounts, truth).metrics
    assert metrics["sanctions.same_person_accounts"] == 1
    assert metrics["sanctions.same_person_auto_share"] == 1.0
    assert metrics["sanctions.same_person_auto_share_all"] == pytest.approx(1 / 2)


def test_normalisation_only_recall_is_left_out_without_raw_components() -> None:
    accounts, truth = five_accounts_one_wrong_merge()
    assert "person.pair_recall_normalisation_only" not in score_run(accounts, truth).metrics


def test_raw_components_join_exact_values_only_and_never_through_strangers() -> None:
    truth = truth_of({"a1": ("p", "h1"), "a2": ("p", "h1"), "a3": ("p", "h1"),
                      "a4": ("p", "h1"), "a5": ("p", "h1"), "s1": ("s", "h2")})
    accounts = pd.DataFrame({
        "account_id": ["a1", "a2", "a3", "a4", "a5", "s1"],
        # a1/a2 share an exact email; a3 writes it in upper case (only normalisation joins it)
        "email": ["jo@x.com", "jo@x.com", "JO@x.com", None, "", "q@y.com"],
        # the junk phone is shared with a stranger: a4 and s1 never join p's accounts by it
        "phone": [None, None, "0000000000", "555", None, "0000000000"],
        "device_id": [None, None, None, None, None, None],
    })
    logins = pd.DataFrame({"account_id": ["a4", "a5"], "device_id": ["dev-9", "dev-9"]})
    addresses = pd.DataFrame({"account_id": ["a1", "a5"], "line1": ["1 Main St", "1 Main St"],
                              "postal_code": ["123", "124"]})
    payments = pd.DataFrame({"account_id": ["a2", "a3"], "fingerprint": [None, None]})
    components = raw_components(
        {"accounts": accounts, "logins": logins, "addresses": addresses, "payments": payments},
        truth,
    )
    group = components.to_dict()
    assert group["a1"] == group["a2"]
    assert group["a4"] == group["a5"]
    assert len({group["a1"], group["a3"], group["a4"], group["s1"]}) == 4


def test_largest_cluster_is_compared_with_the_largest_true_household() -> None:
    accounts = run_accounts({"a": ("C1", "P1", "none"), "b": ("C1", "P2", "none"),
                             "c": ("C1", "P3", "none"), "d": ("C1", "P4", "none"),
                             "e": ("C2", "P5", "none")})
    truth = truth_of({"a": ("p", "h1"), "b": ("q", "h1"), "c": ("r", "h2"),
                      "d": ("t", "h3"), "e": ("u", "h3")})
    metrics = score_run(accounts, truth).metrics
    assert metrics["clusters.largest"] == 4
    assert metrics["clusters.largest_true_household"] == 2
    assert metrics["clusters.largest_over_household"] == 2


def labels_strategy(n: int) -> st.SearchStrategy[list[int]]:
    return st.lists(st.integers(0, 3), min_size=n, max_size=n)


@st.composite
def labelings(draw: st.DrawFn) -> list[np.ndarray]:
    n = draw(st.integers(0, 14))
    k = draw(st.integers(1, 3))
    return [np.array(draw(labels_strategy(n))) for _ in range(k)]


@settings(deadline=None)
@given(labelings())
def test_pair_count_from_contingency_equals_brute_force_enumeration(
    labels: list[np.ndarray],
) -> None:
    n = len(labels[0])
    brute = sum(
        all(lab[i] == lab[j] for lab in labels) for i, j in itertools.combinations(range(n), 2)
    )
    assert pair_count(*labels) == brute


@settings(deadline=None)
@given(labelings().filter(lambda labels: len(labels[0]) > 0 and len(labels) >= 2))
def test_bcubed_equals_brute_force_per_item_average(labels: list[np.ndarray]) -> None:
    predicted, truth = labels[0], labels[1]
    n = len(predicted)
    precision = np.mean([
        np.sum((predicted == predicted[i]) & (truth == truth[i])) / np.sum(predicted == predicted[i])
        for i in range(n)
    ])
    recall = np.mean([
        np.sum((predicted == predicted[i]) & (truth == truth[i])) / np.sum(truth == truth[i])
        for i in range(n)
    ])
    assert _bcubed(predicted, truth) == pytest.approx((precision, recall))


@settings(max_examples=25, deadline=None)
@given(st.permutations(range(10)), st.permutations(range(10)))
def test_scorecard_does_not_depend_on_row_order(order: list[int], truth_order: list[int]) -> None:
    accounts, truth = blocked_violator_with_family_and_neighbours()
    accounts = accounts.assign(coupon_abuse_score=[5, 5, 60, 0, 0, 1, 70, 70, 2, 2])
    truth = truth.assign(is_farmer=[True] * 3 + [False] * 7)
    raw = pd.Series(range(10), index=truth["account_id"]).floordiv(2)
    expected = pd.Series(score_run(accounts, truth, raw_components=raw).metrics)
    shuffled = score_run(accounts.iloc[order], truth.iloc[truth_order],
                         raw_components=raw.iloc[order])
    pd.testing.assert_series_equal(pd.Series(shuffled.metrics), expected)


# --- sanctions -----------------------------------------------------------------


def blocked_violator_with_family_and_neighbours() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Person v (a1 banned; a2, a3 should be banned) lives in h1 with f (f1, f2, f3);
    h2 is unrelated (s1..s4). f3 and s4 were cleared by a moderator."""
    accounts = run_accounts(
        {
            "a1": ("C1", "P1", "none"), "a2": ("C1", "P1", "ban"), "a3": ("C9", "P9", "none"),
            "f1": ("C1", "P2", "review"), "f2": ("C1", "P2", "suspend"),
            "f3": ("C1", "P3", "review"),
            "s1": ("C2", "P4", "ban"), "s2": ("C3", "P5", "review"),
            "s3": ("C4", "P6", "watch"), "s4": ("C5", "P7", "review"),
        },
        cleared_at=[None, None, None, None, None, "2026-10-01", None, None, None, "2026-09-01"],
    )
    accounts.loc[accounts["account_id"] == "a1", "blocked"] = True
    truth = truth_of(
        {"a1": ("v", "h1"), "a2": ("v", "h1"), "a3": ("v", "h1"), "f1": ("f", "h1"),
         "f2": ("f", "h1"), "f3": ("g", "h1"), "s1": ("s", "h2"), "s2": ("s", "h2"),
         "s3": ("t", "h2"), "s4": ("t", "h2")},
        expected_action=["none", "ban", "ban", "review", "review", "review",
                         "none", "none", "none", "none"],
    )
    return accounts, truth


def test_blocked_persons_other_accounts_share_with_automatic_sanction() -> None:
    metrics = score_run(*blocked_violator_with_family_and_neighbours()).metrics
    assert metrics["sanctions.blocked_accounts"] == 1
    assert metrics["sanctions.same_person_accounts"] == 2
    assert metrics["sanctions.same_person_auto_share"] == pytest.approx(1 / 2)


def test_family_member_suspended_counts_as_family_automatic_sanction() -> None:
    metrics = score_run(*blocked_violator_with_family_and_neighbours()).metrics
    assert metrics["sanctions.family_accounts"] == 3
    assert metrics["sanctions.family_auto_share"] == pytest.approx(1 / 3)
    assert metrics["sanctions.family_review_share"] == pytest.approx(2 / 3)


def test_stranger_banned_and_strangers_reviewed_are_counted() -> None:
    metrics = score_run(*blocked_violator_with_family_and_neighbours()).metrics
    assert metrics["sanctions.stranger_auto_count"] == 1
    assert metrics["sanctions.unrelated_review_share"] == pytest.approx(2 / 4)


def test_cleared_account_reviewed_again_counts_unless_the_truth_expects_review() -> None:
    # f3 is reviewed and the truth expects it (new evidence); s4 is reviewed for nothing
    metrics = score_run(*blocked_violator_with_family_and_neighbours()).metrics
    assert metrics["sanctions.cleared_accounts"] == 2
    assert metrics["sanctions.cleared_flagged_again"] == 1


def test_cleared_account_banned_counts_even_when_the_truth_expects_a_ban() -> None:
    accounts = run_accounts({"a": ("C", "P", "none"), "b": ("C", "P", "ban")},
                            cleared_at=[None, "2026-01-01"])
    accounts.loc[0, "blocked"] = True
    truth = truth_of({"a": ("p", "h"), "b": ("p", "h")}, expected_action=["none", "ban"])
    assert score_run(accounts, truth).metrics["sanctions.cleared_flagged_again"] == 1


def test_warning_only_source_is_not_blocked_so_nobody_is_same_person() -> None:
    accounts = run_accounts({"a": ("C", "P", "none"), "b": ("C", "P", "watch")},
                            sanction=["warning", None])
    accounts = accounts.drop(columns="blocked")
    truth = truth_of({"a": ("p", "h"), "b": ("p", "h")})
    metrics = score_run(accounts, truth).metrics
    assert metrics["sanctions.blocked_accounts"] == 0
    assert math.isnan(metrics["sanctions.same_person_auto_share"])


def test_actions_agreement_treats_watch_as_none_and_counts_each_cell() -> None:
    metrics = score_run(*blocked_violator_with_family_and_neighbours()).metrics
    # agree: a1 none, a2 ban, f1 review, f3 review, s3 watch~none -> 5 of 10
    assert metrics["actions.agreement"] == pytest.approx(5 / 10)
    assert metrics["actions.expected_ban.got_none"] == 1
    assert metrics["actions.expected_review.got_suspend"] == 1
    assert metrics["actions.expected_none.got_review"] == 2
    assert "actions.expected_ban.got_review" not in metrics


def test_unknown_action_in_run_is_an_input_error() -> None:
    accounts, truth = five_accounts_one_wrong_merge()
    accounts.loc[0, "action"] = "nuke"
    with pytest.raises(InputError, match="unknown actions \\(nuke\\)"):
        score_run(accounts, truth)


def test_missing_truth_columns_are_named_at_once() -> None:
    accounts, truth = five_accounts_one_wrong_merge()
    with pytest.raises(InputError, match="'person_id', 'household_id'"):
        score_run(accounts, truth.drop(columns=["person_id", "household_id"]))


# --- coupon ----------------------------------------------------------------------


def test_roc_auc_counts_a_tie_between_farmer_and_other_as_half() -> None:
    # farmer 0.9 beats 3 others; farmer 0.4 beats 0.1, ties 0.4, loses to 0.5 -> 4.5 / 6
    assert roc_auc(np.array([0.9, 0.4, 0.5, 0.1, 0.4]),
                   np.array([True, True, False, False, False])) == pytest.approx(0.75)


def test_roc_auc_of_all_equal_scores_is_one_half_and_undefined_without_farmers() -> None:
    assert roc_auc(np.array([3, 3, 3]), np.array([True, False, False])) == 0.5
    assert math.isnan(roc_auc(np.array([1, 2]), np.array([False, False])))


def test_precision_at_k_shares_the_places_tied_at_the_cut() -> None:
    # k=2: 90 is a farmer; one place left for two tied at 80, one a farmer -> (1 + 1/2) / 2
    assert precision_at_k(np.array([90, 80, 80, 10]), np.array([True, True, False, False]),
                          2) == pytest.approx(0.75)
    assert precision_at_k(np.array([5, 4, 3]), np.array([True, False, True]),
                          2) == pytest.approx(0.5)


def test_family_with_new_user_coupons_scores_low_and_farmer_households_are_left_out() -> None:
    # the farmer lives with a spouse, whose own account shares the farmer's cluster
    accounts = run_accounts(
        {"m1": ("F", "P1", "none"), "m2": ("F", "P2", "none"), "x1": ("X", "P3", "none"),
         "x2": ("X", "P3", "none"), "x3": ("X", "P3", "none"), "sp": ("X", "P5", "none"),
         "solo": ("S", "P4", "none")},
        coupon_abuse_score=[12.0, 12.0, 95.0, 95.0, 95.0, 95.0, 30.0],
    )
    truth = truth_of(
        {"m1": ("mum", "fam"), "m2": ("dad", "fam"), "x1": ("farmer", "hx"),
         "x2": ("farmer", "hx"), "x3": ("farmer", "hx"), "sp": ("spouse", "hx"),
         "solo": ("s", "hs")},
        is_farmer=[False, False, True, True, True, False, False],
    )
    orders = pd.DataFrame({
        "account_id": ["m1", "m2", "x1", "x2", "x3", "sp", "solo", "solo"],
        "coupon_type": ["new_user", "new_user", "new_user", "new_user", "new_user",
                        "new_user", "new_user", "promo"],
    })
    metrics = score_run(accounts, truth, orders=orders).metrics
    assert metrics["coupon.farmer_accounts"] == 3
    # farmers 95 vs others 12, 12, 95, 30: 3 * (3 + 0.5) / (3 * 4)
    assert metrics["coupon.roc_auc"] == pytest.approx(10.5 / 12)
    # four tied at 95 for three places, three of them farmers
    assert metrics["coupon.precision_at_k"] == pytest.approx(3 / 4)
    # "hx" has a farmer and "hs" one person: only "fam" counts
    assert metrics["coupon.families_with_new_user"] == 1
    assert metrics["coupon.family_mean_score"] == 12.0


# --- stability -------------------------------------------------------------------


def two_nights() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Last night -> tonight:
    X {a,b} -> X {a,b} unchanged, kept;     K {r} -> K2 {r} unchanged, renamed;
    Y {c} -> N1 {c,j} grown, renamed;       Z {d,e} -> Z {d,e,k} grown, kept;
    W {f} + V {g,h} -> V merged, kept;      U {i} + T {m} -> Q merged, renamed;
    R {n} gone, R reissued to new {p};      S {o,q} -> S {o} + S2 {q} split.
    """
    last = pd.DataFrame({
        "account_id": list("abcdefghimnoqr"),
        "cluster_id": ["X", "X", "Y", "Z", "Z", "W", "V", "V", "U", "T", "R", "S", "S", "K"],
    })
    tonight = pd.DataFrame({
        "account_id": list("abcjdekfghimpoqr"),
        "cluster_id": ["X", "X", "N1", "N1", "Z", "Z", "Z", "V", "V", "V", "Q", "Q", "R",
                       "S", "S2", "K2"],
    })
    return last, tonight


def test_stability_counts_unchanged_grown_merged_and_kept_ids_by_hand() -> None:
    from linkgraph.evaluate.stability import stability_metrics

    last, tonight = two_nights()
    metrics = stability_metrics(tonight, last)
    assert metrics["stability.common_accounts"] == 13
    assert metrics["stability.unchanged_clusters"] == 2
    assert metrics["stability.unchanged_kept_id"] == pytest.approx(1 / 2)
    assert metrics["stability.grown_clusters"] == 2
    assert metrics["stability.grown_kept_id"] == pytest.approx(1 / 2)
    assert metrics["stability.merged_clusters"] == 2
    assert metrics["stability.merged_kept_old_id"] == pytest.approx(1 / 2)
    assert metrics["stability.reused_ids"] == 1
    assert metrics["stability.retired_ids"] == 5  # Y W U T K


def test_stability_through_score_run_misses_targets_when_ids_churn() -> None:
    last, tonight = two_nights()
    accounts = tonight.assign(person_cluster_id=tonight["cluster_id"], action="none",
                              blocked=False)
    truth = truth_of({a: (a, a) for a in tonight["account_id"]})
    card = score_run(accounts, truth, previous_accounts=last)
    assert set(card.failures) >= {"stability.unchanged_kept_id", "stability.grown_kept_id",
                                  "stability.merged_kept_old_id", "stability.reused_ids"}


def test_couple_moving_in_together_is_followed_when_one_cluster_keeps_an_old_id() -> None:
    from linkgraph.evaluate.stability import stability_metrics

    last = pd.DataFrame({"account_id": ["a", "b", "c", "d"], "cluster_id": ["A", "B", "C", "D"]})
    tonight = pd.DataFrame({"account_id": ["a", "b", "c", "d"],
                            "cluster_id": ["A", "A", "E", "E"]})
    previous_truth = pd.DataFrame({"account_id": ["a", "b", "c", "d"],
                                   "household_id": ["h1", "h2", "h3", "h4"]})
    truth = pd.DataFrame({"account_id": ["a", "b", "c", "d"],
                          "household_id": ["n1", "n1", "n2", "n2"]})
    metrics = stability_metrics(tonight, last, truth=truth, previous_truth=previous_truth)
    assert metrics["stability.true_household_merges"] == 2
    # n1 joined under old id A; n2 joined under the new id E
    assert metrics["stability.true_merges_followed"] == pytest.approx(1 / 2)


def test_identical_nights_keep_every_id() -> None:
    from linkgraph.evaluate.stability import stability_metrics

    last, _ = two_nights()
    metrics = stability_metrics(last.iloc[::-1], last)
    assert metrics["stability.unchanged_clusters"] == last["cluster_id"].nunique()
    assert metrics["stability.unchanged_kept_id"] == 1.0
    assert metrics["stability.reused_ids"] == 0
    assert metrics["stability.retired_ids"] == 0
    assert math.isnan(metrics["stability.grown_kept_id"])


# --- scorecard and files ---------------------------------------------------------


def test_scorecard_marks_missed_targets_and_serialises_nan_as_null() -> None:
    card = Scorecard({"coupon.roc_auc": 0.9, "sanctions.stranger_auto_count": 0,
                      "coupon.precision_at_k": float("nan"), "accounts.scored": 7})
    assert card.failures == ["coupon.roc_auc"]
    assert not card.ok
    frame = card.to_frame()
    assert list(frame.columns) == ["metric", "value", "target", "ok"]
    assert frame["ok"].tolist()[:2] == [False, True]
    assert pd.isna(frame["ok"].iloc[2]) and pd.isna(frame["ok"].iloc[3])
    data = json.loads(json.dumps(card.to_dict()))
    assert data["metrics"]["coupon.precision_at_k"] is None
    assert data["targets"]["coupon.roc_auc"] == {"target": ">= 0.95", "ok": False}
    lines = card.to_text().splitlines()
    assert lines[1].split() == ["coupon.roc_auc", "0.9000", ">=", "0.95", "MISS"]
    assert len({line.index(line.split()[1]) + len(line.split()[1]) for line in lines[1:]}) == 1


def write_synth_dir(directory: Path) -> None:
    """A world of two persons: p writes one email two ways on a1/a2, q is alone."""
    directory.mkdir()
    pd.DataFrame({
        "account_id": ["a1", "a2", "q1"], "person_id": ["p", "p", "q"],
        "household_id": ["h", "h", "g"], "role": ["farmer", "farmer", "honest"],
        "expected_action": ["none", "ban", "none"], "is_farmer": ["True", "True", "False"],
    }).to_csv(directory / "truth.csv", index=False)
    pd.DataFrame({
        "account_id": ["a1", "a2", "q1"], "email": ["jo@x.com", "JO@x.com", "null"],
        "phone": ["", "", "null"],
    }).to_csv(directory / "accounts.csv", index=False)
    pd.DataFrame({"order_id": ["o1"], "account_id": ["a1"], "coupon_type": ["new_user"]}).to_csv(
        directory / "orders.csv", index=False)


def write_run_dir(directory: Path, *, joined: bool) -> None:
    directory.mkdir()
    pd.DataFrame({
        "account_id": ["a1", "a2", "q1"],
        "cluster_id": ["C1", "C1" if joined else "C2", "C3"],
        "person_cluster_id": ["P1", "P1" if joined else "P2", "P3"],
        "action": ["none", "ban", "none"], "action_reason": ["", "", ""],
        "linked_blocked_account": ["", "a1", ""], "sanction": ["banned", "", ""],
        "blocked": ["True", "False", "False"], "cleared_at": ["", "", ""],
        "coupon_abuse_score": [80, 80, 3],
    }).to_csv(directory / "accounts.csv", index=False)


def test_evaluate_reads_run_and_synth_directories(tmp_path: Path) -> None:
    write_synth_dir(tmp_path / "synth")
    write_run_dir(tmp_path / "run", joined=True)
    card = evaluate(tmp_path / "run", tmp_path / "synth")
    metrics = card.metrics
    # a1/a2 only normalisation joins (JO@ vs jo@); q1's literal "null" joins nobody
    assert metrics["person.normalisation_only_pairs"] == 1
    assert metrics["person.pair_recall_normalisation_only"] == 1.0
    assert metrics["sanctions.same_person_auto_share"] == 1.0
    assert metrics["coupon.roc_auc"] == 1.0
    assert metrics["accounts.scored"] == 3


def test_evaluate_scores_stability_against_the_previous_run(tmp_path: Path) -> None:
    write_synth_dir(tmp_path / "synth")
    write_run_dir(tmp_path / "night1", joined=False)
    write_run_dir(tmp_path / "night2", joined=True)
    pd.DataFrame({"cluster_id": ["C1", "C2", "C3", "P1", "C9"],
                  "kind": ["cluster", "cluster", "cluster", "person", "cluster"]}).to_csv(
        tmp_path / "night1" / "issued_ids.csv", index=False)
    card = evaluate(tmp_path / "night2", tmp_path / "synth" / "truth.csv",
                    previous_run=tmp_path / "night1")
    assert card.metrics["stability.merged_clusters"] == 1
    assert card.metrics["stability.merged_kept_old_id"] == 1.0
    assert card.metrics["stability.unchanged_kept_id"] == 1.0
    assert card.metrics["stability.reissued_retired_ids"] == 0


def test_evaluate_prefers_parquet_to_csv(tmp_path: Path) -> None:
    write_synth_dir(tmp_path / "synth")
    write_run_dir(tmp_path / "run", joined=False)
    pd.read_csv(tmp_path / "run" / "accounts.csv", dtype=str).assign(
        cluster_id="C1", person_cluster_id="P1"
    ).to_parquet(tmp_path / "run" / "accounts.parquet")
    card = evaluate(tmp_path / "run", tmp_path / "synth")
    assert card.metrics["clusters.largest"] == 3


def test_evaluate_reads_synth_tables_written_as_parquet_part_directories(tmp_path: Path) -> None:
    write_synth_dir(tmp_path / "synth")
    write_run_dir(tmp_path / "run", joined=True)
    synth = tmp_path / "synth"
    for name in ("accounts", "orders"):  # one part per shard, as sharded synth writes them
        frame = pd.read_csv(synth / f"{name}.csv", dtype=str, keep_default_na=False)
        (synth / f"{name}.csv").unlink()
        (synth / f"{name}.parquet").mkdir()
        frame.iloc[:1].to_parquet(synth / f"{name}.parquet" / "part-00000.parquet")
        frame.iloc[1:].to_parquet(synth / f"{name}.parquet" / "part-00001.parquet")
    metrics = evaluate(tmp_path / "run", synth).metrics
    assert metrics["person.normalisation_only_pairs"] == 1
    assert metrics["coupon.roc_auc"] == 1.0


def test_evaluate_without_accounts_file_says_what_the_directory_should_be(
    tmp_path: Path,
) -> None:
    write_synth_dir(tmp_path / "synth")
    with pytest.raises(RunDirectoryError, match="is it the output of 'linkgraph run'"):
        evaluate(tmp_path, tmp_path / "synth")
    write_run_dir(tmp_path / "run", joined=True)
    with pytest.raises(InputError, match="no ground truth"):
        evaluate(tmp_path / "run", tmp_path / "nowhere")


def test_id_retired_before_last_night_and_issued_again_is_caught_by_the_registry() -> None:
    from linkgraph.evaluate.stability import stability_metrics

    # "OLD" was retired two nights ago: last night's registry has it, last night's clusters don't
    last = pd.DataFrame({"account_id": ["a", "b"], "cluster_id": ["A", "B"]})
    tonight = pd.DataFrame({"account_id": ["a", "b", "c"], "cluster_id": ["A", "B", "OLD"]})
    registry = pd.Series(["A", "B", "OLD", "GONE"])
    metrics = stability_metrics(tonight, last, previous_issued_ids=registry)
    assert metrics["stability.reissued_retired_ids"] == 1
    assert metrics["stability.reused_ids"] == 0
