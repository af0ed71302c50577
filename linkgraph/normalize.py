"""Normalize stage: canonical identifiers per kind.

OWNER: normalize helper.
"""

from __future__ import annotations

import pandas as pd

from linkgraph.config import NormalizeConfig
from linkgraph.load import Tables


def normalize_identifiers(tables: Tables, *, config: NormalizeConfig) -> pd.DataFrame:
    """Tables -> identifiers frame (see schemas.IDENTIFIER_COLUMNS)."""
    raise NotImplementedError
