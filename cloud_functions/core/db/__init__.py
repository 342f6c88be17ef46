"""Relational storage: schema (SQLAlchemy Core), engines and queries."""

from cloud_functions.core.db.engine import get_engine, transaction
from cloud_functions.core.db.schema import metadata

__all__ = ["get_engine", "metadata", "transaction"]
