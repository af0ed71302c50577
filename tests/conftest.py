"""Shared pytest options."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import settings

import linkgraph as lg
from linkgraph.config import Config

# CI explores the same examples every run (a submission must not fail by luck);
# locally each run draws new ones, so a property keeps being searched.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden", action="store_true", default=False,
        help="Rewrite the golden end-to-end outputs instead of comparing them.",
    )


@pytest.fixture
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


GOLDEN_INPUT = Path(__file__).parent / "data" / "golden" / "input"
HOSTILE = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://evil.example","click")'
NAT_IP = "176.59.200.1"  # a mobile carrier's NAT: 15 strangers behind it


def _golden_feed_with_hostile_accounts(data: Path, *, formula: bool = False,
                                       carrier_nat: bool = False) -> Path:
    """The golden input plus an account named like a script on the coupon farm's card and
    device, with a name and an address line that are HTML; with ``formula``, a second such
    account whose id and fields are spreadsheet formulas; with ``carrier_nat``, 14 strangers
    registering from the NAT IP that A05 also logs in from."""
    shutil.copytree(GOLDEN_INPUT, data)
    accounts = pd.read_csv(data / "accounts.csv", dtype=str, keep_default_na=False)
    hostile = {"account_id": HOSTILE, "created_at": "2026-10-03T09:00:00Z",
               "email": "mallory.x@evil.example", "phone": "+7 999 000-11-22",
               "full_name": "<b>Mallory</b>", "registration_ip": "176.59.1.14",
               "device_id": "and-fa4f00d1", "country": "RU"}
    added = [hostile]
    if formula:
        added.append({**hostile, "account_id": FORMULA, "email": "\ufeff=cmd@evil.example",
                      "full_name": "\n@SUM(1+1)", "device_id": "\u200b-2+3"})
    if carrier_nat:
        added += [{"account_id": f"N{i:02d}", "created_at": f"2025-0{1 + i % 9}-01T10:00:00Z",
                   "registration_ip": NAT_IP, "country": "RU"} for i in range(1, 15)]
        with open(data / "logins.csv", "a") as fh:
            fh.write(f"A05,{NAT_IP},and-9f8e7d6c,2026-09-10T10:00:00Z\n")
    pd.concat([accounts, pd.DataFrame(added)]).fillna("").to_csv(data / "accounts.csv",
                                                                 index=False)
    payments = pd.read_csv(data / "payments.csv", dtype=str, keep_default_na=False)
    farm_card = payments[payments["payment_id"] == "PM10"]
    owners = (HOSTILE, FORMULA) if formula else (HOSTILE,)
    copies = [farm_card.assign(account_id=a, payment_id=f"PMX{i}") for i, a in enumerate(owners)]
    pd.concat([payments, *copies]).to_csv(data / "payments.csv", index=False)
    with open(data / "addresses.csv", "a") as fh:
        fh.write(f'"{HOSTILE}",ADX,<b>Mallory</b>,"<img src=x onerror=alert(1)> 7",,Moskva,,'
                 "127051,RU\n")
    return data


@pytest.fixture(scope="session")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Builder of a run directory over the golden input with hostile accounts:
    ``hostile_run(name, **feed_options)`` (see ``_golden_feed_with_hostile_accounts``)."""

    def build(name: str, **options: bool) -> Path:
        base = tmp_path_factory.mktemp(name)
        data = _golden_feed_with_hostile_accounts(base / "feed", **options)
        lg.run(data, out=base / "run", config=Config(max_reject_rate=0.5))
        return base / "run"

    return build
