"""Sanctions stage: propagation from blocked accounts, with evidence.

A sanction passes automatically only along corroborated person-tier links
(the same person on the evidence); a path that needs household-tier links
(a family, or an uncorroborated family card or tablet) gives ``review``;
sharing only weak values (an IP, a name) gives ``watch`` at most; hubs and
junk give nothing; warnings and rating revocations are not blocks. An
account a moderator cleared is not flagged again on evidence older than the
decision. Every proposed action names its blocked account and the path of
shared identifiers to it, masked.

Modules: ``_propagation`` (the stage: the policy as channels, the choice of
the strongest action), ``_inputs`` (sources, moderators' decisions, id
lookups), ``_links`` (the coded link graph), ``_reach`` (bounded multi-source
shortest paths), ``_cleared`` (what a moderator already saw), ``_evidence``
(the path in words, masked), ``_actions`` (the output frames, review queue).
"""

from linkgraph.sanctions._inputs import blocked_accounts
from linkgraph.sanctions._propagation import Actions, propagate

__all__ = ["Actions", "blocked_accounts", "propagate"]
