"""The benchmarks' rebuild of a database works on one that already holds data (foreign keys included)."""

from sqlalchemy import func, select

from app import create_app
from app.extensions import db
from app.maintenance import rebuild_database
from app.models import Opportunity
from config import Config


class RebuildConfig(Config):
    ENV_NAME = "test-rebuild"
    SECRET_KEY = "rebuild-secret-key-rebuild-secret-key"
    AUTO_MIGRATE = False
    SCHEDULER_ENABLED = False


def test_rebuilding_an_existing_sqlite_database_twice(tmp_path):
    app = create_app(RebuildConfig, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/rebuild.sqlite3")
    rebuild_database(app)
    rebuild_database(app)  # used to fail: a table referenced by others could not be dropped
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Opportunity)) == 132
        assert db.session.connection().exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
