"""Registered names: do two accounts name the same person, another person, or nobody?

Only ``accounts.full_name`` counts (the name the account holder registered).
A card's holder name and a parcel's recipient name do not: a family card
carries the card holder's name to every member who pays with it, and a parcel
is addressed to whoever receives it.

Two registered names *agree* when their normalised keys are equal (the name
normaliser already folds case, accents, titles and word order), are
*compatible* when they agree or differ by one initial only (``a petrova``,
``anna petrova``), and *conflict* when both are valid names that are not
compatible. A missing or invalid name (one token, junk) does none of these.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc

from linkgraph import schemas as s
from linkgraph.codes import sorted_unique, text_array
from linkgraph.graph.incidence import CodedIncidence, take
from linkgraph.normalize.name import names_agree

#: the identifiers frame's ``source`` of a registered name
REGISTERED_NAME_SOURCE = f"accounts.{s.FULL_NAME}"


@dataclass(frozen=True)
class NameAgreement:
    """Per account pair, how the two registered names compare.

    agree: the same name. compatible: the same name or one initial apart
    (``a petrova``, ``anna petrova``: Anna, or her sister Alla). conflict: two
    valid names that are not compatible: two persons.
    """

    agree: np.ndarray
    compatible: np.ndarray
    conflict: np.ndarray

    def take(self, entries: np.ndarray) -> NameAgreement:
        """The agreement of the pairs at ``entries``."""
        return NameAgreement(agree=self.agree[entries], compatible=self.compatible[entries],
                             conflict=self.conflict[entries])


def registered_names(coded: CodedIncidence, usable: np.ndarray) -> np.ndarray:
    """Per account code, the group code of its registered name; -1 when it has none usable.

    ``usable`` is per group: False for values normalize suppressed (one-token,
    junk) or that are on the deny list. Being shared by many accounts does not
    make a name unusable: a common name is common in families and outside them
    alike, and the pairs compared here already share a person-level value.
    """
    names = np.full(len(coded.accounts), -1, dtype=np.int64)
    if s.K_NAME not in coded.kinds:
        return names
    rows = np.flatnonzero(coded.kind == coded.kinds.index(s.K_NAME))
    # the identifiers' source is the first of the value's sources in sorted order, and
    # accounts.* sorts before addresses.* and payments.*: a registered name keeps its source
    registered = (coded.frame[s.SOURCE].take(rows) == REGISTERED_NAME_SOURCE).to_numpy(
        dtype=bool, na_value=False)
    rows = rows[registered & usable[coded.group[rows]]]
    # one registered name per account; should a table carry two, the smaller key wins
    names[coded.account[rows[::-1]]] = coded.group[rows[::-1]]
    return names


def name_agreement(
    coded: CodedIncidence, first_row: np.ndarray, names: np.ndarray, a: np.ndarray,
    b: np.ndarray, *, compare: np.ndarray,
) -> NameAgreement:
    """Whether the registered names of accounts ``a[i]`` and ``b[i]`` agree, or conflict.

    Args:
        coded: the coded incidence (for the name strings).
        first_row: per group, one of its incidence rows.
        names: per account code, its registered name's group (-1 none), from
            :func:`registered_names`.
        a, b: account codes of the pairs.
        compare: per pair, whether different names are compared for an initial
            (only where the answer matters; elsewhere differing names conflict).

    >>> names_agree("anna petrova", "a petrova"), names_agree("anna petrova", "ivan petrov")
    (True, False)
    """
    name_a, name_b = names[a], names[b]
    both = (name_a >= 0) & (name_b >= 0)
    agree = both & (name_a == name_b)
    compatible = agree.copy()
    differ = np.flatnonzero(both & (name_a != name_b) & compare)
    if len(differ):
        # only a name with a one-letter word can match another one initial apart
        n_groups = int(max(name_a.max(), name_b.max())) + 1
        initial = _with_initial(coded, first_row, sorted_unique(np.concatenate([name_a[differ], name_b[differ]])),
                                n_groups)
        differ = differ[initial[name_a[differ]] | initial[name_b[differ]]]
    if len(differ):
        # the few distinct pairs of different names are compared as strings
        distinct, inverse = np.unique(name_a[differ] * n_groups + name_b[differ],
                                      return_inverse=True)
        values = coded.frame[s.VALUE]
        left = take(values, first_row[distinct // n_groups]).tolist()
        right = take(values, first_row[distinct % n_groups]).tolist()
        same = np.array([names_agree(x, y) for x, y in zip(left, right, strict=True)],
                        dtype=bool)
        compatible[differ] = same[inverse.ravel()]
    return NameAgreement(agree=agree, compatible=compatible, conflict=both & ~compatible)


def _with_initial(
    coded: CodedIncidence, first_row: np.ndarray, groups: np.ndarray, n_groups: int
) -> np.ndarray:
    """Per group code (``n_groups`` of them): True for the ``groups`` whose name has a one-letter word."""
    flags = np.zeros(n_groups, dtype=bool)
    values = text_array(coded.frame[s.VALUE], first_row[groups])
    hit = pc.match_substring_regex(values, pattern=r"(?:^|\s)\pL(?:\s|$)").fill_null(False)
    flags[groups] = hit.to_numpy(zero_copy_only=False)
    return flags
