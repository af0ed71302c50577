"""The stage's frames: one row per account with its action in words, and the review queue."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from linkgraph import schemas as s
from linkgraph.sanctions._evidence import _path_texts
from linkgraph.sanctions._links import _Channel

_SEVERITY = {action: rank for rank, action in enumerate(s.ACTIONS)}
REVIEW_QUEUE_COLUMNS = (
    s.RANK, s.ACCOUNT_ID, s.CLUSTER_ID, s.PERSON_CLUSTER_ID, s.ACTION, s.LINKED_BLOCKED_ACCOUNT,
    s.CONFIDENCE, s.HOPS, s.ACTION_REASON, s.EVIDENCE,
)


def _account_actions(winners: pd.DataFrame, channels: list[_Channel], preds: list[np.ndarray],
                     sources: pd.DataFrame, cleared: pd.DataFrame, account_ids: pd.Index,
                     pairs: pd.DataFrame) -> pd.DataFrame:
    """The ``ACTION_COLUMNS`` frame: winners' actions, reasons and evidence; sources' status."""
    n = len(account_ids)
    severity = np.zeros(n, dtype=np.int64)
    confidence = np.full(n, np.nan)
    hops = np.full(n, -1, dtype=np.int64)
    status = np.full(n, None, dtype=object)
    status[sources["code"].to_numpy()] = sources["status"].to_numpy()
    cleared_on = np.full(n, None, dtype=object)
    cleared_on[cleared["code"].to_numpy()] = cleared["cleared_on"].to_numpy()

    blocked = sources[sources["blocked"]]
    hops[blocked["code"].to_numpy()] = 0
    texts = {
        s.ACTION_REASON: [(
            blocked["code"].to_numpy(),
            ("blocked in input (" + blocked["status"] + ")").to_numpy(dtype=object),
        )],
        s.LINKED_BLOCKED_ACCOUNT: [], s.EVIDENCE: [],
    }
    if len(winners):
        node = winners["node"].to_numpy()
        channel = winners["channel"].to_numpy()
        depth = winners["hops"].to_numpy(np.int64)
        paths = np.full((len(winners), int(depth.max()) + 1), -1, dtype=np.int64)
        paths[:, 0] = node
        paths[:, 1] = winners["pred"].to_numpy()
        for k in range(2, paths.shape[1]):
            for index, pred in enumerate(preds):
                on = (channel == index) & (depth >= k)
                paths[on, k] = pred[paths[on, k - 1]]
        source = winners["source"].to_numpy()
        source_ids = account_ids[source].to_numpy(dtype=object)
        weak = np.array([c.weak_evidence for c in channels])[channel]
        chosen = winners["severity"].to_numpy()
        severity[node] = chosen
        flagged = chosen > 0
        confidence[node[flagged]] = np.round(winners["conf"].to_numpy()[flagged], 3)
        hops[node[flagged]] = depth[flagged]
        kinds = np.array([c.kind for c in channels], dtype=object)[channel]
        texts[s.EVIDENCE].append(
            (node, _path_texts(paths, depth, weak, status[source], pairs, account_ids)))
        texts[s.LINKED_BLOCKED_ACCOUNT].append((node, source_ids))
        texts[s.ACTION_REASON].append((node, _reasons(
            kinds, source_ids, status[source], depth, winners["stale"].to_numpy(bool),
            winners["capped"].to_numpy(bool), cleared_on[node],
            np.array(s.ACTIONS, dtype=object)[chosen],
        )))
    frame = pd.DataFrame({
        s.ACCOUNT_ID: pd.Series(account_ids, copy=False),
        s.ACTION: pd.Series(np.array(s.ACTIONS, dtype=object)[severity], dtype="str"),
    })
    for column in (s.ACTION_REASON, s.LINKED_BLOCKED_ACCOUNT, s.EVIDENCE):
        frame[column] = _text_column(texts[column], n)
    frame[s.CONFIDENCE] = confidence
    frame[s.HOPS] = pd.Series(hops, dtype="Int64").mask(hops < 0)
    return frame


def _text_column(parts: list[tuple[np.ndarray, np.ndarray]], n: int) -> pd.Series:
    """A text column of ``n`` rows: the given (positions, texts), missing elsewhere.

    Built from the few set rows: their texts in row order are the column's bytes as
    they are, and the ``n`` offsets are counted around them (a reindex of the few
    texts to a million rows took four times the column's memory on the way).
    """
    if not parts:
        return pd.Series(np.full(n, None, dtype=object), dtype="str")
    codes = np.concatenate([p for p, _ in parts])
    values = np.concatenate([v for _, v in parts]).astype(object)
    order = np.argsort(codes, kind="stable")
    try:
        texts = pa.array(values[order], type=pa.large_string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # not all text: pandas' own conversion
        return pd.Series(values, index=codes, dtype="str").reindex(
            np.arange(n)).reset_index(drop=True)
    rows = codes[order]
    ends = np.frombuffer(texts.buffers()[1], dtype=np.int64)[:len(texts) + 1]
    lengths = np.zeros(n, dtype=np.int64)
    lengths[rows] = np.diff(ends)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    valid = np.zeros(n, dtype=bool)
    valid[rows] = texts.is_valid().to_numpy(zero_copy_only=False)
    data = texts.buffers()[2] or pa.py_buffer(b"")
    column = pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), data,
                                              pa.array(valid).buffers()[1])
    return pd.Series(pd.array(column, dtype="str"))


def _reasons(kinds: np.ndarray, source: np.ndarray, status: np.ndarray, depth: np.ndarray,
             stale: np.ndarray, capped: np.ndarray, cleared_on: np.ndarray,
             action: np.ndarray) -> np.ndarray:
    """``action_reason`` in words, per chosen path."""
    who = pd.Series(source, dtype=object) + " (" + pd.Series(status, dtype=object) + ")"
    length = pd.Series(np.where(depth == 1, "1 hop", depth.astype(str) + " hops"), dtype=object)
    by_kind = {
        "person": "same person as " + who + ": corroborated person-level links, " + length,
        "family": "possibly family of " + who + ": the path needs household-level or "
                  "unconfirmed person-level links, " + length + "; the platform's discretion",
        "weak": "shares only weak identifiers (IP, name) with " + who
                + "; weak links never sanction",
        "warning": "linked to " + who + ", which is not a block",
    }
    text = pd.Series(None, index=who.index, dtype=object)
    for kind, words in by_kind.items():
        text = text.where(kinds != kind, words)
    on = pd.Series(cleared_on, dtype=object)
    fresh = (text + "; cleared by a moderator " + on
             + ", flagged again on evidence that began after that")
    fresh = fresh.where(~capped, fresh + ", so at most " + pd.Series(action, dtype=object))
    text = text.where(pd.isna(cleared_on), fresh)
    old = ("cleared by a moderator " + on + ", already linked to " + who
           + " that way then; not flagged again")
    return text.where(~stale, old).to_numpy(dtype=object)


def _review_queue(frame: pd.DataFrame, accounts: pd.DataFrame) -> pd.DataFrame:
    """Accounts to decide, most urgent first: severity, then confidence, then id.

    ``frame`` and ``accounts`` are both one row per account sorted by id (aligned).
    """
    due = frame[s.ACTION].isin(s.ACTIONS[_SEVERITY["review"]:]).to_numpy(bool)
    queue = frame[due].reset_index(drop=True)
    queue["_severity"] = queue[s.ACTION].map(_SEVERITY).astype(np.int64)
    for column in (s.CLUSTER_ID, s.PERSON_CLUSTER_ID):
        queue[column] = accounts[column][due].reset_index(drop=True)
    queue = queue.sort_values(["_severity", s.CONFIDENCE, s.ACCOUNT_ID],
                              ascending=[False, False, True], kind="stable", ignore_index=True)
    queue.insert(0, s.RANK, np.arange(1, len(queue) + 1, dtype=np.int64))
    return queue[list(REVIEW_QUEUE_COLUMNS)]
