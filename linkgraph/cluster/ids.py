"""Opaque cluster ids: a hash of the member set, the registry of issued ids.

An id is a prefix (``C`` for a family cluster, ``P`` for a person cluster)
and 8 characters of Crockford base32 (40 bits) taken from an order-free hash
of the member account ids, so it depends on who is in the cluster, never on
row order or on where the accounts sort. A candidate that is already in the
registry of issued ids (or taken by another cluster in the same run) is
rehashed with a salt until it is free: an id is never issued twice.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from linkgraph import schemas as s
from linkgraph.errors import RunDirectoryError

# Crockford's alphabet: no I, L, O, U, so an id read aloud or retyped survives.
_ALPHABET = np.frombuffer(b"0123456789abcdefghjkmnpqrstvwxyz", dtype="S1")
_BODY_CHARS = 8
_MAX_SALT = 64

PREFIX: dict[str, str] = {s.ID_KIND_CLUSTER: "C", s.ID_KIND_PERSON: "P"}
# Different seeds keep the person and family id spaces unrelated.
_SEED: dict[str, int] = {s.ID_KIND_CLUSTER: 0x2545F4914F6CDD1D, s.ID_KIND_PERSON: 0x9E3779B97F4A7C15}


def _mix(values: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser (Steele et al. 2014), vectorised; uint64 wraps."""
    z = values.astype(np.uint64, copy=True)
    z ^= z >> np.uint64(30)
    z *= np.uint64(0xBF58476D1CE4E5B9)
    z ^= z >> np.uint64(27)
    z *= np.uint64(0x94D049BB133111EB)
    z ^= z >> np.uint64(31)
    return z


def account_hashes(account_ids: pd.Index) -> np.ndarray:
    """A well-mixed uint64 per account id (pandas' SipHash of the UTF-8 text)."""
    text = np.asarray(account_ids.astype(str), dtype=object)
    return _mix(pd.util.hash_array(text, categorize=False))


def set_hashes(labels: np.ndarray, n_labels: int, account_hash: np.ndarray, kind: str) -> np.ndarray:
    """One uint64 per component: a hash of its member set, free of member order.

    The sum of mixed member hashes is a multiset hash (order-free); mixing
    the sum again hides its linear structure.
    """
    order = np.argsort(labels, kind="stable")
    counts = np.bincount(labels, minlength=n_labels)
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    sums = np.add.reduceat(account_hash[order], starts) if len(order) else np.zeros(0, np.uint64)
    return _mix(sums ^ np.uint64(_SEED[kind]))


def _encode(bodies: np.ndarray, prefix: str) -> np.ndarray:
    """``prefix`` + each 40-bit body in base32, as an object array of str."""
    # one character column at a time, a byte each (a million ids' digits at once as
    # uint64 and again as indices were 0.1 GB): the ids' bytes are the rows of ``chars``
    letters = _ALPHABET.view(np.uint8)
    chars = np.empty((len(bodies), 1 + _BODY_CHARS), dtype=np.uint8)
    chars[:, 0] = ord(prefix)
    for position in range(_BODY_CHARS):
        shift = np.uint64(5 * (_BODY_CHARS - 1 - position))
        chars[:, 1 + position] = letters[((bodies >> shift) & np.uint64(31)).astype(np.intp)]
    # the bytes decoded by Arrow straight to Python strings (numpy would first widen
    # every id to four bytes a character)
    ids = pa.array(chars.view(f"S{1 + _BODY_CHARS}").ravel(), type=pa.binary()).cast(pa.string())
    return np.asarray(ids.to_numpy(zero_copy_only=False), dtype=object)


def _decode(ids: np.ndarray, prefix: str) -> np.ndarray:
    """The 40-bit bodies of the ids in this module's format with ``prefix`` (others dropped)."""
    text = np.asarray(ids, dtype=str)
    if not len(text):
        return np.zeros(0, dtype=np.uint64)
    text = text[np.char.startswith(text, prefix) & (np.char.str_len(text) == _BODY_CHARS + 1)]
    chars = text.astype(f"U{_BODY_CHARS + 1}").view(np.uint32).reshape(-1, _BODY_CHARS + 1)[:, 1:]
    lookup = np.full(128, -1, dtype=np.int64)
    lookup[_ALPHABET.view(np.uint8)] = np.arange(32)
    digits = lookup[np.minimum(chars, 127)]
    valid = (digits >= 0).all(axis=1) & (chars < 128).all(axis=1)
    weights = np.uint64(1) << np.arange(5 * (_BODY_CHARS - 1), -1, -5, dtype=np.uint64)
    return (digits[valid].astype(np.uint64) * weights).sum(axis=1, dtype=np.uint64)


def fresh_ids(hashes: np.ndarray, taken: pd.Index, kind: str) -> np.ndarray:
    """Ids for new clusters from their set hashes, none of them in ``taken``.

    On a clash (with ``taken`` or between two new clusters) the cluster with
    the smaller full hash keeps its candidate and the others are salted and
    tried again, so the outcome depends only on the member sets. Clashes are
    found on the 40-bit bodies (integers), the text is built once at the end.

    >>> h = np.array([1, 2], dtype=np.uint64)
    >>> a = fresh_ids(h, pd.Index([]), "cluster")
    >>> b = fresh_ids(h, pd.Index([a[0]]), "cluster")
    >>> bool(b[0] != a[0]) and bool(b[1] == a[1])
    True
    """
    bodies = np.zeros(len(hashes), dtype=np.uint64)
    pending = np.arange(len(hashes))
    taken_bodies = np.sort(_decode(np.asarray(taken, dtype=object), PREFIX[kind]))
    for salt in range(_MAX_SALT):
        if not len(pending):
            return _encode(bodies, PREFIX[kind])
        salted = hashes[pending]
        if salt:
            salted = _mix(salted ^ _mix(np.full(len(pending), salt, dtype=np.uint64)))
        candidate = salted >> np.uint64(64 - 5 * _BODY_CHARS)
        order = _by_candidate(hashes[pending], candidate, salted=bool(salt))
        candidate, pending_sorted = candidate[order], pending[order]
        first = np.ones(len(candidate), dtype=bool)
        first[1:] = candidate[1:] != candidate[:-1]
        ok = first & ~_sorted_contains(taken_bodies, candidate)
        bodies[pending_sorted[ok]] = candidate[ok]
        taken_bodies = np.sort(np.concatenate([taken_bodies, candidate[ok]]))
        pending = np.sort(pending_sorted[~ok])
    raise RuntimeError(f"could not find a free cluster id after {_MAX_SALT} salts")


def _by_candidate(hashes: np.ndarray, candidate: np.ndarray, *, salted: bool) -> np.ndarray:
    """``np.lexsort((hashes, candidate))``: by candidate, then full hash, then position.

    Unsalted, the candidate is the hash's top bits, so the order is the hashes'
    own: one quicksort, kept when no two hashes are equal (the sort is then
    unique, its stability moot), several times faster than the two-key sort.
    """
    if not salted:
        order = np.argsort(hashes)
        ordered = hashes[order]
        if not np.any(ordered[1:] == ordered[:-1]):
            return order
    return np.lexsort((hashes, candidate))


def _sorted_contains(sorted_values: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """``queries`` found in the sorted array ``sorted_values`` (binary search)."""
    if not len(sorted_values):
        return np.zeros(len(queries), dtype=bool)
    where = np.minimum(np.searchsorted(sorted_values, queries), len(sorted_values) - 1)
    return sorted_values[where] == queries


def registry_from_previous(issued_ids: pd.DataFrame | None) -> pd.DataFrame:
    """Every id issued before, with ``kind`` and ``issued_run`` (ISSUED_ID_COLUMNS).

    Older run directories may hold only ``cluster_id``: the kind is then read
    from the prefix and the run number taken as 0 (older than anything
    issued since).

    Raises:
        RunDirectoryError: ``issued_ids`` has no ``cluster_id`` column.
    """
    if issued_ids is None or not len(issued_ids):
        return _empty_registry()
    if s.CLUSTER_ID not in issued_ids.columns:
        raise RunDirectoryError(
            f"the previous run's issued ids have no column '{s.CLUSTER_ID}' "
            f"(found: {', '.join(map(str, issued_ids.columns))}). "
            "Point --previous at a run directory written by linkgraph run."
        )
    registry = issued_ids.reindex(columns=list(s.ISSUED_ID_COLUMNS))
    registry = registry[registry[s.CLUSTER_ID].notna()]
    ids = registry[s.CLUSTER_ID].to_numpy(dtype=object)
    by_prefix = np.where(
        np.char.startswith(ids.astype(str), PREFIX[s.ID_KIND_PERSON]), s.ID_KIND_PERSON, s.ID_KIND_CLUSTER
    )
    kind = registry[s.KIND].to_numpy(dtype=object)
    registry = pd.DataFrame({
        s.CLUSTER_ID: ids,
        s.KIND: np.where(pd.isna(kind), by_prefix, kind),
        s.ISSUED_RUN: pd.to_numeric(registry[s.ISSUED_RUN], errors="coerce").fillna(0).astype("int64").to_numpy(),
    })
    if registry[s.CLUSTER_ID].duplicated().any():
        # An id listed twice keeps its first (smallest) run.
        registry = registry.sort_values([s.CLUSTER_ID, s.ISSUED_RUN], kind="stable")
        registry = registry.drop_duplicates(s.CLUSTER_ID).reset_index(drop=True)
    return registry


def _empty_registry() -> pd.DataFrame:
    return pd.DataFrame({
        s.CLUSTER_ID: pd.Series(dtype=object),
        s.KIND: pd.Series(dtype=object),
        s.ISSUED_RUN: pd.Series(dtype="int64"),
    })


def extend_registry(registry: pd.DataFrame, new_ids: np.ndarray, kind: str, run: int) -> pd.DataFrame:
    """The registry plus ``new_ids`` issued in run number ``run``."""
    if not len(new_ids) and len(registry):
        return registry
    added = pd.DataFrame({
        s.CLUSTER_ID: np.asarray(new_ids, dtype=object),
        s.KIND: kind,
        s.ISSUED_RUN: np.full(len(new_ids), run, dtype="int64"),
    })
    return pd.concat([registry, added], ignore_index=True) if len(registry) else added


def finish_registry(registry: pd.DataFrame) -> pd.DataFrame:
    """The registry as returned: str ids, sorted by cluster_id."""
    # typed first: pandas sorts Arrow-backed text in Arrow, Python strings one by one
    out = registry.astype({s.CLUSTER_ID: "str", s.KIND: "str", s.ISSUED_RUN: "int64"})
    return sorted_by_id(out)


def sorted_by_id(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame.sort_values(cluster_id, kind="stable", ignore_index=True)``.

    Ids of this module's format (a one-byte prefix and 8 base32 characters,
    whose alphabet ascends as its bytes do) sort as the integer of the prefix
    byte and the 40-bit body: a sort of integers, not of strings (0.5 s at a
    million accounts). Any other id sorts the frame as text.

    >>> frame = pd.DataFrame({"cluster_id": ["P00000001", "C0000000z", "C00000010"]})
    >>> sorted_by_id(frame)["cluster_id"].tolist()
    ['C0000000z', 'C00000010', 'P00000001']
    """
    keys = _id_keys(frame[s.CLUSTER_ID])
    if keys is None:
        return frame.sort_values(s.CLUSTER_ID, kind="stable", ignore_index=True)
    order = np.argsort(keys, kind="stable")
    if np.all(order[1:] > order[:-1]):
        return frame.reset_index(drop=True)
    return frame.take(order).reset_index(drop=True)


def _id_keys(ids: pd.Series) -> np.ndarray | None:
    """Per id, an integer sorting as the id's bytes do; None unless every id is a
    prefix byte and ``_BODY_CHARS`` characters of the alphabet."""
    try:
        text = pa.array(ids, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if not pa.types.is_string(text.type) and not pa.types.is_large_string(text.type):
        return None
    width = 1 + _BODY_CHARS
    if text.null_count or not len(text):
        return None
    text = text.cast(pa.large_string())
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int64)[text.offset:text.offset + len(text) + 1]
    if offsets[-1] - offsets[0] != width * len(text) or not np.all(np.diff(offsets) == width):
        return None
    chars = np.frombuffer(text.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(-1, width)
    lookup = np.full(256, 32, dtype=np.uint64)
    lookup[_ALPHABET.view(np.uint8)] = np.arange(32, dtype=np.uint64)
    keys = chars[:, 0].astype(np.uint64)
    for position in range(1, width):
        digit = lookup[chars[:, position]]
        if np.any(digit == 32):
            return None
        keys = (keys << np.uint64(5)) | digit
    return keys
