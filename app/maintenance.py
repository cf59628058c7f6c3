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
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("DROP SCHEMA public CASCADE"))
                connection.execute(text("CREATE SCHEMA public"))
            else:
                connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
                names = [
                    r[0]
                    for r in connection.exec_driver_sql(
                        "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
                    )
                ]
                for name in names:
                    connection.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}"')
        upgrade(directory=str(ROOT / "migrations"))
        load_all(ROOT / "data")
        db.session.commit()
        db.session.remove()
