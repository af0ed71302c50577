"""Sanctions' inputs: who the sources are, which accounts moderators cleared."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from linkgraph import schemas as s
from linkgraph.codes import positions, sorted_unique

logger = logging.getLogger(__name__)

#: the largest epoch-ns value: a clearing of unknown date postdates all evidence
_ALWAYS: int = int(np.iinfo(np.int64).max)
_SANCTION_RANK = {action: rank for rank, action in enumerate(s.SANCTION_ACTIONS)}


def _epoch_ns(values: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 nanoseconds since the epoch; NaT -> int64 min (oldest)."""
    stamps = pd.to_datetime(values, utc=True)
    return stamps.dt.tz_localize(None).to_numpy(dtype="datetime64[ns]").view("int64")


def _day(values: pd.Series) -> pd.Series:
    """``YYYY-MM-DD`` of UTC timestamps, NA where unknown."""
    return pd.to_datetime(values, utc=True).dt.strftime("%Y-%m-%d")


def blocked_accounts(sanctions: pd.DataFrame) -> pd.Index:
    """The accounts that are blocked: suspended or banned in the input.

    Warnings, rating revocations and restrictions are not blocks.

    Args:
        sanctions: the input ``sanctions`` table (``account_id``, ``action``).

    Returns:
        Sorted unique account ids, named ``account_id``.

    Raises:
        InputError: ``sanctions`` lacks ``account_id`` or ``action``.

    >>> sanctions = pd.DataFrame({"account_id": ["A9", "A2", "A9", "A5"],
    ...                           "action": ["banned", "suspended", "warning", "warning"]})
    >>> list(blocked_accounts(sanctions))
    ['A2', 'A9']
    """
    s.require_columns({"sanctions": (sanctions, (s.ACCOUNT_ID, s.ACTION))},
                      stage="sanctions stage", hint="Load the table with linkgraph.load.load_tables.")
    ids = sanctions.loc[sanctions[s.ACTION].isin(s.BLOCKING_ACTIONS), s.ACCOUNT_ID].dropna()
    return pd.Index(ids.unique(), name=s.ACCOUNT_ID).sort_values()


def _source_table(sanctions: pd.DataFrame, account_ids: pd.Index) -> pd.DataFrame:
    """One row per sanctioned known account: its strongest input action.

    Returns ``code`` (position in ``account_ids``), ``action`` (input
    action), ``blocked`` and ``status`` (``banned 2026-10-02``), sorted by code.
    """
    known = sanctions[sanctions[s.ACTION].isin(s.SANCTION_ACTIONS)]
    if len(known) < len(sanctions):
        logger.warning("sanctions: %d rows with an unknown action ignored",
                       len(sanctions) - len(known))
    code = positions(known[s.ACCOUNT_ID], account_ids)
    if (code < 0).any():
        logger.warning("sanctions: %d rows name an account not in accounts; ignored",
                       int((code < 0).sum()))
    ranked = pd.DataFrame({
        "code": code,
        "rank": known[s.ACTION].map(_SANCTION_RANK).to_numpy(),
        "action": known[s.ACTION].to_numpy(),
        "at": _epoch_ns(known[s.CREATED_AT]) if s.CREATED_AT in known else np.iinfo(np.int64).min,
        "day": _day(known[s.CREATED_AT]).to_numpy() if s.CREATED_AT in known else pd.NA,
    })
    ranked = ranked[ranked["code"] >= 0]
    # strongest action, then the day it was first taken
    ranked["at"] = ranked["at"].where(ranked["at"] != np.iinfo(np.int64).min, _ALWAYS)
    ranked = ranked.sort_values(["code", "rank", "at"], ascending=[True, False, True],
                                kind="stable").drop_duplicates("code")
    status = ranked["action"].astype(object)
    day = ranked["day"].astype(object)
    status = status.where(day.isna(), status + " " + day)
    return pd.DataFrame({
        "code": ranked["code"].to_numpy(np.int64),
        "action": ranked["action"].to_numpy(dtype=object),
        "blocked": ranked["action"].isin(s.BLOCKING_ACTIONS).to_numpy(),
        "status": status.to_numpy(),
    })


def _cleared_table(decisions: pd.DataFrame, account_ids: pd.Index) -> pd.DataFrame:
    """One row per account whose latest decision is ``cleared``.

    Returns ``code``, ``cleared_ns`` (epoch ns; a clearing of unknown date counts
    as later than all evidence) and ``cleared_on`` (words), sorted by code.
    A later decision of another kind (``confirmed``...) supersedes a clearing.
    """
    code = positions(decisions[s.ACCOUNT_ID], account_ids)
    at = _epoch_ns(decisions[s.CREATED_AT])
    is_cleared = decisions[s.DECISION].astype("str").str.lower().eq(s.CLEARED).fillna(False)
    rows = pd.DataFrame({
        "code": code,
        "at": np.where(at == np.iinfo(np.int64).min, _ALWAYS, at),
        "cleared": is_cleared.to_numpy(bool),
        "day": _day(decisions[s.CREATED_AT]).to_numpy(),
    })
    rows = rows[rows["code"] >= 0]
    cleared = rows[rows["cleared"]].sort_values(["code", "at"], kind="stable")
    cleared = cleared.drop_duplicates("code", keep="last")
    # a known later decision of another kind overrides the clearing
    other_at = rows[~rows["cleared"] & (rows["at"] != _ALWAYS)].groupby("code")["at"].max()
    later = cleared["code"].map(other_at)
    cleared = cleared[~(later > cleared["at"]).fillna(False).to_numpy(bool)]
    on = "on " + cleared["day"].astype(object)
    on = on.where(cleared["day"].notna(), "on an unknown date")
    return pd.DataFrame({
        "code": cleared["code"].to_numpy(np.int64),
        "cleared_ns": cleared["at"].to_numpy(np.int64),
        "cleared_on": on.to_numpy(),
    })


def _pair_rows(pairs: pd.DataFrame, account_ids: pd.Index,
               pair_keys: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """The ``pairs`` rows of the given account pairs, and each row's pair key.

    A pair key is ``min(code) * n + max(code)``. Rows are found with two hash
    probes against the few accounts involved, never by mapping every pair row.
    """
    n = len(account_ids)
    involved = sorted_unique(np.concatenate([pair_keys // n, pair_keys % n]))
    names = account_ids[involved]
    a_at = positions(pairs[s.ACCOUNT_A], names)
    near = np.flatnonzero(a_at >= 0)
    b_at = positions(pairs[s.ACCOUNT_B].iloc[near], names)
    both = b_at >= 0
    at_rows = near[both]
    a, b = involved[a_at[at_rows]], involved[b_at[both]]
    row_key = np.minimum(a, b).astype(np.int64) * n + np.maximum(a, b)
    wanted = np.isin(row_key, pair_keys)
    return pairs.iloc[at_rows[wanted]], row_key[wanted]

