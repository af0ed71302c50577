"""IP addresses: canonical IPv4, IPv6 /64, non-public ranges never identify anyone."""

from __future__ import annotations

import ipaddress

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from linkgraph.normalize.ip import _top64, _tops64, normalize_ips
from linkgraph.normalize.text import TEXT

# (raw, expected value, expected suppressed)
VARIANTS = [
    ("81.2.69.160", "81.2.69.160", None),
    (" 81.2.69.160 ", "81.2.69.160", None),
    ("081.002.069.160", "81.2.69.160", None),
    ("81.2.69.160:443", "81.2.69.160", None),
    ("::ffff:81.2.69.160", "81.2.69.160", None),
    ("2a02:6b8:0:1::abcd", "2a02:6b8:0:1::/64", None),
    ("2A02:06B8:0000:0001:0000:0000:0000:ABCD", "2a02:6b8:0:1::/64", None),
    ("2a02:6b8:0:1:5:6:7:8", "2a02:6b8:0:1::/64", None),  # privacy address, same /64
    ("[2a02:6b8:0:1::9]:8080", "2a02:6b8:0:1::/64", None),
    ("fe80::1%eth0", "fe80::/64", "private_ip"),
    ("2a02:6b8:0:1::/64", "2a02:6b8:0:1::/64", None),
    ("10.1.2.3", "10.1.2.3", "private_ip"),
    ("172.20.0.5", "172.20.0.5", "private_ip"),
    ("192.168.1.1", "192.168.1.1", "private_ip"),
    ("127.0.0.1", "127.0.0.1", "private_ip"),
    ("169.254.10.10", "169.254.10.10", "private_ip"),
    ("100.64.1.1", "100.64.1.1", "private_ip"),  # carrier-grade NAT inside space
    ("0.0.0.0", "0.0.0.0", "private_ip"),
    ("255.255.255.255", "255.255.255.255", "private_ip"),
    ("224.0.0.251", "224.0.0.251", "private_ip"),
    ("203.0.113.7", "203.0.113.7", "private_ip"),  # documentation range
    ("198.51.100.20", "198.51.100.20", "private_ip"),
    ("192.0.2.1", "192.0.2.1", "private_ip"),
    ("2001:db8:1:2::5", "2001:db8:1:2::/64", "private_ip"),
    ("::1", "::/64", "private_ip"),
    ("fd12:3456:789a:1::1", "fd12:3456:789a:1::/64", "private_ip"),
    ("100.63.255.255", "100.63.255.255", None),
    ("256.1.1.1", "256.1.1.1", "invalid"),
    ("1.2.3", "1.2.3", "invalid"),
    ("unknown", "unknown", "invalid"),
    ("2a02:6b8::zz", "2a02:6b8::zz", "invalid"),
]


@pytest.mark.parametrize(("raw", "value", "suppressed"), VARIANTS)
def test_ip_written_many_ways_gives_one_key(raw: str, value: str, suppressed: str | None):
    result = normalize_ips(pd.Series([raw]))
    assert result["value"].iloc[0] == value
    if suppressed is None:
        assert pd.isna(result["suppressed"].iloc[0])
    else:
        assert result["suppressed"].iloc[0] == suppressed


def test_missing_ip_stays_missing():
    assert normalize_ips(pd.Series([None, " "], dtype=object))["value"].isna().all()


@settings(max_examples=15, deadline=None)
@given(st.lists(st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)), min_size=1, max_size=40),
       st.randoms())
def test_random_addresses_agree_with_ipaddress_and_normalise_idempotently(addresses, rnd):
    raw = pd.Series([str(a) for a in addresses])
    once = normalize_ips(raw)
    for address, value in zip(addresses, once["value"], strict=True):
        if address.version == 4:
            assert value == str(address)
        elif address.ipv4_mapped is not None:
            assert value == str(address.ipv4_mapped)
        else:
            assert value == str(ipaddress.IPv6Network((int(address) >> 64 << 64, 64)))
    pd.testing.assert_frame_equal(normalize_ips(once["value"]), once)
    order = list(range(len(raw)))
    rnd.shuffle(order)
    pd.testing.assert_frame_equal(normalize_ips(raw.iloc[order]).sort_index(), once)


_HEXTET = st.integers(0, 0xFFFF).map(lambda h: f"{h:x}")
_ADDRESS_TEXT = st.one_of(
    st.lists(_HEXTET, min_size=8, max_size=8).map(":".join),  # the full form, fast path
    st.lists(st.sampled_from(["0", "00a", "0db8", "ffff", "12345", "g1", ""]),
             min_size=7, max_size=9).map(":".join),  # full-looking, valid or not
    st.integers(0, 2 ** 128 - 1).map(lambda n: str(ipaddress.IPv6Address(n))),  # "::" forms
    st.text(alphabet="0123456789abcdef:.", max_size=12),
)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(st.none(), _ADDRESS_TEXT), max_size=12))
def test_prefixes_read_in_numpy_are_those_inet_pton_reads(addresses: list) -> None:
    ok, top = _tops64(pd.Series(addresses, dtype=TEXT))
    expected = [_top64(a) for a in addresses]
    assert ok.tolist() == [t is not None for t in expected]
    assert top[ok].tolist() == [t for t in expected if t is not None]
