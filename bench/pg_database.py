"""A throwaway database on the local PostgreSQL of the test suite (127.0.0.1:5432, user
postgres), for the benches that measure on PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=test"


@contextmanager
def throwaway_database() -> Iterator[str]:
    """A new database's SQLAlchemy URL; the database is dropped afterwards, whatever happens
    (with its connections: a bench's processes may still hold some)."""
    name = f"syndicator_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
