"""Connecting to the vault database and bringing its schema up to date.

SQLite (the default) runs in WAL mode with a busy timeout and takes the write lock at the start
of every transaction (BEGIN IMMEDIATE), so several CLI processes can share one vault and a
read-then-write (quota, audit chain) never interleaves with another writer. PostgreSQL gets the
same guarantees from row locks and an advisory lock during migrations.

Alembic is imported only when a migration is due: opening a vault already at ``SCHEMA_HEAD``
reads one row, and every command that opens the vault starts about 0.2 s sooner.
"""

from __future__ import annotations

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError

from likeness.errors import VaultError

BUSY_TIMEOUT_MS = 60_000
_MIGRATION_LOCK = 0x4C494B45  # "LIKE": advisory lock id for concurrent first opens on PostgreSQL
# The newest revision in likeness/vault/migrations/versions; a test holds it to Alembic's own head.
SCHEMA_HEAD = "0004"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain postgresql:// URLs (SQLAlchemy would pick psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str) -> Engine:
    """An engine with the locking behaviour described in the module docstring."""
    url = normalise_url(url)
    try:
        if url.startswith("sqlite"):
            engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})

            @event.listens_for(engine, "connect")
            def _on_connect(dbapi_connection, _record) -> None:  # noqa: ANN001 - DB-API object
                dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
                cursor = dbapi_connection.cursor()
                cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA foreign_keys = ON")
                cursor.execute("PRAGMA secure_delete = ON")  # shredded keys are zeroed on disk
                cursor.close()

            @event.listens_for(engine, "begin")
            def _on_begin(connection) -> None:  # noqa: ANN001
                connection.exec_driver_sql("BEGIN IMMEDIATE")

            return engine
        return create_engine(url, pool_pre_ping=True)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise VaultError(f"cannot use database {url.split('@')[-1]}: {exc}") from None


def schema_version(engine: Engine) -> str | None:
    """The revision the database is at, read without Alembic; None before the first migration."""
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None  # no alembic_version table yet


def migrate(engine: Engine) -> None:
    """Run the packaged Alembic migrations up to head, in one transaction; nothing to do at head."""
    if schema_version(engine) == SCHEMA_HEAD:
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "likeness.vault:migrations")
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except SQLAlchemyError as exc:
        raise VaultError(f"cannot prepare the vault database: {exc.__class__.__name__}: {exc.orig if hasattr(exc, 'orig') else exc}") from None


def sqlite_path(engine: Engine) -> str | None:
    """The database file of a SQLite engine, else None."""
    return engine.url.database if engine.dialect.name == "sqlite" else None
