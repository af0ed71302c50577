"""IP addresses: IPv4 as dotted quad, IPv6 as its /64, non-public ranges suppressed.

- IPv4 in canonical text (leading zeros dropped): ``010.001.002.003`` ->
  ``10.1.2.3``; a port is dropped: ``203.0.113.7:443`` -> ``203.0.113.7``;
- IPv6 to the /64 prefix a household's devices share while privacy addresses
  rotate inside it: ``2001:DB8:1:2:a:b:c:d`` -> ``2001:db8:1:2::/64``
  (brackets, zone ids and ports dropped);
- IPv4-mapped IPv6 is IPv4: ``::ffff:192.0.2.1`` -> ``192.0.2.1``;
- ``suppressed = "private_ip"`` for addresses that never identify anyone on
  the internet: private (10/8, 172.16/12, 192.168/16, fc00::/7), loopback,
  link-local, unspecified, multicast, reserved (240/4, broadcast), carrier-grade
  NAT shared space 100.64/10 (RFC 6598: the operator's side of a NAT, never a
  subscriber's public address; the public side of a carrier NAT is found by
  the graph stage as a hub), benchmarking 198.18/15, IETF protocol space
  192.0.0/24, and the documentation ranges 192.0.2/24, 198.51.100/24,
  203.0.113/24, 2001:db8::/32 and 3fff::/20 (RFC 5737, 3849, 9637);
- anything else is kept as text with ``suppressed = "invalid"``.

IPv4 is parsed with vectorised string kernels and integer range checks; IPv6
(usually the minority) with ``socket.inet_pton`` per distinct value.
"""

from __future__ import annotations

import ipaddress
import socket

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from linkgraph.normalize.text import (
    TEXT,
    apply_where,
    arrow_flags,
    arrow_text,
    as_text,
    extract,
    map_distinct,
)

PRIVATE_IP = "private_ip"

#: IPv4 ranges that are not a public identity: (network, prefix length)
NON_PUBLIC_V4: tuple[tuple[str, int], ...] = (
    ("0.0.0.0", 8), ("10.0.0.0", 8), ("100.64.0.0", 10), ("127.0.0.0", 8),
    ("169.254.0.0", 16), ("172.16.0.0", 12), ("192.0.0.0", 24), ("192.0.2.0", 24),
    ("192.88.99.0", 24), ("192.168.0.0", 16), ("198.18.0.0", 15), ("198.51.100.0", 24),
    ("203.0.113.0", 24), ("224.0.0.0", 4), ("240.0.0.0", 4),
)
#: IPv6 ranges that are not a public identity (all /64 or shorter)
NON_PUBLIC_V6: tuple[tuple[str, int], ...] = (
    ("::", 64),  # unspecified, loopback, IPv4-compatible (mapped ones are IPv4 before this)
    ("100::", 64), ("2001:db8::", 32), ("3fff::", 20), ("fc00::", 7), ("fe80::", 10),
    ("fec0::", 10), ("ff00::", 8), ("2001:2::", 48), ("2001:10::", 28),
)

_V4 = r"^(?P<a>[0-9]{1,3})\.(?P<b>[0-9]{1,3})\.(?P<c>[0-9]{1,3})\.(?P<d>[0-9]{1,3})(?::[0-9]{1,5})?$"


def _ranges(table: tuple[tuple[str, int], ...], bits: int) -> tuple[np.ndarray, np.ndarray]:
    """(start, end) arrays of the networks, as integers of the top ``bits`` bits."""
    starts, ends = [], []
    for network, prefix in table:
        net = ipaddress.ip_network(f"{network}/{prefix}")
        top = int(net.network_address) >> (net.max_prefixlen - bits)
        size = 1 << max(bits - prefix, 0)
        starts.append(top)
        ends.append(top + size - 1)
    return np.array(starts, dtype=np.uint64), np.array(ends, dtype=np.uint64)


_V4_RANGES = _ranges(NON_PUBLIC_V4, 32)
_V6_RANGES = _ranges(NON_PUBLIC_V6, 64)


def _in_ranges(values: np.ndarray, ranges: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    starts, ends = ranges
    hit = np.zeros(len(values), dtype=bool)
    for start, end in zip(starts, ends, strict=True):
        hit |= (values >= start) & (values <= end)
    return hit


def normalize_ips(values: pd.Series, *, distinct: bool = False) -> pd.DataFrame:
    """IP addresses -> ``value`` (IPv4 or IPv6 /64) and ``suppressed``.

    Args:
        values: raw IP addresses (any index; NA and blanks stay NA).
        distinct: the non-NA values are distinct already (not hashed again).

    Returns:
        A frame aligned with ``values``: ``value`` and ``suppressed`` (NA,
        ``private_ip`` or ``invalid``).

    >>> ips = pd.Series(["81.2.69.160", "2a02:6b8:0:1::abcd", "::ffff:81.2.69.160",
    ...                  "192.168.0.1", "[2a02:6b8:0:1:5::9]:443", "nope"])
    >>> normalize_ips(ips).to_numpy().tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['81.2.69.160', <NA>], ['2a02:6b8:0:1::/64', <NA>], ['81.2.69.160', <NA>],
     ['192.168.0.1', 'private_ip'], ['2a02:6b8:0:1::/64', <NA>], ['nope', 'invalid']]
    """
    result = map_distinct(as_text(values), _normalize_distinct, distinct=distinct)
    assert isinstance(result, pd.DataFrame)
    return result


def _normalize_distinct(raw: pd.Series) -> pd.DataFrame:
    text = raw.str.strip().str.lower()
    # IPv4-mapped addresses: the capture runs on the few values that may be one
    text = apply_where(text, _contains(text, "::ffff:"), lambda t: extract(
        t, r"^\[?::ffff:(?:0{1,4}:)?(?P<v4>[0-9]{1,3}(?:\.[0-9]{1,3}){3})\]?$")["v4"].fillna(t))
    hex_mapped = np.flatnonzero(_contains(text, "ffff:"))
    if len(hex_mapped):  # "::ffff:c000:201" is 192.0.2.1 too
        text = text.copy()
        text.iloc[hex_mapped] = [_mapped_v4(v) for v in text.iloc[hex_mapped].to_numpy(dtype=object)]
    value = text.copy()
    suppressed = pd.Series(pd.NA, index=raw.index, dtype=TEXT)
    known = np.zeros(len(text), dtype=bool)

    octets = extract(text, _V4)
    is_v4 = np.array(octets["a"].notna(), dtype=bool)
    if is_v4.any():
        rows = np.flatnonzero(is_v4)
        parts = np.stack([_integers(octets[k].iloc[rows]) for k in "abcd"], axis=1)
        ok = (parts <= 255).all(axis=1)
        idx = rows[ok]
        parts = parts[ok]
        number = (parts[:, 0] << 24 | parts[:, 1] << 16 | parts[:, 2] << 8 | parts[:, 3])
        # most addresses are written canonically already (the text is the value): only
        # those with leading zeros or a port are rebuilt from their numbers
        rebuild = ~arrow_flags(pc.match_substring_regex(arrow_text(text.iloc[idx]), _CANONICAL_V4))
        if rebuild.any():
            redo = parts[rebuild]
            canonical = pd.Series(redo[:, 0].astype(str), dtype=TEXT)
            for k in (1, 2, 3):
                canonical = canonical + "." + pd.Series(redo[:, k].astype(str), dtype=TEXT)
            value.iloc[idx[rebuild]] = canonical.to_numpy()
        private = _in_ranges(number.astype(np.uint64), _V4_RANGES)
        suppressed.iloc[idx[private]] = PRIVATE_IP
        known[idx] = True

    maybe_v6 = ~known & np.array(text.str.contains(":", regex=False).fillna(False), dtype=bool)
    if maybe_v6.any():
        idx = np.flatnonzero(maybe_v6)
        candidates = text[maybe_v6]
        # most addresses are bare: the regex capture runs on the others only
        bare = arrow_flags(pc.match_substring_regex(arrow_text(candidates), "^[0-9a-f:.]+$"))
        cleaned = candidates.copy() if bare.all() else candidates.where(bare, extract(
            candidates, r"^\[?(?P<addr>[0-9a-f:.]+)(?:%[^\]]*)?(?:/64)?(?:\](?::[0-9]{1,5})?)?$"
        )["addr"])
        ok, top = _tops64(cleaned)
        top = top[ok]
        idx = idx[ok]
        # the prefixes' text put in place inside Arrow (no Python string per value)
        at = np.zeros(len(value), dtype=bool)
        at[idx] = True
        value = pd.Series(TEXT.__from_arrow__(pa.chunked_array([pc.replace_with_mask(
            arrow_text(value.astype(TEXT)), pa.array(at), _prefix_texts(top))])), index=value.index)
        private = _in_ranges(top, _V6_RANGES)
        suppressed.iloc[idx[private]] = PRIVATE_IP
        known[idx] = True
    suppressed = suppressed.mask(~known, "invalid")
    return pd.DataFrame({"value": value.astype(TEXT), "suppressed": suppressed})


#: an IPv4 address as its canonical text: no leading zeros, no port (octets <= 255 are
#: checked on the numbers)
_CANONICAL_V4 = r"^(?:(?:0|[1-9][0-9]{0,2})\.){3}(?:0|[1-9][0-9]{0,2})$"


def _contains(text: pd.Series, literal: str) -> np.ndarray:
    """True where the value contains ``literal`` (False for NA)."""
    return arrow_flags(pc.match_substring(arrow_text(text), literal)) if len(text) else (
        np.zeros(0, dtype=bool))


def _integers(digits: pd.Series) -> np.ndarray:
    """Decimal digit strings (no NA) as int64, parsed by Arrow."""
    return np.asarray(pc.cast(arrow_text(digits), pa.int64()).to_numpy(zero_copy_only=False),
                      dtype=np.int64)


def _tops64(addresses: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(parsed, the top 64 bits) of IPv6 addresses: :func:`_top64` of each.

    Addresses written in full (eight groups of 1-4 hex digits, the common
    form) are read in numpy; the others (``::``, an IPv4 tail) by
    ``socket.inet_pton`` one by one.
    """
    n = len(addresses)
    ok = np.zeros(n, dtype=bool)
    top = np.zeros(n, dtype=np.uint64)
    if not n:
        return ok, top
    array = arrow_text(addresses)
    full = arrow_flags(pc.match_substring_regex(array, "^[0-9a-f]{1,4}(?::[0-9a-f]{1,4}){7}$"))
    rows = np.flatnonzero(full)
    if len(rows):
        groups = pc.list_flatten(pc.split_pattern(array.take(pa.array(rows)), ":"))
        first4 = (np.arange(len(rows))[:, None] * 8 + np.arange(4)).ravel()
        padded = pc.utf8_lpad(groups.take(pa.array(first4)), width=4, padding="0")
        digits = np.frombuffer(padded.cast(pa.large_string()).buffers()[2], dtype=np.uint8,
                               count=len(first4) * 4)
        nibbles = _HEX_VALUE[digits].reshape(len(rows), 16).astype(np.uint64)
        value = np.zeros(len(rows), dtype=np.uint64)
        for i in range(16):
            value = (value << np.uint64(4)) | nibbles[:, i]
        ok[rows] = True
        top[rows] = value
    rest = np.flatnonzero(~full)
    tops = [_top64(v) for v in addresses.iloc[rest].to_numpy(dtype=object, na_value=None)]
    ok[rest] = [t is not None for t in tops]
    top[rest] = np.array([t if t is not None else 0 for t in tops], dtype=np.uint64)
    return ok, top


#: the value of each hex digit's byte (lower case; the others are never read)
_HEX_VALUE = np.zeros(256, dtype=np.uint8)
_HEX_VALUE[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)


def _top64(address: str | None) -> int | None:
    if address is None:
        return None
    try:
        packed = socket.inet_pton(socket.AF_INET6, address)
    except OSError:
        return None
    return int.from_bytes(packed[:8], "big")


def _prefix_text(top: int) -> str:
    return str(ipaddress.IPv6Network((int(top) << 64, 64)))


#: hextets as ipaddress writes them (lower case, no leading zeros)
_HEXTETS = pa.array([f"{h:x}" for h in range(1 << 16)], type=pa.large_string())


def _prefix_texts(tops: np.ndarray) -> pa.Array:
    """``_prefix_text`` of many /64 prefixes at once, in Arrow (``large_string``).

    The lower 64 bits are zero, so RFC 5952's longest zero run is the trailing
    one (it always beats a run inside the first four hextets): the text is the
    first four hextets without their trailing zero ones, then ``::/64``.
    """
    tops = tops.astype(np.uint64)
    hextets = [((tops >> np.uint64(48 - 16 * i)) & np.uint64(0xFFFF)).astype(np.int64)
               for i in range(4)]
    empty = pa.scalar("", pa.large_string())
    trailing = np.ones(len(tops), dtype=bool)
    pieces: list[pa.Array] = []
    for i in (3, 2, 1, 0):
        trailing &= hextets[i] == 0
        text = _HEXTETS.take(pa.array(hextets[i]))
        if i:
            text = pc.binary_join_element_wise(pa.scalar(":", pa.large_string()), text, empty)
        pieces.insert(0, pc.if_else(pa.array(trailing), empty, text))
    # a row of only empty pieces (the prefix ::/64) starts with its "::"
    return pc.binary_join_element_wise(*pieces, pa.scalar("::/64", pa.large_string()), empty)


def _mapped_v4(address: str) -> str:
    """The IPv4 inside an IPv4-mapped IPv6 address, else the address unchanged."""
    try:
        mapped = ipaddress.IPv6Address(address.strip("[]")).ipv4_mapped
    except ValueError:
        return address
    return address if mapped is None else str(mapped)
