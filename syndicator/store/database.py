"""Opening the store: engine, pragmas, migrations, and the one-scanner-at-a-time lock.

SQLite (WAL) needs no setup and is the default; PostgreSQL is the same code with another URL.
Migrations run on open, so an upgraded syndicator never meets an old schema; they run under a
lock, so processes started together on a fresh store (a scanner, a deliverer and a web
process) create it once instead of racing to create the same tables.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    event,
    inspect,
    text,
)
from sqlalchemy.engine import make_url

from syndicator.store import StoreError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig


def _sqlite_pragmas(journal: str) -> Callable[[Any, Any], None]:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA journal_mode={journal}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return on_connect


def create_store_engine(url: str, *, filling: bool = False) -> Engine:
    """An engine for ``url``; the folder of a SQLite file is created on first use.

    ``filling``: the store is new and this process alone writes it, in one large transaction
    (``syndicator build`` into a file that does not exist yet). SQLite then keeps a rollback
    journal instead of its write-ahead log: WAL writes every page twice, in the log and again
    when the log is copied into the file, and a rollback journal keeps nothing for pages that
    did not exist before. A first build of 10,000 documents (an 80 MB store) spent 0.37 s
    less in its commit. The next engine to open the file, any other command's, turns WAL
    back on, which readers beside a writer need."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas("DELETE" if filling else "WAL"))
        return engine
    return create_engine(url, pool_pre_ping=True)


_MIGRATION_KEY = 0x53594E4D  # "SYNM"
# The newest migration's revision, read from the migration files' names (``NNNN_what.py`` holds
# revision ``NNNN``; ``tests/store/test_store_upgrade.py`` checks it is Alembic's head), so a
# new migration needs no second edit: a store already there opens without importing Alembic,
# a tenth of a second.
HEAD_REVISION = max(
    path.name.split("_", 1)[0]
    for path in (Path(__file__).parent / "migrations" / "versions").glob("[0-9]*_*.py")
)


@contextmanager
def _sqlite_file_lock(database: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``<database>.migrate.lock``, waited for (the kernel releases
    it if its holder dies)."""
    fd = os.open(f"{database}.migrate.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def at_head(engine: Engine) -> bool:
    """Whether the store's schema is the newest already (then there is nothing to migrate)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return False
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars()
        return list(versions) == [HEAD_REVISION]


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (a no-op when it is there already), one process
    at a time: a file lock on SQLite, a transaction-scoped advisory lock on PostgreSQL.

    An empty store gets the schema the code declares, stamped with the newest revision, without
    Alembic: the same tables (``tests/store/test_store_upgrade.py`` compares them with what the
    migrations build) in 20 ms instead of 150, most of which was importing Alembic, on every
    cold build.
    """
    if at_head(engine):
        return
    database = engine.url.database
    on_file = engine.dialect.name == "sqlite" and database and database != ":memory:"
    lock = _sqlite_file_lock(database) if on_file and database else nullcontext()
    with lock, engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_KEY})
        if inspect(connection).get_table_names():
            _upgrade(connection)
        else:
            _create(connection)


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """Alembic's configuration for the store's migrations (there is no alembic.ini), running
    on ``connection`` when given."""
    from alembic.config import Config

    alembic = Config()
    alembic.set_main_option("script_location", "syndicator.store:migrations")
    if connection is not None:
        alembic.attributes["connection"] = connection
    return alembic


def _upgrade(connection: Connection) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), "head")


def _create(connection: Connection) -> None:
    """The declared schema, and Alembic's version table saying it is the newest revision."""
    from syndicator.store.schema import metadata

    metadata.create_all(connection)
    version = Table(
        "alembic_version",
        MetaData(),
        Column("version_num", String(32), primary_key=True),
    )
    version.create(connection)
    connection.execute(version.insert().values(version_num=HEAD_REVISION))


def open_engine(url: str, *, filling: bool = False) -> Engine:
    """The store at ``url``, its schema the newest (``filling``: see ``create_store_engine``)."""
    try:
        engine = create_store_engine(url, filling=filling)
        migrate(engine)
    except Exception as exc:
        raise StoreError(
            f"cannot open the store {make_url(url).render_as_string()}: {exc}"
        ) from exc
    return engine


def open_existing(url: str) -> Engine | None:
    """The store at ``url`` if it exists (a SQLite file not created yet is None), for the
    commands that only read it."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if not database or database == ":memory:" or not Path(database).exists():
            return None
    return open_engine(url)


class ScannerLock:
    """Only one process may scan a store at a time.

    SQLite: an exclusive ``flock`` on ``<database>.lock`` (released by the kernel if the process
    dies). PostgreSQL: a session advisory lock on a connection held for the worker's lifetime.
    """

    _ADVISORY_KEY = 0x53594E44  # "SYND"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._fd: int | None = None
        self._connection: Connection | None = None

    def try_acquire(self) -> bool:
        if self.engine.dialect.name == "sqlite":
            database = self.engine.url.database
            if not database or database == ":memory:":
                return True
            fd = os.open(f"{database}.lock", os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            self._fd = fd
            return True
        connection = self.engine.connect()
        held = connection.execute(
            text("SELECT pg_try_advisory_lock(:key)"), {"key": self._ADVISORY_KEY}
        ).scalar()
        connection.commit()
        if held:
            self._connection = connection
            return True
        connection.close()
        return False

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
        if self._connection is not None:
            self._connection.close()
            self._connection = None
