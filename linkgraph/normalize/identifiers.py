"""The identifiers frame: every identifier of every account, canonical and masked.

Sources, kind and ``source`` label:

============================== =========== ===========================
input column                   kind        source
============================== =========== ===========================
accounts.email                 email       ``accounts.email``
accounts.phone (+ country)     phone       ``accounts.phone``
accounts.device_id             device      ``accounts.device_id``
accounts.registration_ip       ip          ``accounts.registration_ip``
accounts.full_name             name        ``accounts.full_name``
addresses line1..country       address     ``addresses``
addresses.recipient_name       name        ``addresses.recipient_name``
payments.fingerprint           card        ``payments.fingerprint``
payments bin+last4+expiry      card_digits ``payments.card_digits`` (no fingerprint only)
payments.holder_name           name        ``payments.holder_name``
logins.ip                      ip          ``logins.ip``
logins.device_id               device      ``logins.device_id``
============================== =========== ===========================

``first_seen``/``last_seen``: accounts.created_at for the account's own
fields, the sign-in times for logins, the times of the orders that used the
address or payment method (``address_id``/``payment_id``); NaT when unknown.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd

from linkgraph import schemas as S
from linkgraph.config import NormalizeConfig
from linkgraph.engine import LOCAL, Engine
from linkgraph.errors import InputError
from linkgraph.load import Tables
from linkgraph.mask import mask_values
from linkgraph.normalize.address import ADDRESS_FIELDS, normalize_addresses
from linkgraph.normalize.device import normalize_devices
from linkgraph.normalize.email import (
    DEFAULT_HYPHEN_TAG_DOMAINS,
    DEFAULT_PLUS_TAG_DOMAINS,
    normalize_emails,
)
from linkgraph.normalize.ip import normalize_ips
from linkgraph.normalize.junk import JUNK, junk_values
from linkgraph.normalize.name import normalize_names
from linkgraph.normalize.payment import card_digits, normalize_fingerprints
from linkgraph.normalize.phone import normalize_phones
from linkgraph.normalize.text import TEXT, as_text, constant

logger = logging.getLogger(__name__)

_LAST4 = "_last4"  # the card's last digits, carried for the card mask only
_ROW_COLUMNS = (S.ACCOUNT_ID, S.KIND, S.VALUE, S.SUPPRESSED, S.FIRST_SEEN, S.LAST_SEEN, S.SOURCE,
                _LAST4)
_TIME = "datetime64[us, UTC]"
_USED_COLUMNS = {
    "accounts": (S.ACCOUNT_ID, S.CREATED_AT, S.EMAIL, S.PHONE, S.FULL_NAME, S.REGISTRATION_IP,
                 S.DEVICE_ID, S.COUNTRY),
    "addresses": (S.ACCOUNT_ID, S.ADDRESS_ID, S.RECIPIENT_NAME, S.LINE1, S.LINE2, S.CITY,
                  S.POSTAL_CODE, S.COUNTRY),
    "payments": (S.ACCOUNT_ID, S.PAYMENT_ID, S.FINGERPRINT, S.CARD_BIN, S.CARD_LAST4,
                 S.CARD_EXPIRY, S.HOLDER_NAME),
    "logins": (S.ACCOUNT_ID, S.IP, S.DEVICE_ID, S.SEEN_AT),
    "orders": (S.ACCOUNT_ID, S.CREATED_AT, S.ADDRESS_ID, S.PAYMENT_ID),
}


def normalize_identifiers(
    tables: Tables, *, config: NormalizeConfig, engine: Engine = LOCAL
) -> pd.DataFrame:
    """Tables -> the identifiers frame, one row per (account_id, kind, value).

    Reads accounts (email, phone, country, device_id, registration_ip,
    full_name, created_at), addresses, payments, logins and orders
    (created_at, address_id, payment_id); see the module docstring for which
    column gives which kind.

    Args:
        tables: the loaded input tables.
        config: normalisation settings (junk lists, default phone region...).
        engine: where the per-value normalisers run (``linkgraph.engine``).

    Returns:
        ``schemas.IDENTIFIER_COLUMNS``: ``account_id, kind, value`` (the
        canonical key), ``masked`` (display form), ``first_seen``,
        ``last_seen`` (UTC, NaT when unknown), ``source`` (the first of the
        sources in sorted order), ``suppressed`` (NA when the value may
        link, else ``junk``, ``invalid``, ``private_ip`` or ``pickup_point``);
        sorted by account_id, kind, value.

    Raises:
        InputError: a table lacks a required column (all listed at once);
            missing optional columns count as empty.

    >>> from linkgraph.load import Tables
    >>> from linkgraph.schemas import INPUT_TABLES
    >>> empty = {t: pd.DataFrame(columns=list(c)) for t, (_, c) in INPUT_TABLES.items()}
    >>> accounts = pd.DataFrame({"account_id": ["a1", "a2"], "email": ["J.Doe@gmail.com", "n/a"],
    ...                          "phone": ["8 912 345-67-89", None], "country": ["RU", "RU"]})
    >>> tables = Tables(**{**empty, "accounts": accounts, "rejects": pd.DataFrame()})
    >>> ids = normalize_identifiers(tables, config=NormalizeConfig())
    >>> ids[["account_id", "kind", "value", "masked", "suppressed"]].to_numpy().tolist()
    ... # doctest: +NORMALIZE_WHITESPACE
    [['a1', 'email', 'jdoe@gmail.com', 'j***@gmail.com', nan],
     ['a1', 'phone', '+79123456789', '+7********89', nan],
     ['a2', 'email', 'n/a', '***', 'junk']]
    """
    frames = _complete(tables)
    parts = [
        *_account_rows(frames["accounts"], config, engine),
        *_address_rows(frames["addresses"], frames["orders"], config, engine),
        *_payment_rows(frames["payments"], frames["orders"]),
        *_login_rows(frames["logins"]),
    ]
    rows = pd.concat([p for p in parts if len(p)] or [_empty_rows()], ignore_index=True)
    rows = rows[np.array(rows[S.VALUE].notna() & rows[S.ACCOUNT_ID].notna(), dtype=bool)]
    rows = _normalize_deferred(rows.reset_index(drop=True), engine)
    rows = rows[np.array(rows[S.VALUE].notna(), dtype=bool)]
    identifiers = _aggregate(rows, config)
    logger.info("normalize: %d identifiers of %d accounts", len(identifiers),
                identifiers[S.ACCOUNT_ID].nunique())
    return identifiers


def _complete(tables: Tables) -> dict[str, pd.DataFrame]:
    """The tables this stage reads, optional columns added as NA; missing required ones raise."""
    missing, complete = [], {}
    for table in _USED_COLUMNS:
        frame = getattr(tables, table)
        required, columns = S.INPUT_TABLES[table]
        missing += [f"{table}.{c}" for c in required if c not in frame.columns]
        absent = [c for c in columns if c not in frame.columns]
        complete[table] = frame.assign(**{c: pd.Series(pd.NA, index=frame.index, dtype=object)
                                          for c in absent}) if absent else frame
    if missing:
        raise InputError(
            f"normalize needs columns that the loaded tables lack: {', '.join(missing)}. "
            "Load the tables with linkgraph.load.load_tables, which checks the input contract."
        )
    return complete


def _empty_rows() -> pd.DataFrame:
    return pd.DataFrame({
        S.ACCOUNT_ID: pd.Series(dtype=TEXT), S.KIND: pd.Series(dtype=TEXT),
        S.VALUE: pd.Series(dtype=TEXT), S.SUPPRESSED: pd.Series(dtype=TEXT),
        S.FIRST_SEEN: pd.Series(dtype=_TIME), S.LAST_SEEN: pd.Series(dtype=_TIME),
        S.SOURCE: pd.Series(dtype=TEXT), _LAST4: pd.Series(dtype=TEXT),
    })


def _utc(values: pd.Series) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype(_TIME)
    return pd.to_datetime(values, utc=True, errors="coerce").astype(_TIME)


def _rows(
    account_ids: pd.Series, kind: str, normalized: pd.DataFrame, first: pd.Series,
    last: pd.Series, source: str, last4: pd.Series | None = None,
) -> pd.DataFrame:
    n = len(account_ids)

    def column(values: pd.Series) -> pd.Series:
        return values.reset_index(drop=True)

    return pd.DataFrame({
        S.ACCOUNT_ID: column(as_text(account_ids)),
        S.KIND: constant(kind, n),
        S.VALUE: column(normalized["value"].astype(TEXT)),
        S.SUPPRESSED: column(normalized["suppressed"].astype(TEXT)),
        S.FIRST_SEEN: column(_utc(first)),
        S.LAST_SEEN: column(_utc(last)),
        S.SOURCE: constant(source, n),
        _LAST4: column(as_text(last4)) if last4 is not None else _missing(n),
    })


def _missing(n: int) -> pd.Series:
    return constant("", n).where(np.zeros(n, dtype=bool))


def _account_rows(
    accounts: pd.DataFrame, config: NormalizeConfig, engine: Engine
) -> list[pd.DataFrame]:
    ids, created = accounts[S.ACCOUNT_ID], accounts[S.CREATED_AT]
    emails = engine.map_rows(partial(
        _emails, plus=DEFAULT_PLUS_TAG_DOMAINS + config.email_plus_tag_domains,
        hyphen=DEFAULT_HYPHEN_TAG_DOMAINS + config.email_hyphen_tag_domains,
    ), accounts[[S.EMAIL]])
    phones = engine.map_rows(partial(_phones, default_region=config.default_country),
                             accounts[[S.PHONE, S.COUNTRY]])
    return [
        _rows(ids, S.K_EMAIL, emails, created, created, "accounts.email"),
        _rows(ids, S.K_PHONE, phones, created, created, "accounts.phone"),
        _rows(ids, S.K_DEVICE, _raw(accounts[S.DEVICE_ID]), created, created,
              "accounts.device_id"),
        _rows(ids, S.K_IP, _raw(accounts[S.REGISTRATION_IP]), created, created,
              "accounts.registration_ip"),
        _rows(ids, S.K_NAME, _raw(accounts[S.FULL_NAME]), created, created, "accounts.full_name"),
    ]


def _order_times(orders: pd.DataFrame, key: str) -> pd.DataFrame:
    """First and last order time per (account_id, ``key``)."""
    used = orders[[S.ACCOUNT_ID, key]].assign(_at=_utc(orders[S.CREATED_AT]))
    used = used[np.array(used[key].notna() & used[S.ACCOUNT_ID].notna(), dtype=bool)]
    used = used.astype({S.ACCOUNT_ID: TEXT, key: TEXT})
    return used.groupby([S.ACCOUNT_ID, key], sort=False).agg(
        _first=("_at", "min"), _last=("_at", "max")
    )


def _with_order_times(table: pd.DataFrame, orders: pd.DataFrame, key: str) -> pd.DataFrame:
    times = _order_times(orders, key).reset_index()
    keys = pd.DataFrame({S.ACCOUNT_ID: as_text(table[S.ACCOUNT_ID]).to_numpy(),
                         key: as_text(table[key]).to_numpy()}).astype(TEXT)
    found = keys.merge(times, on=[S.ACCOUNT_ID, key], how="left", sort=False)
    # .array keeps the UTC dtype (to_numpy would make Timestamp objects)
    return table.assign(_first=found["_first"].array, _last=found["_last"].array)


def _address_rows(
    addresses: pd.DataFrame, orders: pd.DataFrame, config: NormalizeConfig, engine: Engine
) -> list[pd.DataFrame]:
    if not len(addresses):
        return []
    addresses = _with_order_times(addresses, orders, S.ADDRESS_ID)
    ids, first, last = addresses[S.ACCOUNT_ID], addresses["_first"], addresses["_last"]
    keys = engine.map_rows(partial(normalize_addresses, pickup_keywords=config.pickup_keywords),
                           addresses[[c for c in ADDRESS_FIELDS if c in addresses.columns]])
    return [
        _rows(ids, S.K_ADDRESS, keys, first, last, "addresses"),
        _rows(ids, S.K_NAME, _raw(addresses[S.RECIPIENT_NAME]), first, last,
              "addresses.recipient_name"),
    ]


def _payment_rows(payments: pd.DataFrame, orders: pd.DataFrame) -> list[pd.DataFrame]:
    if not len(payments):
        return []
    payments = _with_order_times(payments, orders, S.PAYMENT_ID)
    ids, first, last = payments[S.ACCOUNT_ID], payments["_first"], payments["_last"]
    fingerprints = normalize_fingerprints(payments[S.FINGERPRINT])
    digits = card_digits(payments[S.CARD_BIN], payments[S.CARD_LAST4], payments[S.CARD_EXPIRY])
    # bin + last4 + expiry stand in only when the provider gave no fingerprint
    digits = digits.assign(value=digits["value"].where(fingerprints["value"].isna()))
    return [
        _rows(ids, S.K_CARD, fingerprints, first, last, "payments.fingerprint",
              last4=payments[S.CARD_LAST4]),
        _rows(ids, S.K_CARD_DIGITS, digits, first, last, "payments.card_digits"),
        _rows(ids, S.K_NAME, _raw(payments[S.HOLDER_NAME]), first, last,
              "payments.holder_name"),
    ]


def _login_rows(logins: pd.DataFrame) -> list[pd.DataFrame]:
    if not len(logins):
        return []
    seen = logins[[S.ACCOUNT_ID, S.IP, S.DEVICE_ID]].astype(TEXT).assign(_at=_utc(logins[S.SEEN_AT]))
    out = []
    for column, kind in ((S.IP, S.K_IP), (S.DEVICE_ID, S.K_DEVICE)):
        # many sign-ins per (account, value): collapse before normalising
        used = seen[[S.ACCOUNT_ID, column, "_at"]].dropna(subset=[S.ACCOUNT_ID, column])
        spans = used.groupby([S.ACCOUNT_ID, column], sort=False)["_at"].agg(["min", "max"])
        spans = spans.reset_index()
        out.append(_rows(spans[S.ACCOUNT_ID], kind, _raw(spans[column]), spans["min"],
                         spans["max"], f"logins.{column}"))
    return out


#: kinds read from several tables with one-column normalisers: the raw values of
#: every source are normalised together, each distinct value once
_DEFERRED = {S.K_NAME: normalize_names, S.K_DEVICE: normalize_devices, S.K_IP: normalize_ips}


def _raw(values: pd.Series) -> pd.DataFrame:
    """Raw values of a deferred kind, normalised later with the other sources of the kind."""
    text = as_text(values)
    return pd.DataFrame({"value": text, "suppressed": pd.Series(pd.NA, index=text.index,
                                                                dtype=TEXT)})


def _normalize_deferred(rows: pd.DataFrame, engine: Engine) -> pd.DataFrame:
    kinds = rows[S.KIND].to_numpy(dtype=object)
    deferred = np.isin(kinds, list(_DEFERRED))
    parts = [rows[~deferred]]
    for kind, normalizer in _DEFERRED.items():
        of_kind = rows[kinds == kind]
        if len(of_kind):
            normalized = engine.map_rows(partial(_one_column, normalizer=normalizer),
                                         of_kind[[S.VALUE]])
            parts.append(of_kind.assign(**{S.VALUE: normalized["value"],
                                           S.SUPPRESSED: normalized["suppressed"]}))
    return pd.concat(parts, ignore_index=True)


# Row rules for Engine.map_rows: the normalisers themselves, given their columns
# by name, so that every engine runs the one definition of each rule.
def _emails(rows: pd.DataFrame, *, plus: tuple[str, ...], hyphen: tuple[str, ...]) -> pd.DataFrame:
    return normalize_emails(rows[S.EMAIL], plus_tag_domains=plus, hyphen_tag_domains=hyphen)


def _phones(rows: pd.DataFrame, *, default_region: str | None) -> pd.DataFrame:
    return normalize_phones(rows[S.PHONE], rows[S.COUNTRY], default_region=default_region)


def _one_column(rows: pd.DataFrame, *, normalizer: Callable[[pd.Series], pd.DataFrame]
                ) -> pd.DataFrame:
    return normalizer(rows[S.VALUE])


def _codes(values: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """Integer codes in sorted order of the values (NA last) and the sorted distinct values."""
    codes, uniques = pd.factorize(values, sort=True)
    distinct = pd.Series(uniques, dtype=TEXT)
    padded = pd.concat([distinct, pd.Series([pd.NA], dtype=TEXT)], ignore_index=True)
    return np.where(codes < 0, len(distinct), codes).astype(np.int64), padded


def _decode(codes: np.ndarray, padded: pd.Series) -> pd.Series:
    """Codes back to text (an Arrow ``take``, no Python objects)."""
    return padded.take(codes).reset_index(drop=True)


def _aggregate(rows: pd.DataFrame, config: NormalizeConfig) -> pd.DataFrame:
    """One row per (account_id, kind, value), sorted; grouping runs on integer codes."""
    account, accounts = _codes(rows[S.ACCOUNT_ID])
    kind, kinds = _codes(rows[S.KIND])
    value, values = _codes(rows[S.VALUE])
    # codes are in sorted order, so the combined key sorts like (account_id, kind, value)
    key = (account * len(kinds) + kind) * len(values) + value
    source, sources = _codes(rows[S.SOURCE])
    suppressed, reasons = _codes(rows[S.SUPPRESSED])
    last4, last4s = _codes(rows[_LAST4])
    grouped = pd.DataFrame({
        "key": key, "account": account, "kind": kind, "value": value,
        S.FIRST_SEEN: rows[S.FIRST_SEEN].reset_index(drop=True),
        S.LAST_SEEN: rows[S.LAST_SEEN].reset_index(drop=True),
        "source": source, "suppressed": suppressed, "last4": last4,
    }).groupby("key", sort=True).agg(
        account=("account", "first"), kind=("kind", "first"), value=("value", "first"),
        first_seen=(S.FIRST_SEEN, "min"), last_seen=(S.LAST_SEEN, "max"),
        source=("source", "min"), suppressed=("suppressed", "min"), last4=("last4", "min"),
    )
    identifiers = pd.DataFrame({
        S.ACCOUNT_ID: _decode(grouped["account"].to_numpy(), accounts),
        S.KIND: _decode(grouped["kind"].to_numpy(), kinds),
        S.VALUE: _decode(grouped["value"].to_numpy(), values),
        S.FIRST_SEEN: grouped["first_seen"].reset_index(drop=True).astype(_TIME),
        S.LAST_SEEN: grouped["last_seen"].reset_index(drop=True).astype(_TIME),
        S.SOURCE: _decode(grouped["source"].to_numpy(), sources),
        S.SUPPRESSED: _decode(grouped["suppressed"].to_numpy(), reasons),
    })
    masked, junk = _masks_and_junk(grouped, kinds, values, last4s, config)
    identifiers[S.MASKED] = masked
    # junk outranks the normalisers' reasons: "n/a" is a placeholder before it is invalid
    identifiers[S.SUPPRESSED] = identifiers[S.SUPPRESSED].mask(junk, JUNK)
    out = identifiers[list(S.IDENTIFIER_COLUMNS)]
    text_dtype = pd.Series(["x"]).dtype  # the installed pandas' default text dtype
    return out.astype({c: text_dtype for c in (S.ACCOUNT_ID, S.KIND, S.VALUE, S.MASKED, S.SOURCE,
                                               S.SUPPRESSED)})


def _masks_and_junk(
    grouped: pd.DataFrame, kinds: pd.Series, values: pd.Series, last4s: pd.Series,
    config: NormalizeConfig,
) -> tuple[pd.Series, np.ndarray]:
    """The masked display and the junk flag, judged once per distinct (kind, value)."""
    kind_codes = grouped["kind"].to_numpy()
    value_codes = grouped["value"].to_numpy()
    masked = np.full(len(grouped), None, dtype=object)
    junk = np.zeros(len(grouped), dtype=bool)
    for code in np.unique(kind_codes):
        sel = kind_codes == code
        distinct, inverse = np.unique(value_codes[sel], return_inverse=True)
        kind = str(kinds[code])
        text = _decode(distinct, values)
        card_last4 = None
        if kind == S.K_CARD:
            # one display per card: the smallest last4 any account gave for it
            smallest = pd.Series(grouped["last4"].to_numpy()[sel]).groupby(inverse).min()
            card_last4 = _decode(smallest.to_numpy(), last4s)
        shown = mask_values(kind, text, last4=card_last4)
        masked[sel] = shown.to_numpy(dtype=object)[inverse]
        flags = junk_values(kind, text, extra=config.junk_values,
                            min_device_length=config.min_device_length).to_numpy()
        junk[sel] = flags[inverse]
    return pd.Series(masked, dtype=TEXT), junk
