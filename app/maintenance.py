"""Rebuild a database from scratch: for the test suite and the benchmarks (never run in production)."""

from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import text

from .extensions import db
from .services.reference import load_all

ROOT = Path(__file__).resolve().parent.parent


def rebuild_database(app) -> None:
    """Drop every table, build the schema with the migrations, load the reference data, commit."""
    with app.app_context():
        engine = db.engine
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
        else:
            _drop_sqlite_tables(engine)
        upgrade(directory=str(ROOT / "migrations"))
        load_all(ROOT / "data")
        db.session.commit()
        db.session.remove()


def _drop_sqlite_tables(engine) -> None:
    """SQLite ignores `PRAGMA foreign_keys` inside a transaction: switch the keys off on a connection in
    autocommit mode, so that tables referenced by others can be dropped in any order."""
    raw = engine.raw_connection()
    try:
        sqlite = raw.driver_connection
        previous, sqlite.isolation_level = sqlite.isolation_level, None
        sqlite.execute("PRAGMA foreign_keys=OFF")
        names = [
            row[0]
            for row in sqlite.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for name in names:
            sqlite.execute(f'DROP TABLE IF EXISTS "{name}"')
        sqlite.execute("PRAGMA foreign_keys=ON")
        sqlite.isolation_level = previous
    finally:
        raw.close()
