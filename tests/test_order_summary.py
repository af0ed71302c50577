"""An engine may send the orders' summary instead of the orders (``Tables.order_facts``):
the graph's profiles and the score's facts read from it are those read from the orders."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from linkgraph import schemas as s
from linkgraph.config import CouponConfig
from linkgraph.graph.incidence import code_identifiers
from linkgraph.graph.profiles import index_accounts
from linkgraph.load import Tables
from linkgraph.score import order_summary, table_facts

_ACCOUNTS = [f"a{i}" for i in range(6)]
#: coupon words as exports write them: blanks, case, spaces, several campaigns
_TYPES = [None, "", " ", "new_user", "NEW_USER ", "loyalty", "welcome"]
_CODES = [None, "", "HELLO10", "hello10", " SPRING", "WELCOME5"]
_CURRENCIES = [None, "", "EUR", "USD", " EUR"]
_AMOUNTS = st.one_of(st.none(), st.sampled_from([0.0, 9.99, 10.0, 10.5, 11.0, 25.0, 80.0]),
                     st.floats(0, 500, allow_nan=False))
_TIMES = st.one_of(st.none(), st.integers(1_700_000_000, 1_700_000_000 + 60 * 86_400))

_order = st.fixed_dictionaries({
    s.ACCOUNT_ID: st.sampled_from(_ACCOUNTS), s.COUPON_TYPE: st.sampled_from(_TYPES),
    s.COUPON_CODE: st.sampled_from(_CODES), s.CURRENCY: st.sampled_from(_CURRENCIES),
    s.AMOUNT: _AMOUNTS, s.CREATED_AT: _TIMES,
})

_CONFIGS = [
    CouponConfig(),
    CouponConfig(near_min_min_orders=2, near_min_margin=0.2, silence_days=3.0,
                 coupon_only_max_orders=2, new_user_types=("new_user", "welcome")),
    CouponConfig(small_order_amount=20.0, near_min_min_orders=2),
]


def _orders(rows: list[dict[str, object]]) -> pd.DataFrame:
    orders = pd.DataFrame(rows, columns=[s.ACCOUNT_ID, s.CREATED_AT, s.AMOUNT, s.CURRENCY,
                                         s.COUPON_CODE, s.COUPON_TYPE])
    orders[s.CREATED_AT] = pd.to_datetime(orders[s.CREATED_AT], unit="s", utc=True)
    orders[s.AMOUNT] = orders[s.AMOUNT].astype("float64")
    return orders


def _tables(orders: pd.DataFrame, summary: pd.DataFrame | None = None) -> Tables:
    none = pd.DataFrame()
    accounts = pd.DataFrame({s.ACCOUNT_ID: _ACCOUNTS})
    return Tables(accounts=accounts, addresses=none, payments=none, logins=none,
                  orders=orders if summary is None else orders.iloc[:0], sanctions=none,
                  decisions=none, rejects=none, order_facts=summary)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(_order, max_size=40), which=st.sampled_from(range(len(_CONFIGS))))
def test_score_facts_from_the_summary_equal_those_from_the_orders(
        rows: list[dict[str, object]], which: int) -> None:
    config = _CONFIGS[which]
    orders = _orders(rows)
    summary = order_summary(orders, config=config)

    from_orders = table_facts(_tables(orders), config=config).facts
    from_summary = table_facts(_tables(orders, summary), config=config).facts

    pd.testing.assert_frame_equal(from_summary, from_orders)
    assert summary[s.N_ORDERS].sum() == len(orders)


@settings(max_examples=30, deadline=None)
@given(rows=st.lists(_order, max_size=40))
def test_graph_profiles_from_the_summary_equal_those_from_the_orders(
        rows: list[dict[str, object]]) -> None:
    orders = _orders(rows)
    # one account (a5) has no identifiers; one with identifiers (z9) is missing from the
    # accounts table and still has orders: both are counted as from the orders
    orders.loc[orders[s.ACCOUNT_ID] == "a4", s.ACCOUNT_ID] = "z9"
    cards = pd.DataFrame({s.ACCOUNT_ID: ["a0", "a1", "z9"], s.KIND: s.K_CARD,
                          s.VALUE: ["fp1", "fp1", "fp2"], s.MASKED: "*", s.SOURCE: "test",
                          s.FIRST_SEEN: pd.NaT, s.LAST_SEEN: pd.NaT, s.SUPPRESSED: None})
    coded = code_identifiers(cards[list(s.IDENTIFIER_COLUMNS)])
    accounts = _tables(orders).accounts
    summary = order_summary(orders, config=CouponConfig())

    from_orders = index_accounts(accounts, orders, coded)
    from_summary = index_accounts(accounts, orders.iloc[:0], coded, summary=summary)

    for name, values in from_orders.orders.items():
        np.testing.assert_array_equal(from_summary.orders[name], values, err_msg=name)
    np.testing.assert_array_equal(from_summary.coupon_only, from_orders.coupon_only)


def test_summary_counts_each_rule_of_a_coupon_order() -> None:
    day = 86_400
    orders = _orders([
        # a: a welcome coupon just above its minimum, the only order for weeks
        {s.ACCOUNT_ID: "a", s.COUPON_TYPE: "new_user", s.COUPON_CODE: "HELLO10",
         s.CURRENCY: "EUR", s.AMOUNT: 10.5, s.CREATED_AT: 1_700_000_000},
        # b, c: the same coupon, far above its minimum; c shops on without coupons
        *({s.ACCOUNT_ID: who, s.COUPON_TYPE: "new_user", s.COUPON_CODE: "HELLO10",
           s.CURRENCY: "EUR", s.AMOUNT: amount, s.CREATED_AT: 1_700_000_000 + day}
          for who, amount in (("b", 10.0), ("b", 10.0), ("c", 60.0))),
        {s.ACCOUNT_ID: "c", s.COUPON_TYPE: None, s.COUPON_CODE: " ", s.CURRENCY: "EUR",
         s.AMOUNT: 400.0, s.CREATED_AT: 1_700_000_000 + 30 * day},
        # d: a time and an amount nobody knows
        {s.ACCOUNT_ID: "d", s.COUPON_TYPE: "loyalty", s.COUPON_CODE: None, s.CURRENCY: None,
         s.AMOUNT: None, s.CREATED_AT: None},
    ])
    config = CouponConfig(near_min_min_orders=3, small_order_amount=100.0)

    summary = order_summary(orders, config=config).set_index(s.ACCOUNT_ID)

    assert summary[s.N_ORDERS].to_dict() == {"a": 1, "b": 2, "c": 2, "d": 1}
    assert summary[s.O_COUPON].to_dict() == {"a": 1, "b": 2, "c": 1, "d": 1}
    assert summary[s.O_WELCOME].to_dict() == summary[s.O_NEW_USER].to_dict() == {
        "a": 1, "b": 2, "c": 1, "d": 0}
    assert summary[s.O_LARGE].to_dict() == {"a": 0, "b": 0, "c": 1, "d": 0}
    assert summary[s.O_NEAR_MIN].to_dict() == {"a": 1, "b": 2, "c": 0, "d": 0}
    assert summary.loc["d", s.O_LAST] == -np.inf
    assert summary.loc["c", s.O_LAST] == pytest.approx(1_700_000_000 / day + 30)


def test_summary_of_orders_without_columns_is_empty() -> None:
    summary = order_summary(pd.DataFrame(), config=CouponConfig())

    assert list(summary.columns) == list(s.ORDER_SUMMARY_COLUMNS) and summary.empty
    tables = dataclasses.replace(_tables(_orders([])), order_facts=summary)
    assert table_facts(tables, config=CouponConfig()).facts["n_orders"].sum() == 0
