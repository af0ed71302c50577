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
payments bin+last4+expiry      card_digits ``payments.card_digits`` (with the holder's initials;
                                           no fingerprint, and the digits are not those of
                                           one fingerprinted card, whose fingerprint the row
                                           takes instead)
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
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from linkgraph import schemas as S
from linkgraph.codes import index_dtype
from linkgraph.config import NormalizeConfig
from linkgraph.engine import LOCAL, Engine
from linkgraph.errors import InputError
from linkgraph.load import Tables
from linkgraph.mask import mask_values
from linkgraph.normalize.device import normalize_devices
from linkgraph.normalize.email import (
    DEFAULT_HYPHEN_TAG_DOMAINS,
    DEFAULT_PLUS_TAG_DOMAINS,
    normalize_emails,
)
from linkgraph.normalize.frame import assemble
from linkgraph.normalize.grouping import (
    Coded,
    KindRows,
    SourceRows,
    decode,
    group_kind,
    narrow_codes,
    take_codes,
    text_codes,
)
from linkgraph.normalize.handed import HandedOver, given_account_codes, given_columns
from linkgraph.normalize.ip import normalize_ips
from linkgraph.normalize.junk import junk_values
from linkgraph.normalize.name import normalize_names
from linkgraph.normalize.sources import (
    account_rows,
    address_rows,
    login_rows,
    login_times,
    map_sliced,
    payment_rows,
)
from linkgraph.normalize.text import as_text

logger = logging.getLogger(__name__)

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
    tables: Tables | HandedOver, *, config: NormalizeConfig, engine: Engine = LOCAL
) -> pd.DataFrame:
    """Tables -> the identifiers frame, one row per (account_id, kind, value).

    Reads accounts (email, phone, country, device_id, registration_ip,
    full_name, created_at), addresses, payments, logins and orders
    (created_at, address_id, payment_id); see the module docstring for which
    column gives which kind.

    Args:
        tables: the loaded input tables, or a :class:`HandedOver` of them (each
            table then goes as soon as its rows are read). Tables whose
            ``identifier_rows`` an engine grouped where it read them
            (``Engine.load_tables(..., identifiers=)``) are only judged, masked and
            assembled here (and the frame gets ``schemas.VALUE_ACCOUNTS`` when the
            engine counted each value's accounts).
        config: normalisation settings (junk lists, default phone region...).
        engine: where the per-value normalisers run (``linkgraph.engine``).

    Returns:
        ``schemas.IDENTIFIER_COLUMNS``: ``account_id, kind, value`` (the
        canonical key), ``masked`` (display form), ``first_seen``,
        ``last_seen`` (UTC, NaT when unknown), ``source`` (the first of the
        sources in sorted order), ``suppressed`` (NA when the value may
        link, else ``junk``, ``invalid``, ``private_ip`` or ``pickup_point``);
        sorted by account_id, kind, value. ``account_id``, ``value`` and ``masked``
        are categoricals (int32 codes into their sorted distinct strings: a value
        of two kinds is one category), ``kind``, ``source`` and ``suppressed``
        categoricals of their few words; then ``schemas.IDENTIFIER_CODE_COLUMNS``
        (``account_code``, ``value_code``: int32, int64 past two billion; codes
        ascending with the strings, one value code per (kind, value)) for the graph stage.

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
    if isinstance(tables, HandedOver):
        grouped_given = tables.take_grouped()
        frames, (positions, coded) = tables.take(), tables.take_codes()
    else:
        grouped_given = tables.identifier_rows
        frames, positions, coded = {t: getattr(tables, t) for t in _USED_COLUMNS}, {}, {}
    if grouped_given is not None:
        # an engine grouped the kinds where it read the tables: judged and assembled here
        return _judged_and_assembled(list(grouped_given), frames["accounts"], config)
    frames = _complete(frames)
    del tables
    # what the load hashed already is not hashed again: the account ids of every table
    # (as positions in the sorted accounts), the sign-ins' IPs and devices
    given = given_account_codes(frames, positions)
    # Independent tables, sources and kinds run two at a time: their work is mostly in
    # Arrow kernels, which release the GIL (the results are collected in a fixed order)
    with ThreadPoolExecutor(max_workers=2 if engine.name == "local" else 1) as pool:
        # the load's codes of the columns it coded, read a column per task (the sources
        # wait for the sign-ins' strings to go: none starts before, to keep the peak down)
        read = [pool.submit(given_columns, frames, {name: codes}) for name, codes in coded.items()]
        columns = {name: coded_column for future in read
                   for name, coded_column in future.result().items()}
        del read
        sign_in: dict[str, Future[Coded]] = {
            column: _done(columns.pop(f"logins.{column}")) for column in (S.IP, S.DEVICE_ID)
            if f"logins.{column}" in columns}
        del positions, coded
        # the sign-ins, a third of the input, are read first, a column per task (each
        # column goes once coded), before the other tables' ids are hashed
        logins = frames.pop("logins")
        for column in (S.IP, S.DEVICE_ID) if given is not None else (S.ACCOUNT_ID, S.IP,
                                                                     S.DEVICE_ID):
            if column not in sign_in:
                sign_in[column] = pool.submit(narrow_codes, logins[column])
        first, last = login_times(logins, pool)
        del logins
        if given is None:
            account, account_ids = _account_codes(frames, pool, sign_in.pop(S.ACCOUNT_ID))
        else:
            account, account_ids = given
        del given
        sign_ins = login_rows(account["logins"], sign_in.pop(S.IP).result(),
                              sign_in.pop(S.DEVICE_ID).result(), first.result(), last.result())
        del first, last
        pa.default_memory_pool().release_unused()  # the sign-ins' strings, now read
        # the longest first (address keys), so that the two threads finish together
        sources = {
            "addresses": pool.submit(address_rows, frames["addresses"], frames["orders"],
                                     account, config, engine),
            "accounts": pool.submit(account_rows, frames["accounts"], account["accounts"],
                                    config, engine,
                                    ip=columns.pop(f"accounts.{S.REGISTRATION_IP}", None)),
            "payments": pool.submit(payment_rows, frames["payments"], frames["orders"],
                                    account),
        }
        del frames, account, columns
        # a kind is grouped and judged as soon as the sources it reads are in, while
        # the others still run; its source rows are let go once it is grouped (a future
        # keeps its result: each source's is taken from it and the future dropped)
        kinds: dict[str, Future[tuple[KindRows, tuple[pd.Series, np.ndarray] | None]]] = {}
        done: dict[str, list[tuple[str, SourceRows]]] = {"logins": sign_ins}
        del sign_ins
        pending: set[Future[Any]] = set(sources.values())
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for table in [t for t, future in sources.items() if future in finished]:
                done[table] = sources.pop(table).result()
                logger.debug("normalize: rows of %s built", table)
            del finished
            for kind, tables_read in _KIND_SOURCES.items():
                if kind not in kinds and all(t in done for t in tables_read):
                    parts = [part for table in _SOURCE_ORDER if table in tables_read
                             for part_kind, part in done[table] if part_kind == kind]
                    if parts:
                        kinds[kind] = pool.submit(_group_and_judge, kind, parts, config, engine)
                        pending.add(kinds[kind])
                    for table in tables_read:
                        done[table] = [row for row in done[table] if row[0] != kind]
                    del parts
            # what the finished work let go (a table once read, a kind's source rows once
            # grouped, the rules' working copies) goes back to the system now, not after
            # the stage: glibc keeps freed blocks of these sizes (at a million accounts the
            # stage peaked 0.1 GB higher with a return after each table alone)
            pa.default_memory_pool().release_unused()
        # every kind a source gives must be in _KIND_SOURCES, or its rows would be lost
        assert not any(done.values()), f"kinds without sources: {sorted(done)}"
        del sources, done, pending
        results = [kinds[kind].result() for kind in sorted(kinds)]
    del kinds
    grouped = [g for g, _ in results if len(g.account)]
    masks = [m for g, m in results if m is not None]
    del results
    # and the pages Arrow's pool kept from the source rows go back to the system (numpy,
    # which allocates the sorted codes next, cannot reuse them)
    pa.default_memory_pool().release_unused()
    return _assembled(grouped, masks, account_ids)


def _judged_and_assembled(grouped: list[KindRows], accounts: pd.DataFrame,
                          config: NormalizeConfig) -> pd.DataFrame:
    """The identifiers frame of kinds an engine grouped (``Tables.identifier_rows``: codes
    into the accounts' sorted ids), each kind's values masked and judged here."""
    given = given_account_codes({"accounts": accounts}, {})
    if given is None:
        raise InputError("the identifiers an engine grouped need the accounts sorted by a "
                         "unique, non-blank account_id, as the load returns them")
    account_ids = given[1]
    grouped = [g for g in grouped if len(g.account)]
    masks = [_mask_and_junk(g, config) for g in grouped]
    counts = [g.accounts for g in grouped if g.accounts is not None]
    counted = len(counts) == len(grouped) > 0
    identifiers = _assembled(grouped, masks, account_ids)
    if counted:
        # the engine's count of each value's accounts, at each row (value codes are the
        # kinds' codes one after the other, as the counts are)
        per_value = np.concatenate(counts).astype(np.int32)
        identifiers[S.VALUE_ACCOUNTS] = per_value[identifiers[S.VALUE_CODE].to_numpy()]
    return identifiers


def _assembled(grouped: list[KindRows], masks: list[tuple[pd.Series, np.ndarray]],
               account_ids: pd.Series) -> pd.DataFrame:
    """``frame.assemble``, logged."""
    identifiers = assemble(grouped, masks, account_ids)
    codes = identifiers[S.ACCOUNT_CODE].to_numpy()
    logger.info("normalize: %d identifiers of %d accounts", len(identifiers),
                int(np.count_nonzero(codes[1:] != codes[:-1])) + min(len(codes), 1))
    return identifiers


#: the tables each kind reads (module docstring), and the order their rows are pooled in
_KIND_SOURCES = {
    S.K_ADDRESS: ("addresses",),
    S.K_CARD: ("payments",),
    S.K_CARD_DIGITS: ("payments",),
    S.K_DEVICE: ("accounts", "logins"),
    S.K_EMAIL: ("accounts",),
    S.K_IP: ("accounts", "logins"),
    S.K_NAME: ("addresses", "accounts", "payments"),
    S.K_PHONE: ("accounts",),
}
_SOURCE_ORDER = ("addresses", "accounts", "payments", "logins")


def _group_and_judge(
    kind: str, parts: list[SourceRows], config: NormalizeConfig, engine: Engine
) -> tuple[KindRows, tuple[pd.Series, np.ndarray] | None]:
    """A kind's rows grouped (``group_kind``), then its masks and junk flags."""
    grouped = group_kind(kind, parts, kind_normalizer(kind, engine, config))
    parts.clear()  # the caller keeps no other reference: the source rows go now
    judged = _mask_and_junk(grouped, config) if len(grouped.account) else None
    logger.debug("normalize: %s grouped and judged", kind)
    return grouped, judged


def _done(result: Coded) -> Future[Coded]:
    """A future already holding ``result``."""
    future: Future[Coded] = Future()
    future.set_result(result)
    return future


def _complete(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables this stage reads, the optional columns it reads added as NA; missing
    required ones it reads raise (the pipeline drops the columns no stage reads, such as
    the orders' ids, before this stage)."""
    missing, complete = [], {}
    for table, columns in _USED_COLUMNS.items():
        frame = frames.pop(table)
        required, _ = S.INPUT_TABLES[table]
        missing += [f"{table}.{c}" for c in required if c in columns and c not in frame.columns]
        absent = [c for c in columns if c not in frame.columns]
        complete[table] = frame.assign(**{c: pd.Series(pd.NA, index=frame.index, dtype=object)
                                          for c in absent}) if absent else frame
    if missing:
        raise InputError(
            f"normalize needs columns that the loaded tables lack: {', '.join(missing)}. "
            "Load the tables with linkgraph.load.load_tables, which checks the input contract."
        )
    return complete


def _account_codes(frames: dict[str, pd.DataFrame], pool: ThreadPoolExecutor,
                   logins: Future[tuple[np.ndarray, pd.Series]],
                   ) -> tuple[dict[str, np.ndarray], pd.Series]:
    """Each table's rows as codes into the sorted distinct account ids (-1: none or blank).

    Every table's ids are hashed once (the tables two at a time in ``pool``;
    the sign-ins' by ``logins``); only the distinct ids are trimmed
    (``as_text``) and sorted. The codes are int32 where they fit.
    """
    hashed = {table: pool.submit(narrow_codes, frame[S.ACCOUNT_ID])
              for table, frame in frames.items()}
    hashed["logins"] = logins
    local, pooled = [], []
    for future in hashed.values():
        codes, distinct = future.result()
        local.append(codes)
        pooled.append(as_text(distinct))
    del hashed, future
    shared, account_ids = text_codes(pd.concat(pooled, ignore_index=True), sort=True)
    shared = shared.astype(index_dtype(len(account_ids)), copy=False)
    offsets = np.cumsum([0] + [len(p) for p in pooled])
    return {table: take_codes(shared[offsets[i]:offsets[i + 1]], local[i])
            for i, table in enumerate([*frames, "logins"])}, account_ids


#: kinds read from several tables with one-column normalisers: the raw values of
#: every source are normalised together, each distinct value once (email too, with
#: its settings: one source, but its values need not be mapped back to every row)
_DEFERRED = {S.K_NAME: normalize_names, S.K_DEVICE: normalize_devices, S.K_IP: normalize_ips}


def kind_normalizer(kind: str, engine: Engine, config: NormalizeConfig
                    ) -> Callable[[pd.Series], pd.DataFrame] | None:
    """The normaliser of a deferred kind, run by ``engine`` on the kind's distinct raw values
    (blank ones NA): a frame of ``value`` and ``suppressed`` aligned with them; None for a
    kind whose sources give canonical values (phone, address, card, card digits).

    >>> from linkgraph.engine import LOCAL
    >>> rule = kind_normalizer("email", LOCAL, NormalizeConfig())
    >>> rule(pd.Series(["J.Doe+x@gmail.com"]))["value"].tolist()
    ['jdoe@gmail.com']
    """
    if kind == S.K_EMAIL:
        emails = partial(_emails, plus=DEFAULT_PLUS_TAG_DOMAINS + config.email_plus_tag_domains,
                         hyphen=DEFAULT_HYPHEN_TAG_DOMAINS + config.email_hyphen_tag_domains)
        return lambda distinct: map_sliced(engine, emails, pd.DataFrame({S.EMAIL: distinct}))
    normalizer = _DEFERRED.get(kind)
    if normalizer is None:
        return None
    rule = partial(_one_column, normalizer=normalizer)
    return lambda distinct: map_sliced(engine, rule, pd.DataFrame({S.VALUE: distinct}))


# Row rules for Engine.map_rows: the normalisers themselves, given their columns
# by name, so that every engine runs the one definition of each rule.
# Their rows are a kind's distinct raw values (kind_normalizer): not hashed again.
def _emails(rows: pd.DataFrame, *, plus: tuple[str, ...], hyphen: tuple[str, ...]) -> pd.DataFrame:
    return normalize_emails(rows[S.EMAIL], plus_tag_domains=plus, hyphen_tag_domains=hyphen,
                            distinct=True)


def _one_column(rows: pd.DataFrame, *, normalizer: Callable[..., pd.DataFrame]
                ) -> pd.DataFrame:
    return normalizer(rows[S.VALUE], distinct=True)


def _mask_and_junk(g: KindRows, config: NormalizeConfig) -> tuple[pd.Series, np.ndarray]:
    """The masked display and the junk flag of a kind's distinct values, in code order.

    Judged on the values some identifier uses (the others stay NA / False).
    """
    used = np.flatnonzero(np.bincount(g.value, minlength=len(g.values)) > 0)
    text = g.values.take(used).reset_index(drop=True)
    card_last4 = None
    if g.kind == S.K_CARD:
        # one display per card: the smallest last4 any account gave for it
        smallest = np.full(len(g.values), len(g.last4s), dtype=np.int64)
        np.minimum.at(smallest, g.value, g.last4)
        card_last4 = decode(smallest[used], g.last4s)
    shown = mask_values(g.kind, text, last4=card_last4, distinct=True)
    masked = np.full(len(g.values), -1, dtype=np.int64)
    masked[used] = np.arange(len(used))
    flags = np.zeros(len(g.values), dtype=bool)
    flags[used] = junk_values(g.kind, text, extra=config.junk_values,
                              min_device_length=config.min_device_length).to_numpy()
    return decode(masked, shown), flags
