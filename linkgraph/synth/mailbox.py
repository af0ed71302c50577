"""Mailboxes made from names: how they are written, and one owner per mailbox.

A mailbox is integer-coded (first and last name, style, digits, domain);
``mailbox_locals`` writes its local part, the one spelling ``tables.emails``
and ``dedupe_mailboxes`` share so the check sees what the files will say.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph.normalize.email import normalize_emails
from linkgraph.synth import render, vocab
from linkgraph.synth.world import DOMAINS, sorted_member

FIRST = np.array([n for c in vocab.FIRST_NAMES for n in c], dtype=object)
LAST = np.array([n for c in vocab.LAST_NAMES for n in c], dtype=object)
_MAX_ROUNDS = 50


def _head(values: np.ndarray) -> np.ndarray:
    return pc.utf8_slice_codeunits(pa.array(values, type=pa.string()), 0, 1).to_numpy(
        zero_copy_only=False)


def mailbox_locals(mailboxes: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Each mailbox's local part and its dot-toggled Gmail spelling, as object arrays.

    Styles: ``first.last``, ``firstlast``, ``flast``, ``first_last``,
    ``last.first``, each followed by the digits (none when ``digits`` is -1).

    Args:
        mailboxes: rows with ``first``, ``last`` (vocabulary codes), ``style``
            and ``digits``.

    Returns:
        ``(local, toggled)``: the local part as written, and the spelling with
        dots added or removed (only meaningful where dots do not matter).

    >>> boxes = pd.DataFrame({"first": [0, 0], "last": [36, 36], "style": [0, 2],
    ...                       "digits": [-1, 7]})
    >>> [x.tolist() for x in mailbox_locals(boxes)]
    [['james.hill', 'jhill7'], ['jameshill', 'j.hill7']]
    """
    first = render.lower(FIRST[mailboxes["first"].to_numpy()])
    last = render.lower(LAST[mailboxes["last"].to_numpy()])
    digits = mailboxes["digits"].to_numpy()
    digit_text = np.where(digits >= 0, render.NUMBERS[np.clip(digits, 0, 9999)], "").astype(object)
    style = mailboxes["style"].to_numpy()
    initial = _head(first)
    local = render.choose(style, [first + "." + last + digit_text, first + last + digit_text,
                                  initial + last + digit_text, first + "_" + last + digit_text,
                                  last + "." + first + digit_text])
    rest = pc.utf8_slice_codeunits(pa.array(local, type=pa.string()), 1, 1000).to_numpy(
        zero_copy_only=False)
    toggled = np.where(style == 0, first + last + digit_text, initial + "." + rest)
    return local, toggled.astype(object)


def canonical_mailboxes(mailboxes: pd.DataFrame) -> np.ndarray:
    """The key the linkage engine gives each mailbox (``normalize_emails`` of its address).

    Every spelling an account uses (dots, ``+tags``, ``googlemail.com``,
    capitals) reaches this key, so two mailboxes with one key are one mailbox.

    >>> boxes = pd.DataFrame({"first": [0, 2], "last": [36, 36], "style": [2, 2],
    ...                       "digits": [-1, -1], "domain": [0, 0]})
    >>> canonical_mailboxes(boxes).tolist()
    ['jhill@gmail.com', 'jhill@gmail.com']
    """
    local, _ = mailbox_locals(mailboxes)
    address = pd.Series(local + "@" + DOMAINS[mailboxes["domain"].to_numpy()], dtype="object")
    return normalize_emails(address)["value"].to_numpy(dtype=object)


def mailbox_hashes(keys: np.ndarray) -> np.ndarray:
    """A uint64 per canonical mailbox key, to remember keys cheaply across shards.

    >>> a, b = mailbox_hashes(np.array(["jhill@gmail.com", "jhill1@gmail.com"], dtype=object))
    >>> bool(a != b)
    True
    """
    return pd.util.hash_array(np.asarray(keys, dtype=object))


def dedupe_mailboxes(rng: np.random.Generator, mailboxes: pd.DataFrame,
                     taken: np.ndarray | None = None) -> pd.DataFrame:
    """New digits for each mailbox that is, once canonical, the same as an earlier one.

    Different names can write the same mailbox (``James Hill`` and ``John
    Hill`` are both ``jhill``; every country has Gmail), and a real mailbox
    has one owner, so later rows of a canonical key get fresh digits until all
    keys differ. A person's accounts reuse one mailbox row, so that reuse is
    untouched; the first row of a key (the earliest drawn) keeps its spelling.

    Args:
        rng: the world's generator (same seed, same digits).
        mailboxes: integer-coded mailboxes (``first``, ``last``, ``style``,
            ``digits``, ``domain``); not modified.
        taken: sorted :func:`mailbox_hashes` of keys earlier shards own; a
            row with one of them gets fresh digits too.

    Returns:
        A copy with ``digits`` changed where needed; every row's canonical
        mailbox is distinct. With ``taken``, also a ``hash`` column: each
        row's :func:`mailbox_hashes` (what the next shard must avoid).

    Raises:
        RuntimeError: if fresh digits cannot separate the mailboxes (cannot
            happen with 9,900 digit strings per name and style).

    >>> boxes = pd.DataFrame({"first": [0, 2, 0], "last": [36, 36, 36], "style": [2, 2, 0],
    ...                       "digits": [-1, -1, -1], "domain": [0, 0, 0]})
    >>> out = dedupe_mailboxes(np.random.default_rng(0), boxes)
    >>> len(set(canonical_mailboxes(out))), out["digits"].tolist()[0]
    (3, -1)
    """
    mailboxes = mailboxes.copy()
    key = canonical_mailboxes(mailboxes)
    digits = mailboxes["digits"].to_numpy().copy()
    hashes = None if taken is None else mailbox_hashes(key)
    for _ in range(_MAX_ROUNDS):
        dup = pd.Series(key, dtype="object").duplicated().to_numpy()
        if hashes is not None and taken is not None:
            dup = dup | sorted_member(hashes, taken)
        if not dup.any():
            mailboxes["digits"] = digits
            if hashes is not None:
                mailboxes["hash"] = hashes
            return mailboxes
        digits[dup] = rng.integers(100, 10_000, size=int(dup.sum()))
        changed = mailboxes.iloc[np.flatnonzero(dup)].assign(digits=digits[dup])
        key[dup] = canonical_mailboxes(changed)
        if hashes is not None:
            hashes[dup] = mailbox_hashes(key[dup])
    raise RuntimeError("could not make mailboxes distinct")  # pragma: no cover
