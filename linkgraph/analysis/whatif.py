"""What-if: the sanctions stage run again on a finished run, under another policy."""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from linkgraph import schemas as s
from linkgraph.analysis.compare import ACTION_BEFORE, count_transitions
from linkgraph.analysis.view import _facts_html, _frame_html
from linkgraph.config import PolicyConfig
from linkgraph.errors import ConfigError, LinkgraphError

if TYPE_CHECKING:
    from linkgraph.run import Run

_CHANGE_COLUMNS = (
    s.ACCOUNT_ID, s.CLUSTER_ID, ACTION_BEFORE, s.ACTION, s.ACTION_REASON,
    s.LINKED_BLOCKED_ACCOUNT, s.EVIDENCE,
)


@dataclass(frozen=True, eq=False)
class PolicyWhatIf:
    """The actions a run would propose under ``policy`` instead of ``baseline``.

    accounts: one row per account: ``account_id, cluster_id,
        person_cluster_id, action_before`` (the run's action) and the
        sanctions stage's columns under the new policy (``action,
        action_reason, linked_blocked_account, evidence, confidence, hops``).
    changes: the rows of ``accounts`` whose action changes.
    transitions: ``action_before, action, n_accounts``: how many accounts go
        from which action to which (strongest new action first).
    review_queue: the review queue under the new policy.
    """

    policy: PolicyConfig
    baseline: PolicyConfig
    accounts: pd.DataFrame
    changes: pd.DataFrame
    transitions: pd.DataFrame
    review_queue: pd.DataFrame

    @property
    def policy_changes(self) -> dict[str, tuple[Any, Any]]:
        """Policy fields that differ from the baseline: name -> (baseline, new)."""
        old, new = dataclasses.asdict(self.baseline), dataclasses.asdict(self.policy)
        return {k: (old[k], new[k]) for k in new if old[k] != new[k]}

    def __repr__(self) -> str:
        moves = ", ".join(f"{r.action_before} → {r.action} {r.n_accounts:,}"
                          for r in self.transitions.itertuples()) or "no change"
        return f"PolicyWhatIf({_describe(self.policy_changes)}: {moves})"

    def _repr_html_(self) -> str:
        facts = {"policy": _describe(self.policy_changes),
                 "accounts whose action changes": f"{len(self.changes):,}",
                 "review queue": f"{len(self.review_queue):,}"}
        return "\n".join([
            "<h4>Policy what-if</h4>", _facts_html(facts),
            "<b>From which action to which</b>",
            _frame_html(self.transitions, (ACTION_BEFORE, s.ACTION, "n_accounts"), rows=50),
            "<b>Accounts whose action changes</b>", _frame_html(self.changes, _CHANGE_COLUMNS),
        ])


def policy_what_if(run: Run, policy: PolicyConfig | None = None, **changes: Any) -> PolicyWhatIf:
    """Run the sanctions stage again on ``run`` under ``policy`` (or the run's policy
    with ``changes``), and compare the actions with the run's.

    Uses the run's pairs (raw values replaced by codes), pair tiers, input
    sanctions and decisions, so it works on a run read from disk as well.

    Raises:
        ConfigError: ``changes`` names an unknown policy field or a bad value.
        LinkgraphError: the run holds no pairs or pair tiers.

    >>> import linkgraph as lg
    >>> run = lg.analysis.example_run()
    >>> policy_what_if(run, family_action="none").changes["account_id"].tolist()
    ['A3']
    >>> policy_what_if(run, family_action="ban")
    Traceback (most recent call last):
    ...
    linkgraph.errors.ConfigError: config value policy.family_action = 'ban' is not one of review, watch, none: a family link is never an automatic sanction
    """
    from linkgraph.graph import LinkSet
    from linkgraph.sanctions import propagate

    baseline = run.policy
    policy = _apply(policy or baseline, changes)
    missing = [name for name, frame in (("pairs", run.pairs), ("pair_tiers", run.pair_tiers))
               if s.ACCOUNT_A not in frame.columns]
    if missing:
        raise LinkgraphError(
            f"this run holds no {' or '.join(missing)}, so its actions cannot be recomputed; "
            "run it again with this version of linkgraph (`linkgraph run ... --out NEW_DIR`)"
        )
    pairs = run.pairs.rename(columns={"value_code": s.VALUE})
    links = LinkSet(incidence=pd.DataFrame(), pairs=pairs, pair_tiers=run.pair_tiers,
                    hubs=pd.DataFrame(), profiles=pd.DataFrame())
    keys = run.accounts[[s.ACCOUNT_ID, s.CLUSTER_ID, s.PERSON_CLUSTER_ID]]
    actions = propagate(keys, links, run.sanctions, run.decisions, policy=policy)

    before = run.accounts[[s.ACCOUNT_ID, s.ACTION]].rename(columns={s.ACTION: ACTION_BEFORE})
    accounts = keys.merge(before, on=s.ACCOUNT_ID, validate="1:1").merge(
        actions.accounts, on=s.ACCOUNT_ID, how="left", validate="1:1")
    accounts[s.ACTION] = accounts[s.ACTION].fillna("none")
    accounts = accounts.sort_values(s.ACCOUNT_ID, kind="stable", ignore_index=True)
    changed = accounts[accounts[s.ACTION] != accounts[ACTION_BEFORE]].reset_index(drop=True)
    return PolicyWhatIf(policy=policy, baseline=baseline, accounts=accounts, changes=changed,
                        transitions=count_transitions(changed),
                        review_queue=actions.review_queue)


def _apply(policy: PolicyConfig, changes: dict[str, Any]) -> PolicyConfig:
    """``policy`` with ``changes``; an unknown field names the nearest valid one."""
    fields = [f.name for f in dataclasses.fields(PolicyConfig)]
    for name in changes:
        if name not in fields:
            near = difflib.get_close_matches(name, fields, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else f" (valid: {', '.join(fields)})"
            raise ConfigError(f"unknown policy field {name!r}{hint}")
    return dataclasses.replace(policy, **changes) if changes else policy


def _describe(changes: dict[str, tuple[Any, Any]]) -> str:
    return ", ".join(f"{k}: {old!r} → {new!r}" for k, (old, new) in changes.items()) or "unchanged"
