"""Writing identifiers the many ways people write them, vectorised.

Strings that are rendered once per entity (a person's phone in one of its
national formats, an address line) are numpy object arrays; strings rendered
once per event row (timestamps, IPv6 privacy addresses, ids) are built as
fixed-width byte matrices and handed to Arrow without a Python object per row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_ZERO = ord("0")
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
#: "0".."9999" as Python strings, to turn small integers into text by take
NUMBERS = np.array([str(i) for i in range(10000)], dtype=object)


#: a missing text cell, for ``np.where(mask, values, MISSING)`` (a typed stand-in for None)
MISSING = np.array(None, dtype=object)

def fixed_strings(chars: np.ndarray) -> pa.StringArray:
    """Arrow strings from an ``(n, width)`` uint8 matrix of ASCII codes, one row each.

    >>> fixed_strings(np.frombuffer(b"abcd", dtype=np.uint8).reshape(2, 2)).to_pylist()
    ['ab', 'cd']
    """
    n, width = chars.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(chars, dtype=np.uint8)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))


def decimal_digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded decimal digits of non-negative integers as an ``(n, width)`` ASCII matrix."""
    values = np.asarray(values, dtype=np.int64)
    out = np.empty((len(values), width), dtype=np.uint8)
    for col in range(width - 1, -1, -1):
        values, digit = np.divmod(values, 10)
        out[:, col] = digit + _ZERO
    return out


def hex_digits(values: np.ndarray, width: int) -> np.ndarray:
    """Zero-padded lower-case hex digits of unsigned integers as an ASCII matrix."""
    values = np.asarray(values, dtype=np.uint64)
    out = np.empty((len(values), width), dtype=np.uint8)
    for col in range(width - 1, -1, -1):
        out[:, col] = _HEX[(values & np.uint64(15)).astype(np.intp)]
        values = values >> np.uint64(4)
    return out


def _concat_columns(*parts: np.ndarray | bytes, n: int) -> np.ndarray:
    blocks = []
    for part in parts:
        if isinstance(part, bytes):
            blocks.append(np.broadcast_to(np.frombuffer(part, dtype=np.uint8), (n, len(part))))
        else:
            blocks.append(part)
    return np.concatenate(blocks, axis=1) if blocks else np.empty((n, 0), dtype=np.uint8)


def ids(prefix: str, seq: np.ndarray, width: int) -> pa.StringArray:
    """Identifiers such as ``u00000042``: a prefix and a zero-padded number.

    >>> ids("u", np.array([0, 42]), 4).to_pylist()
    ['u0000', 'u0042']
    """
    return fixed_strings(_concat_columns(prefix.encode(), decimal_digits(seq, width), n=len(seq)))


def iso_timestamps(seconds: np.ndarray) -> pa.StringArray:
    """ISO-8601 UTC strings (``2024-03-01T12:00:00Z``) from Unix seconds.

    Days to civil dates after H. Hinnant, "chrono-compatible low-level date algorithms".

    >>> iso_timestamps(np.array([0, 1709294400])).to_pylist()
    ['1970-01-01T00:00:00Z', '2024-03-01T12:00:00Z']
    """
    days, sod = np.divmod(np.asarray(seconds, dtype=np.int64), 86400)
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = np.where(mp < 10, mp + 3, mp - 9)
    year = yoe + era * 400 + (month <= 2)
    hour, rest = np.divmod(sod, 3600)
    minute, second = np.divmod(rest, 60)
    n = len(days)
    chars = _concat_columns(
        decimal_digits(year, 4), b"-", decimal_digits(month, 2), b"-", decimal_digits(day, 2),
        b"T", decimal_digits(hour, 2), b":", decimal_digits(minute, 2), b":",
        decimal_digits(second, 2), b"Z", n=n,
    )
    return fixed_strings(chars)


def uuids(high: np.ndarray, low: np.ndarray) -> pa.StringArray:
    """Version-4-shaped UUID strings from two random uint64 arrays.

    >>> uuids(np.array([0], dtype=np.uint64), np.array([0], dtype=np.uint64)).to_pylist()
    ['00000000-0000-4000-8000-000000000000']
    """
    high = (np.asarray(high, dtype=np.uint64) & np.uint64(0xFFFFFFFFFFFF0FFF)) | np.uint64(0x4000)
    low = (np.asarray(low, dtype=np.uint64) & np.uint64(0x3FFFFFFFFFFFFFFF)) | np.uint64(1 << 63)
    h, lo = hex_digits(high, 16), hex_digits(low, 16)
    n = len(h)
    return fixed_strings(_concat_columns(h[:, :8], b"-", h[:, 8:12], b"-", h[:, 12:], b"-",
                                         lo[:, :4], b"-", lo[:, 4:], n=n))


def ipv4(values: np.ndarray) -> pa.Array:
    """Dotted-quad strings from uint32 addresses.

    >>> ipv4(np.array([0x5D0A0001], dtype=np.uint32)).to_pylist()
    ['93.10.0.1']
    """
    values = np.asarray(values, dtype=np.uint32)
    octets = pa.array(NUMBERS[:256].astype(str))
    parts = [octets.take(pa.array((values >> np.uint32(s)) & np.uint32(255)))
             for s in (24, 16, 8, 0)]
    return pc.binary_join_element_wise(*parts, ".")


def ipv6(prefix: np.ndarray, interface: np.ndarray) -> pa.StringArray:
    """Full-form IPv6 strings from a 64-bit network prefix and a 64-bit interface id.

    >>> ipv6(np.array([0x2A0206B800000001], dtype=np.uint64), np.array([5], dtype=np.uint64)).to_pylist()
    ['2a02:06b8:0000:0001:0000:0000:0000:0005']
    """
    p, i = hex_digits(prefix, 16), hex_digits(interface, 16)
    groups: list[np.ndarray | bytes] = []
    for k, source in enumerate((p, p, p, p, i, i, i, i)):
        if k:
            groups.append(b":")
        col = (k % 4) * 4
        groups.append(source[:, col:col + 4])
    return fixed_strings(_concat_columns(*groups, n=len(p)))


def fill_template(template: str, digits: np.ndarray) -> np.ndarray:
    """Object array of strings: ``template`` with each ``#`` replaced by the next digit.

    ``digits`` is an ``(n, k)`` ASCII matrix with at least as many columns as ``#``s.

    >>> fill_template("(###) ###-####", decimal_digits(np.array([4155552671]), 10)).tolist()
    ['(415) 555-2671']
    """
    n = len(digits)
    out = np.empty((n, len(template)), dtype=np.uint8)
    next_digit = 0
    for col, char in enumerate(template):
        if char == "#":
            out[:, col] = digits[:, next_digit]
            next_digit += 1
        else:
            out[:, col] = ord(char)
    return fixed_strings(out).to_numpy(zero_copy_only=False)


def choose(choice: np.ndarray, options: list[np.ndarray]) -> np.ndarray:
    """Object array taking ``options[choice[i]][i]`` for each row (a vectorised switch)."""
    out = np.empty(len(choice), dtype=object)
    for k, option in enumerate(options):
        mask = choice == k
        out[mask] = option[mask]
    return out


def upper(values: np.ndarray) -> np.ndarray:
    """Upper-case an object array of strings (None stays None) through Arrow."""
    return pc.utf8_upper(pa.array(values, type=pa.string())).to_numpy(zero_copy_only=False)


def lower(values: np.ndarray) -> np.ndarray:
    """Lower-case an object array of strings (None stays None) through Arrow."""
    return pc.utf8_lower(pa.array(values, type=pa.string())).to_numpy(zero_copy_only=False)


def capitalize(values: np.ndarray) -> np.ndarray:
    """Title-case an object array of strings through Arrow."""
    return pc.utf8_title(pa.array(values, type=pa.string())).to_numpy(zero_copy_only=False)
