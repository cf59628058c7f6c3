"""Test fixtures: one real database per run (SQLite file, or PostgreSQL when TEST_BACKEND=postgres).

The schema is built by the migrations, the reference data is loaded once and committed; each test then
runs inside a transaction that is rolled back (routes' commits only release a savepoint).
Tests that need real commits across connections (concurrency, browser) use `live_app`, bound to a
second database that they reset themselves.
"""

import os
import threading
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

from app import create_app
from app.extensions import db
from app.maintenance import rebuild_database
from app.queries.portfolio import forget_options
from config import TestConfig

ROOT = Path(__file__).resolve().parent.parent
BACKEND = os.environ.get("TEST_BACKEND", "sqlite")
PG_URL = os.environ.get("TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Parallel runs on one PostgreSQL server (several developers' suites) each set their own suffix.
DB_SUFFIX = os.environ.get("TEST_DB_SUFFIX", "")


def pytest_report_header(config):
    return f"database backend: {BACKEND}"


def database_url(tmp_dir: Path, suffix: str = "") -> str:
    if BACKEND == "postgres":
        url = make_url(PG_URL)
        suffix = DB_SUFFIX + suffix
        if suffix:
            url = url.set(database=f"{url.database}{suffix}")
            _ensure_pg_database(url)
        return url.render_as_string(hide_password=False)
    return f"sqlite:///{tmp_dir / f'test{suffix}.sqlite3'}"


def _ensure_pg_database(url) -> None:
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
        ).scalar()
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{url.database}"'))
    admin.dispose()


def reset_schema(app) -> None:
    """Drop everything, then the migrations and the reference data."""
    rebuild_database(app)


def _require_redis() -> None:
    """Sessions and rate limits run on Redis in the suite (TestConfig.REDIS_URL)."""
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        Redis.from_url(TestConfig.REDIS_URL, socket_connect_timeout=2).ping()
    except RedisError as error:
        pytest.exit(f"Redis does not answer at {TestConfig.REDIS_URL} ({error}): `make test` starts one", 2)


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    _require_redis()
    url = database_url(tmp_path_factory.mktemp("db"))
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=url,
        WTF_CSRF_ENABLED=True,
        UPLOAD_DIR=tmp_path_factory.mktemp("uploads"),
        EXPORT_DIR=tmp_path_factory.mktemp("exports"),
    )
    reset_schema(app)
    return app


def _connection_session(connection):
    """Flask-SQLAlchemy's Session picks an engine itself; pin it to the test's connection."""
    from flask_sqlalchemy.session import Session

    class ConnectionSession(Session):
        def get_bind(self, *args, **kwargs):
            return connection

    return ConnectionSession


@pytest.fixture
def db_session(app):
    """The test's database session, inside a transaction rolled back at the end."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {"class_": _connection_session(connection), "join_transaction_mode": "create_savepoint"}
        )
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


class FreshRequestClient(FlaskClient):
    """Each request starts like a new one in production: empty `g`, nothing cached in the session.

    (The test keeps an app context pushed, which Flask would otherwise share with the requests.)
    """

    def open(self, *args, **kwargs):
        g.__dict__.clear()
        db.session.expire_all()
        forget_options()  # tests change reference data inside their transaction
        # the body is read (and a streamed one closed) now, as a WSGI server does before the next request
        kwargs.setdefault("buffered", True)
        try:
            return super().open(*args, **kwargs)
        finally:
            g.__dict__.clear()


@pytest.fixture
def client(app, db_session):
    app.test_client_class = FreshRequestClient
    return app.test_client()


@pytest.fixture
def csrf():
    """A valid CSRF token for the client's session, read from a page like a browser would."""
    import re

    def token(client) -> str:
        page = client.get("/mentions-legales").get_data(as_text=True)
        return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)

    return token


@pytest.fixture
def login_as(client):
    """Log a user in through Flask-Login's session keys (the ProConnect flow itself is tested in
    test_auth)."""

    def login(user):
        with client.session_transaction() as session_data:
            session_data["_user_id"] = str(user.id)
            session_data["_fresh"] = True
        return user

    return login


@pytest.fixture
def make_user(db_session):
    from tests.factories import make_user

    return make_user


@pytest.fixture
def make_opportunity(db_session):
    from tests.factories import make_opportunity

    return make_opportunity


@contextmanager
def count_queries(engine):
    """Count SQL statements sent to the database inside the block."""
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        if not statement.lstrip().upper().startswith(("SAVEPOINT", "RELEASE", "ROLLBACK TO")):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


@pytest.fixture
def queries(app):
    with app.app_context():
        engine = db.engine
    return lambda: count_queries(engine)


# --- committed database, for concurrency and browser tests -------------------------------------------


@pytest.fixture(scope="session")
def live_app(tmp_path_factory):
    url = database_url(tmp_path_factory.mktemp("live"), suffix="_live")
    app = create_app(
        TestConfig,
        SQLALCHEMY_DATABASE_URI=url,
        WTF_CSRF_ENABLED=True,
        UPLOAD_DIR=tmp_path_factory.mktemp("live-uploads"),
        EXPORT_DIR=tmp_path_factory.mktemp("live-exports"),
    )
    reset_schema(app)
    return app


@pytest.fixture(scope="session")
def live_server(live_app):
    """The app served by a real WSGI server on 127.0.0.1 in a thread."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, live_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    live_app.config["BASE_URL"] = f"http://127.0.0.1:{server.server_port}"
    yield live_app.config["BASE_URL"]
    server.shutdown()


# --- the local ProConnect test provider, as a real process ----------------------------------------------


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    """scripts/oidc_provider.py on a free 127.0.0.1 port, test faults enabled; yields its base URL."""
    import socket
    import subprocess
    import sys

    from scripts.services import wait_until_up

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(
        os.environ,
        OIDC_PROVIDER_PORT=str(port),
        OIDC_PROVIDER_TEST_FAULTS="1",
        OIDC_PROVIDER_APP_URLS="http://127.0.0.1:*,http://localhost:*",
        PROCONNECT_CLIENT_ID=TestConfig.PROCONNECT_CLIENT_ID,
        PROCONNECT_CLIENT_SECRET=TestConfig.PROCONNECT_CLIENT_SECRET,
    )
    log = (tmp_path_factory.mktemp("oidc") / "provider.log").open("w")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "scripts" / "oidc_provider.py")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(f"{base_url}/.well-known/openid-configuration", process)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
