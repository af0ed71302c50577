"""The values :func:`~linkgraph.explain.explain_account` returns."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from linkgraph.explain.words import accounts_words, link_words, plain_data, value_words


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
        return plain_data(dataclasses.asdict(self))

    def __str__(self) -> str:
        """``print(run.explain(aid))`` shows the text a moderator reads."""
        return self.to_text()

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """IPython shows the text, not the dataclass fields."""
        printer.text(self.to_text())

    def to_text(self, *, max_links: int = 40) -> str:
        """The explanation for a terminal; at most ``max_links`` links are listed."""
        lines = [f"Account {self.account_id}",
                 (f"  cluster {self.cluster_id} ({accounts_words(self.cluster_size)}), "
                  f"person cluster {self.person_cluster_id} ({accounts_words(self.person_cluster_size)})")]
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
        lines += [f"    {link_words(link)}" for link in self.links[:max_links]]
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

