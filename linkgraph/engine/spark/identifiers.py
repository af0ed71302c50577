"""The identifier rows made on Spark: the normalize stage's sources, rules and grouping.

The sign-ins, addresses and payments are most of the input, and the normalize
stage reads them only to make one row per (account, kind, canonical value).
So with ``Engine.load_tables(..., identifiers=...)`` they stay on Spark, and
what comes back is that grouping, a ``normalize.grouping.KindRows`` per kind:
integer codes per grouped row and the sorted distinct canonical values. The
stage then judges, masks and assembles the identifiers frame from them as it
does from its own grouping (``normalize_identifiers``).

1. Each table's identifier columns become source rows in one pass over the
   table (an ``inline`` of one struct per source): the kind, the account's
   position among the sorted account ids, the value, the first and last time in
   microseconds, the source's name, and for the canonical kinds the reason and
   the card's last4.
2. The stage's own rules run on the executors, in ``mapInArrow``: per row for
   the kinds whose rule reads several columns (``sources.phone_rule`` with the
   country, ``normalize_addresses``, ``sources.card_words``), per distinct raw
   value of a batch for the others (``identifiers.kind_normalizer``: emails,
   names, devices, IPs), joined back in the batch: the rows are not shuffled
   for it, and only the judged rows are cached.
3. A card without a token takes the one token of the tokenised cards with its
   digits (``sources._card_codes``' rule, as a ``groupBy`` of the digits).
4. One ``groupBy(kind, account, value)``: the earliest first time, the latest
   last, the first source, reason and last4 in sorted order. Spark's ``min`` and
   ``max`` skip nulls, as the stage's reductions skip unknown times and reasons;
   Spark compares strings by their UTF-8 bytes, as Arrow sorts them.
5. The accounts, and the values of all kinds in (kind, value) order, numbered by
   a global sort and a count per partition (``ranges.numbered``); the few
   sources, reasons and last4s of each kind joined in as their codes.

Each kind's list of reasons (and of last4s) is that of every source row of the
kind, dropped rows too, as ``group_kind`` pools them: the frame's categories
are then the local engine's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StringType, StructField, StructType

from linkgraph import schemas as s
from linkgraph.codes import sorted_keys
from linkgraph.config import NormalizeConfig
from linkgraph.engine import GIVEN_FIRST, GIVEN_LAST, LOCAL
from linkgraph.engine.spark.ranges import numbered
from linkgraph.engine.spark.session import quiet_pandas_warning
from linkgraph.normalize.address import ADDRESS_FIELDS, normalize_addresses
from linkgraph.normalize.grouping import NAT, KindRows
from linkgraph.normalize.identifiers import kind_normalizer
from linkgraph.normalize.payment import namesakes_apart
from linkgraph.normalize.sources import card_words, phone_rule
from linkgraph.normalize.text import TEXT, arrow_text, as_text, to_text

logger = logging.getLogger(__name__)

_KIND, _ACCOUNT, _VALUE, _FIRST, _LAST = "_kind", "_a", "_v", "_first", "_last"
_SOURCE, _REASON, _LAST4, _N, _CODE, _COUNT = "_src", "_sup", "_l4", "_n", "_code", "_count"
_TOKEN, _TOKEN_REASON, _DIGITS, _DIGITS_REASON, _ONLY, _HOLDER = (
    "_token", "_token_sup", "_digits", "_digits_sup", "_only", "_holder")
#: the columns of a source row, in order
_ROW_COLUMNS = (_KIND, _ACCOUNT, _VALUE, _FIRST, _LAST, _SOURCE, _REASON, _LAST4)
#: the kinds whose sources give raw values, normalised per distinct value
_RAW_KINDS = (s.K_DEVICE, s.K_EMAIL, s.K_IP, s.K_NAME)
#: the columns a kind's small word lists are read from, as codes (NA: the list's length)
_WORDS = (_SOURCE, _REASON, _LAST4)


def identifier_rows(spark: SparkSession, tables: Mapping[str, DataFrame],
                    present: Collection[str], config: NormalizeConfig) -> tuple[KindRows, ...]:
    """Every kind's identifiers grouped as ``normalize.grouping.group_kind`` groups them,
    from the load's Spark tables, sorted by kind (the kinds with rows only).

    Args:
        spark: the session.
        tables: the accounts and orders as loaded, the sign-ins, addresses and payments
            reduced (``load.reduced_tables``: each distinct row once, with its first and
            last time).
        present: the tables with rows (a table without gives no source, as locally).
        config: the normalize stage's settings.
    """
    accounts = numbered(tables["accounts"].select(
        s.ACCOUNT_ID, s.CREATED_AT, *(_text_column(tables["accounts"], c) for c in (
            s.EMAIL, s.PHONE, s.FULL_NAME, s.REGISTRATION_IP, s.DEVICE_ID, s.COUNTRY)),
    ).orderBy(s.ACCOUNT_ID), _ACCOUNT)
    ids = accounts.select(s.ACCOUNT_ID, _ACCOUNT)
    parts = [_account_rows(accounts, config)]
    for table, rows_of in (("logins", _login_rows),
                           ("addresses", partial(_address_rows, config=config)),
                           ("payments", partial(_payment_rows, spark))):
        if table in present:
            parts.append(rows_of(tables[table].join(ids, s.ACCOUNT_ID)))
    rows = parts[0]
    for more in parts[1:]:
        rows = rows.unionByName(more)
    judged = rows.mapInArrow(partial(_judged, config=config), rows.schema).persist()
    start = time.perf_counter()
    try:
        words = _words_of(judged)
        logger.info("identifiers: source rows made and judged on Spark in %.1f s",
                    time.perf_counter() - start)
        sources = {kind: tuple(theirs) for kind, theirs in words.pop(_SOURCE).items()}
        grouped = (judged.where(F.col(_VALUE).isNotNull())
                   .groupBy(_KIND, _ACCOUNT, _VALUE)
                   .agg(F.min(_FIRST).alias(_FIRST), F.max(_LAST).alias(_LAST),
                        *(F.min(c).alias(c) for c in _WORDS))).persist()
        values = numbered(grouped.groupBy(_KIND, _VALUE).agg(F.count(F.lit(1)).alias(_COUNT))
                          .orderBy(_KIND, _VALUE), _N)
        kinds = sorted(sources)
        kind_code = F.create_map(*(x for i, kind in enumerate(kinds)
                                   for x in (F.lit(kind), F.lit(i))))[F.col(_KIND)]
        found = values.select(kind_code.cast("tinyint").alias(_KIND), _VALUE, _N, _COUNT
                              ).toArrow()
        logger.info("identifiers: %d values grouped, numbered and collected in %.1f s",
                    found.num_rows, time.perf_counter() - start)
        coded = grouped.join(values.drop(_COUNT), [_KIND, _VALUE]).drop(_VALUE)
        for column, kind_words in ((_SOURCE, sources), (_REASON, words[_REASON]),
                                   (_LAST4, words[_LAST4])):
            coded = _as_codes(spark, coded, column, kind_words)
        # each column in the narrowest type that holds it: at ten million accounts the
        # rows are about a hundred million
        narrow = {_SOURCE: "tinyint", _REASON: _narrowest(words[_REASON]),
                  _LAST4: _narrowest(words[_LAST4])}
        index = "int" if max(found.num_rows, ids.count()) < 2 ** 31 else "bigint"
        collected = coded.select(kind_code.cast("tinyint").alias(_KIND),
                                 F.col(_ACCOUNT).cast(index), F.col(_N).cast(index), _FIRST,
                                 _LAST, *(F.col(c).cast(narrow[c]) for c in _WORDS)).toArrow()
        grouped.unpersist()
        logger.info("identifiers: %d grouped rows collected as codes in %.1f s",
                    collected.num_rows, time.perf_counter() - start)
    finally:
        judged.unpersist()
    # the collected table goes as its columns are read (no other reference to it)
    return _kind_rows([collected], found, kinds, sources, words[_REASON], words[_LAST4])


def _text_column(frame: DataFrame, column: str) -> Column:
    """``column`` of ``frame``, or null text when the table has no such column (an
    optional column the input left out, which the normalize stage reads as empty)."""
    if column in frame.columns:
        return F.col(column)
    return F.lit(None).cast(StringType()).alias(column)


def _micros(column: str) -> Column:
    """int64 nanoseconds as microseconds, rounded down as pandas converts them (exactly:
    integer arithmetic, no double)."""
    return F.expr(f"(`{column}` - pmod(`{column}`, 1000)) div 1000")


def _sources(frame: DataFrame, first: Column, last: Column,
             *parts: tuple[str, str, str | None, str | None, str | None]) -> DataFrame:
    """The rows each table gives, one per (row, part) in a single pass over ``frame``:
    a part is (kind, source, value column, reason column, last4 column)."""
    def text(column: str | None) -> Column:
        return F.col(column) if column is not None else F.lit(None).cast(StringType())

    structs = [F.struct(F.lit(kind).alias(_KIND), text(value).alias(_VALUE),
                        F.lit(source).alias(_SOURCE), text(reason).alias(_REASON),
                        text(last4).alias(_LAST4)) for kind, source, value, reason, last4 in parts]
    return frame.select(_ACCOUNT, first.alias(_FIRST), last.alias(_LAST),
                        F.inline(F.array(*structs))).select(*_ROW_COLUMNS)


def _account_rows(accounts: DataFrame, config: NormalizeConfig) -> DataFrame:
    """The accounts' own fields at their creation time (``sources.account_rows``)."""
    phones = _with_rule(accounts, partial(phone_rule, default_region=config.default_country),
                        (s.PHONE, s.COUNTRY), {"value": _VALUE, "suppressed": _REASON})
    created = _micros(s.CREATED_AT)
    return _sources(phones, created, created,
                    (s.K_EMAIL, "accounts.email", s.EMAIL, None, None),
                    (s.K_PHONE, "accounts.phone", _VALUE, _REASON, None),
                    (s.K_DEVICE, "accounts.device_id", s.DEVICE_ID, None, None),
                    (s.K_IP, "accounts.registration_ip", s.REGISTRATION_IP, None, None),
                    (s.K_NAME, "accounts.full_name", s.FULL_NAME, None, None))


def _login_rows(logins: DataFrame) -> DataFrame:
    """The sign-ins' IPs and devices at their first and last time (``sources.login_rows``)."""
    return _sources(logins, _micros(GIVEN_FIRST), _micros(GIVEN_LAST),
                    (s.K_IP, "logins.ip", s.IP, None, None),
                    (s.K_DEVICE, "logins.device_id", s.DEVICE_ID, None, None))


def _address_rows(addresses: DataFrame, *, config: NormalizeConfig) -> DataFrame:
    """The addresses' keys and recipients at their orders' times (``sources.address_rows``)."""
    fields = [_text_column(addresses, c) for c in ADDRESS_FIELDS]
    keyed = _with_rule(
        addresses.select(_ACCOUNT, GIVEN_FIRST, GIVEN_LAST,
                         _text_column(addresses, s.RECIPIENT_NAME), *fields),
        partial(normalize_addresses, pickup_keywords=config.pickup_keywords), ADDRESS_FIELDS,
        {"value": _VALUE, "suppressed": _REASON})
    return _sources(keyed, _micros(GIVEN_FIRST), _micros(GIVEN_LAST),
                    (s.K_ADDRESS, "addresses", _VALUE, _REASON, None),
                    (s.K_NAME, "addresses.recipient_name", s.RECIPIENT_NAME, None, None))


def _payment_rows(spark: SparkSession, payments: DataFrame) -> DataFrame:
    """The cards' tokens or digits and holders at their orders' times
    (``sources.payment_rows``): the digits of namesakes told apart per key, then a card
    without a token takes the one token that every tokenised card with its digits has, and
    keeps its digits only while it has none."""
    columns = (s.FINGERPRINT, s.CARD_BIN, s.CARD_LAST4, s.CARD_EXPIRY, s.HOLDER_NAME)
    carded = _with_rule(
        payments.select(_ACCOUNT, GIVEN_FIRST, GIVEN_LAST,
                        *(_text_column(payments, c) for c in columns)),
        _cards, columns, {_TOKEN: _TOKEN, _TOKEN_REASON: _TOKEN_REASON, _DIGITS: _DIGITS,
                          _DIGITS_REASON: _DIGITS_REASON, _LAST4: _LAST4, _HOLDER: _HOLDER})
    carded = _namesakes_apart(spark, carded)
    token, digits = F.col(_TOKEN), F.col(_DIGITS)
    only = (carded.where(token.isNotNull() & digits.isNotNull()).select(_DIGITS, _TOKEN)
            .distinct().groupBy(_DIGITS)
            .agg(F.count(F.lit(1)).alias(_N), F.min(_TOKEN).alias(_ONLY))
            .where(F.col(_N) == 1).drop(_N))
    taken = carded.join(only, _DIGITS, "left").withColumn(
        _TOKEN, F.coalesce(token, F.when(digits.isNotNull(), F.col(_ONLY))))
    taken = taken.withColumn(_DIGITS, F.when(F.col(_TOKEN).isNull(), digits))
    return _sources(taken, _micros(GIVEN_FIRST), _micros(GIVEN_LAST),
                    (s.K_CARD, "payments.fingerprint", _TOKEN, _TOKEN_REASON, _LAST4),
                    (s.K_CARD_DIGITS, "payments.card_digits", _DIGITS, _DIGITS_REASON, None),
                    (s.K_NAME, "payments.holder_name", s.HOLDER_NAME, None, None))


def _cards(rows: pd.DataFrame) -> pd.DataFrame:
    """``sources.card_words`` of payment rows as a rule per row (the namesakes aside), their
    last4 and holder as the stage reads them."""
    fingerprints, digits = card_words(rows, namesakes=False)
    return pd.DataFrame({_TOKEN: fingerprints["value"], _TOKEN_REASON: fingerprints["suppressed"],
                         _DIGITS: digits["value"], _DIGITS_REASON: digits["suppressed"],
                         _LAST4: as_text(rows[s.CARD_LAST4]),
                         _HOLDER: as_text(rows[s.HOLDER_NAME])})


def _namesakes_apart(spark: SparkSession, carded: DataFrame) -> DataFrame:
    """The card digits of ``carded`` with ``payment.namesakes_apart`` applied: the rule reads
    a key's distinct holders, so it runs on the driver on the distinct (key, holder) pairs of
    the keys with several holders (few: strangers sharing a BIN, last four, expiry and
    initials), and the keys it changes are joined back."""
    digits, holder = F.col(_DIGITS), F.col(_HOLDER)
    pairs = carded.where(digits.isNotNull() & holder.isNotNull()).select(_DIGITS, _HOLDER) \
        .distinct()
    several = pairs.groupBy(_DIGITS).count().where(F.col("count") > 1).select(_DIGITS)
    with quiet_pandas_warning():
        shared = cast(pd.DataFrame, pairs.join(several, _DIGITS, "left_semi").toPandas())
    if shared.empty:
        return carded
    keys = namesakes_apart(shared[_DIGITS].astype(TEXT), shared[_HOLDER].astype(TEXT))
    changed = shared.assign(**{_ONLY: keys.to_numpy()}).loc[
        (keys != shared[_DIGITS].astype(TEXT)).to_numpy()]
    if changed.empty:
        return carded
    table = spark.createDataFrame(
        [tuple(row) for row in changed[[_DIGITS, _HOLDER, _ONLY]].itertuples(index=False)],
        schema=f"{_DIGITS} string, {_HOLDER} string, {_ONLY} string")
    return carded.join(F.broadcast(table), [_DIGITS, _HOLDER], "left").withColumn(
        _DIGITS, F.coalesce(F.col(_ONLY), digits)).drop(_ONLY)


def _judged(batches: Iterator[pa.RecordBatch], *, config: NormalizeConfig
            ) -> Iterator[pa.RecordBatch]:
    """Batches of source rows with canonical values and reasons: the raw kinds' values
    normalised, each distinct (kind, raw value) of a batch once (the normalisers read
    one value at a time, so a batch's values give what all of them give), and joined back
    on the executors: no shuffle of the rows. A raw kind's null value stays null."""
    rules: dict[str, Callable[[pd.Series], pd.DataFrame]] = {}
    raw_kinds = pa.array(_RAW_KINDS)
    for batch in batches:
        rows = pa.Table.from_batches([batch])
        raw = pc.and_(pc.is_in(rows.column(_KIND), value_set=raw_kinds),
                      pc.is_valid(rows.column(_VALUE)))
        theirs = rows.filter(raw)
        if not theirs.num_rows:
            yield batch
            continue
        distinct = theirs.select([_KIND, _VALUE]).group_by([_KIND, _VALUE]).aggregate([])
        normalised = _normalised(distinct.combine_chunks(), rules, config)
        joined = theirs.drop_columns([_REASON]).join(
            normalised, [_KIND, _VALUE], join_type="left outer").drop_columns([_VALUE])
        joined = joined.rename_columns([_VALUE if c == _CODE else c
                                        for c in joined.column_names]).select(_ROW_COLUMNS)
        rows = pa.concat_tables([rows.filter(pc.invert(raw)), joined.cast(rows.schema)])
        yield from rows.combine_chunks().to_batches()


def _normalised(distinct: pa.Table, rules: dict[str, Callable[[pd.Series], pd.DataFrame]],
                config: NormalizeConfig) -> pa.Table:
    """Distinct (kind, raw value) with the canonical value (``_CODE``) and reason of each:
    every kind's values given to the stage's normaliser of the kind
    (``identifiers.kind_normalizer``, kept in ``rules``), as it gives a kind's distinct raw
    values."""
    kinds = np.asarray(distinct.column(_KIND).to_numpy(), dtype=object)
    raw = _raw_text(distinct.column(_VALUE).combine_chunks())
    at, found = [], []
    for kind in sorted(set(kinds.tolist())):
        if kind not in rules:
            rule = kind_normalizer(kind, LOCAL, config)
            if rule is None:
                raise ValueError(f"{kind} has no normaliser of raw values")
            rules[kind] = rule
        rows = np.flatnonzero(kinds == kind)
        at.append(rows)
        found.append(rules[kind](raw.iloc[rows].reset_index(drop=True)))
    back = pa.array(np.argsort(np.concatenate(at or [np.zeros(0, np.int64)])))
    made = [pa.concat_arrays([arrow_text(to_text(f[c])).cast(pa.string()) for f in found]
                             or [pa.array([], pa.string())]).take(back)
            for c in ("value", "suppressed")]
    return distinct.append_column(_CODE, made[0]).append_column(_REASON, made[1])


def _raw_text(column: pa.Array) -> pd.Series:
    """Raw values as the stage gives them to a normaliser: its text, blank cells NA."""
    return as_text(_text(column))


def _text(column: pa.Array) -> pd.Series:
    return pd.Series(TEXT.__from_arrow__(pa.chunked_array([column.cast(pa.large_string())])))


def _loaded_text(column: pa.Array) -> pd.Series:
    """A text column as the load gives it to the stage (the installed pandas' text type)."""
    return pd.Series(column.to_pandas(), dtype=object).astype(pd.Series(["x"]).dtype)


def _with_rule(frame: DataFrame, rule: Callable[[pd.DataFrame], pd.DataFrame],
               inputs: Sequence[str], outputs: Mapping[str, str], *,
               read: Callable[[pa.Array], pd.Series] = _loaded_text) -> DataFrame:
    """``frame`` with the text columns ``outputs`` (the rule's name -> the new one) of
    ``rule`` run on its ``inputs``, batch by batch on the executors (a row's result is
    that row's alone: the rules are per row)."""
    schema = StructType([*frame.schema.fields,
                         *(StructField(name, StringType()) for name in outputs.values())])

    def apply(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            given = pd.DataFrame({c: read(batch.column(c)) for c in inputs})
            result = rule(given).reset_index(drop=True)
            made = [arrow_text(to_text(result[c])).cast(pa.string()) for c in outputs]
            yield pa.RecordBatch.from_arrays([*batch.columns, *made],
                                             names=[*batch.schema.names, *outputs.values()])

    return frame.mapInArrow(apply, schema)


def _words_of(rows: DataFrame) -> dict[str, dict[str, list[str]]]:
    """Per column of ``_WORDS`` and per kind, the distinct words (nulls aside), sorted as
    Arrow sorts strings (by their UTF-8 bytes): one job."""
    tagged = rows.select(_KIND, F.inline(F.array(*(
        F.struct(F.lit(column).alias("_column"), F.col(column).alias("_word"))
        for column in _WORDS))))
    found: dict[str, dict[str, list[str]]] = {column: {} for column in _WORDS}
    for row in tagged.where(F.col("_word").isNotNull()).distinct().collect():
        found[row["_column"]].setdefault(row[_KIND], []).append(row["_word"])
    return {column: {kind: sorted(words, key=lambda w: w.encode())
                     for kind, words in theirs.items()} for column, theirs in found.items()}


def _as_codes(spark: SparkSession, rows: DataFrame, column: str,
              words: Mapping[str, Sequence[str]]) -> DataFrame:
    """``rows`` with ``column``'s word replaced by its place in its kind's ``words`` (a
    null: the list's length, the code that sorts after every word)."""
    if not any(words.values()):  # every kind's list empty: its length, 0
        return rows.withColumn(column, F.lit(0))
    size = F.create_map(*(x for kind, theirs in words.items()
                          for x in (F.lit(kind), F.lit(len(theirs)))))
    table = spark.createDataFrame(
        [(kind, word, i) for kind, theirs in words.items() for i, word in enumerate(theirs)],
        schema=f"{_KIND} string, {column} string, {_CODE} int")
    joined = rows.join(F.broadcast(table), [_KIND, column], "left")
    return joined.withColumn(column, F.coalesce(F.col(_CODE), size[F.col(_KIND)], F.lit(0))
                             ).drop(_CODE)


def _kind_rows(given: list[pa.Table], values: pa.Table, kinds: Sequence[str],
               sources: Mapping[str, tuple[str, ...]], reasons: Mapping[str, list[str]],
               last4s: Mapping[str, list[str]]) -> tuple[KindRows, ...]:
    """The collected rows (``given``'s one table, taken from it: each column goes once
    read) and values as one ``KindRows`` per kind with rows, each sorted by (account,
    value) with its codes into its own values."""
    number = _numpy(values, _N)
    order = np.argsort(number, kind="stable")
    value_kind = _numpy(values, _KIND)[order]
    accounts = _numpy(values, _COUNT)
    rows = given.pop()
    columns: dict[str, np.ndarray] = {}
    for column in rows.column_names:
        columns[column] = _numpy(rows, column, narrow=True)
        rows = rows.drop_columns([column])
    del rows
    kind_of, account, value = columns.pop(_KIND), columns.pop(_ACCOUNT), columns.pop(_N)
    found = []
    for i, kind in enumerate(kinds):
        at = np.flatnonzero(kind_of == i)
        if not len(at):
            continue
        mine = order[value_kind == i]  # the kind's values, in their order
        n_values = len(mine)
        code = value[at].astype(np.int64) - int(number[mine[0]])
        keys, sort = sorted_keys(account[at].astype(np.int64) * n_values + code)
        rows_of = at[sort]
        found.append(KindRows(
            kind=kind,
            account=(keys // n_values).astype(np.int32),
            value=(keys % n_values).astype(np.int32),
            first=columns[_FIRST][rows_of], last=columns[_LAST][rows_of],
            # collected in the narrowest types (_narrowest), as group_kind keeps them
            source=columns[_SOURCE][rows_of],
            suppressed=columns[_REASON][rows_of],
            last4=columns[_LAST4][rows_of],
            values=pd.Series(TEXT.__from_arrow__(pa.chunked_array([
                values.column(_VALUE).take(pa.array(mine)).combine_chunks().cast(
                    pa.large_string())]))),
            reasons=pd.Series(reasons.get(kind, []), dtype=TEXT),
            last4s=pd.Series(last4s.get(kind, []), dtype=TEXT),
            sources=sources[kind],
            accounts=accounts[mine],
        ))
    return tuple(found)


def _numpy(table: pa.Table, column: str, *, narrow: bool = False) -> np.ndarray:
    """A collected integer column as numpy: int64, or (``narrow``) its own type; a null
    (an unknown time, int64) as ``NAT``."""
    values: Any = table.column(column)
    if not narrow or values.null_count:
        values = pc.fill_null(values.cast(pa.int64()), NAT)
    return np.asarray(values.to_numpy())


def _narrowest(words: Mapping[str, Sequence[str]]) -> str:
    """The Spark integer type of codes into lists of ``words`` (the code ``len`` is NA)."""
    longest = max((len(theirs) for theirs in words.values()), default=0)
    return "tinyint" if longest < 127 else "smallint" if longest < 32767 else "int"
