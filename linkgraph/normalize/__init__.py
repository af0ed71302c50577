"""Normalize stage: canonical identifiers per kind (one module per kind).

``normalize_identifiers(tables, config=...)`` turns the input tables into the
identifiers frame (``schemas.IDENTIFIER_COLUMNS``); the per-kind normalisers
are public for analysts and for the other stages.
"""

from linkgraph.normalize.email import disposable_email, normalize_emails
from linkgraph.normalize.identifiers import HandedOver, normalize_identifiers

__all__ = ["HandedOver", "disposable_email", "normalize_emails", "normalize_identifiers"]
