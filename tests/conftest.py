"""Shared pytest options."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

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
