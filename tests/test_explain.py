"""`linkgraph explain`: why an account is in its cluster and why it has its action."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from linkgraph.cli import main
from linkgraph.errors import LinkgraphError
from linkgraph.explain import explain_account
from linkgraph.report import read_run
from linkgraph.run import Run

HOSTILE = "<script>alert(1)</script>"  # the hostile account of conftest's feed


@pytest.fixture(scope="module")
def run_dir(hostile_run: Callable[..., Path]) -> Path:
    return hostile_run("explain", carrier_nat=True)


@pytest.fixture(scope="module")
def run(run_dir: Path) -> Run:
    return read_run(run_dir)


def test_banned_farmers_sibling_names_the_blocked_account_and_the_path(run: Run) -> None:
    explanation = explain_account(run, "A12")
    assert explanation.action == "ban"
    assert explanation.linked_blocked_account == "A10"
    assert [(step.account, step.other_account) for step in explanation.path] == [("A12", "A10")]
    assert {link.kind for link in explanation.path[0].shared} >= {"device", "email"}
    text = explanation.to_text()
    assert "blocked account: A10 (1 hop" in text
    # A12's card has no fingerprint; its digits are those of the farm's tokenised card
    assert "A12 -> A10: card ****9001, device " in text


def test_farm_and_its_sibling_share_one_cluster_and_one_person(run: Run) -> None:
    explanation = explain_account(run, "A12")
    farm = run.accounts[run.accounts["cluster_id"] == explanation.cluster_id]
    assert explanation.cluster_size == len(farm) >= 8
    assert explanation.person_cluster_size >= 8
    codes = [r.code.split("_x")[0] for r in explanation.coupon_reasons]
    assert codes[0] == "NEW_USER" and {"SHARED_CARD", "SHARED_DEVICE"} <= set(codes)


def test_account_behind_a_carrier_nat_lists_the_ignored_hub(run: Run) -> None:
    ignored = explain_account(run, "A05").ignored
    hub = [v for v in ignored if v.kind == "ip" and v.masked == "176.59.200.x"]
    assert len(hub) == 1
    assert hub[0].reason == "hub" and hub[0].n_accounts == 15
    assert "IP 176.59.200.x: a hub: shared by 15 accounts" in explain_account(run, "A05").to_text()


def test_blocked_source_is_explained_without_a_path(run: Run) -> None:
    explanation = explain_account(run, "A10")
    assert explanation.blocked and explanation.sanction == "banned"
    assert explanation.action == "none" and explanation.path == ()


def test_explanation_shows_no_raw_identifier_from_the_input(run: Run) -> None:
    shown = json.dumps([explain_account(run, a).to_dict() for a in ("A02", "A05", "A12")])
    for raw in ("oleg.ivanov@mail.ru", "JohnFarm@googlemail.com", "fp_farm_card_10",
                "fp_samlee_visa_04", "176.59.200.1", "95.24.10.1", "and-fa4f00d1"):
        assert raw not in shown


def test_path_follows_the_accounts_the_evidence_names() -> None:
    # A4 reaches the banned A1 through A2 or through A3: the evidence says A3
    accounts = pd.DataFrame({
        "account_id": ["A1", "A2", "A3", "A4"], "cluster_id": ["C1"] * 4,
        "person_cluster_id": ["P1", "P2", "P3", "P4"],
        "action": ["none", "review", "review", "review"],
        "linked_blocked_account": [None, "A1", "A1", "A1"], "hops": [0, 1, 1, 2],
        "evidence": [None, "x shared with A1 (banned)", "x shared with A1 (banned)",
                     ("address *** oak road shared with A3, which shares card ****1 with A1 "
                     "(banned 2026-10-02)")],
    })
    links = pd.DataFrame({
        "cluster_id": ["C1"] * 4, "account_a": ["A2", "A3", "A1", "A1"],
        "account_b": ["A4", "A4", "A2", "A3"], "kind": ["address"] * 2 + ["card"] * 2,
        "masked": ["*** oak road"] * 2 + ["card ****1"] * 2, "tier": ["household"] * 4,
        "weight": [0.6] * 4,
    })
    empty = pd.DataFrame()
    run = Run(accounts=accounts, clusters=empty, links=links, review_queue=empty, hubs=empty,
              rejects=empty, cluster_changes=empty, cluster_alerts=empty, coupon_hubs=empty,
              identifiers=empty, issued_ids=empty)
    path = explain_account(run, "A4").path
    assert [(step.account, step.other_account) for step in path] == [("A4", "A3"), ("A3", "A1")]


def test_unknown_account_is_an_error_that_suggests_close_ids(run: Run) -> None:
    with pytest.raises(LinkgraphError, match=r"account 'A1Z' is not in this run \(did you mean"):
        explain_account(run, "A1Z")


def test_hostile_account_id_is_explained_as_plain_text(run: Run) -> None:
    explanation = explain_account(run, HOSTILE)
    assert explanation.account_id == HOSTILE
    assert explanation.linked_blocked_account == "A10"


def test_cli_explain_prints_the_text_and_exits_0(run_dir: Path) -> None:
    result = CliRunner().invoke(main, ["explain", "A12", "--run", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Account A12\n")
    assert "blocked account: A10" in result.stdout


def test_cli_explain_json_parses(run_dir: Path) -> None:
    result = CliRunner().invoke(main, ["explain", "A12", "--run", str(run_dir), "--json"])
    assert result.exit_code == 0, result.output
    explanation = json.loads(result.stdout)
    assert explanation["linked_blocked_account"] == "A10"
    assert [(s["account"], s["other_account"]) for s in explanation["path"]] == [("A12", "A10")]


def test_cli_explain_unknown_account_exits_1_with_the_error(run_dir: Path) -> None:
    result = CliRunner().invoke(main, ["explain", "A1Z", "--run", str(run_dir)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: account 'A1Z' is not in this run (did you mean ")
    assert "Traceback" not in result.output
