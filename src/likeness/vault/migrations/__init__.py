"""Alembic migrations of the vault schema, run programmatically by ``database.migrate``."""
