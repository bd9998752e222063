"""Alembic migrations of the store, run automatically when the store is opened."""
