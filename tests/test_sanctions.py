"""Sanction propagation: each rule of the policy as a small named story."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkgraph import schemas as s
from linkgraph.config import PolicyConfig, load_policy
from linkgraph.errors import ConfigError, InputError
from linkgraph.graph import LinkSet
from linkgraph.sanctions import Actions, blocked_accounts, propagate

_VALUE_TIER = {"card": "person", "card_digits": "person", "device": "person", "phone": "person",
               "email": "person", "address": "household", "ip": "weak", "name": "weak"}
# raw value -> masked display form: raw values must never reach the output
_MASKED = {
    "4111111111114242": "****4242", "a1b2c3d4e5f6a1b2": "dev-***a1b2",
    "+79123456789": "+7***89", "jdoe@gmail.com": "j***@gmail.com",
    "12 main street #4|springfield": "12 M*** St***", "203.0.113.7": "203.0.113.*",
    "5500000000001111": "****1111", "ffee00112233dd77": "dev-***dd77",
    "5500000000009999": "card ****9999",  # a mask that names its kind
}


def share(a: str, b: str, raw: str, kind: str, *, since: str = "2026-01-01") -> dict[str, object]:
    """One shared value between two accounts (a row of LinkSet.pairs)."""
    lo, hi = sorted((a, b))
    return {s.ACCOUNT_A: lo, s.ACCOUNT_B: hi, s.KIND: kind, s.VALUE: raw,
            s.MASKED: _MASKED[raw], s.TIER: _VALUE_TIER[kind], s.WEIGHT: 1.0,
            s.FIRST_SEEN: pd.Timestamp(since, tz="UTC"),
            s.LAST_SEEN: pd.Timestamp("2026-11-01", tz="UTC"), s.GAP_DAYS: 0.0}


def _pair_tiers(pairs: pd.DataFrame, corroborated: Iterable[tuple[str, str]]) -> pd.DataFrame:
    """The graph stage's corroboration, by hand: several person kinds -> person;
    one person kind or an address -> household; only weak values -> weak.
    ``corroborated`` pairs are person tier whatever they share (no own identity, bursts)."""
    forced = {tuple(sorted(p)) for p in corroborated}
    rows = []
    for (a, b), group in pairs.groupby([s.ACCOUNT_A, s.ACCOUNT_B]):
        n_person = group.loc[group[s.TIER] == "person", s.KIND].nunique()
        n_household = group.loc[group[s.TIER] == "household", s.KIND].nunique()
        if n_person >= 2 or (a, b) in forced:
            tier = "person"
        elif n_person or n_household:
            tier = "household"
        else:
            tier = "weak"
        rows.append({s.ACCOUNT_A: a, s.ACCOUNT_B: b, s.TIER: tier, s.WEIGHT: 1.0,
                     s.N_PERSON_KINDS: n_person, s.N_HOUSEHOLD_KINDS: n_household,
                     s.CORROBORATION: "by hand"})
    return pd.DataFrame(rows, columns=list(s.PAIR_TIER_COLUMNS))


def _clusters(ids: list[str], pair_tiers: pd.DataFrame) -> pd.DataFrame:
    """cluster_id over person + household pairs, person_cluster_id over person pairs."""
    accounts = pd.DataFrame({s.ACCOUNT_ID: ids})
    levels = ((s.CLUSTER_ID, ("person", "household")), (s.PERSON_CLUSTER_ID, ("person",)))
    for column, tiers in levels:
        graph = nx.Graph()
        graph.add_nodes_from(ids)
        strong = pair_tiers[pair_tiers[s.TIER].isin(tiers)]
        graph.add_edges_from(zip(strong[s.ACCOUNT_A], strong[s.ACCOUNT_B]))
        label = {a: min(c) for c in nx.connected_components(graph) for a in c}
        accounts[column] = accounts[s.ACCOUNT_ID].map(label)
    return accounts


def run_policy(
    ids: list[str],
    shares: list[dict[str, object]],
    sanctions: list[tuple[str, str, str]],
    decisions: Iterable[tuple[str, str, str]] = (),
    *,
    corroborated: Iterable[tuple[str, str]] = (),
    policy: PolicyConfig | None = None,
) -> Actions:
    pairs = pd.DataFrame(shares, columns=list(s.PAIR_COLUMNS))
    pair_tiers = _pair_tiers(pairs, corroborated)
    links = LinkSet(incidence=pd.DataFrame(), pairs=pairs, pair_tiers=pair_tiers,
                    hubs=pd.DataFrame(), profiles=pd.DataFrame())
    sanction_frame = pd.DataFrame(sanctions, columns=[s.ACCOUNT_ID, s.ACTION, s.CREATED_AT])
    sanction_frame[s.CREATED_AT] = pd.to_datetime(sanction_frame[s.CREATED_AT], utc=True)
    decision_frame = pd.DataFrame(list(decisions), columns=[s.ACCOUNT_ID, s.DECISION, s.CREATED_AT])
    decision_frame[s.CREATED_AT] = pd.to_datetime(decision_frame[s.CREATED_AT], utc=True)
    return propagate(_clusters(ids, pair_tiers), links, sanction_frame, decision_frame,
                     policy=policy or PolicyConfig())


def row(actions: Actions, account_id: str) -> pd.Series:
    frame = actions.accounts.set_index(s.ACCOUNT_ID)
    return frame.loc[account_id]


CARD, DEVICE = "4111111111114242", "a1b2c3d4e5f6a1b2"
PHONE, EMAIL = "+79123456789", "jdoe@gmail.com"
ADDRESS, IP = "12 main street #4|springfield", "203.0.113.7"
BANNED_A17 = ("A17", "banned", "2026-10-02")


# --- who is a source ---------------------------------------------------------------


def test_blocked_accounts_are_the_suspended_and_banned_sorted_once() -> None:
    sanctions = pd.DataFrame({s.ACCOUNT_ID: ["B", "A", "B", "C", "D"],
                              s.ACTION: ["banned", "suspended", "suspended", "warning",
                                         "rating_revoked"]})
    assert list(blocked_accounts(sanctions)) == ["A", "B"]


def test_blocked_account_keeps_none_and_says_why() -> None:
    actions = run_policy(["A17", "A2"], [share("A17", "A2", CARD, "card")], [BANNED_A17])
    source = row(actions, "A17")
    assert source[s.ACTION] == "none"
    assert source[s.ACTION_REASON] == "blocked in input (banned 2026-10-02)"
    assert source[s.HOPS] == 0


# --- the same person, a family, strangers ---------------------------------------------


def test_card_shared_by_family_gives_review_not_ban() -> None:
    actions = run_policy(["A17", "A2"], [share("A17", "A2", CARD, "card")], [BANNED_A17])
    sibling = row(actions, "A2")
    assert sibling[s.ACTION] == "review"
    assert sibling[s.LINKED_BLOCKED_ACCOUNT] == "A17"
    assert sibling[s.EVIDENCE] == "card ****4242 shared with A17 (banned 2026-10-02)"
    assert "family" in sibling[s.ACTION_REASON]


def test_shared_home_address_gives_review() -> None:
    actions = run_policy(["A17", "A2"], [share("A17", "A2", ADDRESS, "address")], [BANNED_A17])
    assert row(actions, "A2")[s.ACTION] == "review"


def test_farmers_shared_device_corroborated_gives_ban() -> None:
    # the graph stage corroborated it (the farm account has no identity of its own)
    actions = run_policy(["A17", "F1"], [share("A17", "F1", DEVICE, "device")], [BANNED_A17],
                         corroborated=[("A17", "F1")])
    farm = row(actions, "F1")
    assert farm[s.ACTION] == "ban"
    assert farm[s.HOPS] == 1
    assert farm[s.EVIDENCE] == "device dev-***a1b2 shared with A17 (banned 2026-10-02)"


def test_card_and_device_in_common_give_ban_naming_both() -> None:
    actions = run_policy(
        ["A17", "A2"], [share("A17", "A2", DEVICE, "device"), share("A17", "A2", CARD, "card")],
        [BANNED_A17],
    )
    same = row(actions, "A2")
    assert same[s.ACTION] == "ban"
    assert same[s.EVIDENCE] == (
        "card ****4242 and device dev-***a1b2 shared with A17 (banned 2026-10-02)")
    assert same[s.ACTION_REASON].startswith("same person as A17 (banned 2026-10-02)")


def test_weak_ip_shared_with_banned_account_gives_watch_never_review() -> None:
    actions = run_policy(["A17", "S1"], [share("A17", "S1", IP, "ip")], [BANNED_A17])
    stranger = row(actions, "S1")
    assert stranger[s.ACTION] == "watch"
    assert stranger[s.EVIDENCE] == "IP 203.0.113.* shared with A17 (banned 2026-10-02)"
    assert actions.review_queue.empty


def test_hub_ip_shared_with_banned_account_gives_nothing() -> None:
    # a hub value stopped linking: the graph stage emits no pair for it
    actions = run_policy(["A17", "S1"], [], [BANNED_A17])
    assert row(actions, "S1")[s.ACTION] == "none"
    assert pd.isna(row(actions, "S1")[s.LINKED_BLOCKED_ACCOUNT])


def test_weak_action_none_policy_silences_weak_links() -> None:
    actions = run_policy(["A17", "S1"], [share("A17", "S1", IP, "ip")], [BANNED_A17],
                         policy=PolicyConfig(weak_action="none"))
    assert row(actions, "S1")[s.ACTION] == "none"


# --- sources of different strength ----------------------------------------------------------


def test_warning_only_source_gives_watch_at_most() -> None:
    actions = run_policy(
        ["A1", "A2"], [share("A1", "A2", DEVICE, "device"), share("A1", "A2", CARD, "card")],
        [("A1", "warning", "2026-10-02"), ("A1", "rating_revoked", "2026-10-03")],
    )
    assert row(actions, "A2")[s.ACTION] == "watch"
    assert row(actions, "A1")[s.ACTION] == "none"
    assert "not a block" in row(actions, "A2")[s.ACTION_REASON]


def test_suspended_source_gives_suspend() -> None:
    actions = run_policy(
        ["A1", "A2"], [share("A1", "A2", DEVICE, "device"), share("A1", "A2", CARD, "card")],
        [("A1", "suspended", "2026-09-30")],
    )
    assert row(actions, "A2")[s.ACTION] == "suspend"
    assert row(actions, "A2")[s.EVIDENCE].endswith("with A1 (suspended 2026-09-30)")


def test_policy_can_restrict_instead_of_inheriting() -> None:
    actions = run_policy(
        ["A17", "A2"], [share("A17", "A2", DEVICE, "device"), share("A17", "A2", CARD, "card")],
        [BANNED_A17], policy=PolicyConfig(same_person_action="restrict"),
    )
    assert row(actions, "A2")[s.ACTION] == "restrict"


def test_two_hop_chain_gives_ban_with_two_hop_evidence() -> None:
    actions = run_policy(
        ["A17", "A9", "A3"],
        [share("A17", "A9", CARD, "card"), share("A9", "A3", DEVICE, "device")],
        [BANNED_A17], corroborated=[("A17", "A9"), ("A9", "A3")],
    )
    far = row(actions, "A3")
    assert far[s.ACTION] == "ban"
    assert far[s.HOPS] == 2
    assert far[s.EVIDENCE] == (
        "device dev-***a1b2 shared with A9, "
        "which shares card ****4242 with A17 (banned 2026-10-02)")


def test_chain_longer_than_person_hops_falls_back_to_family_review() -> None:
    actions = run_policy(
        ["A17", "A9", "A3"],
        [share("A17", "A9", CARD, "card"), share("A9", "A3", DEVICE, "device")],
        [BANNED_A17], corroborated=[("A17", "A9"), ("A9", "A3")],
        policy=PolicyConfig(max_person_hops=1, max_family_hops=2),
    )
    assert row(actions, "A9")[s.ACTION] == "ban"
    assert row(actions, "A3")[s.ACTION] == "review"


def test_path_through_a_family_link_gives_review_not_ban() -> None:
    # A2 is A17's sibling (one family card); A3 is the same person as A2
    actions = run_policy(
        ["A17", "A2", "A3"],
        [share("A17", "A2", CARD, "card"), share("A2", "A3", DEVICE, "device"),
         share("A2", "A3", PHONE, "phone")],
        [BANNED_A17],
    )
    assert row(actions, "A2")[s.ACTION] == "review"
    assert row(actions, "A3")[s.ACTION] == "review"
    assert row(actions, "A3")[s.HOPS] == 2


def test_several_sources_strongest_action_wins_over_fewer_hops() -> None:
    # X is one hop from a suspended account and two hops from a banned one
    actions = run_policy(
        ["B1", "M", "S1", "X"],
        [share("S1", "X", CARD, "card"), share("B1", "M", DEVICE, "device"),
         share("M", "X", PHONE, "phone")],
        [("S1", "suspended", "2026-09-01"), ("B1", "banned", "2026-09-02")],
        corroborated=[("S1", "X"), ("B1", "M"), ("M", "X")],
    )
    assert row(actions, "X")[s.ACTION] == "ban"
    assert row(actions, "X")[s.LINKED_BLOCKED_ACCOUNT] == "B1"


def test_several_sources_same_action_tie_goes_to_fewer_hops_then_confidence_then_id() -> None:
    ids = ["B1", "B2", "B3", "M", "X", "Y"]
    shares = [
        # X: B1 at two hops; B2 and B3 at one hop, B3 sharing two kinds (more confident)
        share("B1", "M", PHONE, "phone"), share("M", "X", EMAIL, "email"),
        share("B2", "X", CARD, "card"),
        share("B3", "X", DEVICE, "device"), share("B3", "X", PHONE, "phone"),
        # Y: B1 and B2 at one hop, equally confident
        share("B1", "Y", "5500000000001111", "card"),
        share("B2", "Y", "ffee00112233dd77", "device"),
    ]
    actions = run_policy(
        ids, shares, [(b, "banned", "2026-09-01") for b in ("B1", "B2", "B3")],
        corroborated=[("B1", "M"), ("M", "X"), ("B2", "X"), ("B1", "Y"), ("B2", "Y")],
    )
    assert row(actions, "X")[s.LINKED_BLOCKED_ACCOUNT] == "B3"
    assert row(actions, "Y")[s.LINKED_BLOCKED_ACCOUNT] == "B1"


# --- moderators' decisions ---------------------------------------------------------------


def test_cleared_sibling_with_only_old_evidence_gets_none() -> None:
    actions = run_policy(
        ["A17", "A2"], [share("A17", "A2", CARD, "card", since="2026-01-01")], [BANNED_A17],
        decisions=[("A2", "cleared", "2026-06-01")],
    )
    sibling = row(actions, "A2")
    assert sibling[s.ACTION] == "none"
    assert "cleared by a moderator on 2026-06-01" in sibling[s.ACTION_REASON]
    assert "not flagged again" in sibling[s.ACTION_REASON]
    assert actions.review_queue.empty


def test_cleared_account_with_old_same_person_evidence_is_not_banned_again() -> None:
    actions = run_policy(
        ["A17", "A2"], [share("A17", "A2", CARD, "card"), share("A17", "A2", DEVICE, "device")],
        [BANNED_A17], decisions=[("A2", "cleared", "2026-06-01")],
    )
    assert row(actions, "A2")[s.ACTION] == "none"


def test_cleared_sibling_with_new_evidence_gets_review_and_says_so() -> None:
    actions = run_policy(
        ["A17", "A2"],
        [share("A17", "A2", CARD, "card", since="2026-01-01"),
         share("A17", "A2", DEVICE, "device", since="2026-07-15")],
        [BANNED_A17], decisions=[("A2", "cleared", "2026-06-01")],
    )
    sibling = row(actions, "A2")
    assert sibling[s.ACTION] == "review"
    assert "cleared by a moderator on 2026-06-01" in sibling[s.ACTION_REASON]
    assert "evidence that began after" in sibling[s.ACTION_REASON]
    assert list(actions.review_queue[s.ACCOUNT_ID]) == ["A2"]


def test_newcomer_at_an_address_already_seen_is_not_new_evidence_for_the_cleared() -> None:
    # N moves into the address C and A17 shared when the moderator cleared C
    actions = run_policy(
        ["A17", "C", "N"],
        [share("A17", "C", ADDRESS, "address", since="2026-01-01"),
         share("A17", "N", ADDRESS, "address", since="2026-08-01"),
         share("C", "N", ADDRESS, "address", since="2026-08-01")],
        [BANNED_A17], decisions=[("C", "cleared", "2026-06-01")],
    )
    assert row(actions, "C")[s.ACTION] == "none"
    assert row(actions, "N")[s.ACTION] == "review"


def test_cleared_persons_new_second_account_is_not_new_evidence_for_the_cleared() -> None:
    # C shared the family address with S when cleared; C2 is C's new account
    actions = run_policy(
        ["C", "C2", "S"],
        [share("C", "S", ADDRESS, "address", since="2026-01-01"),
         share("C", "C2", CARD, "card", since="2026-07-01"),
         share("C", "C2", DEVICE, "device", since="2026-07-01"),
         share("C2", "S", ADDRESS, "address", since="2026-07-01")],
        [("S", "suspended", "2026-05-01")], decisions=[("C", "cleared", "2026-06-01")],
    )
    assert row(actions, "C")[s.ACTION] == "none"
    assert row(actions, "C2")[s.ACTION] == "review"


def test_cleared_sibling_is_not_flagged_again_by_the_same_persons_next_blocked_account() -> None:
    # C was cleared knowing the family address it shares with M, whose card and device
    # Z1 (suspended) used; B2, the same person's new account, is banned later
    actions = run_policy(
        ["B2", "C", "M", "Z1"],
        [share("C", "M", ADDRESS, "address", since="2026-01-01"),
         share("Z1", "M", CARD, "card", since="2026-01-01"),
         share("Z1", "M", DEVICE, "device", since="2026-01-01"),
         share("B2", "M", CARD, "card", since="2026-07-01"),
         share("B2", "M", DEVICE, "device", since="2026-07-01")],
        [("Z1", "suspended", "2026-05-01"), ("B2", "banned", "2026-09-01")],
        decisions=[("C", "cleared", "2026-06-01")],
        corroborated=[("Z1", "M"), ("B2", "M")],
    )
    assert row(actions, "M")[s.ACTION] == "ban"
    assert row(actions, "C")[s.ACTION] == "none"


def test_new_ip_after_clearing_is_watch_at_most_and_only_for_a_new_connection() -> None:
    # A2 was cleared knowing its card link to A17; A3 had no link to A17 then
    actions = run_policy(
        ["A17", "A2", "A3"],
        [share("A17", "A2", CARD, "card", since="2026-01-01"),
         share("A17", "A2", IP, "ip", since="2026-07-15"),
         share("A17", "A3", IP, "ip", since="2026-07-15")],
        [BANNED_A17], decisions=[("A2", "cleared", "2026-06-01"), ("A3", "cleared", "2026-06-01")],
    )
    assert row(actions, "A2")[s.ACTION] == "none"
    assert row(actions, "A3")[s.ACTION] == "watch"


def test_cleared_account_does_not_pass_a_sanction_on() -> None:
    # C was cleared; D is the same person as C; the C-A17 link predates the decision
    actions = run_policy(
        ["A17", "C", "D"],
        [share("A17", "C", CARD, "card"), share("C", "D", DEVICE, "device")],
        [BANNED_A17], decisions=[("C", "cleared", "2026-06-01")],
        corroborated=[("A17", "C"), ("C", "D")],
    )
    assert row(actions, "C")[s.ACTION] == "none"
    assert row(actions, "D")[s.ACTION] == "none"


def test_later_confirmation_overrides_a_clearing() -> None:
    actions = run_policy(
        ["A17", "A2"], [share("A17", "A2", CARD, "card")], [BANNED_A17],
        decisions=[("A2", "cleared", "2026-06-01"), ("A2", "confirmed", "2026-08-01")],
    )
    assert row(actions, "A2")[s.ACTION] == "review"


# --- the output ------------------------------------------------------------------------


def test_evidence_contains_no_raw_value() -> None:
    actions = run_policy(
        ["A17", "A9", "A3", "A4", "S1"],
        [share("A17", "A9", CARD, "card"), share("A17", "A9", EMAIL, "email"),
         share("A9", "A3", DEVICE, "device"), share("A9", "A3", PHONE, "phone"),
         share("A17", "A4", ADDRESS, "address"), share("A17", "S1", IP, "ip")],
        [BANNED_A17],
    )
    text = " ".join(
        actions.accounts[[s.ACTION_REASON, s.EVIDENCE]].fillna("").to_numpy().ravel().tolist()
        + actions.review_queue[[s.ACTION_REASON, s.EVIDENCE]].to_numpy().ravel().tolist()
    )
    assert set(actions.accounts[s.ACTION]) == {"none", "ban", "review", "watch"}
    for raw in (CARD, EMAIL, DEVICE, PHONE, ADDRESS, IP, "4242", "a1b2"):
        assert (raw in text) == (raw in ("4242", "a1b2")), raw
    assert "****4242" in text


def test_a_mask_that_names_its_kind_is_not_named_twice() -> None:
    actions = run_policy(["A17", "A2"], [share("A17", "A2", "5500000000009999", "card")],
                         [BANNED_A17])
    assert row(actions, "A2")[s.EVIDENCE] == "card ****9999 shared with A17 (banned 2026-10-02)"


def test_review_queue_ranks_by_severity_then_confidence_then_id() -> None:
    actions = run_policy(
        ["A17", "S9", "Q1", "Q2", "R1", "R2", "W1"],
        [share("A17", "R1", CARD, "card"),
         share("A17", "R2", ADDRESS, "address"), share("A17", "R2", PHONE, "phone"),
         share("A17", "Q2", DEVICE, "device"), share("A17", "Q2", EMAIL, "email"),
         share("S9", "Q1", DEVICE, "device"), share("S9", "Q1", EMAIL, "email"),
         share("A17", "W1", IP, "ip")],
        [BANNED_A17, ("S9", "suspended", "2026-10-01")],
    )
    queue = actions.review_queue
    assert list(queue.columns) == [s.RANK, s.ACCOUNT_ID, s.CLUSTER_ID, s.PERSON_CLUSTER_ID,
                                   s.ACTION, s.LINKED_BLOCKED_ACCOUNT, s.CONFIDENCE, s.HOPS,
                                   s.ACTION_REASON, s.EVIDENCE]
    # R2 shares a phone and an address (more confident than R1's lone card)
    assert list(queue[s.ACCOUNT_ID]) == ["Q2", "Q1", "R2", "R1"]
    assert list(queue[s.RANK]) == [1, 2, 3, 4]
    assert list(queue[s.ACTION]) == ["ban", "suspend", "review", "review"]


def test_one_row_per_account_sorted_with_the_contract_columns() -> None:
    actions = run_policy(["Z", "A17", "B"], [share("A17", "B", CARD, "card")], [BANNED_A17])
    assert list(actions.accounts.columns) == list(s.ACTION_COLUMNS)
    assert list(actions.accounts[s.ACCOUNT_ID]) == ["A17", "B", "Z"]
    assert actions.accounts[s.CONFIDENCE].between(0, 1).sum() == 1


def test_missing_columns_are_named_in_one_error() -> None:
    accounts = pd.DataFrame({s.ACCOUNT_ID: ["A"]})
    links = LinkSet(incidence=pd.DataFrame(), pairs=pd.DataFrame(columns=list(s.PAIR_COLUMNS)),
                    pair_tiers=pd.DataFrame(columns=list(s.PAIR_TIER_COLUMNS)),
                    hubs=pd.DataFrame(), profiles=pd.DataFrame())
    frame = pd.DataFrame(columns=[s.ACCOUNT_ID, s.ACTION, s.CREATED_AT])
    decisions = pd.DataFrame(columns=[s.ACCOUNT_ID, s.DECISION, s.CREATED_AT])
    with pytest.raises(InputError, match="'cluster_id', 'person_cluster_id'"):
        propagate(accounts, links, frame, decisions, policy=PolicyConfig())


def test_no_blocked_account_means_no_action() -> None:
    actions = run_policy(["A1", "A2"], [share("A1", "A2", CARD, "card")],
                         [("A1", "restricted", "2026-10-01")],
                         policy=PolicyConfig(warning_action="none"))
    assert set(actions.accounts[s.ACTION]) == {"none"}
    assert actions.review_queue.empty


# --- policy ------------------------------------------------------------------------------


def test_policy_never_lets_a_family_link_sanction_automatically() -> None:
    with pytest.raises(ConfigError, match="family_action = 'ban'.*never an automatic sanction"):
        PolicyConfig(family_action="ban")


def test_policy_file_sets_hops_and_actions(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_text('same_person_action = "restrict"\nmax_person_hops = 1\nweak_action = "none"\n')
    policy = load_policy(path)
    assert (policy.same_person_action, policy.max_person_hops, policy.weak_action) == (
        "restrict", 1, "none")
    assert policy.family_action == "review"


# --- properties ------------------------------------------------------------------------------

_KINDS = ("card", "device", "phone", "address", "ip")


@st.composite
def marketplaces(draw: st.DrawFn) -> tuple[list[str], list[dict[str, object]], list, list]:
    n = draw(st.integers(2, 12))
    ids = [f"A{i:02d}" for i in range(n)]
    days = st.sampled_from(["2026-01-01", "2026-05-01", "2026-09-01"])
    edges = draw(st.lists(
        st.tuples(st.integers(0, n - 1), st.integers(0, n - 1), st.sampled_from(_KINDS), days),
        max_size=25))
    raw = {"card": CARD, "device": DEVICE, "phone": PHONE, "address": ADDRESS, "ip": IP}
    shares = {}
    for a, b, kind, since in edges:
        if a != b:
            lo, hi = sorted((ids[a], ids[b]))
            shares[(lo, hi, kind)] = share(lo, hi, raw[kind], kind, since=since)
    actions = ("warning", "restricted", "suspended", "banned")
    sanctions = draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(actions)),
                              min_size=1, max_size=4))
    cleared = draw(st.lists(st.tuples(st.sampled_from(ids), days), max_size=3))
    return (ids, list(shares.values()), [(a, act, "2026-10-01") for a, act in sanctions],
            [(a, "cleared", day) for a, day in cleared])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(marketplaces(), st.integers(1, 3))
def test_no_sanction_without_a_person_tier_path_to_a_blocked_account(
    market: tuple, max_person_hops: int
) -> None:
    ids, shares, sanctions, _ = market
    policy = PolicyConfig(max_person_hops=max_person_hops)
    actions = run_policy(ids, shares, sanctions, policy=policy)
    pairs = pd.DataFrame(shares, columns=list(s.PAIR_COLUMNS))
    tiers = _pair_tiers(pairs, ())
    person = nx.Graph()
    person.add_nodes_from(ids)
    person.add_edges_from(zip(*(tiers.loc[tiers[s.TIER] == "person", c] for c in
                                (s.ACCOUNT_A, s.ACCOUNT_B))))
    blocked = set(blocked_accounts(pd.DataFrame(sanctions, columns=[s.ACCOUNT_ID, s.ACTION, "x"])))
    distance = nx.multi_source_dijkstra_path_length(person, blocked) if blocked else {}
    for account in actions.accounts.itertuples():
        near = distance.get(account.account_id, 99) <= max_person_hops
        within = account.account_id not in blocked and near
        sanctioned = account.action in ("restrict", "suspend", "ban")
        # sanctioned exactly when a short enough person-tier path exists
        assert sanctioned == within, account
        if sanctioned:
            assert account.linked_blocked_account in blocked
            assert account.hops == distance[account.account_id]
        if account.action == "review":
            assert account.linked_blocked_account in blocked


@settings(max_examples=10, deadline=None)
@given(marketplaces(), st.randoms(use_true_random=False))
def test_output_does_not_depend_on_input_row_order(market: tuple, rnd: object) -> None:
    ids, shares, sanctions, decisions = market
    expected = run_policy(ids, shares, sanctions, decisions)
    shuffled_ids, shuffled_shares = list(ids), list(shares)
    rnd.shuffle(shuffled_ids)  # type: ignore[attr-defined]
    rnd.shuffle(shuffled_shares)  # type: ignore[attr-defined]
    actual = run_policy(shuffled_ids, shuffled_shares, list(reversed(sanctions)),
                        list(reversed(decisions)))
    pd.testing.assert_frame_equal(actual.accounts, expected.accounts)
    pd.testing.assert_frame_equal(actual.review_queue, expected.review_queue)


@settings(max_examples=15, deadline=None)
@given(marketplaces())
def test_cleared_account_with_only_older_links_is_never_flagged(market: tuple) -> None:
    ids, shares, sanctions, decisions = market
    actions = run_policy(ids, shares, sanctions, decisions)
    cleared_on: dict[str, pd.Timestamp] = {}
    for account, _, day in decisions:
        cleared_on[account] = max(cleared_on.get(account, pd.Timestamp(day, tz="UTC")),
                                  pd.Timestamp(day, tz="UTC"))
    blocked = {a for a, act, _ in sanctions if act in ("suspended", "banned")}
    for account, on in cleared_on.items():
        links = [x for x in shares if account in (x[s.ACCOUNT_A], x[s.ACCOUNT_B])]
        if account not in blocked and all(x[s.FIRST_SEEN] < on for x in links):
            assert row(actions, account)[s.ACTION] == "none"


def test_confidence_is_between_zero_and_one_for_every_flagged_account() -> None:
    actions = run_policy(
        ["A17", "A9", "A3"],
        [share("A17", "A9", CARD, "card"), share("A9", "A3", DEVICE, "device")],
        [BANNED_A17], corroborated=[("A17", "A9"), ("A9", "A3")],
    )
    flagged = actions.accounts[actions.accounts[s.ACTION] != "none"]
    assert np.all((flagged[s.CONFIDENCE] > 0) & (flagged[s.CONFIDENCE] <= 1))
    # a longer path is less certain
    assert row(actions, "A3")[s.CONFIDENCE] < row(actions, "A9")[s.CONFIDENCE]


def test_texts_of_a_few_accounts_land_on_their_rows_and_every_other_row_is_missing() -> None:
    from linkgraph.sanctions._actions import _text_column
    column = _text_column([(np.array([3, 0]), np.array(["third", "first"], dtype=object)),
                           (np.array([5]), np.array([None], dtype=object))], 6)
    assert column.isna().tolist() == [False, True, True, False, True, True]
    assert column[[0, 3]].tolist() == ["first", "third"]
    assert column.dtype == pd.Series(["x"], dtype="str").dtype


def test_labelled_search_keeps_each_clearings_deadline_and_passes_no_blocked_account() -> None:
    from linkgraph.engine import LOCAL
    from linkgraph.sanctions._reach import _directed_graph

    # links in both directions: (a, b, age, usable); C cleared, S and X blocked: not passable
    C, M, S, X, Y, Z, W = range(7)
    links = [(C, M, 10, True), (M, S, 20, True), (C, X, 5, True), (X, S, 5, True),
             (C, Y, 2, False), (Y, S, 2, True), (M, Z, 1, True), (Z, W, 1, True)]
    a, b, age, usable = (np.array(column) for column in zip(*links))
    graph, order = _directed_graph(np.concatenate([a, b]), np.concatenate([b, a]),
                                   np.ones(2 * len(a)), 7)
    passable = np.array([False, True, False, False, True, True, True])
    labels = [  # (start, goal, deadline, found)
        (C, S, 25, True),    # C-M-S, both links older than the deadline
        (C, S, 20, False),   # M-S began at the deadline; C-X-S passes a blocked account;
                             # C-Y is not a link this rule travels
        (C, X, 6, True),     # a blocked goal is reached, not passed
        (S, S, 100, False),  # the start is not found again (S-M-S)
        (X, S, 6, True),     # the start is expanded though blocked
        (C, W, 100, False),  # three links: more than max_hops
        (C, Z, 100, True),
        (W, M, 100, True),   # M was reached by another label one hop earlier
        (C, M, 10, False),
    ]
    start, goal, deadline, expected = (np.array(column) for column in zip(*labels))

    found = LOCAL.labelled_reach(
        graph.indptr, graph.target, np.tile(usable, 2)[order], np.tile(age, 2)[order],
        start, goal, deadline, passable=passable, max_hops=2)

    assert found.dtype == bool
    assert found.tolist() == expected.tolist()
    none = LOCAL.labelled_reach(graph.indptr, graph.target, np.tile(usable, 2)[order],
                                np.tile(age, 2)[order], start[:0], goal[:0], deadline[:0],
                                passable=passable, max_hops=2)
    assert none.dtype == bool and len(none) == 0
