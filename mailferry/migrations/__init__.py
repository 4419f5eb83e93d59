"""Alembic migrations of the Mailferry schema (run them through `mailferry.migrate`)."""
