"""Why an account is in its cluster and why it has its action (``linkgraph explain``).

:func:`explain_account` gathers, for one account of a finished :class:`Run`,
everything a moderator needs to trust or overturn its proposed action: its
family and person clusters, every link it has (masked), the path of shared
identifiers to the blocked account behind its action, its coupon-abuse score
with reasons, and the values of its own that were ignored (hubs, junk,
pickup points) and why. Only masked values are ever shown.

The path is rebuilt hop by hop from the run's ``links`` (inside the cluster,
so one small graph): among the shortest paths over the links the action's
rule may travel (person tier inside the person cluster for a ban or a
suspension, person and household tier for a review, any link for a watch),
the one whose accounts the sanctions stage's evidence names, in order.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
import re
from dataclasses import dataclass
from typing import Any

import networkx as nx
import pandas as pd

from linkgraph import schemas as s
from linkgraph.errors import LinkgraphError
from linkgraph.run import Run

__all__ = [
    "CouponReason", "Explanation", "IgnoredValue", "Link", "Step",
    "describe_coupon_reason", "did_you_mean", "explain_account", "seen_words", "value_words",
]

#: strongest evidence first (as the sanctions stage words it)
KIND_ORDER = {k: i for i, k in enumerate(
    (s.K_CARD, s.K_CARD_DIGITS, s.K_DEVICE, s.K_PHONE, s.K_EMAIL, s.K_ADDRESS, s.K_IP, s.K_NAME))}
#: a suppression code -> why the value was ignored, in words
_SUPPRESSED_WHY = {
    "hub": "a hub: shared by {n} accounts, too many for one person or family",
    "pickup_point": "a pickup point or parcel locker, shared by strangers",
    "junk": "a placeholder or junk value",
    "invalid": "not a valid {label}",
    "private_ip": "a private network address",
    "deny_list": "on the configured deny list (graph.hub_deny)",
}
_WEAK_WHY = "weak evidence (shared by {n}): never joins a cluster, gives a watch at most"
#: how a kind reads to a moderator (card digits are a card)
_KIND_LABEL = {s.K_CARD_DIGITS: "card", s.K_IP: "IP"}
_COUPON_WORDS = {
    "NEW_USER": "{0} new-user coupon redemptions by {1} distinct person(s)",
    "SHARED_CARD": "{0} redeemers on one card",
    "SHARED_DEVICE": "{0} redeemers on one device",
    "SHARED_ADDRESS": "{0} redeemers at one delivery address",
    "PICKUP": "{0} redeemers at one pickup point",
    "BURST": "{0} redeemers created within days of each other",
    "COUPON_ONLY": "{0} redeemers placed only small coupon orders and went quiet",
    "NEAR_MIN": "{0} new-user orders just above the coupon's minimum",
    "DISPOSABLE_EMAIL": "{0} redeemers with a disposable mailbox",
    "COUPON_HUB": "in a burst of {0} coupon-only redeemers at one shared identifier",
    "BLOCKED": "{0} of {1} accounts are blocked",
}
_COUPON_CODE = re.compile(r"^(?P<code>[A-Z_]+?)_x(?P<n>[0-9]+)(?:_(?:BY|OF)_(?P<m>[0-9]+))?$")
#: how many shortest paths to try against the evidence (a dense cluster has many)
_MAX_CANDIDATE_PATHS = 200
#: above this many known ids, suggestions look only at ids that sort near the typo
_FULL_SCAN_IDS = 20_000


@dataclass(frozen=True)
class Link:
    """One shared value between the account and another account (masked)."""

    other_account: str
    kind: str
    masked: str | None
    tier: str | None
    weight: float | None
    first_seen: str | None
    last_seen: str | None
    gap_days: float | None = None


@dataclass(frozen=True)
class Step:
    """One hop of the path to the blocked account: what ``account`` shares with ``other_account``."""

    account: str
    other_account: str
    shared: tuple[Link, ...]


@dataclass(frozen=True)
class IgnoredValue:
    """A value of the account's that did not link it to anyone, and why."""

    kind: str
    masked: str | None
    n_accounts: int
    reason: str
    why: str


@dataclass(frozen=True)
class CouponReason:
    """One reason behind a coupon-abuse score: the code and its meaning."""

    code: str
    words: str


@dataclass(frozen=True)
class Explanation:
    """Why an account is where it is and has what it has; see :func:`explain_account`."""

    account_id: str
    cluster_id: str
    cluster_size: int
    person_cluster_id: str
    person_cluster_size: int
    sanction: str | None
    blocked: bool
    cleared_at: str | None
    action: str
    action_reason: str | None
    linked_blocked_account: str | None
    evidence: str | None
    confidence: float | None
    hops: int | None
    path: tuple[Step, ...]
    path_found: bool
    links: tuple[Link, ...]
    coupon_abuse_score: float
    cluster_coupon_abuse_score: float
    coupon_reasons: tuple[CouponReason, ...]
    ignored: tuple[IgnoredValue, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (str, int, float, bool, None, lists), for ``json.dumps``."""
        return _plain(dataclasses.asdict(self))

    def to_text(self, *, max_links: int = 40) -> str:
        """The explanation for a terminal; at most ``max_links`` links are listed."""
        lines = [f"Account {self.account_id}",
                 f"  cluster {self.cluster_id} ({_accounts(self.cluster_size)}), "
                 f"person cluster {self.person_cluster_id} ({_accounts(self.person_cluster_size)})"]
        if self.sanction:
            lines.append(f"  input sanction: {self.sanction}"
                         + (" (blocked: a source of sanctions)" if self.blocked else ""))
        if self.cleared_at:
            lines.append(f"  cleared by a moderator on {self.cleared_at}")
        lines.append(f"  action: {self.action}" + (f" - {self.action_reason}"
                                                    if self.action_reason else ""))
        lines += self._path_lines()
        lines.append(f"  coupon abuse: {self.coupon_abuse_score:g} (person), "
                     f"{self.cluster_coupon_abuse_score:g} (cluster)")
        lines += [f"    {r.code}: {r.words}" for r in self.coupon_reasons]
        lines.append(f"  links ({len(self.links)}):" if self.links else "  links: none")
        lines += [f"    {_link_words(link)}" for link in self.links[:max_links]]
        if len(self.links) > max_links:
            lines.append(f"    ... {len(self.links) - max_links} more (--json lists all)")
        if self.ignored:
            lines.append(f"  ignored values ({len(self.ignored)}):")
            lines += [f"    {value_words(v.kind, v.masked)}: {v.why}" for v in self.ignored]
        return "\n".join(lines)

    def _path_lines(self) -> list[str]:
        if not self.linked_blocked_account:
            return []
        head = f"  blocked account: {self.linked_blocked_account}"
        if self.hops is not None:
            head += f" ({self.hops} hop{'s' if self.hops != 1 else ''}"
            head += f", confidence {self.confidence:.2f})" if self.confidence is not None else ")"
        lines = [head]
        if self.evidence:
            lines.append(f"  evidence: {self.evidence}")
        if self.path_found:
            lines.append("  path:")
            for step in self.path:
                shared = ", ".join(value_words(x.kind, x.masked) for x in step.shared)
                lines.append(f"    {step.account} -> {step.other_account}: {shared}")
        else:
            lines.append("  path: not among the cluster's links (a weak link outside it); "
                         "see the evidence")
        return lines


def explain_account(run: Run, account_id: str) -> Explanation:
    """Explain one account of a run: clusters, links, path to the blocked account, score, hubs.

    Args:
        run: a finished run (``linkgraph.load_run(dir)`` or ``linkgraph.run(...)``).
        account_id: the account to explain.

    Returns:
        An :class:`Explanation`; ``.to_text()`` for a terminal, ``.to_dict()`` for JSON.

    Raises:
        LinkgraphError: the run has no such account (the message suggests close ids).

    >>> accounts = pd.DataFrame({"account_id": ["A1", "A2"], "cluster_id": ["C1", "C1"],
    ...     "person_cluster_id": ["P1", "P1"], "action": ["none", "ban"],
    ...     "linked_blocked_account": [None, "A1"], "hops": [0, 1], "sanction": ["banned", None],
    ...     "evidence": [None, "card ****4242 shared with A1 (banned 2026-10-02)"]})
    >>> links = pd.DataFrame({"cluster_id": ["C1"], "account_a": ["A1"], "account_b": ["A2"],
    ...     "kind": ["card"], "masked": ["card ****4242"], "tier": ["person"], "weight": [1.0]})
    >>> empty = pd.DataFrame()
    >>> run = Run(accounts=accounts, clusters=empty, links=links, review_queue=empty,
    ...     hubs=empty, rejects=empty, cluster_changes=empty, cluster_alerts=empty,
    ...     coupon_hubs=empty, identifiers=empty, issued_ids=empty)
    >>> e = explain_account(run, "A2")
    >>> e.linked_blocked_account, [(x.account, x.other_account) for x in e.path]
    ('A1', [('A2', 'A1')])
    >>> print(e.to_text().splitlines()[6])
        A2 -> A1: card ****4242
    """
    accounts = run.accounts
    hit = accounts[accounts[s.ACCOUNT_ID] == account_id]
    if hit.empty:
        raise LinkgraphError(f"account {account_id!r} is not in this run"
                             f"{did_you_mean(account_id, accounts[s.ACCOUNT_ID])}; "
                             "check the id in accounts.csv of the run directory")
    row = hit.iloc[0]
    cluster_id, person_id = str(row[s.CLUSTER_ID]), str(row[s.PERSON_CLUSTER_ID])
    cluster_links = _cluster_links(run.links, cluster_id)
    mine = (cluster_links[s.ACCOUNT_A] == account_id) | (cluster_links[s.ACCOUNT_B] == account_id)
    blocked_account = _text(row.get(s.LINKED_BLOCKED_ACCOUNT))
    hops = _int(row.get(s.HOPS))
    evidence = _text(row.get(s.EVIDENCE))
    path: list[str] | None = None
    if blocked_account is not None and blocked_account != account_id:
        path = _find_path(cluster_links, accounts, account_id, blocked_account,
                          action=str(row.get(s.ACTION, "none")), hops=hops, evidence=evidence)
    steps = tuple(Step(a, b, _links_of(cluster_links, a, only_with=b))
                  for a, b in itertools.pairwise(path or []))
    return Explanation(
        account_id=account_id,
        cluster_id=cluster_id,
        cluster_size=int((accounts[s.CLUSTER_ID] == cluster_id).sum()),
        person_cluster_id=person_id,
        person_cluster_size=int((accounts[s.PERSON_CLUSTER_ID] == person_id).sum()),
        sanction=_text(row.get("sanction")),
        blocked=not _missing(row.get("blocked")) and bool(row.get("blocked")),
        cleared_at=_time(row.get("cleared_at")),
        action=str(_text(row.get(s.ACTION)) or "none"),
        action_reason=_text(row.get(s.ACTION_REASON)),
        linked_blocked_account=blocked_account,
        evidence=evidence,
        confidence=_float(row.get(s.CONFIDENCE)),
        hops=hops,
        path=steps,
        path_found=path is not None,
        links=_links_of(cluster_links[mine], account_id),
        coupon_abuse_score=_float(row.get(s.COUPON_ABUSE_SCORE)) or 0.0,
        cluster_coupon_abuse_score=_float(row.get("cluster_coupon_abuse_score")) or 0.0,
        coupon_reasons=tuple(describe_coupon_reason(code) for code in
                             (_text(row.get(s.COUPON_ABUSE_REASONS)) or "").split(";")
                             if code.strip()),
        ignored=_ignored_values(run.identifiers, account_id),
    )


def describe_coupon_reason(code: str) -> CouponReason:
    """A coupon-abuse reason code (``NEW_USER_x8_BY_1``) with its meaning in words.

    >>> describe_coupon_reason("NEW_USER_x8_BY_1").words
    '8 new-user coupon redemptions by 1 distinct person(s)'
    >>> describe_coupon_reason(" BLOCKED_x1_OF_8").words
    '1 of 8 accounts are blocked'
    """
    code = code.strip()
    match = _COUPON_CODE.match(code)
    if match is None or match["code"] not in _COUPON_WORDS:
        return CouponReason(code, code)
    return CouponReason(code, _COUPON_WORDS[match["code"]].format(match["n"], match["m"]))


def did_you_mean(value: str, known: pd.Series) -> str:
    """`` (did you mean 'X' or 'Y'?)`` for the known ids closest to ``value``, else ``""``.

    On a big run only the ids sorting next to ``value`` (a typo near the end)
    and those of the same length and ending (a typo near the start) are compared.

    >>> did_you_mean("A1O", pd.Series(["A10", "A11", "B99"]))
    " (did you mean 'A11' or 'A10'?)"
    """
    ids = pd.Series(known.dropna().astype(str).unique())
    if len(ids) > _FULL_SCAN_IDS:
        ordered = ids.sort_values(ignore_index=True)
        at = int(ordered.searchsorted(value))
        near = ordered.iloc[max(at - 500, 0):at + 500]
        same_shape = ids[(ids.str.len() == len(value)) & ids.str.endswith(value[-3:])]
        ids = pd.concat([near, same_shape.head(5000)]).drop_duplicates()
    matches = difflib.get_close_matches(value, ids.tolist(), n=3, cutoff=0.6)
    if not matches:
        return ""
    quoted = [f"'{m}'" for m in matches]
    return f" (did you mean {', '.join(quoted[:-1]) + ' or ' if len(quoted) > 1 else ''}{quoted[-1]}?)"


def _cluster_links(links: pd.DataFrame, cluster_id: str) -> pd.DataFrame:
    if links.empty or s.CLUSTER_ID not in links.columns:
        return links.reindex(columns=[s.CLUSTER_ID, s.ACCOUNT_A, s.ACCOUNT_B, s.KIND, s.TIER])
    return links[links[s.CLUSTER_ID] == cluster_id]


def _find_path(links: pd.DataFrame, accounts: pd.DataFrame, start: str, target: str, *,
               action: str, hops: int | None, evidence: str | None) -> list[str] | None:
    """The accounts from ``start`` to ``target`` along the cluster's links.

    The path the evidence names (``... shared with B, which shares ... with C``)
    when every hop of it is a link; otherwise, over the links the rule behind
    ``action`` may travel (strictest set first), a path of ``hops`` links, else
    the shortest one.
    """
    if links.empty:
        return None
    graph = nx.Graph()
    graph.add_edges_from(zip(links[s.ACCOUNT_A], links[s.ACCOUNT_B], strict=True))
    if start not in graph or target not in graph:
        return None
    named = [start, *_named_accounts(evidence, list(graph.nodes))]
    if named[-1] == target and all(graph.has_edge(a, b) for a, b in itertools.pairwise(named)):
        return named
    person = accounts.set_index(s.ACCOUNT_ID)[s.PERSON_CLUSTER_ID]
    same_person = (links[s.ACCOUNT_A].map(person) == links[s.ACCOUNT_B].map(person)).to_numpy()
    tier = links[s.TIER].astype(str).to_numpy() if s.TIER in links else None
    edge_sets = []
    if tier is not None:
        if action in ("ban", "suspend", "restrict"):
            edge_sets.append((tier == s.T_PERSON) & same_person)
        edge_sets.append((tier == s.T_PERSON) | (tier == s.T_HOUSEHOLD))
    edge_sets.append(None)
    shortest: list[str] | None = None
    for usable in edge_sets:
        rows = links if usable is None else links[usable]
        graph = nx.Graph()
        graph.add_edges_from(zip(rows[s.ACCOUNT_A], rows[s.ACCOUNT_B], strict=True))
        if start not in graph or target not in graph or not nx.has_path(graph, start, target):
            continue
        if hops is not None:
            paths = nx.all_simple_paths(graph, start, target, cutoff=hops)
            exact = [p for p in itertools.islice(paths, _MAX_CANDIDATE_PATHS)
                     if len(p) - 1 == hops]
            if exact:
                return exact[0]
        shortest = shortest or nx.shortest_path(graph, start, target)
    return shortest


def _named_accounts(evidence: str | None, accounts: list[str]) -> list[str]:
    """The accounts the evidence names, in order: ``X shared with B, which shares Y with C (...)``."""
    if not evidence:
        return []
    found = []
    for account in accounts:
        pattern = re.compile(r" with " + re.escape(str(account)) + r"(?=,| \(|$)")
        found += [(m.start(), str(account)) for m in pattern.finditer(evidence)]
    return [account for _, account in sorted(found)]


def _links_of(links: pd.DataFrame, account_id: str, *, only_with: str | None = None
              ) -> tuple[Link, ...]:
    """The link rows of ``account_id`` (to ``only_with`` when given), strongest kind first."""
    if links.empty:
        return ()
    a, b = links[s.ACCOUNT_A], links[s.ACCOUNT_B]
    other = b.where(a == account_id, a)
    keep = (a == account_id) | (b == account_id)
    if only_with is not None:
        keep &= other == only_with
    rows = links[keep].assign(_other=other[keep])
    rows = rows.assign(_order=rows[s.KIND].map(KIND_ORDER).fillna(len(KIND_ORDER)))
    rows = rows.sort_values(["_other", "_order", s.KIND], kind="stable")
    return tuple(
        Link(other_account=str(r["_other"]), kind=str(r[s.KIND]), masked=_text(r.get(s.MASKED)),
             tier=_text(r.get(s.TIER)), weight=_float(r.get(s.WEIGHT)),
             first_seen=_time(r.get(s.FIRST_SEEN)), last_seen=_time(r.get(s.LAST_SEEN)),
             gap_days=_float(r.get(s.GAP_DAYS)))
        for _, r in rows.iterrows()
    )


def _ignored_values(identifiers: pd.DataFrame, account_id: str) -> tuple[IgnoredValue, ...]:
    """The account's values that were suppressed, or shared but too weak to join a cluster."""
    if identifiers.empty or s.SUPPRESSED not in identifiers.columns:
        return ()
    own = identifiers[identifiers[s.ACCOUNT_ID] == account_id]
    n = own[s.N_ACCOUNTS] if s.N_ACCOUNTS in own else pd.Series(1, index=own.index)
    weak = (own[s.TIER] == s.T_WEAK) if s.TIER in own else pd.Series(False, index=own.index)
    ignored = own[own[s.SUPPRESSED].notna() | (weak & (n > 1)).fillna(False)]
    ignored = ignored.assign(_n=n[ignored.index]).sort_values(
        ["_n", s.KIND, s.MASKED], ascending=[False, True, True], kind="stable")
    values = []
    for _, r in ignored.iterrows():
        reason = _text(r[s.SUPPRESSED]) or "weak"
        template = _SUPPRESSED_WHY.get(reason, _WEAK_WHY if reason == "weak" else reason)
        values.append(IgnoredValue(
            kind=str(r[s.KIND]), masked=_text(r.get(s.MASKED)), n_accounts=int(r["_n"]),
            reason=reason, why=template.format(n=int(r["_n"]), label=_label(str(r[s.KIND])))))
    return tuple(values)


def value_words(kind: str, masked: str | None) -> str:
    """A masked value as a moderator reads it: ``device ***9c21``, ``card ****4242``.

    >>> value_words("card", "card ****4242"), value_words("card_digits", "****4242")
    ('card ****4242', 'card ****4242')
    """
    label = _label(kind)
    if masked is None:
        return f"{label} (masked)"
    return masked if masked.startswith(f"{label} ") else f"{label} {masked}"


def seen_words(link: Link) -> str:
    """When the two accounts used the value: together, or how far apart (``""`` when unknown).

    >>> seen_words(Link("A2", "ip", "1.2.3.x", "weak", 0.1, "2026-01-05T00:00:00Z",
    ...                 "2026-01-01T00:00:00Z", 4.0))
    'used 4 days apart (one until 2026-01-01, the other from 2026-01-05)'
    """
    if not link.first_seen or not link.last_seen:
        return ""
    if link.first_seen <= link.last_seen:
        return f"both used it {link.first_seen[:10]} .. {link.last_seen[:10]}"
    return (f"used {_gap_words(link.gap_days)} apart (one until {link.last_seen[:10]}, "
            f"the other from {link.first_seen[:10]})")


def _gap_words(days: float | None) -> str:
    if days is None:
        return "some time"
    if days < 1:
        hours = max(round(days * 24), 1)
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{days:.0f} day{'s' if round(days) != 1 else ''}"


def _link_words(link: Link) -> str:
    weight = f"weight {link.weight:.2f}" if link.weight is not None else "weight ?"
    seen = seen_words(link)
    return (f"{link.other_account}: {value_words(link.kind, link.masked)} "
            f"({link.tier or '?'} tier, {weight}{', ' + seen if seen else ''})")


def _label(kind: str) -> str:
    return _KIND_LABEL.get(kind, kind)


def _accounts(n: int) -> str:
    return f"{n} account{'s' if n != 1 else ''}"


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or an array is not missing
        return False


def _text(value: Any) -> str | None:
    return None if _missing(value) or str(value) == "" else str(value)


def _int(value: Any) -> int | None:
    return None if _missing(value) else int(value)


def _float(value: Any) -> float | None:
    return None if _missing(value) else float(value)


def _time(value: Any) -> str | None:
    if _missing(value):
        return None
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC")
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
