"""Flask extensions, created unbound and initialised by create_app()."""

import logging

from authlib.integrations.flask_client import OAuth
from flask import current_app
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData, event
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "pk": "pk_%(table_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
csrf = CSRFProtect()
oauth = OAuth()
login_manager = LoginManager()


def attachment_max_bytes() -> int:
    """The per-file limit of an uploaded file (config DOSSIER_ATTACHMENT_MAX_MB): what the services enforce
    (a French message at the field) and what every file input shows and checks in the browser before
    sending (its data-max-bytes attribute, app/static/app.js)."""
    return int(current_app.config.get("DOSSIER_ATTACHMENT_MAX_MB", 10)) * 1024 * 1024


def request_max_bytes() -> int | None:
    """The request limit (MAX_UPLOAD_MB → MAX_CONTENT_LENGTH, answered 413): the portfolio import's file."""
    return current_app.config.get("MAX_CONTENT_LENGTH")


SQLITE_MMAP_BYTES = 256 * 1024 * 1024


def configure_engine(engine) -> None:
    """SQLite: real transactions (so SAVEPOINT works), foreign keys on, WAL for concurrent readers."""
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None  # let SQLAlchemy emit BEGIN itself
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database and engine.url.database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")  # WAL's usual pairing: no fsync per commit
            # Reads through a memory map shared by every connection (the OS's page cache, no read() per page):
            # the default 2 MB page cache of each connection held a fraction of a large portfolio's pages.
            cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
        cursor.close()

    @event.listens_for(engine, "before_cursor_execute")
    def on_execute(_conn, _cursor, statement, _parameters, _context, _executemany):
        if statement.lstrip()[:6].upper() in {"INSERT", "UPDATE", "DELETE"} and not _may_write():
            _unmarked_write(statement)

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # SQLite has one writer at a time: a request that may write takes the write lock up front, so two
        # concurrent writers queue (busy_timeout) instead of failing on a stale read snapshot.
        connection.exec_driver_sql("BEGIN IMMEDIATE" if _may_write() else "BEGIN")


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def writes(view):
    """Mark a GET view that writes (the OIDC callback, a page that marks messages read): on SQLite its
    transaction takes the write lock up front (BEGIN IMMEDIATE), like a POST's. Without it, two such GETs
    at once read in a deferred transaction, then one of them fails on « database is locked » when it writes
    (SQLite cannot upgrade a read snapshot that another writer has moved on)."""
    view.may_write = True
    return view


def will_write() -> None:
    """The next transaction of this request writes (the database session store, after any view): on SQLite it
    begins with the write lock, like a POST's. Call it between transactions (after a commit or rollback)."""
    from flask import g, has_request_context

    if has_request_context():
        g.sqlite_will_write = True


def _may_write() -> bool:
    """Does the current unit of work take SQLite's write lock up front? Yes outside a request (CLI, jobs),
    for every POST/PUT/PATCH/DELETE, for the GET views marked @writes, and after will_write()."""
    from flask import current_app, g, has_request_context, request

    if not has_request_context() or request.method not in SAFE_METHODS or g.get("sqlite_will_write"):
        return True
    return bool(getattr(current_app.view_functions.get(request.endpoint), "may_write", False))


def _unmarked_write(statement: str) -> None:
    """A GET view not marked @writes wrote on SQLite: under concurrency it may fail on « database is
    locked ». Logged, so that the view gets marked (or its write moves to a POST)."""
    from flask import request

    logging.getLogger(__name__).warning(
        "GET %s (%s) writes without @writes: %s", request.path, request.endpoint, statement[:80]
    )
